//! Fish identification: `POST /api/v1/fish/identify` (multipart field
//! `file`).

use std::collections::BTreeMap;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest};
use futures_util::StreamExt;
use paperclip::actix::{Apiv2Schema, OperationModifier, api_v2_operation, web};
use paperclip::v2::models::{
    DataType, DefaultOperationRaw, DefaultSchemaRaw, Either, Parameter, ParameterIn,
};
use serde::{Deserialize, Serialize};
use sitga_inference::{InferenceError, PreprocessError};

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::error::ErrorCode;
use crate::extract::QueryParams;
use crate::state::AppState;

/// Largest upload accepted.
pub const MAX_UPLOAD: usize = 10 * 1024 * 1024;

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
                expected: "multipart/form-data",
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

/// `?k=` top classes to return (1–23, default 2 like the original app).
#[derive(Debug, Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct IdentifyQuery {
    /// How many classes to return, 1–50 (default 2); more than the model
    /// knows returns them all.
    pub k: Option<usize>,
}

/// One candidate species.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct PredictionDto {
    /// Scientific name.
    pub label: String,
    /// Korean name, where known.
    pub name_ko: Option<String>,
    /// English name.
    pub name_en: String,
    /// Probability (0–1).
    pub probability: f32,
}

/// The model's answer.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct IdentifyResponse {
    /// Model name.
    pub model: String,
    /// Model version.
    pub version: u32,
    /// Most likely first.
    pub predictions: Vec<PredictionDto>,
    /// The best probability is under the model's unknown threshold.
    pub unknown: bool,
}

/// Most classes one identification returns.
pub const MAX_TOP_K: usize = 50;

/// Identify a fish in a photo
///
/// Multipart field `file` (JPEG, PNG or WebP, ≤ 10 MB, at most 40
/// megapixels). Needs a login. 422 `invalid_image` for a corrupt image or
/// another format, 422 `image_too_large` past 40 megapixels, 413 when the
/// file is too large, 415 when the body is not multipart, 429 past the per-client rate, 503 when the model
/// is unavailable or busy (checked before the upload is read).
#[api_v2_operation(tags(Fish))]
pub async fn identify(
    state: web::Data<AppState>,
    http: HttpRequest,
    user: AuthUser,
    query: QueryParams<IdentifyQuery>,
    upload: ImageUpload,
) -> Result<web::Json<IdentifyResponse>, ApiError> {
    let model = match &state.fish {
        Ok(model) => model.clone(),
        Err(reason) => {
            return Err(ApiError::ServiceUnavailable {
                code: ErrorCode::ModelUnavailable,
                message: reason.clone(),
            });
        }
    };
    let k = query.0.k.unwrap_or(2);
    if !(1..=MAX_TOP_K).contains(&k) {
        return Err(ApiError::BadRequest {
            code: ErrorCode::InvalidQuery,
            message: format!("k must be 1 to {MAX_TOP_K}"),
            field: Some("k".into()),
        });
    }
    // Asking for more classes than the model has is asking for all of them.
    let k = k.min(model.manifest().labels.len());
    state.auth_limiter.check_identify(state.client_ip(&http))?;
    let slot = model.reserve().map_err(inference_error)?;
    let bytes = upload.read().await?;
    tracing::debug!(
        user_id = user.id.get(),
        bytes = bytes.len(),
        "identifying a photo"
    );
    let answer = model
        .identify_reserved(slot, bytes, k)
        .await
        .map_err(inference_error)?;
    let manifest = model.manifest();
    Ok(web::Json(IdentifyResponse {
        model: manifest.model.clone(),
        version: manifest.version,
        unknown: answer.unknown,
        predictions: answer
            .predictions
            .into_iter()
            .map(|p| PredictionDto {
                label: p.label.latin,
                name_ko: p.label.name_ko,
                name_en: p.label.name_en,
                probability: p.probability,
            })
            .collect(),
    }))
}

fn inference_error(e: InferenceError) -> ApiError {
    match e {
        // The upload is well-formed; its content is what cannot be used.
        InferenceError::Image(PreprocessError::UnsupportedFormat) => ApiError::Unprocessable {
            code: ErrorCode::InvalidImage,
            message: "the file is not a JPEG, PNG or WebP image".into(),
        },
        InferenceError::Image(e @ PreprocessError::TooLarge(_)) => ApiError::Unprocessable {
            code: ErrorCode::ImageTooLarge,
            message: e.to_string(),
        },
        InferenceError::Image(e @ PreprocessError::Corrupt(_)) => ApiError::Unprocessable {
            code: ErrorCode::InvalidImage,
            message: e.to_string(),
        },
        InferenceError::Overloaded => ApiError::Overloaded,
        InferenceError::Runtime(cause) => ApiError::internal(cause),
    }
}
