//! Colour on a terminal only: one decision for every output, honouring
//! the conventions users set once for all their tools
//! (<https://no-color.org>, <https://bixense.com/clicolors/>).
//!
//! Order: `--color always|never` wins; then `NO_COLOR` (any non-empty
//! value) turns colour off; then `CLICOLOR_FORCE` (non-empty, not `0`)
//! turns it on even into a pipe; then `TERM=dumb` turns it off; otherwise
//! colour is on exactly when the stream is a terminal.

use std::io::IsTerminal;
use std::sync::OnceLock;

/// Which stream the text goes to: each is decided on its own, so
/// `pipectl plan spec.yaml | less` keeps colour off stdout and on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// The user's `--color` choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Choice {
    #[default]
    Auto,
    Always,
    Never,
}

static CHOICE: OnceLock<Choice> = OnceLock::new();

/// Sets the `--color` choice for the process (the first call wins).
pub fn set_choice(choice: Choice) {
    let _ = CHOICE.set(choice);
}

/// Whether text written to `stream` is coloured.
pub fn colour(stream: Stream) -> bool {
    let terminal = match stream {
        Stream::Stdout => std::io::stdout().is_terminal(),
        Stream::Stderr => std::io::stderr().is_terminal(),
    };
    decide(CHOICE.get().copied().unwrap_or_default(), |k| std::env::var(k).ok(), terminal)
}

/// The rule itself, pure so every case is tested.
pub fn decide(choice: Choice, env: impl Fn(&str) -> Option<String>, terminal: bool) -> bool {
    let set = |k: &str| env(k).is_some_and(|v| !v.is_empty());
    match choice {
        Choice::Always => true,
        Choice::Never => false,
        Choice::Auto if set("NO_COLOR") => false,
        Choice::Auto if set("CLICOLOR_FORCE") && env("CLICOLOR_FORCE").as_deref() != Some("0") => true,
        Choice::Auto if env("TERM").as_deref() == Some("dumb") => false,
        Choice::Auto => terminal,
    }
}

/// `text` in `style` when `on`, plain otherwise.
pub fn paint(on: bool, style: anstyle::Style, text: &str) -> String {
    if on {
        format!("{}{text}{}", style.render(), style.render_reset())
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
    }

    #[test]
    fn a_terminal_gets_colour_a_pipe_does_not() {
        assert!(decide(Choice::Auto, env(&[]), true));
        assert!(!decide(Choice::Auto, env(&[]), false));
    }

    #[test]
    fn no_color_wins_over_a_terminal_and_clicolor_force_over_a_pipe() {
        assert!(!decide(Choice::Auto, env(&[("NO_COLOR", "1")]), true));
        assert!(decide(Choice::Auto, env(&[("NO_COLOR", "")]), true), "an empty NO_COLOR is unset");
        assert!(decide(Choice::Auto, env(&[("CLICOLOR_FORCE", "1")]), false));
        assert!(!decide(Choice::Auto, env(&[("CLICOLOR_FORCE", "0")]), false));
        assert!(!decide(Choice::Auto, env(&[("NO_COLOR", "1"), ("CLICOLOR_FORCE", "1")]), true));
        assert!(!decide(Choice::Auto, env(&[("TERM", "dumb")]), true));
    }

    #[test]
    fn the_flag_wins_over_everything() {
        assert!(decide(Choice::Always, env(&[("NO_COLOR", "1")]), false));
        assert!(!decide(Choice::Never, env(&[("CLICOLOR_FORCE", "1")]), true));
    }

    #[test]
    fn paint_is_plain_when_off() {
        let bold = anstyle::Style::new().bold();
        assert_eq!(paint(false, bold, "x"), "x");
        assert_eq!(paint(true, bold, "x"), "\u{1b}[1mx\u{1b}[0m");
    }
}
