//! Client entry points over tokio.

use http::Response;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::config::ClientConfig;
use crate::error::{Error, HandshakeError};
use crate::maybe_tls::MaybeTlsStream;
use crate::proto::handshake::client::{ClientHandshake, Target};
use crate::stream::WebSocketStream;
#[cfg(feature = "tls")]
pub(crate) use crate::tls::TlsConnector;

/// Connect to a `ws://` or `wss://` URL with the default [`ClientConfig`].
///
/// ```no_run
/// # async fn run() -> Result<(), wsx::Error> {
/// use futures_util::{SinkExt, StreamExt};
/// let (mut ws, _response) = wsx::connect("ws://127.0.0.1:9998/").await?;
/// ws.send(wsx::Message::text("hello")).await?;
/// let echo = ws.next().await;
/// # let _ = echo; Ok(()) }
/// ```
pub async fn connect(
    url: &str,
) -> Result<(WebSocketStream<MaybeTlsStream<TcpStream>>, Response<()>), Error> {
    connect_with(url, &ClientConfig::default()).await
}

/// Connect to a `ws://` or `wss://` URL: TCP (with `TCP_NODELAY`), TLS for
/// `wss://` (trusting the `webpki-roots` Mozilla roots; for other roots
/// use [`connect_tls_with`]) and the opening handshake, all within the
/// handshake timeout. `wss://` needs the `tls` feature (on by default).
pub async fn connect_with(
    url: &str,
    config: &ClientConfig,
) -> Result<(WebSocketStream<MaybeTlsStream<TcpStream>>, Response<()>), Error> {
    connect_via(url, config, default_tls()?).await
}

/// Connect to a `ws://` or `wss://` URL with a TLS connector of your choice
/// for `wss://` (a private CA, say): TCP (with `TCP_NODELAY`), the TLS
/// handshake (server name from the URL's host), then the WebSocket
/// handshake, all within the handshake timeout.
#[cfg(feature = "tls")]
pub async fn connect_tls_with(
    url: &str,
    config: &ClientConfig,
    tls: &TlsConnector,
) -> Result<(WebSocketStream<MaybeTlsStream<TcpStream>>, Response<()>), Error> {
    connect_via(url, config, Some(tls)).await
}

async fn connect_via(
    url: &str,
    config: &ClientConfig,
    tls: Option<&TlsConnector>,
) -> Result<(WebSocketStream<MaybeTlsStream<TcpStream>>, Response<()>), Error> {
    let target = Target::parse(url)?;
    let fut = async {
        let stream = open_transport(&target, tls).await?;
        client_handshake(stream, &target, config).await
    };
    match tokio::time::timeout(config.handshake_timeout, fut).await {
        Ok(r) => r,
        Err(_) => Err(HandshakeError::Timeout.into()),
    }
}

/// Without the `tls` feature there is no TLS connector: `wss://` targets
/// fail with a clear error instead.
#[cfg(not(feature = "tls"))]
pub(crate) enum TlsConnector {}

/// The connector the entry points without one use for `wss://`: the
/// `webpki-roots` Mozilla roots (none without the `tls` feature).
pub(crate) fn default_tls() -> Result<Option<&'static TlsConnector>, Error> {
    #[cfg(feature = "tls")]
    {
        crate::tls::default_connector().map(Some)
    }
    #[cfg(not(feature = "tls"))]
    {
        Ok(None)
    }
}

/// TCP to the target (`TCP_NODELAY`: small frames leave at once), then for
/// `wss://` the TLS handshake (server name from the URL's host): the
/// transport every client entry point (plain and mux) runs its handshake
/// over.
pub(crate) async fn open_transport(
    target: &Target,
    tls: Option<&TlsConnector>,
) -> Result<MaybeTlsStream<TcpStream>, Error> {
    let tls = match (target.tls, tls) {
        (false, _) => None,
        (true, Some(tls)) => Some(tls),
        (true, None) => {
            return Err(HandshakeError::Url(format!(
                "wss://{}:{}: wss:// needs wsx built with the `tls` feature",
                target.host, target.port
            ))
            .into())
        }
    };
    let tcp = TcpStream::connect((target.host.as_str(), target.port)).await?;
    tcp.set_nodelay(true)?;
    match tls {
        None => Ok(MaybeTlsStream::Plain(tcp)),
        #[cfg(feature = "tls")]
        Some(tls) => Ok(MaybeTlsStream::from(tls.connect(&target.host, tcp).await?)),
        #[cfg(not(feature = "tls"))]
        Some(never) => match *never {},
    }
}

/// Run the client handshake over an already connected stream (TCP, TLS,
/// anything). Frames that arrive right behind the 101 are kept.
pub async fn client_handshake<S>(
    mut stream: S,
    target: &Target,
    config: &ClientConfig,
) -> Result<(WebSocketStream<S>, Response<()>), Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut hs = ClientHandshake::new(target, config);
    stream.write_all(hs.request()).await?;
    stream.flush().await?;
    loop {
        if let Some(done) = hs.poll()? {
            let (conn, leftover, response) = done.into_connection(config.websocket.clone());
            return Ok((
                WebSocketStream::from_connection(stream, conn, leftover),
                response,
            ));
        }
        if stream.read_buf(hs.buffer_mut()).await? == 0 {
            return Err(HandshakeError::Eof.into());
        }
    }
}
