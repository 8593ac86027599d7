//! Where produced records come from: a file of JSON lines, a CSV file
//! turned into JSON objects (as the Kinesis Agent's `CSVTOJSON` does: every
//! value a string, named by the given fields), or a built-in generator.
//! Each is read one record at a time, so memory stays constant for any
//! file size.

use super::generate::Generator;
use std::io::BufRead;

/// One record before it is sent: its bytes (ending in a newline, so that
/// records land line by line in S3) and the partition key it asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub data: Vec<u8>,
    /// The value of `--partition-key FIELD`, when the record has it.
    pub key: Option<String>,
}

/// A line that cannot become a record, with why.
#[derive(Debug, Clone, PartialEq)]
pub struct Skipped {
    pub line: u64,
    pub why: String,
}

/// How a file is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One JSON document per line, sent as it is.
    Json,
    /// Comma- (or `--delimiter`-) separated values, each row one JSON object.
    Csv,
}

pub enum Source {
    Json { lines: Box<dyn BufRead + Send>, line: u64, key_field: Option<String> },
    Csv { rows: csv::Reader<Box<dyn BufRead + Send>>, fields: Vec<String>, key_field: Option<String> },
    Generate { generator: Generator, key_field: Option<String> },
}

impl Source {
    pub fn json(lines: Box<dyn BufRead + Send>, key_field: Option<String>) -> Source {
        Source::Json { lines, line: 0, key_field }
    }

    /// A CSV reader. Without `fields`, the first row names them (a header);
    /// with them, every row is data, as the agent reads it.
    pub fn csv(
        input: Box<dyn BufRead + Send>,
        fields: Vec<String>,
        delimiter: u8,
        key_field: Option<String>,
    ) -> std::io::Result<Source> {
        let header = fields.is_empty();
        let mut rows =
            csv::ReaderBuilder::new().delimiter(delimiter).has_headers(header).flexible(true).from_reader(input);
        let fields = if header {
            rows.headers().map_err(std::io::Error::other)?.iter().map(str::to_string).collect()
        } else {
            fields
        };
        Ok(Source::Csv { rows, fields, key_field })
    }
}

/// The next record; `None` at the end. An I/O error ends the source.
impl Iterator for Source {
    type Item = std::io::Result<Result<Item, Skipped>>;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Source::Json { lines, line, key_field } => loop {
                let mut buf = Vec::new();
                match lines.read_until(b'\n', &mut buf) {
                    Ok(0) => return None,
                    Ok(_) => {}
                    Err(e) => return Some(Err(e)),
                }
                *line += 1;
                while buf.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                    buf.pop();
                }
                if buf.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                let key = key_field.as_deref().and_then(|f| json_key(&buf, f));
                buf.push(b'\n');
                return Some(Ok(Ok(Item { data: buf, key })));
            },
            Source::Csv { rows, fields, key_field } => {
                let mut record = csv::StringRecord::new();
                match rows.read_record(&mut record) {
                    Ok(false) => None,
                    Ok(true) => {
                        let line = record.position().map_or(0, |p| p.line());
                        if record.len() != fields.len() {
                            let why = format!("{} values for {} fields", record.len(), fields.len());
                            return Some(Ok(Err(Skipped { line, why })));
                        }
                        let object: serde_json::Map<String, serde_json::Value> =
                            fields.iter().cloned().zip(record.iter().map(|v| v.into())).collect();
                        let key = key_field.as_deref().and_then(|f| object.get(f)).and_then(key_text);
                        let mut data = serde_json::to_vec(&object).expect("a map of strings serializes");
                        data.push(b'\n');
                        Some(Ok(Ok(Item { data, key })))
                    }
                    Err(e) if e.is_io_error() => match e.into_kind() {
                        csv::ErrorKind::Io(io) => Some(Err(io)),
                        _ => unreachable!("is_io_error"),
                    },
                    Err(e) => {
                        let line = e.position().map_or(0, |p| p.line());
                        Some(Ok(Err(Skipped { line, why: e.to_string() })))
                    }
                }
            }
            Source::Generate { generator, key_field } => {
                let value = generator.record();
                let key = key_field.as_deref().and_then(|f| value.get(f)).and_then(key_text);
                let mut data = serde_json::to_vec(&value).expect("generated JSON serializes");
                data.push(b'\n');
                Some(Ok(Ok(Item { data, key })))
            }
        }
    }
}

/// Generated taxi trips read as the lines of a CSV file without a header
/// (the agent lab's files), so that they go through the same CSV path as a
/// file: each row's values in the places [`crate::taxi::order`] gives.
pub struct CsvLines {
    generator: Generator,
    order: Vec<usize>,
    delimiter: u8,
    line: Vec<u8>,
    at: usize,
}

impl CsvLines {
    pub fn new(generator: Generator, order: Vec<usize>, delimiter: u8) -> CsvLines {
        CsvLines { generator, order, delimiter, line: Vec::new(), at: 0 }
    }

    /// The next row as a CSV line, ending in `\n`.
    pub fn next_line(&mut self) -> Vec<u8> {
        csv_line(&self.generator.taxi_row(), &self.order, self.delimiter)
    }
}

impl std::io::Read for CsvLines {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if self.at == self.line.len() {
            self.line = self.next_line();
            self.at = 0;
        }
        let n = out.len().min(self.line.len() - self.at);
        out[..n].copy_from_slice(&self.line[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// The values of `row` in `order`'s places as one CSV line, quoted where a
/// value holds the delimiter, a quote or a line break.
pub fn csv_line(row: &[String], order: &[usize], delimiter: u8) -> Vec<u8> {
    let mut line = Vec::new();
    for (i, &column) in order.iter().enumerate() {
        if i > 0 {
            line.push(delimiter);
        }
        let v = row[column].as_bytes();
        if v.iter().any(|b| *b == delimiter || b"\"\r\n".contains(b)) {
            line.push(b'"');
            for b in v {
                if *b == b'"' {
                    line.push(b'"');
                }
                line.push(*b);
            }
            line.push(b'"');
        } else {
            line.extend_from_slice(v);
        }
    }
    line.push(b'\n');
    line
}

/// A field of a JSON line as a partition key, when the line is an object
/// holding it.
fn json_key(line: &[u8], field: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(line).ok()?;
    value.get(field).and_then(key_text)
}

/// A JSON value as partition-key text: strings as they are, numbers and
/// booleans as written; anything else (or an empty string) has none.
fn key_text(v: &serde_json::Value) -> Option<String> {
    let text = match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Number(n) => n.to_string(),
        serde_json::Value::Bool(b) => b.to_string(),
        _ => return None,
    };
    (!text.is_empty()).then_some(text)
}

/// The format of a file from its name, else from its first bytes (`{` or
/// `[` is JSON).
pub fn sniff(name: &str, first: &[u8]) -> Format {
    let lower = name.to_ascii_lowercase();
    if lower.ends_with(".csv") || lower.ends_with(".tsv") {
        return Format::Csv;
    }
    if [".json", ".jsonl", ".ndjson"].iter().any(|e| lower.ends_with(e)) {
        return Format::Json;
    }
    match first.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') | Some(b'[') => Format::Json,
        _ => Format::Csv,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reader(text: &str) -> Box<dyn BufRead + Send> {
        Box::new(std::io::Cursor::new(text.as_bytes().to_vec()))
    }

    fn all(mut s: Source) -> Vec<Result<Item, Skipped>> {
        s.by_ref().map(|r| r.unwrap()).collect()
    }

    #[test]
    fn json_lines_are_sent_as_they_are_with_their_key() {
        let items = all(Source::json(reader("{\"a\":1,\"k\":\"x\"}\r\n\n  \nnot json\n{\"k\":7}"), Some("k".into())));
        let items: Vec<Item> = items.into_iter().map(Result::unwrap).collect();
        assert_eq!(items[0], Item { data: b"{\"a\":1,\"k\":\"x\"}\n".to_vec(), key: Some("x".into()) });
        assert_eq!(items[1], Item { data: b"not json\n".to_vec(), key: None });
        assert_eq!(items[2].key.as_deref(), Some("7"));
        assert_eq!(items.len(), 3);
    }

    #[test]
    fn csv_rows_become_objects_of_strings_like_the_agent_makes() {
        let fields = vec!["id".to_string(), "name".to_string()];
        let s = Source::csv(reader("1,\"a, b\"\n2\n3,c\n"), fields, b',', Some("id".into())).unwrap();
        let items = all(s);
        assert_eq!(items[0], Ok(Item { data: b"{\"id\":\"1\",\"name\":\"a, b\"}\n".to_vec(), key: Some("1".into()) }));
        assert_eq!(items[1], Err(Skipped { line: 2, why: "1 values for 2 fields".into() }));
        assert_eq!(items[2].as_ref().unwrap().key.as_deref(), Some("3"));
    }

    #[test]
    fn a_csv_without_fields_takes_them_from_its_header() {
        let items = all(Source::csv(reader("x;y\n1;2\n"), vec![], b';', None).unwrap());
        assert_eq!(items, vec![Ok(Item { data: b"{\"x\":\"1\",\"y\":\"2\"}\n".to_vec(), key: None })]);
    }

    #[test]
    fn generated_taxi_lines_read_as_a_file_of_the_labs_rows() {
        let fields: Vec<String> = crate::taxi::COLUMNS.iter().map(|c| c.to_string()).collect();
        let lines = CsvLines::new(Generator::new(super::super::generate::Kind::Taxi, 1), (0..17).collect(), b',');
        let s = Source::csv(Box::new(std::io::BufReader::new(lines)), fields, b',', Some("VendorID".into())).unwrap();
        let items: Vec<Item> = s.take(50).map(|r| r.unwrap().unwrap()).collect();
        assert_eq!(items.len(), 50);
        let first: serde_json::Value = serde_json::from_slice(&items[0].data).unwrap();
        assert_eq!(first.as_object().unwrap().len(), 17);
        assert!(first["total_amount"].is_string(), "values are text, as the agent's CSVTOJSON makes them");
        assert_eq!(items[0].key.as_deref(), first["VendorID"].as_str());
    }

    #[test]
    fn a_csv_line_quotes_what_needs_it() {
        let row = vec!["a,b".to_string(), "say \"x\"".to_string(), "c".to_string()];
        assert_eq!(csv_line(&row, &[2, 0, 1], b','), b"c,\"a,b\",\"say \"\"x\"\"\"\n".to_vec());
    }

    #[test]
    fn the_format_comes_from_the_name_then_the_content() {
        assert_eq!(sniff("trips.CSV", b"{"), Format::Csv);
        assert_eq!(sniff("x.ndjson", b"a,b"), Format::Json);
        assert_eq!(sniff("-", b"  {\"a\":1}"), Format::Json);
        assert_eq!(sniff("data.txt", b"a,b"), Format::Csv);
    }
}
