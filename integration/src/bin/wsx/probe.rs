//! `wsx probe URL`: which extension offers does a server accept?

use crate::args::ProbeArgs;

/// Not yet implemented.
pub async fn run(args: ProbeArgs) -> Result<(), String> {
    Err(format!("probe {}: not implemented yet", args.url))
}
