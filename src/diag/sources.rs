//! The text of each file diagnostics point into (the spec, its var files,
//! the operator's policy), as it was read (secrets masked), so an error can show the line
//! it is about without reading the file again. Registered by whoever reads
//! such a file; looked up by the path the diagnostic names.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

fn table() -> &'static Mutex<HashMap<String, Arc<str>>> {
    static TABLE: OnceLock<Mutex<HashMap<String, Arc<str>>>> = OnceLock::new();
    TABLE.get_or_init(Default::default)
}

/// Keeps `text` as the content of `path` (the path as messages show it),
/// as errors may show it: its line breaks as YAML reads them (`\r\n` and
/// a `\r` alone end a line as `\n` does, so a line shown carries no
/// `\r`), every value that may be a secret masked (`mask`).
pub fn remember(path: &str, text: &str) {
    let text = if text.contains('\r') { text.replace("\r\n", "\n").replace('\r', "\n") } else { text.to_string() };
    let text = super::mask::mask(&text);
    let mut t = table().lock().unwrap_or_else(|e| e.into_inner());
    t.insert(path.to_string(), Arc::from(text));
}

/// `bytes` as text, or an error naming the line and column (counted in
/// characters, from 1) of the first byte that is not UTF-8.
pub fn utf8(bytes: Vec<u8>) -> std::io::Result<String> {
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let bytes = e.as_bytes();
        let valid = std::str::from_utf8(&bytes[..at]).unwrap_or_default();
        let line = valid.matches('\n').count() + 1;
        let col = valid.rsplit('\n').next().unwrap_or_default().chars().count() + 1;
        let message = format!(
            "not UTF-8 text: byte 0x{:02x} at line {line}, column {col} (a spec is UTF-8 YAML; is this a binary file?)",
            bytes[at]
        );
        std::io::Error::new(std::io::ErrorKind::InvalidData, message)
    })
}

/// The text read from `path`, if it was kept.
pub fn get(path: &str) -> Option<Arc<str>> {
    table().lock().unwrap_or_else(|e| e.into_inner()).get(path).cloned()
}

/// `text` without a leading UTF-8 byte-order mark, which some editors on
/// Windows write: it is not part of the document, and columns on the
/// first line count from after it.
pub fn strip_bom(text: &str) -> &str {
    text.strip_prefix('\u{feff}').unwrap_or(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_binary_file_names_the_line_and_column_of_its_first_invalid_byte() {
        let err = utf8(b"pipeline: lab\nstreams: \x80\x81\n".to_vec()).unwrap_err();
        assert!(err.to_string().contains("byte 0x80 at line 2, column 10"), "{err}");
        assert_eq!(utf8(b"a: \xc3\xa9".to_vec()).unwrap(), "a: \u{e9}");
    }

    #[test]
    fn crlf_and_cr_only_line_endings_are_kept_as_line_breaks() {
        remember("crlf-test.yaml", "a: 1\r\nb: 2\r\n");
        assert_eq!(&*get("crlf-test.yaml").unwrap(), "a: 1\nb: 2\n");
        remember("cr-test.yaml", "a: 1\rb: 2\r");
        assert_eq!(&*get("cr-test.yaml").unwrap(), "a: 1\nb: 2\n");
    }
}
