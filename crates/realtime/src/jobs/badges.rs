//! The daily badge safety net: awards are made when a pickup completes or a
//! sale settles; this sweep catches any that a crash between the two missed.

use apalis::prelude::{BoxDynError, Data};
use apalis_cron::Tick;
use sitga_persistence::DbPool;
use tracing::Instrument;

/// The badge safety net runs daily at 03:00 UTC.
pub(super) const BADGE_CRON: &str = "0 0 3 * * *";

pub(super) async fn badge_tick(_tick: Tick, db: Data<DbPool>) -> Result<(), BoxDynError> {
    let awarded = crate::awards::sweep_all(&db)
        .instrument(tracing::info_span!("badge_sweep"))
        .await?;
    tracing::info!(awarded, "daily badge safety net done");
    Ok(())
}
