//! The `--watch` view of a report drawn into a ratatui frame: the header
//! (pipeline, window, when it was read and when it is read next), the
//! paths, a table of hops and the alarms. Pure: a `TestBackend` shows
//! exactly what a terminal would.
//!
//! Every text from the spec or AWS is drawn through
//! `diag::value::terminal_safe`: an escape sequence in a name shows as
//! `\u{001b}[2J` and drives nothing.

use super::figures::{amount, duration, rate};
use super::model::{Hop, Report, Verdict};
use super::text::{combined, label_width, sparkline, verdict_style, window, SPARK_WIDTH};
use crate::diag::value::terminal_safe;
use crate::metrics::{Role, Unit};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table, Wrap};
use ratatui::Frame;

/// What the view shows at one moment.
#[derive(Debug, Clone, Copy)]
pub struct View<'a> {
    /// The last report read, if one was.
    pub report: Option<&'a Report>,
    /// Why the last read failed, shown until a read succeeds.
    pub error: Option<&'a str>,
    /// When the report (or the failure) was read, seconds since the epoch.
    pub refreshed: Option<i64>,
    /// Seconds to the next read; `None` while a read is under way.
    pub next_in: Option<u64>,
    /// How often the view reads again.
    pub interval: u64,
    /// Whether verdicts and states are drawn in colour (`term::colour`).
    pub colour: bool,
}

/// The columns between the hop's label and its reason, at their widest.
const FIXED: u16 = 8 + 2 * (SPARK_WIDTH as u16 + 11) + 4;

/// Draws `v` over the whole frame.
pub fn draw(frame: &mut Frame, v: &View) {
    let area = frame.area();
    let Some(r) = v.report else {
        let mut lines = vec![Line::from(Span::styled("pipectl status --watch", bold())), status_line(v)];
        lines.extend(error_line(v));
        lines.push(Line::from(Span::styled("q quit", dim())));
        frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), area);
        return;
    };
    // Heights are worked out here, the hops' table first: the paths (each
    // wrapped, at most a quarter of the screen) and the alarms (at most a
    // fifth) give way to it, so the worst hops are always drawn.
    let width = area.width.max(1) as usize;
    let rows_of = |w: usize| w.div_ceil(width).max(1) as u16;
    let error = error_line(v);
    let error_rows = error.as_ref().map_or(0, |l| rows_of(l.width()).min(3));
    let head = 2 + error_rows + 1;
    let path_lines: Vec<Line> = r.paths.iter().map(|p| path_line(r, p, v.colour)).collect();
    let quarter = (area.height / 4).max(1);
    let (mut path_rows, mut shown_paths) = (0u16, 0usize);
    for l in &path_lines {
        let h = rows_of(l.width());
        if path_rows + h > quarter {
            break;
        }
        path_rows += h;
        shown_paths += 1;
    }
    let more_paths = shown_paths < path_lines.len();
    let mut paths = if path_lines.is_empty() { 0 } else { 1 + path_rows + u16::from(more_paths) + 1 };
    let fifth = (area.height / 5).max(2);
    let shown_alarms = r.alarms.len().min(fifth as usize - 1);
    let more_alarms = r.alarms.len() - shown_alarms;
    let mut alarms = if r.alarms.is_empty() { 0 } else { 1 + shown_alarms as u16 + u16::from(more_alarms > 0) };
    // Too short for all of it: the alarms go first, then the paths.
    let rest = |paths: u16, alarms: u16| area.height.saturating_sub(head + paths + alarms + 1);
    if rest(paths, alarms) < 3 {
        alarms = 0;
    }
    if rest(paths, alarms) < 3 {
        paths = 0;
    }
    let [head_a, paths_a, hops_a, alarms_a, foot_a] = Layout::vertical([
        Constraint::Length(head),
        Constraint::Length(paths),
        Constraint::Fill(1),
        Constraint::Length(alarms),
        Constraint::Length(1),
    ])
    .areas(area);

    let mut header = vec![
        Line::from(Span::styled(
            safe(&format!("pipeline `{}`, env `{}`, {} · {}", r.pipeline, r.env, r.region, window(r))),
            bold(),
        )),
        status_line(v),
    ];
    header.extend(error);
    frame.render_widget(Paragraph::new(header).wrap(Wrap { trim: false }), head_a);

    if paths > 0 {
        let mut lines = vec![Line::from(Span::styled("paths", bold()))];
        lines.extend(path_lines.into_iter().take(shown_paths));
        if more_paths {
            lines.push(Line::from(Span::styled(format!("  … {} more paths", r.paths.len() - shown_paths), dim())));
        }
        frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), paths_a);
    }
    frame.render_widget(hop_table(r, hops_a, v.colour), hops_a);
    if alarms > 0 {
        let mut lines = vec![Line::from(Span::styled("alarms", bold()))];
        // Those in ALARM first.
        let mut listed: Vec<_> = r.alarms.iter().collect();
        listed.sort_by_key(|a| a.state != "ALARM");
        lines.extend(listed.into_iter().take(shown_alarms).map(|a| {
            let state = match a.state.as_str() {
                "OK" => verdict(Verdict::Flowing, v.colour),
                "ALARM" => verdict(Verdict::Failing, v.colour),
                _ => verdict(Verdict::Unknown, v.colour),
            };
            let on = a.hop.as_deref().and_then(|h| r.hop(h)).map(|h| format!(" on {}", h.label)).unwrap_or_default();
            let unit = crate::metrics::all().iter().find(|m| m.name == a.metric).map_or(Unit::Count, |m| m.unit);
            Line::from(vec![
                Span::raw("  "),
                Span::styled(format!("{:<17}", safe(&a.state)), state),
                Span::raw(safe(&format!(" {} ({} over {}{on})", a.name, a.metric, amount(a.threshold, unit)))),
            ])
        }));
        if more_alarms > 0 {
            lines.push(Line::from(Span::styled(format!("  … {more_alarms} more alarms"), dim())));
        }
        frame.render_widget(Paragraph::new(lines), alarms_a);
    }
    frame.render_widget(
        Paragraph::new(Line::from(Span::styled(
            format!("q quit · reads every {}", duration(v.interval as i64)),
            dim(),
        ))),
        foot_a,
    );
}

/// `refreshed 14:05:12, next in 27s`, or that a read is under way.
fn status_line(v: &View) -> Line<'static> {
    let text = match (v.refreshed, v.next_in) {
        (Some(at), Some(n)) => format!("refreshed {}, next in {n}s", clock_seconds(at)),
        (Some(at), None) => format!("refreshed {}, reading…", clock_seconds(at)),
        (None, _) => "reading the pipeline's metrics…".to_string(),
    };
    Line::from(Span::styled(text, dim()))
}

/// The last read's failure, in the failing colour.
fn error_line(v: &View) -> Option<Line<'static>> {
    let e = v.error?;
    let style = if v.colour { Style::new().fg(Color::Red).add_modifier(Modifier::BOLD) } else { bold() };
    let retry = v.next_in.map_or_else(|| "retrying now".to_string(), |n| format!("retrying in {n}s"));
    // The retry first: the message may be longer than the terminal.
    Some(Line::from(Span::styled(safe(&format!("read failed ({retry}), showing the last report: {e}")), style)))
}

/// One path: each hop's label and verdict, joined by arrows.
fn path_line<'a>(r: &Report, path: &[String], colour: bool) -> Line<'a> {
    let mut spans = vec![Span::raw("  ")];
    for (i, h) in path.iter().filter_map(|id| r.hop(id)).enumerate() {
        if i > 0 {
            spans.push(Span::raw(" ─▶ "));
        }
        spans.push(Span::raw(safe(&h.label)));
        spans.push(Span::raw(" "));
        spans.push(Span::styled(format!("[{}]", h.verdict.as_str()), verdict(h.verdict, colour)));
    }
    Line::from(spans)
}

/// The hops: verdict, label, records in and out (a sparkline over the
/// window and the rate per minute), and the reason.
fn hop_table<'a>(r: &'a Report, area: Rect, colour: bool) -> Table<'a> {
    let label = label_width(r).max(3) as u16;
    // The sparklines narrow first, so the reason keeps 40 columns.
    let room = area.width.saturating_sub(label + 40);
    let spark = if room >= FIXED { SPARK_WIDTH } else { (room.saturating_sub(8 + 4 + 22) / 2) as usize };
    let figures = (spark + 11) as u16;
    // The reason wraps onto up to three lines of its column.
    let why = area.width.saturating_sub(8 + label + 2 * figures + 4).max(10) as usize;
    // Worst first; when they do not all fit, a last row says how many
    // are not shown (the worst never are).
    let mut hops: Vec<(&Hop, Vec<String>)> = r.hops.iter().map(|h| (h, wrap(&safe(&h.reason), why, 3))).collect();
    hops.sort_by_key(|(h, _)| h.verdict);
    let budget = area.height.saturating_sub(1) as usize;
    // Too many lines: each reason on one line (cut with `…`) first.
    if hops.iter().map(|(_, w)| w.len()).sum::<usize>() > budget {
        for (h, w) in &mut hops {
            *w = wrap(&safe(&h.reason), why, 1);
        }
    }
    if hops.iter().map(|(_, w)| w.len()).sum::<usize>() > budget {
        let mut used = 1; // the row that says how many more
        let shown = hops.iter().take_while(|(_, w)| {
            used += w.len();
            used <= budget
        });
        let shown = shown.count();
        hops.truncate(shown);
    }
    let hidden = r.hops.len() - hops.len();
    let more = (hidden > 0).then(|| {
        Row::new(vec![
            Cell::from(""),
            Cell::from(Span::styled(format!("… {hidden} more hops (a taller terminal shows them)"), dim())),
        ])
    });
    let rows = hops.into_iter().map(|(h, why)| {
        let height = why.len().max(1) as u16;
        Row::new(vec![
            Cell::from(Span::styled(h.verdict.as_str(), verdict(h.verdict, colour))),
            Cell::from(safe(&h.label)),
            Cell::from(flow(h, Role::RecordsIn, h.records_in_per_minute, spark)),
            Cell::from(flow(h, Role::RecordsOut, h.records_out_per_minute, spark)),
            Cell::from(ratatui::text::Text::from(why.into_iter().map(Line::from).collect::<Vec<_>>())),
        ])
        .height(height)
    });
    let rows = rows.chain(more);
    let header = Row::new(["verdict", "hop", "records in", "records out", "why"])
        .style(Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED));
    Table::new(
        rows,
        [
            Constraint::Length(8),
            Constraint::Length(label),
            Constraint::Length(figures),
            Constraint::Length(figures),
            Constraint::Fill(1),
        ],
    )
    .header(header)
    .column_spacing(1)
}

/// `text` in lines of at most `width` characters, broken at spaces (a
/// longer word is cut), at most `most` lines, the last ending in `…` when
/// there was more.
pub fn wrap(text: &str, width: usize, most: usize) -> Vec<String> {
    let width = width.max(2);
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        let mut word: Vec<char> = word.chars().collect();
        loop {
            let room = if line.is_empty() { width } else { width.saturating_sub(line.chars().count() + 1) };
            if word.len() <= room {
                if !line.is_empty() {
                    line.push(' ');
                }
                line.extend(word.iter());
                break;
            }
            if line.is_empty() {
                line.extend(word.drain(..width));
            }
            lines.push(std::mem::take(&mut line));
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    if lines.len() > most {
        lines.truncate(most);
        let last = &mut lines[most - 1];
        let keep: String = last.chars().take(width - 1).collect();
        *last = format!("{keep}…");
    }
    lines
}

/// A hop's records of one role: the sparkline and the rate per minute,
/// or nothing when the hop has no such metric.
pub fn flow(h: &Hop, role: Role, per_minute: Option<f64>, width: usize) -> String {
    match (combined(h, role), per_minute) {
        (Some(points), Some(pm)) if width > 0 => format!("{} {:>6}/min", sparkline(&points, width, true), rate(pm)),
        (Some(_), Some(pm)) => format!("{:>6}/min", rate(pm)),
        _ => String::new(),
    }
}

/// A verdict's style: the palette of the text output, or bold only
/// without colour.
fn verdict(v: Verdict, colour: bool) -> Style {
    if !colour {
        return bold();
    }
    let fg = match verdict_style(v).get_fg_color() {
        Some(anstyle::Color::Ansi(c)) => ansi(c),
        _ => Color::Reset,
    };
    Style::new().fg(fg).add_modifier(Modifier::BOLD)
}

fn ansi(c: anstyle::AnsiColor) -> Color {
    use anstyle::AnsiColor as A;
    match c {
        A::Black => Color::Black,
        A::Red => Color::Red,
        A::Green => Color::Green,
        A::Yellow => Color::Yellow,
        A::Blue => Color::Blue,
        A::Magenta => Color::Magenta,
        A::Cyan => Color::Cyan,
        A::White => Color::Gray,
        A::BrightBlack => Color::DarkGray,
        A::BrightRed => Color::LightRed,
        A::BrightGreen => Color::LightGreen,
        A::BrightYellow => Color::LightYellow,
        A::BrightBlue => Color::LightBlue,
        A::BrightMagenta => Color::LightMagenta,
        A::BrightCyan => Color::LightCyan,
        A::BrightWhite => Color::White,
    }
}

fn bold() -> Style {
    Style::new().add_modifier(Modifier::BOLD)
}

fn dim() -> Style {
    Style::new().add_modifier(Modifier::DIM)
}

fn safe(text: &str) -> String {
    terminal_safe(text).replace(['\n', '\t'], " ")
}

/// `14:05:12` (UTC).
pub fn clock_seconds(at: i64) -> String {
    let d = at.rem_euclid(86_400);
    format!("{:02}:{:02}:{:02}", d / 3600, d % 3600 / 60, d % 60)
}

#[cfg(test)]
#[path = "view_tests.rs"]
pub(crate) mod tests;
