//! Text objects: one record a line, or several JSON values on one line
//! when a producer added no newline (Firehose concatenates records as they
//! come). A record holds a canary only by value equality, as a Parquet row
//! does: a JSON object with a top-level string field equal to a canary's
//! id, or a top-level integer field equal to its number. Never a substring:
//! a user record that quotes an id in a note is a user record.
//!
//! A line that is not JSON (CSV, TSV, plain text) shows a canary when one
//! of its fields (cut at `,`, tab or `|`, trimmed of spaces and quotes)
//! equals an id or a number; such a line is never rewritten.

use super::Needle;
use serde_json::Value;
use std::collections::BTreeSet;

/// One JSON value of a line: its byte span, and the needles it holds.
struct Record {
    start: usize,
    end: usize,
    holds: Vec<usize>,
}

/// A line read as a sequence of JSON values (none for a blank line), or
/// `None` when it is not JSON.
fn records(line: &[u8], needles: &[Needle]) -> Option<Vec<Record>> {
    let mut values = serde_json::Deserializer::from_slice(line).into_iter::<Value>();
    let mut out = Vec::new();
    let mut at = 0;
    loop {
        let start = at + line[at..].iter().take_while(|b| b.is_ascii_whitespace()).count();
        match values.next() {
            None => return Some(out),
            Some(Err(_)) => return None,
            Some(Ok(v)) => {
                let end = values.byte_offset();
                out.push(Record { start, end, holds: in_value(&v, needles) });
                at = end;
            }
        }
    }
}

/// The needles a JSON value holds: it is an object with a top-level string
/// field equal to the id, or integer field equal to the number.
fn in_value(v: &Value, needles: &[Needle]) -> Vec<usize> {
    let Some(fields) = v.as_object() else { return Vec::new() };
    let holds = |n: &Needle| {
        fields.values().any(|f| match f {
            Value::String(s) => *s == n.id,
            Value::Number(x) => x.as_i64() == Some(n.number),
            _ => false,
        })
    };
    needles.iter().enumerate().filter(|(_, n)| holds(n)).map(|(i, _)| i).collect()
}

/// The needles a line that is not JSON shows: a field equal to an id or a number.
fn in_other(line: &[u8], needles: &[Needle]) -> Vec<usize> {
    let text = String::from_utf8_lossy(line);
    let fields: Vec<&str> =
        text.split([',', '\t', '|']).map(|f| f.trim().trim_matches('"').trim()).filter(|f| !f.is_empty()).collect();
    let shows = |n: &Needle| fields.iter().any(|f| *f == n.id || f.parse::<i64>() == Ok(n.number));
    needles.iter().enumerate().filter(|(_, n)| shows(n)).map(|(i, _)| i).collect()
}

fn blank(bytes: &[u8]) -> bool {
    bytes.iter().all(u8::is_ascii_whitespace)
}

/// Whether any JSON object of the text's lines satisfies `pred` (lines that
/// are not JSON are passed over).
pub fn any_object(bytes: &[u8], pred: &dyn Fn(&serde_json::Map<String, Value>) -> bool) -> bool {
    bytes.split(|b| *b == b'\n').any(|line| {
        let values = serde_json::Deserializer::from_slice(line).into_iter::<Value>();
        values.map_while(Result::ok).any(|v| v.as_object().is_some_and(pred))
    })
}

/// Which needles the text holds.
pub fn find(bytes: &[u8], needles: &[Needle]) -> BTreeSet<usize> {
    let mut found = BTreeSet::new();
    for line in bytes.split(|b| *b == b'\n') {
        match records(line, needles) {
            Some(rs) => found.extend(rs.into_iter().flat_map(|r| r.holds)),
            None => found.extend(in_other(line, needles)),
        }
    }
    found
}

/// The text without its canary records: (bytes, records removed, records
/// kept). Each canary value is cut out by its byte span; every other byte
/// stays as it was, and a line left blank goes with its newline. A canary
/// on a line that is not JSON is an error: the object is not rewritten.
pub fn remove(bytes: &[u8], needles: &[Needle]) -> Result<(Vec<u8>, usize, usize), String> {
    let mut out = Vec::with_capacity(bytes.len());
    let (mut removed, mut kept) = (0, 0);
    for (n, line) in bytes.split_inclusive(|b| *b == b'\n').enumerate() {
        let body = line.strip_suffix(b"\n").unwrap_or(line);
        let Some(rs) = records(body, needles) else {
            if let Some(i) = in_other(body, needles).first() {
                let id = &needles[*i].id;
                return Err(format!(
                    "line {} holds canary {id} in a record that is not JSON, which --clean does not rewrite",
                    n + 1
                ));
            }
            kept += usize::from(!blank(body));
            out.extend_from_slice(line);
            continue;
        };
        let canaries = rs.iter().filter(|r| !r.holds.is_empty()).count();
        kept += rs.len() - canaries;
        if canaries == 0 {
            out.extend_from_slice(line);
            continue;
        }
        removed += canaries;
        let mut rest = Vec::with_capacity(body.len());
        let mut at = 0;
        for r in rs.iter().filter(|r| !r.holds.is_empty()) {
            rest.extend_from_slice(&body[at..r.start]);
            at = r.end;
        }
        rest.extend_from_slice(&body[at..]);
        if !blank(&rest) {
            out.extend_from_slice(&rest);
            out.extend_from_slice(&line[body.len()..]);
        }
    }
    Ok((out, removed, kept))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "pipectl-canary-aaaaaaaaaaaa";

    fn needles() -> Vec<Needle> {
        vec![Needle { id: ID.into(), number: -4611686018427387905 }]
    }

    #[test]
    fn concatenated_records_beside_a_canary_are_kept_byte_for_byte() {
        let text = format!("{{\"user\":1}}{{\"user\":2}}{{\"pipectl_canary\":\"{ID}\"}}\n{{\"user\":3}}\n");
        let (bytes, removed, kept) = remove(text.as_bytes(), &needles()).unwrap();
        assert_eq!(String::from_utf8(bytes).unwrap(), "{\"user\":1}{\"user\":2}\n{\"user\":3}\n");
        assert_eq!((removed, kept), (1, 3), "records, not lines");
        // Spaces and odd spacing inside user records stay as they were.
        let text = format!("{{ \"user\" : 1 }} {{\"pipectl_canary\":\"{ID}\"}}  {{\"b\":[1, 2]}}\r\n");
        let (bytes, ..) = remove(text.as_bytes(), &needles()).unwrap();
        assert_eq!(String::from_utf8(bytes).unwrap(), "{ \"user\" : 1 }   {\"b\":[1, 2]}\r\n");
    }

    #[test]
    fn a_record_quoting_the_id_is_not_a_canary() {
        let note = format!("{{\"note\":\"retry of {ID} failed\"}}\n{{\"nested\":{{\"pipectl_canary\":\"{ID}\"}}}}\n");
        assert!(find(note.as_bytes(), &needles()).is_empty());
        let (bytes, removed, kept) = remove(note.as_bytes(), &needles()).unwrap();
        assert_eq!((bytes.as_slice(), removed, kept), (note.as_bytes(), 0, 2));
        // A key equal to the id is not a value equal to it.
        assert!(find(format!("{{\"{ID}\":1}}").as_bytes(), &needles()).is_empty());
    }

    #[test]
    fn a_canary_is_found_by_any_top_level_field_or_its_number() {
        let aggregate = format!("{{\"sensor_id\": \"{ID}\", \"avg\": 1.5}}");
        assert_eq!(find(aggregate.as_bytes(), &needles()).len(), 1);
        let by_number = "{\"trip_id\":-4611686018427387905}\n";
        assert_eq!(find(by_number.as_bytes(), &needles()).len(), 1);
        let (bytes, removed, kept) = remove(by_number.as_bytes(), &needles()).unwrap();
        assert_eq!((bytes.len(), removed, kept), (0, 1, 0));
    }

    #[test]
    fn a_line_that_is_not_json_is_never_rewritten() {
        // CSV: found by a whole field, never by a part of one.
        let csv = format!("1,2,{ID}\nuser,\"{ID}-x\",3\n");
        assert_eq!(find(format!("user,\"{ID}-x\"\n").as_bytes(), &needles()).len(), 0);
        assert_eq!(find(csv.as_bytes(), &needles()).len(), 1);
        let e = remove(csv.as_bytes(), &needles()).unwrap_err();
        assert!(e.contains("line 1 holds canary") && e.contains("not JSON"), "{e}");
        // Text around a JSON record makes the line not JSON: left as it is.
        let mixed = format!("{{\"a\":1}} trailing words\n{{\"pipectl_canary\":\"{ID}\"}}\n");
        let (bytes, removed, kept) = remove(mixed.as_bytes(), &needles()).unwrap();
        assert_eq!((String::from_utf8(bytes).unwrap(), removed, kept), ("{\"a\":1} trailing words\n".into(), 1, 1));
    }
}
