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

/// The `--color` an argument list gives (`--color X` or `--color=X`, the
/// last one winning; before `--` only), as clap's choice for its own help
/// and errors; `auto` when absent or not a choice (clap then says why).
pub fn color_in(args: impl IntoIterator<Item = std::ffi::OsString>) -> clap::ColorChoice {
    let args: Vec<String> = args.into_iter().map(|a| a.to_string_lossy().into_owned()).collect();
    let mut choice = clap::ColorChoice::Auto;
    let mut i = 0;
    while i < args.len() && args[i] != "--" {
        let value = match args[i].strip_prefix("--color") {
            Some("") => args.get(i + 1).map(String::as_str),
            Some(v) => v.strip_prefix('='),
            None => None,
        };
        match value.and_then(|v| ColorChoice::from_str(v, false).ok()) {
            Some(ColorChoice::Always) => choice = clap::ColorChoice::Always,
            Some(ColorChoice::Never) => choice = clap::ColorChoice::Never,
            Some(ColorChoice::Auto) => choice = clap::ColorChoice::Auto,
            None => {}
        }
        i += 1;
    }
    choice
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(args: &[&str]) -> clap::ColorChoice {
        color_in(args.iter().map(std::ffi::OsString::from))
    }

    #[test]
    fn the_color_flag_is_found_before_clap_parses() {
        assert_eq!(of(&["pipectl", "--color", "never", "validate", "--help"]), clap::ColorChoice::Never);
        assert_eq!(of(&["pipectl", "validate", "--color=always", "--help"]), clap::ColorChoice::Always);
        assert_eq!(of(&["pipectl", "validate", "--help"]), clap::ColorChoice::Auto);
        assert_eq!(of(&["pipectl", "--color", "bogus"]), clap::ColorChoice::Auto);
        assert_eq!(of(&["pipectl", "produce", "--", "--color", "never"]), clap::ColorChoice::Auto);
    }
}
