//! One subscription to a room per worker thread, and the room's frames
//! written to the worker's sockets by that one task.
//!
//! Each actix worker is a single-threaded runtime. Were every socket
//! subscribed to the room bus itself, each room frame would wake every
//! socket's task: one cross-thread wake-up (an eventfd write) per socket of
//! the other workers, then a poll of each socket's task to write what it
//! read. Instead each worker relays a room to its own sockets: the relay
//! takes each frame once from the bus and offers it to every socket of the
//! worker in the room ([`Outlet::offer`]): a socket with nothing queued
//! takes it in one non-blocking write, without its task being woken; one
//! that is behind queues it.
//!
//! A worker that falls behind a room (its relay lags the room buffer) ends
//! its relay, and every socket of that worker in the room is cut like a slow
//! reader: none may go on as if it had missed nothing.

use std::cell::RefCell;
use std::collections::HashMap;
use std::time::Duration;

use sitga_core::AuctionId;
use sitga_realtime::bus::{RoomBus, RoomFrame};
use tokio::sync::broadcast;

use super::outlet::{Offer, Outlet, text_frame};

/// This worker's sockets of one room, by [`Outlet::key`].
type Sockets = HashMap<usize, Outlet>;

thread_local! {
    /// This worker's rooms. A room's entry is removed only by its relay, in
    /// the step in which that relay ends: the entry of a room is always its
    /// running relay's.
    static ROOMS: RefCell<HashMap<AuctionId, Sockets>> = RefCell::new(HashMap::new());
}

/// How often an idle relay checks whether any socket of its worker is left
/// in its room (a room whose auction ended may never send another frame).
const IDLE_CHECK: Duration = if cfg!(test) {
    Duration::from_millis(20)
} else {
    Duration::from_secs(30)
};

/// `outlet` takes `room`'s frames from this worker's relay of the room
/// (started if there is none).
pub(super) fn join(bus: &RoomBus, room: AuctionId, outlet: &Outlet) {
    ROOMS.with_borrow_mut(|rooms| {
        rooms
            .entry(room)
            .or_insert_with(|| {
                actix_web::rt::spawn(run(room, bus.subscribe(room)));
                Sockets::new()
            })
            .insert(outlet.key(), outlet.clone());
    });
}

/// `outlet` no longer takes `room`'s frames.
pub(super) fn leave(room: AuctionId, outlet: &Outlet) {
    ROOMS.with_borrow_mut(|rooms| {
        if let Some(sockets) = rooms.get_mut(&room) {
            sockets.remove(&outlet.key());
        }
    });
}

/// Offers each of the room's frames to this worker's sockets in the room
/// until none is left (or this worker falls behind the room).
async fn run(room: AuctionId, mut upstream: broadcast::Receiver<RoomFrame>) {
    let mut idle = tokio::time::interval(IDLE_CHECK);
    idle.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let next = tokio::select! {
            next = upstream.recv() => next,
            _ = idle.tick() => {
                // Forget the sockets that are gone; end with the last.
                let ended = ROOMS.with_borrow_mut(|rooms| {
                    let Some(sockets) = rooms.get_mut(&room) else {
                        return true;
                    };
                    sockets.retain(|_, outlet| outlet.in_room(room));
                    let ended = sockets.is_empty();
                    if ended {
                        rooms.remove(&room);
                    }
                    ended
                });
                if ended {
                    return;
                }
                continue;
            }
        };
        match next {
            Ok(frame) => {
                let wire = frame.wire(text_frame);
                ROOMS.with_borrow_mut(|rooms| {
                    if let Some(sockets) = rooms.get_mut(&room) {
                        sockets.retain(|_, outlet| outlet.offer(room, &wire) == Offer::Taken);
                    }
                });
            }
            Err(gap) => {
                if let broadcast::error::RecvError::Lagged(n) = gap {
                    tracing::warn!(
                        room = room.get(),
                        lagged = n,
                        "a worker fell behind its room; its sockets in the room are cut"
                    );
                }
                // Never a silent end: a socket that would miss frames is cut.
                let sockets = ROOMS.with_borrow_mut(|rooms| rooms.remove(&room));
                for outlet in sockets.into_iter().flat_map(HashMap::into_values) {
                    outlet.cut_behind(room);
                }
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use futures_util::task::noop_waker_ref;
    use sitga_realtime::bus::ROOM_BUFFER;
    use sitga_realtime::frames::{MessageCode, ServerFrame};
    use std::task::{Context, Poll};

    fn next(outlet: &Outlet) -> Poll<Option<Bytes>> {
        outlet.poll_frame(&mut Context::from_waker(noop_waker_ref()))
    }

    fn rooms_here() -> usize {
        ROOMS.with_borrow(HashMap::len)
    }

    #[actix_web::test]
    async fn sockets_of_one_worker_share_one_relay_and_a_lagging_relay_cuts_them() {
        let bus = RoomBus::local();
        let room = AuctionId::new(4);
        let (a, b) = (Outlet::new(None), Outlet::new(None));
        a.enter(&bus, room, &[]).unwrap();
        b.enter(&bus, room, &[]).unwrap();
        let frame = ServerFrame::presence(MessageCode::Joined, "민수");
        bus.publish(room, &frame).await;
        // Let the relay run.
        tokio::task::yield_now().await;
        let (Poll::Ready(Some(at_a)), Poll::Ready(Some(at_b))) = (next(&a), next(&b)) else {
            panic!("both sockets have the frame")
        };
        // Encoded once for the room: the same bytes in memory.
        assert_eq!(at_a.as_ptr(), at_b.as_ptr());
        assert!(String::from_utf8_lossy(&at_a).contains("민수"));
        // One relay, one room entry, for the two sockets.
        assert_eq!(rooms_here(), 1);

        // The relay cannot run while this test floods the room: it lags,
        // ends, and each socket is cut (a policy close, nothing after).
        for _ in 0..=ROOM_BUFFER {
            bus.publish(room, &frame).await;
        }
        tokio::task::yield_now().await;
        for outlet in [&a, &b] {
            let Poll::Ready(Some(close)) = next(outlet) else {
                panic!("a close is ready")
            };
            assert_eq!(close[0], 0x88, "a close frame");
            assert_eq!(u16::from_be_bytes([close[2], close[3]]), 1008);
            assert!(matches!(next(outlet), Poll::Ready(None)));
            assert!(!outlet.in_room(room));
        }
        assert_eq!(rooms_here(), 0);
        // A socket joining afterwards gets a fresh relay.
        let c = Outlet::new(None);
        c.enter(&bus, room, &[]).unwrap();
        bus.publish(room, &frame).await;
        tokio::task::yield_now().await;
        assert!(matches!(next(&c), Poll::Ready(Some(_))));
        assert!(
            matches!(next(&a), Poll::Ready(None)),
            "a cut socket got nothing"
        );
    }

    #[actix_web::test]
    async fn a_socket_that_left_gets_nothing_more_and_the_others_still_do() {
        let bus = RoomBus::local();
        let room = AuctionId::new(6);
        let (a, b) = (Outlet::new(None), Outlet::new(None));
        a.enter(&bus, room, &[]).unwrap();
        b.enter(&bus, room, &[]).unwrap();
        assert!(a.leave(room));
        assert!(!a.leave(room), "left once");
        bus.publish(room, &ServerFrame::presence(MessageCode::Joined, "a"))
            .await;
        tokio::task::yield_now().await;
        assert!(next(&a).is_pending());
        assert!(matches!(next(&b), Poll::Ready(Some(_))));
        assert_eq!(
            ROOMS.with_borrow(|rooms| rooms.get(&room).map(HashMap::len)),
            Some(1)
        );
    }

    #[actix_web::test]
    async fn a_relay_with_no_socket_left_ends_though_its_room_is_silent() {
        let bus = RoomBus::local();
        let room = AuctionId::new(5);
        let socket = Outlet::new(None);
        socket.enter(&bus, room, &[]).unwrap();
        tokio::time::sleep(IDLE_CHECK * 5).await;
        assert_eq!(rooms_here(), 1, "kept while a socket is in");
        socket.leave(room);
        tokio::time::sleep(IDLE_CHECK * 5).await;
        assert_eq!(rooms_here(), 0);

        // A socket listed by the relay but no longer in the room (cut, and
        // never offered a frame since) is forgotten as well.
        let stale = Outlet::new(None);
        join(&bus, room, &stale);
        tokio::time::sleep(IDLE_CHECK * 5).await;
        assert_eq!(rooms_here(), 0);
    }
}
