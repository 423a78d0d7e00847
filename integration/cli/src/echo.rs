//! The echo loop shared by `serve` and `autobahn-client`.

use std::future::{poll_fn, Future};
use std::pin::pin;
use std::sync::atomic::Ordering::Relaxed;
use std::task::Poll;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;
use tracing::debug;
use wsx::{Message, WebSocketStream};

use crate::stats::ConnStats;

/// How an echo session ended.
#[derive(Debug, PartialEq, Eq)]
pub enum EchoEnd {
    /// Closing handshake done (or the peer went away).
    Closed,
    /// Told to shut down: closed with 1001.
    Shutdown,
}

/// What the echo loop waits for next.
enum Step {
    /// The stream's next item.
    Next(Option<Result<Message, wsx::Error>>),
    /// Writing out the batched echoes failed.
    FlushFailed(wsx::Error),
    /// Shutdown was requested.
    Stop,
}

/// Echo every text and binary message until the connection closes. Echoes
/// are batched: the socket is flushed when no further message is ready.
/// When `shutdown` turns true, close with 1001 and finish the handshake.
///
/// The stream is borrowed, not moved in: a future that owns a large
/// argument can hold it twice (once as the argument, once as the local), and
/// this future lives as long as the connection.
///
/// One wait does everything: each wake-up polls the stream once, flushes
/// when it has nothing more to give, and checks for shutdown; the wait for
/// shutdown is created once, not once per message (registering with the
/// watch channel each time costs as much as a small echo).
pub async fn echo<S>(
    ws: &mut WebSocketStream<S>,
    shutdown: Option<watch::Receiver<bool>>,
    stats: Option<&ConnStats>,
) -> Result<EchoEnd, wsx::Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let stop = async move {
        match shutdown {
            // A dropped sender counts as a shutdown request, as before.
            Some(mut rx) => {
                let _ = rx.wait_for(|v| *v).await;
            }
            None => std::future::pending::<()>().await,
        }
    };
    let mut stop = pin!(stop);
    let mut unflushed = false;
    loop {
        let step = poll_fn(|cx| {
            if let Poll::Ready(n) = ws.poll_next_unpin(cx) {
                return Poll::Ready(Step::Next(n));
            }
            if unflushed {
                match ws.poll_flush_unpin(cx) {
                    Poll::Ready(Ok(())) => unflushed = false,
                    Poll::Ready(Err(e)) => return Poll::Ready(Step::FlushFailed(e)),
                    Poll::Pending => {}
                }
            }
            if stop.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Step::Stop);
            }
            Poll::Pending
        })
        .await;
        let next = match step {
            Step::Next(n) => n,
            Step::FlushFailed(e) => return Err(e),
            Step::Stop => {
                close_for_shutdown(ws).await;
                return Ok(EchoEnd::Shutdown);
            }
        };
        match next {
            None => return Ok(EchoEnd::Closed),
            Some(Err(e)) => return Err(e),
            Some(Ok(m @ (Message::Text(_) | Message::Binary(_)))) => {
                if let Some(st) = stats {
                    st.payload_in.fetch_add(m.len() as u64, Relaxed);
                    st.payload_out.fetch_add(m.len() as u64, Relaxed);
                }
                if let Err(e) = ws.feed(m).await {
                    debug!(error = %e, "echo send failed");
                    // Keep reading: the close handshake may be under way.
                    continue;
                }
                unflushed = true;
            }
            Some(Ok(_)) => {}
        }
    }
}

/// The server is shutting down: close with 1001 and wait (within the
/// stream's close timeout) for the peer's close.
pub async fn close_for_shutdown<S>(ws: &mut WebSocketStream<S>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    debug!("shutting down: closing with 1001");
    let _ = ws
        .send(Message::Close(Some(wsx::CloseFrame {
            code: wsx::CloseCode::Away,
            reason: "server shutting down".into(),
        })))
        .await;
    while let Some(m) = ws.next().await {
        if m.is_err() {
            break;
        }
    }
}
