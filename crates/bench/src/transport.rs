//! What the bench's clients can get from a server that does nothing but
//! WebSocket: a process of its own (`sitga-bench transport-server`) that
//! keeps one auction's price in memory and answers the clients' frames the
//! way sitga does (a `state` on join; per bid, the room's line and `state`
//! to every client then the bidder's answer, or a refusal with the minimum
//! next bid), with no database, no rules, no bookkeeping and no durability:
//! a plain tokio-tungstenite server with a writer task per client. Run in
//! the same storm (or fan-out) as sitga, on the same cores, it shows what
//! the sockets and the clients alone cost there.

use std::borrow::Cow;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

/// The first bid the room takes, and the step (as `seed::auction`'s).
const START: i64 = 1_000;
const STEP: i64 = 100;

/// The line the server prints once it listens, before its address.
const LISTENING: &str = "transport-server listening on ";

/// A running transport server (killed when dropped).
pub struct TransportServer {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
}

impl TransportServer {
    /// Starts `sitga-bench transport-server` (this binary) and waits for
    /// its address.
    pub async fn start() -> Self {
        let exe = std::env::current_exe().expect("own path");
        let mut child = Command::new(exe)
            .arg("transport-server")
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start the transport server");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();
        let addr = loop {
            let line = lines
                .next_line()
                .await
                .expect("read the transport server")
                .expect("the transport server printed its address");
            if let Some(addr) = line.strip_prefix(LISTENING) {
                break addr.parse().expect("an address");
            }
        };
        Self { child, addr }
    }

    /// CPU seconds it has used.
    pub fn cpu_seconds(&self) -> f64 {
        self.child
            .id()
            .map_or(0.0, |pid| crate::cluster::cpu_seconds_of(&pid.to_string()))
    }

    /// Its resident memory, in bytes.
    pub fn rss_bytes(&self) -> u64 {
        self.child.id().map_or(0, crate::cluster::rss_bytes_of)
    }
}

/// The room: the price and who leads, and every client's outgoing queue.
struct Room {
    min_next: i64,
    leader: Option<usize>,
    seq: u64,
    clients: Vec<mpsc::UnboundedSender<Utf8Bytes>>,
}

/// The fields of a client frame the server reads.
#[derive(serde::Deserialize)]
struct Incoming<'a> {
    #[serde(borrow)]
    event: Cow<'a, str>,
    #[serde(default)]
    amount: Option<i64>,
    #[serde(borrow, default, rename = "ref")]
    reference: Option<Cow<'a, str>>,
}

/// `sitga-bench transport-server`: listens on a free loopback port, prints
/// it, and serves until killed.
pub async fn serve() -> serde_json::Value {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the transport server");
    let addr = listener.local_addr().expect("its address");
    println!("{LISTENING}{addr}");
    serve_on(listener).await
}

/// Serves one room's clients on `listener`, forever.
async fn serve_on(listener: TcpListener) -> ! {
    let room = Arc::new(Mutex::new(Room {
        min_next: START,
        leader: None,
        seq: 0,
        clients: Vec::new(),
    }));
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        tokio::spawn(client(stream, room.clone()));
    }
}

/// Milliseconds since the epoch, as sitga's frames carry it.
fn now_ms() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
}

/// The frames below have the fields (and about the length) of sitga's (see
/// docs/protocol.md), so the clients read as much as they do from sitga.
fn state_frame(room: &Room) -> Utf8Bytes {
    let price = room.min_next - STEP;
    let leader = room.leader.map_or(-1, |n| n as i64);
    Utf8Bytes::from(format!(
        r#"{{"event":"state","room":"1","seq":{},"server_now":{},"status":"open","starts_at":null,"price":{price},"min_next_bid":{},"leader":"bidder-{leader}","bid_count":{},"ends_at":1795801200000,"ends_in_ms":10800000,"reserve_met":true,"buy_now":null}}"#,
        2 * room.seq,
        now_ms(),
        room.min_next,
        room.seq,
    ))
}

/// One client: a writer task that sends what its queue holds (what piled
/// up, in one flush), and the reader here.
async fn client(stream: TcpStream, room: Arc<Mutex<Room>>) {
    let _ = stream.set_nodelay(true);
    let config = WebSocketConfig::default().read_buffer_size(8 * 1024);
    let Ok(socket) = tokio_tungstenite::accept_async_with_config(stream, Some(config)).await else {
        return;
    };
    let (mut sink, mut frames) = socket.split();
    let (tx, mut rx) = mpsc::unbounded_channel::<Utf8Bytes>();
    tokio::spawn(async move {
        while let Some(first) = rx.recv().await {
            let mut next = Some(first);
            while let Some(text) = next {
                if sink.feed(Message::Text(text)).await.is_err() {
                    return;
                }
                next = rx.try_recv().ok();
            }
            if sink.flush().await.is_err() {
                return;
            }
        }
    });
    let me = {
        let mut room = room.lock().unwrap_or_else(PoisonError::into_inner);
        room.clients.push(tx.clone());
        room.clients.len() - 1
    };
    while let Some(Ok(message)) = frames.next().await {
        let Message::Text(text) = message else {
            continue;
        };
        let Ok(frame) = serde_json::from_str::<Incoming<'_>>(&text) else {
            continue;
        };
        let reference = serde_json::to_string(&frame.reference).unwrap_or_default();
        let mut room = room.lock().unwrap_or_else(PoisonError::into_inner);
        match (&*frame.event, frame.amount) {
            ("join", _) => {
                let _ = tx.send(state_frame(&room));
            }
            ("bid", Some(amount)) if room.leader == Some(me) => {
                let _ = tx.send(Utf8Bytes::from(format!(
                    r#"{{"event":"system","room":"1","server_now":{},"code":"already_leading","ref":{reference},"amount":{amount},"context":"{amount}로 입찰실패하였습니다. 금액을 확인 후 시도해 주세요.","text":"you lead this auction already"}}"#,
                    now_ms()
                )));
            }
            ("bid", Some(amount)) if amount >= room.min_next => {
                room.seq += 1;
                room.leader = Some(me);
                room.min_next = amount + STEP;
                let line = Utf8Bytes::from(format!(
                    r#"{{"event":"message","room":"1","seq":{},"server_now":{},"code":"bid_accepted","user":"bidder-{me}","context":"bidder-{me}님이 {amount}로 성공적으로 입찰하였습니다.","text":"bidder-{me} bid {amount} won","amount":{amount},"bid_seq":{}}}"#,
                    2 * room.seq - 1,
                    now_ms(),
                    room.seq
                ));
                let state = state_frame(&room);
                for client in &room.clients {
                    let _ = client.send(line.clone());
                    let _ = client.send(state.clone());
                }
                let _ = tx.send(Utf8Bytes::from(format!(
                    r#"{{"event":"system","room":"1","server_now":{},"code":"bid_accepted","ref":{reference},"amount":{amount},"bid_seq":{},"leading":true,"context":"bidder-{me}님이 {amount}로 성공적으로 입찰하였습니다.","text":"your bid of {amount} won is the highest"}}"#,
                    now_ms(),
                    room.seq
                )));
            }
            ("bid", Some(amount)) => {
                let _ = tx.send(Utf8Bytes::from(format!(
                    r#"{{"event":"system","room":"1","server_now":{},"code":"bid_too_low","ref":{reference},"amount":{amount},"min_next_bid":{},"context":"{amount}로 입찰실패하였습니다. 금액을 확인 후 시도해 주세요.","text":"bid at least {} won"}}"#,
                    now_ms(),
                    room.min_next,
                    room.min_next
                )));
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use sitga_core::AuctionId;

    use super::*;
    use crate::ws::{self, Answer, Frame, MinBidder};

    /// The next text frame, parsed for a bidder.
    async fn answer(socket: &mut ws::Socket, me: &mut MinBidder) -> Option<Answer> {
        loop {
            let text = ws::next_text(socket, Duration::from_secs(5))
                .await
                .expect("a frame");
            let frame = Frame::parse(&text).expect("a frame the clients read");
            if let Some((answer, _)) = me.on_frame(&frame) {
                return Some(answer);
            }
            if frame.event == "state" {
                return None;
            }
        }
    }

    /// The in-memory server answers the storm's bidders as sitga does: a
    /// state on join, the first bid at the minimum accepted (after the
    /// room's frames), a second at the same amount refused with the next
    /// minimum, the leader refused, and every client told the new price.
    #[tokio::test]
    async fn it_answers_a_storms_bidders_like_sitga() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(serve_on(listener));
        let room = AuctionId::new(1);
        let (mut first, mut second) = (MinBidder::default(), MinBidder::default());
        let mut a = ws::connect(addr, None, None).await.unwrap();
        let mut b = ws::connect(addr, None, None).await.unwrap();
        for socket in [&mut a, &mut b] {
            ws::join(socket, room).await.unwrap();
        }
        assert!(answer(&mut a, &mut first).await.is_none(), "a state first");
        assert!(answer(&mut b, &mut second).await.is_none(), "a state first");

        let bid = first.bid(room, "a").expect("a bid at the minimum");
        assert_eq!(bid["amount"], START);
        let late = second.bid(room, "b").expect("the same amount");
        ws::send(&mut a, bid).await.unwrap();
        // The room's line and state, then the answer.
        assert!(answer(&mut a, &mut first).await.is_none());
        assert!(matches!(
            answer(&mut a, &mut first).await,
            Some(Answer::Accepted(START))
        ));
        assert!(
            answer(&mut b, &mut second).await.is_none(),
            "b told the price"
        );

        ws::send(&mut b, late).await.unwrap();
        assert!(matches!(
            answer(&mut b, &mut second).await,
            Some(Answer::Refused)
        ));
        let next = second.bid(room, "b").expect("b bids again");
        assert_eq!(next["amount"], START + STEP, "the refusal's minimum");

        ws::send(
            &mut a,
            serde_json::json!({"event": "bid", "room": room, "amount": 9_000, "ref": "x"}),
        )
        .await
        .unwrap();
        let text = ws::next_text(&mut a, Duration::from_secs(5)).await.unwrap();
        let frame = Frame::parse(&text).unwrap();
        assert_eq!(frame.code.as_deref(), Some("already_leading"), "{text}");
    }
}
