//! `wsx serve`: the echo server with a demo page.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tracing::{debug, info, warn};
use wsx::proto::handshake::{server::is_upgrade_request, simple_response};
use wsx::{HandshakeError, ServerConfig, WebSocketStream};

use crate::args::ServeArgs;
use crate::cores::Cores;
use crate::echo::{echo, EchoEnd};
use crate::rooms::Rooms;
use crate::stats::{query_id, ConnStats, Counted, Registration, Registry};

const DEMO_PAGE: &str = include_str!("demo.html");

/// Run the server until SIGINT or SIGTERM.
pub async fn run(args: ServeArgs) -> Result<(), String> {
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(
            wsx::tls::acceptor_from_pem_files(cert, key)
                .map_err(|e| format!("--tls-cert/--tls-key: {e}"))?,
        ),
        (None, None) => None,
        _ => return Err("--tls-cert and --tls-key go together".into()),
    };
    let mut config = ServerConfig::default()
        .with_extensions(crate::extensions::server(&args.common)?)
        .with_subprotocols(args.protocols.clone());
    config.websocket.max_message_size = args.common.max_message_size;
    config.websocket.max_frame_size = args.common.max_message_size;
    config.handshake_timeout = Duration::from_secs(args.handshake_timeout);
    config.max_header_bytes = args.max_header_bytes;
    config.websocket.close_timeout = Duration::from_secs(args.close_timeout);
    config.websocket.idle_timeout =
        (args.idle_timeout > 0).then(|| Duration::from_secs(args.idle_timeout));
    config.websocket.hibernate_after = if args.hibernate_after == 0.0 {
        None
    } else {
        let s = args.hibernate_after;
        Some(Duration::try_from_secs_f64(s).map_err(|e| format!("--hibernate-after {s}: {e}"))?)
    };
    let slots = (args.max_connections > 0)
        .then(|| Arc::new(tokio::sync::Semaphore::new(args.max_connections)));
    if config.websocket.hibernate_after.is_some() {
        crate::allocator::spawn_trimmer();
    }
    crate::mux_serve::init(&args.common, &config);
    let rooms = Rooms::from_args(&args)?;
    let deflate = &args.common.deflate;
    if rooms.is_some() && !deflate.no_deflate && !deflate.server_no_context_takeover {
        if args.broadcast_cohorts == 0 {
            info!(
                "--broadcast with context takeover and --broadcast-cohorts 0: each message is \
                 compressed once per connection; --server-no-context-takeover compresses it once \
                 for all"
            );
        } else {
            info!(
                max_cohorts = args.broadcast_cohorts,
                "--broadcast with context takeover: each message is compressed once per cohort \
                 of connections that were sent the same messages"
            );
        }
    }
    let broadcast = rooms.is_some();
    let hibernate_after = config.websocket.hibernate_after;
    let setup = Arc::new(Setup { config, rooms });
    let config = &setup.config;
    if let (Some(after), Some(_)) = (hibernate_after, &setup.rooms) {
        // Quiet rooms' cohort compressors hibernate as quiet connections do.
        let setup = setup.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(after.max(Duration::from_millis(100)));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if let Some(rooms) = &setup.rooms {
                    rooms.hibernate_idle(after);
                }
            }
        });
    }

    let listener = TcpListener::bind(&args.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    {
        let mut out = std::io::stdout().lock();
        let scheme = if tls.is_some() { "wss" } else { "ws" };
        let _ = writeln!(out, "listening on {scheme}://{addr}");
        let _ = out.flush();
    }
    let accepting = crate::extensions::server_names(&args.common).join(", ");
    info!(%addr, extensions = %accepting, protocols = ?config.subprotocols,
        broadcast, "serving");

    let workers = match args.workers {
        Some(n) => usize::from(n),
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let mut cores = Cores::start(workers).map_err(|e| format!("cannot start the runtimes: {e}"))?;
    info!(
        cores = cores.len(),
        "connections run on one thread per core"
    );
    let registry = Registry::default();
    let (stop_tx, stop_rx) = watch::channel(false);
    // Each connection holds a sender: when all are gone, all have ended.
    let (alive_tx, mut alive_rx) = mpsc::channel::<()>(1);
    // Connections refused for capacity, answered here.
    let mut conns = JoinSet::new();
    let signal = shutdown_signal();
    tokio::pin!(signal);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((tcp, peer)) => {
                    let permit = match &slots {
                        None => None,
                        Some(sem) => match sem.clone().try_acquire_owned() {
                            Ok(p) => Some(p),
                            Err(_) => {
                                let timeout = config.handshake_timeout;
                                let limit = config.max_header_bytes;
                                conns.spawn(async move { over_capacity(tcp, timeout, limit).await });
                                continue;
                            }
                        },
                    };
                    // To a core: the socket leaves this runtime and joins
                    // that core's.
                    let tcp = match tcp.into_std() {
                        Ok(tcp) => tcp,
                        Err(e) => {
                            warn!(error = %e, %peer, "cannot hand the connection over");
                            continue;
                        }
                    };
                    let (setup, stop, registry, tls, alive) = (
                        setup.clone(),
                        stop_rx.clone(),
                        registry.clone(),
                        tls.clone(),
                        alive_tx.clone(),
                    );
                    cores.spawn(move || match tokio::net::TcpStream::from_std(tcp) {
                        Ok(tcp) => Some(async move {
                            let _alive = alive;
                            connection(tcp, peer, permit, setup, stop, registry, tls).await;
                        }),
                        Err(e) => {
                            warn!(error = %e, %peer, "cannot register the connection");
                            None
                        }
                    });
                }
                Err(e) => {
                    warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
            _ = &mut signal => break,
        }
    }
    info!("shutting down");
    let _ = stop_tx.send(true);
    drop(listener);
    drop(alive_tx);
    let wait_all = async {
        while conns.join_next().await.is_some() {}
        // `None` once every connection has dropped its sender.
        let _ = alive_rx.recv().await;
    };
    if tokio::time::timeout(Duration::from_secs(5), wait_all)
        .await
        .is_err()
    {
        warn!("some connections did not close in time");
    }
    Ok(())
}

/// What every connection of the server shares.
struct Setup {
    config: ServerConfig,
    /// `--broadcast`: the rooms, by path (echo when `None`).
    rooms: Option<Rooms>,
}

/// One accepted TCP connection, for its whole life: the task `run` spawns.
/// It stays in memory as long as the connection is open, so it is kept
/// small: the TLS handshake and the TLS connection (rustls state is large)
/// are boxed, so a plain connection does not carry their size.
async fn connection(
    tcp: tokio::net::TcpStream,
    peer: std::net::SocketAddr,
    permit: Option<tokio::sync::OwnedSemaphorePermit>,
    setup: Arc<Setup>,
    stop: watch::Receiver<bool>,
    registry: Registry,
    tls: Option<wsx::tls::TlsAcceptor>,
) {
    let _permit = permit;
    debug!(%peer, "connection");
    let _ = tcp.set_nodelay(true);
    let (config, rooms) = (&setup.config, setup.rooms.as_ref());
    match tls {
        None => handle(tcp, config, stop, &registry, rooms).await,
        Some(acceptor) => {
            Box::pin(tls_connection(
                tcp, peer, acceptor, config, stop, &registry, rooms,
            ))
            .await
        }
    }
}

async fn tls_connection(
    tcp: tokio::net::TcpStream,
    peer: std::net::SocketAddr,
    acceptor: wsx::tls::TlsAcceptor,
    config: &ServerConfig,
    stop: watch::Receiver<bool>,
    registry: &Registry,
    rooms: Option<&Rooms>,
) {
    let accepted = tokio::time::timeout(config.handshake_timeout, acceptor.accept(tcp)).await;
    match accepted {
        Ok(Ok(tls)) => handle(tls, config, stop, registry, rooms).await,
        Ok(Err(e)) => debug!(%peer, error = %e, "TLS handshake failed"),
        Err(_) => debug!(%peer, "TLS handshake timed out"),
    }
}

/// Over `--max-connections`: read the request head and answer 503.
async fn over_capacity(mut tcp: tokio::net::TcpStream, timeout: Duration, limit: usize) {
    use tokio::io::AsyncWriteExt;
    debug!("over the connection limit: 503");
    let _ = tokio::time::timeout(timeout, wsx::read_request(&mut tcp, limit)).await;
    let body = b"503 Service Unavailable: the server is at its connection limit; retry later\n";
    let resp = simple_response(
        StatusCode::SERVICE_UNAVAILABLE,
        &[("Retry-After", "1")],
        "text/plain; charset=utf-8",
        body,
    );
    let _ = tcp.write_all(&resp).await;
    let _ = tcp.shutdown().await;
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

async fn handle<S>(
    tcp: S,
    config: &ServerConfig,
    stop: watch::Receiver<bool>,
    registry: &Registry,
    rooms: Option<&Rooms>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let stats = Arc::new(ConnStats::default());
    // Boxed: the opening handshake's state (request head, parser, response)
    // is only needed for a moment; the task of an open connection then
    // holds just the stream and the echo loop.
    let Some((mut ws, _registration, joined)) =
        Box::pin(upgrade(tcp, config, &stop, registry, &stats, rooms)).await
    else {
        return;
    };
    if let (Some(rooms), Some(joined)) = (rooms, joined) {
        // Boxed: echo servers do not carry the broadcast loop's size.
        Box::pin(crate::rooms::member(&mut ws, rooms, joined, stop, &stats)).await;
        return;
    }
    match echo(&mut ws, Some(stop), Some(&stats)).await {
        Ok(EchoEnd::Closed) | Ok(EchoEnd::Shutdown) => {}
        Err(e) => debug!(error = %e, "connection ended with an error"),
    }
}

/// Read the request and answer it: the upgraded WebSocket connection (with
/// the `/stats` registration that lasts as long as it, and with
/// `--broadcast` its room, joined before the 101 is sent so that it gets
/// every message sent after it opened), or `None` once a plain HTTP
/// request, a failed handshake or a mux session is done.
async fn upgrade<S>(
    tcp: S,
    config: &ServerConfig,
    stop: &watch::Receiver<bool>,
    registry: &Registry,
    stats: &Arc<ConnStats>,
    rooms: Option<&Rooms>,
) -> Option<(
    WebSocketStream<Counted<S>>,
    Option<Registration>,
    Option<crate::rooms::Joined>,
)>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut tcp = Counted::new(tcp, stats.clone());
    let read = tokio::time::timeout(
        config.handshake_timeout,
        wsx::read_request(&mut tcp, config.max_header_bytes),
    )
    .await;
    let (req, leftover) = match read {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => {
            wsx::reject(tcp, e).await;
            return None;
        }
        Err(_) => {
            wsx::reject(tcp, HandshakeError::Timeout).await;
            return None;
        }
    };
    if !is_upgrade_request(&req) {
        plain_http(tcp, &req, registry).await;
        return None;
    }
    let registration =
        query_id(req.uri().query()).and_then(|id| registry.register(id, stats.clone()));
    if let Some(mux) = crate::mux_serve::config() {
        crate::mux_serve::handle(tcp, &req, leftover, &mux, stop.clone()).await;
        return None;
    }
    let joined = rooms.map(|r| r.join(req.uri().path()));
    match wsx::accept_request(tcp, &req, leftover, config).await {
        Ok(ws) => Some((ws, registration, joined)),
        Err(e) => {
            debug!(error = %e, "handshake failed");
            if let (Some(rooms), Some(joined)) = (rooms, joined) {
                rooms.leave(joined);
            }
            None
        }
    }
}

async fn plain_http<S>(mut tcp: S, req: &http::Request<()>, registry: &Registry)
where
    S: tokio::io::AsyncWrite + Unpin,
{
    use tokio::io::AsyncWriteExt;
    let stats = query_id(req.uri().query()).and_then(|id| registry.json(id));
    let resp = match (req.method().as_str(), req.uri().path()) {
        ("GET", "/stats") => match stats {
            Some(json) => simple_response(
                StatusCode::OK,
                &[("Cache-Control", "no-store")],
                "application/json",
                json.as_bytes(),
            ),
            None => simple_response(
                StatusCode::NOT_FOUND,
                &[],
                "text/plain; charset=utf-8",
                b"404 Not Found: no open connection with that id\n",
            ),
        },
        ("GET", "/") | ("GET", "/index.html") => simple_response(
            StatusCode::OK,
            &[("Cache-Control", "no-store")],
            "text/html; charset=utf-8",
            DEMO_PAGE.as_bytes(),
        ),
        ("GET", path) => simple_response(
            StatusCode::NOT_FOUND,
            &[],
            "text/plain; charset=utf-8",
            format!(
                "404 Not Found: {path}\nThis is a WebSocket echo server: connect with a WebSocket client \
                 to any path, or open / in a browser for the demo page.\n"
            )
            .as_bytes(),
        ),
        (method, _) => simple_response(
            StatusCode::METHOD_NOT_ALLOWED,
            &[("Allow", "GET")],
            "text/plain; charset=utf-8",
            format!("405 Method Not Allowed: {method}\nOnly GET is served here.\n").as_bytes(),
        ),
    };
    let _ = tcp.write_all(&resp).await;
    let _ = tcp.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The task of each open connection lives as long as the connection:
    /// its size is part of the memory of every idle connection.
    #[tokio::test]
    async fn connection_task_is_small() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let _client = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (tcp, peer) = listener.accept().await.unwrap();
        let (_tx, rx) = watch::channel(false);
        let task = connection(
            tcp,
            peer,
            None,
            Arc::new(Setup {
                config: ServerConfig::default(),
                rooms: None,
            }),
            rx,
            Registry::default(),
            None,
        );
        let size = std::mem::size_of_val(&task);
        // About 1.4 KiB today, in debug and release builds (600 bytes of it
        // are the WebSocketStream); 2.8 KiB before the handshake was boxed
        // and the echo loop borrowed the stream.
        assert!(size <= 2048, "connection task of {size} bytes");
    }
}
