//! Values quoted in messages: shortened, with invisible characters
//! escaped, and withheld where they may be secrets.

/// What each character of a secret-looking value in a source line shown
/// is replaced with.
pub const SECRET_MASK: char = '*';

/// The longest value quoted whole, in characters.
pub const MAX_SHOWN: usize = 40;

/// Words that make a field's value a possible secret wherever they are in
/// its path (`vars.db_password.default`, `tags.api-token`).
const SECRET_WORDS: &[&str] =
    &["password", "passwd", "passphrase", "secret", "token", "credential", "private", "apikey", "api_key", "api-key"];

/// Whether a value at `path` may be a secret, so must not be echoed: a
/// function's environment (what it holds is hidden from all output once
/// loaded, see `scrub`), or a field named like a secret.
pub fn is_secret(path: &str) -> bool {
    path.split('.').any(is_secret_key)
}

/// Whether a value under the key `key` may be a secret: an `environment`
/// (a function's), or a key named like a secret.
pub fn is_secret_key(key: &str) -> bool {
    let lower = key.to_ascii_lowercase();
    lower == "environment" || SECRET_WORDS.iter().any(|w| lower.contains(w))
}

/// Invisible and control characters as `\u{…}` escapes (a byte-order
/// mark, a zero-width space, a bidirectional override, a tab), so what a
/// message names is what the file holds.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if is_invisible(c) {
            out.push_str(&format!("\\u{{{:04x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// `text` with every control character but a line break and a tab
/// escaped: what an error prints cannot drive the terminal (a file named
/// with `ESC [2J` clears no screen).
pub fn terminal_safe(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\n' | '\t' => c.to_string(),
            c if c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}') => {
                format!("\\u{{{:04x}}}", c as u32)
            }
            c => c.to_string(),
        })
        .collect()
}

/// Characters that print as nothing, or move or reorder text.
pub fn is_invisible(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{00ad}' | '\u{034f}' | '\u{061c}' | '\u{115f}' | '\u{1160}' | '\u{17b4}' | '\u{17b5}'
            | '\u{180b}'..='\u{180f}' | '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}'
            | '\u{2060}'..='\u{206f}' | '\u{3164}' | '\u{fe00}'..='\u{fe0f}' | '\u{feff}' | '\u{ffa0}'
            | '\u{fff0}'..='\u{fffb}' | '\u{e0000}'..='\u{e007f}')
}

/// `text` escaped and cut to [`MAX_SHOWN`] characters (with `…`).
pub fn short(text: &str) -> String {
    let escaped = escape(text);
    if escaped.chars().count() <= MAX_SHOWN {
        return escaped;
    }
    let mut cut: String = escaped.chars().take(MAX_SHOWN - 1).collect();
    cut.push('…');
    cut
}

/// [`short`] in double quotes, inner quotes escaped: `"two"`.
pub fn quoted(text: &str) -> String {
    format!("\"{}\"", short(&text.replace('\\', "\\\\").replace('"', "\\\"")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invisible_characters_are_escaped() {
        assert_eq!(escape("\u{feff}pipeline"), "\\u{feff}pipeline");
        assert_eq!(escape("a\u{200b}b\tc"), "a\\u{200b}b\\u{0009}c");
        assert_eq!(escape("café ✓"), "café ✓");
    }

    #[test]
    fn control_characters_in_a_file_name_are_printed_raw() {
        let name = "x\u{1b}[2J\u{1b}]0;pwn\u{7}.yaml";
        assert_eq!(terminal_safe(name), "x\\u{001b}[2J\\u{001b}]0;pwn\\u{0007}.yaml");
        assert_eq!(terminal_safe("a\n\tb"), "a\n\tb");
    }

    #[test]
    fn long_values_are_shortened() {
        let long = "x".repeat(100);
        let s = short(&long);
        assert_eq!(s.chars().count(), MAX_SHOWN);
        assert!(s.ends_with('…'));
        assert_eq!(quoted("two"), "\"two\"");
        assert_eq!(quoted("a\"b"), "\"a\\\"b\"");
    }

    #[test]
    fn secret_looking_fields_are_withheld() {
        assert!(is_secret("functions.f.environment.DB_HOST"));
        assert!(is_secret("vars.db_password.default"));
        assert!(is_secret("tags.api-token"));
        assert!(!is_secret("streams.clicks.shards"));
        assert!(is_secret("environment") && is_secret("functions.f.environment"));
        assert!(!is_secret("environments_count"));
    }
}
