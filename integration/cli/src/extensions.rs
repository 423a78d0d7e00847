//! Map the command-line extension flags to negotiators.

use ws_deflate::deflate_frame::{DEFLATE_FRAME, X_WEBKIT_DEFLATE_FRAME};
use ws_deflate::{
    DeflateConfig, DeflateFrameClient, DeflateFrameServer, DeflatePool, PerMessageDeflateClient,
    PerMessageDeflateServer,
};
use ws_ext_core::{ClientNegotiator, ServerNegotiator};

use crate::args::{CommonArgs, DeflateArgs};

/// The permessage-deflate policy for these flags, or `None` with
/// `--no-deflate`.
pub fn deflate_config(args: &DeflateArgs) -> Option<DeflateConfig> {
    (!args.no_deflate).then(|| policy(args))
}

/// The compression policy of these flags, whichever extension uses it
/// (permessage-deflate or, with `--deflate-frame`, deflate-frame).
fn policy(args: &DeflateArgs) -> DeflateConfig {
    let d = DeflateConfig::default();
    d.clone()
        .with_level(args.deflate_level.unwrap_or(d.level))
        .with_server_max_window_bits(args.server_max_window_bits)
        .with_client_max_window_bits(args.client_max_window_bits)
        .with_server_no_context_takeover(args.server_no_context_takeover)
        .with_client_no_context_takeover(args.client_no_context_takeover)
        .with_compress_threshold(args.compress_threshold.unwrap_or(d.compress_threshold))
        .with_mem_level(args.mem_level.unwrap_or(d.mem_level))
        .with_pool_capacity(args.deflate_pool.unwrap_or(d.pool_capacity))
        .with_compressor(args.compressor.unwrap_or(d.compressor))
        .with_tune(args.deflate_tune)
}

/// The server's extensions for these flags: permessage-deflate (unless
/// `--no-deflate`), then with `--deflate-frame` deflate-frame and
/// x-webkit-deflate-frame, which the library accepts only when the client
/// offers no permessage-deflate at all (both claim RSV1). Both share one
/// pool of compressors.
pub fn server(args: &CommonArgs) -> Result<ServerNegotiator, String> {
    let mut neg = ServerNegotiator::new();
    let cfg = policy(&args.deflate);
    let pool = DeflatePool::new(cfg.pool_capacity);
    if !args.deflate.no_deflate {
        let pmd = PerMessageDeflateServer::try_new(cfg.clone())
            .map_err(|e| format!("deflate: {e}"))?
            .with_pool(pool.clone());
        neg = neg.with(pmd);
    }
    if args.deflate.deflate_frame {
        let frame = DeflateFrameServer::try_new(cfg)
            .map_err(|e| format!("deflate-frame: {e}"))?
            .with_pool(pool);
        neg = neg.with(frame);
    }
    Ok(neg)
}

/// The extension names [`server`] accepts for these flags, in order of
/// preference (for the startup log).
pub fn server_names(args: &CommonArgs) -> Vec<&'static str> {
    let mut names = Vec::new();
    if !args.deflate.no_deflate {
        names.push(ws_deflate::PERMESSAGE_DEFLATE);
    }
    if args.deflate.deflate_frame {
        names.extend([DEFLATE_FRAME, X_WEBKIT_DEFLATE_FRAME]);
    }
    names
}

/// The client's extensions for these flags: deflate-frame with
/// `--deflate-frame`, else permessage-deflate unless `--no-deflate`.
pub fn client(args: &CommonArgs) -> Result<ClientNegotiator, String> {
    let mut neg = ClientNegotiator::new();
    if args.deflate.deflate_frame {
        let cfg = policy(&args.deflate);
        // DeflateFrameClient::new panics on an invalid policy: check first.
        cfg.validate().map_err(|e| format!("deflate-frame: {e}"))?;
        neg = neg.with(DeflateFrameClient::new(cfg));
    } else if let Some(cfg) = deflate_config(&args.deflate) {
        let pmd = PerMessageDeflateClient::try_new(cfg).map_err(|e| format!("deflate: {e}"))?;
        neg = neg.with(pmd);
    }
    Ok(neg)
}
