//! `plantshield learn` (a baseline from captures) and `plantshield policy
//! check` (validate policy files, every error with its line).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use plantshield_engine::policy::{self, Loaded};
use plantshield_engine::{Engine, InventoryConfig, Learner};

use crate::input::{feed, InputArgs};

/// Options of `plantshield learn`.
#[derive(Args, Debug)]
pub struct LearnArgs {
    #[command(flatten)]
    input: InputArgs,
    /// Write the baseline to FILE instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
}

/// `plantshield policy ...`.
#[derive(Args, Debug)]
pub struct PolicyArgs {
    #[command(subcommand)]
    command: PolicyCommand,
}

#[derive(Subcommand, Debug)]
enum PolicyCommand {
    /// Validate policy files: every error and warning with its line; exit 1 on errors.
    Check {
        /// Policy files (zones, conduits, deny rules, baselines); included files are read too.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
}

pub fn run_learn(args: LearnArgs) -> ExitCode {
    let mut sensor = args.input.sensor();
    let mut engine = Engine::new(Learner::new(), InventoryConfig::default());
    engine.emit_assets = false;
    let ok = feed(&args.input, &mut sensor, &mut engine, false);
    sensor.finish(&mut engine);
    let sources: Vec<String> = args
        .input
        .captures
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    let text = engine.inner.write_baseline(&engine.inventory, &sources);
    let written = match &args.output {
        Some(p) => std::fs::write(p, &text).map_err(|e| format!("{}: {e}", p.display())),
        None => {
            print!("{text}");
            Ok(())
        }
    };
    if let Err(e) = written {
        eprintln!("plantshield: cannot write the baseline: {e}");
        return ExitCode::from(2);
    }
    eprintln!(
        "plantshield: learned {} assets and {} communication pairs{}",
        engine
            .inventory
            .assets()
            .filter(|a| !a.macs.is_empty() || !a.ips.is_empty())
            .count(),
        engine.inner.pair_count(),
        args.output
            .as_ref()
            .map(|p| format!(" into {}", p.display()))
            .unwrap_or_default()
    );
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

pub fn run_policy(args: PolicyArgs) -> ExitCode {
    match args.command {
        PolicyCommand::Check { files } => {
            let loaded = policy::load(&files);
            report(&loaded);
            if loaded.has_errors() {
                return ExitCode::from(1);
            }
            let p = &loaded.policy;
            let (assets, pairs, accepts) = p.baseline.as_ref().map_or((0, 0, 0), |b| {
                (b.assets.len(), b.pairs.len(), b.accepts.len())
            });
            println!(
                "ok: {} file(s); {} zones, {} conduits, {} deny rules; baseline: {assets} assets, \
                 {pairs} pairs, {accepts} accepted alerts",
                loaded.files.len(),
                p.zones.len(),
                p.conduits.len(),
                p.denies.len(),
            );
            ExitCode::SUCCESS
        }
    }
}

/// Prints every diagnostic on standard error.
pub fn report(loaded: &Loaded) {
    for d in &loaded.diagnostics {
        eprintln!("{d}");
    }
}

/// Loads `--policy` files for `analyze`; `None` (with the errors printed) when they are broken.
pub fn load_for_analyze(files: &[PathBuf]) -> Option<policy::Policy> {
    let loaded = policy::load(files);
    report(&loaded);
    if loaded.has_errors() {
        eprintln!("plantshield: the policy has errors (see `plantshield policy check`)");
        return None;
    }
    Some(loaded.policy)
}
