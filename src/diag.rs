//! Diagnostics: an error tied to a place in the spec, with the rule it breaks
//! and a hint, rendered the way cargo and uv render theirs.

use serde::Serialize;
use std::fmt::Write as _;

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
}

impl Diagnostic {
    pub fn new(mark: Mark, rule: &'static str, message: impl Into<String>) -> Self {
        Diagnostic { mark, rule, message: message.into(), hint: None, file: None }
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

    /// Renders as
    /// ```text
    /// error[unknown-key]: unknown key `bufer` in `firehoses.to-lake.destination`
    ///   --> pipelines/lab.yaml:12:7
    ///   = hint: did you mean `buffer`?
    /// ```
    pub fn render(&self, file: &str) -> String {
        let mut out = format!("error[{}]: {}\n", self.rule, self.message);
        let file = self.file.as_deref().unwrap_or(file);
        let _ = writeln!(out, "  --> {}:{}:{}", file, self.mark.line, self.mark.col);
        if let Some(hint) = &self.hint {
            let _ = writeln!(out, "  = hint: {hint}");
        }
        out
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
    fn renders_location_rule_and_hint() {
        let d = Diagnostic::new(Mark { line: 3, col: 5 }, "unknown-key", "unknown key `x`").hint("did you mean `y`?");
        assert_eq!(
            d.render("a.yaml"),
            "error[unknown-key]: unknown key `x`\n  --> a.yaml:3:5\n  = hint: did you mean `y`?\n"
        );
    }
}
