//! A tokio-tungstenite echo server, moved to wsx to get permessage-deflate.
//!
//! tungstenite rejects every frame with an RSV bit set, so it cannot
//! receive compressed messages at all. wsx keeps its `Message` type and the
//! `Stream`/`Sink` API, so the change is the accept call and a config:
//!
//! ```text
//! // Before (tokio-tungstenite):
//! let mut ws = tokio_tungstenite::accept_async(stream).await?;
//!
//! // After (wsx, with permessage-deflate):
//! let mut ws = wsx::accept_with(stream, &config).await?;
//! ```
//!
//! and, once at startup, a `wsx::ServerConfig` with the extension (see
//! [`config`]). `use tokio_tungstenite::tungstenite::Message` becomes
//! `use wsx::Message` (the same type, re-exported). The message loop does
//! not change.
//!
//! Run: `cargo run -p wsx --example tungstenite_server [ADDR]`, then
//! `wsx client ws://127.0.0.1:9002/`.

use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use ws_deflate::{DeflateConfig, PerMessageDeflateServer};
use ws_ext_core::ServerNegotiator;
use wsx::Message;

/// The server's WebSocket configuration: accept permessage-deflate.
pub fn config() -> wsx::ServerConfig {
    let deflate = PerMessageDeflateServer::try_new(DeflateConfig::default())
        .expect("the default deflate configuration is valid");
    wsx::ServerConfig::default().with_extensions(ServerNegotiator::new().with(deflate))
}

/// The accept loop, as with tokio-tungstenite.
pub async fn serve(listener: TcpListener, config: Arc<wsx::ServerConfig>) {
    while let Ok((stream, peer)) = listener.accept().await {
        let config = config.clone();
        tokio::spawn(async move {
            if let Err(e) = handle(stream, &config).await {
                eprintln!("{peer}: {e}");
            }
        });
    }
}

async fn handle(stream: TcpStream, config: &wsx::ServerConfig) -> Result<(), wsx::Error> {
    // Before: let mut ws = tokio_tungstenite::accept_async(stream).await?;
    let mut ws = wsx::accept_with(stream, config).await?;
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
    serve(listener, Arc::new(config())).await;
    Ok(())
}
