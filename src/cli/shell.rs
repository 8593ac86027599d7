//! The arguments of the commands that fit pipectl into a shell:
//! completions, the manual page, the version, and `--color`.

use clap::{Args, ValueEnum};
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete in.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write `pipectl.1` and one `pipectl-<command>.1` per command into
    /// this folder (created if missing) instead of printing one page with
    /// every command to standard output.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// `--color`: when text is coloured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum ColorChoice {
    /// On a terminal, unless `NO_COLOR` is set or `TERM=dumb`; also into a
    /// pipe when `CLICOLOR_FORCE` is set.
    #[default]
    Auto,
    /// Always, whatever the environment says.
    Always,
    /// Never.
    Never,
}

impl From<ColorChoice> for crate::term::Choice {
    fn from(c: ColorChoice) -> Self {
        match c {
            ColorChoice::Auto => crate::term::Choice::Auto,
            ColorChoice::Always => crate::term::Choice::Always,
            ColorChoice::Never => crate::term::Choice::Never,
        }
    }
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// The pipeline specs (YAML); `-` reads one from standard input (shown
    /// as `<stdin>`, its relative `code:` paths taken from the current
    /// folder).
    #[arg(required = true, value_name = "SPEC")]
    pub specs: Vec<PathBuf>,
    #[command(flatten)]
    pub warn: super::Warnings,
}
