//! `plantshield assets` and `plantshield map`: the inventory and the
//! communication map learned from captures.

use std::process::ExitCode;

use clap::{Args, ValueEnum};
use plantshield_engine::{output, Engine, Inventory, InventoryConfig};
use plantshield_sensor::json::CountSink;

use crate::input::{feed, InputArgs};

/// Output formats of `plantshield assets`.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum AssetFormat {
    /// A text table.
    Table,
    /// One JSON document with every asset, its identity evidence and history.
    Json,
    /// One CSV row per asset.
    Csv,
}

/// Output formats of `plantshield map`.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum MapFormat {
    /// Graphviz dot, clustered by Purdue level.
    Dot,
    /// GraphML.
    Graphml,
    /// One JSON document with nodes and edges.
    Json,
}

/// Options of `plantshield assets`.
#[derive(Args, Debug)]
pub struct AssetsArgs {
    #[command(flatten)]
    input: InputArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = AssetFormat::Table)]
    format: AssetFormat,
}

/// Options of `plantshield map`.
#[derive(Args, Debug)]
pub struct MapArgs {
    #[command(flatten)]
    input: InputArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = MapFormat::Dot)]
    format: MapFormat,
}

/// Runs the captures through the sensor and the inventory.
fn learn(input: &InputArgs) -> (Inventory, bool) {
    let mut sensor = input.sensor();
    let mut engine = Engine::new(CountSink::default(), InventoryConfig::default());
    engine.emit_assets = false;
    let ok = feed(input, &mut sensor, &mut engine, true);
    sensor.finish(&mut engine);
    (engine.inventory, ok)
}

pub fn run_assets(args: AssetsArgs) -> ExitCode {
    let (inv, ok) = learn(&args.input);
    let text = match args.format {
        AssetFormat::Table => output::inventory_table(&inv),
        AssetFormat::Json => output::inventory_json(&inv),
        AssetFormat::Csv => output::inventory_csv(&inv),
    };
    print!("{text}");
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

pub fn run_map(args: MapArgs) -> ExitCode {
    let (inv, ok) = learn(&args.input);
    let text = match args.format {
        MapFormat::Dot => output::map_dot(&inv),
        MapFormat::Graphml => output::map_graphml(&inv),
        MapFormat::Json => output::map_json(&inv),
    };
    print!("{text}");
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
