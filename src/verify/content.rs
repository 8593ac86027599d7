//! What is inside an object a Firehose delivered: which canaries it holds,
//! and the object without them (`verify --clean`). The format is told by
//! the bytes, never by the key or the Firehose's settings:
//!
//! - gzip (`1f 8b`) and framed Snappy (`ff 06 00 00 sNaPpY`, what a
//!   Firehose's `snappy` compression writes): opened, at most `MAX_OPENED`
//!   bytes, then told again;
//! - `PAR1`: Parquet, read by `columnar`; `ORC`: ORC, not read (`columnar::ORC_UNREAD`);
//! - ZIP (`PK\x03\x04`) and framed Snappy (`ff 06 00 00 sNaPpY`): not opened;
//! - anything else: text (`text`): JSON records, one a line or several
//!   concatenated, a canary found by a field *equal* to its id or number;
//!   lines that are not JSON by a field equal to them, never rewritten.
//!
//! Content that cannot be read is an `Err` with the reason: the caller says
//! "arrived, content not read", never "delivered".

use super::columnar;

mod text;
use std::collections::BTreeSet;
use std::io::{Read, Write};

/// The most bytes a compressed object is opened to.
pub const MAX_OPENED: u64 = 512 << 20;

/// One canary as it can be found: its id in text and string columns, its
/// number in bigint columns (see `verify::number`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Needle {
    pub id: String,
    pub number: i64,
}

/// An object's format, as told by its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Parquet,
    Orc,
}

impl Format {
    pub fn word(self) -> &'static str {
        match self {
            Format::Text => "text",
            Format::Parquet => "Parquet",
            Format::Orc => "ORC",
        }
    }
}

/// What an object holds: its format (`wrap`: the compression it was opened
/// from, if any), and the
/// indexes of the needles found in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub format: Format,
    pub wrap: Wrap,
    pub found: BTreeSet<usize>,
}

impl Found {
    pub fn describe(&self) -> String {
        if let Some(w) = self.wrap.word() {
            format!("{w} {}", self.format.word())
        } else {
            self.format.word().to_string()
        }
    }
}

/// Which of `needles` are in `bytes`.
pub fn find(bytes: &[u8], needles: &[Needle]) -> Result<Found, String> {
    let (bytes, wrap) = opened(bytes)?;
    let format = sniff(&bytes)?;
    let found = match format {
        Format::Text => text::find(&bytes, needles),
        Format::Parquet | Format::Orc => columnar_find(format, &bytes, needles)?,
    };
    Ok(Found { format, wrap, found })
}

/// Whether a JSON record of a text object (gzip opened) satisfies `pred`;
/// `None` when the object is not text (a columnar row has no such shape
/// to judge).
pub fn any_json_record(
    bytes: &[u8],
    pred: &dyn Fn(&serde_json::Map<String, serde_json::Value>) -> bool,
) -> Result<Option<bool>, String> {
    let (bytes, _) = opened(bytes)?;
    Ok(matches!(sniff(&bytes)?, Format::Text).then(|| text::any_object(&bytes, pred)))
}

/// An object without the canaries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Removal {
    /// No canary in it: nothing to write.
    Unchanged,
    /// The object to write back in its place: `removed` records taken out,
    /// `kept` left.
    Rewritten { bytes: Vec<u8>, removed: usize, kept: usize },
    /// Only canaries were in it: the object is to be deleted.
    Emptied { removed: usize },
}

/// `bytes` without the records holding any of `needles` (`text::remove`,
/// `columnar`; gzip written back as gzip), or why that cannot be done.
pub fn remove(bytes: &[u8], needles: &[Needle]) -> Result<Removal, String> {
    let (opened, wrap) = opened(bytes)?;
    match sniff(&opened)? {
        Format::Text => {}
        Format::Parquet => return parquet_removal(&opened, needles, wrap),
        Format::Orc => return Err(columnar::ORC_UNREAD.to_string()),
    }
    let (kept, removed, left) = text::remove(&opened, needles)?;
    if removed == 0 {
        return Ok(Removal::Unchanged);
    }
    if left == 0 {
        return Ok(Removal::Emptied { removed });
    }
    Ok(Removal::Rewritten { bytes: closed(kept, wrap)?, removed, kept: left })
}

/// The compression an object was opened from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wrap {
    Plain,
    Gzip,
    Snappy,
}

impl Wrap {
    pub fn word(self) -> Option<&'static str> {
        match self {
            Wrap::Plain => None,
            Wrap::Gzip => Some("gzip"),
            Wrap::Snappy => Some("snappy"),
        }
    }
}

/// The bytes to write back, compressed again as they came.
fn closed(bytes: Vec<u8>, wrap: Wrap) -> Result<Vec<u8>, String> {
    match wrap {
        Wrap::Plain => Ok(bytes),
        Wrap::Gzip => {
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            enc.write_all(&bytes).and_then(|()| enc.finish()).map_err(|e| format!("gzip: {e}"))
        }
        Wrap::Snappy => {
            let mut enc = snap::write::FrameEncoder::new(Vec::new());
            enc.write_all(&bytes).map_err(|e| format!("snappy: {e}"))?;
            enc.into_inner().map_err(|e| format!("snappy: {}", e.error()))
        }
    }
}

/// A Parquet object without the rows holding a canary (`columnar`).
fn parquet_removal(bytes: &[u8], needles: &[Needle], wrap: Wrap) -> Result<Removal, String> {
    match columnar::parquet_without(bytes, &borrowed(needles))? {
        None => Ok(Removal::Unchanged),
        Some(r) if r.kept == 0 => Ok(Removal::Emptied { removed: r.removed }),
        Some(r) => Ok(Removal::Rewritten { bytes: closed(r.bytes, wrap)?, removed: r.removed, kept: r.kept }),
    }
}

fn borrowed(needles: &[Needle]) -> Vec<columnar::Needle<'_>> {
    needles.iter().map(|n| columnar::Needle { id: &n.id, number: n.number }).collect()
}

/// The bytes, opened when they are gzip or framed Snappy (and how they were
/// compressed), at most `MAX_OPENED` bytes once opened.
fn opened(bytes: &[u8]) -> Result<(std::borrow::Cow<'_, [u8]>, Wrap), String> {
    let (wrap, reader): (Wrap, Box<dyn Read + '_>) = if bytes.starts_with(&[0x1f, 0x8b]) {
        (Wrap::Gzip, Box::new(flate2::read::MultiGzDecoder::new(bytes)))
    } else if bytes.starts_with(SNAPPY_FRAMED) {
        (Wrap::Snappy, Box::new(snap::read::FrameDecoder::new(bytes)))
    } else {
        return Ok((bytes.into(), Wrap::Plain));
    };
    let w = wrap.word().expect("compressed");
    let mut out = Vec::new();
    reader.take(MAX_OPENED + 1).read_to_end(&mut out).map_err(|e| format!("{w} content could not be opened: {e}"))?;
    if out.len() as u64 > MAX_OPENED {
        return Err(format!("{w} content is larger than {} MiB once opened", MAX_OPENED >> 20));
    }
    if out.starts_with(&[0x1f, 0x8b]) || out.starts_with(SNAPPY_FRAMED) {
        return Err(format!("compressed content inside {w} is not opened"));
    }
    Ok((out.into(), wrap))
}

/// The stream identifier that begins Snappy's framing format.
const SNAPPY_FRAMED: &[u8] = b"\xff\x06\x00\x00sNaPpY";

fn sniff(bytes: &[u8]) -> Result<Format, String> {
    if bytes.starts_with(b"PAR1") {
        Ok(Format::Parquet)
    } else if bytes.starts_with(b"ORC") {
        Ok(Format::Orc)
    } else if bytes.starts_with(b"PK\x03\x04") {
        Err("ZIP content is not read".into())
    } else {
        Ok(Format::Text)
    }
}

pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// The canaries in a Parquet or ORC object: the one place columnar content
/// is read (`columnar`).
fn columnar_find(format: Format, bytes: &[u8], needles: &[Needle]) -> Result<BTreeSet<usize>, String> {
    match format {
        Format::Parquet => Ok(columnar::parquet_find(bytes, &borrowed(needles))?.found),
        Format::Orc => Err(columnar::ORC_UNREAD.to_string()),
        Format::Text => unreachable!("text is read line by line"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn needles() -> Vec<Needle> {
        vec![
            Needle { id: "pipectl-canary-aaaaaaaaaaaa".into(), number: -5 },
            Needle { id: "pipectl-canary-bbbbbbbbbbbb".into(), number: -6 },
        ]
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(bytes).unwrap();
        enc.finish().unwrap()
    }

    const TEXT: &str = "{\"a\":1}\n{\"pipectl_canary\":\"pipectl-canary-bbbbbbbbbbbb\"}\n{\"a\":2}\n";

    #[test]
    fn text_and_gzip_are_searched_line_by_line() {
        let f = find(TEXT.as_bytes(), &needles()).unwrap();
        assert_eq!((f.format, f.wrap, f.found.into_iter().collect::<Vec<_>>()), (Format::Text, Wrap::Plain, vec![1]));
        let f = find(&gzip(TEXT.as_bytes()), &needles()).unwrap();
        assert_eq!((f.describe(), f.found.len()), ("gzip text".to_string(), 1));
        assert!(find(b"{\"a\":1}\n", &needles()).unwrap().found.is_empty());
    }

    #[test]
    fn what_cannot_be_read_says_why() {
        for (bytes, says) in [
            (&b"PAR1\x15\x04"[..], "not a whole Parquet file"),
            (b"ORC\x0a", "ORC content is not read by pipectl"),
            (b"PK\x03\x04rest", "ZIP"),
            (b"\xff\x06\x00\x00sNaPpYrest", "snappy content could not be opened"),
            (b"\x1f\x8b\x08broken", "gzip content could not be opened"),
        ] {
            let e = find(bytes, &needles()).unwrap_err();
            assert!(e.contains(says), "{e}");
            assert!(remove(bytes, &needles()).unwrap_err().contains(says));
        }
        let e = find(&gzip(&gzip(b"x")), &needles()).unwrap_err();
        assert!(e.contains("compressed content inside gzip"), "{e}");
    }

    /// A Firehose with `compression: snappy` writes Snappy's framing
    /// format: opened and searched like gzip, and written back as it came.
    #[test]
    fn snappy_framed_objects_are_opened_searched_and_written_back_framed() {
        let mut enc = snap::write::FrameEncoder::new(Vec::new());
        enc.write_all(TEXT.as_bytes()).unwrap();
        let framed = enc.into_inner().unwrap();
        let f = find(&framed, &needles()).unwrap();
        assert_eq!((f.describe(), f.found.len()), ("snappy text".to_string(), 1));
        let Removal::Rewritten { bytes, removed: 1, kept: 2 } = remove(&framed, &needles()).unwrap() else { panic!() };
        let (opened, wrap) = opened(&bytes).unwrap();
        assert_eq!(wrap, Wrap::Snappy);
        assert_eq!(&*opened, b"{\"a\":1}\n{\"a\":2}\n");
    }

    #[test]
    fn removing_keeps_every_other_record_and_compression() {
        let r = remove(TEXT.as_bytes(), &needles()).unwrap();
        let Removal::Rewritten { bytes, removed: 1, kept: 2 } = r else { panic!("{r:?}") };
        assert_eq!(bytes, b"{\"a\":1}\n{\"a\":2}\n");
        let Removal::Rewritten { bytes, .. } = remove(&gzip(TEXT.as_bytes()), &needles()).unwrap() else { panic!() };
        let (opened, gzip) = opened(&bytes).unwrap();
        assert_eq!(gzip, Wrap::Gzip);
        assert_eq!(&*opened, b"{\"a\":1}\n{\"a\":2}\n");
        assert_eq!(remove(b"{\"a\":1}\n", &needles()).unwrap(), Removal::Unchanged);
        let only = "{\"x\":\"pipectl-canary-aaaaaaaaaaaa\"}\n\n{\"y\":-6}";
        assert_eq!(remove(only.as_bytes(), &needles()).unwrap(), Removal::Emptied { removed: 2 });
    }
}
