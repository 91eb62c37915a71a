//! One subscription to a room per worker thread.
//!
//! Each actix worker is a single-threaded runtime. Were every socket
//! subscribed to the room bus itself, each room frame would wake every
//! socket's task from the publishing thread: one cross-thread wake-up (an
//! eventfd write) per socket of the other workers, and every socket reading
//! the same broadcast slot from every core. Instead each worker relays a
//! room to its own sockets: one cross-thread wake-up per worker and frame,
//! then wake-ups within the thread.
//!
//! A worker that falls behind a room (its relay lags the room buffer) ends
//! its relay, and every socket of that worker in the room is cut like a slow
//! reader: none may go on as if it had missed nothing.

use std::cell::RefCell;
use std::collections::HashMap;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use futures_util::Stream;
use sitga_core::AuctionId;
use sitga_realtime::bus::{ROOM_BUFFER, RoomBus, RoomFrame};
use tokio::sync::broadcast;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;

thread_local! {
    /// This worker's relays, by room.
    static RELAYS: RefCell<HashMap<AuctionId, broadcast::Sender<RoomFrame>>> =
        RefCell::new(HashMap::new());
}

/// Why a socket can no longer follow a room.
#[derive(Debug)]
pub(super) enum RoomGap {
    /// It fell this many frames behind.
    Lagged(u64),
    /// The room's stream ended (this worker's relay fell behind).
    Ended,
}

/// A socket's view of a room: frames in order, then a [`RoomGap`] if it
/// can no longer follow (never a silent end).
pub(super) struct RoomStream {
    frames: BroadcastStream<RoomFrame>,
    ended: bool,
}

impl Stream for RoomStream {
    type Item = Result<RoomFrame, RoomGap>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.ended {
            return Poll::Ready(None);
        }
        Poll::Ready(Some(
            match ready!(Pin::new(&mut this.frames).poll_next(cx)) {
                Some(Ok(frame)) => Ok(frame),
                Some(Err(BroadcastStreamRecvError::Lagged(n))) => Err(RoomGap::Lagged(n)),
                None => {
                    this.ended = true;
                    Err(RoomGap::Ended)
                }
            },
        ))
    }
}

impl RoomStream {
    /// A stream of `receiver`'s frames.
    pub(super) fn of(receiver: broadcast::Receiver<RoomFrame>) -> Self {
        Self {
            frames: BroadcastStream::new(receiver),
            ended: false,
        }
    }
}

/// How often an idle relay checks whether any socket of its worker is left
/// in its room (a room whose auction ended may never send another frame).
const IDLE_CHECK: Duration = Duration::from_secs(30);

/// The room's frames for a socket of this worker.
pub(super) fn subscribe(bus: &RoomBus, room: AuctionId) -> RoomStream {
    subscribe_checking_every(bus, room, IDLE_CHECK)
}

fn subscribe_checking_every(bus: &RoomBus, room: AuctionId, idle_check: Duration) -> RoomStream {
    let receiver = RELAYS.with_borrow_mut(|relays| {
        if let Some(local) = relays.get(&room) {
            return local.subscribe();
        }
        let (local, receiver) = broadcast::channel(ROOM_BUFFER);
        actix_web::rt::spawn(relay(room, bus.subscribe(room), local.clone(), idle_check));
        relays.insert(room, local);
        receiver
    });
    RoomStream::of(receiver)
}

/// Passes the room's frames to this worker's sockets until none is left
/// (or this worker falls behind the room).
async fn relay(
    room: AuctionId,
    mut upstream: broadcast::Receiver<RoomFrame>,
    local: broadcast::Sender<RoomFrame>,
    idle_check: Duration,
) {
    let mut idle = tokio::time::interval(idle_check);
    idle.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let next = tokio::select! {
            next = upstream.recv() => next,
            _ = idle.tick() => {
                if local.receiver_count() == 0 {
                    break;
                }
                continue;
            }
        };
        match next {
            Ok(frame) => {
                if local.send(frame).is_err() {
                    break;
                }
            }
            Err(broadcast::error::RecvError::Lagged(n)) => {
                tracing::warn!(
                    room = room.get(),
                    lagged = n,
                    "a worker fell behind its room; its sockets in the room are cut"
                );
                break;
            }
            Err(broadcast::error::RecvError::Closed) => break,
        }
    }
    // Forget this relay (not a newer one of the same room): its sockets see
    // their stream end once they have read what it passed on.
    RELAYS.with_borrow_mut(|relays| {
        if relays.get(&room).is_some_and(|r| r.same_channel(&local)) {
            relays.remove(&room);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;

    #[actix_web::test]
    async fn sockets_of_one_worker_share_one_subscription_and_a_lagging_relay_cuts_them() {
        let bus = RoomBus::local();
        let room = AuctionId::new(4);
        let (mut a, mut b) = (subscribe(&bus, room), subscribe(&bus, room));
        // Let the relay start.
        tokio::task::yield_now().await;
        let frame = sitga_realtime::frames::ServerFrame::presence(
            sitga_realtime::frames::MessageCode::Joined,
            "민수",
        );
        bus.publish(room, &frame).await;
        let (at_a, at_b) = (a.next().await, b.next().await);
        let (Some(Ok(at_a)), Some(Ok(at_b))) = (at_a, at_b) else {
            panic!("both sockets have the frame")
        };
        assert_eq!((at_a.seq, at_b.seq), (1, 1));
        // One relay, so one receiver on the bus for the two sockets (the
        // bus forgets a room with no receiver, so a second publish with the
        // relay alone still reaches both).
        assert_eq!(RELAYS.with_borrow(|r| r.len()), 1);

        // The relay cannot run while this test floods the room: it lags,
        // ends, and each socket sees a gap after what it was given.
        for _ in 0..=ROOM_BUFFER {
            bus.publish(room, &frame).await;
        }
        tokio::task::yield_now().await;
        let gap = tokio::time::timeout(std::time::Duration::from_secs(5), async {
            while let Some(item) = a.next().await {
                if let Err(e) = item {
                    return Some(e);
                }
            }
            None
        })
        .await
        .expect("the socket learns of the gap");
        assert!(matches!(gap, Some(RoomGap::Ended)), "{gap:?}");
        assert_eq!(RELAYS.with_borrow(|r| r.len()), 0);
        // A socket joining afterwards gets a fresh relay.
        let mut c = subscribe(&bus, room);
        tokio::task::yield_now().await;
        bus.publish(room, &frame).await;
        assert!(matches!(c.next().await, Some(Ok(_))));
    }

    #[actix_web::test]
    async fn a_relay_with_no_socket_left_ends_though_its_room_is_silent() {
        let bus = RoomBus::local();
        let room = AuctionId::new(5);
        let socket = subscribe_checking_every(&bus, room, Duration::from_millis(20));
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(
            RELAYS.with_borrow(|r| r.len()),
            1,
            "kept while a socket is in"
        );
        drop(socket);
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(RELAYS.with_borrow(|r| r.len()), 0);
    }
}
