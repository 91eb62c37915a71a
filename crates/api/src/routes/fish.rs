//! Fish identification: `POST /api/v1/fish/identify` (multipart field
//! `file`).

use actix_web::HttpRequest;
use paperclip::actix::{Apiv2Schema, api_v2_operation, web};
use serde::{Deserialize, Serialize};
use sitga_inference::InferenceError;

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::error::ErrorCode;
use crate::extract::QueryParams;
use crate::state::AppState;

use super::upload::{IdentifyInput, image_error};
pub use super::upload::{ImageUpload, MAX_UPLOAD};
use sitga_core::{FieldError, UserId};

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
/// megapixels), or JSON `{"photo_id": …}` for a photo already uploaded
/// (your own, or one an auction shows; 404 otherwise). Needs a login. 422
/// `invalid_image` for a corrupt image or another format, 422
/// `image_too_large` past 40 megapixels, 413 when the file is too large,
/// 415 when the body is neither multipart nor JSON, 429 past the
/// per-client rate, 503 when the model is unavailable or busy (checked
/// before the upload is read).
#[api_v2_operation(tags(Fish))]
pub async fn identify(
    state: web::Data<AppState>,
    http: HttpRequest,
    user: AuthUser,
    query: QueryParams<IdentifyQuery>,
    input: IdentifyInput,
) -> Result<web::Json<IdentifyResponse>, ApiError> {
    let model = match &state.fish {
        Ok(species) => species.model().clone(),
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
    let k = k.min(model.head().manifest().labels.len());
    state.auth_limiter.check_identify(state.client_ip(&http))?;
    let slot = model.reserve().map_err(inference_error)?;
    let bytes = match input {
        IdentifyInput::Upload(upload) => upload.read().await?,
        IdentifyInput::Photo(id) => stored_photo(&state, user.id, &id).await?,
    };
    tracing::debug!(
        user_id = user.id.get(),
        bytes = bytes.len(),
        "identifying a photo"
    );
    let answer = model
        .identify_reserved(slot, bytes, k)
        .await
        .map_err(inference_error)?;
    Ok(web::Json(IdentifyResponse {
        model: answer.model,
        version: answer.version,
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

/// The cleaned original of photo `id`, if `user` may see it: their own, or
/// one an auction shows.
async fn stored_photo(state: &AppState, user: UserId, id: &str) -> Result<Vec<u8>, ApiError> {
    if !sitga_photos::is_photo_id(id) {
        return Err(
            FieldError::new("photo_id", "must be a photo id from POST /api/v1/photos").into(),
        );
    }
    let photo = {
        let mut conn = state.db.get().await?;
        sitga_persistence::photos::find(&mut conn, id).await?
    };
    let photo = photo
        .filter(|p| p.owner_id == user || p.auction_id.is_some())
        .ok_or(ApiError::NotFound("photo"))?;
    let bytes = state
        .photos
        .original(&photo)
        .await
        .map_err(super::photos::photo_error)?;
    Ok(bytes.to_vec())
}

fn inference_error(e: InferenceError) -> ApiError {
    match e {
        InferenceError::Image(e) => image_error(e),
        InferenceError::Overloaded => ApiError::Overloaded,
        InferenceError::Runtime(cause) => ApiError::internal(cause),
    }
}
