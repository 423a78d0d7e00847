//! `wsx client --mux URL`: logical channels on one physical connection.
//!
//! Channel 1 is the URL's path and behaves like the plain client: each stdin
//! line is sent as a text message, each message received on it is printed
//! on its own stdout line. `--mux-path P` (repeatable) and `--mux-channels N`
//! open more channels; every stdin line is sent on each of them too, and
//! what they receive is printed as `[ID] message`. Without `--mux-token` the
//! client offers `mux_DO_NOT_USE` (mod_pywebsocket) and then `mux` (the
//! draft) and uses the one the server accepts.

use std::io::Write;
use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use tokio::task::JoinSet;
use wsx::mux::{MuxChannel, MuxClientConfig};
use wsx::Message;

use crate::args::ClientArgs;

/// The client configuration for these flags.
pub fn config(args: &ClientArgs) -> Result<MuxClientConfig, String> {
    let m = &args.common.mux_args;
    let mut config = match &m.mux_token {
        Some(t) if t == ws_mux::PYWEBSOCKET_TOKEN => MuxClientConfig::pywebsocket(),
        Some(t) => MuxClientConfig::default().with_token(t.clone()),
        None => MuxClientConfig::pywebsocket()
            .with_alternate_tokens(vec![ws_mux::DEFAULT_TOKEN.to_owned()]),
    };
    config.quota = Some(m.mux_quota);
    config.client.websocket.max_message_size = args.common.max_message_size;
    config.client.websocket.max_frame_size = args.common.max_message_size;
    config.mux.max_message_size = args.common.max_message_size;
    config.client.subprotocols = args.protocols.clone();
    if let Some(d) = crate::extensions::deflate_config(&args.common.deflate) {
        let pmd =
            ws_deflate::PerMessageDeflateClient::try_new(d).map_err(|e| format!("deflate: {e}"))?;
        config.channel_extensions.push(Arc::new(pmd));
    }
    Ok(config)
}

fn describe(ws: &MuxChannel) -> String {
    let info = ws.get_ref().info();
    format!(
        "channel {} ({}) extensions: {}",
        info.id,
        info.path,
        info.extensions.join(", ")
    )
}

/// Connect with mux, open the channels, pump stdin to every channel and
/// the channels to stdout.
pub async fn run(args: ClientArgs) -> Result<(), String> {
    let config = config(&args)?;
    let (client, first) = wsx::mux::connect_mux(&args.url, &config)
        .await
        .map_err(|e| format!("cannot connect to {} with mux: {e}", args.url))?;
    eprintln!("protocol: {}", first.protocol().unwrap_or(""));
    eprintln!("extensions: {}", client.extensions().unwrap_or(""));
    eprintln!("mux: token {}, {}", client.token(), describe(&first));
    let mut paths = args.common.mux_args.mux_paths.clone();
    let own = first.get_ref().info().path.clone();
    paths.extend(std::iter::repeat_n(own, args.common.mux_args.mux_channels));
    let mut channels = vec![first];
    for p in paths {
        let ch = client
            .open_channel(&p)
            .await
            .map_err(|e| format!("cannot open a channel to {p}: {e}"))?;
        eprintln!("mux: {}", describe(&ch));
        channels.push(ch);
    }

    let mut sinks = Vec::new();
    let mut readers = JoinSet::new();
    for (i, ch) in channels.into_iter().enumerate() {
        let id = ch.get_ref().id();
        let (sink, stream) = ch.split();
        sinks.push(sink);
        readers.spawn(read_channel(stream, (i > 0).then_some(id)));
    }
    let writer = tokio::spawn(async move {
        let mut lines = crate::stdin::StdinLines::new();
        while let Some(text) = lines.next().await {
            for sink in sinks.iter_mut() {
                if let Err(e) = sink.send(Message::text(text.clone())).await {
                    return Err(format!("send failed: {e}"));
                }
            }
        }
        for sink in sinks.iter_mut() {
            sink.close()
                .await
                .map_err(|e| format!("close failed: {e}"))?;
        }
        Ok(())
    });
    let mut result = Ok(());
    while let Some(r) = readers.join_next().await {
        match r {
            Ok(Err(e)) if result.is_ok() => result = Err(e),
            Err(e) if result.is_ok() => result = Err(e.to_string()),
            _ => {}
        }
    }
    match writer.await {
        Ok(Err(e)) if result.is_ok() => result = Err(e),
        _ => {}
    }
    client.close().await;
    result
}

async fn read_channel(
    mut stream: futures_util::stream::SplitStream<MuxChannel>,
    prefix: Option<u32>,
) -> Result<(), String> {
    while let Some(msg) = stream.next().await {
        match msg {
            Ok(Message::Text(t)) => print_line(prefix, t.as_bytes()),
            Ok(Message::Binary(b)) => print_line(prefix, &b),
            Ok(Message::Close(Some(f))) => {
                let code = u16::from(f.code);
                if code != 1000 {
                    eprintln!("channel closed by the server: {code} {}", f.reason);
                    return Err(format!("server closed a channel with {code}"));
                }
            }
            Ok(_) => {}
            Err(e) => return Err(e.to_string()),
        }
    }
    Ok(())
}

fn print_line(prefix: Option<u32>, bytes: &[u8]) {
    let mut out = std::io::stdout().lock();
    if let Some(id) = prefix {
        let _ = write!(out, "[{id}] ");
    }
    let _ = out.write_all(bytes);
    let _ = out.write_all(b"\n");
    let _ = out.flush();
}
