//! `plantshield`: one binary, one subcommand per job.

#![forbid(unsafe_code)]

mod analyze;
mod assets;
mod audit;
mod input;
mod oui;
mod policy;
mod report;
mod serve;
mod summary;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Passive security monitoring for industrial control networks.
#[derive(Parser)]
#[command(name = "plantshield", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Analyse capture files and write ICS transaction, flow, anomaly and asset events as JSON Lines.
    Analyze(analyze::AnalyzeArgs),
    /// List the devices found in capture files, with their identity and evidence.
    Assets(assets::AssetsArgs),
    /// Draw who talks to whom in capture files.
    Map(assets::MapArgs),
    /// The MAC vendor registry.
    Oui(oui::OuiArgs),
    /// Learn a baseline (assets, communication pairs, functions, address ranges) from capture files.
    Learn(policy::LearnArgs),
    /// Policy files: zones, conduits, deny rules and baselines.
    Policy(policy::PolicyArgs),
    /// The hash-chained audit log written by `analyze --audit`: verify, list.
    Audit(audit::AuditArgs),
    /// Run the platform: HTTPS server with the REST API and web UI over the store in --data.
    Serve(serve::ServeArgs),
    /// Write the plant security report (self-contained HTML, and PDF with --pdf) from the
    /// platform store (--data) or from capture files.
    Report(report::ReportArgs),
    /// Print the JSON Schema that every event validates against.
    Schema,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Analyze(args) => analyze::run(args),
        Command::Assets(args) => assets::run_assets(args),
        Command::Map(args) => assets::run_map(args),
        Command::Oui(args) => oui::run(args),
        Command::Learn(args) => policy::run_learn(args),
        Command::Policy(args) => policy::run_policy(args),
        Command::Audit(args) => audit::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Report(args) => report::run(args),
        Command::Schema => {
            print!("{}", plantshield_events::EVENT_SCHEMA);
            ExitCode::SUCCESS
        }
    }
}
