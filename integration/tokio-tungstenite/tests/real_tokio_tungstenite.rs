//! The programs of `programs/` compiled against the real tokio-tungstenite
//! 0.30: proof that they use its documented API only (the same sources run
//! against this crate in `dropin.rs`). One runs, as a sanity check.

// tungstenite's `Callback` returns its `ErrorResponse` by value.
#![allow(clippy::result_large_err)]

extern crate real_tokio_tungstenite as tokio_tungstenite;

#[allow(dead_code)]
mod programs;

#[tokio::test]
async fn the_programs_build_and_run_on_the_real_crate() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}", listener.local_addr().unwrap());
    tokio::spawn(programs::autobahn_server::run(listener));
    let input = b"some bytes for the real tokio-tungstenite\n".repeat(100);
    let mut output = Vec::new();
    programs::stdin_client::run(&url, &input[..], &mut output)
        .await
        .unwrap();
    assert_eq!(output, input);
}
