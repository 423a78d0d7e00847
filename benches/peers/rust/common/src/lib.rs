//! Shared command line and accept loop of the peer echo servers.
//!
//! Every binary takes `--listen ADDR` (default `127.0.0.1:0`) or a bare port
//! number, binds, prints `listening on ws://IP:PORT` on stdout (flushed),
//! hands every accepted TCP connection (TCP_NODELAY set) to its library's
//! echo handler on a multi-threaded tokio runtime, and exits on SIGINT or
//! SIGTERM: the same contract as `wsx serve` and the other peers.

use std::future::Future;
use std::io::Write;

use tokio::net::{TcpListener, TcpStream};

/// Largest message every peer accepts (the wsx and tokio-tungstenite limit).
pub const MAX_MESSAGE: usize = 64 << 20;

fn listen_addr(name: &str) -> String {
    let mut args = std::env::args().skip(1);
    let mut listen = "127.0.0.1:0".to_owned();
    while let Some(a) = args.next() {
        match a.as_str() {
            "--listen" => match args.next() {
                Some(v) => listen = v,
                None => usage(name),
            },
            port if port.parse::<u16>().is_ok() => listen = format!("127.0.0.1:{port}"),
            _ => usage(name),
        }
    }
    listen
}

fn usage(name: &str) -> ! {
    eprintln!("usage: {name} [--listen ADDR | PORT]");
    std::process::exit(2);
}

/// Runs the echo server `name`: `handle` is spawned once per connection.
pub fn serve<F, Fut>(name: &str, handle: F) -> std::io::Result<()>
where
    F: Fn(TcpStream) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listen = listen_addr(name);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = TcpListener::bind(&listen).await?;
        {
            let mut out = std::io::stdout().lock();
            writeln!(out, "listening on ws://{}", listener.local_addr()?)?;
            out.flush()?;
        }
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    if let Ok((tcp, _)) = accepted {
                        let _ = tcp.set_nodelay(true);
                        tokio::spawn(handle(tcp));
                    }
                }
                _ = tokio::signal::ctrl_c() => break,
                _ = term.recv() => break,
            }
        }
        Ok(())
    })
}
