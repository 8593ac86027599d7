//! The decision, a pure function of what was read: the objects listed under
//! a hop's prefix (with when they were last modified and their bodies) or
//! a log group's events, and the hop's canaries. Unit-tested on answers
//! recorded from the emulator (`tests/fixtures/verify/`).

use super::canary::{Pair, Shape};
use super::content::{self, Needle};
use std::time::{Duration, SystemTime};

/// An object as read: its key, when it was last modified, and its body, or
/// why it was not opened (a compression `verify` does not open).
#[derive(Debug, Clone)]
pub struct Object {
    pub key: String,
    pub modified: SystemTime,
    pub body: Result<Vec<u8>, String>,
    /// What the body holds, searched once for the hop's canaries (kept with
    /// them): an object read again at a later look is not decoded again.
    pub searched: std::sync::OnceLock<(Vec<Needle>, Result<content::Found, String>)>,
}

impl Object {
    pub fn new(key: String, modified: SystemTime, body: Result<Vec<u8>, String>) -> Object {
        Object { key, modified, body, searched: std::sync::OnceLock::new() }
    }
}

/// What one look showed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    /// The keep canary, and no drop canary, in the objects or events read.
    Found(String),
    /// What came out shows the path broken: the drop canary, or an
    /// aggregating function's canary as it was sent, not aggregated.
    Dropped(String),
    /// Not found, and objects arrived after the canary whose content could
    /// not be read (the first such object and why).
    Unread(String),
    /// Not found, nothing unreadable.
    Nothing,
}

/// How much earlier than the canary an object may be stamped and still be
/// searched (clock skew between this host and S3).
pub const SKEW: Duration = Duration::from_secs(60);

/// Whether `firehose` wrote the object at `key`, by the name Firehose gives
/// every object it writes: `<firehose>-<version>-<yyyy>-<MM>-<dd>-<HH>-<mm>-<ss>-<id>`
/// (an extension may follow), under whatever prefix. A Firehose named
/// `a` does not claim `a-b`'s objects: its name must be followed by the
/// version's digits and the year.
pub fn written_by(key: &str, firehose: &str) -> bool {
    let base = key.rsplit('/').next().unwrap_or(key);
    let Some(rest) = base.strip_prefix(firehose).and_then(|r| r.strip_prefix('-')) else { return false };
    let Some((version, rest)) = rest.split_once('-') else { return false };
    let year = rest.get(..5).unwrap_or_default();
    !version.is_empty()
        && version.bytes().all(|b| b.is_ascii_digit())
        && year.len() == 5
        && year[..4].bytes().all(|b| b.is_ascii_digit())
        && year.ends_with('-')
}

/// Whether the objects of `bucket` read show the pair: the keep canary is
/// looked for in every object modified since `sent` (less `SKEW`), and so
/// is the drop canary, which must be in none of them.
pub fn in_objects<O: std::borrow::Borrow<Object>>(
    bucket: &str,
    objects: &[O],
    sent: SystemTime,
    pair: &Pair,
    shape: &Shape,
) -> Seen {
    let since = sent - SKEW;
    let needles: Vec<Needle> = std::iter::once(pair.keep.clone()).chain(pair.drop.clone()).collect();
    let (mut found, mut unread) = (None, None);
    for o in objects.iter().map(std::borrow::Borrow::borrow).filter(|o: &&Object| o.modified >= since) {
        let at = format!("s3://{bucket}/{}", o.key);
        let result = match o.searched.get() {
            Some((n, r)) if *n == needles => r.clone(),
            _ => {
                let r = o.body.as_ref().map_err(Clone::clone).and_then(|b| content::find(b, &needles));
                let _ = o.searched.set((needles.clone(), r.clone()));
                r
            }
        };
        match result {
            Ok(f) if f.found.contains(&1) => {
                return Seen::Dropped(format!(
                    "the filter passed a record it must drop: canary {} is in {at}",
                    needles[1].id
                ))
            }
            Ok(f) if f.found.contains(&0) => match o.body.as_ref().ok().map(|b| aggregated(b, shape, &needles[0].id)) {
                Some(Aggregated::No) => {
                    return Seen::Dropped(format!(
                        "the function passed its canary through instead of aggregating it: canary {} in {at}",
                        needles[0].id
                    ))
                }
                Some(Aggregated::Untold) => {
                    unread.get_or_insert_with(|| {
                        format!(
                            "{at} holds a row keyed by canary {}, but in {} a row the function aggregated is not \
                                 told from the canary passed through",
                            needles[0].id,
                            f.describe()
                        )
                    });
                }
                _ => {
                    found.get_or_insert_with(|| format!("canary {} in {at} ({})", needles[0].id, f.describe()));
                }
            },
            Ok(_) => {}
            Err(why) => {
                unread.get_or_insert_with(|| format!("{at} arrived, content not read ({why})"));
            }
        }
    }
    match (found, unread) {
        (Some(f), _) => Seen::Found(f),
        (None, Some(u)) => Seen::Unread(u),
        (None, None) => Seen::Nothing,
    }
}

/// Whether what came out for an aggregating function is its aggregate.
enum Aggregated {
    /// Not an aggregating function, or its row is there.
    Yes,
    /// Only the canary as it was sent (`sensor_id` and all) came out.
    No,
    /// Columnar content: a row keyed by the id, which the canary passed
    /// through would also give once converted.
    Untold,
}

/// For an aggregating function: a row of `window_aggregate` is keyed by the
/// canary's id, has the `avg_<field>` of its values and none of the
/// canary's own fields; the canary passed through as it was sent is not
/// one. Judged in text; in Parquet the two are not told apart.
fn aggregated(body: &[u8], shape: &Shape, id: &str) -> Aggregated {
    let Shape::Aggregate { key, values } = shape else { return Aggregated::Yes };
    let row = |m: &serde_json::Map<String, serde_json::Value>| {
        m.get(key).and_then(|v| v.as_str()) == Some(id)
            && !m.contains_key("pipectl_canary")
            && values.iter().any(|v| m.contains_key(&format!("avg_{v}")))
    };
    match content::any_json_record(body, &row) {
        Ok(Some(true)) => Aggregated::Yes,
        Ok(Some(false)) => Aggregated::No,
        _ => Aggregated::Untold,
    }
}

/// Whether a log group's events (their messages, with the stream they are
/// in) hold the keep canary.
pub fn in_events(events: &[(String, String)], pair: &Pair) -> Seen {
    let id = pair.keep.id.as_bytes();
    match events.iter().find(|(_, message)| content::contains(message.as_bytes(), id)) {
        Some((stream, _)) => Seen::Found(format!("canary {} logged in {stream}", pair.keep.id)),
        None => Seen::Nothing,
    }
}

#[cfg(test)]
mod tests;
