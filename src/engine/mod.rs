//! Talking to AWS for a plan: reading every resource for the planner, and
//! executing a plan (apply or destroy) by walking its order. Knows
//! resources only through the `Resource` trait and names no kind.

pub mod walk;

use crate::aws::{Aws, AwsError, Class};
use crate::plan::{Action, Address, Observed, Planned};
use crate::resources::{self, Deleted, Progress, Res};
use anyhow::Context as _;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use tokio::sync::mpsc::UnboundedSender;
pub use walk::Release;
use walk::{Event, Summary};

/// What executing one change needs: the resource, the same resource under
/// its previous name (a rename), and what was read of it.
#[derive(Clone)]
pub struct Work {
    pub res: Res,
    pub previous: Option<Res>,
    pub observed: Option<Observed>,
}

/// How much a read asks AWS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Depth {
    /// Everything a plan to apply compares, and what a create or update
    /// will need ([`crate::resources::Resource::prepare`]: secrets).
    Full,
    /// Whether each resource exists and whose it is
    /// ([`crate::resources::Resource::read_owner`]): a destroy, `outputs`.
    Owner,
}

/// Reads in flight at once across services: the sum of the per-service
/// caps, which no one service reaches alone.
pub const MAX_READS: usize = 64;

/// Reads every resource: at most `parallelism` at once in all, and per
/// AWS service at most its [`crate::aws::Service::read_concurrency`], so
/// a big pipeline reads every service side by side without bursting any
/// one past its documented rate. Reads are safe to repeat: transient
/// failures beyond the SDK's own attempts are retried for up to a minute.
/// Every read that fails is reported, not just the first.
pub async fn read_all<K>(
    aws: &Aws,
    resources: Vec<(K, Res)>,
    parallelism: usize,
    depth: Depth,
) -> anyhow::Result<Vec<(K, Option<Observed>)>>
where
    K: Send + 'static,
{
    use tokio::sync::Semaphore;
    // The listings run beside the reads; only the reads that may take an
    // answer from them wait for them to end.
    let listed: Vec<Res> = resources.iter().map(|(_, r)| r.clone()).collect();
    aws.known.begin();
    let prefetch = {
        let aws = aws.clone();
        tokio::spawn(async move {
            // However the listings end (a panic included), no read waits on.
            struct Ended(Aws);
            impl Drop for Ended {
                fn drop(&mut self) {
                    self.0.known.end();
                }
            }
            let ended = Ended(aws);
            resources::prefetch(&ended.0, &listed).await;
        })
    };
    let all = Arc::new(Semaphore::new(parallelism.max(1)));
    let mut per_service: BTreeMap<crate::aws::Service, Arc<Semaphore>> = BTreeMap::new();
    let mut reads = tokio::task::JoinSet::new();
    for (key, r) in resources {
        let service = resources::service(r.address().kind);
        let mine = per_service.entry(service).or_insert_with(|| Arc::new(Semaphore::new(service.read_concurrency())));
        let (aws, all, mine) = (aws.clone(), all.clone(), mine.clone());
        reads.spawn(async move {
            resources::settled_for(&aws, r.address().kind).await;
            let _service = mine.acquire_owned().await.expect("semaphore open");
            let _permit = all.acquire_owned().await.expect("semaphore open");
            let read = async {
                let patience = std::time::Duration::from_secs(60);
                match depth {
                    Depth::Full => {
                        crate::aws::retry(patience, |_| false, || r.prepare(&aws)).await?;
                        crate::aws::retry(patience, |_| false, || r.read(&aws)).await
                    }
                    Depth::Owner => crate::aws::retry(patience, |_| false, || r.read_owner(&aws)).await,
                }
            }
            .await;
            (key, r, read)
        });
    }
    let mut out = Vec::new();
    let mut errors = Vec::new();
    let joined_all = async {
        let mut all = Vec::new();
        while let Some(joined) = reads.join_next().await {
            all.push(joined);
        }
        all
    }
    .await;
    let _ = prefetch.await;
    aws.known.clear();
    for joined in joined_all {
        let (key, r, read) = joined.context("a read task failed")?;
        match read {
            Ok(o) => out.push((key, o)),
            Err(e) => errors.push(format!("reading `{}` ({}): {e}", r.address(), r.name())),
        }
    }
    if !errors.is_empty() {
        errors.sort();
        anyhow::bail!("could not read the live state:\n  {}", errors.join("\n  "));
    }
    Ok(out)
}

fn notes_channel(events: &UnboundedSender<Event>) -> UnboundedSender<(Address, String)> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(Address, String)>();
    let events = events.clone();
    tokio::spawn(async move {
        while let Some((address, note)) = rx.recv().await {
            let _ = events.send(Event::Note { address, note });
        }
    });
    tx
}

/// When a delete is done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// When the resource is gone.
    Gone,
    /// When AWS has accepted the delete and reads the resource as being
    /// deleted (a stream or Firehose DELETING, a trigger Deleting): AWS
    /// finishes it on its own. What must be gone before something else
    /// can go (an instance before its security group) is still waited for.
    Accepted,
}

/// Executes the changes of a plan that touch AWS, each after what it
/// depends on. The same executor runs apply and destroy plans.
pub async fn execute(
    aws: &Aws,
    planned: &Planned,
    work: &BTreeMap<Address, Work>,
    parallelism: usize,
    wait: Wait,
    events: &UnboundedSender<Event>,
) -> Summary {
    let actions = planned.mutations();
    // The fields each update changes, looked up once.
    let fields: BTreeMap<&str, Vec<String>> = planned
        .plan
        .changes
        .iter()
        .map(|c| (c.address.as_str(), c.changes.iter().map(|f| f.field.clone()).collect()))
        .collect();
    let todo: BTreeSet<&Address> = actions.keys().collect();
    let deps: BTreeMap<Address, BTreeSet<Address>> = planned
        .deps
        .iter()
        .filter(|(a, _)| todo.contains(a))
        .map(|(a, d)| (a.clone(), d.iter().filter(|x| todo.contains(x)).cloned().collect()))
        .collect();
    let notes = notes_channel(events);
    let (release, released) = tokio::sync::mpsc::unbounded_channel::<Release>();
    // The record lists what may exist: it waits for every change to finish.
    let needs_done = |a: &Address| a.kind == crate::plan::Kind::Record;
    // The longest path first: what AWS takes for each change on it.
    let rank = walk::critical(&deps, |a| match actions[a] {
        Action::Delete => resources::usual::weight_ms(a.kind, true),
        Action::Replace => resources::usual::weight_ms(a.kind, true) + resources::usual::weight_ms(a.kind, false),
        _ => resources::usual::weight_ms(a.kind, false),
    });
    walk::walk(&deps, &rank, parallelism, events, Some(released), needs_done, |a| {
        let action = actions[&a];
        let w = work[&a].clone();
        let changed = fields.get(a.to_string().as_str()).cloned().unwrap_or_default();
        let aws = aws.clone();
        let p = Progress::new(a.clone(), Some(notes.clone()))
            .with_observed(w.observed.clone())
            .releasing(release.clone())
            .leaving_to_aws(wait == Wait::Accepted);
        async move {
            resuming(&aws, action, &w, &changed, &p)
                .await
                .with_context(|| format!("{} `{}`", action.verb(), w.res.name()))
        }
    })
    .await
}

/// How often a change is resumed after AWS left it without an answer.
const RESUMES: u32 = 4;

/// Whether a failure left the outcome unknown: no usable answer (a dropped
/// connection, a timeout, a 5xx) or throttling, even after the SDK's own
/// attempts. The change may have happened, partly or fully.
fn unanswered(e: &anyhow::Error) -> bool {
    aws_error(e).is_some_and(|a| a.class == Class::Transient)
}

fn aws_error(e: &anyhow::Error) -> Option<&AwsError> {
    e.chain().find_map(|c| c.downcast_ref::<AwsError>())
}

/// Runs one change; when AWS leaves it without an answer, reads what
/// exists and continues from there. Every create, update and delete is
/// written to converge from any partial state (see `resources`), so a
/// resumed create finds what the lost attempt made, a resumed update
/// changes only what still differs, and a resumed delete takes "already
/// gone" as done.
async fn resuming(
    aws: &Aws,
    action: Action,
    w: &Work,
    changed: &[String],
    p: &Progress,
) -> anyhow::Result<Option<String>> {
    let mut attempt = 0;
    let mut delay = std::time::Duration::from_secs(1);
    let start = std::time::Instant::now();
    loop {
        let result = if attempt > 0 && action == Action::Update {
            resources::converge(w.res.as_ref(), aws, p).await.map(|()| None).map_err(anyhow::Error::from)
        } else {
            run(aws, action, w, changed, p).await
        };
        match result {
            Err(e)
                if attempt < RESUMES
                    && unanswered(&e)
                    && !crate::cancel::requested()
                    && start.elapsed() < w.res.timeout() =>
            {
                // Throttling did nothing: it does not count as an attempt.
                if aws_error(&e).is_some_and(AwsError::throttled) {
                    p.say("throttled by AWS; trying again");
                } else {
                    attempt += 1;
                    p.say(format!("no answer from AWS ({e:#}); reading what exists and resuming"));
                }
                if crate::aws::jittered(delay).await.is_err() {
                    return Err(e);
                }
                delay = (delay * 2).min(std::time::Duration::from_secs(10));
            }
            other => return other,
        }
    }
}

/// One change: what it means for AWS.
async fn run(aws: &Aws, action: Action, w: &Work, changed: &[String], p: &Progress) -> anyhow::Result<Option<String>> {
    let r = &w.res;
    match action {
        Action::Create => r.create(aws, &p.holding()).await?,
        Action::Update => {
            let before = w.observed.as_ref().context("an update of something never read")?;
            resources::update(r.as_ref(), aws, before, changed, &p.holding()).await?
        }
        Action::Replace => {
            let old = w.previous.as_ref().unwrap_or(r);
            p.say(format!("deleting `{}`", old.name()));
            match old.delete(aws, &p.holding()).await? {
                Deleted::Gone => {}
                Deleted::Retained(why) => anyhow::bail!("cannot replace: {why}"),
                Deleted::Finishing(state) => anyhow::bail!("cannot replace: the old one is still {state}"),
            }
            p.say(format!("creating `{}`", r.name()));
            r.create(aws, p).await?
        }
        Action::Delete => {
            return Ok(match r.delete(aws, p).await? {
                Deleted::Gone => None,
                Deleted::Retained(why) => Some(why),
                Deleted::Finishing(state) => Some(format!("{state}: AWS finishes the delete; `--wait` waits for it")),
            })
        }
        Action::NoOp | Action::Conflict => {}
    }
    Ok(None)
}
