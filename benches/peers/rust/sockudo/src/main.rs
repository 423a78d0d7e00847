//! sockudo-ws 3.1 echo server with permessage-deflate.
//!
//! sockudo-ws's plain HTTP/1.1 `WebSocketServer::accept` does not negotiate
//! permessage-deflate (only its axum integration does), so this does what
//! that integration does: parse the upgrade with `handshake::parse_request`,
//! negotiate with `deflate::negotiate_server_deflate` against the policy of
//! `Compression::Dedicated` (the crate's per-connection compressor: 15-bit
//! windows, context takeover, level 6, messages under 16 B sent plain), answer
//! with `handshake::build_response`, then run a `CompressedWebSocketStream`.
//! A client that offers no acceptable deflate gets a plain `WebSocketStream`.
//! Everything else is `Config::default()` (64 MiB messages, UTF-8 checked).

use bytes::{Bytes, BytesMut};
use futures_util::{SinkExt, Stream, StreamExt};
use sockudo_ws::handshake::{build_response, generate_accept_key, parse_request};
use sockudo_ws::{CompressedWebSocketStream, Compression, Config, Message, WebSocketStream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Reads the upgrade request, answers it; returns the negotiated deflate
/// parameters (if any) and the bytes read past the request.
async fn handshake(
    tcp: &mut TcpStream,
    config: &Config,
) -> Option<(Option<sockudo_ws::DeflateConfig>, Bytes)> {
    let mut buf = BytesMut::with_capacity(4096);
    loop {
        if tcp.read_buf(&mut buf).await.ok()? == 0 {
            return None;
        }
        let (req, used) = match parse_request(&buf) {
            Ok(Some(parsed)) => parsed,
            Ok(None) if buf.len() < 64 * 1024 => continue,
            _ => return None,
        };
        let policy = config.compression.to_deflate_config()?;
        let negotiated = req
            .extensions
            .and_then(|offers| sockudo_ws::deflate::negotiate_server_deflate(offers, &policy));
        let header = negotiated.as_ref().map(|n| n.to_response_header());
        let response = build_response(&generate_accept_key(req.key), None, header.as_deref());
        let deflate = negotiated.map(|n| n.config);
        tcp.write_all(&response).await.ok()?;
        let leftover = buf.split_off(used).freeze();
        return Some((deflate, leftover));
    }
}

/// Echoes every text and binary message; pings, pongs and the closing
/// handshake are answered by the stream itself.
async fn echo<W>(mut ws: W)
where
    W: Stream<Item = sockudo_ws::Result<Message>> + futures_util::Sink<Message> + Unpin,
{
    while let Some(Ok(msg)) = ws.next().await {
        match msg {
            Message::Text(_) | Message::Binary(_) => {
                if ws.send(msg).await.is_err() {
                    return;
                }
            }
            Message::Close(_) => return,
            Message::Ping(_) | Message::Pong(_) => {}
        }
    }
}

async fn handle(mut tcp: TcpStream) {
    let config = Config::builder()
        .compression(Compression::Dedicated)
        .build();
    let Some((deflate, leftover)) = handshake(&mut tcp, &config).await else {
        return;
    };
    let leftover = (!leftover.is_empty()).then_some(leftover);
    match deflate {
        Some(dc) => {
            echo(CompressedWebSocketStream::server_with_leftover(
                tcp, config, dc, leftover,
            ))
            .await
        }
        None => {
            let ws = WebSocketStream::from_raw_with_leftover(
                tcp,
                sockudo_ws::Role::Server,
                config,
                leftover,
            );
            echo(ws).await
        }
    }
}

fn main() -> std::io::Result<()> {
    peer_common::serve("echo-sockudo", handle)
}
