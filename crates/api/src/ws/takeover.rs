//! WebSocket connections leave actix's HTTP/1 dispatcher once upgraded.
//!
//! Under the dispatcher, every connection keeps an 8 KiB read buffer and
//! an 8 KiB write buffer for as long as it lives (fixed sizes in
//! actix-http), and each frame a socket sends is copied into that write
//! buffer first. A watcher's socket is idle for minutes, and a room is
//! thousands of them. So `sitga serve` hands an upgrade request to
//! [`factory`]'s service instead: it takes the TCP stream from the
//! dispatcher, runs the request through the very same application (every
//! middleware, the `/ws` handler with its authentication and limits), and
//! writes the answer itself. A `101 Switching Protocols` keeps the
//! connection: the stream's sending half goes to the socket's outlet, which
//! writes it (and lets the worker's room relays write an idle socket
//! directly, see `ws::outlet`), each frame from the bytes its room
//! encoded once; the client's frames are read by `SocketReader` only when
//! the socket's reader asks, into a buffer allocated for that read alone.
//! Anything else is written whole and the connection closed.
//!
//! The handler cannot tell the two apart: under a plain `HttpServer`
//! (a developer embedding [`crate::app::build`]), the dispatcher carries the
//! same body and payload and the gateway works as before.

use std::convert::Infallible;
use std::io;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_codec::{Encoder, Framed};
use actix_http::body::{BoxBody, MessageBody};
use actix_http::error::PayloadError;
use actix_http::h1::{self, Message};
use actix_http::{ConnectionType, Payload, Request, Response, StatusCode};
use actix_service::{Service, ServiceFactory, fn_factory, fn_service};
use actix_web::dev::ServiceResponse;
use bytes::{Bytes, BytesMut};
use futures_util::Stream;
use tokio::io::{AsyncRead, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

use super::outlet::{Outlet, WRITE_BATCH_BYTES};

/// One read takes at most this much from the socket; what a client sends in
/// a burst is handed over in such pieces.
const READ_CHUNK: usize = 4 * 1024;

/// After this much in one go the reader yields, so a client sending
/// without pause is decoded in bounded steps (as under the dispatcher,
/// which hands a request body over 32 KiB at a time).
const READ_BURST: usize = 32 * 1024;

/// A socket whose writes make no progress this long is dropped (the
/// reader's idle limit, `connection::IDLE_TIMEOUT`, is the same).
const WRITE_STALL: Duration = Duration::from_secs(30);

/// The upgrade service for `actix_http::HttpService::upgrade`: `app` is the
/// application (built once more per worker, so the same routes and
/// middleware answer).
pub fn factory<F, B>(
    app: F,
) -> impl ServiceFactory<
    (Request, Framed<TcpStream, h1::Codec>),
    Config = (),
    Response = (),
    Error = Infallible,
    InitError = (),
>
where
    F: ServiceFactory<
            Request,
            Config = (),
            Response = ServiceResponse<B>,
            Error = actix_web::Error,
            InitError = (),
        > + 'static,
    F::Service: 'static,
    B: MessageBody + 'static,
{
    fn_factory(move || {
        let app = app.new_service(());
        async move {
            let app = Rc::new(app.await?);
            Ok::<_, ()>(fn_service(
                move |(req, framed): (Request, Framed<TcpStream, h1::Codec>)| {
                    let app = app.clone();
                    async move {
                        // Boxed: the dispatcher keeps this future in its own
                        // state, and every HTTP connection's task would grow
                        // to its size.
                        if let Err(e) = Box::pin(take_over(&*app, req, framed)).await {
                            tracing::debug!(error = %e, "upgraded connection ended");
                        }
                        Ok::<_, Infallible>(())
                    }
                },
            ))
        }
    })
}

/// Whether the request is a WebSocket handshake, checked as actix-ws's
/// handshake checks it (the dispatcher hands over every `Upgrade:
/// websocket` and `CONNECT`, whatever their path). Only then does the
/// handler get the socket's bytes as its payload; any other request has
/// none.
fn asks_for_websocket(req: &Request) -> bool {
    actix_http::ws::verify_handshake(req.head()).is_ok()
}

async fn take_over<S, B>(
    app: &S,
    mut req: Request,
    framed: Framed<TcpStream, h1::Codec>,
) -> io::Result<()>
where
    S: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody + 'static,
{
    let parts = framed.into_parts();
    let mut codec = parts.codec;
    let websocket = asks_for_websocket(&req);
    let (reader, mut writer) = parts.io.into_split();
    if websocket {
        // What the client sent right behind the request is its first bytes.
        let early = (!parts.read_buf.is_empty()).then(|| Bytes::copy_from_slice(&parts.read_buf));
        *req.payload() = Payload::Stream {
            payload: Box::pin(SocketReader::new(reader, early)),
        };
    }
    // The dispatcher's two buffers go now, not when the socket ends.
    drop(parts.read_buf);
    drop(parts.write_buf);

    let response: Response<BoxBody> = match app.call(req).await {
        Ok(res) => res.map_into_boxed_body().into(),
        Err(err) => err.error_response().into(),
    };
    let (mut head, body) = response.into_parts();
    let upgraded = websocket && head.status() == StatusCode::SWITCHING_PROTOCOLS;
    if !upgraded {
        head.head_mut().set_connection_type(ConnectionType::Close);
    }
    // A socket's outlet, when the handler left one: it writes the socket.
    let outlet = upgraded
        .then(|| head.extensions().get::<Outlet>().cloned())
        .flatten();
    let mut out = BytesMut::new();
    codec.encode(Message::Item((head, body.size())), &mut out)?;
    if upgraded {
        writer.write_all(&out).await?;
        drop(out);
        // The outlet writes the socket (and lends it to the room relays
        // while idle); the body, never polled, is kept until then: dropping
        // it ends the request's span and tells actix-ws the connection is
        // gone. `/ws` always leaves an outlet.
        let Some(outlet) = outlet else {
            tracing::error!("a WebSocket answer without an outlet; closing the connection");
            return Err(io::Error::other("a WebSocket answer without an outlet"));
        };
        let written = outlet.write_out(writer, WRITE_STALL).await;
        drop(body);
        return written;
    } else {
        write_body(body, &mut codec, out, &mut writer).await?;
    }
    writer.shutdown().await
}

/// Any other answer, framed as its head said (length or until close),
/// after its head (`out`): a short answer leaves in one write, as a client
/// that reads the head and the body of a refused upgrade in one go expects.
async fn write_body(
    mut body: BoxBody,
    codec: &mut h1::Codec,
    mut out: BytesMut,
    writer: &mut OwnedWriteHalf,
) -> io::Result<()> {
    while let Some(chunk) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_next(cx)).await {
        let bytes = chunk.map_err(|e| io::Error::other(e.to_string()))?;
        codec.encode(Message::Chunk(Some(bytes)), &mut out)?;
        if out.len() >= WRITE_BATCH_BYTES {
            writer.write_all(&out).await?;
            out.clear();
        }
    }
    codec.encode(Message::Chunk(None), &mut out)?;
    writer.write_all(&out).await
}

/// The client's side of an upgraded socket, as a request payload: bytes
/// are read only when the socket's reader asks for more, into a buffer of
/// that read's size, so an idle socket holds no read buffer.
pub(super) struct SocketReader {
    io: OwnedReadHalf,
    early: Option<Bytes>,
    /// Bytes handed over since the reader last waited.
    burst: usize,
}

impl SocketReader {
    fn new(io: OwnedReadHalf, early: Option<Bytes>) -> Self {
        Self {
            io,
            early,
            burst: 0,
        }
    }
}

impl Stream for SocketReader {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if let Some(early) = this.early.take() {
            return Poll::Ready(Some(Ok(early)));
        }
        if this.burst >= READ_BURST {
            this.burst = 0;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        let mut space = [MaybeUninit::<u8>::uninit(); READ_CHUNK];
        let mut buf = ReadBuf::uninit(&mut space);
        match Pin::new(&mut this.io).poll_read(cx, &mut buf) {
            Poll::Pending => {
                this.burst = 0;
                Poll::Pending
            }
            Poll::Ready(Err(e)) => Poll::Ready(Some(Err(PayloadError::Io(e)))),
            Poll::Ready(Ok(())) if buf.filled().is_empty() => Poll::Ready(None),
            Poll::Ready(Ok(())) => {
                this.burst += buf.filled().len();
                Poll::Ready(Some(Ok(Bytes::copy_from_slice(buf.filled()))))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;
    use futures_util::task::noop_waker_ref;
    use tokio::io::AsyncWriteExt;

    /// A connected pair: the server's read half and the client's stream.
    async fn pair() -> (OwnedReadHalf, TcpStream) {
        let (server, client) = super::super::tests::connected().await;
        let (read, write) = server.into_split();
        // The write half's drop would shut the server's side: keep it open.
        std::mem::forget(write);
        (read, client)
    }

    #[tokio::test]
    async fn early_bytes_come_first_then_the_socket_then_the_end() {
        let (read, mut client) = pair().await;
        let mut reader = SocketReader::new(read, Some(Bytes::from_static(b"early")));
        client.write_all(b"later").await.unwrap();
        client.shutdown().await.unwrap();
        let mut got = Vec::new();
        while let Some(chunk) = reader.next().await {
            got.extend_from_slice(&chunk.unwrap());
        }
        assert_eq!(got, b"earlylater");
    }

    #[tokio::test]
    async fn a_client_sending_without_pause_is_handed_over_in_bounded_bursts() {
        let (read, mut client) = pair().await;
        let sent = vec![7u8; 8 * READ_BURST];
        client.write_all(&sent).await.unwrap();
        client.shutdown().await.unwrap();
        // Everything is in the server's receive buffer before the first read.
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let mut reader = SocketReader::new(read, None);
        let mut cx = Context::from_waker(noop_waker_ref());
        let (mut total, mut run, mut longest, mut yields) = (0, 0, 0, 0);
        loop {
            match Pin::new(&mut reader).poll_next(&mut cx) {
                Poll::Ready(Some(chunk)) => {
                    let n = chunk.unwrap().len();
                    assert!(n <= READ_CHUNK, "one read is one chunk at most");
                    (total, run) = (total + n, run + n);
                    longest = longest.max(run);
                }
                Poll::Ready(None) => break,
                Poll::Pending => {
                    (run, yields) = (0, yields + 1);
                    // The socket may also just have nothing yet: let the
                    // runtime's driver see it (the noop waker wakes nothing).
                    tokio::time::sleep(std::time::Duration::from_millis(1)).await;
                }
            }
        }
        assert_eq!(total, sent.len());
        assert!(longest < READ_BURST + READ_CHUNK, "longest run {longest}");
        assert!(yields >= 7, "{yields} yields for 8 bursts");
    }
}
