//! A cafe's donations and their proof on chain.

use chrono::{DateTime, Utc};
use paperclip::actix::{Apiv2Schema, api_v2_operation, web};
use serde::{Deserialize, Serialize};
use sitga_core::PickupId;
use sitga_persistence::pickups;
use sitga_user::Role;

use super::dto::PageQuery;
use super::pickups::PickupPage;
use crate::auth::AuthUser;
use crate::error::{ApiError, ErrorCode};
use crate::extract::QueryParams;
use crate::state::AppState;

/// Your donations (cafes): completed pickups you gave, with their chain record
///
/// Offers you posted and requests you filled, newest first; each says
/// whether it counts and, once recorded, its transaction and block.
#[api_v2_operation(tags(Pickups))]
pub async fn mine(
    state: web::Data<AppState>,
    auth: AuthUser,
    query: QueryParams<PageQuery>,
) -> Result<web::Json<PickupPage>, ApiError> {
    let (page, per_page, offset) = query.0.resolve()?;
    let mut conn = state.db.get().await?;
    let found = pickups::donations_of(&mut conn, auth.id, offset, i64::from(per_page)).await?;
    Ok(web::Json(
        PickupPage::of(&mut conn, found, page, per_page).await?,
    ))
}

/// Donation id (the pickup's id, which is also its id on chain).
#[derive(Debug, Deserialize, Apiv2Schema)]
pub struct DonationPath {
    /// Donation id.
    pub id: i64,
}

/// A donation as one side holds it.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct DonationFactsDto {
    /// The salted donor reference (`0x…`, 32 bytes).
    pub donor_ref: String,
    /// Grams.
    pub grams: i64,
    /// The recording transaction.
    pub tx_hash: Option<String>,
    /// Its block.
    pub block_number: Option<i64>,
}

/// A donation's record checked against the chain.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct ProofDto {
    /// Donation id (the pickup's id).
    pub donation_id: i64,
    /// The registry contract read.
    pub contract: String,
    /// The platform's outbox status: `pending`, `confirmed` or `failed`.
    pub status: String,
    /// What the platform recorded.
    pub record: DonationFactsDto,
    /// What the chain holds under this id (`null`: nothing yet).
    pub on_chain: Option<DonationFactsDto>,
    /// Whether the chain holds exactly the platform's record (id, donor
    /// reference, grams, and the transaction once confirmed).
    pub matches: bool,
    /// What differs: `donor`, `grams`, `tx_hash`.
    pub mismatches: Vec<String>,
    /// When the chain was read.
    pub checked_at: DateTime<Utc>,
}

/// Re-read a donation from the chain and compare it with the platform's record
///
/// For the donation's cafe and recycler and operators. 409 `chain_off` on a
/// server without a chain; 404 when the pickup made no donation record (not
/// completed, or not counting yet); 503 `chain_unavailable` when the node
/// does not answer.
#[api_v2_operation(tags(Pickups))]
pub async fn proof(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<DonationPath>,
) -> Result<web::Json<ProofDto>, ApiError> {
    let id = PickupId::new(path.id);
    // With no chain there is no proof of anything: said first, whatever the id.
    let chain = state.chain.as_ref().ok_or(ApiError::Conflict {
        code: ErrorCode::ChainOff,
        message: "this server records no donations on chain".into(),
        field: None,
    })?;
    let record = {
        let mut conn = state.db.get().await?;
        let pickup = pickups::find(&mut conn, id)
            .await?
            .ok_or(ApiError::NotFound("donation"))?;
        let sides = pickup.sides();
        let involved = sides.cafe == Some(auth.id) || sides.recycler == Some(auth.id);
        if !involved && auth.require(Role::Operator).is_err() {
            return Err(ApiError::Forbidden {
                code: ErrorCode::NotAllowed,
                message: "only the donation's cafe, its recycler or an operator can check its proof",
            });
        }
        sitga_persistence::chain::of_pickups(&mut conn, &[id])
            .await?
            .pop()
            .ok_or(ApiError::NotFound("donation"))?
    };
    // No pooled connection is held while the node answers.
    let check = chain
        .prove(&record)
        .await
        .map_err(|_| ApiError::ServiceUnavailable {
            code: ErrorCode::ChainUnavailable,
            message: "the chain node did not answer; try again shortly".into(),
        })?;
    Ok(web::Json(ProofDto {
        donation_id: id.get(),
        contract: chain.contract(),
        status: record.status().code().to_owned(),
        matches: check.matches(),
        mismatches: check.mismatches.iter().map(|m| (*m).to_owned()).collect(),
        on_chain: check.on_chain.map(|found| DonationFactsDto {
            donor_ref: format!("0x{}", hex::encode(found.donor)),
            grams: i64::try_from(found.grams).unwrap_or(i64::MAX),
            tx_hash: Some(found.recorded.tx_hash.to_string()),
            block_number: i64::try_from(found.recorded.block_number).ok(),
        }),
        record: DonationFactsDto {
            donor_ref: record.donor_ref,
            grams: record.grams,
            tx_hash: record.tx_hash,
            block_number: record.block_number,
        },
        checked_at: Utc::now(),
    }))
}
