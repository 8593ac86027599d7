//! A report as one self-contained HTML page (`status --html FILE`): pure,
//! `page(&Report) -> String`.
//!
//! The page opens without a network: its style is inline, its pictures
//! are inline SVG (the graph of the hops laid out by `plan::svg`, a chart
//! per hop by `chart`), it has no script, and its Content-Security-Policy
//! forbids loading anything at all. Its only URLs are the console links,
//! plain `<a href>` (followed when clicked, never loaded), and only
//! `https://` ones. Every text of the report is escaped: names, labels
//! and reasons come from the spec and from AWS.

use super::chart;
use super::figures::{amount, bytes, rate};
use super::model::{Hop, Report, Verdict};
use super::text::{path_lines, window};
use crate::metrics::Role;
use crate::plan::svg;
use std::fmt::Write as _;

/// What every page carries in its head: an existing file at `--html`'s
/// path is replaced only when it carries this too.
pub const GENERATOR: &str = r#"<meta name="generator" content="pipectl status" />"#;

/// `text` safe in HTML and XML text and in a quoted attribute: `&`, `<`,
/// `>` and both quotes as entities, control characters (other than a line
/// break or tab) and the two non-characters XML refuses as `�`.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\n' | '\t' => out.push(c),
            c if c.is_control() || matches!(c, '\u{FFFE}' | '\u{FFFF}') => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// The fill of a verdict, in the graph and on its badge.
pub fn verdict_colour(v: Verdict) -> &'static str {
    match v {
        Verdict::Failing => "#f4a3a3",
        Verdict::Stalled => "#e2b0f0",
        Verdict::Lagging => "#f6dc7d",
        Verdict::Unknown => "#d4d4d4",
        Verdict::Flowing => "#a6dca6",
        Verdict::Idle => "#eeeeee",
    }
}

const VERDICTS: [Verdict; 6] =
    [Verdict::Failing, Verdict::Stalled, Verdict::Lagging, Verdict::Unknown, Verdict::Flowing, Verdict::Idle];

const STYLE: &str = "
body { font-family: Helvetica, Arial, sans-serif; margin: 1.5em auto; max-width: 72em; padding: 0 1em; color: #222; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; }
h2 { font-size: 1.2em; border-bottom: 1px solid #ccc; padding-bottom: 0.2em; margin-top: 1.6em; }
h3 { font-size: 1.05em; margin: 0 0 0.3em 0; }
code { background: #f3f3f3; padding: 0 0.2em; }
.meta, .calls, .id { color: #666; }
.graph { overflow-x: auto; }
.graph svg { max-width: 100%; height: auto; }
.hop { border: 1px solid #ddd; border-left-width: 6px; padding: 0.8em 1em; margin: 1em 0; }
.badge { display: inline-block; padding: 0 0.5em; border-radius: 0.6em; font-size: 0.85em; border: 1px solid #999; }
.chart { max-width: 100%; height: auto; }
.chart .axis { font-size: 11px; fill: #555; }
table { border-collapse: collapse; margin: 0.4em 0; }
td, th { text-align: left; padding: 0.15em 0.8em 0.15em 0; vertical-align: top; }
th { font-weight: normal; color: #666; }
.legend span { margin-right: 0.8em; }
";

/// The whole page.
pub fn page(r: &Report) -> String {
    let mut s = String::new();
    let title = format!("pipectl status: pipeline {}, env {}, {}", r.pipeline, r.env, r.region);
    s.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\" />\n");
    s.push_str(GENERATOR);
    s.push('\n');
    // Nothing is loaded from anywhere, whatever the page holds.
    s.push_str(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\" />\n",
    );
    s.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\" />\n");
    let _ = writeln!(s, "<title>{}</title>", escape(&title));
    let _ = writeln!(s, "<style>{STYLE}</style>\n</head>\n<body>");
    let _ = writeln!(
        s,
        "<header>\n<h1>pipeline <code>{}</code>, env <code>{}</code></h1>\n<p class=\"meta\">{} · {} · {} to {}</p>\n<p>{}</p>\n</header>",
        escape(&r.pipeline),
        escape(&r.env),
        escape(&r.region),
        escape(&window(r)),
        escape(&r.start),
        escape(&r.end),
        escape(&summary(r))
    );
    graph_section(&mut s, r);
    s.push_str("<section id=\"hops\">\n<h2>Hops</h2>\n");
    for (i, h) in r.hops.iter().enumerate() {
        hop_section(&mut s, r, h, i);
    }
    s.push_str("</section>\n");
    alarms_section(&mut s, r);
    let _ = writeln!(
        s,
        "<footer>\n<p class=\"calls\">Read with {} GetMetricData call{} ({} metrics), {} DescribeAlarms, {} DescribeInstances. Written by pipectl {}.</p>\n</footer>",
        r.calls.get_metric_data,
        if r.calls.get_metric_data == 1 { "" } else { "s" },
        r.calls.metric_queries,
        r.calls.describe_alarms,
        r.calls.describe_instances,
        env!("CARGO_PKG_VERSION")
    );
    s.push_str("</body>\n</html>\n");
    s
}

/// `3 flowing, 1 idle`: how many hops have each verdict, worst first.
fn summary(r: &Report) -> String {
    let parts: Vec<String> = VERDICTS
        .iter()
        .filter_map(|v| {
            let n = r.hops.iter().filter(|h| h.verdict == *v).count();
            (n > 0).then(|| format!("{n} {}", v.as_str()))
        })
        .collect();
    if parts.is_empty() {
        "no hops".into()
    } else {
        format!("{} hop{}: {}", r.hops.len(), if r.hops.len() == 1 { "" } else { "s" }, parts.join(", "))
    }
}

/// The hops laid out as a graph along the paths, each filled by its
/// verdict, then the paths as text and the colours' legend.
fn graph_section(s: &mut String, r: &Report) {
    let nodes: Vec<svg::Node> = r
        .hops
        .iter()
        .map(|h| svg::Node { label: format!("{}\n{}", h.label, h.verdict.as_str()), fill: verdict_colour(h.verdict) })
        .collect();
    let index = |id: &str| r.hops.iter().position(|h| h.id == id);
    let edges: Vec<(usize, usize)> =
        r.paths.iter().flat_map(|p| p.windows(2).filter_map(|w| Some((index(&w[0])?, index(&w[1])?)))).collect();
    s.push_str("<section id=\"paths\">\n<h2>Paths</h2>\n<div class=\"graph\">\n");
    s.push_str(svg::inline(&svg::draw(&nodes, &edges)));
    s.push_str("\n</div>\n<p class=\"legend\">");
    for v in VERDICTS {
        let _ = write!(
            s,
            "<span><span class=\"badge\" style=\"background: {}\">{}</span></span>",
            verdict_colour(v),
            v.as_str()
        );
    }
    s.push_str("</p>\n<ul>\n");
    for line in path_lines(r, false) {
        let _ = writeln!(s, "<li>{}</li>", escape(&line));
    }
    s.push_str("</ul>\n</section>\n");
}

/// A hop: its verdict and label, the reason, its chart, its figures and
/// its console link.
fn hop_section(s: &mut String, r: &Report, h: &Hop, i: usize) {
    let colour = verdict_colour(h.verdict);
    let _ = writeln!(
        s,
        "<article class=\"hop\" id=\"hop-{i}\" style=\"border-left-color: {colour}\">\n<h3><span class=\"badge\" style=\"background: {colour}\">{}</span> {} <span class=\"id\">{} · {}</span></h3>",
        h.verdict.as_str(),
        escape(&h.label),
        escape(&h.id),
        escape(&h.name)
    );
    let _ = writeln!(s, "<p class=\"reason\">{}</p>", escape(&h.reason));
    s.push_str(&chart::records(r, h));
    s.push_str("\n<table>\n");
    let mut row = |name: &str, value: String| {
        let _ = writeln!(s, "<tr><th>{}</th><td>{}</td></tr>", escape(name), escape(&value));
    };
    let per_minute = [
        (
            if h.counts_in == "records" { "records in" } else { "invocations" },
            h.records_in_per_minute.map(|v| format!("{}/min", rate(v))),
        ),
        ("records out", h.records_out_per_minute.map(|v| format!("{}/min", rate(v)))),
        ("bytes in", h.bytes_in_per_minute.map(|v| format!("{}/min", bytes(v)))),
        ("bytes out", h.bytes_out_per_minute.map(|v| format!("{}/min", bytes(v)))),
    ];
    for (name, value) in per_minute {
        if let Some(v) = value {
            row(name, v);
        }
    }
    let mut quiet = Vec::new();
    for m in h.metrics.iter().filter(|m| !matches!(m.role, Role::RecordsIn | Role::RecordsOut)) {
        match (m.total, m.latest) {
            (None, _) => quiet.push(m.metric),
            (Some(t), Some(l)) if m.role == Role::Lag => {
                row(m.metric, format!("{} at most, {} latest", amount(t, m.unit), amount(l, m.unit)))
            }
            (Some(t), _) => row(m.metric, amount(t, m.unit)),
        }
    }
    if !quiet.is_empty() {
        row("no data in the window", quiet.join(", "));
    }
    s.push_str("</table>\n");
    if let Some(link) = h.console.as_deref().and_then(console_link) {
        let _ = writeln!(s, "<p>{link}</p>");
    }
    s.push_str("</article>\n");
}

/// A console link as `<a href>`, only for an `https://` URL.
fn console_link(url: &str) -> Option<String> {
    url.starts_with("https://")
        .then(|| format!("<a href=\"{}\" rel=\"noreferrer\">open in the AWS console</a>", escape(url)))
}

/// The alarms of the spec and their states.
fn alarms_section(s: &mut String, r: &Report) {
    if r.alarms.is_empty() {
        return;
    }
    s.push_str(
        "<section id=\"alarms\">\n<h2>Alarms</h2>\n<table>\n<tr><th>state</th><th>alarm</th><th>metric</th><th>threshold</th><th>on</th><th></th></tr>\n",
    );
    for a in &r.alarms {
        let colour = match a.state.as_str() {
            "OK" => verdict_colour(Verdict::Flowing),
            "ALARM" => verdict_colour(Verdict::Failing),
            _ => verdict_colour(Verdict::Unknown),
        };
        let unit =
            crate::metrics::all().iter().find(|m| m.name == a.metric).map_or(crate::metrics::Unit::Count, |m| m.unit);
        let on = a.hop.as_deref().and_then(|h| r.hop(h)).map(|h| h.label.clone()).unwrap_or_default();
        let reason =
            a.reason.as_deref().map(|r| format!("<br /><span class=\"meta\">{}</span>", escape(r))).unwrap_or_default();
        let _ = writeln!(
            s,
            "<tr><td><span class=\"badge\" style=\"background: {colour}\">{}</span></td><td>{}{reason}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&a.state),
            escape(&a.name),
            escape(a.metric),
            escape(&amount(a.threshold, unit)),
            escape(&on),
            a.console.as_deref().and_then(console_link).unwrap_or_default()
        );
    }
    s.push_str("</table>\n</section>\n");
}

#[cfg(test)]
#[path = "html_tests.rs"]
mod tests;
