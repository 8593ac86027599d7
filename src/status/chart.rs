//! A hop's records in and out over the window as an inline SVG bar chart,
//! for the page of `status --html`: pure, from the `Report`, no script.
//!
//! One slot per period from the window's start; in each, the records in
//! (left bar) and out (right bar) of that period. The vertical axis goes
//! from 0 to the highest point of either; the horizontal one names the
//! window's start, middle and end. A period without a data point has no
//! bar; every bar carries its time and value as a tooltip (`<title>`).

use super::figures::{count, duration};
use super::html::escape;
use super::model::{Hop, Report};
use super::text::combined;
use crate::metrics::Role;
use std::fmt::Write as _;

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 170.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 22.0;
const BOTTOM: f64 = 26.0;

/// The colours of records in and out (the legend's and the bars').
pub const IN_COLOUR: &str = "#3b6fc4";
pub const OUT_COLOUR: &str = "#2e9a5a";

/// The chart of `hop`'s records in and out per period of `r`'s window.
pub fn records(r: &Report, hop: &Hop) -> String {
    let ins = combined(hop, Role::RecordsIn);
    let outs = combined(hop, Role::RecordsOut);
    let points = ins.as_ref().or(outs.as_ref()).map_or(0, Vec::len);
    let top = ins.iter().chain(outs.iter()).flatten().flatten().copied().fold(0.0_f64, f64::max);
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let base = TOP + plot_h;
    let per = if r.period_seconds == 60 { "minute".to_string() } else { duration(r.period_seconds as i64) };

    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="records in and out of {} per {per}">"#,
        escape(&hop.label)
    );
    let _ = write!(
        s,
        r##"<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="#fafafa" stroke="#cccccc"/>"##
    );
    // The vertical axis: 0, half and the highest point, with grid lines.
    for (frac, value) in [(0.0, 0.0), (0.5, top / 2.0), (1.0, top)] {
        let y = base - frac * plot_h;
        let _ = write!(
            s,
            r##"<line x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#e0e0e0"/><text x="{:.1}" y="{:.1}" text-anchor="end" class="axis">{}</text>"##,
            LEFT + plot_w,
            LEFT - 6.0,
            y + 4.0,
            escape(&axis_value(value))
        );
    }
    // A function's "records in" are its invocations.
    let what = if hop.counts_in == "records" { "records" } else { "counts" };
    let _ = write!(s, r#"<text x="{LEFT}" y="{:.1}" class="axis">{what} per {per}</text>"#, TOP - 8.0);
    legend(&mut s, ins.is_some(), outs.is_some(), hop.counts_in);
    // The horizontal axis: the window's start, middle and end.
    let span = r.end_epoch - r.start_epoch;
    for (frac, anchor) in [(0.0, "start"), (0.5, "middle"), (1.0, "end")] {
        let at = r.start_epoch + (span as f64 * frac) as i64;
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="{anchor}" class="axis">{}</text>"#,
            LEFT + frac * plot_w,
            HEIGHT - 8.0,
            escape(&when(at, span))
        );
    }
    if points == 0 {
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle" class="axis">no records metric for this hop</text>"#,
            LEFT + plot_w / 2.0,
            TOP + plot_h / 2.0
        );
    } else if top <= 0.0 {
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle" class="axis">no records in the window</text>"#,
            LEFT + plot_w / 2.0,
            TOP + plot_h / 2.0
        );
    }
    let slot = plot_w / points.max(1) as f64;
    let bar = (slot / 2.0 - 0.5).max(0.5);
    for (series, colour, name, offset) in [(&ins, IN_COLOUR, "in", 0.0), (&outs, OUT_COLOUR, "out", slot / 2.0)] {
        let Some(values) = series else { continue };
        for (i, v) in values.iter().enumerate() {
            let Some(v) = v else { continue };
            let h = if top > 0.0 { (v / top).clamp(0.0, 1.0) * plot_h } else { 0.0 };
            let at = r.start_epoch + i as i64 * r.period_seconds as i64;
            let _ = write!(
                s,
                r#"<rect x="{:.2}" y="{:.2}" width="{bar:.2}" height="{:.2}" fill="{colour}"><title>{} {name}: {}</title></rect>"#,
                LEFT + i as f64 * slot + offset,
                base - h,
                h.max(0.0),
                escape(&when(at, span)),
                escape(&count(v.round()))
            );
        }
    }
    s.push_str("</svg>");
    s
}

/// The legend, top right: a square of each colour and what it stands for.
fn legend(s: &mut String, ins: bool, outs: bool, counts_in: &str) {
    let mut x = WIDTH - RIGHT - 190.0;
    let name_in = format!("{counts_in} in");
    for (shown, colour, name) in [(ins, IN_COLOUR, name_in.as_str()), (outs, OUT_COLOUR, "records out")] {
        if shown {
            let _ = write!(
                s,
                r#"<rect x="{x:.1}" y="{:.1}" width="10" height="10" fill="{colour}"/><text x="{:.1}" y="{:.1}" class="axis">{name}</text>"#,
                TOP - 17.0,
                x + 14.0,
                TOP - 8.0
            );
            x += 95.0;
        }
    }
}

/// An axis value: whole counts with thousands as `k` and millions as `M`.
fn axis_value(v: f64) -> String {
    match v {
        v if v >= 1e6 => format!("{:.1}M", v / 1e6),
        v if v >= 1e4 => format!("{:.0}k", v / 1e3),
        v => count(v.round()),
    }
}

/// A time on the axis: `HH:MM` UTC, with the date (`MM-DD HH:MM`) when
/// the window spans more than a day.
pub fn when(at: i64, span: i64) -> String {
    let t = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(at.max(0) as u64);
    let full = humantime::format_rfc3339_seconds(t).to_string();
    if span > 86_400 {
        full[5..16].replace('T', " ")
    } else {
        full[11..16].to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_time_on_the_axis_has_its_date_only_past_a_day() {
        assert_eq!(when(1_700_003_520, 3600), "23:12");
        assert_eq!(when(1_700_003_520, 2 * 86_400), "11-14 23:12");
    }

    #[test]
    fn axis_values_stay_short() {
        assert_eq!(axis_value(0.0), "0");
        assert_eq!(axis_value(1234.0), "1,234");
        assert_eq!(axis_value(45_000.0), "45k");
        assert_eq!(axis_value(2_500_000.0), "2.5M");
    }
}
