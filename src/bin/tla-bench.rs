//! `tla-bench`: the benchmark harness of docs/PERFORMANCE.md, run as
//! `tla bench ARGS` (the `tla` binary hands over to this one beside it) or
//! directly. It is a binary of its own, built only with `--features
//! bench`, so that the production `tla` links none of what it needs to
//! measure baselines: a PostgreSQL client, nix's `getrusage`, sled
//! directly, a NATS client of its own.
//!
//! `tla-bench bench-peak -- ARGS` is internal: it runs `tla ARGS` as the
//! only child of a fresh process and prints its wall seconds and peak
//! resident KiB (`measure`). `bench-events COUNT [TENANTS]` and
//! `bench-format-3 DIR` make the inputs of scripts/migrate-1m (`fixture`).

#[path = "../cmd/bench/mod.rs"]
mod bench;

use std::process::ExitCode;

use clap::Parser;

/// What the harness's modules reach as `super::`.
use service::write_atomically;

#[derive(Parser)]
#[command(
    name = "tla bench",
    bin_name = "tla bench",
    about = "Measure append, JetStream, verify and report against baselines in the same run; \
             prints a table and writes bench-results.json (docs/PERFORMANCE.md)"
)]
struct Cli {
    #[command(flatten)]
    args: bench::Args,
}

fn main() -> ExitCode {
    let mut raw = std::env::args_os();
    let program = raw.next();
    let rest: Vec<_> = raw.collect();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("TLA_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let internal = rest.first().and_then(|a| a.to_str()).map(str::to_owned);
    let result = if internal.as_deref() == Some("bench-peak") {
        // `bench-peak -- ARGS`
        let args = rest.into_iter().skip(1).skip_while(|a| a == "--").collect();
        bench::peak_main(args)
    } else if internal.as_deref() == Some("bench-events") {
        bench::fixture::events_main(rest.into_iter().skip(1).collect())
    } else if internal.as_deref() == Some("bench-format-3") {
        bench::fixture::format3_main(rest.into_iter().skip(1).collect())
    } else {
        let cli = Cli::parse_from(program.into_iter().chain(rest));
        bench::run(cli.args)
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(1)
        }
    }
}
