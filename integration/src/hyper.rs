//! hyper 1 integration, in the shape hyper-tungstenite users know:
//! [`is_upgrade_request`] to route, [`upgrade`] to answer with the 101 and
//! get a future of the [`WebSocketStream`].
//!
//! ```no_run
//! use bytes::Bytes;
//! use futures_util::{SinkExt, StreamExt};
//! use http_body_util::Full;
//! use hyper::{Request, Response};
//!
//! async fn serve(
//!     mut req: Request<hyper::body::Incoming>,
//!     config: &wsx::ServerConfig,
//! ) -> Result<Response<Full<Bytes>>, wsx::Error> {
//!     if !wsx::hyper::is_upgrade_request(&req) {
//!         return Ok(Response::new(Full::new(Bytes::from("plain HTTP"))));
//!     }
//!     let (response, websocket) = wsx::hyper::upgrade(&mut req, config)?;
//!     tokio::spawn(async move {
//!         let Ok(mut ws) = websocket.await else { return };
//!         while let Some(Ok(msg)) = ws.next().await {
//!             if (msg.is_text() || msg.is_binary()) && ws.send(msg).await.is_err() {
//!                 break;
//!             }
//!         }
//!     });
//!     Ok(response)
//! }
//! ```

use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName};
use http::{Request, Response};
use http_body_util::Full;
use hyper::upgrade::{OnUpgrade, Upgraded};
use hyper_util::rt::TokioIo;

use crate::config::{ServerConfig, WebSocketConfig};
use crate::error::{Error, HandshakeError};
use crate::proto::handshake::server::Accepted;
use crate::stream::WebSocketStream;

/// The connection [`HyperWebsocket`] resolves to.
pub type HyperWebSocketStream = WebSocketStream<TokioIo<Upgraded>>;

/// Whether `req` asks for a WebSocket upgrade: `Connection` lists
/// `upgrade` and `Upgrade` lists `websocket` (case-insensitive). The full
/// validation happens in [`upgrade`].
pub fn is_upgrade_request<B>(req: &Request<B>) -> bool {
    header_has_token(req.headers(), header::CONNECTION, "upgrade")
        && header_has_token(req.headers(), header::UPGRADE, "websocket")
}

fn header_has_token(headers: &HeaderMap, name: HeaderName, token: &str) -> bool {
    headers.get_all(name).iter().any(|value| {
        value
            .to_str()
            .map(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
            .unwrap_or(false)
    })
}

/// Validate the upgrade request and negotiate (extensions, subprotocol,
/// the request callback) with `config`. Answer the request with the
/// returned 101, then await the [`HyperWebsocket`] (in another task: it
/// resolves only once hyper has sent the response).
///
/// An invalid request gives [`Error::Handshake`]; answer it with
/// [`HandshakeError::status`].
pub fn upgrade<B>(
    req: &mut Request<B>,
    config: &ServerConfig,
) -> Result<(Response<Full<Bytes>>, HyperWebsocket), Error> {
    let mut head = Request::new(());
    *head.method_mut() = req.method().clone();
    *head.uri_mut() = req.uri().clone();
    *head.version_mut() = req.version();
    *head.headers_mut() = req.headers().clone();
    let mut accepted = crate::negotiate_upgrade(&head, config)?;
    let on_upgrade = req.extensions_mut().remove::<OnUpgrade>().ok_or_else(|| {
        Error::Handshake(HandshakeError::Invalid(
            "the request cannot be upgraded (no hyper upgrade state)".into(),
        ))
    })?;
    let response = std::mem::take(&mut accepted.response).map(|()| Full::new(Bytes::new()));
    let websocket = HyperWebsocket {
        on_upgrade,
        accepted: Some(accepted),
        config: config.websocket.clone(),
    };
    Ok((response, websocket))
}

/// A future of the upgraded connection, from [`upgrade`].
#[derive(Debug)]
#[must_use = "the connection is only available by awaiting this"]
pub struct HyperWebsocket {
    on_upgrade: OnUpgrade,
    accepted: Option<Accepted>,
    config: WebSocketConfig,
}

impl Future for HyperWebsocket {
    type Output = Result<HyperWebSocketStream, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        // Polled again after it resolved: the upgrade is spent.
        if this.accepted.is_none() {
            return Poll::Ready(Err(Error::ConnectionClosed));
        }
        let upgraded = ready!(Pin::new(&mut this.on_upgrade).poll(cx));
        let Some(accepted) = this.accepted.take() else {
            return Poll::Ready(Err(Error::ConnectionClosed));
        };
        let upgraded = upgraded.map_err(|e| Error::Io(std::io::Error::other(e)))?;
        Poll::Ready(Ok(WebSocketStream::from_upgraded(
            TokioIo::new(upgraded),
            accepted,
            this.config.clone(),
        )))
    }
}
