//! The text of each file diagnostics point into (the spec, its var files,
//! the operator's policy), as it was read, so an error can show the line
//! it is about without reading the file again. Registered by whoever reads
//! such a file; looked up by the path the diagnostic names.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

fn table() -> &'static Mutex<HashMap<String, Arc<str>>> {
    static TABLE: OnceLock<Mutex<HashMap<String, Arc<str>>>> = OnceLock::new();
    TABLE.get_or_init(Default::default)
}

/// Keeps `text` as the content of `path` (the path as messages show it).
pub fn remember(path: &str, text: &str) {
    let mut t = table().lock().unwrap_or_else(|e| e.into_inner());
    t.insert(path.to_string(), Arc::from(text));
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
