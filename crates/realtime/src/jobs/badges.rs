//! The daily pickup safety net: a pickup starts to count when it completes,
//! when a business is verified or when its weight is confirmed, and badges
//! are awarded then or when a sale settles; this sweep catches any that a
//! crash in between missed.

use apalis::prelude::{BoxDynError, Data};
use apalis_cron::Tick;
use sitga_core::Calendar;
use sitga_persistence::DbPool;
use tracing::Instrument;

use crate::counting::Counter;

/// The safety net runs daily at 03:00 UTC (noon in Seoul: away from the
/// local midnight when the day's figures turn over).
pub(super) const BADGE_CRON: &str = "0 0 3 * * *";

pub(super) async fn badge_tick(
    _tick: Tick,
    db: Data<DbPool>,
    chain: Data<Option<crate::chain::Chain>>,
    calendar: Data<Calendar>,
) -> Result<(), BoxDynError> {
    let counter = Counter {
        chain: chain.as_ref(),
        calendar: *calendar,
    };
    let counted = counter
        .catch_up_all(&db)
        .instrument(tracing::info_span!("counting_catch_up"))
        .await?;
    let awarded = crate::awards::sweep_all(&db, *calendar)
        .instrument(tracing::info_span!("badge_sweep"))
        .await?;
    tracing::info!(counted, awarded, "daily pickup safety net done");
    Ok(())
}
