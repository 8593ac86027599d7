use super::*;
use crate::metrics::{named, stream};
use crate::status::model::{AlarmState, Calls, HopKind, Series};
use ratatui::backend::TestBackend;
use ratatui::Terminal;

/// A report of two hops, the first with records in each minute.
pub fn report(first_label: &str) -> Report {
    let incoming = named(stream::METRICS, "IncomingRecords");
    let values: Vec<Option<f64>> = (0..60).map(|i| Some(i as f64)).collect();
    let hop = |id: &str, kind, label: &str, verdict, reason: &str, metrics: Vec<Series>| Hop {
        id: id.into(),
        kind,
        counts_in: "records",
        name: id.into(),
        label: label.into(),
        verdict,
        reason: reason.into(),
        console: None,
        records_in_per_minute: (!metrics.is_empty()).then_some(29.5),
        records_out_per_minute: None,
        bytes_in_per_minute: None,
        bytes_out_per_minute: None,
        metrics,
    };
    Report {
        format_version: "1",
        pipeline: "taxi".into(),
        env: "main".into(),
        region: "us-east-1".into(),
        account: "123456789012".into(),
        deployed: true,
        start: "2026-12-07T14:00:00Z".into(),
        end: "2026-12-07T15:00:00Z".into(),
        start_epoch: 1_796_652_000,
        end_epoch: 1_796_655_600,
        period_seconds: 60,
        hops: vec![
            hop(
                "stream.trips",
                HopKind::Stream,
                first_label,
                Verdict::Flowing,
                "1,770 records in (29.5/min)",
                vec![Series::new(incoming, "taxi-trips", values)],
            ),
            hop("firehose.to_lake", HopKind::Firehose, "firehose to_lake", Verdict::Stalled, "none out", vec![]),
        ],
        paths: vec![vec!["stream.trips".into(), "firehose.to_lake".into()]],
        more_paths: false,
        alarms: vec![AlarmState {
            key: "lag".into(),
            name: "taxi-main-lag".into(),
            state: "ALARM".into(),
            reason: None,
            hop: Some("stream.trips".into()),
            metric: "GetRecords.IteratorAgeMilliseconds",
            threshold: 60_000.0,
            console: None,
        }],
        calls: Calls::default(),
    }
}

/// The frame as lines of text.
fn screen(v: &View, width: u16, height: u16) -> Vec<String> {
    let mut t = Terminal::new(TestBackend::new(width, height)).unwrap();
    t.draw(|f| draw(f, v)).unwrap();
    let buf = t.backend().buffer();
    (0..height)
        .map(|y| (0..width).map(|x| buf[(x, y)].symbol().to_string()).collect::<String>().trim_end().to_string())
        .collect()
}

fn view(r: &Report) -> View<'_> {
    View { report: Some(r), error: None, refreshed: Some(1_796_655_012), next_in: Some(27), interval: 30, colour: true }
}

#[test]
fn every_hop_label_and_verdict_is_drawn_with_the_refresh_time() {
    let r = report("stream trips");
    let s = screen(&view(&r), 140, 20).join("\n");
    for h in &r.hops {
        let row = s.lines().find(|l| l.contains(&h.label) && l.contains(h.verdict.as_str()));
        assert!(row.is_some(), "no row with {} {}:\n{s}", h.label, h.verdict.as_str());
    }
    assert!(s.contains("pipeline `taxi`, env `main`, us-east-1"), "{s}");
    assert!(s.contains("refreshed 14:50:12, next in 27s"), "{s}");
    assert!(s.contains("stream trips [flowing] ─▶ firehose to_lake [stalled]"), "{s}");
    assert!(s.contains("ALARM") && s.contains("taxi-main-lag"), "{s}");
    assert!(s.contains("█     30/min"), "the sparkline and rate are drawn:\n{s}");
    assert!(s.contains("q quit"), "{s}");
}

#[test]
fn a_verdict_is_coloured_only_when_colour_is_on() {
    let r = report("stream trips");
    let fg_of = |colour: bool| {
        let mut t = Terminal::new(TestBackend::new(140, 20)).unwrap();
        t.draw(|f| draw(f, &View { colour, ..view(&r) })).unwrap();
        let buf = t.backend().buffer().clone();
        let y = (0..20).find(|&y| (0..8).map(|x| buf[(x, y)].symbol()).collect::<String>() == "flowing ").unwrap();
        buf[(0, y)].fg
    };
    assert_eq!(fg_of(true), Color::Green);
    assert_eq!(fg_of(false), Color::Reset);
}

#[test]
fn a_hostile_label_with_escape_sequences_is_drawn_inert() {
    let r = report("stream \x1b[2J\x1b]0;owned\x07trips\u{202e}");
    let s = screen(&view(&r), 160, 20).join("\n");
    assert!(!s.chars().any(|c| c.is_control() && c != '\n'), "a control character reached the screen:\n{s:?}");
    assert!(!s.contains('\u{202e}'), "{s:?}");
    assert!(s.contains("stream \\u{001b}[2J"), "the escape is shown, not obeyed:\n{s}");
}

#[test]
fn a_narrow_terminal_keeps_every_label_and_verdict() {
    let r = report("stream trips");
    let s = screen(&view(&r), 60, 20).join("\n");
    for h in &r.hops {
        assert!(s.contains(&h.label) && s.contains(h.verdict.as_str()), "{s}");
    }
}

#[test]
fn a_read_failure_is_shown_with_its_retry_and_before_any_report() {
    let r = report("stream trips");
    let failed = View { error: Some("throttled\x1b[2J"), ..view(&r) };
    let s = screen(&failed, 140, 20).join("\n");
    assert!(s.contains("read failed (retrying in 27s), showing the last report: throttled\\u{001b}[2J"), "{s}");
    assert!(s.contains("stream trips"), "the last report stays:\n{s}");
    let first = View { report: None, error: None, refreshed: None, next_in: None, interval: 30, colour: false };
    let s = screen(&first, 80, 5).join("\n");
    assert!(s.contains("reading the pipeline's metrics…"), "{s}");
}

#[test]
fn a_flow_without_room_for_a_sparkline_keeps_its_rate() {
    let r = report("stream trips");
    assert_eq!(flow(&r.hops[0], Role::RecordsIn, Some(29.5), 0), "    30/min");
    assert_eq!(flow(&r.hops[0], Role::RecordsIn, Some(2.5), 4).chars().count(), 4 + 1 + 10);
    assert_eq!(flow(&r.hops[1], Role::RecordsIn, None, 30), "");
    assert_eq!(clock_seconds(3_661), "01:01:01");
}

#[test]
fn a_long_reason_wraps_in_its_column_instead_of_being_cut() {
    use super::wrap;
    assert_eq!(
        wrap("9,562 records in from 16:05 on, none out", 20, 3),
        ["9,562 records in", "from 16:05 on, none", "out"]
    );
    assert_eq!(wrap("abcdefghij", 4, 3), ["abcd", "efgh", "ij"]);
    assert_eq!(wrap("one two three four five six", 8, 2), ["one two", "three…"]);
    assert!(wrap("", 10, 3).is_empty());
}

#[test]
fn a_short_terminal_hid_every_hop_behind_the_alarms_and_long_reasons() {
    let mut r = report("stream trips");
    let alarm = r.alarms[0].clone();
    r.alarms = (0..8).map(|i| AlarmState { name: format!("alarm-{i}"), ..alarm.clone() }).collect();
    for h in &mut r.hops {
        h.reason = "a reason long enough to wrap onto several lines of its column in a narrow view ".repeat(3);
    }
    for (w, h) in [(150, 16), (60, 12), (60, 9)] {
        let s = screen(&view(&r), w, h).join("\n");
        assert!(s.contains("stalled") && s.contains("firehose to_lake"), "the worst hop at {w}x{h}:\n{s}");
    }
}

#[test]
fn a_path_too_wide_for_the_terminal_wrapped_instead_of_losing_its_end() {
    let r = report("stream trips");
    let s = screen(&view(&r), 30, 30).join("\n");
    let paths = &s[..s.find("verdict").unwrap()];
    assert!(paths.contains("[stalled]"), "the end of the path and its verdict:\n{s}");
}
