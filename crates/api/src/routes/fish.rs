//! Fish identification: `POST /api/v1/fish/identify` (multipart field
//! `file`).

use std::collections::BTreeMap;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest};
use futures_util::StreamExt;
use futures_util::future::LocalBoxFuture;
use paperclip::actix::{Apiv2Schema, OperationModifier, api_v2_operation, web};
use paperclip::v2::models::{
    DataType, DefaultOperationRaw, DefaultSchemaRaw, Either, Parameter, ParameterIn,
};
use serde::{Deserialize, Serialize};
use sitga_inference::{InferenceError, PreprocessError};

use crate::error::ApiError;
use crate::error::ErrorCode;
use crate::extract::QueryParams;
use crate::state::AppState;

/// Largest upload accepted.
pub const MAX_UPLOAD: usize = 10 * 1024 * 1024;

/// The uploaded image (multipart field `file`: JPEG, PNG or WebP, ≤ 10 MB).
pub struct ImageUpload(pub Vec<u8>);

impl FromRequest for ImageUpload {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

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
        let multipart = actix_multipart::Multipart::new(req.headers(), payload.take());
        Box::pin(async move {
            if !is_multipart {
                return Err(ApiError::UnsupportedMediaType);
            }
            if too_large {
                return Err(ApiError::PayloadTooLarge { limit: MAX_UPLOAD });
            }
            let mut multipart = multipart;
            while let Some(field) = multipart.next().await {
                let mut field = field.map_err(|e| {
                    ApiError::bad_request(ErrorCode::MalformedMultipart, e.to_string())
                })?;
                if field.name() != Some("file") {
                    // Drain and ignore other fields.
                    while let Some(chunk) = field.next().await {
                        chunk.map_err(|e| {
                            ApiError::bad_request(ErrorCode::MalformedMultipart, e.to_string())
                        })?;
                    }
                    continue;
                }
                let declared_ok = field.content_type().is_none_or(|m| {
                    m.essence_str() == "application/octet-stream"
                        || matches!(m.essence_str(), "image/jpeg" | "image/png" | "image/webp")
                });
                if !declared_ok {
                    return Err(ApiError::UnsupportedMediaType);
                }
                let mut bytes = Vec::new();
                while let Some(chunk) = field.next().await {
                    let chunk = chunk.map_err(|e| {
                        ApiError::bad_request(ErrorCode::MalformedMultipart, e.to_string())
                    })?;
                    if bytes.len() + chunk.len() > MAX_UPLOAD {
                        return Err(ApiError::PayloadTooLarge { limit: MAX_UPLOAD });
                    }
                    bytes.extend_from_slice(&chunk);
                }
                return Ok(ImageUpload(bytes));
            }
            Err(ApiError::BadRequest {
                code: ErrorCode::MissingFile,
                message: "send the photo as the multipart field `file`".into(),
                field: Some("file".into()),
            })
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
    /// How many classes to return.
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

/// Identify a fish in a photo
///
/// Multipart field `file` (JPEG, PNG or WebP, ≤ 10 MB). 400 for a corrupt
/// image, 413 when too large, 415 for another format, 503 when the model is
/// unavailable or busy.
#[api_v2_operation(tags(Fish))]
pub async fn identify(
    state: web::Data<AppState>,
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
    let labels = model.manifest().labels.len();
    let k = query.0.k.unwrap_or(2);
    if !(1..=labels).contains(&k) {
        return Err(ApiError::BadRequest {
            code: ErrorCode::InvalidQuery,
            message: format!("k must be 1 to {labels}"),
            field: Some("k".into()),
        });
    }
    let answer = model.identify(upload.0, k).await.map_err(|e| match e {
        InferenceError::Image(PreprocessError::UnsupportedFormat) => ApiError::UnsupportedMediaType,
        InferenceError::Image(PreprocessError::TooLarge(_)) => {
            ApiError::PayloadTooLarge { limit: MAX_UPLOAD }
        }
        InferenceError::Image(e @ PreprocessError::Corrupt(_)) => {
            ApiError::bad_request(ErrorCode::InvalidImage, e.to_string())
        }
        InferenceError::Overloaded => ApiError::Overloaded,
        InferenceError::Runtime(cause) => ApiError::internal(cause),
    })?;
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
