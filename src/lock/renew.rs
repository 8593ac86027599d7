//! Keeping the lock while the run lasts, or knowing it was lost.
//!
//! Every quarter of the lease the renewer reads the lock and, while it
//! names this run, writes it back with a new `renewed` time. A failed read
//! or write (throttling, a 5xx, no answer) is tried again within seconds,
//! for as long as the last confirmed renewal is younger than half the
//! lease. Past that, or when the lock names another run, or is gone, the
//! run has *lost* it: the renewer stops for good (a late write of its own
//! could clobber a takeover) and asks the run to stop (`cancel::lose`).
//! Others take a lock over only once it has not been renewed for the whole
//! lease, so a run always knows it lost its lock half a lease before
//! anyone may take it; each renewal call is bounded by what is left of
//! that half, so none can land late on someone else's lock.

use super::{Holder, Shared};
use crate::aws::{Aws, AwsError, Outcome};
use crate::send;
use std::time::{Duration, Instant};

/// What one renewal found.
enum Renewal {
    Renewed,
    /// The lock names another run, or none.
    Taken(Option<Holder>),
}

/// Renews `me`'s lock `name` until it is lost or the task is aborted.
pub(super) async fn renew(aws: Aws, name: String, me: Holder, shared: Shared) {
    let lease = me.lease();
    let every = lease / 4;
    let give_up = lease / 2;
    let again = (every / 10).clamp(Duration::from_millis(100), Duration::from_secs(3));
    let mut confirmed = shared.seen();
    let mut pause = every;
    loop {
        // Shielded: a stop does not end renewal, the run still holds the
        // lock while its running changes finish.
        let _ = crate::cancel::sleep(pause).await;
        let left = give_up.saturating_sub(confirmed.elapsed());
        if left.is_zero() {
            let why = format!("it could not be renewed for {} s (half its lease)", confirmed.elapsed().as_secs());
            return shared.lose(why);
        }
        let looked = Instant::now();
        match tokio::time::timeout(left, renew_once(&aws, &name, &me)).await {
            Ok(Ok(Renewal::Renewed)) => {
                confirmed = looked;
                shared.saw(looked);
                pause = every;
            }
            Ok(Ok(Renewal::Taken(Some(other)))) => {
                return shared.lose(format!("it is held by {} now", other.describe()));
            }
            Ok(Ok(Renewal::Taken(None))) => {
                return shared.lose("it was deleted (`pipectl unlock`?)".into());
            }
            Ok(Err(e)) => {
                eprintln!("note: renewing the lock failed ({e}); trying again");
                // Jittered, so a retry does not fall into the same beat of
                // whatever is throttling it.
                pause = again.mul_f64(0.5 + fastrand::f64());
            }
            Err(_) => pause = Duration::ZERO,
        }
    }
}

/// Reads the lock and, while it is `me`'s, writes it back renewed. Each
/// call is one attempt: the renewer tries again at its own pace, within
/// its margin, instead of sleeping through the SDK's backoff.
async fn renew_once(aws: &Aws, name: &str, me: &Holder) -> Result<Renewal, AwsError> {
    let once = || aws_sdk_ssm::config::Builder::default().retry_config(aws_config::retry::RetryConfig::disabled());
    let out = send!("GetParameter", aws.ssm.get_parameter().name(name).customize().config_override(once())).found()?;
    let value = out.as_ref().and_then(|o| o.parameter()).and_then(|p| p.value());
    match value.map(super::holder_of) {
        Some(h) if h.run == me.run => {}
        other => return Ok(Renewal::Taken(other)),
    }
    let value = serde_json::to_string(&Holder { renewed: super::now_secs(), ..me.clone() }).expect("holder serializes");
    let req = aws.ssm.put_parameter().name(name).value(value).overwrite(true);
    send!("PutParameter", req.customize().config_override(once()))?;
    Ok(Renewal::Renewed)
}
