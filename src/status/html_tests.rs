use super::*;
use crate::names::Scope;
use crate::plan::svg::{external, well_formed};
use crate::status::hops;
use crate::status::model::{AlarmState, Calls, Series};
use crate::status::read::Window;

const NOW: i64 = 1_700_003_570;
const HOSTILE: &str = "</svg><script>alert(1)</script>\"'&";

/// The lab's report with records at a few points of every records
/// metric, the way `status::read` builds it.
fn lab() -> Report {
    let l = crate::load::load_pipeline("lab");
    let (planned, paths) = hops::plan(&l.spec, &Scope::new("us-east-1", "123456789012"));
    let w = Window::ending(NOW, 3600);
    let hops = planned
        .iter()
        .map(|p| {
            let metrics: Vec<Series> = p
                .metrics
                .iter()
                .map(|(m, v)| {
                    let mut values = vec![None; w.points];
                    if matches!(m.role, Role::RecordsIn | Role::RecordsOut) {
                        values[50] = Some(600.0);
                        values[58] = Some(1200.0);
                    }
                    Series::new(m, v, values)
                })
                .collect();
            let (verdict, reason) = crate::status::verdict::judge(p, &metrics, None, w, NOW);
            Hop {
                id: p.id.clone(),
                kind: p.kind,
                counts_in: p.counts_in,
                name: p.name.clone(),
                label: p.label.clone(),
                verdict,
                reason,
                console: p.console.clone(),
                records_in_per_minute: Some(30.0),
                records_out_per_minute: Some(30.0),
                bytes_in_per_minute: None,
                bytes_out_per_minute: None,
                metrics,
            }
        })
        .collect();
    Report {
        format_version: "1",
        pipeline: "lab".into(),
        env: "dev".into(),
        region: "us-east-1".into(),
        account: "123456789012".into(),
        deployed: true,
        start: "2023-11-14T22:13:00Z".into(),
        end: "2023-11-14T23:13:00Z".into(),
        start_epoch: w.start,
        end_epoch: w.end(),
        period_seconds: w.period,
        hops,
        paths,
        more_paths: false,
        alarms: vec![AlarmState {
            key: "lagging".into(),
            name: "lab-lagging".into(),
            state: "ALARM".into(),
            reason: Some("Threshold Crossed: 1 datapoint > 60000".into()),
            hop: None,
            metric: "GetRecords.IteratorAgeMilliseconds",
            threshold: 60_000.0,
            console: Some(
                "https://console.aws.amazon.com/cloudwatch/home?region=us-east-1#alarmsV2:alarm/lab-lagging".into(),
            ),
        }],
        calls: Calls { get_metric_data: 1, metric_queries: 14, describe_alarms: 1, describe_instances: 1 },
    }
}

/// The lab's report with hostile text wherever the spec or AWS put text.
fn hostile() -> Report {
    let mut r = lab();
    r.pipeline = HOSTILE.into();
    r.env = HOSTILE.into();
    for h in &mut r.hops {
        h.label = format!("{} {HOSTILE}", h.label);
        h.name = HOSTILE.into();
        h.reason = format!("{HOSTILE} \u{1b}[31m");
    }
    r.hops[0].console = Some("javascript:alert(1)".into());
    r.alarms[0].name = HOSTILE.into();
    r.alarms[0].reason = Some(HOSTILE.into());
    r
}

#[test]
fn a_hostile_label_in_the_page_stays_text() {
    let page = page(&hostile());
    well_formed(&page).unwrap();
    assert!(!page.to_ascii_lowercase().contains("<script"), "a script element appeared");
    assert!(!page.contains("javascript:"), "a javascript: link was made");
    assert!(!page.contains('\u{1b}'), "a control character went through");
    let escaped = "&lt;/svg&gt;&lt;script&gt;alert(1)&lt;/script&gt;";
    // The title, the heading, every hop's block, the graph's boxes, the alarm.
    assert!(page.matches(escaped).count() > 3 * hostile().hops.len(), "{page}");
}

#[test]
fn the_page_loads_nothing_from_elsewhere() {
    let r = hostile();
    let page = page(&r);
    for found in external(&page) {
        let host = found.strip_prefix("href=\"https://").and_then(|u| u.split('/').next()).unwrap_or_default();
        assert!(host.ends_with("console.aws.amazon.com"), "{found}");
    }
    let links = page.matches("<a href=\"https://").count();
    assert_eq!(page.matches("href=\"http").count(), links, "every http(s) reference is a link");
    let consoles =
        r.hops.iter().filter_map(|h| h.console.as_deref()).chain(r.alarms.iter().filter_map(|a| a.console.as_deref()));
    assert_eq!(links, consoles.filter(|c| c.starts_with("https://")).count(), "every console link is there");
    let lower = page.to_ascii_lowercase();
    for never in ["<script", "src=", "@import", "url(http", "<link", "<img", "<iframe", "<object", "@font-face"] {
        assert!(!lower.contains(never), "{never}");
    }
    assert!(page.contains("default-src 'none'"), "the policy forbids loading anything");
}

#[test]
fn every_hop_has_a_chart_with_its_verdict_reason_and_figures() {
    let r = lab();
    let page = page(&r);
    well_formed(&page).unwrap();
    let articles: Vec<&str> = page.split("<article ").skip(1).collect();
    assert_eq!(articles.len(), r.hops.len());
    for (h, a) in r.hops.iter().zip(&articles) {
        assert_eq!(a.matches("<svg class=\"chart\"").count(), 1, "{}", h.id);
        assert!(a.contains(&escape(&h.label)) && a.contains(&escape(&h.reason)), "{}", h.id);
        assert!(a.contains(&format!(">{}</span>", h.verdict.as_str())), "{}", h.id);
        if h.records_in_per_minute.is_some() {
            let name = if h.counts_in == "records" { "records in" } else { "invocations" };
            assert!(a.contains(&format!("<th>{name}</th><td>30/min</td>")), "{}", h.id);
        }
    }
    // The graph has a box per hop, filled by its verdict.
    let graph = &page[page.find("<section id=\"paths\">").unwrap()..page.find("<section id=\"hops\">").unwrap()];
    for h in &r.hops {
        assert!(graph.contains(&escape(&h.label)), "{} not in the graph", h.id);
    }
    assert!(graph.contains(&format!("{}ff", verdict_colour(r.hops[0].verdict))), "the fill of its verdict");
    assert!(page.contains("Read with 1 GetMetricData call (14 metrics)"));
    assert!(page.contains("lab-lagging") && page.contains("ALARM"));
}

#[test]
fn a_chart_has_a_bar_per_point_with_data_and_the_highest_on_its_axis() {
    let r = lab();
    let h = r.hops.iter().find(|h| h.id.starts_with("stream.")).unwrap();
    let c = chart::records(&r, h);
    well_formed(&c).unwrap();
    let bars = c.matches("<title>").count();
    let points: usize = [Role::RecordsIn, Role::RecordsOut]
        .iter()
        .filter_map(|role| crate::status::text::combined(h, *role))
        .map(|v| v.iter().flatten().count())
        .sum();
    assert_eq!(bars, points);
    assert!(c.contains(">1,200</text>") && c.contains(">600</text>"), "{c}");
    assert!(c.contains(">22:13</text>") && c.contains(">23:13</text>"), "{c}");
    assert!(c.contains("<title>23:11 in: 1,200</title>"), "{c}");
}

#[test]
fn a_hop_without_data_still_has_its_chart() {
    let mut r = lab();
    for h in &mut r.hops {
        for m in &mut h.metrics {
            m.values.iter_mut().for_each(|v| *v = None);
        }
    }
    r.hops[0].metrics.clear();
    let page = page(&r);
    well_formed(&page).unwrap();
    assert_eq!(page.matches("<svg class=\"chart\"").count(), r.hops.len());
    assert!(page.contains("no records metric for this hop"));
}

#[test]
fn a_hops_other_figures_show_in_their_units_and_the_silent_ones_in_one_row() {
    let mut r = lab();
    let stream = r.hops.iter_mut().find(|h| h.id.starts_with("stream.")).unwrap();
    let age = stream.metrics.iter_mut().find(|m| m.metric == "GetRecords.IteratorAgeMilliseconds").unwrap();
    age.values[10] = Some(90_000.0);
    age.values[20] = Some(1_500.0);
    *age = Series::new(crate::metrics::all().iter().find(|m| m.name == age.metric).unwrap(), "s", age.values.clone());
    let page = page(&r);
    assert!(page.contains("<th>GetRecords.IteratorAgeMilliseconds</th><td>90 s at most, 1.5 s latest</td>"), "{page}");
    let article = page.split("<article ").find(|a| a.contains("stream.trips")).unwrap();
    let quiet = article.split("<th>no data in the window</th><td>").nth(1).unwrap();
    assert!(quiet.starts_with("IncomingBytes, "), "{quiet}");
    assert!(!quiet[..quiet.find("</td>").unwrap()].contains("IteratorAgeMilliseconds"));
}
