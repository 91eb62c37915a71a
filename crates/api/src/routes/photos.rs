//! Catch photos: `POST /api/v1/photos` (multipart `file`) cleans and stores
//! an upload; `GET /api/v1/photos/{id}/{size}` serves its files.

use std::collections::BTreeMap;

use actix_web::body::BoxBody;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, EntityTag, IfNoneMatch};
use actix_web::{HttpRequest, HttpResponse, Responder};
use bytes::Bytes;
use paperclip::actix::{Apiv2Schema, CreatedJson, OperationModifier, api_v2_operation, web};
use paperclip::v2::models::{
    DataType, DefaultOperationRaw, DefaultSchemaRaw, Either, MediaRange, Response,
};
use serde::{Deserialize, Serialize};
use sitga_persistence::photos::Photo;
use sitga_photos::{Digest, PhotoError, Size};
use sitga_realtime::photos::PhotoServiceError;

use super::upload::{ImageUpload, image_error};
use crate::auth::AuthUser;
use crate::error::{ApiError, ErrorCode};
use crate::state::AppState;

/// Where each size of a photo is served.
#[derive(Debug, Serialize, Deserialize, Apiv2Schema)]
pub struct PhotoUrls {
    /// Longest side ≤ 400 px, for lists.
    pub thumb: String,
    /// Longest side ≤ 1,280 px, for an auction's page.
    pub display: String,
    /// The whole picture, upright, without metadata.
    pub original: String,
}

/// A stored photo.
#[derive(Debug, Serialize, Deserialize, Apiv2Schema)]
pub struct PhotoDto {
    /// Photo id: give it in an auction's `photo_ids`.
    pub id: String,
    /// Its files (paths on this server).
    pub urls: PhotoUrls,
    /// Upright width of the original, in pixels.
    pub width: i32,
    /// Upright height of the original, in pixels.
    pub height: i32,
}

impl PhotoDto {
    /// The wire form of `photo`.
    pub fn of(photo: &Photo) -> Self {
        let url = |size: Size| format!("/api/v1/photos/{}/{size}", photo.id);
        PhotoDto {
            id: photo.id.clone(),
            urls: PhotoUrls {
                thumb: url(Size::Thumb),
                display: url(Size::Display),
                original: url(Size::Original),
            },
            width: photo.width,
            height: photo.height,
        }
    }
}

/// Upload a catch photo
///
/// Multipart field `file`: a JPEG, PNG or WebP of at most 10 MB and 40
/// megapixels. The photo is turned upright by its EXIF orientation and
/// re-encoded from its pixels, so none of its metadata (GPS position,
/// camera, time) is kept; it is stored as a thumbnail (≤ 400 px), a display
/// size (≤ 1,280 px) and the cleaned original. Attach it to an auction with
/// `photo_ids` within a day, or it is deleted. 422 `invalid_image` for a
/// file that is not such an image or is damaged, 422 `image_too_large` past
/// 40 megapixels, 413 past 10 MB, 415 when the body is not multipart, 429
/// past the per-account rate, 503 when busy (checked before the upload is
/// read) or when the store does not answer.
#[api_v2_operation(tags(Photos))]
pub async fn upload(
    state: web::Data<AppState>,
    user: AuthUser,
    upload: ImageUpload,
) -> Result<CreatedJson<PhotoDto>, ApiError> {
    state.auth_limiter.check_upload(user.id)?;
    let slot = state.photos.reserve().map_err(photo_error)?;
    let bytes = upload.read().await?;
    let photo = state
        .photos
        .upload(slot, user.id, bytes)
        .await
        .map_err(photo_error)?;
    Ok(CreatedJson(PhotoDto::of(&photo)))
}

/// A photo and one of its sizes.
#[derive(Debug, Deserialize, Apiv2Schema)]
pub struct PhotoFilePath {
    /// Photo id.
    pub id: String,
    /// `thumb`, `display` or `original`.
    pub size: String,
}

/// Get a photo's file
///
/// The JPEG bytes of one size, with a strong `ETag` (the SHA-256 of the
/// bytes) and a year-long immutable cache: a file under a photo's URL never
/// changes. `If-None-Match` with that tag answers 304. No login: photos are
/// shown on public auction pages. 404 for an unknown photo or size.
#[api_v2_operation(tags(Photos))]
pub async fn file(
    state: web::Data<AppState>,
    path: web::Path<PhotoFilePath>,
) -> Result<PhotoFile, ApiError> {
    let size = Size::parse(&path.size).ok_or(ApiError::NotFound("photo size"))?;
    // Ids are 32 hex digits; anything else is unknown without a query.
    if !sitga_photos::is_photo_id(&path.id) {
        return Err(ApiError::NotFound("photo"));
    }
    let (digest, bytes) = state
        .photos
        .file(&path.id, size)
        .await
        .map_err(photo_error)?
        .ok_or(ApiError::NotFound("photo"))?;
    Ok(PhotoFile { digest, bytes })
}

/// A photo file as a cacheable response.
pub struct PhotoFile {
    digest: Digest,
    bytes: Bytes,
}

impl Responder for PhotoFile {
    type Body = BoxBody;

    fn respond_to(self, req: &HttpRequest) -> HttpResponse<BoxBody> {
        let tag = EntityTag::new_strong(self.digest.as_str().to_owned());
        let cache = "public, max-age=31536000, immutable";
        let unchanged = match req.headers().get(header::IF_NONE_MATCH) {
            Some(_) => match header::Header::parse(req) {
                Ok(IfNoneMatch::Any) => true,
                Ok(IfNoneMatch::Items(tags)) => tags.iter().any(|t| t.weak_eq(&tag)),
                Err(_) => false,
            },
            None => false,
        };
        let mut res = if unchanged {
            HttpResponse::NotModified()
        } else {
            HttpResponse::Ok()
        };
        res.insert_header(header::ETag(tag))
            .insert_header((header::CACHE_CONTROL, cache));
        if unchanged {
            return res.finish();
        }
        res.content_type(mime::IMAGE_JPEG)
            .insert_header(header::ContentDisposition {
                disposition: header::DispositionType::Inline,
                parameters: Vec::new(),
            })
            .body(self.bytes)
    }
}

impl paperclip::v2::schema::Apiv2Schema for PhotoFile {}

impl OperationModifier for PhotoFile {
    fn update_response(op: &mut DefaultOperationRaw) {
        op.produces = Some(std::iter::once(MediaRange(mime::IMAGE_JPEG)).collect());
        op.responses.insert(
            StatusCode::OK.as_str().into(),
            Either::Right(Response {
                description: Some("The JPEG file".into()),
                schema: Some(DefaultSchemaRaw {
                    data_type: Some(DataType::File),
                    ..Default::default()
                }),
                ..Default::default()
            }),
        );
        op.responses.insert(
            StatusCode::NOT_MODIFIED.as_str().into(),
            Either::Right(Response {
                description: Some("Not Modified: the `If-None-Match` tag is current".into()),
                ..Default::default()
            }),
        );
    }

    fn update_definitions(_: &mut BTreeMap<String, DefaultSchemaRaw>) {}
}

/// The answer to a failed photo upload or read.
pub(super) fn photo_error(e: PhotoServiceError) -> ApiError {
    match e {
        PhotoServiceError::Busy => ApiError::Overloaded,
        PhotoServiceError::Image(PhotoError::Image(e)) => image_error(e),
        PhotoServiceError::Store(e) => {
            tracing::warn!(error = %e, "the photo store failed");
            ApiError::ServiceUnavailable {
                code: ErrorCode::PhotoStoreUnavailable,
                message: "the photo store is unavailable; try again shortly".into(),
            }
        }
        PhotoServiceError::Db(e) => e.into(),
        e @ (PhotoServiceError::Image(PhotoError::Encode(_)) | PhotoServiceError::Join(_)) => {
            ApiError::internal(e)
        }
    }
}
