//! ratchet 1.2 (crate `ratchet_rs`, feature `deflate`) echo server with
//! permessage-deflate: `accept_with(stream, WebSocketConfig::default(),
//! DeflateExtProvider::default(), SubprotocolRegistry::default())` as its
//! README and autobahn-server example do (C zlib via flate2, 15-bit windows,
//! context takeover; `WebSocketConfig::default()` is a 64 MiB message limit).
//! Text is checked as UTF-8 before it is echoed, as in ratchet's example.

use bytes::BytesMut;
use ratchet_rs::deflate::DeflateExtProvider;
use ratchet_rs::{Message, PayloadType, SubprotocolRegistry, WebSocketConfig};
use tokio::io::{BufReader, BufWriter};
use tokio::net::TcpStream;

async fn handle(tcp: TcpStream) {
    let Ok(upgrader) = ratchet_rs::accept_with(
        BufReader::new(BufWriter::new(tcp)),
        WebSocketConfig::default(),
        DeflateExtProvider::default(),
        SubprotocolRegistry::default(),
    )
    .await
    else {
        return;
    };
    let Ok(upgraded) = upgrader.upgrade().await else {
        return;
    };
    let mut ws = upgraded.websocket;
    let mut buf = BytesMut::new();
    loop {
        let kind = match ws.read(&mut buf).await {
            Ok(Message::Text) => {
                if std::str::from_utf8(&buf).is_err() {
                    return;
                }
                PayloadType::Text
            }
            Ok(Message::Binary) => PayloadType::Binary,
            Ok(Message::Ping(_) | Message::Pong(_)) => continue,
            Ok(Message::Close(_)) | Err(_) => return,
        };
        if ws.write(&mut buf, kind).await.is_err() || ws.flush().await.is_err() {
            return;
        }
        buf.clear();
    }
}

fn main() -> std::io::Result<()> {
    peer_common::serve("echo-ratchet", handle)
}
