//! The multipart image upload both photo routes take: field `file`, a
//! JPEG, PNG or WebP of at most 10 MB, counted as it arrives.

use std::collections::BTreeMap;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest};
use futures_util::StreamExt;
use paperclip::actix::OperationModifier;
use paperclip::v2::models::{
    DataType, DefaultOperationRaw, DefaultSchemaRaw, Either, Parameter, ParameterIn,
};

use crate::error::{ApiError, ErrorCode};

/// Largest upload accepted.
pub const MAX_UPLOAD: usize = sitga_photos::MAX_UPLOAD_BYTES;

/// The uploaded image (multipart field `file`: JPEG, PNG or WebP, ≤ 10 MB),
/// not read yet: the handler first checks that the model has room, so a
/// busy or throttled request costs no buffering.
pub struct ImageUpload {
    multipart: actix_multipart::Multipart,
}

fn malformed(e: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request(ErrorCode::MalformedMultipart, e.to_string())
}

impl FromRequest for ImageUpload {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let is_multipart = req
            .mime_type()
            .ok()
            .flatten()
            .is_some_and(|m| m.type_() == mime::MULTIPART && m.subtype() == mime::FORM_DATA);
        let too_large = req
            .headers()
            .get(actix_web::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok())
            .is_some_and(|n| n > MAX_UPLOAD + 64 * 1024);
        std::future::ready(if !is_multipart {
            Err(ApiError::UnsupportedMediaType {
                expected: "multipart/form-data with the image (JPEG, PNG or WebP) in the field `file`",
            })
        } else if too_large {
            Err(ApiError::PayloadTooLarge { limit: MAX_UPLOAD })
        } else {
            Ok(ImageUpload {
                multipart: actix_multipart::Multipart::new(req.headers(), payload.take()),
            })
        })
    }
}

impl ImageUpload {
    /// Reads the `file` field, counting bytes as they arrive (a missing or
    /// lying Content-Length changes nothing). Any other field, or a second
    /// `file`, is refused: like JSON bodies, an upload has no unknown fields.
    pub async fn read(self) -> Result<Vec<u8>, ApiError> {
        let mut multipart = self.multipart;
        let mut file = None;
        while let Some(field) = multipart.next().await {
            let mut field = field.map_err(malformed)?;
            if field.name() != Some("file") || file.is_some() {
                let name = field.name().unwrap_or_default().to_owned();
                // A file under another name is a mistake worth naming.
                let code = if field
                    .content_disposition()
                    .is_some_and(|d| d.get_filename().is_some())
                    && file.is_none()
                {
                    ErrorCode::MissingFile
                } else {
                    ErrorCode::InvalidField
                };
                return Err(ApiError::BadRequest {
                    code,
                    message: format!(
                        "send the photo as the one multipart field `file`, and nothing else (got `{name}`)"
                    ),
                    field: Some(name),
                });
            }
            let declared_ok = field.content_type().is_none_or(|m| {
                m.essence_str() == "application/octet-stream"
                    || matches!(m.essence_str(), "image/jpeg" | "image/png" | "image/webp")
            });
            if !declared_ok {
                return Err(ApiError::UnsupportedMediaType {
                    expected: "multipart/form-data with a JPEG, PNG or WebP `file`",
                });
            }
            let mut bytes = Vec::new();
            while let Some(chunk) = field.next().await {
                let chunk = chunk.map_err(malformed)?;
                if bytes.len() + chunk.len() > MAX_UPLOAD {
                    return Err(ApiError::PayloadTooLarge { limit: MAX_UPLOAD });
                }
                bytes.extend_from_slice(&chunk);
            }
            file = Some(bytes);
        }
        if let Some(bytes) = file {
            return Ok(bytes);
        }
        Err(ApiError::BadRequest {
            code: ErrorCode::MissingFile,
            message: "send the photo as the multipart field `file`".into(),
            field: Some("file".into()),
        })
    }
}

impl paperclip::v2::schema::Apiv2Schema for ImageUpload {}

impl OperationModifier for ImageUpload {
    fn update_parameter(op: &mut DefaultOperationRaw) {
        op.consumes = Some(
            std::iter::once(paperclip::v2::models::MediaRange(mime::MULTIPART_FORM_DATA)).collect(),
        );
        op.parameters.push(Either::Right(Parameter {
            description: Some("The photo: JPEG, PNG or WebP, at most 10 MB".into()),
            in_: ParameterIn::FormData,
            name: "file".into(),
            required: true,
            data_type: Some(DataType::File),
            ..Default::default()
        }));
    }

    fn update_definitions(_: &mut BTreeMap<String, DefaultSchemaRaw>) {}
}

/// The answer to an upload that is not a usable image. The upload itself
/// was well-formed, so these are 422s: its content is what cannot be used.
pub fn image_error(e: sitga_inference::PreprocessError) -> ApiError {
    use sitga_inference::PreprocessError;
    match e {
        PreprocessError::UnsupportedFormat => ApiError::Unprocessable {
            code: ErrorCode::InvalidImage,
            message: "the file is not a JPEG, PNG or WebP image".into(),
        },
        e @ PreprocessError::TooLarge(_) => ApiError::Unprocessable {
            code: ErrorCode::ImageTooLarge,
            message: e.to_string(),
        },
        e @ PreprocessError::Corrupt(_) => ApiError::Unprocessable {
            code: ErrorCode::InvalidImage,
            message: e.to_string(),
        },
    }
}

/// What `POST /fish/identify` reads: an uploaded image (multipart `file`),
/// or a stored photo named in JSON `{"photo_id": …}`.
pub enum IdentifyInput {
    /// A new upload, not read yet.
    Upload(ImageUpload),
    /// A photo already stored.
    Photo(String),
}

/// `{"photo_id": …}`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct PhotoRef {
    photo_id: String,
}

impl FromRequest for IdentifyInput {
    type Error = ApiError;
    type Future = futures_util::future::LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let (json, multipart) = match req.mime_type().ok().flatten() {
            Some(m) => (
                m.subtype() == mime::JSON || m.suffix() == Some(mime::JSON),
                m.type_() == mime::MULTIPART,
            ),
            None => (false, false),
        };
        if json {
            let body = crate::extract::JsonBody::<PhotoRef>::from_request(req, payload);
            return Box::pin(async move { Ok(IdentifyInput::Photo(body.await?.0.photo_id)) });
        }
        if !multipart {
            return Box::pin(std::future::ready(Err(ApiError::UnsupportedMediaType {
                expected: "multipart/form-data with the image in the field `file`, or application/json with {\"photo_id\": …}",
            })));
        }
        let upload = ImageUpload::from_request(req, payload);
        Box::pin(async move { Ok(IdentifyInput::Upload(upload.await?)) })
    }
}

impl paperclip::v2::schema::Apiv2Schema for IdentifyInput {}

impl OperationModifier for IdentifyInput {
    // The multipart form; `openapi::spec` adds the JSON alternative (an
    // OpenAPI 2 operation, which paperclip writes, cannot hold both).
    fn update_parameter(op: &mut DefaultOperationRaw) {
        ImageUpload::update_parameter(op);
    }

    fn update_definitions(_: &mut BTreeMap<String, DefaultSchemaRaw>) {}
}
