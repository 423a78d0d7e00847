//! The permessage-deflate policy (an addition to tokio-tungstenite's API;
//! nobody has to call it).
//!
//! By default every server entry point accepts permessage-deflate with
//! [`DeflateConfig::default()`] (the negotiation a browser, Node `ws` or
//! Python `websockets` offers is answered; a client that offers nothing
//! gets an uncompressed connection) and every client entry point offers it
//! with the same configuration. Change it once at startup:
//!
//! ```
//! use tokio_tungstenite::deflate::{self, DeflateConfig};
//!
//! // No compression at all, as with tokio-tungstenite:
//! deflate::set(None).unwrap();
//! // Or back to the default policy:
//! deflate::set(Some(DeflateConfig::default())).unwrap();
//! assert_eq!(deflate::current(), Some(DeflateConfig::default()));
//! ```
//!
//! The setting is process-wide and applies to handshakes started after it.

use std::sync::RwLock;

pub use ws_deflate::{ConfigError, DeflateConfig};
use ws_deflate::{PerMessageDeflateClient, PerMessageDeflateServer};
use ws_ext_core::{ClientNegotiator, ServerNegotiator};

/// `None`: never set (the default policy). `Some(None)`: compression off.
static POLICY: RwLock<Option<Option<DeflateConfig>>> = RwLock::new(None);

/// Set the policy for handshakes started from now on: `Some(config)` to
/// negotiate permessage-deflate with `config`, `None` to turn it off. An
/// invalid configuration is refused and the policy left as it was.
pub fn set(config: Option<DeflateConfig>) -> Result<(), ConfigError> {
    if let Some(c) = &config {
        PerMessageDeflateServer::try_new(c.clone())?;
        PerMessageDeflateClient::try_new(c.clone())?;
    }
    *POLICY.write().unwrap_or_else(|e| e.into_inner()) = Some(config);
    Ok(())
}

/// The policy in force: `None` when compression is off.
pub fn current() -> Option<DeflateConfig> {
    POLICY
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
        .unwrap_or_else(|| Some(DeflateConfig::default()))
}

/// What a server offers under the current policy.
pub(crate) fn server_negotiator() -> ServerNegotiator {
    let mut n = ServerNegotiator::new();
    // `set` validated the configuration; the default is valid.
    if let Some(pmd) = current().and_then(|c| PerMessageDeflateServer::try_new(c).ok()) {
        n = n.with(pmd);
    }
    n
}

/// What a client offers under the current policy.
pub(crate) fn client_negotiator() -> ClientNegotiator {
    let mut n = ClientNegotiator::new();
    if let Some(pmd) = current().and_then(|c| PerMessageDeflateClient::try_new(c).ok()) {
        n = n.with(pmd);
    }
    n
}
