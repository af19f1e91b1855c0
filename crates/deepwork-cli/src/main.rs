//! `deepwork`: the command line and the resident daemon.

mod adapters;
mod args;
mod commands;
mod render;
mod triage;

use std::process::ExitCode;

fn main() -> ExitCode {
    commands::run(<args::Cli as clap::Parser>::parse())
}
