//! `wsx probe URL`: offer each extension and parameter combination in turn
//! and report what the server accepts, over `ws://` or `wss://`.
//!
//! - [`offers`]: the offers tried, in order.
//! - [`attempt`]: one handshake (TCP, TLS for `wss://`, the HTTP upgrade).
//! - [`report`]: the text table or the `--json` array.
//!
//! A TLS handshake failure before any server answered (an untrusted
//! certificate, a wrong host name, a server that does not speak TLS) stops
//! the probe with that error: every other offer would fail the same way.

mod attempt;
mod offers;
mod report;

use std::time::Duration;

use attempt::{AttemptError, Prober};
use report::Row;

use crate::args::ProbeArgs;

/// Most time one attempt may take (connect, TLS, response head).
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// Probe every offer and print the table (as it goes) or the JSON array
/// (at the end) to stdout. Fails when no attempt got an HTTP answer.
pub async fn run(args: ProbeArgs) -> Result<(), String> {
    let prober = Prober::new(&args.url, args.tls_ca.as_deref())
        .map_err(|e| format!("probe: {}: {e}", args.url))?;
    let mut rows = Vec::new();
    let mut reachable = false;
    for offer in offers::offers() {
        let result = tokio::time::timeout(ATTEMPT_TIMEOUT, prober.attempt(&offer))
            .await
            .unwrap_or_else(|_| Err(AttemptError::Transport("timed out".into())));
        match &result {
            Ok(_) => reachable = true,
            Err(AttemptError::Tls(e)) if !reachable => {
                let hint = if args.tls_ca.is_none() && e.contains("certificate") {
                    " (for a private CA or a self-signed certificate, pass --tls-ca PEM)"
                } else {
                    ""
                };
                return Err(format!("probe: {}: {e}{hint}", args.url));
            }
            Err(_) => {}
        }
        let row = Row { offer, result };
        if !args.json {
            if rows.is_empty() {
                println!("{}", report::text_header());
            }
            println!("{}", report::text_line(&row));
        }
        rows.push(row);
    }
    if args.json {
        let json = report::json(&rows).map_err(|e| format!("probe: JSON output: {e}"))?;
        print!("{json}");
    }
    if reachable {
        Ok(())
    } else {
        Err(format!("probe: no handshake with {} succeeded", args.url))
    }
}
