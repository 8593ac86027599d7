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

//!
//! No record is ever built as a whole `serde_json::Value`: a line of
//! `[0,0,0,…]` would cost tens of bytes of memory for each of its bytes. A
//! value is read by a visitor that keeps only what matching needs (an
//! object's top-level string and integer fields) and skips everything else
//! with `IgnoredAny`, which allocates nothing; so what reading a text costs
//! is its bytes plus the strings of one record.

use super::Needle;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use std::collections::BTreeSet;
use std::fmt;

/// One JSON value of a line: its byte span, and the needles it holds.
struct Record {
    start: usize,
    end: usize,
    holds: Vec<usize>,
}

/// The byte spans of a line's JSON values, found by skipping them
/// (`IgnoredAny`: nothing is built), each read again by `read`; `None`
/// when the line is not JSON.
fn values<T>(line: &[u8], mut read: impl FnMut(&[u8]) -> serde_json::Result<T>) -> Option<Vec<(usize, usize, T)>> {
    let mut spans = serde_json::Deserializer::from_slice(line).into_iter::<IgnoredAny>();
    let mut out = Vec::new();
    let mut at = 0;
    loop {
        let start = at + line[at..].iter().take_while(|b| b.is_ascii_whitespace()).count();
        match spans.next() {
            None => return Some(out),
            Some(Err(_)) => return None,
            Some(Ok(IgnoredAny)) => {
                let end = spans.byte_offset();
                out.push((start, end, read(&line[start..end]).ok()?));
                at = end;
            }
        }
    }
}

/// A line read as a sequence of JSON values (none for a blank line), or
/// `None` when it is not JSON.
fn records(line: &[u8], needles: &[Needle]) -> Option<Vec<Record>> {
    let read = |value: &[u8]| Holds(needles).deserialize(&mut serde_json::Deserializer::from_slice(value));
    let spans = values(line, read)?;
    Some(spans.into_iter().map(|(start, end, holds)| Record { start, end, holds }).collect())
}

/// A top-level field's value as matching reads it: a string or an integer
/// that fits in an `i64`; any other value is skipped unread.
enum Scalar {
    Str(String),
    Int(i64),
    Other,
}

impl<'de> DeserializeSeed<'de> for Scalar {
    type Value = Scalar;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Scalar, D::Error> {
        d.deserialize_any(ScalarVisitor)
    }
}

struct ScalarVisitor;

impl<'de> Visitor<'de> for ScalarVisitor {
    type Value = Scalar;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<Scalar, E> {
        Ok(Scalar::Str(s.to_owned()))
    }
    fn visit_i64<E: de::Error>(self, n: i64) -> Result<Scalar, E> {
        Ok(Scalar::Int(n))
    }
    fn visit_u64<E: de::Error>(self, n: u64) -> Result<Scalar, E> {
        Ok(i64::try_from(n).map_or(Scalar::Other, Scalar::Int))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Scalar, E> {
        Ok(Scalar::Other)
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Scalar, E> {
        Ok(Scalar::Other)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Scalar, E> {
        Ok(Scalar::Other)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Scalar, A::Error> {
        skip_seq(seq).map(|()| Scalar::Other)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Scalar, A::Error> {
        skip_map(map).map(|()| Scalar::Other)
    }
}

fn skip_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<(), A::Error> {
    while seq.next_element::<IgnoredAny>()?.is_some() {}
    Ok(())
}

fn skip_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<(), A::Error> {
    while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
    Ok(())
}

/// Reads one JSON value to the needles it holds: it is an object with a
/// top-level string field equal to the id, or integer field equal to the
/// number. Keys are skipped unread, each value is compared as it is read
/// and dropped, and a value that is not an object is skipped whole.
struct Holds<'a>(&'a [Needle]);

impl<'de> DeserializeSeed<'de> for Holds<'_> {
    type Value = Vec<usize>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Vec<usize>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Holds<'_> {
    type Value = Vec<usize>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Vec<usize>, A::Error> {
        let mut held = vec![false; self.0.len()];
        while map.next_key::<IgnoredAny>()?.is_some() {
            let value = map.next_value_seed(Scalar::Other)?;
            for (n, held) in self.0.iter().zip(held.iter_mut()) {
                *held |= match &value {
                    Scalar::Str(s) => *s == n.id,
                    Scalar::Int(x) => *x == n.number,
                    Scalar::Other => false,
                };
            }
        }
        Ok(held.iter().enumerate().filter(|(_, h)| **h).map(|(i, _)| i).collect())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Vec<usize>, A::Error> {
        skip_seq(seq).map(|()| Vec::new())
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Vec<usize>, E> {
        Ok(Vec::new())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Vec<usize>, E> {
        Ok(Vec::new())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Vec<usize>, E> {
        Ok(Vec::new())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Vec<usize>, E> {
        Ok(Vec::new())
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Vec<usize>, E> {
        Ok(Vec::new())
    }
    fn visit_unit<E: de::Error>(self) -> Result<Vec<usize>, E> {
        Ok(Vec::new())
    }
}

/// Reads one JSON value to the view of it an aggregate row is judged by:
/// for an object, every top-level key, with its value when that is a
/// string or an `i64` and `null` in its place otherwise (present, not
/// kept); `None` for any other value, skipped whole.
struct View;

impl<'de> DeserializeSeed<'de> for View {
    type Value = Option<serde_json::Map<String, Value>>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for View {
    type Value = Option<serde_json::Map<String, Value>>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut fields = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let value = match map.next_value_seed(Scalar::Other)? {
                Scalar::Str(s) => Value::String(s),
                Scalar::Int(n) => Value::from(n),
                Scalar::Other => Value::Null,
            };
            fields.insert(key, value);
        }
        Ok(Some(fields))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        skip_seq(seq).map(|()| None)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
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
/// are not JSON are passed over, from their first value that is not). `pred`
/// sees a bounded view of each object ([`View`]): its top-level keys, and
/// their values when they are strings or integers.
pub fn any_object(bytes: &[u8], pred: &dyn Fn(&serde_json::Map<String, Value>) -> bool) -> bool {
    bytes.split(|b| *b == b'\n').any(|line| {
        let mut any = false;
        values(line, |value| {
            let fields = View.deserialize(&mut serde_json::Deserializer::from_slice(value))?;
            any = any || fields.is_some_and(|f| pred(&f));
            Ok(())
        });
        any
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

    /// The peak resident memory of this process, in KiB, reset to the
    /// current one first when the kernel allows it (`clear_refs`).
    fn peak_kib(reset: bool) -> u64 {
        if reset {
            let _ = std::fs::write("/proc/self/clear_refs", "5");
        }
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap_or("VmHWM: 0 kB");
        line.split_whitespace().nth(1).and_then(|n| n.parse().ok()).unwrap_or(0)
    }

    #[test]
    fn a_line_of_millions_of_zeros_is_read_in_memory_bounded_by_its_bytes() {
        // The reviewer's object opened: one JSON array of 20M zeros (40 MB).
        // Built as `Value`s it took more than 30 bytes a byte of it.
        let mut zeros = Vec::with_capacity(40_000_003);
        zeros.push(b'[');
        for _ in 0..20_000_000 {
            zeros.extend_from_slice(b"0,");
        }
        *zeros.last_mut().unwrap() = b']';
        zeros.push(b'\n');
        let before = peak_kib(true);
        assert!(find(&zeros, &needles()).is_empty());
        assert!(!any_object(&zeros, &|_| true));
        assert_eq!(remove(&zeros, &needles()).unwrap().1, 0);
        let grown = peak_kib(false).saturating_sub(before);
        eprintln!("peak memory grew by {grown} KiB reading a 40 MB line");
        // `remove` copies the text once (40 MB); nothing else may grow.
        assert!(grown < 64 << 10, "peak memory grew by {grown} KiB reading a 40 MB line");
        // An object of the same zeros, and a record with many keys, are
        // read the same way; a canary beside them is still found.
        let mut line = b"{\"a\":".to_vec();
        line.extend_from_slice(&zeros[..zeros.len() - 1]);
        line.extend_from_slice(format!(",\"b\":{{\"c\":[1,{{}}]}},\"id\":\"{ID}\"}}").as_bytes());
        assert_eq!(find(&line, &needles()).len(), 1);
        assert!(any_object(&line, &|m| m.get("id").and_then(Value::as_str) == Some(ID)
            && m.get("a") == Some(&Value::Null)
            && m.contains_key("b")));
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
