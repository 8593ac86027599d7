//! A report as text: the paths drawn, then one block per hop (verdict,
//! sparklines of records in and out, the reason, the console link), then
//! the alarms and the calls it took.

use super::figures::{amount, clock, duration, rate};
use super::model::{Hop, Report, Series, Verdict};
use crate::metrics::{Role, Unit};
use anstyle::{AnsiColor, Style};

const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// The widest a line of a hop's other figures is.
const FIGURES_WIDTH: usize = 100;

/// The widest a sparkline is drawn.
pub const SPARK_WIDTH: usize = 30;

/// Values as a sparkline of at most `width` characters: neighbouring
/// points summed (or their maximum, for an age) into one character; a
/// blank where no point has data, `▁` for zero.
pub fn sparkline(values: &[Option<f64>], width: usize, sum: bool) -> String {
    if values.is_empty() || width == 0 {
        return String::new();
    }
    let per = values.len().div_ceil(width);
    let cells: Vec<Option<f64>> = values
        .chunks(per)
        .map(|c| {
            let points: Vec<f64> = c.iter().flatten().copied().collect();
            (!points.is_empty()).then(|| {
                if sum {
                    points.iter().fold(0.0, |a, b| a + b)
                } else {
                    points.iter().copied().fold(f64::MIN, f64::max)
                }
            })
        })
        .collect();
    let top = cells.iter().flatten().copied().fold(0.0_f64, f64::max);
    cells
        .iter()
        .map(|c| match c {
            None => ' ',
            Some(v) if top <= 0.0 || *v <= 0.0 => BARS[0],
            Some(v) => BARS[((v / top) * 7.0).round().clamp(0.0, 7.0) as usize],
        })
        .collect()
}

/// The points of a hop's series of one role, added up point by point.
pub fn combined(hop: &Hop, role: Role) -> Option<Vec<Option<f64>>> {
    let of: Vec<&Series> = hop.metrics.iter().filter(|s| s.role == role).collect();
    let first = of.first()?;
    let mut out = vec![None; first.values.len()];
    for s in &of {
        for (o, v) in out.iter_mut().zip(&s.values) {
            if let Some(v) = v {
                *o = Some(o.unwrap_or(0.0) + v);
            }
        }
    }
    Some(out)
}

pub fn verdict_style(v: Verdict) -> Style {
    let c = match v {
        Verdict::Failing => AnsiColor::Red,
        Verdict::Stalled => AnsiColor::Magenta,
        Verdict::Lagging => AnsiColor::Yellow,
        Verdict::Unknown => AnsiColor::BrightBlack,
        Verdict::Flowing => AnsiColor::Green,
        Verdict::Idle => AnsiColor::BrightBlack,
    };
    Style::new().fg_color(Some(c.into())).bold()
}

fn paint(text: &str, style: Style, colour: bool) -> String {
    if colour {
        format!("{style}{text}{style:#}")
    } else {
        text.to_string()
    }
}

/// The window in words: `14:05–15:05 UTC (1h, 1-minute points)`; with
/// the dates when it spans more than a day.
pub fn window(r: &Report) -> String {
    window_words(r.start_epoch, r.end_epoch, r.period_seconds)
}

fn window_words(start: i64, end: i64, period: u32) -> String {
    let span = end - start;
    let point = if period == 60 { "1-minute".to_string() } else { duration(period as i64) };
    let at = |t: i64| {
        if span > 86_400 {
            let date = humantime::format_rfc3339_seconds(
                std::time::UNIX_EPOCH + std::time::Duration::from_secs(t.max(0) as u64),
            );
            format!("{} {}", &date.to_string()[..10], clock(t))
        } else {
            clock(t)
        }
    };
    format!("{}–{} UTC ({}, {point} points)", at(start), at(end), duration(span))
}

/// Each path as one line: `host producer ─▶ stream trips ─▶ …`.
pub fn path_lines(r: &Report, colour: bool) -> Vec<String> {
    r.paths
        .iter()
        .map(|p| {
            p.iter()
                .filter_map(|id| r.hop(id))
                .map(|h| {
                    format!(
                        "{} {}",
                        h.label,
                        paint(&format!("[{}]", h.verdict.as_str()), verdict_style(h.verdict), colour)
                    )
                })
                .collect::<Vec<_>>()
                .join(" ─▶ ")
        })
        .collect()
}

/// The whole report.
pub fn render(r: &Report, colour: bool) -> String {
    let mut out = String::new();
    let mut line = |s: String| {
        out.push_str(&s);
        out.push('\n');
    };
    line(format!("pipeline `{}`, env `{}`, {} · {}", r.pipeline, r.env, r.region, window(r)));
    if !r.deployed {
        line(format!(
            "note: pipectl has no record of deploying `{}` (env `{}`) here; the metrics are read by the spec's names",
            r.pipeline, r.env
        ));
    }
    line(String::new());
    line("paths".into());
    for p in path_lines(r, colour) {
        line(format!("  {p}"));
    }
    if r.more_paths {
        line(format!("  … more paths than these {} (every hop is listed below)", r.paths.len()));
    }
    line(String::new());
    let width = label_width(r);
    line(format!("hops {:w$}records in{:g$}records out", "", "", w = width + 9, g = SPARK_WIDTH + 1));
    for h in &r.hops {
        for l in hop_lines(h, width, colour) {
            line(l);
        }
    }
    if !r.alarms.is_empty() {
        line(String::new());
        line("alarms".into());
        for a in &r.alarms {
            let style = match a.state.as_str() {
                "OK" => verdict_style(Verdict::Flowing),
                "ALARM" => verdict_style(Verdict::Failing),
                _ => verdict_style(Verdict::Unknown),
            };
            let on = a.hop.as_deref().and_then(|h| r.hop(h)).map(|h| format!(" on {}", h.label)).unwrap_or_default();
            let unit = crate::metrics::all().iter().find(|m| m.name == a.metric).map_or(Unit::Count, |m| m.unit);
            line(format!(
                "  {} {} ({} over {}{on})",
                paint(&format!("{:<17}", a.state), style, colour),
                a.name,
                a.metric,
                amount(a.threshold, unit)
            ));
        }
    }
    line(String::new());
    line(format!(
        "read with {} GetMetricData call{} ({} metrics), {} DescribeAlarms, {} DescribeInstances",
        r.calls.get_metric_data,
        if r.calls.get_metric_data == 1 { "" } else { "s" },
        r.calls.metric_queries,
        r.calls.describe_alarms,
        r.calls.describe_instances
    ));
    out
}

/// A hop's block: its verdict and label with its sparklines, the reason,
/// its other figures, its console link.
pub fn hop_lines(h: &Hop, width: usize, colour: bool) -> Vec<String> {
    let spark = |role: Role, per_minute: Option<f64>| match (combined(h, role), per_minute) {
        (Some(points), Some(pm)) => format!("{} {:>6}/min", sparkline(&points, SPARK_WIDTH, true), rate(pm)),
        _ => format!("{:w$}", "", w = SPARK_WIDTH + 11),
    };
    let verdict = paint(&format!("{:<8}", h.verdict.as_str()), verdict_style(h.verdict), colour);
    let mut out = vec![format!(
        "  {verdict} {:<width$} {}  {}",
        h.label,
        spark(Role::RecordsIn, h.records_in_per_minute),
        spark(Role::RecordsOut, h.records_out_per_minute)
    )];
    out.push(format!("           {}", h.reason));
    // The other figures: ages, bytes, what is only shown; throttles and
    // failures where there were some (the reason names them).
    let figures: Vec<String> = h
        .metrics
        .iter()
        .filter(|s| match s.role {
            Role::Lag | Role::Info | Role::BytesIn | Role::BytesOut => true,
            Role::Throttled | Role::Failed => s.total.is_some_and(|t| t > 0.0),
            _ => false,
        })
        .filter_map(|s| s.total.map(|t| format!("{} {}", s.metric, amount(t, s.unit))))
        .collect();
    let mut row = String::new();
    for f in figures {
        if !row.is_empty() && row.chars().count() + f.chars().count() > FIGURES_WIDTH {
            out.push(format!("           {row}"));
            row.clear();
        }
        if !row.is_empty() {
            row.push_str(" · ");
        }
        row.push_str(&f);
    }
    if !row.is_empty() {
        out.push(format!("           {row}"));
    }
    if let Some(c) = &h.console {
        out.push(format!("           {c}"));
    }
    out
}

/// The width of the label column: the longest label, at most 60.
pub fn label_width(r: &Report) -> usize {
    r.hops.iter().map(|h| h.label.chars().count()).max().unwrap_or(0).min(60)
}

/// One line per hop for `--watch` without a terminal: the time, the
/// verdict, the hop and the reason.
pub fn plain_lines(r: &Report, now: i64) -> Vec<String> {
    r.hops.iter().map(|h| format!("{} {:<8} {} {}", clock(now), h.verdict.as_str(), h.id, h.reason)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_windows_showed_times_without_dates() {
        assert_eq!(window_words(1_700_000_040 - 3600, 1_700_000_040, 60), "21:14–22:14 UTC (1h, 1-minute points)");
        let fortnight = window_words(1_700_000_040 - 15 * 86_400, 1_700_000_040, 10_800);
        assert_eq!(fortnight, "2023-10-30 22:14–2023-11-14 22:14 UTC (15d, 3h points)");
    }

    #[test]
    fn a_sparkline_scales_to_the_highest_point_and_leaves_gaps_blank() {
        let v = [Some(0.0), Some(1.0), None, Some(7.0)];
        assert_eq!(sparkline(&v, 10, true), "▁▂ █");
        assert_eq!(sparkline(&[None, None], 10, true), "  ");
        let long: Vec<Option<f64>> = (0..120).map(|i| Some(i as f64)).collect();
        assert_eq!(sparkline(&long, 30, true).chars().count(), 30);
        assert_eq!(sparkline(&[], 30, true), "");
    }
}
