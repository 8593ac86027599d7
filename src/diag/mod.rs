//! Diagnostics: an error tied to a place in the spec, with the rule it breaks
//! and a hint, rendered the way rustc renders its own: the source line, a
//! caret under the offending text and a short label (`render.rs`), from the
//! text of the file as it was read (`sources.rs`). Values quoted in
//! messages are shortened, escaped or withheld (`value.rs`).

mod mask;
mod render;
pub mod sources;
pub mod value;

use serde::Serialize;

/// A 1-based line and column in the spec file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Serialize)]
pub struct Mark {
    pub line: usize,
    pub col: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    #[serde(flatten)]
    pub mark: Mark,
    /// A short stable name for the rule, e.g. `unknown-key`.
    pub rule: &'static str,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// The file it is in when that is not the spec (a var file).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// What is wrong at the caret, in a few words (`expected an integer`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// A second place that explains the first (where the parser gave up).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub related: Option<Related>,
    /// The field path of the offending value (`streams.clicks.shards`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The offending value as written, when it may be shown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// An error stops the command; a warning is shown and does not.
    pub severity: Severity,
}

/// A secondary place in the same file, with what it says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Related {
    #[serde(flatten)]
    pub mark: Mark,
    pub label: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    #[default]
    Error,
    Warning,
}

impl Diagnostic {
    pub fn new(mark: Mark, rule: &'static str, message: impl Into<String>) -> Self {
        Diagnostic {
            mark,
            rule,
            message: message.into(),
            hint: None,
            file: None,
            label: None,
            related: None,
            path: None,
            value: None,
            severity: Severity::Error,
        }
    }

    /// The same diagnostic as a warning: shown, and the command goes on.
    pub fn warning(mut self) -> Self {
        self.severity = Severity::Warning;
        self
    }

    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    /// A second place, e.g. where a bracket opened at `mark` was still open.
    pub fn related(mut self, mark: Mark, label: impl Into<String>) -> Self {
        self.related = Some(Related { mark, label: label.into() });
        self
    }

    pub fn at_path(mut self, path: &str) -> Self {
        self.path = Some(path.to_string());
        self
    }

    /// The offending value, kept for `--json` shortened and escaped, and
    /// never when the field may hold a secret.
    pub fn value(mut self, text: &str) -> Self {
        if !self.path.as_deref().is_some_and(value::is_secret) {
            self.value = Some(value::short(text));
        }
        self
    }

    /// The diagnostic as one about `file` rather than the spec.
    pub fn in_file(mut self, file: &str) -> Self {
        self.file = Some(file.to_string());
        self
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Renders as rustc does, plain, with the source line when the file's
    /// text was read (see [`sources`]):
    /// ```text
    /// error[unknown-key]: unknown key `bufer` in `firehoses.to-lake.destination`
    ///   --> pipelines/lab.yaml:12:7
    ///    |
    /// 12 |       bufer: 5
    ///    |       ^^^^^ not a key here
    ///    |
    ///    = hint: did you mean `buffer`?
    /// ```
    pub fn render(&self, file: &str) -> String {
        self.render_styled(file, false)
    }

    /// [`Diagnostic::render`], in colour when `colour`.
    pub fn render_styled(&self, file: &str, colour: bool) -> String {
        let file = self.file.as_deref().unwrap_or(file);
        render::render(self, file, sources::get(file).as_deref(), colour)
    }

    /// [`Diagnostic::render_styled`] over `source`, the text of `file`
    /// (without a byte-order mark).
    pub fn render_with(&self, file: &str, source: &str, colour: bool) -> String {
        let shown = mask::mask(source);
        render::render(self, self.file.as_deref().unwrap_or(file), Some(&shown), colour)
    }
}

/// The closest candidate to `word` by edit distance, if it is close enough
/// to be what the user meant.
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let word_lower = word.to_ascii_lowercase();
    candidates
        .into_iter()
        .map(|c| (edit_distance(&word_lower, &c.to_ascii_lowercase()), c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_words_only() {
        let keys = ["buffer", "prefix", "error_prefix", "compression"];
        assert_eq!(did_you_mean("bufer", keys), Some("buffer"));
        assert_eq!(did_you_mean("compresion", keys), Some("compression"));
        assert_eq!(did_you_mean("error-prefix", keys), Some("error_prefix"));
        assert_eq!(did_you_mean("zzz", keys), None);
    }

    #[test]
    fn renders_location_rule_and_hint_without_the_source() {
        let d = Diagnostic::new(Mark { line: 3, col: 5 }, "unknown-key", "unknown key `x`").hint("did you mean `y`?");
        assert_eq!(
            d.render("never-read.yaml"),
            "error[unknown-key]: unknown key `x`\n--> never-read.yaml:3:5\n = hint: did you mean `y`?\n\n"
        );
    }
}
