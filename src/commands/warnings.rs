//! What `validate` warns about without failing: a monthly estimate above
//! `--warn-above-usd`, and a spec that alone passes one of AWS's default
//! quotas (`cost::quotas`): shards, on-demand streams, Firehoses, reserved
//! Lambda concurrency, On-Demand vCPUs, VPCs, Elastic IPs. Each points at
//! the field it is about. Offline: the estimate is `cost`'s.

use crate::cli::Warnings;
use crate::cost::quotas::{self, Exceeded, VcpuCount};
use crate::diag::{Diagnostic, Mark};
use crate::load::Loaded;
use crate::spec::model::StreamMode;
use crate::spec::yaml::Node;

/// The region used when neither `--region`, the spec nor the environment
/// names one: the warnings say so.
const ASSUMED_REGION: &str = "us-east-1";

/// Every warning for `loaded`, in the order of the spec's lines, less
/// those `--ignore-warning` silences.
pub fn warnings(loaded: &Loaded, w: &Warnings) -> Vec<Diagnostic> {
    let given = super::cost::region(loaded);
    let region = given.clone().unwrap_or_else(|| ASSUMED_REGION.into());
    let assumed = if given.is_some() { String::new() } else { format!(" (no region given: {region} assumed)") };
    let at = Places::of(loaded);
    let s = &loaded.spec;
    let q = quotas::table();
    let table = crate::cost::table();
    let mut out = Vec::new();

    // A region the price table lacks is priced at the nearest one it has,
    // and said so: the warning holds in every region.
    let priced = crate::cost::nearest_priced(&region, table);
    let approx = if priced == region {
        String::new()
    } else {
        format!(" (priced at {priced}'s list prices; {region} is not in the table)")
    };
    let e = crate::deployment::offline_estimate(loaded, &priced, w.cost.assume_gb_per_day);
    if e.monthly > w.warn_above_usd && !w.ignored("monthly-cost") {
        let mut by: Vec<(String, f64)> = Vec::new();
        for i in &e.items {
            match by.iter_mut().find(|(a, _)| *a == i.address) {
                Some((_, m)) => *m += i.monthly,
                None => by.push((i.address.clone(), i.monthly)),
            }
        }
        let (top, top_monthly) = by.into_iter().fold((String::new(), 0.0), |b, x| if x.1 > b.1 { x } else { b });
        let (kind, key) = top.split_once('.').unwrap_or((top.as_str(), ""));
        let field = if kind == "stream" {
            "shards"
        } else if kind == "agent" {
            "instance_type"
        } else {
            ""
        };
        let mark = at.field(&[&format!("{kind}s"), key, field]);
        let about = if e.missing_prices.is_empty() { "about" } else { "at least" };
        out.push(
            Diagnostic::new(
                mark,
                "monthly-cost",
                format!(
                    "this spec costs {about} {} a month in {region}{assumed}{approx} at {} GB/day, above {}; `{top}` alone {}",
                    usd(e.monthly),
                    e.assume_gb_per_day,
                    usd(w.warn_above_usd),
                    usd(top_monthly)
                ),
            )
            .hint(format!(
                "`{}` itemizes it (prices of {}); `--warn-above-usd N` moves the threshold, `--ignore-warning monthly-cost` silences it",
                cost_command(&loaded.file, &priced, w.cost.assume_gb_per_day),
                e.prices_version
            )),
        );
    }
    for (k, a) in &s.agents {
        if !table.regions.get(&priced).is_some_and(|p| p.contains_key(&format!("ec2.{}", a.instance_type)))
            && !w.ignored("no-price")
        {
            out.push(
                Diagnostic::new(
                    at.field(&["agents", k, "instance_type"]),
                    "no-price",
                    format!(
                        "`{}` has no price in the table (prices of {}): the monthly figures leave `agent.{k}` out",
                        a.instance_type, table.version
                    ),
                )
                .hint("its on-demand price is on https://aws.amazon.com/ec2/pricing/on-demand/; `--ignore-warning no-price` silences this"),
            );
        }
    }

    // A quota silenced by its key, or every quota by the rule.
    let check = |key: &'static str, count: u64| {
        q.check(key, &region, count).filter(|_| !w.ignored("default-quota") && !w.ignored(key))
    };
    let provisioned: Vec<(&String, u32)> = s
        .streams
        .iter()
        .filter_map(|(k, st)| match st.mode {
            StreamMode::Provisioned { shards } => Some((k, shards)),
            StreamMode::OnDemand => None,
        })
        .collect();
    let shards: u64 = provisioned.iter().map(|(_, n)| u64::from(*n)).sum();
    if let Some(x) = check("kinesis.shards", shards) {
        let largest = provisioned.iter().max_by_key(|(_, n)| *n).map(|(k, _)| k.as_str()).unwrap_or("");
        out.push(quota(at.field(&["streams", largest, "shards"]), &x, &region, &assumed, "shards"));
    }
    let on_demand: Vec<&String> =
        s.streams.iter().filter(|(_, st)| st.mode == StreamMode::OnDemand).map(|(k, _)| k).collect();
    if let Some(x) = check("kinesis.on_demand_streams", on_demand.len() as u64) {
        let last = on_demand.last().map(|k| k.as_str()).unwrap_or("");
        out.push(quota(at.field(&["streams", last, "mode"]), &x, &region, &assumed, "on-demand streams"));
    }
    if let Some(x) = check("firehose.streams", s.firehoses.len() as u64) {
        let last = s.firehoses.keys().last().map(String::as_str).unwrap_or("");
        out.push(quota(at.field(&["firehoses", last, ""]), &x, &region, &assumed, "Firehoses"));
    }
    let reserved: Vec<(&String, u32)> =
        s.functions.iter().filter_map(|(k, f)| f.reserved_concurrency.map(|n| (k, n))).collect();
    let total: u64 = reserved.iter().map(|(_, n)| u64::from(*n)).sum();
    if let Some(x) = check("lambda.reserved_concurrency", total) {
        let largest = reserved.iter().max_by_key(|(_, n)| *n).map(|(k, _)| k.as_str()).unwrap_or("");
        let mark = at.field(&["functions", largest, "reserved_concurrency"]);
        out.push(quota(mark, &x, &region, &assumed, "reserved concurrent executions"));
    }
    let mut vcpus: Vec<(&String, u64)> = Vec::new();
    for (k, a) in &s.agents {
        match q.vcpus_of(&a.instance_type) {
            VcpuCount::Known(n) => vcpus.push((k, n)),
            VcpuCount::OtherQuota => {}
            VcpuCount::Unknown if w.ignored("unknown-vcpus") => {}
            VcpuCount::Unknown => out.push(
                Diagnostic::new(
                    at.field(&["agents", k, "instance_type"]),
                    "unknown-vcpus",
                    format!(
                        "vCPUs of `{}` unknown: `agent.{k}` is not checked against AWS's default quota of On-Demand vCPUs",
                        a.instance_type
                    ),
                )
                .hint(format!("its vCPUs are on {}; `--ignore-warning unknown-vcpus` silences this", q.vcpus.source)),
            ),
        }
    }
    if let Some(x) = check("ec2.on_demand_standard_vcpus", vcpus.iter().map(|(_, n)| n).sum()) {
        let largest = vcpus.iter().max_by_key(|(_, n)| *n).map(|(k, _)| k.as_str()).unwrap_or("");
        out.push(quota(at.field(&["agents", largest, "instance_type"]), &x, &region, &assumed, "vCPUs"));
    }
    if let Some(x) = check("vpc.vpcs", s.networks.len() as u64) {
        let last = s.networks.keys().last().map(String::as_str).unwrap_or("");
        out.push(quota(at.field(&["networks", last, ""]), &x, &region, &assumed, "VPCs"));
    }
    let nats: Vec<&String> = s.networks.iter().filter(|(_, n)| n.nat_gateway).map(|(k, _)| k).collect();
    if let Some(x) = check("vpc.elastic_ips", nats.len() as u64) {
        let last = nats.last().map(|k| k.as_str()).unwrap_or("");
        out.push(quota(at.field(&["networks", last, "nat_gateway"]), &x, &region, &assumed, "Elastic IPs"));
    }
    out.sort_by_key(|d| d.mark);
    out.into_iter().map(Diagnostic::warning).collect()
}

/// The `cost` command that prices this spec as the warning did.
fn cost_command(file: &str, region: &str, gb_per_day: f64) -> String {
    let gb = if gb_per_day == crate::cost::DEFAULT_GB_PER_DAY {
        String::new()
    } else {
        format!(" --assume-gb-per-day {gb_per_day}")
    };
    format!("pipectl cost {} --region {region}{gb}", super::init::shell_word(file))
}

fn quota(mark: Mark, x: &Exceeded, region: &str, assumed: &str, counted: &str) -> Diagnostic {
    Diagnostic::new(
        mark,
        "default-quota",
        format!(
            "this spec alone needs {} {counted}, above AWS's default quota of {} {} in {region}{assumed}",
            thousands(x.count),
            thousands(x.quota),
            x.what
        ),
    )
    .hint(format!(
        "request an increase in Service Quotas before apply, or check the account's own: {} (quotas of {}); `--ignore-warning {}` silences it",
        x.source,
        quotas::table().version,
        x.key
    ))
}

/// Each warning drawn as errors are (its source line and caret), as a
/// warning whatever it was made as; in colour when `colour`.
pub fn render(file: &str, warnings: &[Diagnostic], colour: bool) -> String {
    warnings.iter().map(|w| crate::scrub::text(&w.clone().warning().render_styled(file, colour))).collect()
}

/// `$54,750.00`.
fn usd(x: f64) -> String {
    let cents = format!("{x:.2}");
    let (whole, frac) = cents.split_once('.').unwrap_or((&cents, "00"));
    let whole: u64 = whole.parse().unwrap_or(0);
    format!("${}.{frac}", thousands(whole))
}

/// `20,000`.
fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Where the spec's fields are: its YAML read again with positions (a
/// spec that cannot be read again points at each resource's key, from the
/// load, or the top).
struct Places<'a> {
    tree: Option<Node>,
    loaded: &'a Loaded,
}

impl<'a> Places<'a> {
    fn of(loaded: &'a Loaded) -> Places<'a> {
        let text = std::fs::read_to_string(&loaded.file).ok();
        let tree = text.and_then(|t| crate::spec::yaml::parse(crate::diag::sources::strip_bom(&t)).ok());
        Places { tree, loaded }
    }

    /// `[section, key, field]`: the field's key when written, else the
    /// resource's key (`field` empty: the resource's key).
    fn field(&self, path: &[&str; 3]) -> Mark {
        let [section, key, field] = *path;
        let resource = self.tree.as_ref().and_then(|t| t.entry(section)).and_then(|(_, m)| m.entry(key));
        let written = resource.and_then(|(_, v)| v.entry(field)).map(|(k, _)| k.mark);
        written
            .or(resource.map(|(k, _)| k.mark))
            .or_else(|| self.loaded.origins.get(&format!("{section}.{key}")).copied())
            .unwrap_or(Mark { line: 1, col: 1 })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_read_with_thousands_separators() {
        assert_eq!(usd(54750.0), "$54,750.00");
        assert_eq!(usd(999.5), "$999.50");
        assert_eq!(thousands(20000), "20,000");
        assert_eq!(thousands(5), "5");
        assert_eq!(thousands(1000000), "1,000,000");
    }

    #[test]
    fn a_warning_renders_at_its_place_coloured_only_when_asked() {
        let w = [Diagnostic::new(Mark { line: 5, col: 5 }, "default-quota", "too many").hint("ask")];
        let plain = render("spec.yaml", &w, false);
        assert!(plain.starts_with("warning[default-quota]: too many\n"), "{plain}");
        assert!(plain.contains("--> spec.yaml:5:5\n") && plain.contains("= hint: ask"), "{plain}");
        let coloured = render("spec.yaml", &w, true);
        assert!(coloured.starts_with("\u{1b}[") && coloured.contains("warning[default-quota]"), "{coloured:?}");
    }
}
