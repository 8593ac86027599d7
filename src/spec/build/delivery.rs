//! Firehose delivery streams.

use super::*;
use crate::names::{self};
use crate::spec::decode::Sp;
use crate::spec::model::*;
use crate::spec::raw::*;
use crate::spec::rules;
use crate::spec::yaml::Mark;
use std::collections::BTreeMap;

impl Builder<'_> {
    pub(super) fn firehoses(&mut self, raw: &RawSpec) -> BTreeMap<String, Firehose> {
        let mut out = BTreeMap::new();
        for (k, r) in &raw.firehoses {
            let path = format!("firehoses.{}", k.v);
            let source = match &r.source {
                Some(Sp { v: RawSource::Stream(s), .. }) => {
                    FirehoseSource::Stream(self.reference(s, "streams", "source stream").unwrap_or_default())
                }
                _ => FirehoseSource::Direct,
            };
            let processor = r.processor.as_ref().and_then(|p| self.reference(p, "functions", "processor function"));
            let Some(d) = &r.destination else { continue };
            let destination = self.destination(d, &path, &source);
            let name = self.name_of("firehoses", &k.v);
            if destination.error_logging {
                self.generated_name(
                    "log group",
                    names::firehose_log_group(&name),
                    k.mark,
                    path.clone(),
                    rules::log_group_name,
                );
            }
            let role = self.existing_role(r.role.as_ref(), &r.policy);
            if role.is_none() {
                self.generated_name(
                    "role",
                    names::firehose_role(&name, self.region.as_deref()),
                    k.mark,
                    path.clone(),
                    rules::role_name,
                );
            }
            let policy = self.statements(&r.policy, &path);
            out.insert(k.v.clone(), Firehose { name, role, source, destination, processor, policy });
        }
        out
    }

    pub(super) fn destination(&mut self, d: &RawDestination, path: &str, source: &FirehoseSource) -> Destination {
        let bucket =
            d.bucket.as_ref().and_then(|b| self.reference(b, "buckets", "destination bucket")).unwrap_or_default();
        let convert = d.convert.as_ref().map(|c| {
            let format = self.choice(
                &c.format,
                &[("parquet", ConvertFormat::Parquet), ("orc", ConvertFormat::Orc)],
                ConvertFormat::Parquet,
                "conversion format (parquet | orc)",
            );
            let table =
                c.table.as_ref().and_then(|t| self.reference(t, "tables", "conversion table")).unwrap_or_default();
            let allowed: &[(&str, ColumnarCompression)] = match format {
                ConvertFormat::Parquet => &[
                    ("snappy", ColumnarCompression::Snappy),
                    ("gzip", ColumnarCompression::Gzip),
                    ("uncompressed", ColumnarCompression::Uncompressed),
                ],
                ConvertFormat::Orc => &[
                    ("snappy", ColumnarCompression::Snappy),
                    ("zlib", ColumnarCompression::Zlib),
                    ("none", ColumnarCompression::Uncompressed),
                ],
            };
            let compression =
                self.choice(&c.compression, allowed, ColumnarCompression::Snappy, "Parquet/ORC compression");
            Convert { format, table, compression }
        });
        let default_size = if convert.is_some() { 128 } else { 5 };
        let (size, interval) = match &d.buffer {
            Some(b) => (
                self.range(&b.size_mb, 1, 128, default_size, "buffer.size_mb", Some("Firehose buffers 1 to 128 MiB")),
                self.range(
                    &b.interval_seconds,
                    0,
                    900,
                    300,
                    "buffer.interval_seconds",
                    Some("Firehose buffers 0 to 900 seconds"),
                ),
            ),
            None => (default_size, 300),
        };
        let compression = self.choice(
            &d.compression,
            &Compression::ALL,
            Compression::Uncompressed,
            "compression (uncompressed | gzip | snappy | zip | hadoop_snappy)",
        );
        if let (Some(c), Some(rc)) = (&convert, &d.convert) {
            if size < 64 {
                let mark = d.buffer.as_ref().and_then(|b| b.size_mb.as_ref()).map_or(rc.mark, |s| s.mark);
                self.err(
                    mark,
                    "convert-buffer",
                    format!(
                        "`{path}` converts to {} but buffers {size} MiB; conversion needs at least 64 MiB",
                        fmt_convert(c.format)
                    ),
                    Some("set `buffer: { size_mb: 64 }` or more (AWS rejects less at create time)".into()),
                );
            }
            if compression != Compression::Uncompressed {
                let mark = d.compression.as_ref().map_or(rc.mark, |s| s.mark);
                self.err(mark, "convert-compression", format!("`{path}` converts to {} with S3 compression `{}`; conversion needs `uncompressed`", fmt_convert(c.format), d.compression.as_ref().map_or("", |s| s.v.as_str())), Some("remove `compression`; set `convert.compression` to compress inside the files (Parquet defaults to snappy)".into()));
            }
        }
        let prefix = d.prefix.as_ref().map(|p| self.text(p));
        let error_prefix = d.error_prefix.as_ref().map(|p| self.text(p));
        if let (Some(p), Some(raw)) = (&prefix, &d.prefix) {
            self.check_prefix(p, raw.mark, false);
            let has_ts = rules::prefix_expressions(p).unwrap_or_default().iter().any(|(ns, _)| ns == "timestamp");
            if has_ts && error_prefix.is_none() {
                self.bad(
                    raw.mark,
                    "error-prefix-required",
                    format!("`{path}.prefix` uses `!{{timestamp:...}}`, which needs an `error_prefix`"),
                    "add `error_prefix: \"errors/!{firehose:error-output-type}/\"`",
                );
            }
        }
        if let (Some(p), Some(raw)) = (&error_prefix, &d.error_prefix) {
            self.check_prefix(p, raw.mark, true);
        }
        let encryption = d.encryption.as_ref().map(|e| {
            let on = self.choice(
                &Some(e.clone()),
                &[("aws_owned", true), ("none", false)],
                false,
                "firehose encryption (aws_owned | none)",
            );
            if on && matches!(source, FirehoseSource::Stream(_)) {
                self.bad(
                    e.mark,
                    "encryption-source",
                    "server-side encryption of the delivery stream applies only to `source: direct`",
                    "a stream-sourced delivery stream is protected by the stream's own encryption",
                );
            }
            on
        });
        Destination {
            bucket,
            prefix,
            error_prefix,
            buffer_size_mb: size,
            buffer_interval_seconds: interval,
            compression,
            convert,
            error_logging: d.error_logging.as_ref().is_none_or(|e| e.v),
            encryption: encryption.unwrap_or(false),
        }
    }

    pub(super) fn check_prefix(&mut self, prefix: &str, mark: Mark, is_error_prefix: bool) {
        if prefix.len() > 1024 {
            self.err(mark, "prefix", "a Firehose prefix must be at most 1024 bytes", None);
        }
        let exprs = match rules::prefix_expressions(prefix) {
            Ok(e) => e,
            Err(msg) => {
                self.err(mark, "prefix", msg, None);
                return;
            }
        };
        for (ns, value) in exprs {
            match (ns.as_str(), value.as_str()) {
                ("timestamp", v) if !v.is_empty() => {}
                ("firehose", "random-string") => {}
                ("firehose", "error-output-type") if is_error_prefix => {}
                ("firehose", "error-output-type") => self.err(mark, "error-output-type", "`!{firehose:error-output-type}` may be used only in `error_prefix`", Some("move it to `error_prefix`".into())),
                ("partitionKeyFromQuery" | "partitionKeyFromLambda", _) => self.err(mark, "prefix", format!("`!{{{ns}:...}}` needs dynamic partitioning, which pipectl does not support yet"), Some("use `!{timestamp:...}` expressions".into())),
                _ => self.err(mark, "prefix", format!("`!{{{ns}:{value}}}` is not a Firehose prefix expression"), Some("use `!{timestamp:<format>}`, `!{firehose:random-string}`, or `!{firehose:error-output-type}` in error_prefix".into())),
            }
        }
    }
}
