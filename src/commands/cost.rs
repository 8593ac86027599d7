//! `pipectl cost SPEC`: what the spec costs a month once deployed, offline.
//! No credentials and no AWS call: the account is assumed empty, so every
//! resource is a create, and the estimate is the one `plan` shows for that
//! account (`deployment::offline_estimate`, the resources' `usage()`
//! priced from `prices/aws.json`). As text, JSON, or a Markdown table for a
//! pull-request comment.

use super::emitln;
use crate::cli::{CostArgs, Global, PlanFormat};
use crate::cost::{money, Estimate, Item};
use crate::load::Loaded;
use crate::plan::markdown::{cell, code};
use crate::BadInput;
use std::fmt::Write as _;
use std::process::ExitCode;

pub fn run(g: &Global, a: &CostArgs) -> anyhow::Result<ExitCode> {
    let loaded = crate::load::load(&a.spec, &crate::deployment::options(g))?;
    let region = region(&loaded).ok_or_else(|| {
        BadInput::error(
            format!("{}: no region to price in", loaded.file),
            "pass `--region` (prices differ between regions), or set the spec's `region:` or AWS_REGION",
        )
    })?;
    let table = crate::cost::table();
    if !table.regions.contains_key(&region) {
        // Refused, not guessed; `validate` prices at the same nearest
        // region and says so, and its hint is this command with it.
        let known: Vec<&str> = table.regions.keys().map(String::as_str).collect();
        let nearest = crate::cost::nearest_priced(&region, table);
        return Err(BadInput::error(
            format!("the price table ({}) has no prices for {region}", table.version),
            format!(
                "it prices {}; for an approximation at the nearest one's prices: `pipectl cost {} --region {nearest}`",
                known.join(", "),
                super::init::shell_word(&loaded.file)
            ),
        ));
    }
    let e = crate::deployment::offline_estimate(&loaded, &region, a.cost.assume_gb_per_day);
    match a.format.unwrap_or(if g.json { PlanFormat::Json } else { PlanFormat::Text }) {
        PlanFormat::Json => emitln!("{}", json(&loaded, &e)),
        PlanFormat::Markdown => emitln!("{}", markdown(&loaded, &e)),
        PlanFormat::Text => emitln!("{}", text(&loaded, &e)),
    }
    Ok(ExitCode::SUCCESS)
}

/// The region priced: `--region` or the spec's, else the environment's.
pub fn region(loaded: &Loaded) -> Option<String> {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    loaded.spec.region.clone().or_else(|| env("AWS_REGION")).or_else(|| env("AWS_DEFAULT_REGION"))
}

/// `730 h`, `1 month`, `30.417 GB`.
fn quantity(i: &Item) -> String {
    let n = crate::cost::trim(i.quantity);
    match i.unit {
        "hour" => format!("{n} h"),
        "month" => format!("{n} month"),
        u => format!("{n} {u}"),
    }
}

fn unit_price(i: &Item) -> String {
    let unit = if i.unit == "hour" { "h" } else { i.unit };
    format!("{}/{unit}", price(i.unit_price))
}

/// A unit price to the precision the table gives it.
fn price(x: f64) -> String {
    let s = format!("{x:.6}");
    let s = s.trim_end_matches('0');
    let s = if s.ends_with('.') { format!("{s}00") } else { s.to_string() };
    let decimals = s.split('.').nth(1).map_or(0, str::len);
    if decimals < 2 {
        format!("${x:.2}")
    } else {
        format!("${s}")
    }
}

fn heading(loaded: &Loaded, e: &Estimate) -> String {
    format!(
        "`{}` (env `{}`) in {}, the account assumed empty (every resource a create)",
        loaded.spec.pipeline, loaded.spec.env, e.region
    )
}

fn sources() -> String {
    let t = crate::cost::table();
    t.sources.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", ")
}

fn text(loaded: &Loaded, e: &Estimate) -> String {
    let mut out = format!("Cost of {}:\n", heading(loaded, e));
    let rows: Vec<[String; 5]> = e
        .items
        .iter()
        .map(|i| [i.address.clone(), i.what.clone(), quantity(i), unit_price(i), format!("${:.2}", i.monthly)])
        .collect();
    let header = ["resource", "what", "quantity", "unit price", "per month"].map(String::from);
    let total = ["total".into(), String::new(), String::new(), String::new(), format!("${:.2}", e.monthly)];
    let all: Vec<&[String; 5]> = std::iter::once(&header).chain(&rows).chain(std::iter::once(&total)).collect();
    let w: Vec<usize> = (0..5).map(|c| all.iter().map(|r| r[c].chars().count()).max().unwrap_or(0)).collect();
    let mut last = "";
    for r in &all {
        // One table per resource: its name once, above its lines.
        let name = if r[0] == last { "" } else { r[0].as_str() };
        last = &r[0];
        let line = format!(
            "  {:<a$}  {:<b$}  {:>c$}  {:>d$}  {:>f$}",
            name,
            r[1],
            r[2],
            r[3],
            r[4],
            a = w[0],
            b = w[1],
            c = w[2],
            d = w[3],
            f = w[4]
        );
        let _ = writeln!(out, "{}", line.trim_end());
    }
    let _ = writeln!(
        out,
        "\n{}/month, {} an hour; idle (without the per-GB items) ${:.2}/month. {} GB/day assumed into each stream and Firehose (--assume-gb-per-day).",
        e.at_least(e.monthly),
        money(e.hourly),
        e.idle_hourly * crate::cost::HOURS_PER_MONTH,
        e.assume_gb_per_day
    );
    for n in &e.not_estimated {
        let _ = writeln!(out, "not estimated: {n}");
    }
    for n in &e.notes {
        let _ = writeln!(out, "note: {n}");
    }
    let _ = write!(out, "Prices of {} ({}, on-demand list prices): {}", e.prices_version, e.currency, sources());
    out
}

fn markdown(loaded: &Loaded, e: &Estimate) -> String {
    let mut out = format!("### Cost of {}\n\n", heading(loaded, e));
    out.push_str("| Resource | What | Quantity | Unit price | Per month |\n|---|---|--:|--:|--:|\n");
    for i in &e.items {
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} | ${:.2} |",
            code(&i.address),
            cell(&i.what),
            quantity(i),
            unit_price(i),
            i.monthly
        );
    }
    let _ = writeln!(out, "| **Total** | | | | **{}** |", e.at_least(e.monthly));
    let _ = writeln!(
        out,
        "\nIdle (without the per-GB items): ${:.2}/month; {} GB/day assumed into each stream and Firehose.",
        e.idle_hourly * crate::cost::HOURS_PER_MONTH,
        e.assume_gb_per_day
    );
    if !e.not_estimated.is_empty() {
        out.push_str("\nNot estimated:\n");
        for n in &e.not_estimated {
            let _ = writeln!(out, "- {}", cell(n));
        }
    }
    if !e.notes.is_empty() {
        out.push_str("\nNote:\n");
        for n in &e.notes {
            let _ = writeln!(out, "- {}", cell(n));
        }
    }
    let links: Vec<String> = crate::cost::table().sources.iter().map(|(k, v)| format!("[{k}]({v})")).collect();
    let _ =
        write!(out, "\nPrices of {} ({}, on-demand list prices): {}.", e.prices_version, e.currency, links.join(", "));
    out
}

/// The estimate as `plan --json` gives it under `cost` (the same names:
/// `address`, `prices_version`, ...), with the spec it prices, the table's
/// sources and the idle monthly figure.
fn json(loaded: &Loaded, e: &Estimate) -> serde_json::Value {
    let mut doc = serde_json::json!({
        "format_version": "1",
        "spec": loaded.file,
        "pipeline": loaded.spec.pipeline,
        "env": loaded.spec.env,
        "sources": crate::cost::table().sources,
        "idle_monthly": e.idle_hourly * crate::cost::HOURS_PER_MONTH,
    });
    if let (Some(doc), Ok(serde_json::Value::Object(fields))) = (doc.as_object_mut(), serde_json::to_value(e)) {
        doc.extend(fields);
    }
    doc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_prices_keep_the_tables_precision() {
        assert_eq!(price(0.015), "$0.015");
        assert_eq!(price(3.0), "$3.00");
        assert_eq!(price(0.1), "$0.10");
        assert_eq!(price(0.0116), "$0.0116");
    }

    #[test]
    fn the_lab_is_priced_per_line_and_in_total_in_every_format() {
        let l = crate::load::load_pipeline("lab");
        let e = crate::deployment::offline_estimate(&l, "us-east-1", 1.0);
        let t = text(&l, &e);
        assert!(t.contains("stream.trips"), "{t}");
        assert!(t.contains("730 h"), "{t}");
        assert!(t.contains("$37.43/month"), "{t}");
        let md = markdown(&l, &e);
        assert!(md.contains("| `stream.trips` | 1 shard | 730 h | $0.015/h | $10.95 |"), "{md}");
        assert!(md.contains("| **Total** | | | | **$37.43** |"), "{md}");
        let j = json(&l, &e);
        let items = j["items"].as_array().unwrap();
        assert_eq!(items.len(), e.items.len());
        let host = items.iter().find(|i| i["what"] == "t3.small instance").unwrap();
        assert_eq!((host["address"].as_str(), host["unit"].as_str()), (Some("agent.producer"), Some("hour")));
        assert_eq!(host["price"], "ec2.t3.small");
        assert_eq!(format!("{:.2}", j["monthly"].as_f64().unwrap()), "37.43");
        assert_eq!(j["prices_version"], crate::cost::table().version);
    }
}
