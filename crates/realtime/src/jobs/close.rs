//! Closing auctions: a job per auction at its end, and the every-second
//! sweeper (apalis-cron) as the safety net for jobs lost or never queued.

use apalis::prelude::{BoxDynError, Data};
use apalis_cron::Tick;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sitga_core::AuctionId;
use sitga_persistence::{DbError, DbPool};
use tracing::Instrument;

use crate::closing::{CloseResult, Closer};
use crate::queue::JobQueue;

/// Close one auction when it is due.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CloseAuctionJob {
    /// The auction.
    pub auction_id: AuctionId,
}

/// Where close jobs are queued.
pub type CloseQueue = JobQueue<CloseAuctionJob>;

impl CloseQueue {
    /// Queues a close of `auction_id` at `at`. Failures are logged, not
    /// returned: the sweeper closes the auction regardless.
    pub async fn schedule(&self, auction_id: AuctionId, at: DateTime<Utc>) {
        if let Err(e) = self.push(CloseAuctionJob { auction_id }, Some(at)).await {
            tracing::warn!(auction_id = auction_id.get(), error = %e, "could not queue the close job; the sweeper will close it");
        }
    }
}

pub(super) async fn close_job(
    job: CloseAuctionJob,
    closer: Data<Closer>,
    db: Data<DbPool>,
    queue: Data<CloseQueue>,
) -> Result<(), BoxDynError> {
    let auction_id = job.auction_id;
    async move {
        match closer.close(auction_id, false).await {
            Ok(CloseResult::NotDue) => {
                // A late bid moved the end: come back then.
                let mut conn = db.get().await?;
                if let Some(auction) =
                    sitga_persistence::auctions::find(&mut conn, auction_id).await?
                {
                    queue.schedule(auction_id, auction.ends_at()).await;
                }
                Ok(())
            }
            Ok(_) => Ok(()),
            Err(DbError::NotFound) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
    .instrument(tracing::info_span!(
        "close_job",
        auction_id = auction_id.get()
    ))
    .await
}

pub(super) async fn sweep_tick(_tick: Tick, closer: Data<Closer>) -> Result<(), BoxDynError> {
    closer.sweep().await?;
    Ok(())
}
