//! What a deployment costs while it exists: each kind says what it uses
//! ([`Usage`]: shards by the hour, a NAT gateway, an instance type, GB that
//! pass through), and this module prices it from the versioned table in
//! `prices/aws.json` (per region, with its date and sources). Pure: no AWS,
//! no spec; `plan`, `list` and `gc` show the [`Estimate`].
//!
//! Per-GB items are priced at an assumed volume (`--assume-gb-per-day`)
//! entering each stream and each Firehose; S3 storage is what a month of
//! that volume occupies at the month's end. What AWS bills per request
//! (Lambda, PUT payload units, log ingestion) is listed as not estimated,
//! never counted as free.

pub mod quotas;

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::OnceLock;

/// AWS's billing month.
pub const HOURS_PER_MONTH: f64 = 730.0;

/// The volume assumed when `--assume-gb-per-day` is not given.
pub const DEFAULT_GB_PER_DAY: f64 = 1.0;

/// What a resource uses that AWS bills. `price` is a key of the table
/// (`kinesis.shard_hour`, `ec2.t3.small`); `what` says it for people.
#[derive(Debug, Clone, PartialEq)]
pub enum Usage {
    /// `quantity` units, each billed by the hour while it exists.
    Hourly { price: String, quantity: f64, what: String },
    /// `quantity` units, each billed by the month while it exists.
    Monthly { price: String, quantity: f64, what: String },
    /// Billed per GB of the assumed daily volume.
    PerGb { price: String, what: String },
    /// Billed, but by something the spec does not say (requests).
    Unpriced { what: String },
    /// Not billed: the most GB a day the resource can take in (a
    /// provisioned stream's shards); a larger assumed volume is noted.
    Capacity { gb_per_day: f64, what: String },
}

impl Usage {
    pub fn hourly(price: impl Into<String>, quantity: f64, what: impl Into<String>) -> Usage {
        Usage::Hourly { price: price.into(), quantity, what: what.into() }
    }

    pub fn monthly(price: impl Into<String>, quantity: f64, what: impl Into<String>) -> Usage {
        Usage::Monthly { price: price.into(), quantity, what: what.into() }
    }

    pub fn per_gb(price: impl Into<String>, what: impl Into<String>) -> Usage {
        Usage::PerGb { price: price.into(), what: what.into() }
    }

    pub fn unpriced(what: impl Into<String>) -> Usage {
        Usage::Unpriced { what: what.into() }
    }

    pub fn capacity(gb_per_day: f64, what: impl Into<String>) -> Usage {
        Usage::Capacity { gb_per_day, what: what.into() }
    }
}

/// The priced region nearest `region`: itself when the table has it, else
/// the first priced one of the same area (`us-west-1` -> `us-west-2`), else
/// of the same geography (`eu-central-1` -> `eu-west-1`), else us-east-1.
/// An approximation, always said as one.
pub fn nearest_priced(region: &str, table: &Table) -> String {
    if table.regions.contains_key(region) {
        return region.to_string();
    }
    let parts: Vec<&str> = region.split('-').collect();
    let area = parts.iter().take(2).copied().collect::<Vec<_>>().join("-") + "-";
    let geo = format!("{}-", parts.first().copied().unwrap_or_default());
    let priced = |prefix: &str| table.regions.keys().find(|r| r.starts_with(prefix)).cloned();
    priced(&area).or_else(|| priced(&geo)).unwrap_or_else(|| "us-east-1".to_string())
}

/// The price table (`prices/aws.json`).
#[derive(Debug, Deserialize)]
pub struct Table {
    pub version: String,
    pub currency: String,
    pub sources: BTreeMap<String, String>,
    pub regions: BTreeMap<String, BTreeMap<String, f64>>,
}

/// The table this build carries.
pub fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(|| serde_json::from_str(include_str!("../../prices/aws.json")).expect("prices/aws.json parses"))
}

/// One priced line: a resource's use of one thing.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Item {
    pub address: String,
    pub what: String,
    /// `hour` (billed while it exists) or `gb` (billed with the volume).
    pub basis: &'static str,
    /// The table's key priced (`kinesis.shard_hour`).
    pub price: String,
    /// How many `unit`s a month bills (`quantity * unit_price` is
    /// `monthly`): hours (units times 730), months of a unit, or GB.
    pub quantity: f64,
    /// What one `unit_price` buys: `hour`, `month` (of one unit) or `GB`.
    pub unit: &'static str,
    pub unit_price: f64,
    pub hourly: f64,
    pub monthly: f64,
}

/// A deployment's estimate, per item and in total.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Estimate {
    pub region: String,
    pub currency: String,
    pub prices_version: String,
    pub assume_gb_per_day: f64,
    pub items: Vec<Item>,
    /// Everything, volume included.
    pub hourly: f64,
    pub monthly: f64,
    /// What it costs idle: the items billed while it exists.
    pub idle_hourly: f64,
    /// What is billed but not in the figures, and why.
    pub not_estimated: Vec<String>,
    /// What the price table has no price for (a region, an instance type):
    /// billed by the hour whatever the traffic, yet not in the figures.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub missing_prices: Vec<String>,
    /// What the figures rest on that cannot be: an assumed volume above
    /// what a resource can take in.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// Prices `usages` (address -> what it uses) in `region` at `gb_per_day`.
pub fn estimate(
    region: &str,
    gb_per_day: f64,
    usages: impl IntoIterator<Item = (String, Vec<Usage>)>,
    table: &Table,
) -> Estimate {
    let prices = table.regions.get(region);
    let mut e = Estimate {
        region: region.to_string(),
        currency: table.currency.clone(),
        prices_version: table.version.clone(),
        assume_gb_per_day: gb_per_day,
        items: Vec::new(),
        hourly: 0.0,
        monthly: 0.0,
        idle_hourly: 0.0,
        not_estimated: Vec::new(),
        missing_prices: Vec::new(),
        notes: Vec::new(),
    };
    let gb_per_month = gb_per_day * HOURS_PER_MONTH / 24.0;
    for (address, uses) in usages {
        for u in uses {
            // Each use as (price key, what, basis, units billed per hour,
            // quantity and unit as billed).
            let (price, what, basis, units, quantity, unit) = match u {
                Usage::Unpriced { what } => {
                    e.not_estimated.push(format!("{address}: {what}"));
                    continue;
                }
                Usage::Capacity { gb_per_day: most, what } => {
                    if gb_per_day > most {
                        e.notes.push(format!(
                            "{address} cannot take in the {} GB/day assumed: at most {} GB/day ({what})",
                            trim(gb_per_day),
                            trim(most)
                        ));
                    }
                    continue;
                }
                Usage::Hourly { price, quantity, what } => {
                    (price, what, "hour", quantity, quantity * HOURS_PER_MONTH, "hour")
                }
                Usage::Monthly { price, quantity, what } => {
                    (price, what, "hour", quantity / HOURS_PER_MONTH, quantity, "month")
                }
                Usage::PerGb { price, what } => {
                    let what = format!("{what} ({} GB/day)", trim(gb_per_day));
                    (price, what, "gb", gb_per_month / HOURS_PER_MONTH, gb_per_month, "GB")
                }
            };
            let Some(p) = prices.and_then(|t| t.get(&price)) else {
                e.not_estimated.push(format!("{address}: {what}: no price for `{price}` in {region}"));
                e.missing_prices.push(format!("{address}: `{price}` in {region}"));
                continue;
            };
            let hourly = p * units;
            let monthly = hourly * HOURS_PER_MONTH;
            let item =
                Item { address: address.clone(), what, basis, price, quantity, unit, unit_price: *p, hourly, monthly };
            e.items.push(item);
        }
    }
    if prices.is_none() {
        e.not_estimated.insert(0, format!("the price table ({}) has no prices for {region}", table.version));
    }
    e.hourly = e.items.iter().map(|i| i.hourly).sum();
    e.monthly = e.hourly * HOURS_PER_MONTH;
    e.idle_hourly = e.items.iter().filter(|i| i.basis == "hour").map(|i| i.hourly).sum();
    e
}

/// A number without trailing zeros: `1`, `2.5`.
pub fn trim(x: f64) -> String {
    let s = format!("{x:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Dollars for people: cents for large amounts, four places for small
/// hourly ones.
pub fn money(x: f64) -> String {
    // A sum of nothing is -0.0 in Rust: no `$-0.00`.
    let x = if x == 0.0 { 0.0 } else { x };
    if x != 0.0 && x.abs() < 1.0 {
        format!("${x:.4}")
    } else {
        format!("${x:.2}")
    }
}

impl Estimate {
    /// `$12.00`, or `at least $12.00` when something billed by the hour
    /// has no price (and so is not in the figure).
    pub fn at_least(&self, amount: f64) -> String {
        let x = format!("${amount:.2}");
        if self.missing_prices.is_empty() {
            x
        } else {
            format!("at least {x}")
        }
    }

    pub fn render(&self) -> String {
        let mut out = format!(
            "\nCost while deployed ({}, prices of {}, {} GB/day assumed into each stream and Firehose):\n",
            self.region,
            self.prices_version,
            trim(self.assume_gb_per_day)
        );
        let aw = self.items.iter().map(|i| i.address.len()).max().unwrap_or(0).max(5);
        let ww = self.items.iter().map(|i| i.what.len()).max().unwrap_or(0);
        for i in &self.items {
            let _ = writeln!(
                out,
                "  {:<aw$}  {:<ww$}  {:>8}/h  {:>8}/mo",
                i.address,
                i.what,
                money(i.hourly),
                format!("${:.2}", i.monthly)
            );
        }
        let _ = writeln!(
            out,
            "  {:<aw$}  {:<ww$}  {:>8}/h  {:>8}/mo",
            "total",
            "",
            money(self.hourly),
            format!("${:.2}", self.monthly)
        );
        let _ = writeln!(
            out,
            "  idle (without the per-GB items): {}/h, ${:.2}/mo",
            money(self.idle_hourly),
            self.idle_hourly * HOURS_PER_MONTH
        );
        for n in &self.not_estimated {
            let _ = writeln!(out, "  not estimated: {n}");
        }
        for n in &self.notes {
            let _ = writeln!(out, "  note: {n}");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn the_table_has_a_source_for_every_service_it_prices() {
        let t = table();
        assert!(!t.version.is_empty());
        for prices in t.regions.values() {
            for key in prices.keys() {
                let service = key.split('.').next().unwrap();
                assert!(t.sources.contains_key(service), "no source for {key}");
            }
        }
        // Every region prices the same things.
        let keys: Vec<Vec<&String>> = t.regions.values().map(|p| p.keys().collect()).collect();
        assert!(keys.windows(2).all(|w| w[0] == w[1]));
    }

    #[test]
    fn hourly_monthly_and_per_gb_items_price_against_the_table() {
        let e = estimate(
            "us-east-1",
            2.0,
            [
                ("stream.s".to_string(), vec![Usage::hourly("kinesis.shard_hour", 2.0, "2 shards")]),
                ("dashboard.d".to_string(), vec![Usage::monthly("cloudwatch.dashboard_month", 1.0, "dashboard")]),
                ("firehose.f".to_string(), vec![Usage::per_gb("firehose.ingest_gb", "ingested")]),
                ("function.g".to_string(), vec![Usage::unpriced("requests")]),
            ],
            table(),
        );
        assert!(close(e.items[0].hourly, 0.03));
        // Every item is its quantity at its unit price.
        for i in &e.items {
            assert!(close(i.quantity * i.unit_price, i.monthly), "{i:?}");
        }
        assert_eq!((e.items[0].unit, e.items[0].quantity), ("hour", 2.0 * 730.0));
        assert_eq!((e.items[2].unit, e.items[2].price.as_str()), ("GB", "firehose.ingest_gb"));
        assert!(close(e.items[1].monthly, 3.0));
        // 2 GB a day for 730/24 days at $0.029.
        assert!(close(e.items[2].monthly, 2.0 * 730.0 / 24.0 * 0.029));
        assert_eq!(e.items[2].what, "ingested (2 GB/day)");
        assert!(close(e.idle_hourly, 0.03 + 3.0 / 730.0));
        assert!(close(e.monthly, e.hourly * 730.0));
        assert_eq!(e.not_estimated, ["function.g: requests"]);
    }

    #[test]
    fn an_unknown_price_or_region_is_said_not_counted() {
        let uses = || [("agent.a".to_string(), vec![Usage::hourly("ec2.x9.huge", 1.0, "x9.huge instance")])];
        let e = estimate("us-east-1", 1.0, uses(), table());
        assert!(e.items.is_empty());
        assert!(e.not_estimated[0].contains("no price for `ec2.x9.huge` in us-east-1"), "{:?}", e.not_estimated);
        let e = estimate("mars-north-1", 1.0, uses(), table());
        assert!(e.not_estimated[0].contains("no prices for mars-north-1"), "{:?}", e.not_estimated);
        assert_eq!(e.hourly, 0.0);
    }

    #[test]
    fn an_unpriced_region_is_priced_at_the_nearest_priced_one() {
        let t = table();
        assert_eq!(nearest_priced("us-east-2", t), "us-east-2");
        assert_eq!(nearest_priced("us-west-1", t), "us-west-2");
        assert_eq!(nearest_priced("eu-central-1", t), "eu-west-1");
        assert_eq!(nearest_priced("ap-southeast-2", t), "us-east-1");
    }

    #[test]
    fn a_volume_above_what_a_stream_takes_is_noted() {
        let uses = || [("stream.s".to_string(), vec![Usage::capacity(86.4, "1 shard")])];
        assert!(estimate("us-east-1", 86.4, uses(), table()).notes.is_empty());
        let e = estimate("us-east-1", 1000.0, uses(), table());
        assert_eq!(e.notes, ["stream.s cannot take in the 1000 GB/day assumed: at most 86.4 GB/day (1 shard)"]);
    }

    #[test]
    fn money_shows_small_amounts_to_a_hundredth_of_a_cent() {
        assert_eq!(money(0.0208), "$0.0208");
        assert_eq!(money(Vec::<f64>::new().iter().sum()), "$0.00");
        assert_eq!(money(15.184), "$15.18");
        assert_eq!(money(0.0), "$0.00");
    }
}
