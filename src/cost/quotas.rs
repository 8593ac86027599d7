//! AWS's default quotas (`prices/quotas.json`: per region where they
//! differ, dated, a source each) and the vCPUs of the instance types the
//! price table knows. Pure: a count in, the quota it passes out.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::OnceLock;

#[derive(Debug, Deserialize)]
pub struct Quotas {
    pub version: String,
    pub quotas: BTreeMap<String, Quota>,
    pub vcpus: Vcpus,
}

#[derive(Debug, Deserialize)]
pub struct Quota {
    pub what: String,
    pub default: u64,
    #[serde(default)]
    pub regions: BTreeMap<String, u64>,
    pub source: String,
}

#[derive(Debug, Deserialize)]
pub struct Vcpus {
    pub source: String,
    pub types: BTreeMap<String, u64>,
}

/// The quota table this build carries.
pub fn table() -> &'static Quotas {
    static TABLE: OnceLock<Quotas> = OnceLock::new();
    TABLE.get_or_init(|| {
        serde_json::from_str(include_str!("../../prices/quotas.json")).expect("prices/quotas.json parses")
    })
}

/// A count above a default quota.
#[derive(Debug, Clone, PartialEq)]
pub struct Exceeded {
    pub key: &'static str,
    pub count: u64,
    pub quota: u64,
    pub what: String,
    pub source: String,
}

impl Quotas {
    /// The default of quota `key` in `region`.
    pub fn limit(&self, key: &str, region: &str) -> Option<u64> {
        let q = self.quotas.get(key)?;
        Some(q.regions.get(region).copied().unwrap_or(q.default))
    }

    /// `count` against quota `key` in `region`: `Some` when above it.
    pub fn check(&self, key: &'static str, region: &str, count: u64) -> Option<Exceeded> {
        let quota = self.limit(key, region)?;
        let q = &self.quotas[key];
        (count > quota).then(|| Exceeded { key, count, quota, what: q.what.clone(), source: q.source.clone() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_quota_has_a_source_and_every_priced_instance_type_its_vcpus() {
        let t = table();
        assert!(!t.version.is_empty());
        for (k, q) in &t.quotas {
            assert!(q.source.starts_with("https://docs.aws.amazon.com/"), "{k}");
            assert!(q.default > 0, "{k}");
        }
        for region in crate::cost::table().regions.values() {
            for key in region.keys().filter_map(|k| k.strip_prefix("ec2.")) {
                assert!(t.vcpus.types.contains_key(key), "no vCPUs for {key}");
            }
        }
    }

    #[test]
    fn a_count_above_the_regions_default_is_exceeded() {
        let t = table();
        assert_eq!(t.limit("kinesis.shards", "us-east-1"), Some(20000));
        assert_eq!(t.limit("kinesis.shards", "us-east-2"), Some(1000));
        assert!(t.check("kinesis.shards", "us-east-1", 5000).is_none());
        let e = t.check("kinesis.shards", "us-east-2", 5000).unwrap();
        assert_eq!((e.count, e.quota), (5000, 1000));
        assert!(t.check("kinesis.shards", "us-east-2", 1000).is_none());
        assert!(t.check("no.such", "us-east-1", 1).is_none());
    }
}
