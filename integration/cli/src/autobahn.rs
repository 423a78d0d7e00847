//! `wsx autobahn-client`: the echo client of an Autobahn fuzzingserver.

use futures_util::StreamExt;
use tracing::{info, warn};
use wsx::{ClientConfig, Message};

use crate::args::AutobahnArgs;
use crate::echo::echo;

/// Run every case, then update the reports.
pub async fn run(args: AutobahnArgs) -> Result<(), String> {
    let mut config =
        ClientConfig::default().with_extensions(crate::extensions::client(&args.common)?);
    config.websocket.max_message_size = args.common.max_message_size;
    config.websocket.max_frame_size = args.common.max_message_size;
    let base = args.url.trim_end_matches('/');

    let count_url = format!("{base}/getCaseCount");
    let (mut ws, _) = wsx::connect_with(&count_url, &config)
        .await
        .map_err(|e| format!("{count_url}: {e}"))?;
    let mut count: Option<u32> = None;
    while let Some(msg) = ws.next().await {
        match msg {
            Ok(Message::Text(t)) => count = t.trim().parse().ok(),
            Ok(_) => {}
            Err(e) => return Err(format!("getCaseCount: {e}")),
        }
    }
    let count = count.ok_or("getCaseCount: no case count received")?;
    info!(count, "running cases");

    for case in 1..=count {
        let url = format!("{base}/runCase?case={case}&agent={}", args.agent);
        match wsx::connect_with(&url, &config).await {
            Ok((mut ws, _)) => {
                if let Err(e) = echo(&mut ws, None, None).await {
                    info!(case, error = %e, "case ended with an error");
                }
            }
            Err(e) => warn!(case, error = %e, "cannot run case"),
        }
    }

    let url = format!("{base}/updateReports?agent={}", args.agent);
    let (mut ws, _) = wsx::connect_with(&url, &config)
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    while let Some(msg) = ws.next().await {
        if let Err(e) = msg {
            return Err(format!("updateReports: {e}"));
        }
    }
    info!("reports updated");
    Ok(())
}
