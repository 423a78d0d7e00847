//! wtx 0.46 echo server with permessage-deflate:
//! `WebSocketAcceptor::default().compression(Flate2::default()).accept(tcp)`
//! (flate2 on zlib-rs; wtx's `DeflateConfig::default()`: 12-bit windows both
//! ways, its default level, and no context takeover in either direction).
//! Everything else is wtx's default (64 MiB frames, UTF-8 checked text).
//! Pings are answered and closes acknowledged by wtx's reader itself.

use tokio::net::TcpStream;
use wtx::collection::Vector;
use wtx::web_socket::compression::Flate2;
use wtx::web_socket::{OpCode, WebSocketAcceptor, WebSocketPayloadOrigin};

async fn handle(tcp: TcpStream) {
    let accepted = WebSocketAcceptor::default()
        .compression(Flate2::default())
        .accept(tcp)
        .await;
    let mut ws = match accepted {
        Ok(ws) => ws,
        Err(e) => {
            eprintln!("echo-wtx: handshake: {e:?}");
            return;
        }
    };
    let mut buffer = Vector::new();
    let (mut common, mut reader, mut writer) = ws.split_mut();
    loop {
        let Ok(mut frame) = reader
            .read_frame(&mut buffer, &mut common, WebSocketPayloadOrigin::Adaptive)
            .await
        else {
            return;
        };
        let echo = match frame.op_code() {
            OpCode::Text | OpCode::Binary => true,
            OpCode::Close => return,
            _ => false,
        };
        if echo && writer.write_frame(&mut common, &mut frame).await.is_err() {
            return;
        }
    }
}

fn main() -> std::io::Result<()> {
    peer_common::serve("echo-wtx", handle)
}
