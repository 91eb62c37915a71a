//! The bid engine: one in-process writer per active auction.
//!
//! Bids for an auction queue to its writer task, which validates them in
//! arrival order against the current state and commits a batch of them in
//! ONE transaction (group commit: one fsync for many bids). Inside that
//! transaction the wallets the batch touches are locked, the
//! domain plans every hold and release ([`sitga_auction::plan_bids`]), the
//! wallets, ledger lines, `bids` rows (next sequence numbers) and room
//! messages are written, and the auction row, guarded by its version. The
//! auction row is locked before anything else, so several instances queue
//! on it instead of deadlocking; whatever another instance changed is
//! re-read and the batch re-validated against it. Frames go out only after
//! commit.
//!
//! Round trips are what a bid costs under load, so the transaction has a
//! fixed number of them whatever the batch holds. While the writer's cached
//! state is current (its row version still matches), the auction row is
//! written FIRST with the outcome the batch has if every bidder can pay:
//! the version guard checks the cache and takes the row lock in one
//! statement. Then the batch is planned with the bidders' wallets as the
//! writer last saw them (those it has not seen are locked and read; a
//! bidder who cannot pay changes the outcome: the row is rewritten), and the
//! wallets — only where each is still as planned, else the batch is rolled
//! back and planned again from locked reads — and the room messages (whose
//! ids the frames carry) are written. The ledger lines, the `bids` rows and
//! the outbid notifications of the leaders the batch displaced (sent live
//! after commit) read nothing and are checked by nothing later, so they go
//! with the COMMIT: on MySQL one multi-statement round trip. Four round
//! trips with the commit (one more for wallets the writer has not seen),
//! on a connection the writer keeps while bids keep coming (on MySQL with
//! autocommit off, so no `START TRANSACTION` either).
//! A stale cache (another instance bid, the seller edited) fails the guard
//! and costs one locking read more.
//!
//! On MySQL the commit overlaps the next batch (a `Flight`): once a batch is
//! written its `COMMIT` (with the writes queued for it) is sent, and bids
//! that arrive meanwhile are decided on a second connection. InnoDB
//! releases the row locks before it flushes the log, so that batch's
//! statements run while the last one is made durable; they start from the
//! cached state the last batch wrote, which their guards check again once
//! its locks are released (a commit that failed rolled back, and the
//! guards fail: re-read and redo). Every bid of a batch is still answered,
//! and the room told, only after its commit, batches in order; a bid the
//! cache refuses for certain meanwhile is refused against the state in
//! flight (a refusal needs nothing committed).

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use sitga_auction::{
    AcceptedBid, AuctionSnapshot, BidRejection, BidRequest, Krw, Placed, PlanError, Wallet,
    check_request, plan_bids, state_if_funded,
};
use sitga_core::{AuctionId, UserId};
use sitga_persistence::auctions::{ClientRef, NewBid};
use sitga_persistence::{DbConn, DbError, DbPool, auctions, notifications, users, wallets};
use tokio::sync::{mpsc, oneshot};
use tracing::Instrument;

use crate::bus::{HistoryItem, RoomBus};
use crate::frames::{ServerFrame, bid_text_ko};
use crate::notices;

/// Requests a writer takes into one transaction.
const MAX_BATCH: usize = 256;
/// Queued requests per auction before new ones are refused (503).
const QUEUE_DEPTH: usize = 4096;
/// A writer with nothing to do for this long exits.
const IDLE: Duration = Duration::from_secs(30);
/// A writer keeps its connection this long after a batch, for the next
/// (unless others are waiting for one).
const LINGER: Duration = Duration::from_millis(50);
/// Attempts when another instance keeps winning the version guard.
const MAX_ATTEMPTS: usize = 8;

/// A bid to place.
#[derive(Debug, Clone)]
pub struct BidCommand {
    /// Auction.
    pub auction_id: AuctionId,
    /// Bidder.
    pub bidder_id: UserId,
    /// Bidder's nickname, for the room message.
    pub nickname: String,
    /// The amount to bid now (with only a maximum: the least that leads).
    pub amount: Option<Krw>,
    /// The most the engine may bid for the bidder (a proxy bid); private.
    pub max: Option<Krw>,
    /// The client's key for this request (a WebSocket frame's `ref`),
    /// stored with the bid it places.
    pub client_ref: Option<ClientRef>,
    /// The client sends this again after losing its answer: a command under
    /// a key this bidder already placed a bid with on this auction is
    /// answered from that bid, never decided again. (Only re-sends are
    /// looked up: a first send cannot be a replay, and the lookup is a
    /// round trip per batch.)
    pub resend: bool,
}

impl BidCommand {
    /// A plain bid of `amount`.
    pub fn plain(auction_id: AuctionId, bidder_id: UserId, nickname: String, amount: Krw) -> Self {
        Self {
            auction_id,
            bidder_id,
            nickname,
            amount: Some(amount),
            max: None,
            client_ref: None,
            resend: false,
        }
    }

    /// The request a client key stands for (`bid:{amount}:{max}`).
    pub fn fingerprint(amount: Option<Krw>, max: Option<Krw>) -> String {
        let part = |value: Option<Krw>| value.map_or_else(|| "-".to_owned(), |v| v.to_string());
        format!("bid:{}:{}", part(amount), part(max))
    }

    fn request(&self) -> BidRequest {
        BidRequest {
            bidder_id: self.bidder_id,
            amount: self.amount,
            max: self.max,
        }
    }
}

/// What happened to a bid.
#[derive(Debug, Clone)]
pub enum BidOutcome {
    /// Accepted and committed.
    Accepted {
        /// The bid.
        bid: AcceptedBid,
        /// The leader's proxy bid that outbid it at once (their maximum
        /// was not beaten).
        answer: Option<AcceptedBid>,
        /// The bidder's maximum standing after, while they lead with one.
        max: Option<Krw>,
        /// The auction right after it (and its answer).
        after: AuctionSnapshot,
        /// The room-history row announcing it.
        chat_id: i64,
    },
    /// The leader raised their own maximum; the price did not move.
    MaxRaised {
        /// The new maximum.
        max: Krw,
        /// The auction after it.
        after: AuctionSnapshot,
    },
    /// The same request under the same client key placed this bid already:
    /// nothing was decided again.
    Replayed {
        /// The bid it placed.
        seq: i64,
        /// Its amount.
        amount: Krw,
    },
    /// The client key was used for a different request on this auction:
    /// nothing was decided.
    RefReused,
    /// Refused; nothing changed.
    Rejected {
        /// Why.
        reason: BidRejection,
        /// The auction as the bid saw it.
        seen: AuctionSnapshot,
    },
}

/// Why a bid could not be decided.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// No such auction.
    #[error("auction not found")]
    NotFound,
    /// Too many bids queued for this auction.
    #[error("too many bids in flight for this auction")]
    Overloaded,
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// Other instances kept changing the auction.
    #[error("auction changed concurrently too often")]
    Contended,
}

impl EngineError {
    /// The same error for another bid of a failed batch: every bid of it
    /// gets the batch's answer (a missing auction is a 404 for all of them,
    /// not only for the last to read it).
    fn copy(&self) -> Self {
        match self {
            Self::NotFound | Self::Db(DbError::NotFound) => Self::NotFound,
            Self::Overloaded => Self::Overloaded,
            Self::Contended | Self::Db(DbError::Conflict(_)) => Self::Contended,
            Self::Db(DbError::Unavailable(cause)) => Self::Db(DbError::Unavailable(cause.clone())),
            // Not cloneable (diesel's error); the message keeps the cause.
            Self::Db(other) => Self::Db(DbError::Invariant(other.to_string())),
        }
    }
}

/// The auction as a writer last read or wrote it, with its row version
/// (every change to the row bumps it).
#[derive(Debug, Clone)]
struct Known {
    state: AuctionSnapshot,
    version: i64,
    /// A clock (Dutch) auction: it takes accepts, never bids (its format
    /// never changes, so every later bid is refused without a read).
    clock: bool,
    /// The bidders' wallets as this writer last read or wrote them. Other
    /// writers and payments change wallets too, so a batch planned with
    /// these writes them only if they are still exactly so
    /// ([`wallets::hold_if_unchanged`]); it saves the locking read
    /// of the wallets, one round trip a batch.
    wallets: HashMap<UserId, Wallet>,
}

/// Wallet copies a writer keeps at most; past that it starts over (each is
/// re-read the next time it is needed).
const WALLET_COPIES: usize = 4096;

/// A bid the room is told about, in order: with its bidder's nickname and
/// its room-history row.
#[derive(Debug)]
struct Announced {
    bid: AcceptedBid,
    nickname: String,
    chat_id: i64,
    /// The request's own bid (not a proxy's answer to it).
    own: bool,
}

/// What the room and the notified users hear of a committed batch.
#[derive(Debug)]
struct News {
    /// The auction after it.
    state: AuctionSnapshot,
    /// The notifications it stored (user, event key).
    told: Vec<notifications::NoticeKey>,
    /// Every bid it placed, in order.
    announced: Vec<Announced>,
}

/// A batch whose commit is in flight on its own connection while the
/// writer decides the next batch on another (MySQL): InnoDB releases the
/// row locks before it flushes the log, so the next batch's statements run
/// while this one's commit is being made durable. It resolves once the
/// batch is committed and announced, to the connection (`None` when the
/// commit failed).
type Flight<'a> = Pin<Box<dyn Future<Output = Option<DbConn>> + Send + 'a>>;

/// How one attempt at a batch ended.
#[derive(Debug)]
enum Attempt {
    /// Decided (committed, or nothing to write).
    Decided(Box<Decided>),
    /// The auction changed under the cached state: re-read and redo.
    Raced,
    /// A wallet copy was out of date; nothing was written.
    StaleWallets,
}

/// What a committed batch did.
#[derive(Debug)]
struct Decided {
    /// Each request's outcome, in order.
    outcomes: Vec<BidOutcome>,
    /// The auction after it.
    after: Known,
    /// The notifications it stored (user, event key), sent live after commit.
    told: Vec<notifications::NoticeKey>,
    /// Every bid it placed, in order (proxies' answers included).
    announced: Vec<Announced>,
    /// Written but not committed yet: the writer's connection still holds
    /// the open transaction (see [`Flight`]).
    uncommitted: bool,
}

impl Decided {
    /// Every request of a batch on a clock auction, refused (a clock
    /// takes accepts).
    fn clock_refusals(state: AuctionSnapshot, version: i64, requests: usize) -> Self {
        let refused = BidOutcome::Rejected {
            reason: BidRejection::WrongFormat,
            seen: state.clone(),
        };
        Self {
            outcomes: vec![refused; requests],
            after: Known {
                state,
                version,
                clock: true,
                wallets: HashMap::new(),
            },
            told: Vec::new(),
            announced: Vec::new(),
            uncommitted: false,
        }
    }
}

/// Refusals that stay true however the auction moved on since `state` was
/// read: once there is a bid, amounts only rise; sellers stay sellers,
/// closed auctions stay closed. (Not `TooLow` before the first bid: the
/// seller may still lower the start price or the increment, on any
/// instance; not `Ended`: another instance may have extended the end; not
/// `AlreadyLeading`: the bidder may have been outbid.)
fn refusal_is_certain(reason: &BidRejection, state: &AuctionSnapshot) -> bool {
    match reason {
        BidRejection::TooLow { .. } => state.bid_count > 0,
        BidRejection::InvalidAmount
        | BidRejection::SellerCannotBid
        | BidRejection::NotOpen
        | BidRejection::WrongFormat => true,
        _ => false,
    }
}

struct Request {
    command: BidCommand,
    reply: oneshot::Sender<Result<BidOutcome, Arc<EngineError>>>,
}

/// Routes bids to per-auction writers.
#[derive(Clone)]
pub struct BidEngine {
    db: DbPool,
    bus: RoomBus,
    writers: Arc<Mutex<HashMap<AuctionId, mpsc::Sender<Request>>>>,
    /// Batches decided while the previous batch's commit was in flight.
    overlapped: Arc<AtomicU64>,
}

impl std::fmt::Debug for BidEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BidEngine").finish_non_exhaustive()
    }
}

impl BidEngine {
    /// An engine on `db` publishing to `bus`.
    pub fn new(db: DbPool, bus: RoomBus) -> Self {
        Self {
            db,
            bus,
            writers: Arc::new(Mutex::new(HashMap::new())),
            overlapped: Arc::new(AtomicU64::new(0)),
        }
    }

    fn writer_for(&self, auction_id: AuctionId) -> mpsc::Sender<Request> {
        let mut writers = self.writers.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(tx) = writers.get(&auction_id).filter(|tx| !tx.is_closed()) {
            return tx.clone();
        }
        let (tx, rx) = mpsc::channel(QUEUE_DEPTH);
        writers.insert(auction_id, tx.clone());
        let engine = self.clone();
        tokio::spawn(
            async move { engine.run_writer(auction_id, rx).await }.instrument(tracing::info_span!(
                "bid_writer",
                auction_id = auction_id.get()
            )),
        );
        tx
    }

    /// Places a bid and waits for its outcome (after commit). No span of its
    /// own: this is the hottest path, the writer logs under its
    /// `bid_writer` span (`auction_id`), and callers already carry the
    /// bidder (`user_id` in the request or WebSocket span).
    pub async fn place(&self, command: BidCommand) -> Result<BidOutcome, EngineError> {
        for _ in 0..3 {
            let (reply, outcome) = oneshot::channel();
            let request = Request {
                command: command.clone(),
                reply,
            };
            match self.writer_for(command.auction_id).try_send(request) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(_)) => return Err(EngineError::Overloaded),
                // The writer just retired; the next attempt starts a new one.
                Err(mpsc::error::TrySendError::Closed(_)) => continue,
            }
            match outcome.await {
                Ok(result) => {
                    return result.map_err(|e| Arc::try_unwrap(e).unwrap_or_else(|e| e.copy()));
                }
                Err(_) => continue,
            }
        }
        Err(EngineError::Contended)
    }

    async fn run_writer(self, auction_id: AuctionId, mut rx: mpsc::Receiver<Request>) {
        // The last state this writer saw. Prices only rise, so a bid below
        // the cached minimum is too low for certain: it is answered without
        // touching the database (in a storm, most bids are).
        let mut known: Option<Known> = None;
        let mut seats = Seats::default();
        let mut flight: Option<Flight<'_>> = None;
        loop {
            let first = match flight.as_mut() {
                // The commit in flight lands, or the next request comes.
                Some(landing) => {
                    let next = tokio::select! {
                        biased;
                        landed = landing => Err(landed),
                        request = rx.recv() => Ok(request),
                    };
                    match next {
                        Err(landed) => {
                            flight = None;
                            seats.settle(auction_id, landed, &mut known).await;
                            continue;
                        }
                        Ok(Some(request)) => request,
                        Ok(None) => break,
                    }
                }
                None => {
                    let wait = if seats.session.is_some() {
                        LINGER
                    } else {
                        IDLE
                    };
                    match tokio::time::timeout(wait, rx.recv()).await {
                        Ok(Some(request)) => request,
                        Ok(None) => break,
                        Err(_) if seats.session.is_some() => {
                            seats.release(auction_id).await;
                            continue;
                        }
                        Err(_) => {
                            // Idle: retire, unless a request slipped in meanwhile.
                            if self
                                .retire(auction_id, &mut rx, &mut known, &mut seats.session)
                                .await
                            {
                                break;
                            }
                            continue;
                        }
                    }
                }
            };
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(request) => batch.push(request),
                    Err(_) => break,
                }
            }
            // The commit in flight lands first when the batch has a re-send
            // (it may be of a bid in flight: its key is looked up only once
            // that bid is committed), or when the writer would need a second
            // connection the pool does not have to spare (its own is about
            // to be free).
            if let Some(landing) = flight.take_if(|_| {
                let pool_spent = || {
                    let pool = self.db.status();
                    pool.available == 0 && pool.size >= pool.max_size
                };
                batch.iter().any(|r| r.command.resend) || (seats.session.is_none() && pool_spent())
            }) {
                seats.settle(auction_id, landing.await, &mut known).await;
            }
            let session = &mut seats.session;
            let (gone, next) = match flight.take() {
                Some(landing) => {
                    self.overlapped.fetch_add(1, Ordering::Relaxed);
                    let (landed, processed) = tokio::join!(
                        landing,
                        self.process(auction_id, batch, &mut known, session, true)
                    );
                    seats.settle(auction_id, landed, &mut known).await;
                    processed
                }
                None => {
                    self.process(auction_id, batch, &mut known, session, true)
                        .await
                }
            };
            flight = next;
            if seats.session.is_none() {
                seats.session = seats.spare.take();
            }
            // No such auction: no writer lingers for it (what it answers
            // while retiring must not wait on a commit not yet sent).
            if gone {
                if let Some(landing) = flight.take() {
                    seats.settle(auction_id, landing.await, &mut known).await;
                }
                if self
                    .retire(auction_id, &mut rx, &mut known, &mut seats.session)
                    .await
                {
                    break;
                }
            }
            // Keeping connections must not starve requests waiting for one.
            if seats.session.is_some() && self.db.status().waiting > 0 {
                seats.release(auction_id).await;
            }
        }
        if let Some(landing) = flight.take() {
            seats.settle(auction_id, landing.await, &mut known).await;
        }
        seats.release(auction_id).await;
    }

    /// Retires this writer if nothing is queued for it (answering anything
    /// that raced in); `false` when requests are waiting.
    async fn retire(
        &self,
        auction_id: AuctionId,
        rx: &mut mpsc::Receiver<Request>,
        known: &mut Option<Known>,
        session: &mut Option<DbConn>,
    ) -> bool {
        let retire = {
            let mut writers = self.writers.lock().unwrap_or_else(|p| p.into_inner());
            let idle = rx.is_empty();
            if idle {
                writers.remove(&auction_id);
            }
            idle
        };
        if retire {
            rx.close();
            // Answer anything that raced in before close().
            while let Ok(late) = rx.try_recv() {
                self.process(auction_id, vec![late], known, session, false)
                    .await;
            }
        }
        retire
    }

    /// Batches decided while the previous batch's commit was in flight
    /// (MySQL; a writer under a steady stream of bids).
    pub fn overlapped_batches(&self) -> u64 {
        self.overlapped.load(Ordering::Relaxed)
    }

    /// Bid writers running now (one per auction with recent bids).
    pub fn active_writers(&self) -> usize {
        self.writers.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Answers the bids the cached state already refuses for certain;
    /// returns the others.
    fn prefilter(known: Option<&Known>, batch: Vec<Request>) -> Vec<Request> {
        let Some(Known { state, clock, .. }) = known else {
            return batch;
        };
        let now = Utc::now();
        let mut undecided = Vec::with_capacity(batch.len());
        for request in batch {
            let checked = if *clock {
                Err(BidRejection::WrongFormat)
            } else {
                check_request(state, &request.command.request(), now)
            };
            match checked {
                Err(reason) if refusal_is_certain(&reason, state) => {
                    let outcome = BidOutcome::Rejected {
                        reason,
                        seen: state.clone(),
                    };
                    let _ = request.reply.send(Ok(outcome));
                }
                _ => undecided.push(request),
            }
        }
        undecided
    }

    /// Decides a batch and answers it; `true` when the auction does not
    /// exist. With `overlap` (MySQL only), a batch that wrote comes back as
    /// a [`Flight`] instead: its commit sent, its bids answered when the
    /// flight lands.
    async fn process(
        &self,
        auction_id: AuctionId,
        batch: Vec<Request>,
        known: &mut Option<Known>,
        session: &mut Option<DbConn>,
        overlap: bool,
    ) -> (bool, Option<Flight<'_>>) {
        // A re-send of a key sent earlier in the same batch waits for that
        // one to be committed, then is answered from it.
        let mut pending = batch;
        let mut gone = false;
        loop {
            let (now, later) = first_of_each_key(pending);
            let last = later.is_empty();
            let (missing, flight) = self
                .process_once(auction_id, now, known, session, overlap && last)
                .await;
            gone |= missing;
            if last {
                return (gone, flight);
            }
            pending = later;
        }
    }

    /// Answers the keyed requests whose key placed a bid already (one
    /// query); returns the others.
    async fn answer_replays(
        &self,
        auction_id: AuctionId,
        batch: Vec<Request>,
        session: &mut Option<DbConn>,
    ) -> Result<Vec<Request>, (EngineError, Vec<Request>)> {
        let keys: Vec<(UserId, &str)> = batch
            .iter()
            .filter(|r| r.command.resend)
            .filter_map(|r| {
                Some((
                    r.command.bidder_id,
                    r.command.client_ref.as_ref()?.key.as_str(),
                ))
            })
            .collect();
        if keys.is_empty() {
            return Ok(batch);
        }
        let conn = match session {
            Some(conn) => conn,
            None => match self.db.session().await {
                Ok(conn) => session.insert(conn),
                Err(e) => return Err((e.into(), batch)),
            },
        };
        let found = match auctions::bids_by_client_ref(conn, auction_id, &keys).await {
            Ok(found) => found,
            Err(e) => {
                *session = None;
                return Err((e.into(), batch));
            }
        };
        let mut rest = Vec::with_capacity(batch.len());
        for request in batch {
            let c = &request.command;
            let stored = c.client_ref.as_ref().filter(|_| c.resend).and_then(|key| {
                found
                    .iter()
                    .find(|b| b.bidder_id == c.bidder_id && b.key == key.key)
                    .map(|b| (b, key))
            });
            match stored {
                Some((bid, key)) => {
                    let outcome = if bid.request == key.request {
                        BidOutcome::Replayed {
                            seq: bid.seq,
                            amount: bid.amount,
                        }
                    } else {
                        BidOutcome::RefReused
                    };
                    let _ = request.reply.send(Ok(outcome));
                }
                None => rest.push(request),
            }
        }
        Ok(rest)
    }

    /// Decides a batch in which each client key appears once.
    async fn process_once(
        &self,
        auction_id: AuctionId,
        batch: Vec<Request>,
        known: &mut Option<Known>,
        session: &mut Option<DbConn>,
        overlap: bool,
    ) -> (bool, Option<Flight<'_>>) {
        let batch = match self.answer_replays(auction_id, batch, session).await {
            Ok(rest) => rest,
            Err((e, batch)) => {
                tracing::error!(error = %e, auction_id = auction_id.get(), "client keys not read");
                answer_failed(batch, e);
                return (false, None);
            }
        };
        let batch = Self::prefilter(known.as_ref(), batch);
        if batch.is_empty() {
            return (false, None);
        }
        let commands: Vec<&BidCommand> = batch.iter().map(|r| &r.command).collect();
        let mut purse = known
            .as_mut()
            .map(|k| std::mem::take(&mut k.wallets))
            .unwrap_or_default();
        // Only MySQL lets a second connection write while a commit is in
        // flight (SQLite has one writer at a time).
        let overlap = overlap && self.db.backend() == "mysql";
        let result = self
            .decide(
                auction_id,
                &commands,
                known.as_ref(),
                &mut purse,
                session,
                !overlap,
            )
            .await;
        match result {
            Ok(decided) => {
                let Decided {
                    outcomes,
                    mut after,
                    told,
                    announced,
                    uncommitted,
                } = decided;
                if purse.len() <= WALLET_COPIES {
                    after.wallets = purse;
                }
                let news = News {
                    state: after.state.clone(),
                    told,
                    announced,
                };
                *known = Some(after);
                let answers = batch.into_iter().zip(outcomes).collect();
                // The open transaction leaves with its connection, committed
                // and answered once it lands.
                let open = if uncommitted { session.take() } else { None };
                match open {
                    Some(conn) => (
                        false,
                        Some(Box::pin(self.land(auction_id, conn, news, answers))),
                    ),
                    None => {
                        self.announce(auction_id, news, answers).await;
                        (false, None)
                    }
                }
            }
            Err(e) => {
                *known = None;
                let gone = matches!(e, EngineError::NotFound);
                if gone {
                    tracing::debug!(
                        auction_id = auction_id.get(),
                        "bids for an auction that does not exist"
                    );
                } else {
                    tracing::error!(error = %e, auction_id = auction_id.get(), "bid batch failed");
                }
                answer_failed(batch, e);
                (gone, None)
            }
        }
    }

    /// Tells the room and the bidders what a committed batch did. The room
    /// hears every accepted bid and the state after them as one item (one
    /// write per watcher, one Redis round trip), published before any of
    /// `answers` is sent: whoever reads a list or the room after an answer
    /// already finds its bid.
    async fn announce(
        &self,
        auction_id: AuctionId,
        news: News,
        answers: Vec<(Request, BidOutcome)>,
    ) {
        self.bus.stored(news.told);
        let at = Utc::now();
        let history: Vec<HistoryItem> = news
            .announced
            .iter()
            .map(|a| HistoryItem {
                id: a.chat_id,
                user: Some(a.nickname.clone()),
                code: "bid_accepted".into(),
                context: bid_text_ko(&a.nickname, &a.bid),
                amount: Some(a.bid.amount),
                at: at.timestamp_millis(),
            })
            .collect();
        self.bus.remember_all(auction_id, &history).await;
        let mut frames: Vec<ServerFrame> = news
            .announced
            .iter()
            .map(|a| ServerFrame::bid_accepted(&a.nickname, &a.bid))
            .collect();
        if let Some(last) = news.announced.last() {
            frames.push(ServerFrame::state(&news.state, Some(&last.nickname), at));
        }
        self.bus.publish_all(auction_id, &frames).await;
        for (request, outcome) in answers {
            let _ = request.reply.send(Ok(outcome));
        }
    }

    /// Commits a batch left open on `conn`, then announces it; the
    /// connection back when the commit went through. A failed commit
    /// answers the batch's requests with its error (their client keys let
    /// them ask again: a commit whose answer was lost may have gone through).
    async fn land(
        &self,
        auction_id: AuctionId,
        mut conn: DbConn,
        news: News,
        answers: Vec<(Request, BidOutcome)>,
    ) -> Option<DbConn> {
        match conn.commit_in_place().await {
            Ok(()) => {
                self.announce(auction_id, news, answers).await;
                Some(conn)
            }
            Err(e) => {
                tracing::error!(error = %e, auction_id = auction_id.get(), "bid batch not committed");
                answer_failed(answers.into_iter().map(|(r, _)| r), e.into());
                None
            }
        }
    }

    /// Decides a batch (and commits it, with `commit_now`; else what it
    /// wrote is left open on `session`); returns each bid's outcome and the
    /// state after the batch.
    async fn decide(
        &self,
        auction_id: AuctionId,
        commands: &[&BidCommand],
        known: Option<&Known>,
        purse: &mut HashMap<UserId, Wallet>,
        session: &mut Option<DbConn>,
        commit_now: bool,
    ) -> Result<Decided, EngineError> {
        // After a lost race the cache is stale: re-read.
        let mut known = known;
        for attempt in 1..=MAX_ATTEMPTS {
            let conn = match session {
                Some(conn) => conn,
                None => session.insert(self.db.session().await?),
            };
            let result = self
                .try_batch(conn, auction_id, commands, known, purse, commit_now)
                .await;
            if result
                .as_ref()
                .is_err_and(|e| !matches!(e, EngineError::NotFound))
            {
                // Possibly mid-transaction: closed, never reused.
                *session = None;
            }
            match result {
                Ok(Attempt::Decided(done)) => return Ok(*done),
                // Planned on a wallet copy that was out of date: plan again
                // from locked reads, at once (the auction is as cached).
                Ok(Attempt::StaleWallets) => {
                    tracing::debug!(
                        auction_id = auction_id.get(),
                        attempt,
                        "bid batch planned again: a wallet changed elsewhere"
                    );
                    purse.clear();
                }
                // Lost the version race or a deadlock: re-read and redo.
                Ok(Attempt::Raced) | Err(EngineError::Db(DbError::Conflict(_))) => {
                    tracing::debug!(
                        auction_id = auction_id.get(),
                        attempt,
                        "bid batch retried after a concurrent change"
                    );
                    known = None;
                    purse.clear();
                    tokio::time::sleep(Duration::from_millis(2 * attempt as u64)).await;
                }
                Err(e) => return Err(e),
            }
        }
        Err(EngineError::Contended)
    }

    /// One attempt in one transaction on `conn`. An error may leave the
    /// transaction open. When decided, `purse` holds the wallets as written;
    /// without `commit_now` a batch that wrote leaves its transaction open
    /// ([`Decided::uncommitted`]).
    async fn try_batch(
        &self,
        conn: &mut DbConn,
        auction_id: AuctionId,
        commands: &[&BidCommand],
        known: Option<&Known>,
        purse: &mut HashMap<UserId, Wallet>,
        commit_now: bool,
    ) -> Result<Attempt, EngineError> {
        conn.begin().await?;
        let requests: Vec<BidRequest> = commands.iter().map(|c| c.request()).collect();
        let now = Utc::now();
        // The auction row is locked first, always: taking the wallets first
        // and the auction last (or its shared lock through the `bids`
        // foreign key, upgraded by the final UPDATE) deadlocks two instances
        // bidding on one auction, and drags joins' view-count updates in.
        // With a current cache, the lock comes with writing the hoped-for
        // outcome; otherwise from a locking read.
        let mut claimed = None;
        if let Some(cached) = known {
            let hoped = state_if_funded(&cached.state, &requests, now);
            if hoped != cached.state
                && auctions::apply_bids(conn, auction_id, cached.version, &hoped).await?
            {
                claimed = Some((cached, hoped));
            }
        }
        let (state, version) = match &claimed {
            Some((cached, _)) => (cached.state.clone(), cached.version),
            None => {
                let Some(row) = auctions::find_for_update(conn, auction_id).await? else {
                    // Nothing was written: end the transaction and keep the
                    // connection.
                    conn.rollback_in_place().await?;
                    return Err(EngineError::NotFound);
                };
                if row.is_clock() {
                    conn.rollback_in_place().await?;
                    return Ok(Attempt::Decided(Box::new(Decided::clock_refusals(
                        row.snapshot(),
                        row.version,
                        commands.len(),
                    ))));
                }
                (row.snapshot(), row.version)
            }
        };
        // Wallets come from the writer's copies where it has them; those
        // are checked by the guarded write, so each must be one the plan
        // changes. One it only reads (a bidder refused for lack of points,
        // a hold taken and released in the batch) is read under a lock.
        let mut wallets = HashMap::new();
        let mut copied: Vec<UserId> = Vec::new();
        let plan = loop {
            let lock = match plan_bids(&state, &wallets, &requests, now) {
                Ok(plan) => {
                    let unchecked: Vec<UserId> = copied
                        .iter()
                        .copied()
                        .filter(|id| {
                            plan.wallets
                                .get(id)
                                .is_none_or(|after| Some(after) == wallets.get(id))
                        })
                        .collect();
                    if unchecked.is_empty() {
                        break plan;
                    }
                    unchecked
                }
                Err(PlanError::NeedWallets(ids)) => {
                    let mut lack = Vec::new();
                    for id in ids {
                        match purse.get(&id) {
                            Some(&copy) => {
                                wallets.insert(id, copy);
                                copied.push(id);
                            }
                            None => lack.push(id),
                        }
                    }
                    lack
                }
                // A copy may be what disagrees: read them all and plan again.
                Err(PlanError::Books { .. }) if !copied.is_empty() => copied.clone(),
                Err(books @ PlanError::Books { .. }) => {
                    return Err(DbError::Invariant(books.to_string()).into());
                }
            };
            if !lock.is_empty() {
                wallets.extend(wallets::lock_many(conn, &lock).await?);
                copied.retain(|id| !lock.contains(id));
            }
        };
        if !plan.accepted_any() {
            // Undoes a claimed row too.
            conn.rollback_in_place().await?;
            purse.extend(wallets);
            let after = Known {
                state: plan.after.clone(),
                version,
                clock: false,
                wallets: HashMap::new(),
            };
            return Ok(Attempt::Decided(Box::new(Decided {
                outcomes: outcomes_of(&plan, &[]),
                after,
                told: Vec::new(),
                announced: Vec::new(),
                uncommitted: false,
            })));
        }
        if !wallets::hold_if_unchanged(conn, &wallets, &plan.wallets).await? {
            if copied.is_empty() {
                // Every wallet was read under a lock: the books disagree
                // (a missing wallet row). Closing the connection rolls back.
                return Err(DbError::Invariant(format!(
                    "a wallet locked for auction {auction_id} was not as read"
                ))
                .into());
            }
            // A copy was out of date (another auction's bid, a payment):
            // plan again from locked reads.
            conn.rollback_in_place().await?;
            return Ok(Attempt::StaleWallets);
        }
        // The ledger lines, the bid rows and the notifications go with the
        // COMMIT (one round trip on MySQL), after everything that reads or
        // checks a row count.
        let (mut announced, rows) = announce(conn, &plan, commands).await?;
        for a in &mut announced {
            a.chat_id = auctions::insert_chat(
                conn,
                auction_id,
                Some((a.bid.bidder_id, &a.nickname)),
                "bid",
                &bid_text_ko(&a.nickname, &a.bid),
                Some(a.bid.amount),
            )
            .await?;
        }
        let written_version = match claimed {
            Some((_, hoped)) if hoped == plan.after => version + 1,
            // A bidder could not pay: the claimed row (locked, one version
            // on) is rewritten with the real outcome.
            Some(_) => {
                if !auctions::apply_bids(conn, auction_id, version + 1, &plan.after).await? {
                    return Err(DbError::Invariant(format!(
                        "auction {auction_id} changed under its row lock"
                    ))
                    .into());
                }
                version + 2
            }
            None => {
                if !auctions::apply_bids(conn, auction_id, version, &plan.after).await? {
                    conn.rollback_in_place().await?;
                    return Ok(Attempt::Raced);
                }
                version + 1
            }
        };
        wallets::log_moves_at_commit(conn, auction_id, &plan.moves)?;
        // A request's own bid carries its client key; a proxy's answer none.
        // No other writer can take these sequence numbers: the auction row
        // is locked.
        auctions::insert_bids_at_commit(conn, auction_id, &rows)?;
        // Each leader a request displaced for good is told (not the owner of a
        // maximum that took the lead straight back), and each maximum that
        // ran out of points, in this transaction.
        let told: Vec<_> = plan
            .outcomes
            .iter()
            .filter_map(|o| match o {
                Ok(Placed::Bid { bid, answer, .. }) => {
                    let last = answer.as_ref().unwrap_or(bid);
                    let (previous, _) = last.released?;
                    (previous != last.bidder_id)
                        .then(|| notices::outbid(previous, auction_id, last.seq, last.amount))
                }
                _ => None,
            })
            .chain(
                plan.exhausted
                    .iter()
                    .map(|e| notices::proxy_exhausted(e.user_id, auction_id, e.at_seq)),
            )
            .collect();
        notifications::store_at_commit(conn, &told)?;
        if commit_now {
            conn.commit_in_place().await?;
        }
        purse.extend(wallets);
        purse.extend(plan.wallets.iter().map(|(&id, &wallet)| (id, wallet)));
        let after = Known {
            state: plan.after.clone(),
            version: written_version,
            clock: false,
            wallets: HashMap::new(),
        };
        let own_chats: Vec<i64> = announced
            .iter()
            .filter(|a| a.own)
            .map(|a| a.chat_id)
            .collect();
        Ok(Attempt::Decided(Box::new(Decided {
            outcomes: outcomes_of(&plan, &own_chats),
            after,
            told: conn.take_told(),
            announced,
            uncommitted: !commit_now,
        })))
    }
}

/// Splits `batch` into the first request of each client key (and every
/// request that is no re-send) and the re-sends of a key seen earlier in
/// it, which wait for that one to be committed.
fn first_of_each_key(batch: Vec<Request>) -> (Vec<Request>, Vec<Request>) {
    // The usual batch has no re-send: nothing to track.
    if !batch.iter().any(|r| r.command.resend) {
        return (batch, Vec::new());
    }
    let mut seen = std::collections::HashSet::new();
    batch
        .into_iter()
        .partition(|r| match &r.command.client_ref {
            Some(key) => {
                let first = seen.insert((r.command.bidder_id, key.key.clone()));
                first || !r.command.resend
            }
            None => true,
        })
}

/// Each request's outcome; `chat_ids` are the room rows of the accepted
/// requests' own bids, in order.
fn outcomes_of(plan: &sitga_auction::BatchPlan, chat_ids: &[i64]) -> Vec<BidOutcome> {
    let mut chat_ids = chat_ids.iter();
    plan.outcomes
        .iter()
        .zip(&plan.seen)
        .map(|(outcome, seen)| match outcome {
            Ok(Placed::Bid { bid, answer, max }) => {
                let mut after = seen.clone();
                after.apply(bid);
                if let Some(answer) = answer {
                    after.apply(answer);
                }
                BidOutcome::Accepted {
                    bid: bid.clone(),
                    answer: answer.clone(),
                    max: *max,
                    after,
                    chat_id: chat_ids.next().copied().unwrap_or_default(),
                }
            }
            Ok(Placed::MaxRaised { max }) => {
                let mut after = seen.clone();
                after.leader_max = Some(*max);
                BidOutcome::MaxRaised { max: *max, after }
            }
            Err(reason) => BidOutcome::Rejected {
                reason: *reason,
                seen: seen.clone(),
            },
        })
        .collect()
}

/// Every bid of `plan` in order, with its bidder's nickname (the requests'
/// own from their commands, a proxy's answer from its owner's account: one
/// query, only when a proxy answered), and the rows to store (a request's
/// own bid carries its client key).
async fn announce<'c>(
    conn: &mut DbConn,
    plan: &sitga_auction::BatchPlan,
    commands: &[&'c BidCommand],
) -> Result<(Vec<Announced>, Vec<NewBid<'c>>), DbError> {
    let mut answering: Vec<UserId> = plan
        .outcomes
        .iter()
        .filter_map(|o| match o {
            Ok(Placed::Bid {
                answer: Some(a), ..
            }) => Some(a.bidder_id),
            _ => None,
        })
        .collect();
    answering.sort_unstable();
    answering.dedup();
    let names = users::nicknames(conn, &answering).await?;
    let mut announced = Vec::new();
    let mut rows = Vec::new();
    for (outcome, command) in plan.outcomes.iter().zip(commands) {
        let Ok(Placed::Bid { bid, answer, .. }) = outcome else {
            continue;
        };
        for (step, own) in [(Some(bid), true), (answer.as_ref(), false)] {
            let Some(step) = step else { continue };
            rows.push(NewBid {
                seq: step.seq,
                bidder_id: step.bidder_id,
                amount: step.amount,
                client_ref: command.client_ref.as_ref().filter(|_| own),
            });
            let nickname = if own {
                command.nickname.clone()
            } else {
                names.get(&step.bidder_id).cloned().unwrap_or_default()
            };
            announced.push(Announced {
                bid: step.clone(),
                nickname,
                chat_id: 0,
                own,
            });
        }
    }
    Ok((announced, rows))
}

/// Answers every request of a batch that failed with the batch's error.
fn answer_failed(requests: impl IntoIterator<Item = Request>, error: EngineError) {
    let shared = Arc::new(error);
    for request in requests {
        let _ = request.reply.send(Err(shared.clone()));
    }
}

/// A writer's connections: the one it keeps while bids keep coming, and on
/// MySQL a second, so that the next batch is decided on one while the last
/// batch's commit is in flight on the other.
#[derive(Default)]
struct Seats {
    session: Option<DbConn>,
    spare: Option<DbConn>,
}

impl Seats {
    /// Takes back the connection of a batch whose commit landed; when the
    /// commit failed, forgets the cached state (it may hold what was not
    /// committed).
    async fn settle(
        &mut self,
        auction_id: AuctionId,
        landed: Option<DbConn>,
        known: &mut Option<Known>,
    ) {
        match landed {
            None => *known = None,
            Some(conn) if self.session.is_none() => self.session = Some(conn),
            Some(conn) => release(auction_id, self.spare.replace(conn)).await,
        }
    }

    /// Gives both back to the pool.
    async fn release(&mut self, auction_id: AuctionId) {
        release(auction_id, self.session.take()).await;
        release(auction_id, self.spare.take()).await;
    }
}

/// Gives a writer's connection back to the pool.
async fn release(auction_id: AuctionId, session: Option<DbConn>) {
    if let Some(conn) = session
        && let Err(e) = conn.release().await
    {
        tracing::warn!(error = %e, auction_id = auction_id.get(), "bid writer connection not released cleanly");
    }
}

#[cfg(test)]
mod tests {
    use sitga_persistence::PoolOptions;
    use sitga_persistence::test_support::TestDatabase;

    use super::*;

    /// A seller lowers the start price before the first bid (here straight
    /// in the database, as another instance would): the writer's cached
    /// start price must not refuse a bid the new price allows.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_lowered_start_price_applies_at_once() {
        use sitga_persistence::test_support::{insert_auction, insert_member};
        use sitga_persistence::{auctions, wallets};

        let database = TestDatabase::create().await.unwrap();
        let db = database.pool().await.unwrap();
        let mut conn = db.get().await.unwrap();
        let seller = insert_member(&mut conn, "seller").await.unwrap();
        let bidder = insert_member(&mut conn, "bidder").await.unwrap();
        wallets::charge(&mut conn, bidder, Krw::new(200_000))
            .await
            .unwrap();
        let auction = insert_auction(&mut conn, seller, 100_000).await.unwrap();
        let engine = BidEngine::new(db.clone(), RoomBus::local());
        let bid =
            |amount: i64| BidCommand::plain(auction, bidder, "bidder".into(), Krw::new(amount));
        let first = engine.place(bid(50_000)).await.unwrap();
        assert!(matches!(first, BidOutcome::Rejected { .. }), "{first:?}");
        let lowered = auctions::DetailsChange {
            start_price: Some(Krw::new(30_000)),
            ..Default::default()
        };
        assert!(
            auctions::update_details(&mut conn, auction, seller, &lowered)
                .await
                .unwrap()
        );
        let second = engine.place(bid(50_000)).await.unwrap();
        assert!(matches!(second, BidOutcome::Accepted { .. }), "{second:?}");
    }

    /// A writer plans with its copies of the bidders' wallets; when one
    /// changed elsewhere (another auction's hold, a charge), the batch must
    /// come out as if it had been read under a lock.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_wallet_changed_elsewhere_is_read_again() {
        use sitga_persistence::test_support::{insert_auction, insert_member};
        use sitga_persistence::wallets;

        let database = TestDatabase::create().await.unwrap();
        let db = database.pool().await.unwrap();
        let mut conn = db.get().await.unwrap();
        let seller = insert_member(&mut conn, "seller").await.unwrap();
        let alice = insert_member(&mut conn, "alice").await.unwrap();
        let bob = insert_member(&mut conn, "bob").await.unwrap();
        wallets::charge(&mut conn, alice, Krw::new(100_000))
            .await
            .unwrap();
        wallets::charge(&mut conn, bob, Krw::new(50_000))
            .await
            .unwrap();
        let here = insert_auction(&mut conn, seller, 10_000).await.unwrap();
        let there = insert_auction(&mut conn, seller, 10_000).await.unwrap();
        let engine = BidEngine::new(db.clone(), RoomBus::local());
        let bid = |auction, bidder, name: &str, amount: i64| {
            BidCommand::plain(auction, bidder, name.into(), Krw::new(amount))
        };
        let accepted = |outcome: &BidOutcome| matches!(outcome, BidOutcome::Accepted { .. });

        // The writer of `here` now keeps copies of both wallets (bob's
        // released: 50,000 free).
        for (who, name, amount) in [(bob, "bob", 10_000), (alice, "alice", 11_000)] {
            let outcome = engine.place(bid(here, who, name, amount)).await.unwrap();
            assert!(accepted(&outcome), "{outcome:?}");
        }
        // Bob's points go to the other auction: 5,000 left free.
        let outcome = engine.place(bid(there, bob, "bob", 45_000)).await.unwrap();
        assert!(accepted(&outcome), "{outcome:?}");
        let outcome = engine.place(bid(here, bob, "bob", 12_000)).await.unwrap();
        assert!(
            matches!(
                outcome,
                BidOutcome::Rejected {
                    reason: BidRejection::InsufficientBalance { .. },
                    ..
                }
            ),
            "planned on the copy: {outcome:?}"
        );
        assert_eq!(
            wallets::get(&mut conn, bob).await.unwrap().held.get(),
            45_000
        );
        assert_eq!(
            wallets::get(&mut conn, alice).await.unwrap().held.get(),
            11_000
        );

        // Topped up: the copy (5,000 free) would refuse, the wallet pays.
        wallets::charge(&mut conn, bob, Krw::new(10_000))
            .await
            .unwrap();
        let outcome = engine.place(bid(here, bob, "bob", 12_000)).await.unwrap();
        assert!(accepted(&outcome), "{outcome:?}");
        assert_eq!(
            wallets::get(&mut conn, bob).await.unwrap().held.get(),
            57_000
        );
        assert_eq!(wallets::get(&mut conn, alice).await.unwrap().held.get(), 0);
        let ledger = wallets::ledger(&mut conn, bob, 0, 10).await.unwrap().0;
        let last = ledger.first().unwrap();
        assert_eq!((last.amount.get(), last.held_after.get()), (12_000, 57_000));
    }

    /// Bidders racing one auction, each bidding the least that leads as
    /// soon as it is answered: on MySQL the writer decides batches while the
    /// previous batch's commit is in flight. The books must come out as if
    /// every batch had been committed before the next was decided.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn batches_decided_during_a_commit_keep_the_books() {
        let engine = race_one_auction().await;
        if engine.db.backend() == "mysql" {
            assert!(
                engine.overlapped_batches() > 0,
                "no batch overlapped a commit"
            );
        }
    }

    /// Bids keep coming while the writer commits, and its pool has one
    /// connection: the writer must wait for its own commit rather than for
    /// a second connection (which would time out every bid of the batch).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_writer_without_a_spare_connection_waits_for_its_commit() {
        use sitga_persistence::auctions;

        let database = TestDatabase::create().await.unwrap();
        let db = database.pool().await.unwrap();
        let mut conn = db.get().await.unwrap();
        let (auction, bidders) = auction_with_bidders(&mut conn, 12, 10_000_000).await;
        let one = PoolOptions {
            max_size: 1,
            wait_timeout: Duration::from_secs(1),
            ..PoolOptions::default()
        };
        let engine = BidEngine::new(database.pool_with(one).await.unwrap(), RoomBus::local());
        let mut bids = tokio::task::JoinSet::new();
        for i in 0..120_i64 {
            let (id, name) = bidders[i as usize % bidders.len()].clone();
            let engine = engine.clone();
            let amount = Krw::new(10_000 + 1_000 * i);
            bids.spawn(async move {
                engine
                    .place(BidCommand::plain(auction, id, name, amount))
                    .await
            });
            tokio::time::sleep(Duration::from_micros(300)).await;
        }
        let mut accepted = 0;
        while let Some(done) = bids.join_next().await {
            match done.unwrap() {
                Ok(BidOutcome::Accepted { .. }) => accepted += 1,
                Ok(_) => {}
                Err(e) => panic!("a bid waited for a second connection: {e}"),
            }
        }
        let stored = auctions::bids_of(&mut conn, auction, 0, 1_000)
            .await
            .unwrap();
        assert!(accepted > 0);
        assert_eq!(stored.len(), accepted);
    }

    /// An open auction from 10,000 and `count` bidders with `charged`
    /// points each.
    async fn auction_with_bidders(
        conn: &mut DbConn,
        count: usize,
        charged: i64,
    ) -> (AuctionId, Vec<(UserId, String)>) {
        use sitga_persistence::test_support::{insert_auction, insert_member};

        let seller = insert_member(conn, "seller").await.unwrap();
        let auction = insert_auction(conn, seller, 10_000).await.unwrap();
        let mut bidders = Vec::new();
        for i in 0..count {
            let name = format!("bidder{i}");
            let id = insert_member(conn, &name).await.unwrap();
            wallets::charge(conn, id, Krw::new(charged)).await.unwrap();
            bidders.push((id, name));
        }
        (auction, bidders)
    }

    /// Twelve bidders race one auction; checks the books and returns the
    /// engine.
    async fn race_one_auction() -> BidEngine {
        use sitga_persistence::{auctions, wallets};

        const BIDDERS: usize = 12;
        const CHARGED: i64 = 10_000_000;
        let database = TestDatabase::create().await.unwrap();
        let db = database.pool().await.unwrap();
        let mut conn = db.get().await.unwrap();
        let (auction, bidders) = auction_with_bidders(&mut conn, BIDDERS, CHARGED).await;
        let engine = BidEngine::new(db.clone(), RoomBus::local());
        let mut tasks = tokio::task::JoinSet::new();
        for (id, name) in bidders.clone() {
            let engine = engine.clone();
            tasks.spawn(async move {
                let mut next = Krw::new(10_000);
                let mut accepted = Vec::new();
                for _ in 0..60 {
                    let command = BidCommand::plain(auction, id, name.clone(), next);
                    match engine.place(command).await.unwrap() {
                        BidOutcome::Accepted { bid, after, .. } => {
                            accepted.push(bid.amount);
                            next = sitga_auction::min_next_bid(&after);
                        }
                        BidOutcome::Rejected { reason, seen } => {
                            next = match reason {
                                BidRejection::TooLow { min_next_bid } => min_next_bid,
                                _ => sitga_auction::min_next_bid(&seen),
                            };
                            if matches!(reason, BidRejection::AlreadyLeading) {
                                tokio::task::yield_now().await;
                            }
                        }
                        other => panic!("{other:?}"),
                    }
                }
                accepted
            });
        }
        let mut acknowledged: Vec<Krw> = Vec::new();
        while let Some(done) = tasks.join_next().await {
            acknowledged.extend(done.unwrap());
        }
        acknowledged.sort();

        let row = auctions::find(&mut conn, auction).await.unwrap().unwrap();
        let stored = auctions::bids_of(&mut conn, auction, 0, 10_000)
            .await
            .unwrap();
        let seqs: Vec<i64> = stored.iter().rev().map(|b| b.seq).collect();
        assert_eq!(seqs, (1..=stored.len() as i64).collect::<Vec<_>>());
        let mut amounts: Vec<Krw> = stored.iter().rev().map(|b| b.amount).collect();
        assert!(amounts.windows(2).all(|w| w[0] < w[1]), "{amounts:?}");
        // Every acknowledged bid is stored, and nothing else.
        amounts.sort();
        assert_eq!(amounts, acknowledged);
        assert_eq!(row.bid_count, stored.len() as i64);
        let (leader, price) = (row.leader_id.unwrap(), row.current_price.unwrap());
        assert_eq!(price, stored[0].amount);
        // The leader's hold is the price; everyone else's was released, and
        // no point was made or lost.
        let mut total = 0;
        for (id, _) in &bidders {
            let wallet = wallets::get(&mut conn, *id).await.unwrap();
            let held = if *id == leader { price.get() } else { 0 };
            assert_eq!(wallet.held.get(), held, "{id}");
            total += wallet.balance.get();
        }
        assert_eq!(total, CHARGED * BIDDERS as i64);
        engine
    }

    /// A bid on an auction that does not exist is answered `NotFound`
    /// without closing a pooled connection, and leaves no writer behind.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_bid_on_no_auction_keeps_the_pool_and_no_writer() {
        let database = TestDatabase::create().await.unwrap();
        let db = database.pool().await.unwrap();
        db.ping().await.unwrap();
        let engine = BidEngine::new(db.clone(), RoomBus::local());
        for _ in 0..3 {
            let outcome = engine
                .place(BidCommand::plain(
                    AuctionId::new(987_654),
                    UserId::new(1),
                    "nobody".into(),
                    Krw::new(10_000),
                ))
                .await;
            assert!(matches!(outcome, Err(EngineError::NotFound)), "{outcome:?}");
        }
        // A retired writer gives its connection back right after leaving
        // the map (one more round trip on MySQL).
        for _ in 0..100 {
            let pool = db.status();
            if engine.active_writers() == 0 && pool.available == pool.size {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(engine.active_writers(), 0, "the writer retired at once");
        // A connection dropped mid-transaction is closed and leaves the
        // pool; these were given back (a retiring writer may still hold
        // one while the next bid's writer opens another).
        let after = db.status();
        assert!(after.size >= 1, "{after:?}");
        assert_eq!(after.available, after.size, "{after:?}");
    }
}
