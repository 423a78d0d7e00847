//! Client entry points over tokio.

use bytes::BytesMut;
use http::Response;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::config::ClientConfig;
use crate::error::{Error, HandshakeError};
use crate::maybe_tls::MaybeTlsStream;
use crate::proto::connection::client_response;
use crate::proto::handshake::client::{self, Target};
use crate::stream::WebSocketStream;

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
/// use [`crate::tls::connect_tls_with`]) and the opening handshake, all
/// within the handshake timeout. `wss://` needs the `tls` feature (on by
/// default).
pub async fn connect_with(
    url: &str,
    config: &ClientConfig,
) -> Result<(WebSocketStream<MaybeTlsStream<TcpStream>>, Response<()>), Error> {
    #[cfg(feature = "tls")]
    {
        crate::tls::connect_tls_with(url, config, crate::tls::default_connector()?).await
    }
    #[cfg(not(feature = "tls"))]
    {
        let target = Target::parse(url)?;
        if target.tls {
            return Err(HandshakeError::Url(format!(
                "{url}: wss:// needs wsx built with the `tls` feature"
            ))
            .into());
        }
        let fut = async {
            let tcp = open_tcp(&target).await?;
            client_handshake(MaybeTlsStream::Plain(tcp), &target, config).await
        };
        match tokio::time::timeout(config.handshake_timeout, fut).await {
            Ok(r) => r,
            Err(_) => Err(HandshakeError::Timeout.into()),
        }
    }
}

/// TCP to the target's host and port, with `TCP_NODELAY` (small frames
/// leave at once).
pub(crate) async fn open_tcp(target: &Target) -> std::io::Result<TcpStream> {
    let tcp = TcpStream::connect((target.host.as_str(), target.port)).await?;
    tcp.set_nodelay(true)?;
    Ok(tcp)
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
    let (request, key) = client::request(target, config);
    stream.write_all(&request).await?;
    stream.flush().await?;
    let mut buf = BytesMut::with_capacity(1024);
    loop {
        if let Some((conn, response)) = client_response(&mut buf, &key, config)? {
            return Ok((
                WebSocketStream::from_connection(stream, conn, buf),
                response,
            ));
        }
        if stream.read_buf(&mut buf).await? == 0 {
            return Err(HandshakeError::Eof.into());
        }
    }
}
