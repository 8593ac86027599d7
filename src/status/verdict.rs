//! A hop's verdict and its reason, from its metrics over the window: pure.
//!
//! Worst first: failing (errors or failed records in the window, above
//! the spec's alarm threshold where it has one), stalled (records in, none
//! out for longer than the hop may hold them; or a consumer that took
//! nothing its stream got), lagging (an age over its limit now, or calls
//! throttled or retried lately), unknown (the window cannot tell), idle
//! (nothing lately) and flowing.

use super::figures::{amount, clock, count, duration, rate};
use super::hops::Planned;
use super::model::{HopKind, Series, Verdict};
use super::read::Window;
use crate::metrics::Role;

/// How late CloudWatch may receive a metric after the fact (most come a
/// minute or two after): no hop is called stalled sooner after records
/// came in than what it may hold them for and this.
pub const LATE: i64 = 180;

/// What "lately" is: the last 10 minutes, or two points when they are
/// wider. A hop with nothing in or out lately is idle; throttles and
/// retried calls count only lately.
pub fn lately(w: Window) -> i64 {
    (2 * w.period as i64).max(600)
}

/// A hop's verdict and why. `offered`: what the stream a consumer reads
/// took in (its `IncomingRecords`), which the consumer should take on.
pub fn judge(h: &Planned, series: &[Series], offered: Option<&Series>, w: Window, now: i64) -> (Verdict, String) {
    let of = |role: Role| -> Vec<&Series> { series.iter().filter(|s| s.role == role).collect() };
    let recent_from = now - lately(w);
    let mut failing = Vec::new();
    for s in of(Role::Failed) {
        let limit = h.fail_limits.iter().find(|(m, _)| *m == s.metric).map_or(0.0, |(_, l)| *l);
        let over: Vec<usize> = points(s).filter(|(_, v)| *v > limit).map(|(i, _)| i).collect();
        if let Some(&last) = over.last() {
            let n: f64 = over.iter().filter_map(|&i| s.values[i]).fold(0.0, |a, b| a + b);
            let above = if limit > 0.0 { format!(" (above {} a point)", count(limit)) } else { String::new() };
            failing.push(format!("{} {}{above}, the last at {}", count(n), s.metric, clock(w.at(last))));
        }
    }
    for s in of(Role::SuccessRatio) {
        if let Some((i, worst)) = points(s).min_by(|a, b| a.1.total_cmp(&b.1)).filter(|(_, v)| *v < 1.0) {
            failing.push(format!("{} down to {:.0}% at {} (some failed)", s.metric, worst * 100.0, clock(w.at(i))));
        }
    }
    if !failing.is_empty() {
        return (Verdict::Failing, failing.join(", "));
    }
    let ins = of(Role::RecordsIn);
    let outs = of(Role::RecordsOut);
    let total = |of: &[&Series]| of.iter().filter_map(|s| s.total).fold(0.0, |a, b| a + b);
    let (total_in, total_out) = (total(&ins), total(&outs));
    let what_in = h.counts_in;
    if !ins.is_empty() && !outs.is_empty() {
        if let Some(s) = stall(&ins, &outs, h.holds_seconds, w, now) {
            let out_names: Vec<&str> = outs.iter().map(|s| s.metric).collect();
            return (
                Verdict::Stalled,
                format!(
                    "{} {what_in} in {}, none out ({}) for over {} (it may hold them {})",
                    count(s.records),
                    s.from(w),
                    out_names.join(", "),
                    duration(s.waited),
                    duration(h.holds_seconds as i64)
                ),
            );
        }
    }
    if let (Some(offered), Some((stream, within))) = (offered, &h.consumes) {
        if let Some(s) = stall(&[offered], &ins, *within, w, now) {
            let took = ins.iter().map(|s| s.metric).collect::<Vec<_>>().join(", ");
            let stream = stream.split_once('.').map_or(stream.as_str(), |(_, k)| k);
            return (
                Verdict::Stalled,
                format!(
                    "stream {stream} took {} records {}, none reached it ({took}) for over {} (it may take {})",
                    count(s.records),
                    s.from(w),
                    duration(s.waited),
                    duration(*within as i64)
                ),
            );
        }
    }
    let mut lagging = Vec::new();
    for s in of(Role::Lag) {
        let limit = h.lag_limits.iter().find(|(m, _)| *m == s.metric).map(|(_, l)| *l);
        if let (Some(latest), Some(limit)) = (current(s, w, now), limit) {
            if latest > limit {
                lagging.push(format!("{} {} over {}", s.metric, amount(latest, s.unit), amount(limit, s.unit)));
            }
        }
    }
    for s in of(Role::Throttled) {
        let n: f64 = points(s).filter(|(i, _)| w.at(*i + 1) > recent_from).map(|(_, v)| v).fold(0.0, |a, b| a + b);
        if n > 0.0 {
            lagging.push(format!("{} {} lately (retried, so late)", count(n), s.metric));
        }
    }
    for s in of(Role::RetriedRatio) {
        let worst = points(s).filter(|(i, _)| w.at(*i + 1) > recent_from).map(|(_, v)| v).fold(1.0, f64::min);
        if worst < 1.0 {
            lagging.push(format!("{} down to {:.0}% lately (retried, so late)", s.metric, worst * 100.0));
        }
    }
    if !lagging.is_empty() {
        return (Verdict::Lagging, lagging.join(", "));
    }
    let span = w.end().min(now) - w.start;
    if !outs.is_empty() && total_in > 0.0 && total_out == 0.0 && span <= h.holds_seconds as i64 + LATE {
        return (
            Verdict::Unknown,
            format!(
                "{} {what_in} in, none out yet: the window ({}) is shorter than it may hold them and CloudWatch's delay ({}); widen --since",
                count(total_in),
                duration(span),
                duration(h.holds_seconds as i64 + LATE)
            ),
        );
    }
    let minutes = w.minutes(now);
    let last = ins.iter().chain(&outs).filter_map(|s| points(s).filter(|(_, v)| *v > 0.0).map(|(i, _)| i).last()).max();
    match last {
        None if ins.is_empty() && outs.is_empty() && h.kind != HopKind::Bucket => {
            (Verdict::Unknown, "no metric of its own says what goes through it".into())
        }
        None => (Verdict::Idle, "nothing sent in the window".into()),
        Some(i) if w.at(i + 1) < recent_from => {
            // Only the figures the hop has: a host sends, a function is
            // invoked.
            let mut earlier = Vec::new();
            if !ins.is_empty() {
                earlier.push(format!("{} {what_in} in", count(total_in)));
            }
            if !outs.is_empty() {
                earlier.push(format!("{} records out", count(total_out)));
            }
            (
                Verdict::Idle,
                format!("nothing since {} ({} earlier in the window)", clock(w.at(i + 1)), earlier.join(", ")),
            )
        }
        Some(_) if ins.is_empty() => {
            (Verdict::Flowing, format!("{} records out ({}/min)", count(total_out), rate(total_out / minutes)))
        }
        Some(_) if outs.is_empty() => {
            (Verdict::Flowing, format!("{} {what_in} in ({}/min)", count(total_in), rate(total_in / minutes)))
        }
        Some(_) if total_out == 0.0 => (
            Verdict::Flowing,
            format!(
                "{} {what_in} in ({}/min), none out yet (it may hold them {})",
                count(total_in),
                rate(total_in / minutes),
                duration(h.holds_seconds as i64)
            ),
        ),
        Some(_) => (
            Verdict::Flowing,
            format!("{} {what_in} in, {} out ({}/min in)", count(total_in), count(total_out), rate(total_in / minutes)),
        ),
    }
}

/// The points of a series that have data, with their index.
fn points(s: &Series) -> impl Iterator<Item = (usize, f64)> + '_ {
    s.values.iter().enumerate().filter_map(|(i, v)| v.map(|v| (i, v)))
}

/// The last point of an age or freshness, when it is recent enough to say
/// how far behind the hop is now (`lately`, and CloudWatch's delay).
fn current(s: &Series, w: Window, now: i64) -> Option<f64> {
    let (last, v) = points(s).last()?;
    (w.at(last + 1) >= now - lately(w) - LATE).then_some(v)
}

/// Records that came in and were not passed on.
struct Stall {
    records: f64,
    /// The point they first came in.
    first: usize,
    /// Whether nothing came out in the whole window (so they may have
    /// been waiting since before it).
    none_in_window: bool,
    /// How long since the end of that point, at least.
    waited: i64,
}

impl Stall {
    /// `from 15:02 on`, or `since before 14:05` when nothing came out in
    /// the window and records came in from its start.
    fn from(&self, w: Window) -> String {
        if self.none_in_window && self.first == 0 {
            format!("since before {} (the window's start)", clock(w.start))
        } else {
            format!("from {} on", clock(w.at(self.first)))
        }
    }
}

/// Records in and none out since, for longer than the hop may hold them:
/// the first point with records in after the last point with records out
/// ended longer ago than `holds` and `LATE`.
fn stall(ins: &[&Series], outs: &[&Series], holds: u32, w: Window, now: i64) -> Option<Stall> {
    let has = |s: &Series, i: usize| s.values[i].is_some_and(|v| v > 0.0);
    let last_out = (0..w.points).rev().find(|&i| outs.iter().any(|s| has(s, i)));
    let after = last_out.map_or(0, |i| i + 1);
    let first = (after..w.points).find(|&i| ins.iter().any(|s| has(s, i)))?;
    let waited = now - w.at(first + 1);
    if waited <= holds as i64 + LATE {
        return None;
    }
    let records: f64 = ins.iter().flat_map(|s| s.values[first..].iter().flatten()).fold(0.0, |a, b| a + b);
    Some(Stall { records, first, none_in_window: last_out.is_none(), waited })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{firehose, named, stream};

    const NOW: i64 = 1_700_003_570;

    fn w() -> Window {
        Window::ending(NOW, 3600)
    }

    fn hop(kind: HopKind, holds: u32) -> Planned {
        Planned {
            id: "x.y".into(),
            kind,
            key: "y".into(),
            name: "y".into(),
            label: "y".into(),
            console: None,
            metrics: vec![],
            holds_seconds: holds,
            lag_limits: vec![("DeliveryToS3.DataFreshness", 660.0), ("GetRecords.IteratorAgeMilliseconds", 60_000.0)],
            fail_limits: vec![],
            counts_in: "records",
            feeds: vec![],
            delivered_by: vec![],
            consumes: Some(("stream.s".into(), 60)),
        }
    }

    /// A series with `v` at the points given (minutes from the start).
    fn s(table: &'static [crate::metrics::Metric], name: &str, at: &[(usize, f64)]) -> Series {
        let mut values = vec![None; w().points];
        for (i, v) in at {
            values[*i] = Some(*v);
        }
        Series::new(named(table, name), "y", values)
    }

    #[test]
    fn nothing_in_is_idle() {
        let series = [s(stream::METRICS, "IncomingRecords", &[]), s(stream::METRICS, "GetRecords.Records", &[])];
        assert_eq!(judge(&hop(HopKind::Stream, 60), &series, None, w(), NOW).0, Verdict::Idle);
    }

    #[test]
    fn records_in_and_out_are_flowing_with_the_rate() {
        let series = [
            s(stream::METRICS, "IncomingRecords", &[(50, 600.0), (58, 600.0)]),
            s(stream::METRICS, "GetRecords.Records", &[(51, 600.0), (59, 600.0)]),
        ];
        let (v, why) = judge(&hop(HopKind::Stream, 60), &series, None, w(), NOW);
        assert_eq!(v, Verdict::Flowing, "{why}");
        assert!(why.contains("1,200 records in, 1,200 out (20/min in)"), "{why}");
    }

    #[test]
    fn a_firehose_receiving_and_not_delivering_past_its_buffer_is_stalled_and_not_before() {
        let fh = hop(HopKind::Firehose, 360);
        let series = [
            s(firehose::METRICS, "IncomingRecords", &[(40, 100.0), (41, 100.0)]),
            s(firehose::METRICS, "DeliveryToS3.Records", &[]),
        ];
        let (v, why) = judge(&fh, &series, None, w(), NOW);
        assert_eq!(v, Verdict::Stalled, "{why}");
        assert!(why.contains("200 records in from") && why.contains("DeliveryToS3.Records"), "{why}");
        // Within its buffer interval it may still be holding them.
        let recent = [
            s(firehose::METRICS, "IncomingRecords", &[(57, 100.0)]),
            s(firehose::METRICS, "DeliveryToS3.Records", &[(30, 5.0)]),
        ];
        assert_eq!(judge(&fh, &recent, None, w(), NOW).0, Verdict::Flowing);
    }

    #[test]
    fn failed_records_are_failing_before_anything_else() {
        let series = [
            s(firehose::METRICS, "IncomingRecords", &[(40, 100.0)]),
            s(firehose::METRICS, "DeliveryToS3.Records", &[]),
            s(firehose::METRICS, "FailedConversion.Records", &[(41, 7.0)]),
        ];
        let (v, why) = judge(&hop(HopKind::Firehose, 360), &series, None, w(), NOW);
        assert!(v == Verdict::Failing && why.starts_with("7 FailedConversion.Records, the last at "), "{why}");
        let ratio = [s(firehose::METRICS, "DeliveryToS3.Success", &[(40, 1.0), (41, 0.5)])];
        assert!(judge(&hop(HopKind::Firehose, 360), &ratio, None, w(), NOW).1.contains("down to 50%"));
    }

    #[test]
    fn an_iterator_age_over_its_limit_is_lagging_and_names_both() {
        let series = [
            s(stream::METRICS, "IncomingRecords", &[(58, 10.0)]),
            s(stream::METRICS, "GetRecords.Records", &[(58, 10.0)]),
            s(stream::METRICS, "GetRecords.IteratorAgeMilliseconds", &[(58, 120_000.0)]),
        ];
        let (v, why) = judge(&hop(HopKind::Stream, 60), &series, None, w(), NOW);
        assert_eq!(v, Verdict::Lagging);
        assert_eq!(why, "GetRecords.IteratorAgeMilliseconds 120 s over 60 s");
    }

    #[test]
    fn a_consumer_that_takes_nothing_its_stream_got_is_stalled() {
        use crate::metrics::function;
        let offered = s(stream::METRICS, "IncomingRecords", &[(40, 90.0), (50, 10.0)]);
        let none = [s(function::METRICS, "Invocations", &[]), s(function::METRICS, "Errors", &[])];
        let (v, why) = judge(&hop(HopKind::Function, 60), &none, Some(&offered), w(), NOW);
        assert_eq!(v, Verdict::Stalled, "{why}");
        assert!(why.starts_with("stream s took 100 records from"), "{why}");
        assert!(why.contains("none reached it (Invocations)"), "{why}");
        // Invoked after the last records came in: taking them.
        let took = [s(function::METRICS, "Invocations", &[(51, 2.0)])];
        assert_eq!(judge(&hop(HopKind::Function, 60), &took, Some(&offered), w(), NOW).0, Verdict::Flowing);
    }

    #[test]
    fn an_old_age_does_not_make_a_hop_lag_now() {
        let old = [
            s(stream::METRICS, "IncomingRecords", &[(5, 10.0)]),
            s(stream::METRICS, "GetRecords.Records", &[(5, 10.0)]),
            s(stream::METRICS, "GetRecords.IteratorAgeMilliseconds", &[(5, 120_000.0)]),
        ];
        let (v, why) = judge(&hop(HopKind::Stream, 60), &old, None, w(), NOW);
        assert_eq!(v, Verdict::Idle, "{why}");
        assert!(why.starts_with("nothing since ") && why.contains("(10 records in, 10 records out earlier"), "{why}");
        use crate::metrics::function;
        let invoked = [s(function::METRICS, "Invocations", &[(5, 4.0)])];
        let (_, why) = judge(&hop(HopKind::Function, 60), &invoked, None, w(), NOW);
        assert!(why.ends_with("(4 records in earlier in the window)"), "a function has no records out: {why}");
    }

    #[test]
    fn data_that_stopped_half_an_hour_ago_is_idle_not_flowing() {
        let stopped = [
            s(stream::METRICS, "IncomingRecords", &[(10, 600.0), (25, 600.0)]),
            s(stream::METRICS, "GetRecords.Records", &[(10, 600.0), (25, 600.0)]),
        ];
        assert_eq!(judge(&hop(HopKind::Stream, 60), &stopped, None, w(), NOW).0, Verdict::Idle);
        // Within the last ten minutes (CloudWatch's late minutes included):
        // flowing.
        let lately = [
            s(stream::METRICS, "IncomingRecords", &[(52, 600.0)]),
            s(stream::METRICS, "GetRecords.Records", &[(52, 600.0)]),
        ];
        assert_eq!(judge(&hop(HopKind::Stream, 60), &lately, None, w(), NOW).0, Verdict::Flowing);
    }

    #[test]
    fn a_window_shorter_than_a_firehose_may_hold_records_cannot_call_it_flowing() {
        let short = Window::ending(NOW, 300);
        let mut values = vec![None; short.points];
        values[1] = Some(100.0);
        let ins = Series::new(named(firehose::METRICS, "IncomingRecords"), "y", values);
        let outs = Series::new(named(firehose::METRICS, "DeliveryToS3.Records"), "y", vec![None; short.points]);
        let (v, why) = judge(&hop(HopKind::Firehose, 960), &[ins, outs], None, short, NOW);
        assert_eq!(v, Verdict::Unknown, "{why}");
        assert!(why.contains("widen --since"), "{why}");
    }

    #[test]
    fn a_stall_from_before_the_window_says_so() {
        let series = [
            s(firehose::METRICS, "IncomingRecords", &[(0, 100.0), (1, 100.0), (30, 100.0)]),
            s(firehose::METRICS, "DeliveryToS3.Records", &[]),
        ];
        let (v, why) = judge(&hop(HopKind::Firehose, 360), &series, None, w(), NOW);
        assert_eq!(v, Verdict::Stalled);
        assert!(why.contains("300 records in since before "), "{why}");
    }

    #[test]
    fn a_throttle_long_ago_does_not_make_a_hop_lag_now_and_one_lately_does() {
        use crate::metrics::function;
        let old = [s(function::METRICS, "Invocations", &[(58, 5.0)]), s(function::METRICS, "Throttles", &[(5, 1.0)])];
        assert_eq!(judge(&hop(HopKind::Function, 60), &old, None, w(), NOW).0, Verdict::Flowing);
        let lately =
            [s(function::METRICS, "Invocations", &[(58, 5.0)]), s(function::METRICS, "Throttles", &[(56, 1.0)])];
        let (v, why) = judge(&hop(HopKind::Function, 60), &lately, None, w(), NOW);
        assert_eq!(v, Verdict::Lagging);
        assert!(why.contains("1 Throttles lately"), "{why}");
    }

    #[test]
    fn read_throttling_on_a_shared_shard_is_lagging_not_failing() {
        let series = [
            s(stream::METRICS, "IncomingRecords", &[(57, 10.0)]),
            s(stream::METRICS, "GetRecords.Records", &[(57, 10.0)]),
            s(stream::METRICS, "GetRecords.Success", &[(57, 0.5)]),
            s(stream::METRICS, "PutRecords.FailedRecords", &[(57, 3.0)]),
        ];
        let (v, why) = judge(&hop(HopKind::Stream, 60), &series, None, w(), NOW);
        assert_eq!(v, Verdict::Lagging, "{why}");
        assert!(
            why.contains("GetRecords.Success down to 50% lately") && why.contains("3 PutRecords.FailedRecords"),
            "{why}"
        );
    }

    #[test]
    fn errors_within_the_specs_alarm_threshold_are_not_failing() {
        use crate::metrics::function;
        let mut h = hop(HopKind::Function, 60);
        h.fail_limits = vec![("Errors", 5.0)];
        h.counts_in = "invocations";
        let few = [s(function::METRICS, "Invocations", &[(58, 50.0)]), s(function::METRICS, "Errors", &[(58, 2.0)])];
        let (v, why) = judge(&h, &few, None, w(), NOW);
        assert_eq!((v, why.as_str()), (Verdict::Flowing, "50 invocations in (0.8/min)"));
        let many = [s(function::METRICS, "Invocations", &[(58, 50.0)]), s(function::METRICS, "Errors", &[(58, 9.0)])];
        let (v, why) = judge(&h, &many, None, w(), NOW);
        assert_eq!(v, Verdict::Failing);
        assert!(why.starts_with("9 Errors (above 5 a point), the last at"), "{why}");
    }
}
