//! `plantshield oui import`: refresh the embedded MAC vendor registry.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

/// `plantshield oui ...`
#[derive(Args, Debug)]
pub struct OuiArgs {
    #[command(subcommand)]
    command: OuiCommand,
}

#[derive(Subcommand, Debug)]
enum OuiCommand {
    /// Convert IEEE registry CSV files (oui.csv, mam.csv, oui36.csv) into data/oui.tsv.
    Import {
        /// IEEE CSV files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Where to write the registry (rebuild PlantShield afterwards to embed it).
        #[arg(short, long, default_value = "data/oui.tsv")]
        output: PathBuf,
    },
    /// Print the vendor of a MAC address from the embedded registry.
    Lookup {
        /// A MAC address, e.g. 08:00:06:12:34:56.
        mac: String,
    },
}

pub fn run(args: OuiArgs) -> ExitCode {
    match args.command {
        OuiCommand::Import { files, output } => {
            let mut texts = Vec::new();
            for f in &files {
                match std::fs::read(f) {
                    Ok(b) => texts.push((
                        f.display().to_string(),
                        String::from_utf8_lossy(&b).into_owned(),
                    )),
                    Err(e) => {
                        eprintln!("plantshield: cannot read {}: {e}", f.display());
                        return ExitCode::from(2);
                    }
                }
            }
            match plantshield_engine::oui::import_csv(&texts) {
                Ok(tsv) => {
                    let n = tsv.lines().filter(|l| !l.starts_with('#')).count();
                    if let Err(e) = std::fs::write(&output, tsv) {
                        eprintln!("plantshield: cannot write {}: {e}", output.display());
                        return ExitCode::from(2);
                    }
                    eprintln!(
                        "plantshield: {n} assignments written to {}",
                        output.display()
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("plantshield: {e}");
                    ExitCode::from(2)
                }
            }
        }
        OuiCommand::Lookup { mac } => {
            let bytes: Vec<u8> = mac
                .split([':', '-'])
                .filter_map(|p| u8::from_str_radix(p, 16).ok())
                .collect();
            let Ok(b) = <[u8; 6]>::try_from(bytes.as_slice()) else {
                eprintln!("plantshield: {mac:?} is not a MAC address");
                return ExitCode::from(2);
            };
            match plantshield_engine::oui::vendor(plantshield_decode::MacAddr(b)) {
                Some(v) => {
                    println!("{v}");
                    ExitCode::SUCCESS
                }
                None => {
                    println!("unknown");
                    ExitCode::from(1)
                }
            }
        }
    }
}
