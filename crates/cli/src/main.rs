//! `plantshield`: one binary, one subcommand per job.

#![forbid(unsafe_code)]

mod analyze;
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
    /// Analyse capture files and write ICS transaction, flow and anomaly events as JSON Lines.
    Analyze(analyze::AnalyzeArgs),
    /// Print the JSON Schema that every event validates against.
    Schema,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Analyze(args) => analyze::run(args),
        Command::Schema => {
            print!("{}", plantshield_events::EVENT_SCHEMA);
            ExitCode::SUCCESS
        }
    }
}
