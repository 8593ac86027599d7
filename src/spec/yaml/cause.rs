//! Where a YAML syntax error was caused, when that is not where the parser
//! gave up: a flow collection (`{`, `[`) or a quoted string never closed is
//! noticed lines later, at whatever could not continue it. The text up to
//! the parser's position is scanned for what is still open there; a tab
//! used for indentation is pointed at itself.

use super::Mark;

/// What caused a syntax error the parser reported at `gave_up`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cause {
    pub mark: Mark,
    pub message: String,
    pub label: &'static str,
    pub hint: &'static str,
    /// A second place and what it says (where a flow collection the
    /// parser gave up inside opened), or `None` to name where the parser
    /// gave up when that is elsewhere.
    pub related: Option<(Mark, &'static str)>,
}

/// The cause of the error at `gave_up` in `text`, if it is one of those
/// above.
pub fn find(text: &str, gave_up: Mark, parser_message: &str) -> Option<Cause> {
    if parser_message.contains("tab") {
        return tab(text, gave_up);
    }
    let open = open_at(text, gave_up)?;
    if matches!(open.ch, '{' | '[') && closes(text, open.mark) {
        // Closed later: the bracket is not the cause; the parser's place is.
        return Some(inside_flow(open, gave_up, parser_message));
    }
    let (message, label, hint) = match open.ch {
        '{' => (
            "this flow mapping `{` is never closed",
            "opened here",
            "close it with `}` (a mapping written on one line ends on that line, or every line of it is indented further)",
        ),
        '[' => (
            "this flow sequence `[` is never closed",
            "opened here",
            "close it with `]` (a list written on one line ends on that line, or every line of it is indented further)",
        ),
        '"' => ("this double-quoted string is never closed", "quote opened here", "close it with `\"`"),
        _ => ("this single-quoted string is never closed", "quote opened here", "close it with `'` (write `''` for a quote inside)"),
    };
    Some(Cause { mark: open.mark, message: message.to_string(), label, hint, related: None })
}

/// A syntax error inside a flow collection that is closed: at the place
/// the parser gave up, said in a person's words, with where the
/// collection opened.
fn inside_flow(open: Open, gave_up: Mark, parser_message: &str) -> Cause {
    let (what, close) = if open.ch == '{' { ("flow mapping", '}') } else { ("flow sequence", ']') };
    let message = if parser_message.contains("did not find expected ',' or") {
        format!("expected `,` or `{close}` in this {what}")
    } else {
        // The parser quotes a character as `@' ; shown as `@`.
        let reason = parser_message.rsplit(", ").next().unwrap_or(parser_message).replace("'", "`");
        format!("{reason}, in this {what}")
    };
    Cause {
        mark: gave_up,
        message,
        label: "the YAML parser gave up here",
        hint: if open.ch == '{' {
            "separate the entries with `, ` and write each as `key: value`; quote a value holding `@`, `` ` ``, `:` or `#`"
        } else {
            "separate the items with `, `; quote an item holding `@`, `` ` ``, `:` or `#`"
        },
        related: Some((
            open.mark,
            if open.ch == '{' { "this mapping opened here" } else { "this sequence opened here" },
        )),
    }
}

/// Whether the bracket at `at` is closed before the end of `text`
/// (quotes and comments respected).
fn closes(text: &str, at: Mark) -> bool {
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    for (i, line) in text.split('\n').enumerate().skip(at.line.saturating_sub(1)) {
        let chars: Vec<char> = line.chars().collect();
        let start = if i + 1 == at.line { at.col - 1 } else { 0 };
        let mut j = start;
        while j < chars.len() {
            let c = chars[j];
            match quote {
                Some('"') if c == '\\' => j += 1,
                Some(q) if c == q => {
                    if q == '\'' && chars.get(j + 1) == Some(&'\'') {
                        j += 1;
                    } else {
                        quote = None;
                    }
                }
                Some(_) => {}
                None => match c {
                    '#' if j == 0 || chars[j - 1].is_whitespace() => break,
                    '"' | '\'' if j == 0 || matches!(chars[j - 1], ' ' | '{' | '[' | ',' | ':') => quote = Some(c),
                    '{' | '[' => depth += 1,
                    '}' | ']' => {
                        depth = depth.saturating_sub(1);
                        if depth == 0 {
                            return true;
                        }
                    }
                    _ => {}
                },
            }
            j += 1;
        }
    }
    false
}

/// A tab in the indentation of the line of `gave_up`, at or before it.
fn tab(text: &str, gave_up: Mark) -> Option<Cause> {
    let line = text.split('\n').nth(gave_up.line.checked_sub(1)?)?;
    let col = line.chars().take(gave_up.col).position(|c| c == '\t')?;
    Some(Cause {
        mark: Mark { line: gave_up.line, col: col + 1 },
        message: "a tab is used for indentation: YAML indents with spaces only".into(),
        label: "a tab",
        hint: "replace the tab with spaces",
        related: None,
    })
}

struct Open {
    ch: char,
    mark: Mark,
}

/// The innermost bracket or quote still open at `until`.
fn open_at(text: &str, until: Mark) -> Option<Open> {
    let mut stack: Vec<Open> = Vec::new();
    let mut quote: Option<Open> = None;
    for (i, line) in text.split('\n').enumerate() {
        let line_no = i + 1;
        if line_no > until.line {
            break;
        }
        let chars: Vec<char> = line.chars().collect();
        let mut j = 0;
        while j < chars.len() {
            let c = chars[j];
            let mark = Mark { line: line_no, col: j + 1 };
            if line_no == until.line && j + 1 > until.col && quote.is_none() {
                break;
            }
            match &quote {
                Some(q) if q.ch == '"' => {
                    if c == '\\' {
                        j += 1;
                    } else if c == '"' {
                        quote = None;
                    }
                }
                Some(_) => {
                    if c == '\'' {
                        if chars.get(j + 1) == Some(&'\'') {
                            j += 1;
                        } else {
                            quote = None;
                        }
                    }
                }
                None => {
                    let before = chars[..j].iter().rev().find(|c| !c.is_whitespace()).copied();
                    let token_start = matches!(before, None | Some(':' | '-' | ',' | '[' | '{' | '?'))
                        && (j == 0 || chars[j - 1].is_whitespace() || matches!(before, Some('[' | '{' | ',')));
                    match c {
                        '#' if j == 0 || chars[j - 1].is_whitespace() => break,
                        '"' | '\'' if token_start => quote = Some(Open { ch: c, mark }),
                        '{' | '[' if token_start || !stack.is_empty() => stack.push(Open { ch: c, mark }),
                        '}' | ']' if !stack.is_empty() => {
                            let want = if c == '}' { '{' } else { '[' };
                            while let Some(o) = stack.pop() {
                                if o.ch == want {
                                    break;
                                }
                            }
                        }
                        _ => {}
                    }
                }
            }
            j += 1;
        }
    }
    quote.or_else(|| stack.pop())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(line: usize, col: usize) -> Mark {
        Mark { line, col }
    }

    #[test]
    fn an_unclosed_flow_mapping_is_found_where_it_opens() {
        let text = "pipeline: lab\nstreams: { s: { shards: 1 }\nbuckets:\n  b: {}\n";
        let c = find(text, at(3, 1), "invalid indentation in flow construct").unwrap();
        assert_eq!(c.mark, at(2, 10));
        assert!(c.message.contains('{'));
    }

    #[test]
    fn an_unclosed_sequence_and_quotes() {
        let text = "a:\n  s: [1, 2\nb: 3\n";
        assert_eq!(find(text, at(3, 2), "x").unwrap().mark, at(2, 6));
        let text = "a: \"lab\nb: 3\n";
        let c = find(text, at(3, 1), "x").unwrap();
        assert_eq!((c.mark, c.label), (at(1, 4), "quote opened here"));
        let text = "a: 'it''s\nb: 3\n";
        assert_eq!(find(text, at(3, 1), "x").unwrap().mark, at(1, 4));
    }

    #[test]
    fn closed_brackets_quotes_in_words_and_comments_are_not_causes() {
        let text = "a: { b: [1, \"]\"] }\nc: it's # [ \"\nd: x[1]\ne: : :\n";
        assert_eq!(find(text, at(4, 4), "x"), None);
    }

    #[test]
    fn syntax_errors_inside_a_closed_flow_mapping_are_blamed_on_the_bracket() {
        let text = "b:\n  buffer: { size_mb: 1 interval_seconds: 60 }\n";
        let msg = "while parsing a flow mapping, did not find expected ',' or '}'";
        let c = find(text, at(2, 32), msg).unwrap();
        assert_eq!((c.mark, c.message.as_str()), (at(2, 32), "expected `,` or `}` in this flow mapping"));
        assert_eq!(c.related, Some((at(2, 11), "this mapping opened here")));
        let c = find("a: { x: \"a\" b }\n", at(1, 13), msg).unwrap();
        assert_eq!(c.mark, at(1, 13));
        // Closed on a later line, a `}` in a quote or comment not counted.
        assert!(closes("a: { b: \"}\", # }\n  c: 1 }\n", at(1, 4)));
        assert!(!closes("a: { b: \"}\", # }\nc: 1\n", at(1, 4)));
    }

    #[test]
    fn a_tab_is_pointed_at() {
        let c = find("a:\n\tb: 1\n", at(2, 2), "tabs disallowed within this context").unwrap();
        assert_eq!(c.mark, at(2, 1));
    }
}
