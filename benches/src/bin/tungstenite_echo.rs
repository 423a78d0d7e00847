//! A tokio-tungstenite echo server (uncompressed: tungstenite 0.30 has no
//! permessage-deflate), the uncompressed peer of `benches/side-by-side.sh`.
//!
//! `tungstenite-echo [--listen ADDR]` (default `127.0.0.1:0`) prints
//! `listening on ws://IP:PORT` once bound, like `wsx serve`, echoes every
//! text and binary message on every connection, and exits on SIGINT or
//! SIGTERM.

use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tungstenite::Message;

async fn handle(tcp: TcpStream) {
    let _ = tcp.set_nodelay(true);
    let Ok(mut ws) = tokio_tungstenite::accept_async(tcp).await else {
        return;
    };
    while let Some(Ok(msg)) = ws.next().await {
        if msg.is_close() {
            return; // tungstenite answers the close itself
        }
        let data = matches!(msg, Message::Text(_) | Message::Binary(_));
        if data && ws.send(msg).await.is_err() {
            return;
        }
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let mut listen = "127.0.0.1:0".to_owned();
    while let Some(a) = args.next() {
        match a.as_str() {
            "--listen" => listen = args.next().unwrap_or(listen),
            _ => {
                eprintln!("usage: tungstenite-echo [--listen ADDR]");
                std::process::exit(2);
            }
        }
    }
    let listener = TcpListener::bind(&listen).await?;
    println!("listening on ws://{}", listener.local_addr()?);
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                if let Ok((tcp, _)) = accepted {
                    tokio::spawn(handle(tcp));
                }
            }
            _ = tokio::signal::ctrl_c() => break,
            _ = term.recv() => break,
        }
    }
    Ok(())
}
