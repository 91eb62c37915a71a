//! What one socket sends, taken by the connection's own task.
//!
//! The response body of a WebSocket is a stream the connection's task polls
//! whenever the socket can take more (under `sitga serve` the task of
//! [`super::takeover`], which writes each frame's bytes as they are; under a
//! plain actix `HttpServer`, the HTTP dispatcher). Here that body reads the socket's
//! rooms and notifications itself and yields frames already encoded for the
//! wire: a room frame is encoded once for the whole room
//! ([`sitga_realtime::bus::RoomFrame::wire`]), and a frame costs each watcher one wake-up of one
//! task (and, under the dispatcher, one copy into its write buffer). Frames that pile up while the
//! client is behind leave in one write. The connection's reader task only
//! queues this client's own answers (and pings, pongs, the close) here.
//!
//! A client that falls behind its rooms (the room buffer overflows) or lets
//! its own answers pile up is cut: its queue is dropped and a close frame
//! (policy, "too slow") is written instead. It never slows a room.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

use actix_http::ws::{CloseCode, CloseReason, OpCode, Parser};
use actix_web::body::{BodySize, BoxBody, MessageBody};
use bytes::{Bytes, BytesMut};
use futures_util::Stream;
use sitga_core::AuctionId;
use tokio::sync::broadcast;
use tokio_stream::StreamMap;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;

use super::worker_rooms::{RoomGap, RoomStream};

/// This client's own frames (answers, pings) queued before it counts as
/// too slow.
pub(super) const PRIVATE_QUEUE: usize = 256;

/// RFC 6455: a control frame's payload is at most 125 bytes, a close
/// reason 123 (after the code).
const MAX_CLOSE_REASON_BYTES: usize = 123;

/// The queue to this client is full: it reads too slowly (and is cut).
#[derive(Debug)]
pub(super) struct Full;

/// The sending half of one socket, shared by its reader task, its pending
/// answers and its response body.
#[derive(Clone)]
pub(super) struct Outlet(Arc<Mutex<Shared>>);

struct Shared {
    rooms: StreamMap<AuctionId, RoomStream>,
    /// The signed-in user's notifications.
    inbox: Option<BroadcastStream<Arc<str>>>,
    /// Encoded frames for this client only, in order.
    private: VecDeque<Bytes>,
    /// A close asked for and not yet written.
    close: Option<CloseReason>,
    /// The close frame is written: the body ends.
    finished: bool,
    /// Set once a close is asked for: nothing more is queued.
    closing: bool,
    /// The body, waiting for a private frame or a close.
    waker: Option<Waker>,
    /// For the log line of a cut.
    user_id: Option<i64>,
}

impl Outlet {
    pub(super) fn new(user_id: Option<i64>) -> Self {
        Self(Arc::new(Mutex::new(Shared {
            rooms: StreamMap::new(),
            inbox: None,
            private: VecDeque::new(),
            close: None,
            finished: false,
            closing: false,
            waker: None,
            user_id,
        })))
    }

    fn lock(&self) -> MutexGuard<'_, Shared> {
        // Nothing here panics while holding the lock; a poisoned one still
        // holds consistent queues.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Wakes the body after a change, outside the lock.
    fn changed(mut shared: MutexGuard<'_, Shared>) {
        let waker = shared.waker.take();
        drop(shared);
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// The response body that writes this outlet's frames. `session_body`
    /// is actix-ws's own body, kept (never polled: nothing is sent through
    /// its `Session`) because dropping it is what tells the socket's message
    /// stream that the connection is gone.
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
        if shared.private.len() >= PRIVATE_QUEUE {
            return Self::overflowed(shared);
        }
        shared.private.push_back(frame);
        Self::changed(shared);
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
        self.lock().rooms.contains_key(&room)
    }

    /// How many rooms this socket is in.
    pub(super) fn room_count(&self) -> usize {
        self.lock().rooms.len()
    }

    /// The rooms this socket is in.
    pub(super) fn rooms(&self) -> Vec<AuctionId> {
        self.lock().rooms.keys().copied().collect()
    }

    /// Queues `first` (what the room looks like now) and, unless already
    /// in it, starts taking the room's frames, in one step: the room's own
    /// frames never overtake the snapshot.
    pub(super) fn enter(
        &self,
        room: AuctionId,
        frames: RoomStream,
        first: &[&str],
    ) -> Result<(), Full> {
        let encoded: Vec<Bytes> = first.iter().map(|json| text_frame(json)).collect();
        let mut shared = self.lock();
        if shared.closing {
            return Ok(());
        }
        if shared.private.len() + encoded.len() > PRIVATE_QUEUE {
            return Self::overflowed(shared);
        }
        shared.private.extend(encoded);
        if !shared.rooms.contains_key(&room) {
            shared.rooms.insert(room, frames);
        }
        Self::changed(shared);
        Ok(())
    }

    /// Stops taking the room's frames; false if it was not joined.
    pub(super) fn leave(&self, room: AuctionId) -> bool {
        self.lock().rooms.remove(&room).is_some()
    }

    /// Starts taking the user's notifications.
    pub(super) fn receive_notifications(&self, inbox: broadcast::Receiver<Arc<str>>) {
        let mut shared = self.lock();
        shared.inbox = Some(BroadcastStream::new(inbox));
        Self::changed(shared);
    }

    /// Writes what is queued, then a close frame, then ends.
    pub(super) fn close(&self, reason: Option<CloseReason>) {
        let mut shared = self.lock();
        if !shared.closing {
            shared.closing = true;
            shared.close = reason.or(Some(CloseReason {
                code: CloseCode::Normal,
                description: None,
            }));
        }
        shared.rooms.clear();
        shared.inbox = None;
        Self::changed(shared);
    }

    /// Drops what is queued and writes a "too slow" close at once.
    pub(super) fn cut(&self) {
        let mut shared = self.lock();
        shared.cut();
        Self::changed(shared);
    }

    /// The next frame to write, if any (registering the body's waker).
    fn poll_frame(&self, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        let mut guard = self.lock();
        let shared = &mut *guard;
        loop {
            if shared.finished {
                return Poll::Ready(None);
            }
            if let Some(frame) = shared.private.pop_front() {
                return Poll::Ready(Some(frame));
            }
            if let Some(reason) = shared.close.take() {
                shared.finished = true;
                return Poll::Ready(Some(close_frame(reason)));
            }
            if let Some(inbox) = shared.inbox.as_mut() {
                match Pin::new(inbox).poll_next(cx) {
                    Poll::Ready(Some(Ok(json))) => return Poll::Ready(Some(text_frame(&json))),
                    Poll::Ready(Some(Err(BroadcastStreamRecvError::Lagged(n)))) => {
                        tracing::info!(
                            user_id = shared.user_id,
                            lagged = n,
                            "client fell behind its notifications; disconnecting"
                        );
                        shared.cut();
                        continue;
                    }
                    Poll::Ready(None) => shared.inbox = None,
                    Poll::Pending => {}
                }
            }
            if !shared.rooms.is_empty() {
                match Pin::new(&mut shared.rooms).poll_next(cx) {
                    Poll::Ready(Some((_, Ok(frame)))) => {
                        return Poll::Ready(Some(frame.wire(text_frame)));
                    }
                    Poll::Ready(Some((room, Err(gap)))) => {
                        // No count: this worker's relay of the room fell behind.
                        let lagged = match gap {
                            RoomGap::Lagged(n) => Some(n),
                            RoomGap::Ended => None,
                        };
                        tracing::info!(
                            user_id = shared.user_id,
                            room = room.get(),
                            lagged,
                            "client fell behind its room; disconnecting"
                        );
                        shared.cut();
                        continue;
                    }
                    Poll::Ready(None) | Poll::Pending => {}
                }
            }
            if !shared
                .waker
                .as_ref()
                .is_some_and(|w| w.will_wake(cx.waker()))
            {
                shared.waker = Some(cx.waker().clone());
            }
            return Poll::Pending;
        }
    }
}

impl Shared {
    fn cut(&mut self) {
        self.private.clear();
        self.rooms.clear();
        self.inbox = None;
        if !self.finished {
            self.closing = true;
            self.close = Some(CloseReason {
                code: CloseCode::Policy,
                description: Some("too slow: frames were not read in time".into()),
            });
        }
    }
}

/// A text frame as a server writes it (unmasked, one fragment).
fn text_frame(json: &str) -> Bytes {
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
    use sitga_realtime::bus::RoomFrame;

    fn next(outlet: &Outlet) -> Poll<Option<Bytes>> {
        outlet.poll_frame(&mut Context::from_waker(noop_waker_ref()))
    }

    fn text_of(frame: &Bytes) -> &str {
        // Server frames of these tests are short: a two-byte header.
        assert_eq!(frame[0], 0x81, "a final text frame");
        std::str::from_utf8(&frame[2..]).unwrap()
    }

    #[test]
    fn a_snapshot_goes_before_the_room_frames_and_each_room_frame_is_encoded_once() {
        let (sender, _) = broadcast::channel(8);
        let (a, b) = (Outlet::new(None), Outlet::new(None));
        let room = AuctionId::new(7);
        a.enter(
            room,
            RoomStream::of(sender.subscribe()),
            &[r#"{"event":"state"}"#],
        )
        .unwrap();
        b.enter(room, RoomStream::of(sender.subscribe()), &[])
            .unwrap();
        let frame = RoomFrame::new(room, 1, r#"{"seq":1}"#);
        sender.send(frame.clone()).unwrap();
        let Poll::Ready(Some(first)) = next(&a) else {
            panic!("the snapshot is ready")
        };
        assert_eq!(text_of(&first), r#"{"event":"state"}"#);
        let (Poll::Ready(Some(at_a)), Poll::Ready(Some(at_b))) = (next(&a), next(&b)) else {
            panic!("the room frame is ready on both")
        };
        assert_eq!(text_of(&at_a), r#"{"seq":1}"#);
        // One encoding, shared: the same bytes in memory.
        assert_eq!(at_a.as_ptr(), at_b.as_ptr());
        assert!(next(&a).is_pending());
    }

    #[test]
    fn a_client_behind_its_room_is_cut_with_a_policy_close_and_nothing_after() {
        let (sender, _) = broadcast::channel(2);
        let outlet = Outlet::new(Some(1));
        let room = AuctionId::new(7);
        outlet
            .enter(room, RoomStream::of(sender.subscribe()), &[])
            .unwrap();
        for seq in 1..=3 {
            sender.send(RoomFrame::new(room, seq, r#"{}"#)).unwrap();
        }
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
}
