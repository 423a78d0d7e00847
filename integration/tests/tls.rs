//! wss:// over loopback: our client against our server with a self-signed
//! certificate made at test time, with and without permessage-deflate.

#![cfg(feature = "tls")]

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpListener;
use wsx::tls::{self, TlsAcceptor, TlsConnector, TlsError};
use wsx::{ClientConfig, Error, HandshakeError, Message, ServerConfig};

struct Cert {
    cert_pem: String,
    key_pem: String,
}

fn self_signed() -> Cert {
    let ck =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .expect("rcgen");
    Cert {
        cert_pem: ck.cert.pem(),
        key_pem: ck.signing_key.serialize_pem(),
    }
}

/// The default (permessage-deflate) or no extension.
fn server_config(deflate: bool) -> ServerConfig {
    let c = ServerConfig::default();
    if deflate {
        c
    } else {
        c.without_extensions()
    }
}

/// The default (offers permessage-deflate) or no extension.
fn client_config(deflate: bool) -> ClientConfig {
    let c = ClientConfig::default();
    if deflate {
        c
    } else {
        c.without_extensions()
    }
}

/// An echo server over TLS; returns its port. Serves until the test ends.
async fn echo_server(acceptor: TlsAcceptor, config: ServerConfig) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            let config = config.clone();
            tokio::spawn(async move {
                let Ok(mut ws) = tls::accept_tls_with(tcp, &acceptor, &config).await else {
                    return;
                };
                assert!(ws.get_ref().is_tls());
                while let Some(Ok(msg)) = ws.next().await {
                    if (msg.is_text() || msg.is_binary()) && ws.send(msg).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    port
}

fn payloads() -> Vec<Message> {
    let mut noise = vec![0u8; 300_000];
    let mut x: u32 = 0x1234_5678;
    for b in &mut noise {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        *b = x as u8;
    }
    vec![
        Message::text("hello over wss"),
        Message::text(""),
        Message::text("é€😀 ".repeat(5000)),
        Message::binary(b"abc".repeat(100_000)),
        Message::binary(noise),
        Message::binary(Vec::new()),
    ]
}

async fn round_trip(url: &str, cert: &Cert, deflate: bool) -> Option<String> {
    let tls = TlsConnector::with_root_ca_pem(cert.cert_pem.as_bytes()).unwrap();
    let (mut ws, resp) = wsx::connect_tls_with(url, &client_config(deflate), &tls)
        .await
        .unwrap();
    assert_eq!(resp.status(), 101);
    assert!(ws.get_ref().is_tls());
    for msg in payloads() {
        ws.send(msg.clone()).await.unwrap();
        let echo = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(echo, msg, "echo differs");
    }
    let ext = ws.extensions().map(str::to_owned);
    ws.close().await.unwrap();
    // The server's close reply, then the end of the stream.
    match ws.next().await {
        Some(Ok(Message::Close(Some(f)))) => assert_eq!(u16::from(f.code), 1000),
        other => panic!("expected the close reply, got {other:?}"),
    }
    assert!(ws.next().await.is_none());
    ext
}

#[tokio::test]
async fn wss_echo_with_deflate() {
    let cert = self_signed();
    let acceptor =
        tls::acceptor_from_pem(cert.cert_pem.as_bytes(), cert.key_pem.as_bytes()).unwrap();
    let port = echo_server(acceptor, server_config(true)).await;
    let ext = round_trip(&format!("wss://localhost:{port}/echo"), &cert, true).await;
    let ext = ext.expect("permessage-deflate negotiated");
    assert!(ext.starts_with("permessage-deflate"), "{ext}");
}

#[tokio::test]
async fn wss_echo_without_deflate_and_by_ip_address() {
    let cert = self_signed();
    let acceptor =
        tls::acceptor_from_pem(cert.cert_pem.as_bytes(), cert.key_pem.as_bytes()).unwrap();
    let port = echo_server(acceptor, server_config(false)).await;
    // The server offers none: nothing negotiated even though we offer.
    assert_eq!(
        round_trip(&format!("wss://localhost:{port}/"), &cert, true).await,
        None
    );
    // An IP address is checked against the certificate's IP SAN.
    assert_eq!(
        round_trip(&format!("wss://127.0.0.1:{port}/"), &cert, false).await,
        None
    );
}

#[tokio::test]
async fn ws_urls_still_work_through_connect_tls() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut ws = wsx::accept_with(tcp, &server_config(true)).await.unwrap();
        while let Some(Ok(m)) = ws.next().await {
            if m.is_text() {
                ws.send(m).await.unwrap();
            }
        }
    });
    let tls = TlsConnector::webpki_roots().unwrap();
    let (mut ws, _) = wsx::connect_tls_with(
        &format!("ws://127.0.0.1:{port}/"),
        &client_config(true),
        &tls,
    )
    .await
    .unwrap();
    assert!(!ws.get_ref().is_tls());
    assert!(ws.extensions().unwrap().starts_with("permessage-deflate"));
    ws.send(Message::text("plain")).await.unwrap();
    assert_eq!(ws.next().await.unwrap().unwrap(), Message::text("plain"));
}

#[tokio::test]
async fn untrusted_certificate_fails_the_handshake() {
    let cert = self_signed();
    let acceptor =
        tls::acceptor_from_pem(cert.cert_pem.as_bytes(), cert.key_pem.as_bytes()).unwrap();
    let port = echo_server(acceptor, server_config(true)).await;
    // wsx::connect dispatches wss:// to TLS with the Mozilla roots, which
    // do not include our self-signed certificate.
    let err = wsx::connect_with(
        &format!("wss://localhost:{port}/"),
        &ClientConfig::default(),
    )
    .await
    .unwrap_err();
    match &err {
        Error::Handshake(HandshakeError::Io(e)) => {
            assert!(e.to_string().contains("certificate"), "{e}")
        }
        other => panic!("expected a TLS handshake error, got {other:?}"),
    }
    // A certificate for another name fails too.
    let other = rcgen::generate_simple_self_signed(vec!["other.example".to_owned()]).unwrap();
    let acceptor = tls::acceptor_from_pem(
        other.cert.pem().as_bytes(),
        other.signing_key.serialize_pem().as_bytes(),
    )
    .unwrap();
    let port = echo_server(acceptor, server_config(true)).await;
    let tls = TlsConnector::with_root_ca_pem(other.cert.pem().as_bytes()).unwrap();
    let err = wsx::connect_tls_with(
        &format!("wss://localhost:{port}/"),
        &ClientConfig::default(),
        &tls,
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("certificate"), "{err}");
}

#[test]
fn pem_files_and_their_errors() {
    let cert = self_signed();
    let dir = std::env::temp_dir().join(format!("wsx-tls-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cert_path = dir.join("cert.pem");
    let key_path = dir.join("key.pem");
    std::fs::write(&cert_path, &cert.cert_pem).unwrap();
    std::fs::write(&key_path, &cert.key_pem).unwrap();

    assert!(tls::acceptor_from_pem_files(&cert_path, &key_path).is_ok());
    assert!(TlsConnector::webpki_roots_and_pem_file(&cert_path).is_ok());

    // Swapped files: no certificate in the key file.
    match tls::acceptor_from_pem_files(&key_path, &key_path) {
        Err(TlsError::NoCertificates(what)) => assert!(what.contains("key.pem")),
        other => panic!("{:?}", other.err()),
    }
    match tls::acceptor_from_pem_files(&cert_path, &cert_path) {
        Err(TlsError::NoPrivateKey(what)) => assert!(what.contains("cert.pem")),
        other => panic!("{:?}", other.err()),
    }
    let missing = dir.join("missing.pem");
    match tls::acceptor_from_pem_files(&missing, &key_path) {
        Err(e @ TlsError::Read { .. }) => assert!(e.to_string().contains("missing.pem"), "{e}"),
        other => panic!("{:?}", other.err()),
    }
    // A key that does not belong to the certificate.
    let other = self_signed();
    match tls::acceptor_from_pem(cert.cert_pem.as_bytes(), other.key_pem.as_bytes()) {
        Err(TlsError::Config(_)) => {}
        other => panic!("{:?}", other.err()),
    }
    // Truncated PEM.
    let cut = &cert.cert_pem[..cert.cert_pem.len() - 30];
    match tls::acceptor_from_pem(cut.as_bytes(), cert.key_pem.as_bytes()) {
        Err(TlsError::Pem { .. }) => {}
        other => panic!("{:?}", other.err()),
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocking_client_over_wss_with_deflate() {
    let cert = self_signed();
    let acceptor =
        tls::acceptor_from_pem(cert.cert_pem.as_bytes(), cert.key_pem.as_bytes()).unwrap();
    let port = echo_server(acceptor, server_config(true)).await;
    let ca = cert.cert_pem.clone();
    tokio::task::spawn_blocking(move || {
        use wsx::blocking;
        let tls = TlsConnector::with_root_ca_pem(ca.as_bytes()).unwrap();
        let url = format!("wss://localhost:{port}/");
        let (mut ws, resp) = blocking::connect_tls_with(&url, &client_config(true), &tls).unwrap();
        assert_eq!(resp.status(), 101);
        assert!(ws.get_ref().is_tls());
        assert!(ws.extensions().unwrap().starts_with("permessage-deflate"));
        for msg in payloads() {
            ws.send(msg.clone()).unwrap();
            assert_eq!(ws.read().unwrap(), msg);
        }
        ws.close(None).unwrap();
        match ws.read().unwrap() {
            Message::Close(Some(f)) => assert_eq!(u16::from(f.code), 1000),
            other => panic!("expected the close reply, got {other:?}"),
        }
        assert!(matches!(ws.read(), Err(Error::ConnectionClosed)));
        // The default roots do not trust our certificate.
        let err = blocking::connect(&url).unwrap_err();
        assert!(err.to_string().contains("certificate"), "{err}");
    })
    .await
    .unwrap();
}

/// Mux over `wss://`: the mux handshake and channels run over a TLS stream
/// (`connect_mux_tls_with` on the client, `accept_mux` on the server's TLS
/// stream, as `wsx serve --mux --tls-cert` does); two channels echo.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mux_over_wss() {
    use wsx::mux::{self, MuxAccepted, MuxClientConfig, MuxServerConfig};
    let cert = self_signed();
    let acceptor =
        tls::acceptor_from_pem(cert.cert_pem.as_bytes(), cert.key_pem.as_bytes()).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                // A client that does not trust the certificate fails here.
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let Ok(MuxAccepted::Mux(mut server)) =
                    mux::accept_mux(tls, &MuxServerConfig::default()).await
                else {
                    panic!("no mux over TLS");
                };
                while let Some(ch) = server.next_channel().await {
                    tokio::spawn(async move {
                        let mut ws = ch.stream;
                        while let Some(Ok(m)) = ws.next().await {
                            if (m.is_text() || m.is_binary()) && ws.send(m).await.is_err() {
                                return;
                            }
                        }
                    });
                }
            });
        }
    });
    let connector = TlsConnector::with_root_ca_pem(cert.cert_pem.as_bytes()).unwrap();
    let url = format!("wss://127.0.0.1:{port}/one");
    let (client, mut first) = tokio::time::timeout(
        Duration::from_secs(10),
        mux::connect_mux_tls_with(&url, &MuxClientConfig::default(), &connector),
    )
    .await
    .expect("connect in time")
    .expect("mux over wss");
    let mut second = client.open_channel("/two").await.unwrap();
    for (ws, text) in [
        (&mut first, "over TLS, channel 1"),
        (&mut second, "channel 2"),
    ] {
        ws.send(Message::text(text)).await.unwrap();
        assert_eq!(ws.next().await.unwrap().unwrap(), Message::text(text));
    }
    // The default connector (webpki roots) does not trust the test
    // certificate: the TLS handshake fails, with a message that says so.
    let err = match mux::connect_mux(&url, &MuxClientConfig::default()).await {
        Ok(_) => panic!("an untrusted certificate must fail"),
        Err(e) => e.to_string(),
    };
    assert!(err.to_lowercase().contains("certificate"), "{err}");
}
