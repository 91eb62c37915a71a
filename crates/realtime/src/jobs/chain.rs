//! The chain outbox worker and the chain monitor, on every instance when the
//! chain is configured (leases keep two instances off the same donation).

use apalis::prelude::{BoxDynError, Data};
use apalis_cron::Tick;
use sitga_persistence::DbPool;
use tracing::Instrument;

use crate::chain::Chain;

pub(super) async fn chain_relay_tick(
    _tick: Tick,
    db: Data<DbPool>,
    chain: Data<Chain>,
) -> Result<(), BoxDynError> {
    crate::chain::relay_due(&db, &chain)
        .instrument(tracing::info_span!("chain_relay"))
        .await?;
    Ok(())
}

pub(super) async fn chain_monitor_tick(
    _tick: Tick,
    db: Data<DbPool>,
    chain: Data<Chain>,
) -> Result<(), BoxDynError> {
    if let Err(e) = crate::chain::sample(&db, &chain)
        .instrument(tracing::info_span!("chain_monitor"))
        .await
    {
        // The node may be down; the next minute tries again.
        tracing::warn!(error = %e, "chain monitor sample failed");
    }
    Ok(())
}
