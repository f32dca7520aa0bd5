//! `scripts/simulate`: runs the simulator over many seeds (default
//! 10,000 from 0) or one (`--seed S`, with its trace), optionally with a
//! planted bug (`--bug NAME`); prints the first failing seed with the
//! trace that replays it, and exits 1 then.

use std::process::ExitCode;
use std::time::Instant;

use simulator::{first_failure, run, Bug, Outcome};

/// Seeds run when none are asked for.
const SEEDS_DEFAULT: u64 = 10_000;
/// Trace lines printed before the violation.
const TRACE_TAIL: usize = 400;

struct Args {
    seeds: u64,
    from: u64,
    seed: Option<u64>,
    bug: Option<Bug>,
    trace: bool,
}

fn parse() -> Result<Args, String> {
    let mut args = Args {
        seeds: SEEDS_DEFAULT,
        from: 0,
        seed: None,
        bug: None,
        trace: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        let number = |v: String| {
            v.replace('_', "")
                .parse::<u64>()
                .map_err(|e| format!("{v}: {e}"))
        };
        match arg.as_str() {
            "--seeds" => args.seeds = number(value("--seeds")?)?,
            "--from" => args.from = number(value("--from")?)?,
            "--seed" => args.seed = Some(number(value("--seed")?)?),
            "--bug" => {
                let name = value("--bug")?;
                let names: Vec<&str> = Bug::ALL.iter().map(|b| b.name()).collect();
                args.bug =
                    Some(Bug::parse(&name).ok_or(format!("--bug {name}: one of {names:?}"))?);
            }
            "--trace" => args.trace = true,
            "-h" | "--help" => {
                return Err(
                    "usage: simulate [--seeds N] [--from S] [--seed S [--trace]] [--bug NAME]"
                        .into(),
                )
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(args)
}

fn report(outcome: &Outcome, bug: Option<Bug>) {
    let Some(violation) = &outcome.violation else {
        return;
    };
    let again = run(outcome.seed, bug, true);
    let skip = again.trace.len().saturating_sub(TRACE_TAIL);
    println!(
        "trace of seed {} (last {} of {} steps):",
        outcome.seed,
        again.trace.len() - skip,
        again.trace.len()
    );
    for line in &again.trace[skip..] {
        println!("  {line}");
    }
    let bug_arg = bug
        .map(|b| format!(" --bug {}", b.name()))
        .unwrap_or_default();
    println!(
        "FAILED seed {} at {} µs: {}\nreplay: scripts/simulate --seed {}{bug_arg} --trace",
        outcome.seed, violation.at, violation.what, outcome.seed
    );
}

fn main() -> ExitCode {
    let args = match parse() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let started = Instant::now();
    if let Some(seed) = args.seed {
        let outcome = run(seed, args.bug, args.trace);
        if args.trace {
            for line in &outcome.trace {
                println!("{line}");
            }
        }
        return match &outcome.violation {
            None => {
                println!("seed {seed}: ok ({} steps)", outcome.steps);
                ExitCode::SUCCESS
            }
            Some(_) => {
                report(&outcome, args.bug);
                ExitCode::from(1)
            }
        };
    }
    let seeds = args.from..args.from + args.seeds;
    let (failed, ran) = first_failure(seeds, args.bug);
    let took = started.elapsed();
    match failed {
        None => {
            println!(
                "{ran} seeds from {} ran clean in {:.1} s",
                args.from,
                took.as_secs_f64()
            );
            ExitCode::SUCCESS
        }
        Some(outcome) => {
            report(&outcome, args.bug);
            println!("caught after {ran} seeds ({:.1} s)", took.as_secs_f64());
            ExitCode::from(1)
        }
    }
}
