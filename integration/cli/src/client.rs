//! `wsx client URL`: stdin lines out, received messages to stdout.

use std::io::Write;

use futures_util::{SinkExt, StreamExt};

use wsx::{ClientConfig, Message};

use crate::args::ClientArgs;
use crate::stdin::StdinLines;

/// Connect, pump stdin to the server and the server to stdout.
pub async fn run(args: ClientArgs) -> Result<(), String> {
    if args.common.mux {
        return crate::mux_client::run(args).await;
    }
    let mut config =
        ClientConfig::default().with_extensions(crate::extensions::client(&args.common)?);
    config.websocket.max_message_size = args.common.max_message_size;
    config.websocket.max_frame_size = args.common.max_message_size;
    config.subprotocols = args.protocols.clone();
    let (ws, _resp) = wsx::connect_with(&args.url, &config)
        .await
        .map_err(|e| format!("cannot connect to {}: {e}", args.url))?;
    eprintln!("protocol: {}", ws.protocol().unwrap_or(""));
    eprintln!("extensions: {}", ws.extensions().unwrap_or(""));

    let (mut sink, mut stream) = ws.split();
    let writer = tokio::spawn(async move {
        let mut lines = StdinLines::new();
        while let Some(text) = lines.next().await {
            if let Err(e) = sink.send(Message::text(text)).await {
                return Err(format!("send failed: {e}"));
            }
        }
        sink.close().await.map_err(|e| format!("close failed: {e}"))
    });

    let mut result = Ok(());
    while let Some(msg) = stream.next().await {
        match msg {
            Ok(Message::Text(t)) => print_line(t.as_bytes()),
            Ok(Message::Binary(b)) => print_line(&b),
            Ok(Message::Close(frame)) => {
                if let Some(f) = frame {
                    let code = u16::from(f.code);
                    if code != 1000 {
                        eprintln!("closed by server: {code} {}", f.reason);
                        result = Err(format!("server closed with {code}"));
                    }
                }
            }
            Ok(_) => {}
            Err(e) => {
                result = Err(e.to_string());
                break;
            }
        }
    }
    match writer.await {
        Ok(Err(e)) if result.is_ok() => result = Err(e),
        _ => {}
    }
    result
}

fn print_line(bytes: &[u8]) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(bytes);
    let _ = out.write_all(b"\n");
    let _ = out.flush();
}
