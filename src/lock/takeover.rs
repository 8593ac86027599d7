//! Taking over a stale lock: one compare-and-swap, so of any number of
//! runs that find the same stale holder, exactly one takes its place.
//!
//! SSM has no conditional overwrite, but it creates a parameter without
//! overwrite for exactly one caller. So replacing stale holder `X` starts
//! by creating a marker named after X's unique run id,
//! `<lock>/takeover/<digest of X.run>-<k>`. Its creator alone may then read
//! the lock and, if it still names X, overwrite it with itself, and read
//! it back; everyone else finds the marker and goes back to waiting.
//!
//! Why this holds:
//! - The lock names a run id at most once in its life: run ids are
//!   unique, and once X is replaced nothing writes X again (X itself
//!   stopped renewing half a lease before anyone could find it stale; a
//!   holder proved dead writes nothing). So "the lock still names X" read
//!   after winning the marker can only change by another takeover of X,
//!   which needs the same marker.
//! - A waiter that read X long ago and stalled finds the marker there, or,
//!   once the winner removed it, creates it again and then reads the lock:
//!   it names the winner (or a later run), not X, so the waiter removes
//!   its marker and waits. Markers are removed by whoever made them once
//!   the lock no longer names X, so they do not accumulate, and removing
//!   one is safe because nobody can ever act on X again.
//! - A marker's creator that dies before removing it would block X's
//!   takeover forever. So its creator overwrites the lock only within
//!   [`WITHIN`] of creating it, and a marker older than [`ABANDONED`] (by
//!   the time written in it) is passed over for the next one, `k + 1`,
//!   again created by exactly one run. The creator of `k` can no longer
//!   act by then, so two creators never act at once.

use super::{now_secs, read, Holder};
use crate::aws::{Aws, AwsError, Outcome};
use crate::{gone, send};
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

/// How long after creating its marker a run may still overwrite the lock.
const WITHIN: Duration = Duration::from_secs(10);
/// How old a marker is when its creator is taken to have died (seconds):
/// well past [`WITHIN`], with room for clocks that disagree.
const ABANDONED: u64 = 60;
/// Markers tried in turn before giving up for now.
const MAX_MARKERS: u32 = 8;

/// What a marker holds: who made it, and when.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Marker {
    run: String,
    since: u64,
}

/// The `k`th marker of the takeover of `stale_run` from lock `name`.
pub fn marker(name: &str, stale_run: &str, k: u32) -> String {
    let digest = &crate::names::sha256_hex(stale_run)[..16];
    format!("{name}/takeover/{digest}-{k}")
}

/// Replaces `stale` in lock `name` with `me`; true when `me` holds the
/// lock now, false when another run took it over (or the lock changed).
pub async fn take_over(aws: &Aws, name: &str, stale: &Holder, me: &Holder) -> Result<bool, AwsError> {
    let mut k = 0;
    loop {
        let path = marker(name, &stale.run, k);
        let made = Instant::now();
        let value = serde_json::to_string(&Marker { run: me.run.clone(), since: now_secs() }).expect("serializes");
        let req = aws
            .ssm
            .put_parameter()
            .name(&path)
            .value(value)
            .r#type(aws_sdk_ssm::types::ParameterType::String)
            .description("pipectl: one run takes over a stale lock")
            .overwrite(false);
        if send!("PutParameter", req).created()?.is_none() {
            // Someone's marker (ours, when the answer to our create was lost).
            let out = send!("GetParameter", aws.ssm.get_parameter().name(&path)).found()?;
            let found = out.as_ref().and_then(|o| o.parameter()).and_then(|p| p.value()).map(str::to_string);
            let Some(found) = found else {
                continue; // removed in between: try the same one again
            };
            let m: Marker = serde_json::from_str(&found).unwrap_or(Marker { run: found, since: 0 });
            if m.run != me.run {
                if now_secs().saturating_sub(m.since) > ABANDONED && k + 1 < MAX_MARKERS {
                    k += 1;
                    continue;
                }
                return Ok(false);
            }
        }
        let won = swap(aws, name, stale, me, made).await;
        // The lock no longer names `stale` (ours now, or someone else's):
        // nobody can act on these markers again.
        let names: Vec<String> = (0..=k).map(|i| marker(name, &stale.run, i)).collect();
        let _ = gone!("DeleteParameters", aws.ssm.delete_parameters().set_names(Some(names)));
        return won;
    }
}

/// With the marker held: the lock, if it still names `stale`, becomes
/// `me`'s; read back to be sure.
async fn swap(aws: &Aws, name: &str, stale: &Holder, me: &Holder, made: Instant) -> Result<bool, AwsError> {
    let still_stale = read(aws, name).await?.is_some_and(|h| h.run == stale.run);
    if !still_stale || made.elapsed() >= WITHIN {
        return Ok(false);
    }
    let value = serde_json::to_string(me).expect("holder serializes");
    send!("PutParameter", aws.ssm.put_parameter().name(name).value(value).overwrite(true))?;
    Ok(read(aws, name).await?.is_some_and(|h| h.run == me.run))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_are_named_after_the_stale_run_and_valid_ssm_names() {
        let a = marker("/pipectl-lock/p/e", "host:12:345", 0);
        assert!(a.starts_with("/pipectl-lock/p/e/takeover/") && a.ends_with("-0"), "{a}");
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric() || "/_-.".contains(c)), "{a}");
        assert_eq!(a, marker("/pipectl-lock/p/e", "host:12:345", 0));
        assert_ne!(a, marker("/pipectl-lock/p/e", "host:12:346", 0));
        assert_ne!(a, marker("/pipectl-lock/p/e", "host:12:345", 1));
    }
}
