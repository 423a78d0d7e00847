//! A tokio-tungstenite echo server, moved to wsx to get permessage-deflate.
//!
//! tungstenite rejects every frame with an RSV bit set, so it cannot
//! receive compressed messages at all. wsx keeps tungstenite's `Message`
//! type and the `Stream`/`Sink` API and negotiates permessage-deflate by
//! default, so the migration is two lines:
//!
//! ```text
//! - use tokio_tungstenite::tungstenite::Message;
//! + use wsx::Message;
//! - let mut ws = tokio_tungstenite::accept_async(stream).await?;
//! + let mut ws = wsx::accept(stream).await?;
//! ```
//!
//! (and the handler's error type, `tungstenite::Error` → `wsx::Error`).
//! The message loop does not change. A program that should not change at
//! all can depend on `wsx-tokio-tungstenite` under the name
//! `tokio-tungstenite` instead (a dependency rename, no code change).
//!
//! Run: `cargo run -p wsx --example tungstenite_server [ADDR]`, then
//! `wsx client ws://127.0.0.1:9002/`.

use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use wsx::Message;

/// The accept loop, as with tokio-tungstenite.
pub async fn serve(listener: TcpListener) {
    while let Ok((stream, peer)) = listener.accept().await {
        tokio::spawn(async move {
            if let Err(e) = handle(stream).await {
                eprintln!("{peer}: {e}");
            }
        });
    }
}

async fn handle(stream: TcpStream) -> Result<(), wsx::Error> {
    // Before: let mut ws = tokio_tungstenite::accept_async(stream).await?;
    let mut ws = wsx::accept(stream).await?;
    // Unchanged from here on.
    while let Some(msg) = ws.next().await {
        let msg: Message = msg?;
        if msg.is_text() || msg.is_binary() {
            ws.send(msg).await?;
        }
    }
    Ok(())
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9002".into());
    let listener = TcpListener::bind(&addr).await?;
    println!("listening on ws://{}", listener.local_addr()?);
    serve(listener).await;
    Ok(())
}
