//! axum 0.8's documented WebSocket echo handler (the example at the top of
//! `axum::extract::ws`), moved onto `wsx::axum` by its `use` line and
//! nothing else; it then negotiates permessage-deflate. The conformance
//! part `dropin-chromium` serves it to headless Chromium (scripts/README).
//!
//! The whole change, against axum's example as rustfmt leaves it in a
//! user's file:
//!
//! ```diff
//! -use axum::{
//! -    extract::ws::{WebSocket, WebSocketUpgrade},
//! -    response::{IntoResponse, Response},
//! -    routing::any,
//! -    Router,
//! -};
//! +use axum::{response::Response, routing::any, Router};
//! +use wsx::axum::{WebSocket, WebSocketUpgrade};
//! ```
//!
//! that is, `extract::ws::` becomes `wsx::axum::`, on a line of its own.
//! (`IntoResponse` goes too: axum's example imports it without using it,
//! which `-D warnings` rejects here, with or without wsx.) The router,
//! `handler` and `handle_socket` are axum's, character for character;
//! `main` is what the example leaves out: serve the router on a port.
//!
//! Run: `cargo run -p wsx --features axum --example axum_dropin [PORT]`
//! (default 3000; 0 picks a free one). It listens on 127.0.0.1 and prints
//! `listening on ws://127.0.0.1:PORT/ws`.

use axum::{response::Response, routing::any, Router};
use wsx::axum::{WebSocket, WebSocketUpgrade};

#[tokio::main]
async fn main() {
    let port: u16 = match std::env::args().nth(1) {
        Some(p) => p.parse().expect("usage: axum_dropin [PORT]"),
        None => 3000,
    };

    let app = Router::new().route("/ws", any(handler));

    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("bind");
    println!(
        "listening on ws://{}/ws",
        listener.local_addr().expect("local address")
    );
    axum::serve(listener, app).await.expect("serve");
}

async fn handler(ws: WebSocketUpgrade) -> Response {
    ws.on_upgrade(handle_socket)
}

async fn handle_socket(mut socket: WebSocket) {
    while let Some(msg) = socket.recv().await {
        let msg = if let Ok(msg) = msg {
            msg
        } else {
            // client disconnected
            return;
        };

        if socket.send(msg).await.is_err() {
            // client disconnected
            return;
        }
    }
}
