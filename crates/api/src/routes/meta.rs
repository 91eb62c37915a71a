//! Reference data.

use paperclip::actix::{Apiv2Schema, api_v2_operation, web};
use serde::Serialize;
use sitga_user::Province;

use crate::error::ApiError;

/// A first-level division of South Korea.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct ProvinceDto {
    /// Stable code used everywhere in the API.
    pub code: String,
    /// Official Korean name.
    pub name_ko: String,
    /// English name.
    pub name_en: String,
}

/// List provinces
#[api_v2_operation(tags(Reference))]
pub async fn provinces() -> Result<web::Json<Vec<ProvinceDto>>, ApiError> {
    Ok(web::Json(
        Province::ALL
            .iter()
            .map(|p| ProvinceDto {
                code: p.code().to_owned(),
                name_ko: p.name_ko().to_owned(),
                name_en: p.name_en().to_owned(),
            })
            .collect(),
    ))
}
