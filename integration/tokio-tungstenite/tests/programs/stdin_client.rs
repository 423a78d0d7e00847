//! tokio-tungstenite's client example: what is read from "stdin" (any
//! `AsyncRead` here) is sent as binary messages, what comes back is
//! written to "stdout" (any `AsyncWrite`).

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_tungstenite::{connect_async, tungstenite::protocol::Message};

pub async fn run<I, O>(
    url: &str,
    mut stdin: I,
    mut stdout: O,
) -> Result<(), tokio_tungstenite::tungstenite::Error>
where
    I: AsyncRead + Unpin,
    O: AsyncWrite + Unpin,
{
    let (ws_stream, _) = connect_async(url).await?;
    let (mut write, mut read) = ws_stream.split();

    let stdin_to_ws = async {
        let mut buf = vec![0; 1024];
        loop {
            let n = stdin.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            write.send(Message::binary(buf[..n].to_vec())).await?;
        }
        write.close().await
    };
    let ws_to_stdout = async {
        while let Some(msg) = read.next().await {
            if let Message::Binary(data) = msg? {
                stdout.write_all(&data).await?;
            }
        }
        stdout.flush().await?;
        Ok(())
    };
    tokio::try_join!(stdin_to_ws, ws_to_stdout)?;
    Ok(())
}
