//! Context hibernation through the tokio adapter: after `hibernate_after`
//! of quiet, a permessage-deflate connection with context takeover gives
//! its compressor and decompressor back to the factory's pool (both ends
//! here), and the messages after the quiet spell still round-trip exactly
//! and still compress against the earlier ones.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpListener;
use ws_deflate::{DeflateConfig, PerMessageDeflateClient, PerMessageDeflateServer};
use ws_ext_core::{ClientNegotiator, ServerNegotiator};
use wsx::{ClientConfig, Message, ServerConfig};

fn chat(i: usize) -> String {
    format!(
        "{{\"type\":\"message\",\"id\":{},\"room\":\"general\",\"user\":\"user{}\",\"text\":\"{}\"}}",
        1000 + i,
        i % 7,
        "the quick brown fox jumps over the lazy dog ".repeat(1 + i % 5)
    )
}

#[tokio::test]
async fn quiet_connections_hibernate_and_carry_on() {
    let factory = PerMessageDeflateServer::try_new(DeflateConfig::default()).unwrap();
    let pool = factory.pool().clone();
    let mut server_cfg =
        ServerConfig::default().with_extensions(ServerNegotiator::new().with(factory));
    server_cfg.websocket.hibernate_after = Some(Duration::from_millis(100));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut ws = wsx::accept_with(tcp, &server_cfg).await.unwrap();
        while let Some(m) = ws.next().await {
            if let m @ (Message::Text(_) | Message::Binary(_)) = m.unwrap() {
                ws.send(m).await.unwrap();
            }
        }
    });

    // The client never hibernates (so its stream is continuous).
    let mut client_cfg = ClientConfig::default().with_extensions(
        ClientNegotiator::new().with(PerMessageDeflateClient::new(DeflateConfig::default())),
    );
    client_cfg.websocket.hibernate_after = None;
    let (mut ws, _) = wsx::connect_with(&url, &client_cfg).await.unwrap();
    assert_eq!(ws.extensions(), Some("permessage-deflate"));

    let mut i = 0;
    for round in 0..4 {
        for _ in 0..20 {
            let m = Message::text(chat(i));
            ws.send(m.clone()).await.unwrap();
            assert_eq!(ws.next().await.unwrap().unwrap(), m, "message {i}");
            i += 1;
        }
        // Busy: the server's context-takeover state is held, not pooled.
        let busy = pool.idle();
        // Quiet: both halves hibernate and their state goes to the pool
        // (which also lends the state that packs and unpacks windows).
        tokio::time::sleep(Duration::from_millis(400)).await;
        let quiet = pool.idle();
        assert!(
            quiet.0 > busy.0 && quiet.1 > busy.1,
            "round {round}: state hibernated (pool {busy:?} -> {quiet:?})"
        );
    }
    // The windows survived: a message seen before the last quiet spell
    // comes back compressed to a few bytes (checked on the server's side
    // by its inflater accepting the back-references, and here by the echo
    // being exact).
    let again = Message::text(chat(3));
    ws.send(again.clone()).await.unwrap();
    assert_eq!(ws.next().await.unwrap().unwrap(), again);
    ws.close().await.unwrap();
    while ws.next().await.is_some() {}
    server.await.unwrap();
}
