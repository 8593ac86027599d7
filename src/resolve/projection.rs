//! Athena partition projection for a Glue table that a Firehose fills
//! under a timestamp prefix: the table's partitions are computed from the
//! prefix, so a query finds new data with no `MSCK REPAIR TABLE` and no
//! crawler.
//!
//! Each `!{timestamp:FMT}` part of the prefix is one partition key: named
//! by the `key=` in front of it, or, in a prefix without `key=` names, by
//! the table's partition keys in order. A part that is a month, day or
//! hour alone is an `integer` projection of two digits; anything else
//! (a year, `yyyy-MM-dd`) is a `date` projection over the last
//! [`YEARS_BACK`] years up to now. A prefix with anything else dynamic
//! (`!{firehose:random-string}`, dynamic partitioning) gets no projection.

use crate::spec::{Spec, Table};
use std::collections::BTreeMap;

/// How far back a `date` projection reaches.
pub const YEARS_BACK: u32 = 5;

/// The parameters that turn projection on for `table` (key `table_key`,
/// in a bucket named `bucket`), from the first Firehose that delivers into
/// it; empty when none does or its prefix cannot be projected.
pub fn for_table(spec: &Spec, table_key: &str, table: &Table, bucket: &str) -> BTreeMap<String, String> {
    if table.partition_keys.is_empty() {
        return BTreeMap::new();
    }
    spec.firehoses
        .values()
        .filter(|f| {
            let d = &f.destination;
            let converts = d.convert.as_ref().is_some_and(|c| c.table == table_key);
            let lands = d.bucket == table.bucket && d.prefix.as_deref().is_some_and(|p| p.starts_with(&table.prefix));
            converts || lands
        })
        .filter_map(|f| f.destination.prefix.as_deref())
        .find_map(|prefix| from_prefix(prefix, table, bucket))
        .unwrap_or_default()
}

/// The projection for one prefix, if every partition key comes from it.
pub fn from_prefix(prefix: &str, table: &Table, bucket: &str) -> Option<BTreeMap<String, String>> {
    let keys: Vec<&str> = table.partition_keys.iter().map(|(k, _)| k.as_str()).collect();
    let mut template = String::new();
    let mut found: Vec<(String, String)> = Vec::new();
    let mut rest = prefix;
    while let Some(start) = rest.find("!{") {
        let end = start + rest[start..].find('}')?;
        let format = rest[start + 2..end].strip_prefix("timestamp:")?;
        let before = &rest[..start];
        // `key=!{timestamp:..}`: the name just before, else the next key.
        let named = before.rsplit('/').next().and_then(|s| s.strip_suffix('=')).filter(|n| !n.is_empty());
        let key = match named {
            Some(n) => n.to_string(),
            None => keys.get(found.len())?.to_string(),
        };
        template.push_str(before);
        template.push_str(&format!("${{{key}}}"));
        found.push((key, format.to_string()));
        rest = &rest[end + 1..];
    }
    template.push_str(rest);
    let mut names: Vec<&str> = found.iter().map(|(k, _)| k.as_str()).collect();
    names.sort_unstable();
    let mut wanted = keys.clone();
    wanted.sort_unstable();
    if names != wanted {
        return None;
    }
    let mut p = BTreeMap::new();
    p.insert("projection.enabled".to_string(), "true".to_string());
    p.insert("storage.location.template".to_string(), format!("s3://{bucket}/{template}"));
    for (key, format) in found {
        // Firehose takes Java's week-based `YYYY` where a year is meant.
        let format = format.replace("YYYY", "yyyy");
        let mut set = |k: &str, v: String| p.insert(format!("projection.{key}.{k}"), v);
        match format.as_str() {
            "MM" => integer(&mut set, "1,12"),
            "dd" => integer(&mut set, "1,31"),
            "HH" => integer(&mut set, "0,23"),
            _ => {
                set("type", "date".into());
                set("format", format.clone());
                set("range", format!("NOW-{YEARS_BACK}YEARS,NOW"));
                set("interval", "1".into());
                set("interval.unit", finest_unit(&format)?.into());
            }
        }
    }
    Some(p)
}

fn integer(set: &mut impl FnMut(&str, String) -> Option<String>, range: &str) {
    set("type", "integer".into());
    set("range", range.into());
    set("digits", "2".into());
}

/// The unit a `date` projection steps by: the finest field its format has.
fn finest_unit(format: &str) -> Option<&'static str> {
    [("m", "MINUTES"), ("H", "HOURS"), ("d", "DAYS"), ("M", "MONTHS"), ("y", "YEARS")]
        .into_iter()
        .find(|(c, _)| format.contains(c))
        .map(|(_, unit)| unit)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(keys: &[&str]) -> Table {
        Table {
            name: "t".into(),
            database: "db".into(),
            bucket: "lake".into(),
            prefix: "trips/".into(),
            format: crate::spec::TableFormat::Parquet,
            columns: vec![("a".into(), "int".into())],
            partition_keys: keys.iter().map(|k| (k.to_string(), "string".into())).collect(),
            description: None,
            protect: false,
        }
    }

    #[test]
    fn the_lab_prefix_projects_year_month_day_hour() {
        let prefix = "trips/year=!{timestamp:YYYY}/month=!{timestamp:MM}/day=!{timestamp:dd}/hour=!{timestamp:HH}/";
        let p = from_prefix(prefix, &table(&["year", "month", "day", "hour"]), "b").unwrap();
        assert_eq!(p["storage.location.template"], "s3://b/trips/year=${year}/month=${month}/day=${day}/hour=${hour}/");
        assert_eq!(p["projection.enabled"], "true");
        assert_eq!(p["projection.year.type"], "date");
        assert_eq!(p["projection.year.format"], "yyyy");
        assert_eq!(p["projection.year.range"], "NOW-5YEARS,NOW");
        assert_eq!(p["projection.year.interval.unit"], "YEARS");
        assert_eq!(p["projection.month.type"], "integer");
        assert_eq!(p["projection.month.range"], "1,12");
        assert_eq!(p["projection.hour.range"], "0,23");
        assert_eq!(p["projection.day.digits"], "2");
    }

    #[test]
    fn unnamed_parts_take_the_keys_in_order_and_a_date_part_is_a_date() {
        let p = from_prefix("trips/!{timestamp:yyyy-MM-dd}/!{timestamp:HH}/", &table(&["dt", "hour"]), "b").unwrap();
        assert_eq!(p["storage.location.template"], "s3://b/trips/${dt}/${hour}/");
        assert_eq!(p["projection.dt.format"], "yyyy-MM-dd");
        assert_eq!(p["projection.dt.interval.unit"], "DAYS");
        assert_eq!(p["projection.hour.type"], "integer");
    }

    #[test]
    fn a_prefix_that_does_not_give_every_key_has_no_projection() {
        let t = table(&["year", "month"]);
        assert!(from_prefix("trips/year=!{timestamp:yyyy}/", &t, "b").is_none());
        assert!(from_prefix("trips/year=!{timestamp:yyyy}/month=!{timestamp:MM}/!{firehose:random-string}/", &t, "b")
            .is_none());
        assert!(from_prefix("trips/", &t, "b").is_none());
        assert!(from_prefix("trips/year=!{timestamp:yyyy", &t, "b").is_none());
    }
}
