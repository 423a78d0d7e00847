//! tokio-tungstenite's Autobahn client: ask the fuzzing server for the
//! number of cases, run each (echo everything), update the reports.

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::{
    connect_async,
    tungstenite::{Error, Result},
};

const AGENT: &str = "Tungstenite";

async fn get_case_count(base: &str) -> Result<u32> {
    let (mut socket, _) = connect_async(format!("{base}/getCaseCount")).await?;
    let msg = socket.next().await.expect("Can't fetch case count")?;
    socket.close(None).await?;
    // Finish the closing handshake.
    while socket.next().await.is_some() {}
    Ok(msg
        .to_text()?
        .parse::<u32>()
        .expect("Can't parse case count"))
}

async fn update_reports(base: &str) -> Result<()> {
    let (mut socket, _) = connect_async(format!("{base}/updateReports?agent={AGENT}")).await?;
    socket.close(None).await?;
    while socket.next().await.is_some() {}
    Ok(())
}

async fn run_test(base: &str, case: u32) -> Result<()> {
    let case_url = format!("{base}/runCase?case={case}&agent={AGENT}");
    let (mut ws_stream, _) = connect_async(case_url).await?;
    while let Some(msg) = ws_stream.next().await {
        let msg = msg?;
        if msg.is_text() || msg.is_binary() {
            ws_stream.send(msg).await?;
        }
    }
    Ok(())
}

/// Returns the number of cases run.
pub async fn run(base: &str) -> Result<u32> {
    let total = get_case_count(base).await?;
    for case in 1..=total {
        if let Err(e) = run_test(base, case).await {
            match e {
                Error::ConnectionClosed | Error::Protocol(_) | Error::Utf8(_) => (),
                err => return Err(err),
            }
        }
    }
    update_reports(base).await?;
    Ok(total)
}
