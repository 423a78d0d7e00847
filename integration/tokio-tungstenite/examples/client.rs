//! A line client written for tokio-tungstenite, unchanged but for the
//! printed extension: each stdin line is sent as a text message, each text
//! message received is printed as a line; at the end of stdin the client
//! closes and waits for the closing handshake.
//!
//! Run: `cargo run -p wsx-tokio-tungstenite --example client -- ws://127.0.0.1:9002/`
//! The negotiated `Sec-WebSocket-Extensions` goes to stderr.

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio_tungstenite::{connect_async, tungstenite::protocol::Message};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::args()
        .nth(1)
        .ok_or("this program requires at least one argument")?;
    let (ws_stream, response) = connect_async(&url).await?;
    let ext = response
        .headers()
        .get("sec-websocket-extensions")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("none");
    eprintln!("extensions: {ext}");
    let (mut write, mut read) = ws_stream.split();

    let stdin_to_ws = async {
        let mut lines = BufReader::new(tokio::io::stdin()).lines();
        while let Some(line) = lines.next_line().await? {
            write.send(Message::text(line)).await?;
        }
        write.close().await?;
        Ok::<_, Box<dyn std::error::Error>>(())
    };
    let ws_to_stdout = async {
        let mut stdout = tokio::io::stdout();
        while let Some(msg) = read.next().await {
            if let Message::Text(text) = msg? {
                stdout.write_all(text.as_bytes()).await?;
                stdout.write_all(b"\n").await?;
            }
        }
        stdout.flush().await?;
        Ok::<_, Box<dyn std::error::Error>>(())
    };
    tokio::try_join!(stdin_to_ws, ws_to_stdout)?;
    Ok(())
}
