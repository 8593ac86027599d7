//! Buckets, streams and the Glue catalog.

use super::*;
use crate::diag::did_you_mean;
use crate::spec::model::*;
use crate::spec::raw::*;
use crate::spec::rules;
use std::collections::BTreeMap;

impl Builder<'_> {
    pub(super) fn buckets(&mut self, raw: &RawSpec) -> BTreeMap<String, Bucket> {
        let mut out = BTreeMap::new();
        for (k, r) in &raw.buckets {
            let on_destroy = self.choice(
                &r.on_destroy,
                &[("retain", OnDestroy::Retain), ("delete", OnDestroy::Delete)],
                OnDestroy::Retain,
                "on_destroy (retain | delete)",
            );
            let protect = r.protect.as_ref().map_or(on_destroy == OnDestroy::Retain, |p| p.v);
            let encryption = match &r.encryption {
                Some(e) if e.v == "kms" => {
                    self.bad(
                        e.mark,
                        "enum",
                        "pipectl does not manage SSE-KMS on buckets: the key, and who may use it, are not in the spec",
                        "use `encryption: aes256` (SSE-S3), or `none` to leave the bucket's encryption to S3",
                    );
                    BucketEncryption::Aes256
                }
                _ => self.choice(
                    &r.encryption,
                    &[("aes256", BucketEncryption::Aes256), ("none", BucketEncryption::None)],
                    BucketEncryption::Aes256,
                    "bucket encryption (aes256 | none)",
                ),
            };
            let public_access_block = r.public_access_block.as_ref().is_none_or(|p| p.v);
            let name = self.name_of("buckets", &k.v);
            out.insert(k.v.clone(), Bucket { name, on_destroy, protect, encryption, public_access_block });
        }
        out
    }

    pub(super) fn streams(&mut self, raw: &RawSpec) -> BTreeMap<String, Stream> {
        let mut out = BTreeMap::new();
        for (k, r) in &raw.streams {
            let on_demand = self.choice(
                &r.mode,
                &[("provisioned", false), ("on_demand", true)],
                false,
                "stream mode (provisioned | on_demand)",
            );
            let mode = if on_demand {
                if let Some(s) = &r.shards {
                    self.bad(
                        s.mark,
                        "shards-on-demand",
                        "`shards` applies only to provisioned streams",
                        "remove `shards`, or set `mode: provisioned`",
                    );
                }
                StreamMode::OnDemand
            } else {
                StreamMode::Provisioned {
                    shards: self.range(
                        &r.shards,
                        1,
                        10_000,
                        1,
                        "shards",
                        Some("a provisioned stream needs at least one shard"),
                    ),
                }
            };
            let retention_hours = self.range(
                &r.retention_hours,
                24,
                8760,
                24,
                "retention_hours",
                Some("Kinesis keeps records 24 hours to 365 days"),
            );
            let encryption = self.choice(
                &r.encryption,
                &[("kms", StreamEncryption::Kms), ("none", StreamEncryption::None)],
                StreamEncryption::Kms,
                "stream encryption (kms | none)",
            );
            let protect = r.protect.as_ref().is_some_and(|p| p.v);
            let name = self.name_of("streams", &k.v);
            out.insert(k.v.clone(), Stream { name, mode, retention_hours, encryption, protect });
        }
        out
    }

    pub(super) fn databases(&mut self, raw: &RawSpec) -> BTreeMap<String, Database> {
        let mut out = BTreeMap::new();
        for (k, r) in &raw.databases {
            let description = r.description.as_ref().map(|d| self.text(d));
            out.insert(k.v.clone(), Database { name: self.name_of("databases", &k.v), description });
        }
        out
    }

    pub(super) fn tables(&mut self, raw: &RawSpec) -> BTreeMap<String, Table> {
        let mut out = BTreeMap::new();
        for (k, r) in &raw.tables {
            let database =
                r.database.as_ref().and_then(|d| self.reference(d, "databases", "database")).unwrap_or_default();
            let (bucket, prefix) = match &r.location {
                Some(l) => {
                    let bucket =
                        l.bucket.as_ref().and_then(|b| self.reference(b, "buckets", "bucket")).unwrap_or_default();
                    let prefix = l.prefix.as_ref().map(|p| self.text(p)).unwrap_or_default();
                    if prefix.starts_with('/') {
                        let mark = l.prefix.as_ref().map_or(l.mark, |p| p.mark);
                        self.bad(
                            mark,
                            "prefix",
                            "a table location prefix must not start with `/`",
                            "write `nyctaxitrips/`, not `/nyctaxitrips/`",
                        );
                    }
                    (bucket, prefix)
                }
                None => Default::default(),
            };
            let format = self.choice(
                &r.format,
                &[("parquet", TableFormat::Parquet), ("orc", TableFormat::Orc), ("json", TableFormat::Json)],
                TableFormat::Parquet,
                "table format (parquet | orc | json)",
            );
            let columns = self.columns(&r.columns, "column");
            if r.columns.is_empty() {
                self.bad(
                    r.mark,
                    "columns",
                    format!("`tables.{}` has no columns", k.v),
                    "add `columns: { name: type, ... }`",
                );
            }
            let partition_keys = self.columns(&r.partition_keys, "partition key");
            for (pk, _) in &r.partition_keys {
                if r.columns.iter().any(|(c, _)| c.v.eq_ignore_ascii_case(&pk.v)) {
                    self.bad(
                        pk.mark,
                        "partition-key-column",
                        format!("`{}` is both a column and a partition key", pk.v),
                        "a partition key is a virtual column: remove it from `columns`",
                    );
                }
            }
            let description = r.description.as_ref().map(|d| self.text(d));
            out.insert(
                k.v.clone(),
                Table {
                    name: self.name_of("tables", &k.v),
                    database,
                    bucket,
                    prefix,
                    format,
                    columns,
                    partition_keys,
                    description,
                    protect: r.protect.as_ref().is_some_and(|p| p.v),
                },
            );
        }
        out
    }

    pub(super) fn columns(&mut self, raw: &[(S, S)], what: &str) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (name, ty) in raw {
            if rules::glue_name(&name.v).is_err() {
                self.bad(
                    name.mark,
                    "column-name",
                    format!("{what} name `{}` must be lower-case letters, digits and `_`", name.v),
                    "Glue stores column names in lower case; Athena needs `[a-z0-9_]`",
                );
            }
            if let Err(msg) = rules::hive_type(&ty.v) {
                let prims = [
                    "boolean",
                    "tinyint",
                    "smallint",
                    "int",
                    "bigint",
                    "float",
                    "double",
                    "decimal",
                    "string",
                    "varchar",
                    "char",
                    "date",
                    "timestamp",
                    "binary",
                    "array",
                    "map",
                    "struct",
                ];
                let hint = match did_you_mean(&ty.v, prims) {
                    Some(m) => format!("did you mean `{m}`?"),
                    None => {
                        "use a Hive type: string, int, bigint, double, timestamp, decimal(p,s), array<T>, ...".into()
                    }
                };
                self.err(ty.mark, "column-type", msg, Some(hint));
            }
            out.push((name.v.clone(), ty.v.trim().to_ascii_lowercase()));
        }
        out
    }
}
