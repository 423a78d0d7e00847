//! yawc 0.5 echo server with permessage-deflate.
//!
//! yawc's server side is an upgrade of a hyper request
//! (`WebSocket::upgrade_with_options`), so this serves HTTP/1.1 with hyper and
//! upgrades every request. Options: `DeflateOptions::default()` (zlib-rs via
//! flate2, level 6, context takeover, threshold 0), `with_utf8()` so text is
//! validated as the other peers do, `with_no_delay()`, and the 64 MiB message
//! limit of the other peers; everything else is yawc's default.

use futures_util::{SinkExt, StreamExt};
use http_body_util::Empty;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use peer_common::MAX_MESSAGE;
use tokio::net::TcpStream;
use yawc::frame::{Frame, OpCode};
use yawc::{DeflateOptions, Options, WebSocket};

fn options() -> Options {
    Options {
        compression: Some(DeflateOptions::default()),
        ..Options::default()
    }
    .with_utf8()
    .with_no_delay()
    .with_limits(MAX_MESSAGE + 1, 2 * MAX_MESSAGE)
}

async fn upgrade(mut req: Request<Incoming>) -> yawc::Result<Response<Empty<Bytes>>> {
    let (response, fut) = WebSocket::upgrade_with_options(&mut req, options())?;
    tokio::spawn(async move {
        let Ok(mut ws) = fut.await else {
            return;
        };
        // Pings are answered and closes acknowledged by yawc itself.
        while let Some(frame) = ws.next().await {
            let (op, _, payload) = frame.into_parts();
            let reply = match op {
                OpCode::Text => Frame::text(payload),
                OpCode::Binary => Frame::binary(payload),
                OpCode::Close => return,
                _ => continue,
            };
            if ws.send(reply).await.is_err() {
                return;
            }
        }
    });
    Ok(response)
}

async fn handle(tcp: TcpStream) {
    let _ = http1::Builder::new()
        .serve_connection(TokioIo::new(tcp), service_fn(upgrade))
        .with_upgrades()
        .await;
}

fn main() -> std::io::Result<()> {
    peer_common::serve("echo-yawc", handle)
}
