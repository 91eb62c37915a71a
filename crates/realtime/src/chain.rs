//! On-chain donation records: the outbox worker and the chain monitor.
//!
//! Completing a donation (a cafe's supply pickup) writes an outbox row in the
//! same transaction; the API never talks to the chain. A scheduled worker on
//! every instance leases due rows, sends each through `sitga-chain` (which
//! first looks for an earlier record of the same donation, so a retry after
//! an unseen receipt does not record twice), and writes the outcome back:
//! `confirmed` with the transaction hash, or another attempt later with
//! exponential backoff, or `failed` after the last attempt. The monitor
//! samples the chain every minute.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use sitga_chain::{ChainClient, ChainError};
use sitga_core::{PickupId, UserId};
use sitga_persistence::chain::{self, NewSample};
use sitga_persistence::{DbConn, DbError, DbPool};

/// On-chain recording settings (all present, or the feature is off).
#[derive(Clone)]
pub struct ChainSettings {
    /// Node JSON-RPC URL.
    pub rpc_url: String,
    /// Signing key (hex).
    pub private_key: String,
    /// The registry's address.
    pub contract: String,
    /// Salt of donor references.
    pub donor_salt: Vec<u8>,
    /// Monitor schedule.
    pub monitor_cron: String,
    /// Outbox worker schedule.
    pub relay_cron: String,
    /// Transactions the platform pays for in one day; past it donations
    /// wait for the next day.
    pub daily_tx_cap: u32,
    /// Donations of one donor recorded in one day; past it theirs wait
    /// for the next day (a self-dealing pair cannot drain the account).
    pub donor_daily_cap: u32,
    /// Whose days the caps count in.
    pub calendar: sitga_core::Calendar,
}

impl std::fmt::Debug for ChainSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChainSettings")
            .field("rpc_url", &sitga_chain::redact_url(&self.rpc_url))
            .field("contract", &self.contract)
            .finish_non_exhaustive()
    }
}

/// Rows one worker run sends at most.
const RELAY_BATCH: i64 = 20;
/// How long a leased row is held by one worker.
const LEASE: chrono::Duration = chrono::Duration::minutes(2);
/// Wait for a receipt.
const RECEIPT_WAIT: Duration = Duration::from_secs(30);
/// Attempts before a donation is marked `failed`.
pub const MAX_ATTEMPTS: i32 = 12;
/// The longest pause between attempts.
const MAX_BACKOFF_SECS: i64 = 600;

/// The chain connection and what the workers need with it.
#[derive(Clone, Debug)]
pub struct Chain {
    client: ChainClient,
    donor_salt: Vec<u8>,
    daily_tx_cap: u32,
    donor_daily_cap: u32,
    calendar: sitga_core::Calendar,
    /// The last health check and when it was made: `/ready` is public and
    /// each check costs two RPC calls (often paid to a node provider).
    health: Arc<Mutex<Option<(std::time::Instant, ChainHealth)>>>,
}

/// The node as the last check found it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChainHealth {
    /// Reachable, with the contract deployed; the latest block.
    Ok(u64),
    /// Reachable, but no contract at the configured address.
    NoContract,
    /// Did not answer, or answered with an error (logged, not shown).
    Unreachable,
}

/// How long a health check is reused.
const HEALTH_TTL: Duration = Duration::from_secs(15);
/// How long a health check may take.
const HEALTH_WAIT: Duration = Duration::from_secs(3);

/// Why a chain job failed as a whole.
#[derive(Debug, thiserror::Error)]
pub enum ChainJobError {
    /// The database.
    #[error(transparent)]
    Db(#[from] DbError),
    /// The chain.
    #[error(transparent)]
    Chain(#[from] ChainError),
}

impl Chain {
    /// From checked settings.
    pub fn new(settings: &ChainSettings) -> Result<Self, ChainError> {
        let contract = sitga_chain::parse_address(&settings.contract)?;
        Ok(Self {
            client: ChainClient::new(&settings.rpc_url, &settings.private_key, contract)?,
            donor_salt: settings.donor_salt.clone(),
            daily_tx_cap: settings.daily_tx_cap,
            donor_daily_cap: settings.donor_daily_cap,
            calendar: settings.calendar,
            health: Arc::new(Mutex::new(None)),
        })
    }

    /// Records that the node just failed a call (the relay or the monitor
    /// saw it), so `/ready` says so without waiting for its cache.
    fn note_unreachable(&self) {
        *self.health.lock().unwrap_or_else(|p| p.into_inner()) =
            Some((std::time::Instant::now(), ChainHealth::Unreachable));
    }

    /// The node's health, checked at most every 15 s (3 s timeout). The
    /// error itself goes to the log, redacted, never to the caller.
    pub async fn health(&self) -> ChainHealth {
        if let Some((at, health)) = self
            .health
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            && at.elapsed() < HEALTH_TTL
        {
            return health;
        }
        let health = match tokio::time::timeout(HEALTH_WAIT, self.client.check()).await {
            Ok(Ok(block)) => ChainHealth::Ok(block),
            Ok(Err(ChainError::Config(reason))) => {
                tracing::warn!(%reason, "chain health check: contract missing");
                ChainHealth::NoContract
            }
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "chain health check failed");
                ChainHealth::Unreachable
            }
            Err(_) => {
                tracing::warn!("chain health check: the node did not answer within 3 s");
                ChainHealth::Unreachable
            }
        };
        *self.health.lock().unwrap_or_else(|p| p.into_inner()) =
            Some((std::time::Instant::now(), health.clone()));
        health
    }

    /// The client.
    pub fn client(&self) -> &ChainClient {
        &self.client
    }

    /// `(platform-wide, per donor)` transactions allowed per day.
    pub fn daily_caps(&self) -> (u32, u32) {
        (self.daily_tx_cap, self.donor_daily_cap)
    }

    /// The contract address as stored (`0x…`, checksummed).
    pub fn contract(&self) -> String {
        self.client.contract().to_string()
    }

    /// Queues the chain record of completed donation `pickup_id` by
    /// `donor_id` (call inside the completing transaction).
    pub async fn enqueue(
        &self,
        conn: &mut DbConn,
        pickup_id: PickupId,
        donor_id: UserId,
        grams: i64,
    ) -> Result<(), DbError> {
        let donor = sitga_chain::donor_reference(&self.donor_salt, donor_id.get());
        let donor_ref = format!("0x{}", hex::encode(donor));
        chain::enqueue(conn, pickup_id, &donor_ref, grams).await
    }
}

/// A donation's record checked against the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProofCheck {
    /// What the chain holds under the donation's id, if anything.
    pub on_chain: Option<sitga_chain::OnChain>,
    /// What differs between the platform's record and the chain's:
    /// `donor`, `grams`, `tx_hash` (empty when they agree).
    pub mismatches: Vec<&'static str>,
}

impl ProofCheck {
    /// Whether the chain holds exactly the platform's record.
    pub fn matches(&self) -> bool {
        self.on_chain.is_some() && self.mismatches.is_empty()
    }
}

impl Chain {
    /// Re-reads donation `record` from the chain (its `DonationRecorded`
    /// event under the pickup's id) and compares id, donor reference,
    /// grams and, once confirmed, the recording transaction.
    pub async fn prove(&self, record: &chain::ChainDonation) -> Result<ProofCheck, ChainError> {
        let id = u64::try_from(record.pickup_id.get()).unwrap_or_default();
        let on_chain = self.client.read_donation(id).await.inspect_err(|e| {
            self.note_unreachable();
            tracing::warn!(pickup_id = id, error = %sitga_chain::redact_urls(&e.to_string()), "proof read failed");
        })?;
        let mut mismatches = Vec::new();
        if let Some(found) = &on_chain {
            if format!("0x{}", hex::encode(found.donor)) != record.donor_ref {
                mismatches.push("donor");
            }
            if i64::try_from(found.grams).ok() != Some(record.grams) {
                mismatches.push("grams");
            }
            if let Some(tx) = &record.tx_hash
                && !tx.eq_ignore_ascii_case(&found.recorded.tx_hash.to_string())
            {
                mismatches.push("tx_hash");
            }
        }
        Ok(ProofCheck {
            on_chain,
            mismatches,
        })
    }
}

/// The pause before attempt `attempts + 1`: 2, 4, 8 … seconds, at most 10
/// minutes.
pub fn backoff(attempts: i32) -> chrono::Duration {
    let exp = u32::try_from(attempts.clamp(0, 20)).unwrap_or(0) + 1;
    chrono::Duration::seconds(2_i64.saturating_pow(exp).min(MAX_BACKOFF_SECS))
}

/// Sends every due donation once; returns how many were confirmed.
pub async fn relay_due(db: &DbPool, chain: &Chain) -> Result<usize, DbError> {
    let now = Utc::now();
    let (today, tomorrow) = chain.calendar.day_range(now);
    let due = {
        let mut conn = db.get().await?;
        let spent = chain::confirmed_since(&mut conn, today, None).await?;
        let left = i64::from(chain.daily_tx_cap).saturating_sub(spent);
        if left <= 0 {
            tracing::warn!(
                cap = chain.daily_tx_cap,
                "the daily cap of chain transactions is reached; donations wait for tomorrow"
            );
            return Ok(0);
        }
        chain::lease_due(&mut conn, RELAY_BATCH.min(left), LEASE).await?
    };
    let mut confirmed = 0;
    for row in due {
        {
            let mut conn = db.get().await?;
            let donor_today =
                chain::confirmed_since(&mut conn, today, Some(&row.donor_ref)).await?;
            if donor_today >= i64::from(chain.donor_daily_cap) {
                tracing::warn!(
                    pickup_id = row.pickup_id.get(),
                    cap = chain.donor_daily_cap,
                    "donor's daily cap of chain records reached; deferred to tomorrow"
                );
                chain::defer(
                    &mut conn,
                    row.pickup_id,
                    tomorrow,
                    "daily cap of this donor's chain records reached; recorded tomorrow",
                )
                .await?;
                continue;
            }
        }
        let donor = parse_donor(&row.donor_ref);
        let outcome = match donor {
            Some(donor) => {
                let record = chain.client.record(
                    u64::try_from(row.pickup_id.get()).unwrap_or_default(),
                    donor,
                    u64::try_from(row.grams).unwrap_or_default(),
                    RECEIPT_WAIT,
                );
                // A node that accepts connections but never answers must not
                // hold the row past its lease.
                tokio::time::timeout(RECEIPT_WAIT + Duration::from_secs(15), record)
                    .await
                    .unwrap_or_else(|_| {
                        Err(ChainError::Rpc("the node did not answer in time".into()))
                    })
            }
            None => Err(ChainError::Config(format!(
                "stored donor reference {:?} is not 32 bytes of hex",
                row.donor_ref
            ))),
        };
        let mut conn = db.get().await?;
        match outcome {
            Ok(recorded) => {
                chain::confirm(
                    &mut conn,
                    row.pickup_id,
                    &recorded.tx_hash.to_string(),
                    i64::try_from(recorded.block_number).unwrap_or(i64::MAX),
                )
                .await?;
                tracing::info!(pickup_id = row.pickup_id.get(), tx_hash = %recorded.tx_hash, "donation recorded on chain");
                confirmed += 1;
            }
            Err(e) => {
                let attempts = row.attempts + 1;
                // A conflict will not go away by retrying.
                let retryable = !matches!(e, ChainError::Conflict { .. });
                let retry_at = (retryable && attempts < MAX_ATTEMPTS)
                    .then(|| Utc::now() + backoff(row.attempts));
                tracing::warn!(pickup_id = row.pickup_id.get(), attempts, error = %e, retry = retry_at.is_some(), "recording a donation on chain failed");
                if matches!(e, ChainError::Rpc(_) | ChainError::Timeout(..)) {
                    chain.note_unreachable();
                }
                chain::attempt_failed(&mut conn, row.pickup_id, &e.to_string(), retry_at).await?;
            }
        }
    }
    Ok(confirmed)
}

fn parse_donor(text: &str) -> Option<[u8; 32]> {
    let bytes = hex::decode(text.strip_prefix("0x")?).ok()?;
    bytes.try_into().ok()
}

/// Takes one monitor sample: the latest block, the contract's counter, and
/// the transactions since the previous sample.
pub async fn sample(db: &DbPool, chain: &Chain) -> Result<(), ChainJobError> {
    let contract = chain.contract();
    let previous = {
        let mut conn = db.get().await?;
        chain::samples(&mut conn, &contract, 1).await?
    };
    let after = previous
        .first()
        .and_then(|s| u64::try_from(s.scanned_to).ok());
    let reading = chain.client.sample(after).await.inspect_err(|e| {
        if matches!(e, ChainError::Rpc(_) | ChainError::Timeout(..)) {
            chain.note_unreachable();
        }
    })?;
    let to_i64 = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    let mut conn = db.get().await?;
    chain::insert_sample(
        &mut conn,
        NewSample {
            contract: &contract,
            latest_block: to_i64(reading.latest_block),
            scanned_to: to_i64(reading.scanned_to),
            donation_count: to_i64(reading.donation_count),
            transactions: to_i64(reading.transactions),
        },
    )
    .await?;
    tracing::debug!(?reading, "chain sampled");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_ten_minutes() {
        assert_eq!(backoff(0).num_seconds(), 2);
        assert_eq!(backoff(1).num_seconds(), 4);
        assert_eq!(backoff(4).num_seconds(), 32);
        assert_eq!(backoff(11).num_seconds(), 600);
        assert_eq!(backoff(-3).num_seconds(), 2);
    }

    #[test]
    fn donor_references_round_trip() {
        let hex = format!("0x{}", hex::encode([7u8; 32]));
        assert_eq!(parse_donor(&hex), Some([7u8; 32]));
        assert_eq!(parse_donor("0x1234"), None);
        assert_eq!(parse_donor("nothex"), None);
    }
}
