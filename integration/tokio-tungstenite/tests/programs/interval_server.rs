//! tokio-tungstenite's interval server: echo, and push a message on a
//! timer, with `select!` over the read half and the interval.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::{Message, Result};
use tokio_tungstenite::{accept_async, tungstenite::Error};

pub async fn run(listener: TcpListener, period: Duration) {
    while let Ok((stream, peer)) = listener.accept().await {
        tokio::spawn(accept_connection(peer, stream, period));
    }
}

async fn accept_connection(peer: std::net::SocketAddr, stream: TcpStream, period: Duration) {
    if let Err(e) = handle_connection(stream, period).await {
        match e {
            Error::ConnectionClosed | Error::Protocol(_) | Error::Utf8(_) => (),
            err => eprintln!("{peer}: error processing connection: {err}"),
        }
    }
}

async fn handle_connection(stream: TcpStream, period: Duration) -> Result<()> {
    let ws_stream = accept_async(stream).await?;
    let (mut ws_sender, mut ws_receiver) = ws_stream.split();
    let mut interval = tokio::time::interval(period);
    let mut ticks = 0u32;
    loop {
        tokio::select! {
            msg = ws_receiver.next() => {
                match msg {
                    Some(msg) => {
                        let msg = msg?;
                        if msg.is_text() || msg.is_binary() {
                            ws_sender.send(msg).await?;
                        } else if msg.is_close() {
                            break;
                        }
                    }
                    None => break,
                }
            }
            _ = interval.tick() => {
                ticks += 1;
                ws_sender.send(Message::text(format!("tick {ticks} {}", "payload ".repeat(50)))).await?;
            }
        }
    }
    Ok(())
}
