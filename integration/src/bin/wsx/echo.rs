//! The echo loop shared by `serve` and `autobahn-client`.

use std::future::poll_fn;
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

/// Echo every text and binary message until the connection closes. Echoes
/// are batched: the socket is flushed when no further message is ready.
/// When `shutdown` turns true, close with 1001 and finish the handshake.
pub async fn echo<S>(
    mut ws: WebSocketStream<S>,
    mut shutdown: Option<watch::Receiver<bool>>,
    stats: Option<&ConnStats>,
) -> Result<EchoEnd, wsx::Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut unflushed = false;
    loop {
        let next = if unflushed {
            match poll_fn(|cx| Poll::Ready(ws.poll_next_unpin(cx))).await {
                Poll::Ready(n) => n,
                Poll::Pending => {
                    ws.flush().await?;
                    unflushed = false;
                    continue;
                }
            }
        } else if let Some(rx) = shutdown.as_mut() {
            tokio::select! {
                n = ws.next() => n,
                _ = async { let _ = rx.wait_for(|v| *v).await; } => {
                    debug!("shutting down: closing with 1001");
                    let _ = ws.send(Message::Close(Some(wsx::CloseFrame {
                        code: wsx::CloseCode::Away,
                        reason: "server shutting down".into(),
                    }))).await;
                    while let Some(m) = ws.next().await {
                        if m.is_err() { break; }
                    }
                    return Ok(EchoEnd::Shutdown);
                }
            }
        } else {
            ws.next().await
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
