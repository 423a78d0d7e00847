//! Helpers shared by the broadcast test binaries.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use ws_deflate::{DeflateConfig, PerMessageDeflateClient, PerMessageDeflateServer};
use ws_ext_core::{ClientNegotiator, ServerNegotiator};
use wsx::{Broadcast, ClientConfig, Message, ServerConfig};

/// A server config with permessage-deflate at `cfg`.
pub fn deflate_server(cfg: DeflateConfig) -> ServerConfig {
    ServerConfig::default()
        .with_extensions(ServerNegotiator::new().with(PerMessageDeflateServer::new(cfg)))
}

/// A client that offers permessage-deflate at its defaults.
pub fn deflate_client() -> ClientConfig {
    ClientConfig::default().with_extensions(
        ClientNegotiator::new().with(PerMessageDeflateClient::new(DeflateConfig::default())),
    )
}

/// Until `room` has `n` members (10 s at most).
pub async fn wait_members(room: &Broadcast, n: usize) {
    let t0 = Instant::now();
    while room.len() < n {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "members never joined"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// The next text or binary message (10 s at most; no error, not closed).
pub async fn next_data<S>(ws: &mut wsx::WebSocketStream<S>) -> Message
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    loop {
        let m = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("a message in time")
            .expect("open")
            .expect("no error");
        if m.is_text() || m.is_binary() {
            return m;
        }
    }
}
