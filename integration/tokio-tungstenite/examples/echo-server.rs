//! An echo server written for tokio-tungstenite, unchanged: built against
//! wsx-tokio-tungstenite it negotiates permessage-deflate with clients that
//! offer it (browsers, Node `ws`, Python `websockets`).
//!
//! Run: `cargo run -p wsx-tokio-tungstenite --example echo-server [ADDR]`
//! (default `127.0.0.1:9002`; port 0 picks one). Prints
//! `Listening on: ws://ADDR` once bound, and per connection the negotiated
//! `Sec-WebSocket-Extensions` (an addition for the peer checks; with the
//! real tokio-tungstenite, drop that line).

use futures_util::{SinkExt, StreamExt};
use std::{env, io::Error};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Result;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let addr = env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9002".to_string());
    let listener = TcpListener::bind(&addr).await?;
    println!("Listening on: ws://{}", listener.local_addr()?);
    while let Ok((stream, _)) = listener.accept().await {
        tokio::spawn(accept_connection(stream));
    }
    Ok(())
}

async fn accept_connection(stream: TcpStream) {
    if let Err(e) = handle_connection(stream).await {
        eprintln!("Error processing connection: {e}");
    }
}

async fn handle_connection(stream: TcpStream) -> Result<()> {
    let mut ws_stream = tokio_tungstenite::accept_async(stream).await?;
    println!("extensions: {}", ws_stream.extensions().unwrap_or("none"));
    while let Some(msg) = ws_stream.next().await {
        let msg = msg?;
        if msg.is_text() || msg.is_binary() {
            ws_stream.send(msg).await?;
        }
    }
    Ok(())
}
