//! Map the command-line extension flags to negotiators.

use ws_deflate::{DeflateConfig, PerMessageDeflateClient, PerMessageDeflateServer};
use ws_ext_core::{ClientNegotiator, ServerNegotiator};

use crate::args::{CommonArgs, DeflateArgs};

/// The permessage-deflate policy for these flags, or `None` with
/// `--no-deflate`.
pub fn deflate_config(args: &DeflateArgs) -> Option<DeflateConfig> {
    if args.no_deflate {
        return None;
    }
    let d = DeflateConfig::default();
    Some(DeflateConfig {
        level: args.deflate_level.unwrap_or(d.level),
        server_max_window_bits: args.server_max_window_bits,
        client_max_window_bits: args.client_max_window_bits,
        server_no_context_takeover: args.server_no_context_takeover,
        client_no_context_takeover: args.client_no_context_takeover,
        compress_threshold: args.compress_threshold.unwrap_or(d.compress_threshold),
        mem_level: args.mem_level.unwrap_or(d.mem_level),
        pool_capacity: args.deflate_pool.unwrap_or(d.pool_capacity),
        ..d
    })
}

/// The server's extensions for these flags.
pub fn server(args: &CommonArgs) -> Result<ServerNegotiator, String> {
    let mut neg = ServerNegotiator::new();
    if let Some(cfg) = deflate_config(&args.deflate) {
        let pmd = PerMessageDeflateServer::try_new(cfg).map_err(|e| format!("deflate: {e}"))?;
        neg = neg.with(pmd);
    }
    Ok(neg)
}

/// The client's extensions for these flags.
pub fn client(args: &CommonArgs) -> Result<ClientNegotiator, String> {
    let mut neg = ClientNegotiator::new();
    if let Some(cfg) = deflate_config(&args.deflate) {
        let pmd = PerMessageDeflateClient::try_new(cfg).map_err(|e| format!("deflate: {e}"))?;
        neg = neg.with(pmd);
    }
    Ok(neg)
}
