//! `wsx`: the reference WebSocket server and client of the wsx crates.
//!
//! The command line is a contract that outside scripts drive; see
//! `wsx --help` and DESIGN.md.

// Unsafe code: libc calls in `allocator` (malloc_trim) and `ratio`
// (clock_gettime, mallinfo2), each with its SAFETY comment.
#![deny(unsafe_code)]
#![warn(clippy::undocumented_unsafe_blocks)]

#[allow(unsafe_code)]
mod allocator;
mod args;
mod autobahn;
mod client;
mod cores;
mod echo;
mod extensions;
mod load;
mod mux_client;
mod mux_serve;
mod probe;
mod ratio;
mod rooms;
mod serve;
mod stats;
mod stdin;

use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

use args::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn,wsx=info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    // `wsx serve` runs connections on its own runtimes, one per core
    // (`cores`); its main runtime only accepts and keeps time.
    let mut builder = match &cli.command {
        Command::Serve(_) => tokio::runtime::Builder::new_current_thread(),
        _ => tokio::runtime::Builder::new_multi_thread(),
    };
    let rt = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("wsx: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = rt.block_on(async move {
        match cli.command {
            Command::Serve(a) => serve::run(a).await,
            Command::Client(a) => client::run(a).await,
            Command::AutobahnClient(a) => autobahn::run(a).await,
            Command::Probe(a) => probe::run(a).await,
            Command::Ratio(a) => ratio::run(a).await,
            Command::Load(a) => load::run(a).await,
        }
    });
    // Do not wait for blocked stdin readers.
    rt.shutdown_background();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wsx: {e}");
            ExitCode::FAILURE
        }
    }
}
