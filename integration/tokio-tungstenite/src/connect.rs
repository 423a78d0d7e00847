//! [`connect_async`]: TCP (and TLS for `wss://`), then the handshake.

use tokio::net::TcpStream;
use tungstenite::client::IntoClientRequest;
use tungstenite::error::Error as WsError;
use tungstenite::handshake::client::Response;
use tungstenite::protocol::WebSocketConfig;

use crate::error::from_wsx;
use crate::handshake::{client_on, client_parts};
use crate::{MaybeTlsStream, WebSocketStream};

/// Connect to a `ws://` or `wss://` URL (or a [`tungstenite::http::Request`]
/// with extra headers, via [`IntoClientRequest`]) and run the handshake,
/// offering permessage-deflate (see [`crate::deflate`]).
///
/// `wss://` uses rustls with the `webpki-roots` Mozilla trust anchors.
///
/// ```no_run
/// # async fn test() {
/// use tokio_tungstenite::connect_async;
/// use tokio_tungstenite::tungstenite::client::IntoClientRequest;
///
/// let mut request = "ws://127.0.0.1:9001/".into_client_request().unwrap();
/// request.headers_mut().insert("api-key", "42".parse().unwrap());
/// let (stream, response) = connect_async(request).await.unwrap();
/// # let _ = (stream, response);
/// # }
/// ```
pub async fn connect_async<R>(
    request: R,
) -> Result<(WebSocketStream<MaybeTlsStream<TcpStream>>, Response), WsError>
where
    R: IntoClientRequest + Unpin,
{
    connect_async_with_config(request, None, false).await
}

/// [`connect_async`] with a configuration; `disable_nagle` sets
/// `TCP_NODELAY`.
pub async fn connect_async_with_config<R>(
    request: R,
    config: Option<WebSocketConfig>,
    disable_nagle: bool,
) -> Result<(WebSocketStream<MaybeTlsStream<TcpStream>>, Response), WsError>
where
    R: IntoClientRequest + Unpin,
{
    let request = request.into_client_request()?;
    let config = config.unwrap_or_default();
    let (target, client) = client_parts(&request, &config)?;
    let socket = TcpStream::connect((target.host.as_str(), target.port))
        .await
        .map_err(WsError::Io)?;
    if disable_nagle {
        socket.set_nodelay(true)?;
    }
    let stream = if target.tls {
        let tls = wsx::tls::default_connector().map_err(from_wsx)?;
        let s = tls.connect(&target.host, socket).await.map_err(from_wsx)?;
        MaybeTlsStream::from(s)
    } else {
        MaybeTlsStream::Plain(socket)
    };
    client_on(stream, &target, &client, config).await
}
