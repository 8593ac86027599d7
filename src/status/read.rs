//! Reading a window of metrics and the alarms' states from CloudWatch: as
//! few GetMetricData calls as its limits allow (500 queries a call, pages
//! followed), one DescribeAlarms per 100 alarms.

use super::model::Calls;
use crate::aws::{Aws, AwsError};
use crate::metrics::Metric;
use crate::send;
use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, MetricDataQuery, MetricStat, ScanBy};
use std::collections::BTreeMap;

/// GetMetricData takes at most this many queries a call.
pub const QUERIES_PER_CALL: usize = 500;

/// DescribeAlarms takes at most this many names a call.
const ALARMS_PER_CALL: usize = 100;

/// The window read: `points` periods of `period` seconds from `start`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start: i64,
    pub period: u32,
    pub points: usize,
}

impl Window {
    /// The window of `since` seconds ending with the minute `now` is in
    /// (CloudWatch aligns points to a start on a whole minute): one-minute
    /// points up to two hours, then wider ones, at most 120.
    pub fn ending(now: i64, since: u64) -> Window {
        let period = (since.div_ceil(120 * 60).max(1) * 60) as u32;
        let end = (now.div_euclid(60) + 1) * 60;
        let points = since.div_ceil(period as u64) as usize;
        Window { start: end - (points as i64) * period as i64, period, points }
    }

    /// The start of point `i` (the end of point `i - 1`).
    pub fn at(&self, i: usize) -> i64 {
        self.start + i as i64 * self.period as i64
    }

    /// The minutes of the window that have passed at `now` (at least one):
    /// what rates per minute are over.
    pub fn minutes(&self, now: i64) -> f64 {
        ((now.min(self.end()) - self.start).max(60)) as f64 / 60.0
    }

    pub fn end(&self) -> i64 {
        self.start + self.points as i64 * self.period as i64
    }

    /// The point a timestamp falls in, if inside.
    fn index(&self, at: i64) -> Option<usize> {
        let i = (at - self.start).div_euclid(self.period as i64);
        (0..self.points as i64).contains(&i).then_some(i as usize)
    }
}

/// Reads every `(metric, dimension value)` over the window: the values of
/// each, one per period (`None` where CloudWatch has no point), in the
/// order asked.
pub async fn metrics(
    aws: &Aws,
    asked: &[(&'static Metric, String)],
    w: Window,
    calls: &mut Calls,
) -> Result<Vec<Vec<Option<f64>>>, AwsError> {
    let mut out = vec![vec![None; w.points]; asked.len()];
    for (chunk_no, chunk) in asked.chunks(QUERIES_PER_CALL).enumerate() {
        let base = chunk_no * QUERIES_PER_CALL;
        let queries: Vec<MetricDataQuery> = chunk.iter().enumerate().map(|(i, (m, v))| query(i, m, v, w)).collect();
        calls.metric_queries += queries.len() as u32;
        let mut token: Option<String> = None;
        loop {
            let req = aws
                .cloudwatch
                .get_metric_data()
                .set_metric_data_queries(Some(queries.clone()))
                .start_time(DateTime::from_secs(w.start))
                .end_time(DateTime::from_secs(w.end()))
                .scan_by(ScanBy::TimestampAscending)
                .set_next_token(token.clone());
            let page = send!("GetMetricData", req)?;
            calls.get_metric_data += 1;
            for r in page.metric_data_results() {
                let Some(i) = r.id().and_then(|id| id.strip_prefix('q')).and_then(|n| n.parse::<usize>().ok()) else {
                    continue;
                };
                let Some(series) = out.get_mut(base + i) else { continue };
                for (t, v) in r.timestamps().iter().zip(r.values()) {
                    if let Some(p) = w.index(t.secs()) {
                        series[p] = Some(*v);
                    }
                }
            }
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
    }
    Ok(out)
}

fn query(i: usize, m: &Metric, value: &str, w: Window) -> MetricDataQuery {
    let dimension = Dimension::builder().name(m.dimension).value(value).build();
    let metric = aws_sdk_cloudwatch::types::Metric::builder()
        .namespace(m.namespace)
        .metric_name(m.name)
        .dimensions(dimension)
        .build();
    let stat = MetricStat::builder().metric(metric).period(w.period as i32).stat(m.stat.as_str()).build();
    MetricDataQuery::builder().id(format!("q{i}")).metric_stat(stat).return_data(true).build()
}

/// An alarm as CloudWatch has it: its state and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Alarm {
    pub state: String,
    pub reason: Option<String>,
}

/// The states of the alarms named, by name; one missing is not deployed.
pub async fn alarms(aws: &Aws, names: &[String], calls: &mut Calls) -> Result<BTreeMap<String, Alarm>, AwsError> {
    let mut out = BTreeMap::new();
    for chunk in names.chunks(ALARMS_PER_CALL) {
        let mut token: Option<String> = None;
        loop {
            let req = aws
                .cloudwatch
                .describe_alarms()
                .set_alarm_names(Some(chunk.to_vec()))
                .max_records(ALARMS_PER_CALL as i32)
                .set_next_token(token.clone());
            let page = send!("DescribeAlarms", req)?;
            calls.describe_alarms += 1;
            for a in page.metric_alarms() {
                let Some(name) = a.alarm_name() else { continue };
                let state = a.state_value().map(|s| s.as_str().to_string()).unwrap_or_else(|| "unknown".into());
                out.insert(name.to_string(), Alarm { state, reason: a.state_reason().map(str::to_string) });
            }
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_hour_is_sixty_one_minute_points_ending_after_now() {
        let now = 1_700_000_030;
        let w = Window::ending(now, 3600);
        assert_eq!((w.period, w.points), (60, 60));
        assert!(w.end() > now && w.end() - now <= 60);
        assert_eq!(w.start % 60, 0);
        assert_eq!(w.at(60), w.end());
        assert!((w.minutes(now) - 3590.0 / 60.0).abs() < 0.01, "{}", w.minutes(now));
        assert_eq!(w.index(now), Some(59));
        assert_eq!(w.index(w.start - 1), None);
    }

    #[test]
    fn long_windows_widen_their_points_to_at_most_one_hundred_and_twenty() {
        for since in [300, 3600, 7200, 7260, 86_400, 15 * 86_400] {
            let w = Window::ending(1_700_000_000, since);
            assert!(w.points <= 120, "{since}: {w:?}");
            assert_eq!(w.period % 60, 0);
            assert!(w.points as u64 * w.period as u64 >= since);
        }
        assert_eq!(Window::ending(0, 86_400).period, 720);
        // Wide points still end with the current minute, not in hours.
        let w = Window::ending(1_700_000_030, 15 * 86_400);
        assert_eq!(w.end(), 1_700_000_040);
        assert_eq!(w.start % 60, 0);
    }
}
