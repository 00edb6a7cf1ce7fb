//! The event contract: the normalised ICS vocabulary every protocol maps to,
//! and a fast JSON Lines writer.
//!
//! Events follow Suricata's EVE envelope (see `docs/events.md` and
//! `schema/events.schema.json` at the repository root). This crate is a leaf:
//! parsers use [`Operation`] to say what a function does, the sensor uses
//! [`JsonWriter`] to write events without allocating per event.

#![forbid(unsafe_code)]

mod json;
mod time;

pub use json::JsonWriter;
pub use time::{format_rfc3339_micros, TimestampCache};

/// The JSON Schema every emitted event validates against.
pub const EVENT_SCHEMA: &str = include_str!("../../../schema/events.schema.json");

/// What an ICS function does, independent of the protocol (`ics.operation`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Operation {
    /// Reads process data or configuration.
    Read,
    /// Writes process data (registers, coils, tags, set-points).
    Write,
    /// Operates equipment (select/operate, direct commands, resets).
    Command,
    /// Sends control logic to a device.
    ProgramDownload,
    /// Reads control logic from a device.
    ProgramUpload,
    /// Changes device firmware.
    Firmware,
    /// Changes the operating mode (run/stop, listen-only, restart).
    ModeChange,
    /// Reads or clears diagnostics and counters.
    Diagnostics,
    /// Identifies devices or enumerates what they hold.
    Discovery,
    /// Changes device or communication configuration.
    Configuration,
    /// Transfers files.
    File,
    /// Opens, maintains or closes a protocol session.
    Session,
    /// Anything else, including unknown and vendor-specific codes.
    Other,
}

impl Operation {
    /// The contract's snake_case name.
    pub fn name(self) -> &'static str {
        match self {
            Operation::Read => "read",
            Operation::Write => "write",
            Operation::Command => "command",
            Operation::ProgramDownload => "program_download",
            Operation::ProgramUpload => "program_upload",
            Operation::Firmware => "firmware",
            Operation::ModeChange => "mode_change",
            Operation::Diagnostics => "diagnostics",
            Operation::Discovery => "discovery",
            Operation::Configuration => "configuration",
            Operation::File => "file",
            Operation::Session => "session",
            Operation::Other => "other",
        }
    }

    /// Every operation, in contract order.
    pub const ALL: [Operation; 13] = [
        Operation::Read,
        Operation::Write,
        Operation::Command,
        Operation::ProgramDownload,
        Operation::ProgramUpload,
        Operation::Firmware,
        Operation::ModeChange,
        Operation::Diagnostics,
        Operation::Discovery,
        Operation::Configuration,
        Operation::File,
        Operation::Session,
        Operation::Other,
    ];
}

/// How a transaction ended (`ics.status`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Status {
    /// Answered normally.
    Ok,
    /// Answered with a protocol error or exception.
    Exception,
    /// Never answered (timeout, flow end or pending-table eviction).
    NoResponse,
    /// The request or response could not be parsed.
    Malformed,
}

impl Status {
    /// The contract's snake_case name.
    pub fn name(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Exception => "exception",
            Status::NoResponse => "no_response",
            Status::Malformed => "malformed",
        }
    }
}

#[cfg(test)]
mod tests;
