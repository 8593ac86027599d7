//! pipectl: deploy a streaming-data pipeline on AWS from one YAML file.
//! Parses the command line, runs the command, renders errors; the exit
//! codes are documented in `commands`.

use clap::{CommandFactory, FromArgMatches};
use pipectl::cli::Cli;
use pipectl::commands;
use std::process::ExitCode;

fn main() -> ExitCode {
    // clap's own help, usage and errors honour `--color` too: it is read
    // before clap parses (or explains) the rest.
    let choice = pipectl::cli::color_in(std::env::args_os());
    let matches = Cli::command().color(choice).get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    pipectl::term::set_choice(cli.global.color.into());
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    match runtime.block_on(commands::run(&cli)) {
        Ok(code) => code,
        Err(err) => {
            commands::report(&err, cli.global.json);
            commands::exit_code(&cli, &err)
        }
    }
}
