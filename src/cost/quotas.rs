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

/// How the vCPUs of an instance type were found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VcpuCount {
    /// The count, from the table or the size rule.
    Known(u64),
    /// Another quota than On-Demand Standard counts it (G, P, X, Inf, ...).
    OtherQuota,
    /// Neither the table nor the size rule says (`metal`, an unknown size).
    Unknown,
}

/// Families whose first letter is a Standard one (A, C, D, H, I, M, R, T,
/// Z) but that AWS counts under a quota of their own.
const NOT_STANDARD: [&str; 5] = ["inf", "trn", "mac", "hpc", "dl"];

/// Sizes whose vCPUs break the `Nxlarge` = 4N rule (previous generation).
const EXCEPTIONS: [(&str, u64); 2] = [("c4.8xlarge", 36), ("d2.8xlarge", 36)];

impl Quotas {
    /// The vCPUs `instance_type` counts against the On-Demand Standard
    /// quota: the table's figure, else AWS's size rule for the standard
    /// families (<https://docs.aws.amazon.com/ec2/latest/instancetypes/gp.html>
    /// and the compute, memory and storage pages): `large` 2, `xlarge` 4,
    /// `Nxlarge` 4N (but `c4.8xlarge` and `d2.8xlarge`, 36); `nano` to
    /// `medium` 2 for t3, t3a and t4g, 1 for t2 but `t2.medium` 2, and
    /// `medium` 1 for Graviton families (a `g` after the generation: m6g,
    /// c7gd) and a1; `metal` and anything else unknown.
    pub fn vcpus_of(&self, instance_type: &str) -> VcpuCount {
        if let Some(n) = self.vcpus.types.get(instance_type) {
            return VcpuCount::Known(*n);
        }
        let Some((family, size)) = instance_type.split_once('.') else { return VcpuCount::Unknown };
        let standard = family.chars().next().is_some_and(|c| "acdhimrtz".contains(c))
            && !NOT_STANDARD.iter().any(|p| family.starts_with(p));
        if !standard {
            return VcpuCount::OtherQuota;
        }
        if let Some((_, n)) = EXCEPTIONS.iter().find(|(t, _)| *t == instance_type) {
            return VcpuCount::Known(*n);
        }
        let graviton = family == "a1" || family.trim_start_matches(char::is_alphabetic).contains('g');
        let n = match size {
            "large" => Some(2),
            "xlarge" => Some(4),
            s if s.ends_with("xlarge") => s.trim_end_matches("xlarge").parse::<u64>().ok().map(|n| 4 * n),
            "nano" | "micro" | "small" | "medium" if matches!(family, "t3" | "t3a" | "t4g") => Some(2),
            "nano" | "micro" | "small" if family == "t2" => Some(1),
            "medium" if family == "t2" => Some(2),
            "medium" if graviton => Some(1),
            _ => None,
        };
        n.map_or(VcpuCount::Unknown, VcpuCount::Known)
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

    /// Issue: instance types missing from the table counted as 0 vCPUs.
    #[test]
    fn instance_types_missing_from_quotas_json_count_as_0_vcpus() {
        let t = table();
        assert_eq!(t.vcpus_of("c5.4xlarge"), VcpuCount::Known(16));
        assert_eq!(t.vcpus_of("c5.24xlarge"), VcpuCount::Known(96));
        assert_eq!(t.vcpus_of("m7g.medium"), VcpuCount::Known(1));
        assert_eq!(t.vcpus_of("t3.2xlarge"), VcpuCount::Known(8));
        assert_eq!(t.vcpus_of("t3a.nano"), VcpuCount::Known(2));
        assert_eq!(t.vcpus_of("t2.nano"), VcpuCount::Known(1));
        assert_eq!(t.vcpus_of("r6i.large"), VcpuCount::Known(2));
        assert_eq!(t.vcpus_of("c4.8xlarge"), VcpuCount::Known(36));
        assert_eq!(t.vcpus_of("m5.metal"), VcpuCount::Unknown);
        assert_eq!(t.vcpus_of("m5.medium"), VcpuCount::Unknown);
        assert_eq!(t.vcpus_of("bogus"), VcpuCount::Unknown);
        assert_eq!(t.vcpus_of("p4d.24xlarge"), VcpuCount::OtherQuota);
        assert_eq!(t.vcpus_of("inf2.xlarge"), VcpuCount::OtherQuota);
        // The rule agrees with every figure the table carries.
        for (ty, n) in &t.vcpus.types {
            let (family, size) = ty.split_once('.').unwrap();
            if !(family == "t2" && size == "medium") {
                let vcpus = Vcpus { source: String::new(), types: BTreeMap::new() };
                let without = Quotas { version: String::new(), quotas: BTreeMap::new(), vcpus };
                assert_eq!(without.vcpus_of(ty), VcpuCount::Known(*n), "{ty}");
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
