//! `accept_hdr_async` with a header callback, as tokio-tungstenite's
//! server-headers example: look at the request, add a response header, or
//! refuse with an error response.

use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::{
    accept_hdr_async,
    tungstenite::{
        handshake::server::{ErrorResponse, Request, Response},
        http::StatusCode,
        Message,
    },
};

pub async fn run(listener: TcpListener) {
    while let Ok((stream, _)) = listener.accept().await {
        tokio::spawn(accept_connection(stream));
    }
}

async fn accept_connection(stream: TcpStream) {
    let mut seen = String::new();
    let callback = |req: &Request, mut response: Response| {
        let token = req
            .headers()
            .get("x-token")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if req.uri().path() == "/forbidden" || token == "bad" {
            let mut err = ErrorResponse::new(Some("go away".to_string()));
            *err.status_mut() = StatusCode::FORBIDDEN;
            err.headers_mut()
                .insert("x-reason", "forbidden".parse().unwrap());
            return Err(err);
        }
        seen = format!("path={} token={token}", req.uri().path());
        let headers = response.headers_mut();
        headers.append("MyCustomHeader", ":)".parse().unwrap());
        Ok(response)
    };
    let mut ws_stream = match accept_hdr_async(stream, callback).await {
        Ok(ws) => ws,
        Err(e) => {
            eprintln!("Error during the websocket handshake occurred: {e}");
            return;
        }
    };
    if ws_stream.send(Message::text(seen)).await.is_err() {
        return;
    }
    while let Some(msg) = ws_stream.next().await {
        let Ok(msg) = msg else { return };
        if (msg.is_text() || msg.is_binary()) && ws_stream.send(msg).await.is_err() {
            return;
        }
    }
}
