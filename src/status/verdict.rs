//! A hop's verdict and its reason, from its metrics over the window: pure.
//!
//! Worst first: failing (errors or failed records), stalled (records in,
//! none out for longer than the hop may hold them), lagging (an age over
//! its limit, or calls throttled), flowing (records in or out), idle
//! (nothing sent).

use super::hops::Planned;
use super::model::{HopKind, Series, Verdict};
use super::read::Window;
use crate::metrics::{Role, Unit};

/// How late CloudWatch may receive a metric after the fact (most come a
/// minute or two after): no hop is called stalled sooner after records
/// came in than what it may hold them for and this.
pub const LATE: i64 = 180;

/// A hop's verdict and why. `offered`: what the stream a consumer reads
/// took in (its `IncomingRecords`), which the consumer should take on.
pub fn judge(h: &Planned, series: &[Series], offered: Option<&Series>, w: Window, now: i64) -> (Verdict, String) {
    let mut failing = Vec::new();
    for s in series.iter().filter(|s| s.role == Role::Failed) {
        if let Some(n) = s.total.filter(|n| *n > 0.0) {
            failing.push(format!("{} {}", count(n), s.metric));
        }
    }
    for s in series.iter().filter(|s| s.role == Role::SuccessRatio) {
        let worst = s.values.iter().flatten().copied().fold(f64::INFINITY, f64::min);
        if worst < 1.0 {
            failing.push(format!("{} down to {:.0}% (some calls failed)", s.metric, worst * 100.0));
        }
    }
    if !failing.is_empty() {
        return (Verdict::Failing, failing.join(", "));
    }
    let ins: Vec<&Series> = series.iter().filter(|s| s.role == Role::RecordsIn).collect();
    let outs: Vec<&Series> = series.iter().filter(|s| s.role == Role::RecordsOut).collect();
    let total_in: f64 = ins.iter().filter_map(|s| s.total).fold(0.0, |a, b| a + b);
    let total_out: f64 = outs.iter().filter_map(|s| s.total).fold(0.0, |a, b| a + b);
    if !ins.is_empty() && !outs.is_empty() {
        if let Some(s) = stall(&ins, &outs, h.holds_seconds, w, now) {
            let out_names: Vec<&str> = outs.iter().map(|s| s.metric).collect();
            return (
                Verdict::Stalled,
                format!(
                    "{} records in since {}, none out ({}) for {} (it may hold them {})",
                    count(s.records),
                    clock(s.since - w.period as i64),
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
                    "stream {stream} took {} records since {}, none reached it ({took}) for {} (it may take {})",
                    count(s.records),
                    clock(s.since - w.period as i64),
                    duration(s.waited),
                    duration(*within as i64)
                ),
            );
        }
    }
    let mut lagging = Vec::new();
    for s in series.iter().filter(|s| s.role == Role::Lag) {
        let limit = h.lag_limits.iter().find(|(m, _)| *m == s.metric).map(|(_, l)| *l);
        if let (Some(latest), Some(limit)) = (current(s, w), limit) {
            if latest > limit {
                lagging.push(format!("{} {} over {}", s.metric, amount(latest, s.unit), amount(limit, s.unit)));
            }
        }
    }
    for s in series.iter().filter(|s| s.role == Role::Throttled) {
        if let Some(n) = s.total.filter(|n| *n > 0.0) {
            lagging.push(format!("{} {}", count(n), s.metric));
        }
    }
    if !lagging.is_empty() {
        return (Verdict::Lagging, lagging.join(", "));
    }
    let minutes = w.points as f64 * w.period as f64 / 60.0;
    match (total_in > 0.0, total_out > 0.0) {
        (true, _) if !outs.is_empty() => (
            Verdict::Flowing,
            format!("{} records in, {} out ({}/min in)", count(total_in), count(total_out), rate(total_in / minutes)),
        ),
        (true, _) => (Verdict::Flowing, format!("{} records in ({}/min)", count(total_in), rate(total_in / minutes))),
        (false, true) => {
            (Verdict::Flowing, format!("{} records out ({}/min)", count(total_out), rate(total_out / minutes)))
        }
        (false, false) if ins.is_empty() && outs.is_empty() && h.kind != HopKind::Bucket => {
            (Verdict::Unknown, "no metric of its own says what goes through it".into())
        }
        (false, false) => (Verdict::Idle, "nothing sent in the window".into()),
    }
}

/// The last point of an age or freshness, when it is recent enough to say
/// how far behind the hop is now: within the last 10 minutes or 3 points.
fn current(s: &Series, w: Window) -> Option<f64> {
    let last = s.values.iter().rposition(Option::is_some)?;
    let behind = (w.points - 1 - last) as i64 * w.period as i64;
    (behind <= (3 * w.period as i64).max(600)).then(|| s.values[last]).flatten()
}

/// Records that came in and were not passed on.
struct Stall {
    records: f64,
    /// The end of the first point they came in.
    since: i64,
    /// How long ago that was.
    waited: i64,
}

/// Records in and none out since, for longer than the hop may hold them:
/// the first point with records in after the last point with records out
/// is older than `holds` and `LATE`.
fn stall(ins: &[&Series], outs: &[&Series], holds: u32, w: Window, now: i64) -> Option<Stall> {
    let last_out = (0..w.points).rev().find(|&i| outs.iter().any(|s| s.values[i].is_some_and(|v| v > 0.0)));
    let after = last_out.map_or(0, |i| i + 1);
    let first_in = (after..w.points).find(|&i| ins.iter().any(|s| s.values[i].is_some_and(|v| v > 0.0)))?;
    // The records of a point came in by its end at the latest.
    let since = w.start + (first_in as i64 + 1) * w.period as i64;
    let waited = now - since;
    if waited <= holds as i64 + LATE {
        return None;
    }
    let records: f64 = ins.iter().flat_map(|s| s.values[first_in..].iter().flatten()).fold(0.0, |a, b| a + b);
    Some(Stall { records, since, waited })
}

/// A count as people read it: `12,345`, or `1.5` when not whole.
pub fn count(n: f64) -> String {
    if n.fract() != 0.0 {
        return format!("{n:.1}");
    }
    let digits = format!("{}", n as i64);
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 && c.is_ascii_digit() && !out.ends_with('-') {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A rate: `1.2k`, `35`, `0.4`.
pub fn rate(n: f64) -> String {
    match n {
        n if n >= 1e6 => format!("{:.1}M", n / 1e6),
        n if n >= 1e3 => format!("{:.1}k", n / 1e3),
        n if n >= 10.0 => format!("{n:.0}"),
        n => format!("{n:.1}"),
    }
}

/// A value in its unit: `1.5 s`, `3.2 MB`, `97%`.
pub fn amount(v: f64, unit: Unit) -> String {
    match unit {
        Unit::Count => count(v.round()),
        Unit::Milliseconds if v >= 1000.0 => format!("{} s", rate(v / 1000.0)),
        Unit::Milliseconds => format!("{v:.0} ms"),
        Unit::Seconds => format!("{} s", rate(v)),
        Unit::Percent => format!("{v:.0}%"),
        Unit::Ratio => format!("{:.0}%", v * 100.0),
        Unit::Bytes => bytes(v),
    }
}

pub fn bytes(v: f64) -> String {
    match v {
        v if v >= 1e9 => format!("{:.1} GB", v / 1e9),
        v if v >= 1e6 => format!("{:.1} MB", v / 1e6),
        v if v >= 1e3 => format!("{:.1} kB", v / 1e3),
        v => format!("{v:.0} B"),
    }
}

/// `HH:MM` UTC of a time in seconds since the epoch.
pub fn clock(at: i64) -> String {
    let d = at.rem_euclid(86_400);
    format!("{:02}:{:02}", d / 3600, d % 3600 / 60)
}

/// `14m`, `2h 5m`, `45s`.
pub fn duration(secs: i64) -> String {
    match secs {
        s if s >= 3600 && s % 3600 < 60 => format!("{}h", s / 3600),
        s if s >= 3600 => format!("{}h {}m", s / 3600, s % 3600 / 60),
        s if s >= 60 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
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
        assert!(why.contains("200 records in since") && why.contains("DeliveryToS3.Records"), "{why}");
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
        assert_eq!((v, why.as_str()), (Verdict::Failing, "7 FailedConversion.Records"));
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
        assert!(why.starts_with("stream s took 100 records since"), "{why}");
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
        assert_eq!(judge(&hop(HopKind::Stream, 60), &old, None, w(), NOW).0, Verdict::Flowing);
    }

    #[test]
    fn figures_read_as_people_write_them() {
        assert_eq!(count(1234567.0), "1,234,567");
        assert_eq!(count(12.0), "12");
        assert_eq!(count(-1234.0), "-1,234");
        assert_eq!(amount(0.975, Unit::Ratio), "98%");
        assert_eq!(amount(1500.0, Unit::Milliseconds), "1.5 s");
        assert_eq!(bytes(3_200_000.0), "3.2 MB");
        assert_eq!(clock(1_700_003_570), "23:12");
        assert_eq!(duration(7500), "2h 5m");
        assert_eq!(duration(3600), "1h");
    }
}
