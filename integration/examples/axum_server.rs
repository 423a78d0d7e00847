//! permessage-deflate in an axum app, on the low-level path.
//!
//! The short path is `wsx::axum` (feature `axum`): axum's own
//! `extract::ws` API with permessage-deflate, changed by one `use` line
//! (see `tests/axum_compat.rs`). This example shows what is underneath,
//! for apps that want a `wsx::ServerConfig` (its request callback, its
//! extension negotiator) on the route. The WebSocket route is a plain
//! handler: wsx validates the request and negotiates
//! ([`wsx::negotiate_upgrade`]), the handler answers with wsx's 101
//! (including `Sec-WebSocket-Extensions`), and hyper hands over the
//! upgraded connection, which [`wsx::WebSocketStream::from_upgraded`] wraps.
//! The rest of the app is ordinary axum.
//!
//! Run: `cargo run -p wsx --example axum_server [ADDR]`, then
//! `wsx client ws://127.0.0.1:3000/ws`.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use futures_util::{SinkExt, StreamExt};
use hyper_util::rt::TokioIo;
use wsx::{ServerConfig, WebSocketStream};

/// The app: an echo WebSocket at `/ws`, plain text at `/`.
pub fn app(config: ServerConfig) -> Router {
    Router::new()
        .route("/", get(|| async { "hello from axum" }))
        .route("/ws", get(ws_handler))
        .with_state(Arc::new(config))
}

/// The WebSocket configuration: permessage-deflate at the default policy
/// (wsx's default), a request callback or a subprotocol list would go here.
pub fn config() -> ServerConfig {
    ServerConfig::default()
}

async fn ws_handler(State(config): State<Arc<ServerConfig>>, mut req: Request) -> Response {
    // Validate the upgrade and negotiate extensions from the request head.
    let mut accepted = match wsx::negotiate_upgrade(&head_of(&req), &config) {
        Ok(accepted) => accepted,
        Err(e) => return (e.status(), e.to_string()).into_response(),
    };
    let on_upgrade = hyper::upgrade::on(&mut req);
    let response = std::mem::take(&mut accepted.response);
    // Once hyper has sent the 101, the connection is ours.
    tokio::spawn(async move {
        let upgraded = match on_upgrade.await {
            Ok(upgraded) => upgraded,
            Err(e) => return eprintln!("upgrade failed: {e}"),
        };
        let ws = WebSocketStream::from_upgraded(
            TokioIo::new(upgraded),
            accepted,
            config.websocket.clone(),
        );
        if let Err(e) = echo(ws).await {
            eprintln!("connection failed: {e}");
        }
    });
    // The 101 with Upgrade, Connection, Sec-WebSocket-Accept and
    // Sec-WebSocket-Extensions, as wsx built it.
    response.map(|()| Body::empty())
}

/// The request head (method, URI, version, headers) that wsx negotiates
/// from.
fn head_of(req: &Request) -> axum::http::Request<()> {
    let mut head = axum::http::Request::new(());
    *head.method_mut() = req.method().clone();
    *head.uri_mut() = req.uri().clone();
    *head.version_mut() = req.version();
    *head.headers_mut() = req.headers().clone();
    head
}

async fn echo<S>(mut ws: WebSocketStream<S>) -> Result<(), wsx::Error>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    while let Some(msg) = ws.next().await {
        let msg = msg?;
        if msg.is_text() || msg.is_binary() {
            ws.send(msg).await?;
        }
    }
    Ok(())
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:3000".into());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app(config())).await
}
