//! Mux over loopback: our client against our server.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpListener;
use tokio::sync::watch;
use ws_ext_core::{ClientExtensionFactory, ServerNegotiator};
use ws_mux::{ChannelRequest, MuxConfig};
use wsx::mux::{self, MuxAccepted, MuxChannel, MuxClient, MuxClientConfig, MuxServerConfig};
use wsx::Message;

const T: Duration = Duration::from_secs(20);

async fn within<F: std::future::Future>(what: &str, f: F) -> F::Output {
    match tokio::time::timeout(T, f).await {
        Ok(v) => v,
        Err(_) => panic!("timed out: {what}"),
    }
}

/// Echo every data message of a channel until it closes.
async fn echo(mut ws: MuxChannel) {
    while let Some(Ok(m)) = ws.next().await {
        if (m.is_text() || m.is_binary()) && ws.send(m).await.is_err() {
            break;
        }
    }
}

/// Serve one mux connection: `/stuck*` channels are not read until `gate`
/// turns true; every other channel echoes. Returns the URL.
async fn server(config: MuxServerConfig, gate: watch::Receiver<bool>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            let config = config.clone();
            let gate = gate.clone();
            tokio::spawn(async move {
                let mut server = match mux::accept_mux(tcp, &config).await {
                    Ok(MuxAccepted::Mux(s)) => s,
                    Ok(MuxAccepted::Plain(ws)) => {
                        let mut ws = *ws;
                        while let Some(Ok(m)) = ws.next().await {
                            if m.is_text() || m.is_binary() {
                                let _ = ws.send(m).await;
                            }
                        }
                        return;
                    }
                    Err(e) => panic!("accept: {e}"),
                };
                while let Some(ch) = server.next_channel().await {
                    let mut gate = gate.clone();
                    let stuck = ch.path().starts_with("/stuck");
                    tokio::spawn(async move {
                        if stuck {
                            let _ = gate.wait_for(|open| *open).await;
                        }
                        echo(ch.stream).await;
                    });
                }
            });
        }
    });
    url
}

fn no_gate() -> watch::Receiver<bool> {
    watch::channel(true).1
}

async fn roundtrip(ws: &mut MuxChannel, m: Message) {
    within("send", ws.send(m.clone())).await.unwrap();
    let got = within("echo", ws.next()).await.unwrap().unwrap();
    assert_eq!(got, m);
}

async fn close(mut ws: MuxChannel) {
    within("close", ws.close()).await.unwrap();
    while let Some(m) = within("close handshake", ws.next()).await {
        m.unwrap();
    }
}

fn payload(seed: usize, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| ((i * 31 + seed * 7) % 251) as u8)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_channels_echo_concurrently() {
    let url = server(MuxServerConfig::default(), no_gate()).await;
    let (client, mut first) = within(
        "connect",
        mux::connect_mux(&format!("{url}/first"), &MuxClientConfig::default()),
    )
    .await
    .unwrap();
    assert_eq!(first.get_ref().info().path, "/first");
    assert_eq!(mux::channel_id(&first), 1);
    roundtrip(&mut first, Message::text("on channel 1")).await;

    let mut tasks = Vec::new();
    for i in 0..24 {
        let client: MuxClient = client.clone();
        tasks.push(tokio::spawn(async move {
            let mut ws = within("open", client.open_channel(&format!("/c{i}")))
                .await
                .unwrap();
            assert_eq!(ws.get_ref().info().path, format!("/c{i}"));
            for j in 0..8 {
                // Up to 150 KB: larger than the 64 KiB windows, so quota is
                // exhausted and replenished within a message.
                let len = (i * 997 + j * 20_011) % 150_000;
                roundtrip(&mut ws, Message::binary(payload(i + j, len))).await;
                roundtrip(&mut ws, Message::text(format!("channel {i} message {j}"))).await;
            }
            close(ws).await;
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    roundtrip(&mut first, Message::text("still here")).await;
    close(first).await;
}

/// Small frames and windows: every message is cut into many encapsulated
/// fragments, and the channels' fragments interleave on the physical
/// connection (the session serves channels round-robin).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interleaved_fragmented_messages() {
    let small = MuxConfig::default()
        .with_max_frame_payload(97)
        .with_receive_window(700)
        .with_slot_quota(700);
    let url = server(
        MuxServerConfig::default().with_mux(small.clone()),
        no_gate(),
    )
    .await;
    let config = MuxClientConfig::default().with_mux(small);
    let (client, first) = within("connect", mux::connect_mux(&url, &config))
        .await
        .unwrap();
    let mut chans = vec![first];
    for i in 0..5 {
        chans.push(
            within("open", client.open_channel(&format!("/f{i}")))
                .await
                .unwrap(),
        );
    }
    // Send on every channel before reading any echo, so that all of them are
    // in flight at once.
    let messages: Vec<Vec<Message>> = (0..chans.len())
        .map(|c| {
            vec![
                Message::text("é".repeat(1000 + c)), // 2-byte chars cut across fragments
                Message::binary(payload(c, 5000)),
                Message::text(""),
                Message::binary(Vec::new()),
            ]
        })
        .collect();
    for (ws, msgs) in chans.iter_mut().zip(&messages) {
        for m in msgs {
            within("feed", ws.feed(m.clone())).await.unwrap();
        }
        within("flush", ws.flush()).await.unwrap();
    }
    for (ws, msgs) in chans.iter_mut().zip(&messages) {
        for m in msgs {
            assert_eq!(&within("echo", ws.next()).await.unwrap().unwrap(), m);
        }
    }
    // Pings go through too (answered by the server channel's engine).
    let ws = &mut chans[2];
    within(
        "ping",
        ws.send(Message::Ping(b"are you there".to_vec().into())),
    )
    .await
    .unwrap();
    match within("pong", ws.next()).await.unwrap().unwrap() {
        Message::Pong(p) => assert_eq!(&p[..], b"are you there"),
        other => panic!("expected a pong, got {other:?}"),
    }
    for ws in chans {
        close(ws).await;
    }
}

fn deflate_server() -> ServerNegotiator {
    let mut n = ServerNegotiator::new();
    n.push(Arc::new(ws_deflate::PerMessageDeflateServer::new(
        ws_deflate::DeflateConfig::default(),
    )));
    n
}

fn deflate_client() -> Vec<Arc<dyn ClientExtensionFactory>> {
    vec![Arc::new(ws_deflate::PerMessageDeflateClient::new(
        ws_deflate::DeflateConfig::default(),
    ))]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compressed_channels_beside_plain_ones() {
    let url = server(
        MuxServerConfig::default().with_channel_extensions(deflate_server()),
        no_gate(),
    )
    .await;
    let config = MuxClientConfig::default().with_channel_extensions(deflate_client());
    let (client, mut first) = within("connect", mux::connect_mux(&url, &config))
        .await
        .unwrap();
    assert_eq!(
        client.extensions(),
        Some("permessage-deflate, mux"),
        "channel 1's extensions come before mux in the response"
    );
    assert_eq!(first.get_ref().info().extensions, ["permessage-deflate"]);
    let mut compressed = within("open", client.open_channel("/z")).await.unwrap();
    assert_eq!(
        compressed.get_ref().info().extensions,
        ["permessage-deflate"]
    );
    let mut plain = within(
        "open plain",
        client.open(ChannelRequest {
            plain: true,
            ..ChannelRequest::new("/plain")
        }),
    )
    .await
    .unwrap();
    assert!(plain.get_ref().info().extensions.is_empty());
    let text = "the quick brown fox jumps over the lazy dog ".repeat(3000);
    for round in 0..5 {
        for ws in [&mut first, &mut compressed, &mut plain] {
            roundtrip(ws, Message::text(format!("{round}: {text}"))).await;
            roundtrip(ws, Message::binary(payload(round, 70_000))).await;
            roundtrip(ws, Message::text("")).await;
        }
    }
    for ws in [first, compressed, plain] {
        close(ws).await;
    }
}

/// A server that shuts down closes the physical connection with the code it
/// chose (1001): the client's open channel ends with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_closes_the_physical_connection_with_its_code() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/one", listener.local_addr().unwrap());
    let (shut_tx, shut_rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let Ok(MuxAccepted::Mux(mut server)) =
            mux::accept_mux(tcp, &MuxServerConfig::default()).await
        else {
            panic!("no mux");
        };
        // Keep channel 1 open, answer one message, then shut down when told.
        let mut ch = server.next_channel().await.unwrap().stream;
        if let Some(Ok(m)) = ch.next().await {
            ch.send(m).await.unwrap();
        }
        let _ = shut_rx.await;
        server
            .close(wsx::CloseCode::Away, "server shutting down")
            .await;
        // Keep the channel's stream alive until the connection is gone.
        while let Some(Ok(_)) = ch.next().await {}
    });
    let (_client, mut first) = within(
        "connect",
        mux::connect_mux(&url, &MuxClientConfig::default()),
    )
    .await
    .unwrap();
    roundtrip(&mut first, Message::text("hello")).await;
    shut_tx.send(()).unwrap();
    let end = within("physical close", async {
        loop {
            match first.next().await {
                Some(Ok(_)) => continue,
                Some(Err(e)) => break e.to_string(),
                None => break "closed without an error".to_owned(),
            }
        }
    })
    .await;
    assert!(
        end.contains("1001") && end.contains("server shutting down"),
        "{end}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_channel_leaves_the_others_alone() {
    // The server reports how each channel ended.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/one", listener.local_addr().unwrap());
    let (ended_tx, mut ended_rx) = tokio::sync::mpsc::channel::<(String, String)>(8);
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let Ok(MuxAccepted::Mux(mut server)) =
            mux::accept_mux(tcp, &MuxServerConfig::default()).await
        else {
            panic!("no mux");
        };
        while let Some(ch) = server.next_channel().await {
            let ended = ended_tx.clone();
            tokio::spawn(async move {
                let path = ch.path().to_owned();
                let mut ws = ch.stream;
                let how = loop {
                    match ws.next().await {
                        Some(Ok(m)) if m.is_text() || m.is_binary() => {
                            let _ = ws.send(m).await;
                        }
                        Some(Ok(_)) => {}
                        Some(Err(e)) => break format!("error: {e}"),
                        None => break "closed".to_owned(),
                    }
                };
                let _ = ended.send((path, how)).await;
            });
        }
    });
    let (client, mut one) = within(
        "connect",
        mux::connect_mux(&url, &MuxClientConfig::default()),
    )
    .await
    .unwrap();
    let mut two = within("open", client.open_channel("/two")).await.unwrap();
    let mut three = within("open", client.open_channel("/three")).await.unwrap();
    let four = within("open", client.open_channel("/four")).await.unwrap();
    roundtrip(&mut two, Message::text("two")).await;

    // Explicit DropChannel with a code.
    two.get_ref().drop_channel(4000, "going away");
    let (path, how) = within("server sees the drop", ended_rx.recv())
        .await
        .unwrap();
    assert_eq!(path, "/two");
    assert!(
        how.contains("dropped by the peer") && how.contains("4000"),
        "{how}"
    );
    assert!(within("client side", two.next()).await.unwrap().is_err());

    // Dropping a handle without a closing handshake drops the channel too.
    drop(four);
    let (path, how) = within("server sees the handle drop", ended_rx.recv())
        .await
        .unwrap();
    assert_eq!(path, "/four");
    assert!(how.contains("dropped by the peer"), "{how}");

    // The others go on, and new channels can still be opened.
    roundtrip(&mut one, Message::text("one goes on")).await;
    roundtrip(&mut three, Message::binary(payload(3, 100_000))).await;
    let mut five = within("open after drops", client.open_channel("/five"))
        .await
        .unwrap();
    roundtrip(&mut five, Message::text("five")).await;

    // A clean close is reported as such.
    close(three).await;
    let (path, how) = within("server sees the close", ended_rx.recv())
        .await
        .unwrap();
    assert_eq!((path.as_str(), how.as_str()), ("/three", "closed"));
    close(one).await;
    close(five).await;
}

/// A channel whose server side does not read: its sender runs out of quota
/// and stalls (bounded buffers on both sides), the other channels keep
/// echoing; once the reader starts, quota is replenished and everything
/// arrives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quota_exhaustion_and_replenishment() {
    let window = 4096;
    let small = MuxConfig::default()
        .with_receive_window(window)
        .with_slot_quota(window)
        .with_max_send_buffer(16 << 10);
    let (gate_tx, gate_rx) = watch::channel(false);
    let url = server(MuxServerConfig::default().with_mux(small.clone()), gate_rx).await;
    let config = MuxClientConfig::default().with_mux(small);
    let (client, mut first) = within("connect", mux::connect_mux(&url, &config))
        .await
        .unwrap();
    let stuck = within("open", client.open_channel("/stuck")).await.unwrap();
    let mut other = within("open", client.open_channel("/other")).await.unwrap();

    // 2 MB towards a reader that does not read: far more than the window,
    // the send buffers and the socket buffers together.
    let count = 500;
    let (mut stuck_tx, mut stuck_rx) = stuck.split();
    let sender = tokio::spawn(async move {
        for i in 0..count {
            stuck_tx
                .send(Message::binary(payload(i, 4000)))
                .await
                .unwrap();
        }
        stuck_tx
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !sender.is_finished(),
        "the stuck channel's sender should be out of quota"
    );

    // Meanwhile the other channels are not blocked.
    for i in 0..20 {
        roundtrip(&mut other, Message::binary(payload(i, 10_000))).await;
        roundtrip(&mut first, Message::text(format!("first {i}"))).await;
    }
    assert!(!sender.is_finished(), "still stalled");

    // Open the gate: the reader drains, grants quota back, all arrives.
    // (Echoes are read while sending, or the echo itself would stall.)
    gate_tx.send(true).unwrap();
    for i in 0..count {
        let m = within("stuck echo", stuck_rx.next())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(m, Message::binary(payload(i, 4000)), "message {i}");
    }
    let mut stuck_tx = within("stuck sender finishes", sender).await.unwrap();
    within("close", stuck_tx.close()).await.unwrap();
    while let Some(m) = within("close handshake", stuck_rx.next()).await {
        m.unwrap();
    }
    close(other).await;
    close(first).await;
}

/// The client side does not read one channel's echoes: the server's sends
/// on that channel stall, nothing else does, and what waits on our side is
/// bounded by the receive window.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unread_channel_is_bounded_by_its_window() {
    let window = 8192u64;
    let small = MuxConfig::default()
        .with_receive_window(window)
        .with_slot_quota(window);
    let url = server(
        MuxServerConfig::default().with_mux(small.clone()),
        no_gate(),
    )
    .await;
    let config = MuxClientConfig::default().with_mux(small);
    let (client, mut first) = within("connect", mux::connect_mux(&url, &config))
        .await
        .unwrap();
    let mut lazy = within("open", client.open_channel("/lazy")).await.unwrap();
    // 100 KB sent on /lazy, whose echoes we do not read yet.
    for i in 0..25 {
        within("feed", lazy.feed(Message::binary(payload(i, 4000))))
            .await
            .unwrap();
    }
    within("flush", lazy.flush()).await.unwrap();
    for i in 0..10 {
        roundtrip(&mut first, Message::binary(payload(i, 30_000))).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let waiting = lazy.get_ref().buffered_inbound() as u64;
    assert!(waiting > 0, "some echoes arrived");
    assert!(
        waiting <= window + 64,
        "{waiting} bytes wait on the unread channel, more than its window"
    );
    for i in 0..25 {
        let m = within("lazy echo", lazy.next()).await.unwrap().unwrap();
        assert_eq!(m, Message::binary(payload(i, 4000)));
    }
    close(lazy).await;
    close(first).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_client_gets_a_plain_connection() {
    let url = server(MuxServerConfig::default(), no_gate()).await;
    let (mut ws, _) = within("connect", wsx::connect(&url)).await.unwrap();
    within("send", ws.send(Message::text("plain")))
        .await
        .unwrap();
    assert_eq!(
        within("echo", ws.next()).await.unwrap().unwrap(),
        Message::text("plain")
    );
    within("close", ws.close()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_without_mux_is_reported() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut ws = wsx::accept(tcp).await.unwrap();
        while ws.next().await.is_some() {}
    });
    match within(
        "connect",
        mux::connect_mux(&url, &MuxClientConfig::default()),
    )
    .await
    {
        Err(mux::MuxError::NotAgreed { token, .. }) => assert_eq!(token, "mux"),
        other => panic!("expected NotAgreed, got {:?}", other.map(|_| ())),
    }
}

/// Against mod_pywebsocket 0.7.9's standalone server with its example
/// handlers (see docs/mux.md): set `WSX_MODPYWS_URL=ws://127.0.0.1:PORT/echo`.
/// Needs that server, so it is ignored in `cargo test`; the conformance
/// script's mux step starts mod_pywebsocket and runs it with `--ignored`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs mod_pywebsocket 0.7.9: run by scripts/conformance.sh --mux"]
async fn pywebsocket_interop() {
    let url = std::env::var("WSX_MODPYWS_URL")
        .expect("WSX_MODPYWS_URL must name mod_pywebsocket's /echo (ws://127.0.0.1:PORT/echo)");
    let (client, mut first) = within(
        "connect",
        mux::connect_mux(&url, &MuxClientConfig::pywebsocket()),
    )
    .await
    .unwrap();
    assert_eq!(client.token(), ws_mux::PYWEBSOCKET_TOKEN);
    let path = first.get_ref().info().path.clone();
    let mut a = within("open", client.open_channel(&path)).await.unwrap();
    let b = within("open", client.open_channel(&path)).await.unwrap();
    let mut c = within("open", client.open_channel(&path)).await.unwrap();
    // Larger than its 8192-byte quotas: exhausted and replenished.
    roundtrip(&mut a, Message::text("a".repeat(50_000))).await;
    roundtrip(&mut first, Message::text("first")).await;
    // Drop one channel; the others go on.
    b.get_ref().drop_channel(1000, "");
    drop(b);
    roundtrip(&mut c, Message::text("c goes on")).await;
    roundtrip(&mut a, Message::binary(payload(1, 20_000))).await;
    close(c).await;
    close(a).await;
    roundtrip(&mut first, Message::text("first still")).await;
    close(first).await;
    within("physical close", client.close()).await;
}
