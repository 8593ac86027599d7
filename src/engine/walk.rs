//! The executor: a bounded-parallel walk over a dependency graph.
//!
//! A node starts as soon as everything it depends on has finished, or has
//! released what waits on it (a delete AWS accepted, still running until
//! the resource is gone; nodes for which `needs_done` holds wait for the
//! finish all the same). After the
//! first failure, or once a stop is asked for (`cancel`), no new node starts; nodes already running finish; nodes
//! downstream of a failure are reported as skipped, others as not started.
//! (cargo's job queue and Terraform's walker work the same way.)

use crate::plan::Address;
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::time::{Duration, Instant};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};
use tokio::task::JoinSet;

/// A running node saying what waits on it may start: all of it, or only
/// the nodes of some kinds (a host shutting down lets its instance
/// profile go, not the security group AWS keeps until it is gone).
#[derive(Debug, Clone, PartialEq)]
pub struct Release {
    pub from: Address,
    pub only: Option<&'static [crate::plan::Kind]>,
}

impl Release {
    fn lets_go(&self, d: &Address) -> bool {
        self.only.is_none_or(|kinds| kinds.contains(&d.kind))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Started { address: Address },
    Note { address: Address, note: String },
    Finished { address: Address, elapsed: Duration, note: Option<String> },
    Failed { address: Address, elapsed: Duration, error: String },
    Skipped { address: Address, reason: String },
}

#[derive(Debug, Default)]
pub struct Summary {
    pub done: Vec<Address>,
    /// Each failure with its cause chain.
    pub failed: Vec<(Address, anyhow::Error)>,
    /// Downstream of a failure.
    pub skipped: Vec<Address>,
    /// Ready or waiting when the walk stopped, not downstream of a failure.
    pub not_started: Vec<Address>,
}

impl Summary {
    pub fn ok(&self) -> bool {
        self.failed.is_empty() && self.skipped.is_empty() && self.not_started.is_empty()
    }
}

/// How many known nodes each node waits for, and which nodes wait for each.
#[allow(clippy::type_complexity)]
fn links(
    deps: &BTreeMap<Address, BTreeSet<Address>>,
) -> (BTreeMap<&Address, usize>, BTreeMap<&Address, Vec<&Address>>) {
    let waiting = deps.iter().map(|(a, d)| (a, d.iter().filter(|x| deps.contains_key(*x)).count())).collect();
    let mut dependents: BTreeMap<&Address, Vec<&Address>> = BTreeMap::new();
    for (a, d) in deps {
        for x in d.iter().filter(|x| deps.contains_key(*x)) {
            dependents.entry(deps.get_key_value(x).expect("known").0).or_default().push(a);
        }
    }
    (waiting, dependents)
}

/// The length of the longest path from each node to the end of the walk,
/// the node's own `weight` included: what [`walk`] starts first.
pub fn critical(
    deps: &BTreeMap<Address, BTreeSet<Address>>,
    weight: impl Fn(&Address) -> u64,
) -> BTreeMap<Address, u64> {
    let (mut waiting, dependents) = links(deps);
    // Nodes in an order where each comes after everything it waits for;
    // the lengths are summed from the end.
    let mut queue: Vec<&Address> = waiting.iter().filter(|(_, n)| **n == 0).map(|(a, _)| *a).collect();
    let mut order = Vec::new();
    while let Some(a) = queue.pop() {
        order.push(a);
        for d in dependents.get(a).into_iter().flatten() {
            let n = waiting.get_mut(d).expect("known node");
            *n -= 1;
            if *n == 0 {
                queue.push(d);
            }
        }
    }
    let mut rank: BTreeMap<Address, u64> = BTreeMap::new();
    for a in order.into_iter().rev() {
        let after = dependents.get(a).into_iter().flatten().map(|d| rank.get(*d).copied().unwrap_or(0)).max();
        rank.insert(a.clone(), weight(a) + after.unwrap_or(0));
    }
    rank
}

/// Walks `deps` (node -> the nodes it waits for; unknown deps count as
/// done) running `job` for each node, at most `parallelism` at once.
/// A job returns an optional note for the report, or an error with its
/// causes (the event carries them as one line, `a: b: c`).
///
/// The ready node of the highest `rank` starts first (the longest path
/// still ahead of it, [`critical`]; then by address), and each job runs
/// at its rank, so its calls are paced before those of lower ranks
/// (`aws::rate`).
pub async fn walk<F, Fut>(
    deps: &BTreeMap<Address, BTreeSet<Address>>,
    rank: &BTreeMap<Address, u64>,
    parallelism: usize,
    events: &UnboundedSender<Event>,
    mut releases: Option<UnboundedReceiver<Release>>,
    needs_done: impl Fn(&Address) -> bool,
    job: F,
) -> Summary
where
    F: Fn(Address) -> Fut,
    Fut: Future<Output = anyhow::Result<Option<String>>> + Send + 'static,
{
    let rank_of = |a: &Address| std::cmp::Reverse(rank.get(a).copied().unwrap_or(0));
    let (mut waiting, dependents) = links(deps);
    let mut ready: BTreeSet<(std::cmp::Reverse<u64>, &Address)> =
        waiting.iter().filter(|(_, n)| **n == 0).map(|(a, _)| (rank_of(a), *a)).collect();
    let mut running = JoinSet::new();
    let mut summary = Summary::default();
    let mut stopped = false;
    let mut finished: BTreeSet<Address> = BTreeSet::new();
    // (node, dependent): the dependent no longer waits for the node.
    let mut released: BTreeSet<(Address, &Address)> = BTreeSet::new();
    let mut interrupted: BTreeSet<Address> = BTreeSet::new();
    loop {
        // A stop asked for (Ctrl-C, SIGTERM) starts nothing new either.
        while !stopped && !crate::cancel::requested() && running.len() < parallelism.max(1) {
            let Some((priority, a)) = ready.pop_first() else { break };
            let _ = events.send(Event::Started { address: a.clone() });
            let fut = crate::aws::rate::with_priority(priority.0, job(a.clone()));
            let address = a.clone();
            running.spawn(async move {
                let start = Instant::now();
                let result = fut.await;
                (address, start.elapsed(), result)
            });
        }
        let next = async {
            match releases.as_mut() {
                Some(rx) => rx.recv().await,
                None => std::future::pending().await,
            }
        };
        let joined = tokio::select! {
            joined = running.join_next() => joined,
            Some(r) = next => {
                // Once, and only while it runs: what waits on it may start.
                if !finished.contains(&r.from) {
                    for d in dependents.get(&r.from).into_iter().flatten().filter(|d| !needs_done(d) && r.lets_go(d)) {
                        if released.insert((r.from.clone(), *d)) {
                            let n = waiting.get_mut(d).expect("known node");
                            *n -= 1;
                            if *n == 0 {
                                ready.insert((rank_of(d), d));
                            }
                        }
                    }
                }
                continue;
            }
        };
        let Some(joined) = joined else {
            break;
        };
        let (address, elapsed, result) = match joined {
            Ok(v) => v,
            Err(e) => {
                // A panicking job: nothing to attribute it to but the walk.
                stopped = true;
                summary
                    .failed
                    .push((Address::new(crate::plan::Kind::Record, "?"), anyhow::anyhow!("a task panicked: {e}")));
                continue;
            }
        };
        match result {
            Ok(note) => {
                let _ = events.send(Event::Finished { address: address.clone(), elapsed, note });
                summary.done.push(address.clone());
                if let Some(ds) = dependents.get(&address) {
                    for d in ds.iter().filter(|d| !released.contains(&(address.clone(), **d))) {
                        let n = waiting.get_mut(d).expect("known node");
                        *n -= 1;
                        if *n == 0 {
                            ready.insert((rank_of(d), d));
                        }
                    }
                }
            }
            Err(error) => {
                let _ = events.send(Event::Failed { address: address.clone(), elapsed, error: format!("{error:#}") });
                // A wait a stop ended is not why what follows it did not run.
                if crate::cancel::requested() {
                    interrupted.insert(address.clone());
                }
                summary.failed.push((address.clone(), error));
                stopped = true;
            }
        }
        finished.insert(address);
    }
    // What never ran: downstream of a failure, or simply not reached.
    let failed: BTreeSet<&Address> =
        summary.failed.iter().map(|(a, _)| a).filter(|a| !interrupted.contains(*a)).collect();
    let mut downstream: BTreeSet<&Address> = BTreeSet::new();
    let mut queue: Vec<&Address> = failed.iter().copied().collect();
    while let Some(a) = queue.pop() {
        for d in dependents.get(a).into_iter().flatten() {
            if downstream.insert(d) {
                queue.push(d);
            }
        }
    }
    for a in deps.keys() {
        if finished.contains(a) {
            continue;
        }
        if downstream.contains(a) {
            let _ = events.send(Event::Skipped { address: a.clone(), reason: "upstream failed".into() });
            summary.skipped.push(a.clone());
        } else {
            let reason = if crate::cancel::requested() {
                "not started: the run was interrupted"
            } else {
                "not started: the run stopped after a failure"
            };
            let _ = events.send(Event::Skipped { address: a.clone(), reason: reason.into() });
            summary.not_started.push(a.clone());
        }
    }
    summary
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Kind;
    use std::sync::{Arc, Mutex};

    fn a(k: &str) -> Address {
        Address::new(Kind::Stream, k)
    }

    fn graph(edges: &[(&str, &[&str])]) -> BTreeMap<Address, BTreeSet<Address>> {
        edges.iter().map(|(n, d)| (a(n), d.iter().map(|x| a(x)).collect())).collect()
    }

    #[test]
    fn the_critical_length_of_a_node_is_its_weight_and_the_longest_path_after_it() {
        // a -> b -> d, a -> c -> d; c is slow.
        let g = graph(&[("a", &[]), ("b", &["a"]), ("c", &["a"]), ("d", &["b", "c"]), ("e", &[])]);
        let weight = |x: &Address| match x.key.as_str() {
            "c" => 50,
            _ => 10,
        };
        let rank = critical(&g, weight);
        assert_eq!(rank[&a("d")], 10);
        assert_eq!(rank[&a("c")], 60);
        assert_eq!(rank[&a("b")], 20);
        assert_eq!(rank[&a("a")], 70);
        assert_eq!(rank[&a("e")], 10);
    }

    #[tokio::test]
    async fn ready_work_starts_critical_path_first_not_in_address_order() {
        // "a" sorts first, but "z" heads the longer path.
        let g = graph(&[("a", &[]), ("m", &[]), ("z", &[]), ("z2", &["z"])]);
        let rank = critical(&g, |x| if x.key == "a" { 1 } else { 10 });
        let order = Arc::new(Mutex::new(Vec::new()));
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        let o = order.clone();
        let s = walk(
            &g,
            &rank,
            1,
            &tx,
            None,
            |_| false,
            move |x| {
                let o = o.clone();
                async move {
                    // The job runs at its rank: its calls are paced by it.
                    let p = crate::aws::rate::current_priority();
                    o.lock().unwrap().push((x.key.clone(), p));
                    Ok(None)
                }
            },
        )
        .await;
        assert!(s.ok());
        let order = order.lock().unwrap();
        let keys: Vec<&str> = order.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["z", "m", "z2", "a"]);
        assert_eq!(order[0].1, 20);
        assert_eq!(order[3].1, 1);
    }

    #[tokio::test]
    async fn runs_in_dependency_order() {
        let g = graph(&[("a", &[]), ("b", &["a"]), ("c", &["a"]), ("d", &["b", "c"])]);
        let order = Arc::new(Mutex::new(Vec::new()));
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        let o = order.clone();
        let s = walk(
            &g,
            &BTreeMap::new(),
            1,
            &tx,
            None,
            |_| false,
            move |x| {
                let o = o.clone();
                async move {
                    o.lock().unwrap().push(x.key.clone());
                    Ok(None)
                }
            },
        )
        .await;
        assert!(s.ok());
        assert_eq!(*order.lock().unwrap(), ["a", "b", "c", "d"]);
    }

    #[tokio::test]
    async fn runs_independent_nodes_in_parallel() {
        let g = graph(&[("a", &[]), ("b", &[]), ("c", &[]), ("d", &[])]);
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        let start = Instant::now();
        let s = walk(
            &g,
            &BTreeMap::new(),
            4,
            &tx,
            None,
            |_| false,
            |_| async {
                tokio::time::sleep(Duration::from_millis(200)).await;
                Ok(None)
            },
        )
        .await;
        assert!(s.ok());
        assert!(start.elapsed() < Duration::from_millis(700), "{:?}", start.elapsed());
    }

    #[tokio::test]
    async fn failure_skips_dependents_and_lets_running_work_finish() {
        // a fails fast; slow runs alongside and finishes; b (after a) is
        // skipped; c (after slow) is not started.
        let g = graph(&[("a", &[]), ("slow", &[]), ("b", &["a"]), ("c", &["slow"])]);
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let s = walk(
            &g,
            &BTreeMap::new(),
            2,
            &tx,
            None,
            |_| false,
            |x| async move {
                match x.key.as_str() {
                    "a" => Err(anyhow::anyhow!("boom")),
                    "slow" => {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        Ok(Some("done late".into()))
                    }
                    _ => Ok(None),
                }
            },
        )
        .await;
        assert_eq!(s.done, vec![a("slow")]);
        let failed: Vec<(Address, String)> = s.failed.iter().map(|(x, e)| (x.clone(), e.to_string())).collect();
        assert_eq!(failed, vec![(a("a"), "boom".to_string())]);
        assert_eq!(s.skipped, vec![a("b")]);
        assert_eq!(s.not_started, vec![a("c")]);
        drop(tx);
        let mut kinds = Vec::new();
        while let Some(e) = rx.recv().await {
            kinds.push(match e {
                Event::Started { .. } => "start",
                Event::Finished { .. } => "done",
                Event::Failed { .. } => "fail",
                Event::Skipped { .. } => "skip",
                Event::Note { .. } => "note",
            });
        }
        assert_eq!(kinds, ["start", "start", "fail", "done", "skip", "skip"]);
    }

    /// Walks `g` where node `a` sends the releases `of` makes from its
    /// address, then runs on for 150 ms: the starts and finishes in order.
    async fn walk_releasing(
        g: &BTreeMap<Address, BTreeSet<Address>>,
        needs_done: impl Fn(&Address) -> bool,
        of: fn(Address) -> Vec<Release>,
    ) -> Vec<String> {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let (release, released) = tokio::sync::mpsc::unbounded_channel();
        let s = walk(g, &BTreeMap::new(), 4, &tx, Some(released), needs_done, move |x| {
            let release = release.clone();
            async move {
                if x.key == "a" {
                    for r in of(x) {
                        release.send(r).unwrap();
                    }
                    tokio::time::sleep(Duration::from_millis(150)).await;
                }
                Ok(None)
            }
        })
        .await;
        assert!(s.ok(), "{s:?}");
        drop(tx);
        let mut seen = Vec::new();
        while let Some(e) = rx.recv().await {
            match e {
                Event::Started { address } => seen.push(format!("start {}", address.key)),
                Event::Finished { address, .. } => seen.push(format!("done {}", address.key)),
                _ => {}
            }
        }
        seen
    }

    #[tokio::test]
    async fn a_released_node_lets_dependents_start_but_not_those_needing_it_done() {
        // b waits on a; the record waits on both. a releases (twice: counted
        // once), then runs on.
        let g = graph(&[("a", &[]), ("b", &["a"]), ("record", &["a", "b"])]);
        let seen = walk_releasing(
            &g,
            |x| x.key == "record",
            |x| vec![Release { from: x.clone(), only: None }, Release { from: x, only: None }],
        )
        .await;
        let at = |e: &str| seen.iter().position(|x| x == e).unwrap();
        assert!(at("done b") < at("done a"), "b ran while a was still running: {seen:?}");
        assert!(at("done a") < at("start record"), "the record waited for a to finish: {seen:?}");
    }

    #[tokio::test]
    async fn a_release_of_some_kinds_lets_only_those_start() {
        // b (a stream) and p (an instance profile) wait on a, which lets
        // only instance profiles go; b starts once a is done.
        let mut g = graph(&[("a", &[]), ("b", &["a"])]);
        g.insert(Address::new(Kind::InstanceProfile, "p"), [a("a")].into());
        let seen =
            walk_releasing(&g, |_| false, |x| vec![Release { from: x, only: Some(&[Kind::InstanceProfile]) }]).await;
        let at = |e: &str| seen.iter().position(|x| x == e).unwrap();
        assert!(at("done p") < at("done a"), "the profile went while a was still running: {seen:?}");
        assert!(at("done a") < at("start b"), "the stream waited for a to finish: {seen:?}");
    }

    #[tokio::test]
    async fn parallelism_is_bounded() {
        let g = graph(&[("a", &[]), ("b", &[]), ("c", &[]), ("d", &[]), ("e", &[])]);
        let live = Arc::new(Mutex::new((0usize, 0usize)));
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        let l = live.clone();
        walk(
            &g,
            &BTreeMap::new(),
            2,
            &tx,
            None,
            |_| false,
            move |_| {
                let l = l.clone();
                async move {
                    {
                        let mut g = l.lock().unwrap();
                        g.0 += 1;
                        g.1 = g.1.max(g.0);
                    }
                    tokio::time::sleep(Duration::from_millis(30)).await;
                    l.lock().unwrap().0 -= 1;
                    Ok(None)
                }
            },
        )
        .await;
        assert_eq!(live.lock().unwrap().1, 2);
    }
}
