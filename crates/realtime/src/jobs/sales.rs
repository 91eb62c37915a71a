//! Every minute: buyers who have not given their delivery details are
//! reminded once, and shipped sales past their confirmation deadline
//! confirm themselves. Every instance runs it; the guarded writes in
//! [`crate::sales`] make each reminder and each payout happen once.

use apalis::prelude::{BoxDynError, Data};
use apalis_cron::Tick;
use chrono::Utc;
use tracing::Instrument;

use crate::sales::Sales;

/// Every minute, at second 30 (away from the top of the minute, when the
/// other minute jobs run).
pub(super) const SALE_DEADLINES_CRON: &str = "30 * * * * *";

pub(super) async fn sale_deadlines_tick(
    _tick: Tick,
    sales: Data<Sales>,
) -> Result<(), BoxDynError> {
    let ticked = sales
        .tick(Utc::now())
        .instrument(tracing::info_span!("sale_deadlines"))
        .await?;
    if ticked.reminded + ticked.auto_confirmed > 0 {
        tracing::info!(
            reminded = ticked.reminded,
            auto_confirmed = ticked.auto_confirmed,
            "sale deadlines handled"
        );
    }
    Ok(())
}
