//! How a record is stored: the head parameter (the compressed listing
//! itself, or the generation, count and digest of its parts), the
//! bookkeeping stamps beside the listing (when it was last applied, last
//! changed), and reading it back within bounds.
//!
//! Whatever can write under `/pipectl/` can forge a head, so nothing it
//! claims is trusted before it is checked against what a spec can make: a
//! head naming more parts than [`MAX_PARTS`], a part longer than
//! [`PART`], or a listing that inflates past [`MAX_JSON`] is a damaged
//! record, and nothing is fetched or allocated by the count it claims.

use super::Content;
use crate::aws::{retry, Aws, AwsError};
use crate::send;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// What a standard SSM parameter holds.
pub const MAX_STANDARD: usize = 4096;
/// The characters of stored text in one part.
pub(super) const PART: usize = 4000;
/// GetParameters and DeleteParameters take at most this many names.
pub(super) const NAMES_PER_CALL: usize = 10;

/// The largest listing (JSON) a spec can make. A spec is at most
/// `spec::yaml::MAX_BYTES`; each resource's entry is its address and
/// physical name, both made from what the spec spells. Measured: the
/// densest spec (streams with one-character keys, a long pipeline name
/// and an env) makes 6 bytes of listing per byte of spec, Firehoses 3.
/// Sixteen leaves room for kinds added later.
pub const MAX_JSON: usize = 16 * crate::spec::yaml::MAX_BYTES;
/// The stored text of the largest listing: zlib never grows its input by
/// more than 0.1% and a few bytes; base64 makes 4 characters of 3 bytes.
const MAX_DATA: usize = (MAX_JSON + MAX_JSON / 1000 + 64).div_ceil(3) * 4;
/// The most parts a record pipectl writes can have.
pub const MAX_PARTS: usize = MAX_DATA.div_ceil(PART);

pub(super) const FORMAT: &str = "zlib+base64";

/// When a deployment was last applied successfully and when its listing
/// last changed, in seconds since the epoch (with milliseconds), as this
/// machine's clock said. Kept in the head beside the listing, so marking
/// a run applied rewrites one small parameter, never the parts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Stamps {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changed: Option<f64>,
}

/// The head parameter of a stored record: the compressed listing itself,
/// or the generation, count and digest of its parts. Fields this build
/// does not know are kept when the stamps are rewritten ([`with_applied`]).
#[derive(Debug, Default, Serialize, Deserialize)]
struct Head {
    format: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    data: Option<String>,
    #[serde(default, skip_serializing_if = "is_zero")]
    parts: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    generation: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sha256: Option<String>,
    #[serde(flatten)]
    stamps: Stamps,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// The stored form of `c`: the head parameter's text and, for a listing
/// too large to sit in the head, the generation and the parts' texts.
/// A head is inline only with room left for its stamps at their widest,
/// so rewriting them never pushes it past a standard parameter.
pub fn encode(c: &Content) -> (String, Option<(String, Vec<String>)>) {
    use base64::Engine as _;
    use std::io::Write as _;
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    z.write_all(c.to_json().as_bytes()).expect("writes to memory");
    let data = base64::engine::general_purpose::STANDARD.encode(z.finish().expect("writes to memory"));
    let widest = Stamps { applied: Some(WIDEST), changed: Some(WIDEST) };
    let inline = |stamps| Head { format: FORMAT.into(), data: Some(data.clone()), stamps, ..Head::default() };
    if serde_json::to_string(&inline(widest)).expect("head serializes").len() <= MAX_STANDARD {
        return (serde_json::to_string(&inline(c.stamps)).expect("head serializes"), None);
    }
    let sha = crate::names::sha256_hex(&data);
    let generation = sha[..12].to_string();
    let parts: Vec<String> = data.as_bytes().chunks(PART).map(|c| String::from_utf8_lossy(c).into_owned()).collect();
    let head = Head {
        format: FORMAT.into(),
        data: None,
        parts: parts.len(),
        generation: Some(generation.clone()),
        sha256: Some(sha),
        stamps: c.stamps,
    };
    (serde_json::to_string(&head).expect("head serializes"), Some((generation, parts)))
}

/// A stamp at its widest in JSON.
const WIDEST: f64 = -f64::MIN_POSITIVE;

/// `head` (a head's text as stored) marked applied at `at`, every other
/// field as it was; `None` when it is not a head of the current format
/// or the stamp would not fit (a record an earlier pipectl wrote): such
/// a record is written whole instead.
pub fn with_applied(head: &str, at: f64) -> Option<String> {
    let mut v: serde_json::Map<String, serde_json::Value> = serde_json::from_str(head).ok()?;
    if v.get("format").and_then(|f| f.as_str()) != Some(FORMAT) {
        return None;
    }
    v.insert("applied".into(), serde_json::json!(at));
    Some(serde_json::Value::Object(v).to_string()).filter(|t| t.len() <= MAX_STANDARD)
}

/// What a head parameter's text says.
#[derive(Debug, PartialEq)]
pub(super) enum Stored {
    /// The whole listing (inline, or plain JSON from an earlier pipectl).
    Whole(Content),
    /// A listing in parts: their generation, count and digest.
    Parts { generation: String, count: usize, sha256: String, stamps: Stamps },
}

pub(super) fn read_head(text: &str) -> Result<Stored, String> {
    if let Ok(head) = serde_json::from_str::<Head>(text) {
        if head.format != FORMAT {
            return Err(format!(
                "it is stored as `{}`, which this pipectl does not read: upgrade pipectl",
                head.format
            ));
        }
        let stamps = head.stamps;
        return match (head.data, head.generation, head.sha256) {
            (Some(data), _, _) => inflate(&data).map(|c| Stored::Whole(Content { stamps, ..c })),
            (None, Some(_), Some(_)) if head.parts > MAX_PARTS => Err(format!(
                "its head claims {} parts, more than the {MAX_PARTS} of the largest record a spec can make",
                head.parts
            )),
            (None, Some(generation), Some(sha256)) if head.parts > 0 => {
                Ok(Stored::Parts { generation, count: head.parts, sha256, stamps })
            }
            _ => Err("its head names neither a listing nor its parts".into()),
        };
    }
    // Plain JSON: the format before compression.
    Content::parse(text).map(Stored::Whole).ok_or_else(|| "it is not a listing pipectl wrote".to_string())
}

fn inflate(data: &str) -> Result<Content, String> {
    use base64::Engine as _;
    use std::io::Read as _;
    if data.len() > MAX_DATA {
        return Err(format!("its listing is {} characters, more than the largest record a spec can make", data.len()));
    }
    let bytes =
        base64::engine::general_purpose::STANDARD.decode(data.trim()).map_err(|e| format!("not base64: {e}"))?;
    let mut json = String::new();
    flate2::read::ZlibDecoder::new(bytes.as_slice())
        .take(MAX_JSON as u64 + 1)
        .read_to_string(&mut json)
        .map_err(|e| format!("not zlib: {e}"))?;
    if json.len() > MAX_JSON {
        return Err(format!("its listing inflates past {MAX_JSON} bytes, more than a spec can make"));
    }
    Content::parse(&json).ok_or_else(|| "its listing is not JSON pipectl wrote".to_string())
}

/// The listing from its parts, in order, checked against the head's digest.
pub(super) fn join_parts(parts: &[String], sha256: &str) -> Result<Content, String> {
    if let Some(p) = parts.iter().position(|p| p.len() > PART) {
        return Err(format!("its part {p} is longer than pipectl writes"));
    }
    let data = parts.concat();
    if crate::names::sha256_hex(&data) != sha256 {
        return Err("its parts do not match the digest in its head".into());
    }
    inflate(&data)
}

pub(super) fn part_name(record: &str, generation: &str, i: usize) -> String {
    format!("{}/{generation}/{i}", crate::names::record_parts_path(record))
}

/// The error for a record that cannot be read: never taken for "no record".
pub fn damaged(record: &str, why: String) -> AwsError {
    AwsError::fatal(
        "GetParameter",
        format!(
            "the deployment record `{record}` cannot be read: {why}; \
             `pipectl unlock` does not help here: restore the parameter or delete it to start over"
        ),
    )
}

/// The listing a head parameter's text stands for, fetching its parts.
pub(super) async fn load(aws: &Aws, record: &str, text: &str) -> Result<Content, AwsError> {
    let (generation, count, sha256, stamps) = match read_head(text).map_err(|e| damaged(record, e))? {
        Stored::Whole(c) => return Ok(Content { in_parts: false, head: Some(text.to_string()), ..c }),
        Stored::Parts { generation, count, sha256, stamps } => (generation, count, sha256, stamps),
    };
    let names: Vec<String> = (0..count).map(|i| part_name(record, &generation, i)).collect();
    let mut found: BTreeMap<String, String> = BTreeMap::new();
    for batch in names.chunks(NAMES_PER_CALL) {
        let out = retry(
            Duration::from_secs(60),
            |_| false,
            || async { send!("GetParameters", aws.ssm.get_parameters().set_names(Some(batch.to_vec()))) },
        )
        .await?;
        for p in out.parameters() {
            found.insert(p.name().unwrap_or_default().to_string(), p.value().unwrap_or_default().to_string());
        }
        // A missing part is known at its batch: no need to fetch the rest.
        if let Some(n) = batch.iter().find(|n| !found.contains_key(*n)) {
            return Err(damaged(record, format!("its part `{n}` is missing")));
        }
    }
    let parts: Vec<String> = names.iter().filter_map(|n| found.remove(n)).collect();
    join_parts(&parts, &sha256)
        .map(|c| Content { in_parts: true, stamps, head: Some(text.to_string()), ..c })
        .map_err(|e| damaged(record, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Address, Kind};

    fn content(n: usize) -> Content {
        let addrs: Vec<Address> = (0..n).map(|i| Address::new(Kind::Stream, format!("stream-{i:04}"))).collect();
        let names = addrs.iter().enumerate().map(|(i, a)| (a, format!("bench-pipeline-default-stream-{i:04}")));
        let mut c = Content::of("eu-west-1", names);
        c.created = Some(1_700_000_000);
        c.by = Some("ci@runner".into());
        c
    }

    #[test]
    fn a_small_listing_sits_in_the_head() {
        let c = content(40);
        let (head, parts) = encode(&c);
        assert!(parts.is_none());
        assert!(head.len() <= MAX_STANDARD);
        assert_eq!(read_head(&head), Ok(Stored::Whole(c)));
    }

    #[test]
    fn a_thousand_resources_go_in_parts_that_join_back() {
        let c = content(1000);
        assert!(c.to_json().len() > 8192, "larger than the old ceiling");
        let (head, parts) = encode(&c);
        let (generation, parts) = parts.expect("parts");
        assert!(head.len() <= MAX_STANDARD && parts.iter().all(|p| p.len() <= MAX_STANDARD));
        let Ok(Stored::Parts { generation: g, count, sha256, .. }) = read_head(&head) else { panic!("{head}") };
        assert_eq!((g, count), (generation, parts.len()));
        assert_eq!(join_parts(&parts, &sha256), Ok(c.clone()));
        // The same listing is stored the same way: a rewrite is idempotent.
        assert_eq!(encode(&c).0, head);
    }

    #[test]
    fn damaged_parts_are_refused_not_misread() {
        let (head, parts) = encode(&content(1000));
        let (_, mut parts) = parts.unwrap();
        let Ok(Stored::Parts { sha256, .. }) = read_head(&head) else { panic!() };
        parts.swap(0, 1);
        assert!(join_parts(&parts, &sha256).unwrap_err().contains("digest"));
        parts.pop();
        assert!(join_parts(&parts, &sha256).is_err());
        parts[0].push_str(&"A".repeat(PART));
        assert!(join_parts(&parts, &sha256).unwrap_err().contains("longer"));
    }

    #[test]
    fn a_record_of_the_earlier_plain_format_is_read() {
        let c = content(3);
        assert_eq!(read_head(&c.to_json()), Ok(Stored::Whole(c)));
        assert!(read_head(r#"{"format":"zstd","data":"x"}"#).unwrap_err().contains("upgrade"));
        assert!(read_head("not json").is_err());
    }

    #[test]
    fn a_head_claiming_more_parts_than_a_spec_can_make_is_damaged() {
        let forged = format!(r#"{{"format":"{FORMAT}","parts":1000000000,"generation":"g","sha256":"s"}}"#);
        assert!(read_head(&forged).unwrap_err().contains("1000000000 parts"), "{:?}", read_head(&forged));
        let at_cap = forged.replace("1000000000", &MAX_PARTS.to_string());
        assert!(matches!(read_head(&at_cap), Ok(Stored::Parts { count: MAX_PARTS, .. })));
        // The cap is a few thousand parts: the largest spec's record, not AWS's quota.
        assert!((1000..10_000).contains(&MAX_PARTS), "{MAX_PARTS}");
    }

    #[test]
    fn marking_applied_rewrites_the_stamp_and_keeps_the_rest() {
        let c = Content { stamps: Stamps { applied: None, changed: Some(1_700_000_000.5) }, ..content(40) };
        let (head, _) = encode(&c);
        let marked = with_applied(&head, 1_700_000_100.25).unwrap();
        let Ok(Stored::Whole(read)) = read_head(&marked) else { panic!("{marked}") };
        assert_eq!(read.stamps, Stamps { applied: Some(1_700_000_100.25), changed: Some(1_700_000_000.5) });
        assert_eq!(Content { stamps: c.stamps, ..read }, c);
        // A field a later pipectl adds to the head survives.
        let later = head.replacen('{', r#"{"later":1,"#, 1);
        assert!(with_applied(&later, 1.0).unwrap().contains(r#""later":1"#));
        // A record of the plain format is rewritten whole, not stamped.
        assert_eq!(with_applied(&c.to_json(), 1.0), None);
        // Room for both stamps at their widest is kept in an inline head.
        let widest = Stamps { applied: Some(WIDEST), changed: Some(WIDEST) };
        for n in [40, 60, 80, 100] {
            let (head, parts) = encode(&Content { stamps: widest, ..content(n) });
            assert!(parts.is_some() || head.len() <= MAX_STANDARD, "{n}: {}", head.len());
        }
    }
}
