//! The echo server of tokio-tungstenite's examples: split, filter, forward.

use futures_util::{future, StreamExt, TryStreamExt};
use tokio::net::{TcpListener, TcpStream};

pub async fn run(listener: TcpListener) {
    while let Ok((stream, _)) = listener.accept().await {
        tokio::spawn(accept_connection(stream));
    }
}

async fn accept_connection(stream: TcpStream) {
    let ws_stream = match tokio_tungstenite::accept_async(stream).await {
        Ok(ws) => ws,
        Err(e) => {
            eprintln!("Error during the websocket handshake occurred: {e}");
            return;
        }
    };
    let (write, read) = ws_stream.split();
    // We should not forward messages other than text or binary.
    if let Err(e) = read
        .try_filter(|msg| future::ready(msg.is_text() || msg.is_binary()))
        .forward(write)
        .await
    {
        eprintln!("Failed to forward messages: {e}");
    }
}
