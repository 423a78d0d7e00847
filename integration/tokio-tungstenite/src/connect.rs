//! [`connect_async`]: TCP (and TLS for `wss://`), then the handshake; the
//! TLS entry points over a stream of your own.

use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::rustls;
use tungstenite::client::IntoClientRequest;
use tungstenite::error::Error as WsError;
use tungstenite::handshake::client::Response;
use tungstenite::protocol::WebSocketConfig;

use crate::error::from_wsx;
use crate::handshake::{client_on, client_parts};
use crate::{MaybeTlsStream, WebSocketStream};

/// How `wss://` connections are made, as in tokio-tungstenite: `None`
/// where one is asked for means rustls with the `webpki-roots` Mozilla
/// trust anchors.
#[non_exhaustive]
#[derive(Clone)]
pub enum Connector {
    /// No TLS, even for `wss://`.
    Plain,
    /// rustls with this client configuration (roots, client certificates,
    /// ALPN...).
    Rustls(Arc<rustls::ClientConfig>),
}

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Connector::Plain => f.write_str("Connector::Plain"),
            Connector::Rustls(_) => f.write_str("Connector::Rustls(..)"),
        }
    }
}

/// TLS over `stream` when the URL is `wss://`, per `connector`.
async fn wrap_stream<S>(
    stream: S,
    host: &str,
    tls: bool,
    connector: Option<Connector>,
) -> Result<MaybeTlsStream<S>, WsError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    if !tls {
        return Ok(MaybeTlsStream::Plain(stream));
    }
    let s = match connector {
        Some(Connector::Plain) => return Ok(MaybeTlsStream::Plain(stream)),
        Some(Connector::Rustls(config)) => wsx::TlsConnector::from_rustls(config)
            .connect(host, stream)
            .await
            .map_err(from_wsx)?,
        None => wsx::tls::default_connector()
            .map_err(from_wsx)?
            .connect(host, stream)
            .await
            .map_err(from_wsx)?,
    };
    Ok(MaybeTlsStream::from(s))
}

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
    connect_async_tls_with_config(request, config, disable_nagle, None).await
}

/// [`connect_async_with_config`] with a TLS [`Connector`] for `wss://`
/// (`None`: rustls with the webpki roots).
pub async fn connect_async_tls_with_config<R>(
    request: R,
    config: Option<WebSocketConfig>,
    disable_nagle: bool,
    connector: Option<Connector>,
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
    let stream = wrap_stream(socket, &target.host, target.tls, connector).await?;
    client_on(stream, &target, &client, config).await
}

/// [`crate::client_async`] over a stream of your own, with TLS for
/// `wss://` (rustls with the webpki roots).
pub async fn client_async_tls<R, S>(
    request: R,
    stream: S,
) -> Result<(WebSocketStream<MaybeTlsStream<S>>, Response), WsError>
where
    R: IntoClientRequest + Unpin,
    S: 'static + AsyncRead + AsyncWrite + Send + Unpin,
    MaybeTlsStream<S>: Unpin,
{
    client_async_tls_with_config(request, stream, None, None).await
}

/// [`client_async_tls`] with a configuration and a TLS [`Connector`].
pub async fn client_async_tls_with_config<R, S>(
    request: R,
    stream: S,
    config: Option<WebSocketConfig>,
    connector: Option<Connector>,
) -> Result<(WebSocketStream<MaybeTlsStream<S>>, Response), WsError>
where
    R: IntoClientRequest + Unpin,
    S: 'static + AsyncRead + AsyncWrite + Send + Unpin,
    MaybeTlsStream<S>: Unpin,
{
    let request = request.into_client_request()?;
    let config = config.unwrap_or_default();
    let (target, client) = client_parts(&request, &config)?;
    let stream = wrap_stream(stream, &target.host, target.tls, connector).await?;
    client_on(stream, &target, &client, config).await
}
