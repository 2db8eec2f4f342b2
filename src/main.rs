//! Parses the command line and hands over to `cli::run`; nothing else lives here.

use clap::Parser;
use std::process::ExitCode;

/// mimalloc instead of glibc malloc: imports build rows on one thread and free them on
/// another, which glibc's arenas handle slowly (see docs/ARCHITECTURE.md, Imports).
/// (`--features system-allocator` keeps glibc's, for heap profilers that only see malloc.)
#[cfg(not(feature = "system-allocator"))]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    match costguard::cli::run(costguard::cli::Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
