//! The text of a file as errors may show it: every value that may be a
//! secret replaced, character for character, with [`SECRET_MASK`], so
//! columns stay and carets still point where they did.
//!
//! What is masked is decided by the value's place in the document, not
//! by the key on its own line: every scalar under an `environment:` key
//! (a function's environment, block or flow, on one line or many) or
//! under a secret-looking key at any depth. The document may not even
//! parse (a syntax error is shown on this text too), so the place is read
//! from the text itself, conservatively: indentation for block
//! structure, and a quote or bracket opened in a masked value keeps
//! masking the lines after it until it closes.

use super::value::{is_secret_key, SECRET_MASK};

/// `source` with every value that may be a secret masked.
pub fn mask(source: &str) -> String {
    let mut out = String::with_capacity(source.len());
    // The indentation of each open block key that masks what is deeper.
    let mut secret_indents: Vec<usize> = Vec::new();
    // A masked value still open at the end of the previous line.
    let mut carry = Carry::default();
    for (i, line) in source.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        if carry.open() {
            // A masked value's quote or bracket still open: this line is its.
            out.push_str(&carry.mask(line));
            continue;
        }
        let content = line.trim_start_matches([' ', '\t']);
        if content.is_empty() || content.starts_with('#') {
            out.push_str(line);
            continue;
        }
        // A sequence item's dash counts as indentation for what follows it.
        let mut indent = line.len() - content.len();
        let mut body = content;
        while let Some(rest) = body.strip_prefix("- ").or_else(|| (body == "-").then_some("")) {
            let after = rest.trim_start_matches(' ');
            indent += body.len() - after.len();
            body = after;
        }
        secret_indents.retain(|&k| k < indent);
        let prefix = &line[..line.len() - body.len()];
        out.push_str(prefix);
        if !secret_indents.is_empty() {
            // Inside a secret mapping: its keys may show, never a value.
            match key_end(body) {
                Some(end) => {
                    out.push_str(&body[..end]);
                    out.push_str(&carry.mask(&body[end..]));
                }
                None => out.push_str(&carry.mask(body)),
            }
            continue;
        }
        out.push_str(&mask_from_secret_key(body, indent, &mut secret_indents, &mut carry));
    }
    out
}

/// `body` (a line without its indentation) with everything after a
/// secret key's `:` masked; a secret key ending its line opens a block
/// masked below it (`indent`).
fn mask_from_secret_key(body: &str, indent: usize, secret_indents: &mut Vec<usize>, carry: &mut Carry) -> String {
    let mut quote: Option<char> = None;
    let mut word_start = 0;
    for (i, c) in body.char_indices() {
        match quote {
            Some(q) => {
                if c == q {
                    quote = None;
                }
                continue;
            }
            None if matches!(c, '"' | '\'') => quote = Some(c),
            None if c == '#' && (i == 0 || body[..i].ends_with([' ', '\t'])) => break,
            None if c == ':' && (i + 1 == body.len() || body[i + 1..].starts_with([' ', '\t'])) => {
                let key = body[word_start..i].trim().trim_matches(['"', '\'', '{', '[', ',', ' ']);
                if is_secret_key(key) {
                    let rest = &body[i + 1..];
                    if rest.trim().is_empty() || rest.trim_start().starts_with(['|', '>', '#']) {
                        secret_indents.push(indent + word_start);
                    }
                    return format!("{}{}", &body[..=i], carry.mask(rest));
                }
            }
            None if matches!(c, '{' | '[' | ',' | ' ') => word_start = i + 1,
            None => {}
        }
    }
    body.to_string()
}

/// Where a block key and its `:` end in `body`, if it starts with one.
fn key_end(body: &str) -> Option<usize> {
    if body.starts_with(['{', '[', '"', '\'', '|', '>']) {
        return None;
    }
    let colon = body.find(": ").or_else(|| body.ends_with(':').then(|| body.len() - 1))?;
    Some(colon + 1)
}

/// Quotes and brackets a masked value opened and has not closed.
#[derive(Default)]
struct Carry {
    quote: Option<char>,
    depth: usize,
}

impl Carry {
    fn open(&self) -> bool {
        self.quote.is_some() || self.depth > 0
    }

    /// `text` masked, the structure of a flow value kept readable
    /// (brackets, commas, colons, spaces), quoted text wholly masked;
    /// what stays open is carried to the next line.
    fn mask(&mut self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        for c in text.chars() {
            out.push(self.mask_char(c));
        }
        out
    }

    fn mask_char(&mut self, c: char) -> char {
        match self.quote {
            Some(q) if c == q => {
                self.quote = None;
                c
            }
            Some(_) => SECRET_MASK,
            None => match c {
                '"' | '\'' => {
                    self.quote = Some(c);
                    c
                }
                '{' | '[' => {
                    self.depth += 1;
                    c
                }
                '}' | ']' => {
                    self.depth = self.depth.saturating_sub(1);
                    c
                }
                c if c.is_whitespace() || matches!(c, ',' | ':') => c,
                _ => SECRET_MASK,
            },
        }
    }
}

#[cfg(test)]
#[path = "mask_tests.rs"]
mod tests;
