//! Room fan-out: every frame broadcast to an auction room goes through the
//! [`RoomBus`], which numbers it (`seq`, increasing per room) and delivers it
//! to every socket in the room on every instance.
//!
//! - Embedded mode: an in-process counter and broadcast channel per room.
//! - With Redis: `INCR auction:{id}:seq` numbers the frame (the same
//!   sequence on every instance), `PUBLISH auction:{id}` carries it, and each
//!   instance's subscriber relays it to its own sockets. If Redis is down a
//!   frame is still delivered to this instance's sockets (numbered locally,
//!   after the highest `seq` this instance has seen) so a room keeps
//!   working; clients resync on a `seq` gap. Redis keeps nothing on disk:
//!   each publish raises a lost counter past what the publishing instance
//!   has seen, and a relay raises every room's counter past what its
//!   instance has seen before it listens again. A relayed frame still
//!   numbered at or behind what an instance delivered (another instance's
//!   counter was behind) is dropped there and the counter raised, so `seq`
//!   never goes backwards or repeats for a room's watchers.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, OnceLock};

use bytes::Bytes;

use chrono::Utc;
use deadpool_redis::redis::AsyncCommands;
use futures_util::StreamExt;
use tokio::sync::broadcast;

use sitga_core::{AuctionId, UserId};
use sitga_persistence::notifications::NoticeKey;
use tokio::sync::mpsc;

use crate::frames::{self, ServerFrame};

/// Why Redis could not number, publish, store or relay a frame (the caller
/// falls back to local delivery; nothing here is fatal).
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    /// No pooled Redis connection.
    #[error("redis pool: {0}")]
    Pool(#[from] deadpool_redis::PoolError),
    /// A Redis command failed.
    #[error("redis: {0}")]
    Redis(#[from] deadpool_redis::redis::RedisError),
    /// A history item could not be encoded.
    #[error("encoding a history item: {0}")]
    Encode(#[from] serde_json::Error),
    /// The relay's subscription ended (Redis closed it).
    #[error("subscription ended")]
    SubscriptionEnded,
}

/// Sessions that just ended, told to every instance: their access tokens
/// stop working and their sockets close.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Revocation {
    /// One login session (a refresh-token family) ended: logout, or a
    /// reused refresh token.
    Session(String),
    /// Some of a user's sessions ended (password change, role change): each
    /// of that user's sessions must be checked again.
    User(sitga_core::UserId),
}

/// Revocations a slow listener may fall behind by (it then re-checks
/// everything it holds, see [`RoomBus::revocations`]).
const REVOCATION_BUFFER: usize = 1_024;

/// Room items (frames sent together count as one) a slow socket may fall
/// behind by before it is disconnected.
pub const ROOM_BUFFER: usize = 256;

/// Notifications a user's socket may fall behind by (then it is cut, like
/// a slow room reader; the stored list has them all).
pub const USER_BUFFER: usize = 64;

/// Batches of stored events waiting for live delivery before new ones are
/// only stored (read later from the list), not sent.
const STORED_QUEUE: usize = 4_096;

/// Stored events read back per query by the notifier.
const READ_BACK_CHUNK: usize = 500;

/// Numbered room frames published together (a bid's line and the state
/// after it), serialized once and shared by every socket: one broadcast
/// item, one wake-up and one write per watcher for all of them.
#[derive(Debug, Clone)]
pub struct RoomFrame {
    /// The room (the auction's).
    pub room: AuctionId,
    /// Position in the room's sequence of the last frame held; the frames
    /// before it are numbered consecutively up to it.
    pub seq: i64,
    /// The complete JSON text of each frame sent to clients, in `seq` order.
    texts: Arc<[String]>,
    /// The frames as a gateway writes them (its framing is the gateway's
    /// business): made by the first socket that sends them, shared by the
    /// rest of the room.
    wire: Arc<OnceLock<Bytes>>,
}

impl RoomFrame {
    /// One frame of `room` at position `seq`.
    pub fn new(room: AuctionId, seq: i64, json: impl Into<String>) -> Self {
        Self::together(room, seq, vec![json.into()])
    }

    /// Frames of `room` numbered consecutively up to `last_seq`.
    pub fn together(room: AuctionId, last_seq: i64, texts: Vec<String>) -> Self {
        Self {
            room,
            seq: last_seq,
            texts: texts.into(),
            wire: Arc::default(),
        }
    }

    /// The JSON text of each frame, in order.
    pub fn texts(&self) -> &[String] {
        &self.texts
    }

    /// The frames as written to a socket, one after the other: `encode`
    /// runs once per frame, whatever the number of sockets in the room.
    pub fn wire(&self, encode: impl Fn(&str) -> Bytes) -> Bytes {
        self.wire
            .get_or_init(|| match &*self.texts {
                [one] => encode(one),
                many => {
                    let mut all = bytes::BytesMut::new();
                    for text in many {
                        all.extend_from_slice(&encode(text));
                    }
                    all.freeze()
                }
            })
            .clone()
    }
}

/// The `seq` a relayed frame's text starts with (`{"seq":N,`, as
/// [`PUBLISH_NEXT`] writes it).
fn seq_of(text: &str) -> Option<i64> {
    let digits = text.strip_prefix(r#"{"seq":"#)?;
    let end = digits.find(',')?;
    digits[..end].parse().ok()
}

struct Inner {
    rooms: Mutex<HashMap<AuctionId, broadcast::Sender<RoomFrame>>>,
    /// Per room: the highest `seq` this instance delivered or numbered.
    last_seq: Mutex<HashMap<AuctionId, i64>>,
    recent: Mutex<HashMap<AuctionId, VecDeque<HistoryItem>>>,
    redis: Option<deadpool_redis::Pool>,
    /// Whether this instance's relay is subscribed right now. While it is
    /// not (Redis just came back, the relay reconnects within a second),
    /// frames published through Redis would reach no socket here, so this
    /// instance delivers its own frames itself.
    relay_live: std::sync::atomic::AtomicBool,
    /// Prepended to every Redis key and channel, so that several
    /// deployments (or test runs) can share one Redis.
    prefix: String,
    revocations: broadcast::Sender<Revocation>,
    /// Per user: this instance's sockets of that user (notifications).
    users: Mutex<HashMap<UserId, broadcast::Sender<Arc<str>>>>,
    /// Events whose stored notifications wait to be sent live (see
    /// [`RoomBus::spawn_notifier`]).
    stored_tx: mpsc::Sender<Vec<NoticeKey>>,
    stored_rx: Mutex<Option<mpsc::Receiver<Vec<NoticeKey>>>>,
    /// Whether a notifier task takes from `stored_rx` (a bus without one,
    /// in a bench or an example, only stores).
    notifier_live: std::sync::atomic::AtomicBool,
    /// Raised by every room frame this instance sends or relays and by every
    /// [`RoomBus::listings_changed`] of any instance: a read of auction
    /// lists made at one version is stale once it moves.
    listings: std::sync::atomic::AtomicU64,
}

/// Messages kept per room in the fast history (Redis stream or memory);
/// older ones come from the database.
pub const RECENT_PER_ROOM: usize = 1_000;

/// Rooms without a socket on this instance whose in-memory history and
/// sequence number are kept before [`RoomBus::prune`] forgets them.
pub const IDLE_ROOMS_KEPT: usize = 1_000;

/// One line of room history, as `getmessage` returns it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HistoryItem {
    /// Database id: the cursor for `before`.
    pub id: i64,
    /// Author's nickname (none for notices).
    pub user: Option<String>,
    /// `chat`, `bid_accepted` or `notice`.
    pub code: String,
    /// The text.
    pub context: String,
    /// Bid amount.
    pub amount: Option<sitga_core::Krw>,
    /// When (ms since the epoch).
    pub at: i64,
}

/// Cross-instance room fan-out. Cheap to clone.
#[derive(Clone)]
pub struct RoomBus {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for RoomBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoomBus")
            .field("redis", &self.inner.redis.is_some())
            .finish()
    }
}

impl Inner {
    fn key(&self, suffix: &str) -> String {
        format!("{}{suffix}", self.prefix)
    }
}

/// The JSON text of a room frame after its `"seq"` (the envelope and the
/// frame's fields), without the opening brace: the Redis script puts
/// `{"seq":N,` in front of it.
fn encode_after_seq(frame: &ServerFrame, room: AuctionId) -> String {
    let text = frames::encode(frame, Some(room.to_string()), None, Utc::now());
    match text.strip_prefix('{') {
        Some(rest) => rest.to_owned(),
        None => text,
    }
}

/// `frames` encoded whole, numbered consecutively up to `last`.
fn numbered(room: AuctionId, last: i64, frames: &[ServerFrame]) -> RoomFrame {
    let first = last - frames.len() as i64 + 1;
    let now = Utc::now();
    let texts = (first..)
        .zip(frames)
        .map(|(seq, frame)| frames::encode(frame, Some(room.to_string()), Some(seq), now))
        .collect();
    RoomFrame::together(room, last, texts)
}

impl RoomBus {
    /// A bus for one process.
    pub fn local() -> Self {
        Self::with_redis(None, String::new())
    }

    /// A bus shared through Redis (`None`: one process). `prefix` is put in
    /// front of every key and channel (`{prefix}auction:{id}`).
    pub fn with_redis(redis: Option<deadpool_redis::Pool>, prefix: String) -> Self {
        let (stored_tx, stored_rx) = mpsc::channel(STORED_QUEUE);
        Self {
            inner: Arc::new(Inner {
                rooms: Mutex::new(HashMap::new()),
                last_seq: Mutex::new(HashMap::new()),
                recent: Mutex::new(HashMap::new()),
                redis,
                relay_live: std::sync::atomic::AtomicBool::new(false),
                revocations: broadcast::channel(REVOCATION_BUFFER).0,
                users: Mutex::new(HashMap::new()),
                stored_tx,
                stored_rx: Mutex::new(Some(stored_rx)),
                notifier_live: std::sync::atomic::AtomicBool::new(false),
                listings: std::sync::atomic::AtomicU64::new(0),
                prefix,
            }),
        }
    }

    /// Receives this room's frames from now on.
    pub fn subscribe(&self, room: AuctionId) -> broadcast::Receiver<RoomFrame> {
        let mut rooms = self.inner.rooms.lock().unwrap_or_else(|p| p.into_inner());
        rooms
            .entry(room)
            .or_insert_with(|| broadcast::channel(ROOM_BUFFER).0)
            .subscribe()
    }

    /// Where auction lists stand: it moves with every room frame (bids,
    /// closes, clock steps, starts, edits) on any instance, and with
    /// [`RoomBus::listings_changed`]. Read it before reading the database;
    /// what was read is current while it has not moved.
    pub fn listings_version(&self) -> u64 {
        self.inner.listings.load(Ordering::Acquire)
    }

    fn bump_listings(&self) {
        self.inner.listings.fetch_add(1, Ordering::AcqRel);
    }

    /// Tells every instance that auction lists changed without a room frame
    /// (a new auction, a nickname): here at once, the others through Redis
    /// (`PUBLISH {prefix}listings`). Call it after the commit.
    pub async fn listings_changed(&self) {
        self.bump_listings();
        let Some(redis) = &self.inner.redis else {
            return;
        };
        let published = async {
            let mut conn = redis.get().await?;
            let _: i64 = conn.publish(self.inner.key("listings"), "").await?;
            Ok::<_, BusError>(())
        }
        .await;
        if let Err(e) = published {
            tracing::warn!(error = %e, "could not tell other instances that auction lists changed");
        }
    }

    /// Delivers frames numbered elsewhere (by Redis: relayed, or published
    /// by this instance while its relay is away) to this instance's sockets
    /// in `room`, unless this instance already delivered a `seq` at or past
    /// the first of them: then they are dropped (`false`), so `seq` never
    /// goes backwards or repeats for a watcher here. That happens when
    /// instances numbered frames apart (Redis was away) and another's
    /// counter is behind this one's, or when the relay brings back a frame
    /// this instance delivered itself while the relay was subscribing.
    /// Watchers miss the frames, as during the outage, and notice it by the
    /// next `state`'s `bid_count`.
    fn deliver_numbered(&self, frame: &RoomFrame) -> bool {
        self.bump_listings();
        let first = frame.seq - frame.texts.len() as i64 + 1;
        // Checked, recorded and sent under one lock: two frames of a room
        // delivered at once reach the room's channel in `seq` order.
        let mut seqs = self.seqs();
        let last = seqs.entry(frame.room).or_insert(0);
        if first <= *last {
            return false;
        }
        *last = frame.seq;
        self.send_here(frame);
        true
    }

    /// Numbers `frames` here, after the highest `seq` this instance has
    /// seen, and delivers them to this instance's sockets.
    fn deliver_numbered_here(&self, room: AuctionId, frames: &[ServerFrame]) {
        self.bump_listings();
        let mut seqs = self.seqs();
        let last = seqs.entry(room).or_insert(0);
        *last += frames.len() as i64;
        self.send_here(&numbered(room, *last, frames));
    }

    /// Sends to the room's channel on this instance (the caller holds the
    /// `last_seq` lock, which orders the room's frames).
    fn send_here(&self, frame: &RoomFrame) {
        let mut rooms = self.inner.rooms.lock().unwrap_or_else(|p| p.into_inner());
        // No receivers left: forget the room.
        if rooms
            .get(&frame.room)
            .is_some_and(|sender| sender.send(frame.clone()).is_err())
        {
            rooms.remove(&frame.room);
        }
    }

    /// The highest `seq` delivered or numbered here, per room. Held while a
    /// room's frames are checked, numbered and sent, which orders them.
    fn seqs(&self) -> std::sync::MutexGuard<'_, HashMap<AuctionId, i64>> {
        self.inner
            .last_seq
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    fn last_seq(&self, room: AuctionId) -> i64 {
        let seqs = self.seqs();
        seqs.get(&room).copied().unwrap_or(0)
    }

    /// Every room's highest `seq` delivered or numbered here.
    fn seqs_here(&self) -> Vec<(AuctionId, i64)> {
        let seqs = self.seqs();
        seqs.iter().map(|(room, seq)| (*room, *seq)).collect()
    }

    /// Raises `room`'s Redis counter to this instance's highest `seq`, in
    /// the background: a frame relayed from another instance came numbered
    /// behind it, so the next ones must not.
    fn raise_counter_later(&self, room: AuctionId) {
        let Some(redis) = self.inner.redis.clone() else {
            return;
        };
        let bus = self.clone();
        let floor = self.last_seq(room);
        tracing::info!(
            room = room.get(),
            seq = floor,
            "a relayed frame was numbered behind this instance; dropped, raising the room's counter"
        );
        tokio::spawn(async move {
            if let Err(e) = raise_counters(&bus.inner, &redis, &[(room, floor)]).await {
                tracing::warn!(room = room.get(), error = %e, "could not raise the room's counter");
            }
        });
    }

    /// Numbers and broadcasts a frame to the whole room (all instances).
    pub async fn publish(&self, room: AuctionId, frame: &ServerFrame) {
        self.publish_all(room, std::slice::from_ref(frame)).await;
    }

    /// Numbers `frames` consecutively and broadcasts them to the whole room
    /// (all instances) as one item: every watcher gets them in one write,
    /// and with Redis they cost one round trip.
    pub async fn publish_all(&self, room: AuctionId, frames: &[ServerFrame]) {
        if frames.is_empty() {
            return;
        }
        if let Some(redis) = &self.inner.redis {
            let floor = self.last_seq(room);
            match publish_redis(&self.inner, redis, room, floor, frames).await {
                Ok(last) => {
                    // The relay brings it back later; this instance's next
                    // list read must already see what was committed.
                    self.bump_listings();
                    if !self.inner.relay_live.load(Ordering::Acquire) {
                        self.deliver_numbered(&numbered(room, last, frames));
                    }
                    return;
                }
                Err(e) => {
                    tracing::warn!(room = room.get(), error = %e, "redis publish failed; delivering locally only")
                }
            }
        }
        self.deliver_numbered_here(room, frames);
    }

    /// Keeps a message in the room's recent history (a bounded Redis stream
    /// `chat:{id}` in production, a ring buffer in embedded mode). The
    /// database row written before this call is the durable copy.
    pub async fn remember(&self, room: AuctionId, item: &HistoryItem) {
        self.remember_all(room, std::slice::from_ref(item)).await;
    }

    /// Keeps `items` in the room's recent history, in order (with Redis,
    /// one round trip for all).
    pub async fn remember_all(&self, room: AuctionId, items: &[HistoryItem]) {
        if items.is_empty() {
            return;
        }
        if let Some(redis) = &self.inner.redis {
            if let Err(e) = remember_redis(&self.inner, redis, room, items).await {
                tracing::warn!(room = room.get(), error = %e, "redis history append failed");
            }
            return;
        }
        let mut recent = self.inner.recent.lock().unwrap_or_else(|p| p.into_inner());
        let buffer = recent.entry(room).or_default();
        buffer.extend(items.iter().cloned());
        while buffer.len() > RECENT_PER_ROOM {
            buffer.pop_front();
        }
    }

    /// The latest `limit` messages, oldest first, if the fast history has
    /// any (`None`: ask the database).
    pub async fn recent(&self, room: AuctionId, limit: usize) -> Option<Vec<HistoryItem>> {
        if let Some(redis) = &self.inner.redis {
            return match recent_redis(&self.inner, redis, room, limit).await {
                Ok(items) if !items.is_empty() => Some(items),
                Ok(_) => None,
                Err(e) => {
                    tracing::warn!(room = room.get(), error = %e, "redis history read failed; using the database");
                    None
                }
            };
        }
        let recent = self.inner.recent.lock().unwrap_or_else(|p| p.into_inner());
        let buffer = recent.get(&room).filter(|b| !b.is_empty())?;
        let skip = buffer.len().saturating_sub(limit);
        Some(buffer.iter().skip(skip).cloned().collect())
    }

    /// Receives the notifications for `user` from now on (every instance's).
    pub fn subscribe_user(&self, user: UserId) -> broadcast::Receiver<Arc<str>> {
        let mut users = self.inner.users.lock().unwrap_or_else(|p| p.into_inner());
        users
            .entry(user)
            .or_insert_with(|| broadcast::channel(USER_BUFFER).0)
            .subscribe()
    }

    /// Delivers to this instance's sockets of `user`.
    fn deliver_user_local(&self, user: UserId, json: Arc<str>) {
        let mut users = self.inner.users.lock().unwrap_or_else(|p| p.into_inner());
        // No socket of that user left here: forget the channel.
        if users
            .get(&user)
            .is_some_and(|sender| sender.send(json).is_err())
        {
            users.remove(&user);
        }
    }

    /// Sends a frame (complete JSON) to every socket of `user`, on every
    /// instance: `PUBLISH {prefix}user:{id}` with Redis, here at once
    /// without (or when Redis fails, to this instance's sockets only).
    pub async fn tell(&self, user: UserId, json: String) {
        if let Some(redis) = &self.inner.redis {
            let published = async {
                let mut conn = redis.get().await?;
                let _: i64 = conn
                    .publish(self.inner.key(&format!("user:{user}")), &json)
                    .await?;
                Ok::<_, BusError>(())
            }
            .await;
            match published {
                Ok(()) if self.inner.relay_live.load(Ordering::Acquire) => return,
                Ok(()) => {}
                Err(e) => {
                    tracing::warn!(user_id = user.get(), error = %e, "redis publish of a notification failed; delivering locally only")
                }
            }
        }
        self.deliver_user_local(user, json.into());
    }

    /// After the commit that stored them: the notifications of `events`
    /// (user, event key) go out live. Never waits: a background task reads
    /// them back and sends them ([`RoomBus::spawn_notifier`]); when it is
    /// far behind they are only stored.
    pub fn stored(&self, events: Vec<NoticeKey>) {
        if events.is_empty() || !self.inner.notifier_live.load(Ordering::Acquire) {
            return;
        }
        if self.inner.stored_tx.try_send(events).is_err() {
            tracing::warn!("notification delivery is behind; these are stored, not sent live");
        }
    }

    /// Starts the task that sends stored notifications live (once per bus;
    /// `None` when it runs already): it takes every batch waiting, reads
    /// them back in one query (so a kind the user turned off, never stored,
    /// is never sent) and tells each user.
    pub fn spawn_notifier(
        &self,
        db: sitga_persistence::DbPool,
    ) -> Option<tokio::task::JoinHandle<()>> {
        let mut rx = self
            .inner
            .stored_rx
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()?;
        self.inner.notifier_live.store(true, Ordering::Release);
        let bus = self.clone();
        Some(tokio::spawn(async move {
            let mut events = Vec::new();
            while let Some(first) = rx.recv().await {
                events.clear();
                events.extend(first);
                while events.len() < 1_000 {
                    match rx.try_recv() {
                        Ok(more) => events.extend(more),
                        Err(_) => break,
                    }
                }
                // A few hundred keys per query keep it well under every
                // backend's limit on bound values.
                let rows = async {
                    let mut conn = db.get().await?;
                    let mut rows = Vec::with_capacity(events.len());
                    for chunk in events.chunks(READ_BACK_CHUNK) {
                        rows.extend(
                            sitga_persistence::notifications::of_events(&mut conn, chunk).await?,
                        );
                    }
                    Ok::<_, sitga_persistence::DbError>(rows)
                }
                .await;
                match rows {
                    Ok(rows) => {
                        for row in rows {
                            let json = frames::encode(
                                &ServerFrame::notification(&row),
                                None,
                                None,
                                Utc::now(),
                            );
                            bus.tell(row.user_id, json).await;
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, count = events.len(), "could not read notifications back; they are stored, not sent live")
                    }
                }
            }
        }))
    }

    /// Ends `revocation`'s sessions on every instance: delivered here at
    /// once, and through Redis to the others.
    pub async fn revoke(&self, revocation: Revocation) {
        let _ = self.inner.revocations.send(revocation.clone());
        let Some(redis) = &self.inner.redis else {
            return;
        };
        let published = async {
            let payload = serde_json::to_string(&revocation)?;
            let mut conn = redis.get().await?;
            let _: i64 = conn.publish(self.inner.key("revocations"), payload).await?;
            Ok::<_, BusError>(())
        }
        .await;
        if let Err(e) = published {
            tracing::warn!(error = %e, "could not tell other instances about a revocation");
        }
    }

    /// Revocations from now on (this instance's and, through Redis, every
    /// other's).
    pub fn revocations(&self) -> broadcast::Receiver<Revocation> {
        self.inner.revocations.subscribe()
    }

    /// Drops a closed room's in-memory history (embedded mode): nothing new
    /// is said there, and the database answers history requests.
    pub fn forget_history(&self, room: AuctionId) {
        self.inner
            .recent
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&room);
    }

    /// Bounds the per-room memory of embedded mode: once more than
    /// [`IDLE_ROOMS_KEPT`] rooms without a socket here are remembered, their
    /// history buffers (the database has every line) and sequence numbers
    /// are forgotten. A room nobody watches may so restart its numbering,
    /// which a client that joins later cannot notice. Returns how many rooms
    /// were forgotten.
    pub fn prune(&self) -> usize {
        self.prune_idle(IDLE_ROOMS_KEPT)
    }

    fn prune_idle(&self, keep: usize) -> usize {
        self.inner
            .users
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|_, sender| sender.receiver_count() > 0);
        let watched: std::collections::HashSet<AuctionId> = {
            let mut rooms = self.inner.rooms.lock().unwrap_or_else(|p| p.into_inner());
            rooms.retain(|_, sender| sender.receiver_count() > 0);
            rooms.keys().copied().collect()
        };
        let mut seqs = self.seqs();
        let mut recent = self.inner.recent.lock().unwrap_or_else(|p| p.into_inner());
        let idle: std::collections::HashSet<AuctionId> = seqs
            .keys()
            .chain(recent.keys())
            .filter(|room| !watched.contains(room))
            .copied()
            .collect();
        if idle.len() <= keep {
            return 0;
        }
        seqs.retain(|room, _| !idle.contains(room));
        recent.retain(|room, _| !idle.contains(room));
        idle.len()
    }

    /// Starts relaying frames published by any instance to this instance's
    /// sockets (Redis mode only); reconnects until the task is aborted.
    pub fn spawn_relay(
        &self,
        client: deadpool_redis::redis::Client,
    ) -> Option<tokio::task::JoinHandle<()>> {
        self.inner.redis.as_ref()?;
        let bus = self.clone();
        Some(tokio::spawn(async move {
            loop {
                if let Err(e) = bus.relay_once(&client).await {
                    tracing::warn!(error = %e, "redis room relay lost; reconnecting in 1 s");
                }
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
        }))
    }

    async fn relay_once(&self, client: &deadpool_redis::redis::Client) -> Result<(), BusError> {
        // Frames numbered here while Redis was away are past its counter
        // (which Redis may have lost): raise it first, so that what other
        // instances publish once this relay listens follows what this
        // instance's watchers have seen.
        if let Some(redis) = &self.inner.redis {
            raise_counters(&self.inner, redis, &self.seqs_here()).await?;
        }
        // A dedicated connection: pub/sub never uses the pool.
        let mut pubsub = client.get_async_pubsub().await?;
        pubsub.psubscribe(self.inner.key("auction:*")).await?;
        pubsub.psubscribe(self.inner.key("user:*")).await?;
        let user_prefix = self.inner.key("user:");
        let revocations = self.inner.key("revocations");
        pubsub.subscribe(&revocations).await?;
        let listings = self.inner.key("listings");
        pubsub.subscribe(&listings).await?;
        let mut messages = pubsub.on_message();
        let _live = RelayLive::set(&self.inner.relay_live);
        // Whatever changed while this instance was not subscribed was missed.
        self.bump_listings();
        while let Some(message) = messages.next().await {
            let payload: String = match message.get_payload() {
                Ok(p) => p,
                Err(e) => {
                    tracing::warn!(error = %e, "unreadable room frame");
                    continue;
                }
            };
            if message.get_channel_name() == listings {
                self.bump_listings();
                continue;
            }
            if message.get_channel_name() == revocations {
                // Our own revocations come back too: acting twice is harmless.
                match serde_json::from_str::<Revocation>(&payload) {
                    Ok(revocation) => {
                        let _ = self.inner.revocations.send(revocation);
                    }
                    Err(e) => tracing::warn!(error = %e, "unreadable revocation"),
                }
                continue;
            }
            if let Some(user) = message
                .get_channel_name()
                .strip_prefix(&user_prefix)
                .and_then(|u| u.parse::<i64>().ok())
            {
                self.deliver_user_local(UserId::new(user), payload.into());
                continue;
            }
            let Some(room) = message
                .get_channel_name()
                .strip_prefix(&self.inner.key("auction:"))
                .and_then(|r| r.parse::<AuctionId>().ok())
            else {
                continue;
            };
            // Frames published together arrive as one message, a line each
            // (a JSON text has no raw line break).
            let texts: Vec<String> = payload.split('\n').map(str::to_owned).collect();
            let seq = texts.last().and_then(|t| seq_of(t)).unwrap_or(0);
            if !self.deliver_numbered(&RoomFrame::together(room, seq, texts)) {
                self.raise_counter_later(room);
            }
        }
        Err(BusError::SubscriptionEnded)
    }
}

/// Numbers and publishes frames in one atomic step, so frames reach every
/// instance in `seq` order even when several instances publish at once.
/// Raises the room's counter by the number of frames (`#ARGV - 1`), past
/// `ARGV[1]` (the highest `seq` the caller has seen) when it is behind, i.e.
/// after Redis lost its data; `ARGV[2..]` are the frames' JSON after
/// `"seq"`. They go out as one message, a line each; returns the last `seq`.
const PUBLISH_NEXT: &str = r#"
local count = #ARGV - 1
local last = redis.call('INCRBY', KEYS[1], count)
local floor = tonumber(ARGV[1])
if last - count < floor then
  last = floor + count
  redis.call('SET', KEYS[1], last)
end
local lines = {}
for i = 1, count do
  lines[i] = '{"seq":' .. string.format('%d', last - count + i) .. ',' .. ARGV[i + 1]
end
redis.call('PUBLISH', KEYS[2], table.concat(lines, '\n'))
return last
"#;

/// Raises each room's counter (`KEYS[i]`) to at least `ARGV[i]`, never
/// lowering it.
const RAISE_TO: &str = r#"
for i, key in ipairs(KEYS) do
  local floor = tonumber(ARGV[i])
  if (tonumber(redis.call('GET', key)) or 0) < floor then
    redis.call('SET', key, floor)
  end
end
return 0
"#;

static RAISE_SCRIPT: std::sync::LazyLock<deadpool_redis::redis::Script> =
    std::sync::LazyLock::new(|| deadpool_redis::redis::Script::new(RAISE_TO));

/// Rooms raised per script call (a script blocks Redis while it runs).
const RAISE_CHUNK: usize = 500;

/// Raises the Redis counters of `floors`' rooms to at least their `seq`.
async fn raise_counters(
    inner: &Inner,
    redis: &deadpool_redis::Pool,
    floors: &[(AuctionId, i64)],
) -> Result<(), BusError> {
    if floors.is_empty() {
        return Ok(());
    }
    let mut conn = redis.get().await?;
    for chunk in floors.chunks(RAISE_CHUNK) {
        let mut script = RAISE_SCRIPT.prepare_invoke();
        for (room, seq) in chunk {
            script
                .key(inner.key(&format!("auction:{room}:seq")))
                .arg(*seq);
        }
        let _: i64 = script.invoke_async(&mut conn).await?;
    }
    Ok(())
}

/// Marks the relay subscribed until dropped.
struct RelayLive<'a>(&'a std::sync::atomic::AtomicBool);

impl<'a> RelayLive<'a> {
    fn set(flag: &'a std::sync::atomic::AtomicBool) -> Self {
        flag.store(true, Ordering::Release);
        Self(flag)
    }
}

impl Drop for RelayLive<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

/// Hashed once: every published frame (the bid path) runs it by its SHA.
static PUBLISH_SCRIPT: std::sync::LazyLock<deadpool_redis::redis::Script> =
    std::sync::LazyLock::new(|| deadpool_redis::redis::Script::new(PUBLISH_NEXT));

async fn publish_redis(
    inner: &Inner,
    redis: &deadpool_redis::Pool,
    room: AuctionId,
    floor: i64,
    frames: &[ServerFrame],
) -> Result<i64, BusError> {
    let mut conn = redis.get().await?;
    let mut script = PUBLISH_SCRIPT.key(inner.key(&format!("auction:{room}:seq")));
    script.key(inner.key(&format!("auction:{room}"))).arg(floor);
    for frame in frames {
        script.arg(encode_after_seq(frame, room));
    }
    script.invoke_async(&mut conn).await.map_err(BusError::from)
}

async fn remember_redis(
    inner: &Inner,
    redis: &deadpool_redis::Pool,
    room: AuctionId,
    items: &[HistoryItem],
) -> Result<(), BusError> {
    let mut conn = redis.get().await?;
    let key = inner.key(&format!("chat:{room}"));
    let mut pipe = deadpool_redis::redis::pipe();
    for item in items {
        pipe.cmd("XADD")
            .arg(&key)
            .arg("MAXLEN")
            .arg("~")
            .arg(RECENT_PER_ROOM)
            .arg("*")
            .arg("m")
            .arg(serde_json::to_string(item)?)
            .ignore();
    }
    let () = pipe.query_async(&mut conn).await?;
    Ok(())
}

async fn recent_redis(
    inner: &Inner,
    redis: &deadpool_redis::Pool,
    room: AuctionId,
    limit: usize,
) -> Result<Vec<HistoryItem>, BusError> {
    use deadpool_redis::redis::streams::StreamRangeReply;
    let mut conn = redis.get().await?;
    let reply: StreamRangeReply = conn
        .xrevrange_count(inner.key(&format!("chat:{room}")), "+", "-", limit)
        .await?;
    let mut items: Vec<HistoryItem> = reply
        .ids
        .iter()
        .filter_map(|entry| entry.get::<String>("m"))
        .filter_map(|json: String| serde_json::from_str(&json).ok())
        .collect();
    items.reverse();
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frames::MessageCode;
    use serde_json::Value;

    #[tokio::test]
    async fn local_frames_are_numbered_per_room() {
        let bus = RoomBus::local();
        let mut a = bus.subscribe(AuctionId::new(1));
        let mut b = bus.subscribe(AuctionId::new(2));
        let joined = ServerFrame::presence(MessageCode::Joined, "민수");
        let left = ServerFrame::presence(MessageCode::Left, "민수");
        bus.publish(AuctionId::new(1), &joined).await;
        bus.publish(AuctionId::new(1), &left).await;
        bus.publish(AuctionId::new(2), &joined).await;
        let first = a.recv().await.unwrap();
        let second = a.recv().await.unwrap();
        assert_eq!((first.seq, second.seq), (1, 2));
        assert_eq!(b.recv().await.unwrap().seq, 1);
        let v: Value = serde_json::from_str(&first.texts()[0]).unwrap();
        assert_eq!(v["event"], "message");
        assert_eq!(v["code"], "joined");
        assert_eq!(v["room"], "1");
        assert!(v["server_now"].as_i64().unwrap() > 0);
    }

    #[tokio::test]
    async fn every_room_frame_and_listing_change_moves_the_listings_version() {
        let bus = RoomBus::local();
        let start = bus.listings_version();
        // A room without a socket here still counts: its auction is listed.
        bus.publish(
            AuctionId::new(7),
            &ServerFrame::presence(MessageCode::Joined, "민수"),
        )
        .await;
        let after_frame = bus.listings_version();
        assert!(after_frame > start);
        bus.listings_changed().await;
        assert!(bus.listings_version() > after_frame);
        // Nothing else moves it.
        let now = bus.listings_version();
        bus.tell(UserId::new(1), "{}".into()).await;
        assert_eq!(bus.listings_version(), now);
    }

    #[tokio::test]
    async fn a_user_channel_reaches_only_that_users_sockets() {
        let bus = RoomBus::local();
        let mut mine = bus.subscribe_user(UserId::new(1));
        let mut also_mine = bus.subscribe_user(UserId::new(1));
        let mut theirs = bus.subscribe_user(UserId::new(2));
        bus.tell(UserId::new(1), r#"{"event":"notification"}"#.into())
            .await;
        assert_eq!(&*mine.recv().await.unwrap(), r#"{"event":"notification"}"#);
        assert_eq!(
            &*also_mine.recv().await.unwrap(),
            r#"{"event":"notification"}"#
        );
        assert!(theirs.try_recv().is_err());
        // Without a notifier task, stored events are only stored.
        bus.stored(vec![(UserId::new(1), "outbid:1:2".into())]);
        assert!(mine.try_recv().is_err());
        // Channels of users with no socket left are forgotten.
        drop((mine, also_mine, theirs));
        bus.prune_idle(0);
        assert!(bus.inner.users.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn frames_published_together_are_one_item_numbered_in_a_row() {
        let bus = RoomBus::local();
        let room = AuctionId::new(4);
        let mut frames = bus.subscribe(room);
        bus.publish(room, &ServerFrame::presence(MessageCode::Joined, "민수"))
            .await;
        bus.publish_all(
            room,
            &[
                ServerFrame::presence(MessageCode::Left, "민수"),
                ServerFrame::presence(MessageCode::Joined, "지수"),
            ],
        )
        .await;
        bus.publish_all(room, &[]).await;
        bus.publish(room, &ServerFrame::presence(MessageCode::Left, "지수"))
            .await;
        let first = frames.recv().await.unwrap();
        let pair = frames.recv().await.unwrap();
        let last = frames.recv().await.unwrap();
        assert_eq!((first.seq, pair.seq, last.seq), (1, 3, 4));
        assert!(frames.try_recv().is_err(), "nothing for an empty list");
        let seqs: Vec<Option<i64>> = pair
            .texts()
            .iter()
            .map(|t| serde_json::from_str::<Value>(t).unwrap()["seq"].as_i64())
            .collect();
        assert_eq!(seqs, [Some(2), Some(3)]);
        assert_eq!(
            pair.texts().iter().map(|t| seq_of(t)).collect::<Vec<_>>(),
            seqs
        );
        // On the wire: each frame encoded once, one after the other, and
        // the bytes shared by every socket.
        let calls = std::sync::atomic::AtomicUsize::new(0);
        let encode = |text: &str| {
            calls.fetch_add(1, Ordering::Relaxed);
            Bytes::from(format!("<{text}>"))
        };
        let wire = pair.wire(encode);
        assert_eq!(
            wire,
            Bytes::from(format!("<{}><{}>", pair.texts()[0], pair.texts()[1]))
        );
        assert_eq!(pair.clone().wire(encode), wire);
        assert_eq!(calls.load(Ordering::Relaxed), 2);
    }

    #[tokio::test]
    async fn local_numbering_continues_after_the_last_relayed_frame() {
        // Redis went away after frames up to 41 came through it.
        let bus = RoomBus::local();
        let mut frames = bus.subscribe(AuctionId::new(3));
        assert!(bus.deliver_numbered(&RoomFrame::new(AuctionId::new(3), 41, "{}")));
        bus.publish(
            AuctionId::new(3),
            &ServerFrame::presence(MessageCode::Left, "민수"),
        )
        .await;
        assert_eq!(frames.recv().await.unwrap().seq, 41);
        assert_eq!(frames.recv().await.unwrap().seq, 42);
    }

    #[tokio::test]
    async fn frames_numbered_behind_this_instance_are_dropped() {
        let bus = RoomBus::local();
        let room = AuctionId::new(4);
        let mut frames = bus.subscribe(room);
        let pair = |last| RoomFrame::together(room, last, vec!["{}".into(), "{}".into()]);
        assert!(bus.deliver_numbered(&RoomFrame::new(room, 10, "{}")));
        // Another instance's counter was behind this one's (Redis was
        // away), or the relay brings back a frame delivered here already.
        assert!(!bus.deliver_numbered(&RoomFrame::new(room, 7, "{}")));
        assert!(!bus.deliver_numbered(&RoomFrame::new(room, 10, "{}")));
        // Frames published together go or stay together.
        assert!(!bus.deliver_numbered(&pair(11)));
        assert!(bus.deliver_numbered(&pair(12)));
        assert_eq!(frames.recv().await.unwrap().seq, 10);
        assert_eq!(frames.recv().await.unwrap().seq, 12);
        assert!(frames.try_recv().is_err());
        // Numbering here goes on after them.
        bus.publish(room, &ServerFrame::presence(MessageCode::Left, "민수"))
            .await;
        assert_eq!(frames.recv().await.unwrap().seq, 13);
    }
}

#[cfg(test)]
mod redis_tests {
    use super::*;
    use serde_json::Value;

    #[tokio::test]
    #[ignore = "needs Redis: run with REDIS_URL set (CI does)"]
    async fn seq_never_goes_back_when_redis_loses_the_counter() {
        let url = std::env::var("REDIS_URL").expect("REDIS_URL must be set for this test");
        let pool = deadpool_redis::Config::from_url(url.clone())
            .create_pool(Some(deadpool_redis::Runtime::Tokio1))
            .unwrap();
        let prefix = format!("test-{}:", uuid::Uuid::new_v4().simple());
        let mut pubsub = deadpool_redis::redis::Client::open(url)
            .unwrap()
            .get_async_pubsub()
            .await
            .unwrap();
        pubsub
            .subscribe(format!("{prefix}auction:5"))
            .await
            .unwrap();
        let bus = RoomBus::with_redis(Some(pool.clone()), prefix.clone());
        // This instance saw frames up to 41 (relayed or numbered locally)
        // and the counter is gone (Redis restarted): the next frame still
        // follows what watchers have seen.
        assert!(bus.deliver_numbered(&RoomFrame::new(AuctionId::new(5), 41, "{}")));
        let now = chrono::Utc::now();
        let auction = sitga_auction::AuctionSnapshot {
            id: sitga_core::AuctionId::new(5),
            seller_id: sitga_core::UserId::new(1),
            status: sitga_auction::AuctionStatus::Open,
            start_price: sitga_auction::Krw::new(15_000),
            increment: sitga_auction::Increment::Tiered,
            buy_now_price: None,
            starts_at: None,
            reserve_price: None,
            current_price: Some(sitga_auction::Krw::new(15_000)),
            leader_id: Some(sitga_core::UserId::new(2)),
            leader_max: None,
            bid_count: 1,
            ends_at: now + chrono::Duration::hours(1),
            hard_end_at: now + chrono::Duration::hours(2),
            soft_close: chrono::Duration::minutes(2),
        };
        let state = ServerFrame::state(&auction, Some("민수"), now);
        let seq = publish_redis(
            &bus.inner,
            &pool,
            AuctionId::new(5),
            bus.last_seq(AuctionId::new(5)),
            std::slice::from_ref(&state),
        )
        .await
        .unwrap();
        assert_eq!(seq, 42);
        let payload: String = pubsub
            .on_message()
            .next()
            .await
            .unwrap()
            .get_payload()
            .unwrap();
        let frame: Value = serde_json::from_str(&payload).unwrap();
        assert_eq!(frame["seq"], 42);
        assert_eq!(frame["event"], "state");
        assert_eq!(frame["room"], "5");
        assert_eq!(frame["price"], 15_000);
        // A counter ahead of this instance is simply incremented.
        let mut conn = pool.get().await.unwrap();
        let key = format!("{prefix}auction:5:seq");
        let _: () = conn.set(&key, 100).await.unwrap();
        let seq = publish_redis(
            &bus.inner,
            &pool,
            AuctionId::new(5),
            42,
            std::slice::from_ref(&state),
        )
        .await
        .unwrap();
        assert_eq!(seq, 101);
        // Frames published together: numbered in a row, one message, a
        // line each, which the relay reads back as one item.
        let joined = ServerFrame::presence(crate::frames::MessageCode::Joined, "민수");
        let last = publish_redis(
            &bus.inner,
            &pool,
            AuctionId::new(5),
            42,
            &[joined, state.clone()],
        )
        .await
        .unwrap();
        assert_eq!(last, 103);
        let payload: String = pubsub
            .on_message()
            .skip(1)
            .next()
            .await
            .unwrap()
            .get_payload()
            .unwrap();
        let lines: Vec<Value> = payload
            .split('\n')
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["seq"], 102);
        assert_eq!(lines[0]["code"], "joined");
        assert_eq!(lines[1]["seq"], 103);
        assert_eq!(lines[1]["event"], "state");
        assert_eq!(
            payload.split('\n').map(seq_of).collect::<Vec<_>>(),
            [Some(102), Some(103)]
        );
        let _: () = conn.del(&key).await.unwrap();
    }

    /// Two instances numbered a room's frames apart while Redis was away;
    /// the one whose watchers saw more raises the counter before its relay
    /// listens, and drops (and raises past) whatever still comes numbered
    /// behind it: its watchers' `seq` never goes back.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "needs Redis: run with REDIS_URL set (CI does)"]
    async fn frames_numbered_apart_never_take_seq_back() {
        let url = std::env::var("REDIS_URL").expect("REDIS_URL must be set for this test");
        let prefix = format!("test-{}:", uuid::Uuid::new_v4().simple());
        let pool = deadpool_redis::Config::from_url(url.clone())
            .create_pool(Some(deadpool_redis::Runtime::Tokio1))
            .unwrap();
        let (ahead, behind) = (
            RoomBus::with_redis(Some(pool.clone()), prefix.clone()),
            RoomBus::with_redis(Some(pool.clone()), prefix.clone()),
        );
        let room = AuctionId::new(8);
        let notice = ServerFrame::presence(crate::frames::MessageCode::Joined, "민수");
        let mut watcher = ahead.subscribe(room);
        for _ in 0..30 {
            ahead.deliver_numbered_here(room, std::slice::from_ref(&notice));
        }
        let relay = ahead
            .spawn_relay(deadpool_redis::redis::Client::open(url).unwrap())
            .unwrap();
        while !ahead.inner.relay_live.load(Ordering::Acquire) {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        let mut conn = pool.get().await.unwrap();
        let key = format!("{prefix}auction:8:seq");
        let counter: i64 = conn.get(&key).await.unwrap();
        assert_eq!(counter, 30, "raised before the relay listened");
        // The other instance publishes from what it has seen (nothing).
        let publish_behind =
            || publish_redis(&behind.inner, &pool, room, 0, std::slice::from_ref(&notice));
        assert_eq!(publish_behind().await.unwrap(), 31);
        // A counter that falls behind again (lost once more) while the
        // relay listens.
        let _: () = conn.set(&key, 3).await.unwrap();
        assert_eq!(publish_behind().await.unwrap(), 4);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while conn.get::<_, i64>(&key).await.unwrap() < 31 {
            assert!(std::time::Instant::now() < deadline, "never raised");
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        assert_eq!(publish_behind().await.unwrap(), 32);
        let mut seen = Vec::new();
        while seen.last() != Some(&32) {
            let frame = tokio::time::timeout_at(deadline.into(), watcher.recv())
                .await
                .expect("the frame after the raise never came")
                .unwrap();
            seen.push(frame.seq);
        }
        assert_eq!(seen, (1..=32).collect::<Vec<_>>());
        relay.abort();
        let _: () = conn.del(&key).await.unwrap();
    }

    /// A listing change told by one instance moves every other's version
    /// (and nothing but the message does: there is no timer in the bus).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "needs Redis: run with REDIS_URL set (CI does)"]
    async fn a_listing_change_reaches_every_instance() {
        let url = std::env::var("REDIS_URL").expect("REDIS_URL must be set for this test");
        let prefix = format!("test-{}:", uuid::Uuid::new_v4().simple());
        let bus = || {
            let pool = deadpool_redis::Config::from_url(url.clone())
                .create_pool(Some(deadpool_redis::Runtime::Tokio1))
                .unwrap();
            RoomBus::with_redis(Some(pool), prefix.clone())
        };
        let (one, two) = (bus(), bus());
        let client = deadpool_redis::redis::Client::open(url.clone()).unwrap();
        let relay = two.spawn_relay(client).unwrap();
        while !two.inner.relay_live.load(Ordering::Acquire) {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        // The relay counts itself once when it subscribes; settle after it.
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let before = two.listings_version();
        one.listings_changed().await;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while two.listings_version() == before {
            assert!(std::time::Instant::now() < deadline, "never told");
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        relay.abort();
    }
}

#[cfg(test)]
mod history_tests {
    use super::*;

    fn item(id: i64) -> HistoryItem {
        HistoryItem {
            id,
            user: Some("a".into()),
            code: "chat".into(),
            context: format!("m{id}"),
            amount: None,
            at: 0,
        }
    }

    #[tokio::test]
    async fn idle_rooms_are_forgotten_and_watched_ones_kept() {
        let bus = RoomBus::local();
        let (watched, idle) = (AuctionId::new(1), AuctionId::new(2));
        let _socket = bus.subscribe(watched);
        let notice = ServerFrame::presence(crate::frames::MessageCode::Joined, "민수");
        for room in [watched, idle] {
            bus.publish(room, &notice).await;
            bus.remember(room, &item(1)).await;
        }
        assert_eq!(bus.prune_idle(1), 0, "within what is kept");
        assert_eq!(bus.prune_idle(0), 1);
        assert!(bus.recent(idle, 10).await.is_none());
        assert_eq!(bus.last_seq(idle), 0);
        assert!(bus.recent(watched, 10).await.is_some());
        assert_eq!(bus.last_seq(watched), 1);
        // A closed room's history goes at once.
        bus.forget_history(watched);
        assert!(bus.recent(watched, 10).await.is_none());
    }

    #[tokio::test]
    async fn local_history_is_bounded_and_ordered() {
        let bus = RoomBus::local();
        let room = AuctionId::new(1);
        assert!(bus.recent(room, 10).await.is_none());
        for id in 1..=(RECENT_PER_ROOM as i64 + 5) {
            bus.remember(room, &item(id)).await;
        }
        let last = bus.recent(room, 3).await.unwrap();
        assert_eq!(
            last.iter().map(|i| i.id).collect::<Vec<_>>(),
            vec![1003, 1004, 1005]
        );
    }
}
