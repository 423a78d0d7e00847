//! The `wsx` command contract: serve, client, signals.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use wsx::Message;

const WSX: &str = env!("CARGO_BIN_EXE_wsx");

use wsx_testkit::serve::Serve as Server;

fn serve(extra: &[&str]) -> Server {
    wsx_testkit::serve::serve(WSX, extra)
}

/// Run `wsx ARGS` with `input` on its stdin (then closed) and collect its
/// output.
fn run_with_stdin(args: &[&str], input: &str) -> std::process::Output {
    let mut child = Command::new(WSX)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn http(addr: &str, request: &str) -> String {
    let mut tcp = TcpStream::connect(addr).unwrap();
    tcp.write_all(request.as_bytes()).unwrap();
    let mut out = String::new();
    tcp.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn serve_plain_http_answers() {
    let s = serve(&[]);
    let page = http(&s.addr, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(page.starts_with("HTTP/1.1 200 OK\r\n"), "{page}");
    assert!(page.contains("text/html"));
    assert!(page.contains("new WebSocket"));
    let nf = http(&s.addr, "GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(nf.starts_with("HTTP/1.1 404"), "{nf}");
    let na = http(
        &s.addr,
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
    );
    assert!(na.starts_with("HTTP/1.1 405"), "{na}");
    let bad = http(&s.addr, "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n");
    assert!(bad.starts_with("HTTP/1.1 400"), "{bad}");
    assert!(bad.contains("Sec-WebSocket-Key"), "{bad}");
}

#[test]
fn client_echoes_stdin_lines_and_exits_zero() {
    let s = serve(&[]);
    let out = run_with_stdin(
        &["client", &format!("ws://{}/any/path", s.addr)],
        "first line\n\nκόσμε\nlast",
    );
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "first line\n\nκόσμε\nlast\n"
    );
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("extensions: permessage-deflate"),
        "stderr: {err}"
    );
}

#[test]
fn client_without_deflate_negotiates_nothing() {
    let s = serve(&["--no-deflate"]);
    let out = Command::new(WSX)
        .args(["client", &format!("ws://{}/", s.addr), "--no-deflate"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("extensions: \n"), "{err}");
}

#[tokio::test]
async fn sigterm_closes_connections_with_1001_and_exits_zero() {
    let mut s = serve(&[]);
    let (mut ws, _) = wsx::connect(&format!("ws://{}/", s.addr)).await.unwrap();
    let pid = s.child.id().to_string();
    let status = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(status.success());
    let msg = tokio::time::timeout(Duration::from_secs(5), ws.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    match msg {
        Message::Close(Some(f)) => assert_eq!(u16::from(f.code), 1001),
        other => panic!("{other:?}"),
    }
    assert!(ws.next().await.is_none());
    let start = Instant::now();
    loop {
        if let Some(st) = s.child.try_wait().unwrap() {
            assert!(st.success(), "{st:?}");
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "server did not exit"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test]
async fn stats_show_bytes_saved_for_the_demo_page() {
    use futures_util::SinkExt;
    let s = serve(&[]);
    let config =
        wsx::ClientConfig::default().with_extensions(ws_ext_core::ClientNegotiator::new().with(
            ws_deflate::PerMessageDeflateClient::new(ws_deflate::DeflateConfig::default()),
        ));
    let (mut ws, _) = wsx::connect_with(&format!("ws://{}/demo?id=t0k3n", s.addr), &config)
        .await
        .unwrap();
    let text = "{\"hello\": \"world\"} ".repeat(500);
    ws.send(Message::text(text.clone())).await.unwrap();
    assert_eq!(
        ws.next().await.unwrap().unwrap(),
        Message::text(text.clone())
    );
    let addr = s.addr.clone();
    let answer = tokio::task::spawn_blocking(move || {
        http(&addr, "GET /stats?id=t0k3n HTTP/1.1\r\nHost: x\r\n\r\n")
    })
    .await
    .unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let json = answer.split("\r\n\r\n").nth(1).unwrap();
    let field = |name: &str| -> u64 {
        let start = json.find(&format!("\"{name}\":")).unwrap() + name.len() + 3;
        json[start..]
            .chars()
            .take_while(|c| c.is_ascii_digit())
            .collect::<String>()
            .parse()
            .unwrap()
    };
    assert_eq!(field("payload_in"), text.len() as u64);
    assert!(field("wire_in") < field("payload_in") / 5, "{json}");
    let addr = s.addr.clone();
    let gone = tokio::task::spawn_blocking(move || {
        http(&addr, "GET /stats?id=other HTTP/1.1\r\nHost: x\r\n\r\n")
    })
    .await
    .unwrap();
    assert!(gone.starts_with("HTTP/1.1 404"));
}

#[test]
fn probe_reports_what_the_server_accepts() {
    let s = serve(&["--server-max-window-bits", "12"]);
    let out = Command::new(WSX)
        .args(["probe", &format!("ws://{}/", s.addr)])
        .output()
        .unwrap();
    assert!(out.status.success());
    let table = String::from_utf8(out.stdout).unwrap();
    let line = |offer: &str| {
        table
            .lines()
            .find(|l| {
                l.split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
                    .starts_with(offer)
                    && l.contains(" 101 ")
            })
            .unwrap_or_else(|| panic!("{offer} not in {table}"))
            .to_owned()
    };
    assert!(line("permessage-deflate; server_max_window_bits=15")
        .ends_with("permessage-deflate; server_max_window_bits=12"));
    assert!(line("x-unknown-extension; foo=bar").ends_with("(none)"));
    let plain = serve(&["--no-deflate"]);
    let out = Command::new(WSX)
        .args(["probe", &format!("ws://{}/", plain.addr)])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let plain_table = String::from_utf8(out.stdout).unwrap();
    let rows: Vec<&str> = plain_table.lines().skip(1).collect();
    // The same offers as against the deflate server, every one answered
    // with 101 and no extension.
    assert_eq!(rows.len(), table.lines().skip(1).count(), "{plain_table}");
    assert!(rows.len() >= 2, "{plain_table}");
    assert!(
        rows.iter()
            .all(|l| l.contains(" 101 ") && l.ends_with("(none)")),
        "{plain_table}"
    );
}

/// A TLS `wsx serve` with a fresh self-signed certificate for 127.0.0.1
/// and `extra` flags: the server, a connector trusting it, and the folder
/// holding the PEM files (removed by the caller).
fn serve_tls(
    extra: &[&str],
    tag: &str,
) -> (
    Server,
    wsx::tls::TlsConnector,
    std::path::PathBuf,
    std::path::PathBuf,
) {
    let ck = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
    let dir = std::env::temp_dir().join(format!("wsx-cli-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, ck.cert.pem()).unwrap();
    std::fs::write(&key, ck.signing_key.serialize_pem()).unwrap();
    let server = wsx_testkit::serve::serve(
        WSX,
        extra.iter().map(std::ffi::OsStr::new).chain([
            "--tls-cert".as_ref(),
            cert.as_os_str(),
            "--tls-key".as_ref(),
            key.as_os_str(),
        ]),
    );
    assert!(server.url.starts_with("wss://"), "{}", server.url);
    let connector = wsx::tls::TlsConnector::with_root_ca_pem(ck.cert.pem().as_bytes()).unwrap();
    (server, connector, dir, cert)
}

#[tokio::test]
async fn serve_wss_with_tls_cert_and_key() {
    use futures_util::SinkExt;
    let (s, connector, dir, cert) = serve_tls(&[], "tls");
    let (mut ws, _) = wsx::connect_tls_with(
        &format!("wss://{}/", s.addr),
        &wsx::ClientConfig::default(),
        &connector,
    )
    .await
    .unwrap();
    ws.send(Message::text("secure")).await.unwrap();
    assert_eq!(ws.next().await.unwrap().unwrap(), Message::text("secure"));
    ws.close().await.unwrap();
    while let Some(m) = ws.next().await {
        m.unwrap();
    }
    // Missing half of the pair is refused.
    let out = Command::new(WSX)
        .args(["serve", "--listen", "127.0.0.1:0", "--tls-cert"])
        .arg(&cert)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let _ = std::fs::remove_dir_all(&dir);
}

/// `wsx serve --mux --tls-cert --tls-key`: mux over wss://, two channels.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_mux_over_wss() {
    use futures_util::SinkExt;
    let (s, connector, dir, _) = serve_tls(&["--mux"], "mux-tls");
    let (client, mut first) = wsx::mux::connect_mux_tls_with(
        &format!("wss://{}/one", s.addr),
        &wsx::mux::MuxClientConfig::default(),
        &connector,
    )
    .await
    .unwrap();
    let mut second = client.open_channel("/two").await.unwrap();
    for (ws, text) in [
        (&mut first, "mux over TLS"),
        (&mut second, "second channel"),
    ] {
        ws.send(Message::text(text)).await.unwrap();
        assert_eq!(ws.next().await.unwrap().unwrap(), Message::text(text));
    }
    drop(s);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Every setting `wsx ratio` compares by default, in report order.
const RATIO_SETTINGS: [&str; 31] = [
    "off",
    "default",
    "balanced",
    "smallest",
    "level6",
    "level2",
    "level3",
    "level4",
    "level5",
    "level7",
    "level8",
    "mem6",
    "mem4",
    "lean",
    "window14",
    "window13",
    "window12",
    "window9",
    "w14-l3",
    "w13-l3",
    "w12-l3",
    "w14-l1",
    "w13-l1",
    "w12-l1",
    "no-ctx",
    "no-ctx-l1",
    "broadcast",
    "zlib1",
    "zlib3",
    "zlib6",
    "zlib9",
];

/// `wsx ratio` with quick timing; returns stdout.
fn ratio(extra: &[&str]) -> String {
    let out = Command::new(WSX)
        .args(["ratio", "--time", "2", "--contexts", "3", "--conns", "2"])
        .args(extra)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn ratio_json_has_every_setting_and_a_frontier_and_writes_the_svg() {
    let dir = std::env::temp_dir().join(format!("wsx-cli-ratio-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let svg = dir.join("ratio.svg");
    let out = ratio(&[
        "--sizes",
        "mixed,1024",
        "--total",
        "32768",
        "--json",
        "--svg",
        svg.to_str().unwrap(),
    ]);
    let rows: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    let inputs = [
        "chat-json/mixed",
        "chat-json/1KiB",
        "logs/mixed",
        "logs/1KiB",
        "html/mixed",
        "html/1KiB",
        "binary/mixed",
        "binary/1KiB",
    ];
    assert_eq!(rows.len(), inputs.len() * RATIO_SETTINGS.len());
    for input in inputs {
        let mine: Vec<&serde_json::Value> = rows.iter().filter(|r| r["input"] == input).collect();
        let names: Vec<&str> = mine
            .iter()
            .map(|r| r["setting"].as_str().unwrap())
            .collect();
        assert_eq!(names, RATIO_SETTINGS, "{input}");
        for r in &mine {
            for f in [
                "ratio",
                "wire_bytes_per_msg",
                "compress_us",
                "decompress_us",
                "compress_us_ctx",
                "decompress_us_ctx",
                "cpu_us",
                "mem_busy_bytes",
                "mem_hibernated_bytes",
            ] {
                assert!(r[f].is_number(), "{input} {} {f}: {r}", r["setting"]);
            }
            assert!(r["pareto"].is_boolean());
            assert!(r["flags"].is_string());
            assert_eq!(r["contexts"], 3);
        }
        // No compression costs nothing: always on the frontier.
        assert_eq!(mine[0]["pareto"], true, "{input}");
        // The frontier, recomputed from the printed figures.
        for a in &mine {
            let (ac, ab) = (
                a["cpu_us"].as_f64().unwrap(),
                a["wire_bytes_per_msg"].as_f64().unwrap(),
            );
            let dominated = mine.iter().any(|b| {
                let (bc, bb) = (
                    b["cpu_us"].as_f64().unwrap(),
                    b["wire_bytes_per_msg"].as_f64().unwrap(),
                );
                bc <= ac && bb <= ab && (bc < ac || bb < ab)
            });
            assert_eq!(a["pareto"], !dominated, "{input} {}", a["setting"]);
        }
        let default = mine[1];
        assert!(default["ratio"].as_f64().unwrap() > 1.0);
        assert!(default["flags"].as_str().unwrap().starts_with('('));
    }
    let chart = std::fs::read_to_string(&svg).unwrap();
    assert!(
        chart.starts_with("<svg"),
        "{}",
        &chart[..chart.len().min(200)]
    );
    assert!(chart.contains("chat-json/mixed") && chart.contains("w12-l1"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn ratio_csv_and_table_for_chosen_settings_on_a_file() {
    let dir = std::env::temp_dir().join(format!("wsx-cli-ratio-csv-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("msgs.txt");
    let line = "{\"type\":\"message\",\"user\":\"alice\",\"text\":\"hello, world\"}\n";
    std::fs::write(&file, line.repeat(200)).unwrap();
    let file = file.to_str().unwrap();
    let csv = ratio(&[
        "--settings",
        "level6,off,no-ctx",
        "--split",
        "300",
        "--csv",
        file,
    ]);
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(header[..3], ["input", "setting", "pareto"]);
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    let names: Vec<&str> = rows.iter().map(|r| r[1]).collect();
    assert_eq!(names, ["level6", "off", "no-ctx"]);
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    for r in &rows {
        assert_eq!(r.len(), header.len(), "{r:?}");
        assert_eq!(r[0], file);
        assert!(r[col("pareto")] == "true" || r[col("pareto")] == "false");
        let ratio: f64 = r[col("ratio")].parse().unwrap();
        assert!(ratio >= 1.0);
        let _: f64 = r[col("cpu_us")].parse().unwrap();
        let _: f64 = r[col("mem_hibernated_bytes")].parse().unwrap();
    }
    assert_eq!(rows[1][col("pareto")], "true");
    let table = ratio(&["--settings", "level6,off", "--split", "300", file]);
    assert!(
        table.contains("level6") && table.contains("--deflate-level 6"),
        "{table}"
    );
    assert!(
        table
            .lines()
            .any(|l| l.starts_with('*') && l.contains(" off ")),
        "{table}"
    );
    let bad = Command::new(WSX)
        .args(["ratio", "--settings", "nope", file])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown setting"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// The 101's `Sec-WebSocket-Protocol` values for a raw upgrade request with
/// these extra header lines.
fn protocol_answer(addr: &str, extra: &str) -> Vec<String> {
    answer(addr, extra, "sec-websocket-protocol")
}

/// The 101's values of header `name` for a raw upgrade request with these
/// extra header lines.
fn answer(addr: &str, extra: &str, name: &str) -> Vec<String> {
    let mut tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let request = format!(
        "GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
    );
    tcp.write_all(request.as_bytes()).unwrap();
    // The connection stays open after the 101: read the head only.
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        tcp.read_exact(&mut byte).unwrap();
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap();
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    head.lines()
        .filter_map(|l| l.split_once(':'))
        .filter(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim().to_owned())
        .collect()
}

#[tokio::test]
async fn serve_selects_its_most_preferred_protocol_among_the_offered() {
    use futures_util::SinkExt;
    let s = serve(&["--protocol", "chat.v2", "--protocol", "chat.v1"]);
    let cases: [(&[&str], Option<&str>); 8] = [
        (&["chat.v1", "chat.v2"], Some("chat.v2")),
        (&["chat.v2", "chat.v1"], Some("chat.v2")),
        (&["chat.v1"], Some("chat.v1")),
        (&["other", "chat.v1"], Some("chat.v1")),
        (&["chat.v2"], Some("chat.v2")),
        (&["Chat.V2", "CHAT.V1"], None),
        (&["other"], None),
        (&[], None),
    ];
    for (offer, want) in cases {
        let config = wsx::ClientConfig::default()
            .with_subprotocols(offer.iter().map(|p| p.to_string()).collect());
        let (mut ws, resp) = wsx::connect_with(&format!("ws://{}/echo", s.addr), &config)
            .await
            .unwrap_or_else(|e| panic!("offer {offer:?}: {e}"));
        let got: Vec<_> = resp
            .headers()
            .get_all("sec-websocket-protocol")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect();
        assert_eq!(got, want.into_iter().collect::<Vec<_>>(), "offer {offer:?}");
        assert_eq!(ws.protocol(), want, "offer {offer:?}");
        ws.send(Message::text("hi")).await.unwrap();
        assert_eq!(ws.next().await.unwrap().unwrap(), Message::text("hi"));
        ws.close().await.unwrap();
    }
    // Several header lines, raw.
    let addr = s.addr.clone();
    tokio::task::spawn_blocking(move || {
        let two = "Sec-WebSocket-Protocol: x, chat.v1\r\nSec-WebSocket-Protocol: chat.v2\r\n";
        assert_eq!(protocol_answer(&addr, two), ["chat.v2"]);
        let one = "Sec-WebSocket-Protocol: chat.v1\r\nSec-WebSocket-Protocol: y\r\n";
        assert_eq!(protocol_answer(&addr, one), ["chat.v1"]);
        assert!(protocol_answer(&addr, "Sec-WebSocket-Protocol: chat\r\n").is_empty());
        assert!(protocol_answer(&addr, "").is_empty());
    })
    .await
    .unwrap();
}

#[test]
fn serve_rejects_an_invalid_protocol_at_startup() {
    for bad in ["a b", "a,b", "", "\"q\""] {
        let out = Command::new(WSX)
            .args(["serve", "--listen", "127.0.0.1:0", "--protocol", "ok"])
            .args(["--protocol", bad])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(!out.status.success(), "--protocol {bad:?} accepted");
        assert!(out.stdout.is_empty(), "--protocol {bad:?}: it listened");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("not a valid subprotocol"), "{bad:?}: {err}");
    }
    let help = Command::new(WSX)
        .args(["serve", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("--protocol <P>"), "{help}");
}

/// The 101's `Sec-WebSocket-Extensions` for a raw upgrade request offering
/// `offer`, joined ("" when none).
fn extensions_answer(addr: &str, offer: &str) -> String {
    answer(
        addr,
        &format!("Sec-WebSocket-Extensions: {offer}\r\n"),
        "sec-websocket-extensions",
    )
    .join(", ")
}

/// `wsx client --deflate-frame` against `wsx serve --deflate-frame`: the
/// echo is exact, and stderr names the extension.
#[test]
fn client_and_serve_speak_deflate_frame() {
    let s = serve(&["--deflate-frame"]);
    let long = "deflate-frame carries every frame compressed ".repeat(80);
    let input = format!("first\n{long}\n{long}\nκόσμε\n\nlast\n");
    let out = run_with_stdin(
        &["client", "--deflate-frame", &format!("ws://{}/df", s.addr)],
        &input,
    );
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8(out.stdout).unwrap(), input);
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("extensions: deflate-frame\n"), "stderr: {err}");
}

/// Through `wsx serve --deflate-frame`, a deflate-frame client's frames
/// are compressed both ways (the server's byte counters), under both
/// names, with the window carried from message to message.
#[tokio::test]
async fn serve_deflate_frame_compresses_each_frame() {
    use futures_util::SinkExt;
    use ws_deflate::{DeflateConfig, DeflateFrameClient};
    let s = serve(&["--deflate-frame"]);
    for (client, name) in [
        (
            DeflateFrameClient::new(DeflateConfig::default()),
            "deflate-frame",
        ),
        (
            DeflateFrameClient::new(DeflateConfig::default()).webkit(),
            "x-webkit-deflate-frame",
        ),
    ] {
        let config = wsx::ClientConfig::default()
            .with_extensions(ws_ext_core::ClientNegotiator::new().with(client));
        let url = format!("ws://{}/df?id={name}", s.addr);
        let (mut ws, _) = wsx::connect_with(&url, &config).await.unwrap();
        assert_eq!(ws.extensions(), Some(name));
        let text = "{\"hello\": \"world\"} ".repeat(500);
        for _ in 0..2 {
            ws.send(Message::text(text.clone())).await.unwrap();
            assert_eq!(
                ws.next().await.unwrap().unwrap(),
                Message::text(text.clone())
            );
        }
        let addr = s.addr.clone();
        let request = format!("GET /stats?id={name} HTTP/1.1\r\nHost: x\r\n\r\n");
        let stats = tokio::task::spawn_blocking(move || http(&addr, &request))
            .await
            .unwrap();
        let json = stats
            .split("\r\n\r\n")
            .nth(1)
            .unwrap_or_default()
            .to_owned();
        let field = |name: &str| -> u64 {
            let start = json.find(&format!("\"{name}\":")).unwrap() + name.len() + 3;
            json[start..]
                .chars()
                .take_while(|c| c.is_ascii_digit())
                .collect::<String>()
                .parse()
                .unwrap()
        };
        assert_eq!(field("payload_in"), 2 * text.len() as u64, "{json}");
        assert!(field("wire_in") < field("payload_in") / 5, "{json}");
        assert!(field("wire_out") < field("payload_out") / 5, "{json}");
        ws.close().await.unwrap();
        while let Some(m) = ws.next().await {
            m.unwrap();
        }
    }
}

/// With `--deflate-frame` the server still prefers permessage-deflate, answers
/// deflate-frame under the name offered with its parameters, and without
/// the flag it declines deflate-frame.
#[test]
fn serve_deflate_frame_preference_and_default() {
    let s = serve(&["--deflate-frame", "--client-max-window-bits", "10"]);
    let cases = [
        ("deflate-frame", "deflate-frame; max_window_bits=10"),
        (
            "x-webkit-deflate-frame",
            "x-webkit-deflate-frame; max_window_bits=10",
        ),
        (
            "X-WebKit-Deflate-Frame; no_context_takeover",
            "x-webkit-deflate-frame; max_window_bits=10",
        ),
        (
            // (without client_max_window_bits in the offer, the server
            // cannot limit the client's window)
            "x-webkit-deflate-frame, permessage-deflate",
            "permessage-deflate",
        ),
        (
            "deflate-frame, permessage-deflate; client_max_window_bits",
            "permessage-deflate; client_max_window_bits=10",
        ),
        (
            "permessage-deflate; client_max_window_bits, deflate-frame",
            "permessage-deflate; client_max_window_bits=10",
        ),
        // An invalid deflate-frame offer is declined.
        ("deflate-frame; max_window_bits=16", ""),
        ("deflate-frame; unknown", ""),
    ];
    for (offer, want) in cases {
        assert_eq!(extensions_answer(&s.addr, offer), want, "offer {offer:?}");
    }
    // Without the flag: declined, permessage-deflate as before.
    let plain = serve(&[]);
    assert_eq!(extensions_answer(&plain.addr, "deflate-frame"), "");
    assert_eq!(extensions_answer(&plain.addr, "x-webkit-deflate-frame"), "");
    assert_eq!(
        extensions_answer(&plain.addr, "x-webkit-deflate-frame, permessage-deflate"),
        "permessage-deflate"
    );
    // ...and `wsx client --deflate-frame` then runs without an extension.
    let out = Command::new(WSX)
        .args([
            "client",
            "--deflate-frame",
            &format!("ws://{}/", plain.addr),
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("extensions: \n"), "{err}");
    // deflate-frame only (--no-deflate): accepted alone, still never
    // next to a permessage-deflate offer (both use RSV1).
    let only = serve(&["--no-deflate", "--deflate-frame"]);
    assert_eq!(
        extensions_answer(&only.addr, "deflate-frame"),
        "deflate-frame"
    );
    assert_eq!(
        extensions_answer(&only.addr, "permessage-deflate, deflate-frame"),
        ""
    );
    // Not with --mux.
    let out = Command::new(WSX)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--mux",
            "--deflate-frame",
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
}

/// `serve --broadcast`: three clients on one path (two with deflate, one
/// without) each get every message sent on the path, their own included;
/// a client on another path gets none of them.
#[tokio::test]
async fn serve_broadcast_sends_each_message_to_every_connection_on_the_path() {
    use futures_util::SinkExt;

    let s = serve(&[
        "--broadcast",
        "--server-no-context-takeover",
        "--deflate-level",
        "6",
    ]);
    let room = format!("ws://{}/room", s.addr);
    // wsx's default client offers permessage-deflate.
    let plain = wsx::ClientConfig::default().without_extensions();
    let (a, _) = wsx::connect(&room).await.unwrap();
    let (b, _) = wsx::connect(&room).await.unwrap();
    let (c, _) = wsx::connect_with(&room, &plain).await.unwrap();
    let (mut d, _) = wsx::connect_with(&format!("ws://{}/other", s.addr), &plain)
        .await
        .unwrap();
    assert!(a
        .extensions()
        .unwrap()
        .contains("server_no_context_takeover"));
    assert_eq!(c.extensions(), None);
    let mut clients = [a, b, c];

    async fn next_data<S>(ws: &mut wsx::WebSocketStream<S>) -> Message
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    {
        loop {
            let m = tokio::time::timeout(Duration::from_secs(5), ws.next())
                .await
                .expect("a message in time")
                .expect("open")
                .expect("no error");
            if m.is_text() || m.is_binary() {
                return m;
            }
        }
    }

    // Each joins for sure: it hears its own warm-up message.
    for (i, ws) in clients.iter_mut().enumerate() {
        let hello = Message::text(format!("warmup {i}"));
        ws.send(hello.clone()).await.unwrap();
        while next_data(ws).await != hello {}
    }
    let sent = [
        Message::text("from a: ünïcødé ".repeat(200)),
        Message::binary((0..5000u32).map(|x| x as u8).collect::<Vec<u8>>()),
        Message::text("from c"),
    ];
    for (ws, m) in clients.iter_mut().zip(&sent) {
        ws.send(m.clone()).await.unwrap();
    }
    for (i, ws) in clients.iter_mut().enumerate() {
        let mut got = Vec::new();
        while got.len() < sent.len() {
            let m = next_data(ws).await;
            if !m.to_text().is_ok_and(|t| t.starts_with("warmup")) {
                got.push(m);
            }
        }
        for m in &sent {
            assert!(got.contains(m), "client {i} missed {:?}", m.len());
        }
    }
    // Another path is another room: d hears only itself.
    d.send(Message::text("d alone")).await.unwrap();
    assert_eq!(next_data(&mut d).await, Message::text("d alone"));
}

/// `serve --broadcast`: a connection is in its room before its 101 is
/// sent, so a message sent right after it opened reaches it.
#[tokio::test]
async fn serve_broadcast_member_gets_messages_sent_right_after_it_opened() {
    use futures_util::SinkExt;

    let s = serve(&["--broadcast"]);
    let room = format!("ws://{}/race", s.addr);
    let (mut sender, _) = wsx::connect(&room).await.unwrap();
    for i in 0..20 {
        let (mut late, _) = wsx::connect(&room).await.unwrap();
        let m = Message::text(format!("right after open {i}"));
        sender.send(m.clone()).await.unwrap();
        let got = tokio::time::timeout(Duration::from_secs(5), late.next())
            .await
            .expect("the message reached the member that had just opened")
            .unwrap()
            .unwrap();
        assert_eq!(got, m, "round {i}");
        // The sender hears itself too.
        assert_eq!(sender.next().await.unwrap().unwrap(), m);
        late.close().await.unwrap();
    }
}

/// `ratio --fanout N`: the fan-out view marks how one compression serves
/// the recipients of each setting.
#[test]
fn ratio_fanout_shows_what_is_shared() {
    let out = ratio(&[
        "--settings",
        "broadcast,default,off",
        "--sizes",
        "256",
        "--total",
        "16384",
        "--fanout",
        "100",
    ]);
    let view = out
        .split("fan-out to 100 recipients")
        .nth(1)
        .expect("the fan-out view");
    let shared = |setting: &str| -> Vec<String> {
        view.lines()
            .filter(|l| l.split_whitespace().nth(1) == Some(setting))
            .map(|l| l.split_whitespace().nth(2).unwrap_or("").to_owned())
            .collect()
    };
    // One frame for all (no context, or no compression); context
    // takeover: one compressor per cohort.
    for (setting, want) in [
        ("broadcast", "frame"),
        ("off", "frame"),
        ("default", "cohort"),
    ] {
        let got = shared(setting);
        assert!(!got.is_empty(), "{setting} missing:\n{view}");
        assert!(got.iter().all(|s| s == want), "{setting}: {got:?}\n{view}");
    }
}

/// `serve --broadcast` shuts down like the echo server: 1001, exit 0.
#[tokio::test]
async fn sigterm_closes_broadcast_members_with_1001() {
    let mut s = serve(&["--broadcast"]);
    let (mut ws, _) = wsx::connect(&format!("ws://{}/room", s.addr))
        .await
        .unwrap();
    // Joined for sure: it hears its own message.
    use futures_util::SinkExt;
    ws.send(Message::text("hi")).await.unwrap();
    let echo = tokio::time::timeout(Duration::from_secs(5), ws.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(echo, Message::text("hi"));
    let pid = s.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let msg = tokio::time::timeout(Duration::from_secs(5), ws.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    match msg {
        Message::Close(Some(f)) => assert_eq!(u16::from(f.code), 1001),
        other => panic!("{other:?}"),
    }
    let start = Instant::now();
    while s.child.try_wait().unwrap().is_none() {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "server did not exit"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
