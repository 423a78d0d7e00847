//! `wsx serve --mux`: accept the multiplexing extension and echo on every
//! logical channel exactly as on a plain connection (a client that does not
//! offer mux gets a plain echo connection).

use std::sync::{Arc, OnceLock};

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;
use tracing::debug;
use wsx::mux::{MuxAccepted, MuxServerConfig};
use wsx::ServerConfig;

use crate::args::CommonArgs;
use crate::echo::echo;

static CONFIG: OnceLock<Arc<MuxServerConfig>> = OnceLock::new();

/// With `--mux`, remember the mux configuration derived from the server's
/// (its extensions serve the channels, and plain clients).
pub fn init(args: &CommonArgs, server: &ServerConfig) {
    if !args.mux {
        return;
    }
    let base = if args.mux_args.mux_token.as_deref() == Some(ws_mux::PYWEBSOCKET_TOKEN) {
        ws_mux::MuxConfig::pywebsocket()
    } else {
        ws_mux::MuxConfig::default()
    };
    let mux = base.with_max_message_size(args.max_message_size);
    let config = MuxServerConfig::default()
        .with_server(server.clone())
        .with_token(
            args.mux_args
                .mux_token
                .clone()
                .unwrap_or_else(|| ws_mux::DEFAULT_TOKEN.to_owned()),
        )
        .with_mux(mux)
        .with_channel_extensions(server.extensions.clone());
    let _ = CONFIG.set(Arc::new(config));
}

/// The mux configuration, when serving with `--mux`.
pub fn config() -> Option<Arc<MuxServerConfig>> {
    CONFIG.get().cloned()
}

/// Answer an upgrade request with mux and echo on every channel until the
/// physical connection ends; on `stop`, every channel closes with 1001.
pub async fn handle<S>(
    stream: S,
    req: &http::Request<()>,
    leftover: BytesMut,
    config: &MuxServerConfig,
    stop: watch::Receiver<bool>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut server = match wsx::mux::accept_mux_request(stream, req, leftover, config).await {
        Ok(MuxAccepted::Mux(s)) => s,
        Ok(MuxAccepted::Plain(mut ws)) => {
            if let Err(e) = echo(&mut ws, Some(stop), None).await {
                debug!(error = %e, "connection ended with an error");
            }
            return;
        }
        Err(e) => {
            debug!(error = %e, "mux handshake failed");
            return;
        }
    };
    let mut channels = tokio::task::JoinSet::new();
    let mut stopped = stop.clone();
    let mut stopping = false;
    loop {
        tokio::select! {
            ch = server.next_channel() => match ch {
                Some(ch) => {
                    debug!(channel = ch.stream.get_ref().id(), path = ch.path(), "logical channel");
                    let stop = stop.clone();
                    channels.spawn(async move {
                        let mut ws = ch.stream;
                        if let Err(e) = echo(&mut ws, Some(stop), None).await {
                            debug!(error = %e, "channel ended with an error");
                        }
                    });
                }
                None => break,
            },
            Some(_) = channels.join_next(), if !channels.is_empty() => {}
            _ = stopped.wait_for(|v| *v) => {
                stopping = true;
                break;
            }
        }
    }
    if stopping {
        // Every channel closes with 1001 (its echo loop sees `stop`), then
        // the physical connection does too.
        while channels.join_next().await.is_some() {}
        server
            .close(wsx::CloseCode::Away, "server shutting down")
            .await;
    } else {
        // No more channels; the physical connection closes once the open
        // ones are done.
        drop(server);
        while channels.join_next().await.is_some() {}
    }
}
