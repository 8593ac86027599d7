//! Values that must never be shown, and the one pass that hides them in
//! text on its way out of the process.
//!
//! A value is registered once it is known (a secret once read, a plain
//! value once the spec is loaded); every error, event and summary then
//! passes through [`text`] or [`json`], which replace each occurrence with
//! [`MASK`]. AWS sometimes quotes a request back in an error message
//! (Lambda's "String measured: {...}" quotes a whole environment), so a
//! value is also looked for as it appears inside a JSON string: escaped
//! (`"` as `\"`, a newline as `\n`), and with non-ASCII characters as
//! `\uXXXX` (both cases of hex digits).
//!
//! Short values: a secret is hidden whatever its length (a secret shown
//! is worse than a message made hard to read); a plain value shorter than
//! [`MIN_PLAIN`] bytes is not registered, since hiding every `1` or `true`
//! would hide the messages themselves and such a value hides nothing.
//!
//! Overlapping values: every occurrence of every value is marked first,
//! and each run of marked text becomes one [`MASK`], so where two values
//! overlap, or one holds another, no part of either shows. A [`MASK`]
//! already in the text stays whole (a value found in it is left alone), so
//! scrubbing twice changes nothing.
//!
//! Knows nothing of pipectl.

use std::borrow::Cow;
use std::sync::RwLock;

/// What a hidden value is replaced with.
pub const MASK: &str = "(sensitive)";

/// The shortest plain (not secret) value worth hiding, in bytes.
pub const MIN_PLAIN: usize = 8;

/// The values to hide, each with the forms it takes inside JSON text.
#[derive(Debug, Default, Clone)]
pub struct Scrubber {
    /// Every form of every value, longest first, without repeats.
    needles: Vec<String>,
}

impl Scrubber {
    /// Hides `value` whatever its length (a secret); an empty one is ignored.
    pub fn secret(&mut self, value: &str) {
        if value.is_empty() {
            return;
        }
        for form in forms(value) {
            if !self.needles.contains(&form) {
                self.needles.push(form);
            }
        }
        self.needles.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
    }

    /// Hides `value` when it is at least [`MIN_PLAIN`] bytes long.
    pub fn plain(&mut self, value: &str) {
        if value.len() >= MIN_PLAIN {
            self.secret(value);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.needles.is_empty()
    }

    /// `text` with every occurrence of a registered value replaced by
    /// [`MASK`].
    pub fn text<'a>(&self, text: &'a str) -> Cow<'a, str> {
        if self.needles.is_empty() || text.is_empty() {
            return Cow::Borrowed(text);
        }
        // A mask already there stays whole, so scrubbing twice changes nothing.
        let masks: Vec<(usize, usize)> = text.match_indices(MASK).map(|(i, m)| (i, i + m.len())).collect();
        // Mark every byte any occurrence covers, overlapping ones included.
        let mut hidden = vec![false; text.len()];
        let mut any = false;
        for needle in &self.needles {
            let mut from = 0;
            while let Some(at) = text[from..].find(needle.as_str()) {
                let start = from + at;
                let end = start + needle.len();
                if !masks.iter().any(|&(a, b)| start < b && a < end) {
                    hidden[start..end].iter_mut().for_each(|h| *h = true);
                    any = true;
                }
                // The next occurrence may overlap this one: look again one character on.
                from = start + text[start..].chars().next().map_or(1, char::len_utf8);
            }
        }
        if !any {
            return Cow::Borrowed(text);
        }
        let mut out = String::with_capacity(text.len());
        let mut i = 0;
        while i < text.len() {
            if hidden[i] {
                out.push_str(MASK);
                while i < text.len() && hidden[i] {
                    i += 1;
                }
            } else {
                // Occurrences start and end on character boundaries, so a run
                // of shown bytes does too.
                let end = hidden[i..].iter().position(|h| *h).map_or(text.len(), |n| i + n);
                out.push_str(&text[i..end]);
                i = end;
            }
        }
        Cow::Owned(out)
    }

    /// `value` with every string in it (keys too) scrubbed; the JSON stays
    /// well formed whatever the hidden values hold.
    pub fn json(&self, value: serde_json::Value) -> serde_json::Value {
        use serde_json::Value;
        if self.needles.is_empty() {
            return value;
        }
        match value {
            Value::String(s) => Value::String(self.text(&s).into_owned()),
            Value::Array(items) => Value::Array(items.into_iter().map(|v| self.json(v)).collect()),
            Value::Object(map) => {
                Value::Object(map.into_iter().map(|(k, v)| (self.text(&k).into_owned(), self.json(v))).collect())
            }
            other => other,
        }
    }
}

/// The forms `value` takes in text: as it is, escaped inside a JSON
/// string, and escaped with non-ASCII characters as `\uXXXX` (lower and
/// upper case hex, as serializers differ).
fn forms(value: &str) -> Vec<String> {
    let escaped = serde_json::to_string(value).expect("a string serializes");
    let escaped = escaped[1..escaped.len() - 1].to_string();
    let ascii = |upper: bool| {
        let mut out = String::with_capacity(escaped.len());
        for c in escaped.chars() {
            if c.is_ascii() {
                out.push(c);
            } else {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    if upper {
                        out.push_str(&format!("\\u{u:04X}"));
                    } else {
                        out.push_str(&format!("\\u{u:04x}"));
                    }
                }
            }
        }
        out
    };
    let mut out = vec![value.to_string(), escaped.clone(), ascii(false), ascii(true)];
    out.sort();
    out.dedup();
    out
}

static REGISTERED: RwLock<Scrubber> = RwLock::new(Scrubber { needles: Vec::new() });

/// Hides `value` from every later output, whatever its length.
pub fn secret(value: &str) {
    REGISTERED.write().unwrap_or_else(|e| e.into_inner()).secret(value);
}

/// Hides `value` from every later output when it is at least
/// [`MIN_PLAIN`] bytes long.
pub fn plain(value: &str) {
    REGISTERED.write().unwrap_or_else(|e| e.into_inner()).plain(value);
}

/// `text` with every registered value hidden.
pub fn text(text: &str) -> String {
    REGISTERED.read().unwrap_or_else(|e| e.into_inner()).text(text).into_owned()
}

/// `value` with every registered value hidden in its strings.
pub fn json(value: serde_json::Value) -> serde_json::Value {
    REGISTERED.read().unwrap_or_else(|e| e.into_inner()).json(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(secrets: &[&str], plain: &[&str]) -> Scrubber {
        let mut s = Scrubber::default();
        secrets.iter().for_each(|v| s.secret(v));
        plain.iter().for_each(|v| s.plain(v));
        s
    }

    #[test]
    fn every_occurrence_is_hidden() {
        let s = with(&["hunter2"], &[]);
        assert_eq!(s.text("a hunter2 b hunter2"), "a (sensitive) b (sensitive)");
        assert_eq!(s.text("nothing here"), "nothing here");
        assert!(matches!(s.text("nothing here"), Cow::Borrowed(_)));
    }

    #[test]
    fn short_plain_values_are_not_registered_short_secrets_are() {
        let s = with(&[], &["1", "true", "debug"]);
        assert!(s.is_empty());
        assert_eq!(s.text("1 done, 0 failed"), "1 done, 0 failed");
        let s = with(&["42"], &["postgres://db:5432/app"]);
        assert_eq!(s.text("port 42 of postgres://db:5432/app"), "port (sensitive) of (sensitive)");
        assert_eq!(with(&[""], &[]).text("x"), "x", "an empty secret hides nothing");
    }

    #[test]
    fn overlapping_and_nested_values_show_no_part_of_either() {
        let s = with(&["abcdef", "defghi"], &[]);
        assert_eq!(s.text("x abcdefghi y"), "x (sensitive) y");
        let s = with(&["tok", "user:tok@db"], &[]);
        assert_eq!(s.text("dsn user:tok@db and tok"), "dsn (sensitive) and (sensitive)");
        let s = with(&["aa"], &[]);
        assert_eq!(s.text("baaab"), "b(sensitive)b");
    }

    #[test]
    fn a_mask_is_never_scrubbed_again() {
        // A value found inside the mask itself does not break it apart.
        let s = with(&["sensitive", "abc", "(", "e"], &[]);
        assert_eq!(s.text("abc"), MASK);
        assert_eq!(s.text("abc sensitive"), "(sensitive) (sensitive)");
        for text in ["abc ( sensitive e", "environment: (sensitive) changed", "x"] {
            let once = s.text(text).into_owned();
            assert_eq!(s.text(&once), once, "{text}");
        }
        assert_eq!(
            s.text("environment: (sensitive) changed"),
            "(sensitive)nvironm(sensitive)nt: (sensitive) chang(sensitive)d"
        );
    }

    #[test]
    fn a_value_quoted_in_json_is_found_escaped() {
        let s = with(&["p\"a\\ss\nwörd"], &[]);
        let quoted = serde_json::json!({ "A": "p\"a\\ss\nwörd" }).to_string();
        assert_eq!(s.text(&format!("String measured: {quoted}")), "String measured: {\"A\":\"(sensitive)\"}");
        // Python's json.dumps escapes non-ASCII; Java's may, in upper case.
        assert_eq!(s.text(r#"{"A": "p\"a\\ss\nw\u00f6rd"}"#), r#"{"A": "(sensitive)"}"#);
        assert_eq!(s.text(r#"{"A": "p\"a\\ss\nw\u00F6rd"}"#), r#"{"A": "(sensitive)"}"#);
        assert_eq!(s.text("raw p\"a\\ss\nwörd"), "raw (sensitive)");
    }

    #[test]
    fn non_ascii_text_around_a_value_is_kept_whole() {
        let s = with(&["wörd"], &[]);
        assert_eq!(s.text("é wörd ü wördwörd"), "é (sensitive) ü (sensitive)");
    }

    #[test]
    fn json_stays_well_formed_whatever_the_value_holds() {
        let s = with(&["\",\"", "k3y-secret"], &[]);
        let doc = serde_json::json!({ "error": "a \",\" b", "k3y-secret": ["k3y-secret", 1, true] });
        let out = s.json(doc);
        assert_eq!(out, serde_json::json!({ "error": "a (sensitive) b", "(sensitive)": ["(sensitive)", 1, true] }));
        assert!(serde_json::from_str::<serde_json::Value>(&out.to_string()).is_ok());
    }
}
