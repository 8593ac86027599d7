//! A diagnostic drawn as rustc draws its own (`annotate-snippets`): the
//! `error[rule]` title, the `--> file:line:col` line, the source line with
//! a caret under the offending text and a label, a secondary place when
//! there is one, and the hint.

use super::value::{escape, is_secret, SECRET_MASK};

use super::{Diagnostic, Mark, Severity};
use annotate_snippets::{AnnotationKind, Group, Level, Origin, Renderer, Snippet};
use std::ops::Range;

pub fn render(d: &Diagnostic, file: &str, source: Option<&str>, colour: bool) -> String {
    // A file's name is shown as text, never as the terminal's controls.
    let file = super::value::terminal_safe(file);
    let file = file.as_str();
    let renderer = if colour { Renderer::styled() } else { Renderer::plain() };
    let level = match d.severity {
        Severity::Error => Level::ERROR,
        Severity::Warning => Level::WARNING,
    };
    let message = escape(&d.message);
    let title = level.primary_title(message.as_str()).id(d.rule);
    let hint = d.hint.as_deref().map(escape);
    let label = d.label.as_deref().map(escape);
    let related_label = d.related.as_ref().map(|r| escape(&r.label));
    let shown = source.and_then(|s| Shown::new(s, d));
    let mut group = match &shown {
        Some((shown, first)) => {
            let mut snippet = Snippet::source(shown.text.as_str()).line_start(*first).path(file).fold(true);
            snippet = snippet.annotation(AnnotationKind::Primary.span(shown.primary.clone()).label(label.as_deref()));
            if let (Some(span), Some(l)) = (&shown.related, &related_label) {
                snippet = snippet.annotation(AnnotationKind::Context.span(span.clone()).label(l.as_str()));
            }
            title.element(snippet)
        }
        None if d.mark.line > 0 => title.element(Origin::path(file).line(d.mark.line).char_column(d.mark.col)),
        None => Group::with_title(title),
    };
    if let Some(h) = &hint {
        group = group.element(Level::HELP.with_name(Some("hint")).message(h.as_str()));
    }
    // A blank line after each, as rustc separates its diagnostics.
    let mut out = renderer.render(&[group]);
    out.push_str("\n\n");
    out
}

/// The source as shown (given with its secret-looking values masked, see
/// `mask`; the marked value too when its path may hold a secret) and the
/// byte spans of the places marked in it.
struct Shown {
    text: String,
    primary: Range<usize>,
    related: Option<Range<usize>>,
}

impl Shown {
    /// Only the lines from the first place marked to the last are kept (a
    /// spec of thousands of lines with thousands of errors stays quick);
    /// `first` is the number of the first of them.
    fn new(source: &str, d: &Diagnostic) -> Option<(Shown, usize)> {
        if d.mark.line == 0 {
            return None;
        }
        let related_line = d.related.as_ref().map_or(d.mark.line, |r| r.mark.line).max(1);
        let first = d.mark.line.min(related_line);
        let last = d.mark.line.max(related_line);
        // A `\r` before the break is not part of the line shown.
        let lines: Vec<&str> = source
            .split('\n')
            .skip(first - 1)
            .take(last - first + 1)
            .map(|l| l.strip_suffix('\r').unwrap_or(l))
            .collect();
        if lines.len() <= d.mark.line - first {
            return None;
        }
        let secret_path = d.path.as_deref().is_some_and(is_secret);
        let mut text = String::new();
        let mut starts = Vec::with_capacity(lines.len());
        for (i, line) in lines.iter().enumerate() {
            starts.push(text.len());
            text.push_str(line);
            if i + 1 < lines.len() {
                text.push('\n');
            }
        }
        let span = |m: Mark| -> Option<Range<usize>> {
            let index = m.line.checked_sub(first)?;
            let start_of_line = *starts.get(index)?;
            let line_text = text[start_of_line..].split('\n').next()?;
            let at = line_text.char_indices().nth(m.col.saturating_sub(1)).map_or(line_text.len(), |(i, _)| i);
            let len = token_len(&line_text[at..], line_text[..at].contains(['[', '{']));
            Some(start_of_line + at..start_of_line + at + len)
        };
        let mut primary = span(d.mark)?;
        let related = d.related.as_ref().and_then(|r| span(r.mark));
        if secret_path {
            // The value itself, whatever its key, when the field may hold a secret.
            let keep = |c: char| c.is_whitespace() || matches!(c, '{' | '}' | '[' | ']' | ',' | ':' | '"' | '\'');
            let stars: String = text[primary.clone()].chars().map(|c| if keep(c) { c } else { SECRET_MASK }).collect();
            text.replace_range(primary.clone(), &stars);
            primary = primary.start..primary.start + stars.len();
        }
        Some((Shown { text, primary, related }, first))
    }
}

/// The length in bytes of the token that begins `rest`: a quoted scalar to
/// its closing quote, a bracket alone, a plain scalar or key to where it
/// ends (`: `, ` #`, the end of the line, and `,`, `]`, `}` in a flow
/// collection); at least one character when there is one.
fn token_len(rest: &str, in_flow: bool) -> usize {
    let mut chars = rest.char_indices().peekable();
    let Some((_, first)) = chars.next() else { return 0 };
    let first_len = first.len_utf8();
    match first {
        '"' => {
            let mut escaped = false;
            for (i, c) in chars {
                match c {
                    '\\' if !escaped => escaped = true,
                    '"' if !escaped => return i + 1,
                    _ => escaped = false,
                }
            }
            rest.trim_end().len()
        }
        '\'' => {
            let mut iter = rest[1..].char_indices().peekable();
            while let Some((i, c)) = iter.next() {
                if c == '\'' {
                    if iter.peek().map(|(_, n)| *n) == Some('\'') {
                        iter.next();
                        continue;
                    }
                    return i + 2;
                }
            }
            rest.trim_end().len()
        }
        '[' | '{' | ']' | '}' | ',' | '\t' | '|' | '>' => first_len,
        _ => {
            let mut end = first_len;
            let bytes = rest.as_bytes();
            for (i, c) in rest.char_indices().skip(1) {
                let next = bytes.get(i + 1).copied();
                let ends = match c {
                    ':' => next.is_none_or(|n| n == b' ' || n == b'\t' || (in_flow && matches!(n, b',' | b']' | b'}'))),
                    '#' => rest[..i].ends_with([' ', '\t']),
                    ',' | ']' | '}' => in_flow,
                    _ => false,
                };
                if ends {
                    break;
                }
                end = i + c.len_utf8();
            }
            rest[..end].trim_end().len().max(first_len)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_end_where_yaml_ends_them() {
        assert_eq!(token_len("\"two\" # c", false), 5);
        assert_eq!(token_len("'it''s' x", false), 7);
        assert_eq!(token_len("shards: 2", false), 6);
        assert_eq!(token_len("two words # c", false), 9);
        assert_eq!(token_len("a, b]", true), 1);
        assert_eq!(token_len("http://x:8080/a, b", false), 18);
        assert_eq!(token_len("{ a: 1", false), 1);
        assert_eq!(token_len("", false), 0);
    }

    #[test]
    fn shows_the_line_with_a_caret_under_the_value() {
        let src = "pipeline: p\nstreams:\n  clicks:\n    shards: \"two\"\n";
        let d = Diagnostic::new(Mark { line: 4, col: 13 }, "type", "`streams.clicks.shards` must be an integer")
            .label("expected an integer")
            .hint("write a number");
        let out = render(&d, "lab.yaml", Some(src), false);
        let want = "error[type]: `streams.clicks.shards` must be an integer\n --> lab.yaml:4:13\n  |\n4 |     shards: \"two\"\n  |             ^^^^^ expected an integer\n  |\n  = hint: write a number\n\n";
        assert_eq!(out, want);
    }

    #[test]
    fn only_the_lines_marked_are_read_and_numbered_as_in_the_file() {
        let src: String = (1..=5000).map(|i| format!("k{i}: v\n")).collect();
        let d = Diagnostic::new(Mark { line: 4000, col: 7 }, "x", "m").related(Mark { line: 3998, col: 1 }, "before");
        let out = render(&d, "a.yaml", Some(&src), false);
        assert!(out.contains("--> a.yaml:4000:7"), "{out}");
        assert!(out.contains("4000 | k4000: v\n") && out.contains("3998 | k3998: v"), "{out}");
        assert!(!out.contains("k3997") && !out.contains("k4001"), "{out}");
    }

    #[test]
    fn a_secret_value_is_masked_in_the_source_line() {
        let src = "functions:\n  f:\n    environment:\n      DB_PASSWORD: hunter2\n";
        let d =
            Diagnostic::new(Mark { line: 4, col: 20 }, "type", "bad").at_path("functions.f.environment.DB_PASSWORD");
        let out = render(&d, "lab.yaml", Some(src), false);
        assert!(!out.contains("hunter2"), "{out}");
        assert!(out.contains("DB_PASSWORD: *******"), "{out}");
    }

    #[test]
    fn without_the_source_the_place_is_still_named() {
        let d = Diagnostic::new(Mark { line: 3, col: 5 }, "x", "m");
        assert_eq!(render(&d, "a.yaml", None, false), "error[x]: m\n--> a.yaml:3:5\n\n");
        let coloured = render(&d, "a.yaml", None, true);
        assert!(coloured.contains("\u{1b}["), "{coloured:?}");
    }
}
