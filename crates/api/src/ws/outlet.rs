//! What one socket sends.
//!
//! Everything a socket sends goes through its outlet, in one queue, in
//! order: this client's own answers (and pings, pongs, the close) and its
//! rooms' frames. A room frame is encoded once for the whole room
//! ([`sitga_realtime::bus::RoomFrame::wire`]) and offered to each socket of
//! the worker by the worker's relay of the room ([`super::worker_rooms`]).
//!
//! Under `sitga serve` the connection's task hands the socket itself to the
//! outlet ([`Outlet::write_out`], see [`super::takeover`]). A socket with
//! nothing queued and nothing half-written then takes a room frame straight
//! from the relay, and an answer straight from the task that made it: one
//! non-blocking write, no wake-up of the writer, no queue. While one of the
//! client's own answers is due ([`Outlet::answer_due`]: a bid in the
//! engine), the first room frame waits for it (at most
//! [`HOLD_FOR_ANSWER`], or until the room's next frame) and leaves with it
//! in one write: a storm's refused bidder gets the frames of the batch that
//! refused it and its refusal together. A socket that is behind (its
//! kernel buffer full) queues what comes and is woken to write what it
//! has, in one vectored write when it can. Under a plain actix `HttpServer` the
//! HTTP dispatcher polls [`Outlet::body`] and writes the same queue.
//!
//! A client that falls a room's buffer behind or lets its own answers pile
//! up is cut: its queue is dropped and a close frame (policy, "too slow")
//! is written instead, after the rest of a frame already half-written. It
//! never slows a room.

use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use actix_http::ws::{CloseCode, CloseReason, OpCode, Parser};
use actix_web::body::{BodySize, BoxBody, MessageBody};
use bytes::{Buf, Bytes, BytesMut};
use futures_util::Stream;
use sitga_core::AuctionId;
use sitga_realtime::bus::{ROOM_BUFFER, RoomBus};
use tokio::io::AsyncWrite;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::broadcast;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;

use super::worker_rooms;

/// This client's own frames (answers, pings) queued before it counts as
/// too slow.
pub(super) const PRIVATE_QUEUE: usize = 256;

/// RFC 6455: a control frame's payload is at most 125 bytes, a close
/// reason 123 (after the code).
const MAX_CLOSE_REASON_BYTES: usize = 123;

/// Frames queued together are written together, up to this many bytes or
/// frames per write.
pub(super) const WRITE_BATCH_BYTES: usize = 32 * 1024;
const WRITE_BATCH_FRAMES: usize = 64;

/// The queue to this client is full: it reads too slowly (and is cut).
#[derive(Debug)]
pub(super) struct Full;

/// How long a room frame may wait for the answer it is held for
/// ([`Outlet::answer_due`]): far below what a person notices, about one
/// step of a bid storm.
pub(super) const HOLD_FOR_ANSWER: Duration = Duration::from_millis(5);

/// This client's answer is on its way ([`Outlet::answer_due`]); released
/// when dropped.
pub(super) struct AnswerDue(Outlet);

impl AnswerDue {
    /// Stops holding room frames for the answer (it is late).
    pub(super) fn release(&self) {
        self.0.answer_done();
    }
}

impl Drop for AnswerDue {
    fn drop(&mut self) {
        self.0.answer_done();
    }
}

/// What a relay's offer of a room frame came to.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Offer {
    /// Written or queued.
    Taken,
    /// The socket no longer takes this room's frames (it left, was cut or
    /// is closing): the relay forgets it.
    Gone,
}

/// Where a queued frame came from (each kind has its own bound).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    /// This client's own: answers, pings, pongs.
    Own,
    /// The user's notifications (bounded by their broadcast's buffer).
    Notice,
    /// One of its rooms'.
    Room,
}

/// The sending half of one socket, shared by its reader task, its pending
/// answers, the worker's relays of its rooms and whatever writes it.
#[derive(Clone)]
pub(super) struct Outlet(Arc<Mutex<Shared>>);

struct Shared {
    /// The rooms whose frames this socket takes (at most `MAX_ROOMS`).
    rooms: Vec<AuctionId>,
    /// The signed-in user's notifications.
    inbox: Option<BroadcastStream<Arc<str>>>,
    /// Encoded frames not yet written, in order.
    queue: VecDeque<(Bytes, Origin)>,
    /// How many of `queue` are this client's own / its rooms'.
    own_queued: usize,
    room_queued: usize,
    /// The unwritten rest of a frame a write cut short: it goes first, and
    /// nothing may be written before it is.
    rest: Option<Bytes>,
    /// The socket, once the connection's task handed it over: what writes
    /// it is [`Outlet::write_out`] (and a relay, when nothing is queued).
    socket: Option<OwnedWriteHalf>,
    /// A close asked for and not yet written.
    close: Option<CloseReason>,
    /// The close frame is queued or written: nothing follows it.
    close_taken: bool,
    /// Set once a close is asked for: nothing more is queued.
    closing: bool,
    /// An answer of this client's own is on its way ([`AnswerDue`]).
    awaiting: bool,
    /// A room frame was queued for the answer without waking the writer.
    holding: bool,
    /// Whoever writes, waiting for something to write.
    waker: Option<Waker>,
    /// For the log line of a cut.
    user_id: Option<i64>,
}

impl Outlet {
    pub(super) fn new(user_id: Option<i64>) -> Self {
        Self(Arc::new(Mutex::new(Shared {
            rooms: Vec::new(),
            inbox: None,
            queue: VecDeque::new(),
            own_queued: 0,
            room_queued: 0,
            rest: None,
            socket: None,
            close: None,
            close_taken: false,
            closing: false,
            awaiting: false,
            holding: false,
            waker: None,
            user_id,
        })))
    }

    fn lock(&self) -> MutexGuard<'_, Shared> {
        // Nothing here panics while holding the lock; a poisoned one still
        // holds consistent queues.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// This outlet's identity among a room's sockets.
    pub(super) fn key(&self) -> usize {
        Arc::as_ptr(&self.0) as usize
    }

    /// Wakes the writer after a change, outside the lock.
    fn changed(mut shared: MutexGuard<'_, Shared>) {
        let waker = shared.waker.take();
        drop(shared);
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// The response body that writes this outlet's frames (under a plain
    /// `HttpServer`). `session_body` is actix-ws's own body, kept (never
    /// polled: nothing is sent through its `Session`) because dropping it
    /// is what tells the socket's message stream that the connection is
    /// gone.
    pub(super) fn body(&self, session_body: BoxBody) -> BoxBody {
        BoxBody::new(OutletBody {
            outlet: self.clone(),
            _session_body: session_body,
        })
    }

    /// Queues a JSON text frame for this client. A full queue cuts it.
    pub(super) fn send(&self, json: &str) -> Result<(), Full> {
        self.push(text_frame(json))
    }

    /// Queues a ping.
    pub(super) fn ping(&self) -> Result<(), Full> {
        self.push(Bytes::from_static(&[0x89, 0x00]))
    }

    /// Queues the answer to a client's ping.
    pub(super) fn pong(&self, payload: &[u8]) -> Result<(), Full> {
        let payload = &payload[..payload.len().min(125)];
        let mut frame = BytesMut::with_capacity(payload.len() + 2);
        Parser::write_message(&mut frame, payload, OpCode::Pong, true, false);
        self.push(frame.freeze())
    }

    fn push(&self, frame: Bytes) -> Result<(), Full> {
        let mut shared = self.lock();
        if shared.closing {
            return Ok(());
        }
        if shared.own_queued >= PRIVATE_QUEUE {
            return Self::overflowed(shared);
        }
        shared.enqueue(frame, Origin::Own);
        // Written from here when it can be (with the room frames held for
        // it, in one write), without waking the writer.
        if !shared.write_now() {
            Self::changed(shared);
        }
        Ok(())
    }

    /// This client's own frames would overflow its queue: it is cut.
    fn overflowed(mut shared: MutexGuard<'_, Shared>) -> Result<(), Full> {
        tracing::info!(
            user_id = shared.user_id,
            "client let its answers pile up; disconnecting"
        );
        shared.cut();
        Self::changed(shared);
        Err(Full)
    }

    /// Whether this socket is in the room.
    pub(super) fn in_room(&self, room: AuctionId) -> bool {
        self.lock().rooms.contains(&room)
    }

    /// How many rooms this socket is in.
    pub(super) fn room_count(&self) -> usize {
        self.lock().rooms.len()
    }

    /// The rooms this socket is in.
    pub(super) fn rooms(&self) -> Vec<AuctionId> {
        self.lock().rooms.clone()
    }

    /// Queues `first` (what the room looks like now) and, unless already
    /// in it, starts taking the room's frames from this worker's relay, in
    /// one step: the room's own frames never overtake the snapshot.
    pub(super) fn enter(&self, bus: &RoomBus, room: AuctionId, first: &[&str]) -> Result<(), Full> {
        let encoded: Vec<Bytes> = first.iter().map(|json| text_frame(json)).collect();
        let mut shared = self.lock();
        if shared.closing {
            return Ok(());
        }
        if shared.own_queued + encoded.len() > PRIVATE_QUEUE {
            return Self::overflowed(shared);
        }
        for frame in encoded {
            shared.enqueue(frame, Origin::Own);
        }
        let new = !shared.rooms.contains(&room);
        if new {
            shared.rooms.push(room);
        }
        Self::changed(shared);
        if new {
            worker_rooms::join(bus, room, self);
        }
        Ok(())
    }

    /// Stops taking the room's frames; false if it was not joined.
    pub(super) fn leave(&self, room: AuctionId) -> bool {
        let mut shared = self.lock();
        let Some(at) = shared.rooms.iter().position(|&r| r == room) else {
            return false;
        };
        shared.rooms.swap_remove(at);
        drop(shared);
        worker_rooms::leave(room, self);
        true
    }

    /// A frame of `room` from this worker's relay. A socket with nothing
    /// queued or half-written takes it at once with a non-blocking write;
    /// the rest is queued (and its writer woken). One that has a room
    /// buffer of frames queued already is cut.
    pub(super) fn offer(&self, room: AuctionId, frame: &Bytes) -> Offer {
        let mut shared = self.lock();
        if shared.closing || !shared.rooms.contains(&room) {
            return Offer::Gone;
        }
        let idle = shared.queue.is_empty() && shared.rest.is_none();
        if idle && shared.awaiting && !shared.holding {
            // Held for the answer (one room item at most: the next one
            // wakes the writer for both).
            shared.holding = true;
            shared.enqueue(frame.clone(), Origin::Room);
            return Offer::Taken;
        }
        if idle && let Some(socket) = &shared.socket {
            match socket.try_write(frame) {
                Ok(n) if n == frame.len() => return Offer::Taken,
                Ok(n) => {
                    shared.rest = Some(frame.slice(n..));
                    Self::changed(shared);
                    return Offer::Taken;
                }
                // Full (or failing): queued below, for the writer to meet.
                Err(_) => {}
            }
        }
        if shared.room_queued >= ROOM_BUFFER {
            Self::behind(shared, room, "client fell behind its room; disconnecting");
            return Offer::Gone;
        }
        shared.enqueue(frame.clone(), Origin::Room);
        Self::changed(shared);
        Offer::Taken
    }

    /// Marks this client's answer as on its way until the guard is
    /// released or dropped: meanwhile the first room frame that would be
    /// written at once waits for it instead, so the two leave in one write
    /// (a storm's refused bidder gets the room's frames of the batch that
    /// refused it and then its refusal; written apart, a write each).
    pub(super) fn answer_due(&self) -> AnswerDue {
        self.lock().awaiting = true;
        AnswerDue(self.clone())
    }

    /// The answer is no longer awaited: what waits for it is written.
    fn answer_done(&self) {
        let mut shared = self.lock();
        shared.awaiting = false;
        if std::mem::take(&mut shared.holding) && !shared.queue.is_empty() {
            Self::changed(shared);
        }
    }

    /// Cuts a socket whose worker fell behind `room` (it missed frames).
    pub(super) fn cut_behind(&self, room: AuctionId) {
        let shared = self.lock();
        if !shared.closing {
            Self::behind(
                shared,
                room,
                "client's worker fell behind its room; disconnecting",
            );
        }
    }

    /// The socket missed (or would miss) frames of `room`: it is cut.
    fn behind(mut shared: MutexGuard<'_, Shared>, room: AuctionId, why: &str) {
        tracing::info!(user_id = shared.user_id, room = room.get(), "{why}");
        shared.cut();
        Self::changed(shared);
    }

    /// Starts taking the user's notifications.
    pub(super) fn receive_notifications(&self, inbox: broadcast::Receiver<Arc<str>>) {
        let mut shared = self.lock();
        shared.inbox = Some(BroadcastStream::new(inbox));
        Self::changed(shared);
    }

    /// Writes what is queued, then a close frame, then ends.
    pub(super) fn close(&self, reason: Option<CloseReason>) {
        let rooms = {
            let mut shared = self.lock();
            if !shared.closing {
                shared.closing = true;
                shared.close = reason.or(Some(CloseReason {
                    code: CloseCode::Normal,
                    description: None,
                }));
            }
            shared.inbox = None;
            let rooms = std::mem::take(&mut shared.rooms);
            Self::changed(shared);
            rooms
        };
        for room in rooms {
            worker_rooms::leave(room, self);
        }
    }

    /// Drops what is queued and writes a "too slow" close at once.
    pub(super) fn cut(&self) {
        let rooms = {
            let mut shared = self.lock();
            let rooms = std::mem::take(&mut shared.rooms);
            shared.cut();
            Self::changed(shared);
            rooms
        };
        for room in rooms {
            worker_rooms::leave(room, self);
        }
    }

    /// Writes this outlet to `socket` until the close frame is written
    /// (then shuts the socket's sending side) or the socket fails. While
    /// the socket has nothing queued, the worker's relays write room frames
    /// to it directly. A write that makes no progress for `stall` ends it:
    /// the client has stopped reading (its window stays shut), and its
    /// socket and the frames behind it are not held for it.
    pub(super) async fn write_out(
        &self,
        socket: OwnedWriteHalf,
        stall: Duration,
    ) -> io::Result<()> {
        self.lock().socket = Some(socket);
        let outcome = async {
            while std::future::poll_fn(|cx| self.poll_pending(cx)).await {
                let written =
                    tokio::time::timeout(stall, std::future::poll_fn(|cx| self.poll_write(cx)))
                        .await
                        .map_err(|_| {
                            io::Error::new(io::ErrorKind::TimedOut, "the client stopped reading")
                        })??;
                if written == Some(0) {
                    return Err(io::Error::from(io::ErrorKind::WriteZero));
                }
            }
            Ok(())
        }
        .await;
        let socket = {
            let mut shared = self.lock();
            if outcome.is_err() {
                // Nothing more reaches this socket: its relays forget it.
                shared.closing = true;
                shared.close_taken = true;
                shared.rooms.clear();
                shared.drop_queue();
                shared.rest = None;
            }
            shared.socket.take()
        };
        outcome?;
        match socket {
            Some(mut socket) => tokio::io::AsyncWriteExt::shutdown(&mut socket).await,
            None => Ok(()),
        }
    }

    /// Whether there is something to write (false: the close is written,
    /// nothing more will come); pending while the socket is idle.
    fn poll_pending(&self, cx: &mut Context<'_>) -> Poll<bool> {
        let mut guard = self.lock();
        let shared = &mut *guard;
        shared.take_notifications(cx);
        if shared.rest.is_some() || !shared.queue.is_empty() {
            return Poll::Ready(true);
        }
        if let Some(close) = shared.take_close() {
            shared.rest = Some(close);
            return Poll::Ready(true);
        }
        if shared.close_taken {
            return Poll::Ready(false);
        }
        shared.wait(cx);
        Poll::Pending
    }

    /// One write of what is queued (as much of it as one vectored write
    /// takes); the bytes written, or `None` if nothing is left to write (a
    /// cut dropped the queue while the socket was full: its close is next).
    fn poll_write(&self, cx: &mut Context<'_>) -> Poll<io::Result<Option<usize>>> {
        let mut guard = self.lock();
        let shared = &mut *guard;
        let Some(socket) = shared.socket.as_mut() else {
            return Poll::Ready(Err(io::ErrorKind::NotConnected.into()));
        };
        let mut slices = [IoSlice::new(&[]); WRITE_BATCH_FRAMES];
        let count = gather(shared.rest.as_ref(), &shared.queue, &mut slices);
        let written = match &slices[..count] {
            [] => return Poll::Ready(Ok(None)),
            [only] => std::task::ready!(Pin::new(socket).poll_write(cx, only)),
            many => std::task::ready!(Pin::new(socket).poll_write_vectored(cx, many)),
        }?;
        shared.consume(written);
        Poll::Ready(Ok(Some(written)))
    }

    /// The next frame to write, if any (under a plain `HttpServer`).
    pub(super) fn poll_frame(&self, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        let mut guard = self.lock();
        let shared = &mut *guard;
        shared.take_notifications(cx);
        if let Some(rest) = shared.rest.take() {
            return Poll::Ready(Some(rest));
        }
        if let Some((frame, origin)) = shared.queue.pop_front() {
            shared.uncount(origin);
            return Poll::Ready(Some(frame));
        }
        if let Some(close) = shared.take_close() {
            return Poll::Ready(Some(close));
        }
        if shared.close_taken {
            return Poll::Ready(None);
        }
        shared.wait(cx);
        Poll::Pending
    }
}

/// Fills `slices` with the next frames to write (the rest first, up to
/// [`WRITE_BATCH_FRAMES`] frames or [`WRITE_BATCH_BYTES`] bytes); how many.
fn gather<'a>(
    rest: Option<&'a Bytes>,
    queue: &'a VecDeque<(Bytes, Origin)>,
    slices: &mut [IoSlice<'a>; WRITE_BATCH_FRAMES],
) -> usize {
    let (mut count, mut bytes) = (0, 0);
    for frame in rest.into_iter().chain(queue.iter().map(|(frame, _)| frame)) {
        if count == WRITE_BATCH_FRAMES || (count > 0 && bytes + frame.len() > WRITE_BATCH_BYTES) {
            break;
        }
        slices[count] = IoSlice::new(frame);
        (count, bytes) = (count + 1, bytes + frame.len());
    }
    count
}

impl Shared {
    /// One non-blocking (vectored) write of what is queued, when the socket
    /// is handed over; whether nothing is left (else the writer is to be
    /// woken for the rest, or to meet the error).
    fn write_now(&mut self) -> bool {
        let Some(socket) = self.socket.as_ref() else {
            return false;
        };
        let mut slices = [IoSlice::new(&[]); WRITE_BATCH_FRAMES];
        let count = gather(self.rest.as_ref(), &self.queue, &mut slices);
        let written = match &slices[..count] {
            [] => return true,
            [only] => socket.try_write(only),
            many => socket.try_write_vectored(many),
        };
        match written {
            Ok(n) => {
                self.consume(n);
                self.rest.is_none() && self.queue.is_empty()
            }
            Err(_) => false,
        }
    }

    fn enqueue(&mut self, frame: Bytes, origin: Origin) {
        match origin {
            Origin::Own => self.own_queued += 1,
            Origin::Room => self.room_queued += 1,
            Origin::Notice => {}
        }
        self.queue.push_back((frame, origin));
    }

    fn uncount(&mut self, origin: Origin) {
        match origin {
            Origin::Own => self.own_queued -= 1,
            Origin::Room => self.room_queued -= 1,
            Origin::Notice => {}
        }
    }

    fn drop_queue(&mut self) {
        self.queue = VecDeque::new();
        self.own_queued = 0;
        self.room_queued = 0;
    }

    /// `n` bytes were written from the front: the rest first, then whole
    /// frames; a frame cut short becomes the rest.
    fn consume(&mut self, mut n: usize) {
        if let Some(rest) = self.rest.as_mut() {
            let take = n.min(rest.len());
            rest.advance(take);
            n -= take;
            if rest.is_empty() {
                self.rest = None;
            } else {
                return;
            }
        }
        while n > 0 {
            let Some((mut frame, origin)) = self.queue.pop_front() else {
                return;
            };
            self.uncount(origin);
            if n >= frame.len() {
                n -= frame.len();
            } else {
                frame.advance(n);
                self.rest = Some(frame);
                return;
            }
        }
        // A socket that was far behind gives back its queue's memory.
        if self.queue.is_empty() && self.queue.capacity() > 16 {
            self.queue = VecDeque::new();
        }
    }

    /// Moves the user's notifications into the queue (cutting a client that
    /// fell behind them).
    fn take_notifications(&mut self, cx: &mut Context<'_>) {
        while let Some(inbox) = self.inbox.as_mut() {
            match Pin::new(inbox).poll_next(cx) {
                Poll::Ready(Some(Ok(json))) => self.enqueue(text_frame(&json), Origin::Notice),
                Poll::Ready(Some(Err(BroadcastStreamRecvError::Lagged(n)))) => {
                    tracing::info!(
                        user_id = self.user_id,
                        lagged = n,
                        "client fell behind its notifications; disconnecting"
                    );
                    self.cut();
                }
                Poll::Ready(None) => self.inbox = None,
                Poll::Pending => return,
            }
        }
    }

    /// The close frame, once everything before it is written.
    fn take_close(&mut self) -> Option<Bytes> {
        if self.rest.is_some() || !self.queue.is_empty() {
            return None;
        }
        let reason = self.close.take()?;
        self.close_taken = true;
        Some(close_frame(reason))
    }

    fn wait(&mut self, cx: &mut Context<'_>) {
        if !self.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
            self.waker = Some(cx.waker().clone());
        }
    }

    fn cut(&mut self) {
        self.drop_queue();
        self.rooms.clear();
        self.inbox = None;
        if !self.close_taken {
            self.closing = true;
            self.close = Some(CloseReason {
                code: CloseCode::Policy,
                description: Some("too slow: frames were not read in time".into()),
            });
        }
    }
}

/// A text frame as a server writes it (unmasked, one fragment).
pub(super) fn text_frame(json: &str) -> Bytes {
    let mut frame = BytesMut::with_capacity(json.len() + 10);
    Parser::write_message(&mut frame, json, OpCode::Text, true, false);
    frame.freeze()
}

fn close_frame(mut reason: CloseReason) -> Bytes {
    if let Some(description) = reason.description.as_mut() {
        let mut end = description.len().min(MAX_CLOSE_REASON_BYTES);
        while !description.is_char_boundary(end) {
            end -= 1;
        }
        description.truncate(end);
    }
    let mut frame = BytesMut::with_capacity(MAX_CLOSE_REASON_BYTES + 4);
    Parser::write_close(&mut frame, Some(reason), false);
    frame.freeze()
}

struct OutletBody {
    outlet: Outlet,
    _session_body: BoxBody,
}

impl MessageBody for OutletBody {
    type Error = std::convert::Infallible;

    fn size(&self) -> BodySize {
        BodySize::Stream
    }

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        self.outlet.poll_frame(cx).map(|frame| frame.map(Ok))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::task::noop_waker_ref;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::Wake;
    use tokio::io::AsyncReadExt;
    use tokio::net::TcpStream;

    fn next(outlet: &Outlet) -> Poll<Option<Bytes>> {
        outlet.poll_frame(&mut Context::from_waker(noop_waker_ref()))
    }

    fn text_of(frame: &Bytes) -> &str {
        // Server frames of these tests are short: a two-byte header.
        assert_eq!(frame[0], 0x81, "a final text frame");
        std::str::from_utf8(&frame[2..]).unwrap()
    }

    /// An outlet in `room` with no relay behind it (the tests offer).
    fn in_room(room: AuctionId) -> Outlet {
        let outlet = Outlet::new(Some(1));
        outlet.lock().rooms.push(room);
        outlet
    }

    /// A connected pair: the server's write half and the client's stream.
    async fn pair() -> (OwnedWriteHalf, TcpStream) {
        let (server, client) = super::super::tests::connected().await;
        let (read, write) = server.into_split();
        // Not dropped while the test runs: the socket stays whole.
        std::mem::forget(read);
        (write, client)
    }

    /// An outlet in `room` that holds its socket (no writer runs), and the
    /// client's end.
    async fn holding_its_socket(room: AuctionId) -> (Outlet, TcpStream) {
        let outlet = in_room(room);
        let (socket, client) = pair().await;
        outlet.lock().socket = Some(socket);
        (outlet, client)
    }

    /// The next `n` bytes the client receives (`why` they must come).
    async fn read_n(client: &mut TcpStream, n: usize, why: &str) -> Vec<u8> {
        let mut got = vec![0; n];
        tokio::time::timeout(Duration::from_secs(5), client.read_exact(&mut got))
            .await
            .expect(why)
            .unwrap();
        got
    }

    /// Counts its wake-ups.
    struct Counting(AtomicUsize);

    impl Wake for Counting {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn a_snapshot_goes_before_the_room_frames() {
        let room = AuctionId::new(7);
        let outlet = in_room(room);
        outlet.push(text_frame(r#"{"event":"state"}"#)).unwrap();
        assert_eq!(
            outlet.offer(room, &text_frame(r#"{"seq":1}"#)),
            Offer::Taken
        );
        let (Poll::Ready(Some(first)), Poll::Ready(Some(second))) = (next(&outlet), next(&outlet))
        else {
            panic!("both are ready")
        };
        assert_eq!(text_of(&first), r#"{"event":"state"}"#);
        assert_eq!(text_of(&second), r#"{"seq":1}"#);
        assert!(next(&outlet).is_pending());
        // Another room's frame is not taken.
        assert_eq!(
            outlet.offer(AuctionId::new(8), &text_frame("{}")),
            Offer::Gone
        );
    }

    #[test]
    fn a_client_behind_its_room_is_cut_with_a_policy_close_and_nothing_after() {
        let room = AuctionId::new(7);
        let outlet = in_room(room);
        for _ in 0..ROOM_BUFFER {
            assert_eq!(outlet.offer(room, &text_frame("{}")), Offer::Taken);
        }
        assert_eq!(outlet.offer(room, &text_frame("{}")), Offer::Gone);
        let Poll::Ready(Some(close)) = next(&outlet) else {
            panic!("a close is ready")
        };
        assert_eq!(close[0], 0x88, "a close frame");
        assert_eq!(u16::from_be_bytes([close[2], close[3]]), 1008);
        assert!(
            std::str::from_utf8(&close[4..])
                .unwrap()
                .starts_with("too slow")
        );
        assert!(matches!(next(&outlet), Poll::Ready(None)));
        assert!(!outlet.in_room(room));
        // Nothing is queued after the cut.
        assert!(outlet.send("{}").is_ok());
        assert_eq!(outlet.offer(room, &text_frame("{}")), Offer::Gone);
        assert!(matches!(next(&outlet), Poll::Ready(None)));
    }

    #[test]
    fn a_full_private_queue_cuts_the_client() {
        let outlet = Outlet::new(None);
        for _ in 0..PRIVATE_QUEUE {
            outlet.send("{}").unwrap();
        }
        assert!(outlet.send("{}").is_err());
        let Poll::Ready(Some(close)) = next(&outlet) else {
            panic!("the close comes first: the queue was dropped")
        };
        assert_eq!(close[0], 0x88);
    }

    #[test]
    fn a_close_writes_what_is_queued_first_and_a_long_reason_is_cut_at_a_char() {
        let outlet = Outlet::new(None);
        outlet.send(r#"{"a":1}"#).unwrap();
        outlet.close(Some(CloseReason {
            code: CloseCode::Protocol,
            description: Some("가".repeat(60)),
        }));
        let Poll::Ready(Some(first)) = next(&outlet) else {
            panic!("the queued answer")
        };
        assert_eq!(text_of(&first), r#"{"a":1}"#);
        let Poll::Ready(Some(close)) = next(&outlet) else {
            panic!("the close")
        };
        // 2 header bytes, 2 code bytes, 41 whole characters (123 bytes).
        assert_eq!(close.len(), 2 + 2 + 123);
        assert!(std::str::from_utf8(&close[4..]).is_ok());
        assert!(matches!(next(&outlet), Poll::Ready(None)));
    }

    #[test]
    fn a_pong_echoes_at_most_125_bytes() {
        let outlet = Outlet::new(None);
        outlet.pong(&[7; 200]).unwrap();
        let Poll::Ready(Some(pong)) = next(&outlet) else {
            panic!("the pong")
        };
        assert_eq!(&pong[..2], &[0x8A, 125]);
        assert_eq!(pong.len(), 127);
    }

    #[tokio::test]
    async fn an_idle_socket_is_written_at_once_without_its_writer_waking() {
        let room = AuctionId::new(3);
        let (outlet, mut client) = holding_its_socket(room).await;
        // The writer waits for something to write.
        let wakes = Arc::new(Counting(AtomicUsize::new(0)));
        let waker = std::task::Waker::from(wakes.clone());
        assert!(
            outlet
                .poll_pending(&mut Context::from_waker(&waker))
                .is_pending()
        );

        let frame = text_frame(r#"{"seq":1}"#);
        assert_eq!(outlet.offer(room, &frame), Offer::Taken);
        let got = read_n(
            &mut client,
            frame.len(),
            "the relay wrote it: nobody else would",
        )
        .await;
        assert_eq!(got, frame);
        assert_eq!(wakes.0.load(Ordering::SeqCst), 0, "the writer slept on");
        assert!(outlet.lock().queue.is_empty());

        // Its own answer likewise leaves at once, from the task that made it.
        let answer = text_frame(r#"{"own":0}"#);
        outlet.send(r#"{"own":0}"#).unwrap();
        let got = read_n(&mut client, answer.len(), "written by send").await;
        assert_eq!(got, answer);
        assert_eq!(wakes.0.load(Ordering::SeqCst), 0, "the writer slept on");

        // Once something is queued (a socket that was full), a room frame
        // waits behind it though the socket has room, and the writer is
        // woken; an answer sent next writes all of it, in order.
        outlet
            .lock()
            .enqueue(text_frame(r#"{"own":1}"#), Origin::Own);
        let second = text_frame(r#"{"seq":2}"#);
        assert_eq!(outlet.offer(room, &second), Offer::Taken);
        assert_eq!(outlet.lock().queue.len(), 2);
        assert_eq!(wakes.0.load(Ordering::SeqCst), 1);
        outlet.send(r#"{"own":2}"#).unwrap();
        assert!(outlet.lock().queue.is_empty(), "written by send");
        let socket = outlet.lock().socket.take().unwrap();
        outlet.close(None);
        outlet
            .write_out(socket, Duration::from_secs(5))
            .await
            .unwrap();
        let mut rest = Vec::new();
        client.read_to_end(&mut rest).await.unwrap();
        let mut expected = text_frame(r#"{"own":1}"#).to_vec();
        expected.extend_from_slice(&second);
        expected.extend_from_slice(&text_frame(r#"{"own":2}"#));
        assert_eq!(&rest[..expected.len()], &expected[..]);
        assert_eq!(rest[expected.len()], 0x88, "then the close");
    }

    #[tokio::test]
    async fn a_room_frame_waits_for_the_answer_due_and_leaves_with_it() {
        let room = AuctionId::new(3);
        let (outlet, mut client) = holding_its_socket(room).await;
        let wakes = Arc::new(Counting(AtomicUsize::new(0)));
        let waker = std::task::Waker::from(wakes.clone());
        let mut cx = Context::from_waker(&waker);
        assert!(outlet.poll_pending(&mut cx).is_pending());

        // An answer is due: the room's frame is held, not written, and the
        // writer not woken; the answer then takes both in one write.
        let due = outlet.answer_due();
        let frame = text_frame(r#"{"seq":1}"#);
        assert_eq!(outlet.offer(room, &frame), Offer::Taken);
        assert_eq!(outlet.lock().queue.len(), 1);
        assert_eq!(wakes.0.load(Ordering::SeqCst), 0);
        outlet.send(r#"{"answer":1}"#).unwrap();
        drop(due);
        assert!(outlet.lock().queue.is_empty());
        assert_eq!(wakes.0.load(Ordering::SeqCst), 0, "written by send");
        let mut expected = frame.to_vec();
        expected.extend_from_slice(&text_frame(r#"{"answer":1}"#));
        let got = read_n(&mut client, expected.len(), "the bytes arrive").await;
        assert_eq!(got, expected, "the room's frame first");

        // At most one room item is held: the next one wakes the writer for
        // both.
        let due = outlet.answer_due();
        assert!(outlet.poll_pending(&mut cx).is_pending());
        assert_eq!(outlet.offer(room, &frame), Offer::Taken);
        assert_eq!(wakes.0.load(Ordering::SeqCst), 0);
        assert_eq!(outlet.offer(room, &frame), Offer::Taken);
        assert_eq!(wakes.0.load(Ordering::SeqCst), 1);
        assert_eq!(outlet.lock().queue.len(), 2);
        drop(due);
        outlet.lock().drop_queue();

        // An answer that is late (released) or never comes (dropped, the
        // socket's task ended) lets the held frame go: the writer is woken.
        for release in [true, false] {
            let before = wakes.0.load(Ordering::SeqCst);
            assert!(outlet.poll_pending(&mut cx).is_pending());
            let due = outlet.answer_due();
            assert_eq!(outlet.offer(room, &frame), Offer::Taken);
            assert_eq!(wakes.0.load(Ordering::SeqCst), before);
            if release {
                due.release();
                assert_eq!(wakes.0.load(Ordering::SeqCst), before + 1);
                // Released: the next frame is not held behind it.
                drop(due);
            } else {
                drop(due);
                assert_eq!(wakes.0.load(Ordering::SeqCst), before + 1);
            }
            assert!(!outlet.lock().awaiting);
            outlet.lock().drop_queue();
        }
    }

    #[tokio::test]
    async fn frames_of_a_socket_behind_arrive_whole_and_in_order() {
        let room = AuctionId::new(3);
        let outlet = in_room(room);
        let (socket, mut client) = pair().await;
        let writer = tokio::spawn({
            let outlet = outlet.clone();
            async move { outlet.write_out(socket, Duration::from_secs(30)).await }
        });
        tokio::task::yield_now().await;
        // 200 frames, every fourth of 256 KiB and the rest of 1,000 bytes (far
        // more than the kernel buffers take while nobody reads), each filled
        // with its number, and an answer of the client's own in the middle:
        // the socket falls behind, frames queue and leave several to a
        // write, and a write may stop inside one.
        let size = |i: usize| {
            if i.is_multiple_of(4) {
                256 * 1024
            } else {
                1_000
            }
        };
        let numbered = |i: usize| Bytes::from(vec![(i % 251) as u8; size(i)]);
        let mut queued = false;
        for i in 0..200 {
            if i == 100 {
                outlet.send(r#"{"own":1}"#).unwrap();
            }
            assert_eq!(outlet.offer(room, &numbered(i)), Offer::Taken);
            queued |= outlet.lock().room_queued > 0;
        }
        assert!(queued, "the socket fell behind");
        outlet.close(None);
        let mut got = Vec::new();
        client.read_to_end(&mut got).await.unwrap();
        writer.await.unwrap().unwrap();

        let own = text_frame(r#"{"own":1}"#);
        let mut at = 0;
        for i in 0..200 {
            if i == 100 {
                assert_eq!(
                    &got[at..at + own.len()],
                    &own[..],
                    "the answer in its place"
                );
                at += own.len();
            }
            let piece = &got[at..at + size(i)];
            assert!(piece.iter().all(|&b| b == (i % 251) as u8), "frame {i}");
            at += piece.len();
        }
        assert_eq!(got[at], 0x88, "then the close");
    }

    #[tokio::test]
    async fn a_client_that_stops_reading_loses_its_socket_after_the_stall() {
        let room = AuctionId::new(3);
        let outlet = in_room(room);
        let (socket, _silent) = pair().await;
        let writer = tokio::spawn({
            let outlet = outlet.clone();
            async move { outlet.write_out(socket, Duration::from_millis(300)).await }
        });
        let started = std::time::Instant::now();
        for _ in 0..200 {
            outlet.offer(room, &Bytes::from(vec![0; 64 * 1024]));
        }
        let outcome = tokio::time::timeout(Duration::from_secs(20), writer)
            .await
            .expect("the writer gives up on its own")
            .unwrap();
        assert_eq!(
            outcome.expect_err("a stalled client is an error").kind(),
            io::ErrorKind::TimedOut
        );
        assert!(started.elapsed() >= Duration::from_millis(300));
        // Its relays forget it.
        assert_eq!(outlet.offer(room, &text_frame("{}")), Offer::Gone);
    }

    #[tokio::test]
    async fn a_cut_while_the_socket_is_full_still_writes_the_close() {
        let room = AuctionId::new(3);
        let (outlet, mut client) = holding_its_socket(room).await;
        outlet.offer(room, &text_frame("{}"));
        let mut cx = Context::from_waker(noop_waker_ref());
        // The writer was about to write what was queued when a cut dropped
        // it: nothing to write is not a failed write, and the close follows.
        outlet
            .lock()
            .enqueue(text_frame(r#"{"own":1}"#), Origin::Own);
        outlet.cut();
        assert!(matches!(outlet.poll_write(&mut cx), Poll::Ready(Ok(None))));
        assert!(matches!(outlet.poll_pending(&mut cx), Poll::Ready(true)));
        let Poll::Ready(Ok(Some(n))) = outlet.poll_write(&mut cx) else {
            panic!("the close is written")
        };
        assert!(matches!(outlet.poll_pending(&mut cx), Poll::Ready(false)));
        let got = read_n(&mut client, 4 + n, "the bytes arrive").await;
        assert_eq!(&got[..4], &text_frame("{}")[..], "the frame written before");
        assert_eq!(got[4], 0x88, "then the close");
        assert_eq!(u16::from_be_bytes([got[6], got[7]]), 1008);
    }
}
