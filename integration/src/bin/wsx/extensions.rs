//! Map the command-line extension flags to negotiators.

use ws_ext_core::{ClientNegotiator, ServerNegotiator};

use crate::args::CommonArgs;

/// The server's extensions for these flags.
pub fn server(args: &CommonArgs) -> Result<ServerNegotiator, String> {
    if args.mux {
        return Err("--mux is not implemented yet in wsx".into());
    }
    let neg = ServerNegotiator::new();
    if !args.deflate.no_deflate {
        tracing::warn!("permessage-deflate is not wired into wsx yet; serving without it");
    }
    Ok(neg)
}

/// The client's extensions for these flags.
pub fn client(args: &CommonArgs) -> Result<ClientNegotiator, String> {
    if args.mux {
        return Err("--mux is not implemented yet in wsx".into());
    }
    let neg = ClientNegotiator::new();
    if !args.deflate.no_deflate {
        tracing::warn!("permessage-deflate is not wired into wsx yet; connecting without it");
    }
    Ok(neg)
}
