//! Writing what was found as a spec (pure).

use super::*;
use std::fmt::Write as _;

/// A YAML scalar that reads back as exactly `s`: a JSON string is a
/// double-quoted YAML one.
fn q(s: &str) -> String {
    serde_json::to_string(s).expect("a string serializes")
}

/// Text the spec interpolates (`${...}`) kept literal.
fn literal(s: &str) -> String {
    q(&s.replace("${", "$${"))
}

impl Found {
    /// The spec, with each function's code at `code/<name>.zip` beside it.
    pub fn spec(&self) -> String {
        let mut o = String::new();
        let _ = writeln!(
            o,
            "# Imported by `pipectl import --from-stream {}`: what exists, named as it is.",
            self.stream.name
        );
        let parameters = self.parameters();
        if !parameters.is_empty() {
            o.push_str(
                "# Environment values are not in this file: each is an SSM parameter, to create\n\
                 # before `pipectl import` of this spec (copied from the function, never shown):\n",
            );
            for (function, var, parameter) in parameters {
                let _ = writeln!(o, "#   {}", super::environment::put_parameter(function, var, parameter));
            }
        }
        let plain: Vec<&str> = self
            .buckets
            .values()
            .filter(|b| b.encryption == "none" || !b.public_access_block)
            .map(|b| b.name.as_str())
            .collect();
        if !plain.is_empty() {
            let _ = writeln!(
                o,
                "# Buckets are as they are ({}): hardening them (`encryption: aes256`,\n\
                 # `public_access_block: true`) is a change of its own, after the import.",
                plain.join(", ")
            );
        }
        let _ = writeln!(o, "pipeline: {}", q(&self.pipeline));
        if !self.tags.is_empty() {
            o.push_str("tags:\n");
            for (k, v) in &self.tags {
                let _ = writeln!(o, "  {}: {}", q(k), literal(v));
            }
        }
        if !self.buckets.is_empty() {
            o.push_str("buckets:\n");
            for (k, b) in &self.buckets {
                let _ = writeln!(o, "  {}:\n    name: {}", q(k), literal(&b.name));
                let _ =
                    writeln!(o, "    encryption: {}\n    public_access_block: {}", b.encryption, b.public_access_block);
            }
        }
        let s = &self.stream;
        let _ = writeln!(o, "streams:\n  {}:\n    name: {}", q(&s.key), literal(&s.name));
        match s.shards {
            Some(n) => {
                let _ = writeln!(o, "    mode: provisioned\n    shards: {n}");
            }
            None => o.push_str("    mode: on_demand\n"),
        }
        let _ = writeln!(
            o,
            "    retention_hours: {}\n    encryption: {}",
            s.retention_hours,
            if s.kms { "kms" } else { "none" }
        );
        if !self.tables.is_empty() {
            o.push_str("catalog:\n  databases:\n");
            for (k, (name, description)) in &self.databases {
                let _ = writeln!(o, "    {}:\n      name: {}", q(k), literal(name));
                if let Some(d) = description {
                    let _ = writeln!(o, "      description: {}", q(d));
                }
            }
            o.push_str("  tables:\n");
            for (k, t) in &self.tables {
                let _ =
                    writeln!(o, "    {}:\n      name: {}\n      database: {}", q(k), literal(&t.name), q(&t.database));
                let _ = writeln!(o, "      location: {{ bucket: {}, prefix: {} }}", q(&t.bucket), literal(&t.prefix));
                let _ = writeln!(o, "      format: {}", t.format);
                let cols = |c: &[(String, String)]| {
                    c.iter().map(|(n, t)| format!("{}: {}", q(n), q(t))).collect::<Vec<_>>().join(", ")
                };
                let _ = writeln!(o, "      columns: {{ {} }}", cols(&t.columns));
                if !t.partition_keys.is_empty() {
                    let _ = writeln!(o, "      partition_keys: {{ {} }}", cols(&t.partition_keys));
                }
                if let Some(d) = &t.description {
                    let _ = writeln!(o, "      description: {}", q(d));
                }
            }
        }
        if !self.firehoses.is_empty() {
            o.push_str("firehoses:\n");
            for (k, h) in &self.firehoses {
                let _ = writeln!(o, "  {}:\n    name: {}\n    role: {}", q(k), literal(&h.name), q(&role(&h.role)));
                let _ = writeln!(
                    o,
                    "    source: {{ stream: {} }}\n    destination:\n      bucket: {}",
                    q(&s.key),
                    q(&h.bucket)
                );
                if !h.prefix.is_empty() {
                    let _ = writeln!(o, "      prefix: {}", literal(&h.prefix));
                }
                if !h.error_prefix.is_empty() {
                    let _ = writeln!(o, "      error_prefix: {}", literal(&h.error_prefix));
                }
                let _ =
                    writeln!(o, "      buffer: {{ size_mb: {}, interval_seconds: {} }}", h.buffer_mb, h.buffer_seconds);
                let _ = writeln!(o, "      compression: {}", h.compression);
                if let Some((format, table, compression)) = &h.convert {
                    let _ = writeln!(
                        o,
                        "      convert: {{ format: {format}, table: {}, compression: {compression} }}",
                        q(table)
                    );
                }
                let _ = writeln!(o, "      error_logging: {}", h.error_logging);
                if let Some(p) = &h.processor {
                    let _ = writeln!(o, "    processor: {{ function: {} }}", q(p));
                }
            }
        }
        if !self.functions.is_empty() {
            o.push_str("functions:\n");
            for (k, f) in &self.functions {
                let _ = writeln!(o, "  {}:\n    name: {}\n    role: {}", q(k), literal(&f.name), q(&role(&f.role)));
                let _ = writeln!(o, "    runtime: {}\n    code: {}", q(&f.runtime), q(&code_path(&f.name)));
                let _ = writeln!(o, "    handler: {}", q(&f.handler));
                let _ = writeln!(o, "    memory_mb: {}\n    timeout_seconds: {}", f.memory_mb, f.timeout_seconds);
                if let Some(n) = f.reserved_concurrency {
                    let _ = writeln!(o, "    reserved_concurrency: {n}");
                }
                if let Some(n) = f.log_retention_days {
                    let _ = writeln!(o, "    log_retention_days: {n}");
                }
                if !f.environment.is_empty() {
                    o.push_str("    environment:\n");
                    for (name, source) in &f.environment {
                        let _ = writeln!(o, "      {}: {}", q(name), q(&source.text()));
                    }
                }
                if let Some(t) = &f.trigger {
                    let _ = writeln!(o, "    trigger:\n      stream: {}", q(&s.key));
                    let _ = writeln!(
                        o,
                        "      batch_size: {}\n      batching_window_seconds: {}",
                        t.batch_size, t.batching_window_seconds
                    );
                    let _ = writeln!(o, "      starting_position: {}", t.starting_position.to_lowercase());
                    if t.tumbling_window_seconds > 0 {
                        let _ = writeln!(o, "      tumbling_window_seconds: {}", t.tumbling_window_seconds);
                    }
                    let _ = writeln!(o, "      parallelization_factor: {}", t.parallelization_factor);
                    let _ = writeln!(
                        o,
                        "      on_failure: {{ bisect: {}, max_retries: {}, max_record_age_seconds: {} }}",
                        t.bisect, t.max_retries, t.max_record_age_seconds
                    );
                    let _ = writeln!(o, "      enabled: {}", t.enabled);
                }
            }
        }
        o
    }
}

impl Found {
    /// The SSM parameters the spec's environments name: (function name,
    /// variable, parameter).
    pub fn parameters(&self) -> Vec<(&str, &str, &str)> {
        let mut out = Vec::new();
        for f in self.functions.values() {
            for (var, source) in &f.environment {
                if let EnvSource::Parameter(p) = source {
                    out.push((f.name.as_str(), var.as_str(), p.as_str()));
                }
            }
        }
        out
    }
}

/// A role as the spec names it: its name when it has no path, else its ARN.
fn role(arn: &str) -> String {
    match arn.split_once(":role/") {
        Some((_, name)) if !name.contains('/') => name.to_string(),
        _ => arn.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found() -> Found {
        let mut f = Found {
            pipeline: "clicks".into(),
            stream: FoundStream {
                key: "Clicks".into(),
                name: "Clicks".into(),
                shards: Some(2),
                retention_hours: 48,
                kms: false,
            },
            ..Found::default()
        };
        let lake = FoundBucket { name: "my-lake".into(), encryption: "none".into(), public_access_block: false };
        f.buckets.insert("lake".into(), lake);
        f.firehoses.insert(
            "to-s3".into(),
            FoundFirehose {
                name: "to-s3".into(),
                role: "arn:aws:iam::123456789012:role/service-role/KinesisFirehoseServiceRole-x".into(),
                bucket: "lake".into(),
                prefix: "raw/".into(),
                buffer_mb: 5,
                buffer_seconds: 60,
                compression: "gzip".into(),
                error_logging: true,
                ..FoundFirehose::default()
            },
        );
        f.functions.insert(
            "consumer".into(),
            FoundFunction {
                name: "consumer".into(),
                runtime: "python3.12".into(),
                handler: "app.handler".into(),
                memory_mb: 128,
                timeout_seconds: 3,
                environment: BTreeMap::from([
                    ("LAKE".into(), EnvSource::Reference("${buckets.lake.name}".into())),
                    ("TOKEN".into(), EnvSource::Parameter("/clicks/consumer/TOKEN".into())),
                ]),
                role: "arn:aws:iam::123456789012:role/lab-lambda".into(),
                log_retention_days: Some(7),
                trigger: Some(FoundTrigger {
                    batch_size: 100,
                    starting_position: "TRIM_HORIZON".into(),
                    parallelization_factor: 1,
                    max_retries: -1,
                    max_record_age_seconds: -1,
                    enabled: true,
                    ..FoundTrigger::default()
                }),
                ..FoundFunction::default()
            },
        );
        f
    }

    #[test]
    fn the_written_spec_is_valid_and_names_everything_as_it_is() {
        let dir = std::env::temp_dir().join(format!("pipectl-import-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("code")).unwrap();
        std::fs::write(
            dir.join("code/consumer.zip"),
            crate::package::build(
                std::path::Path::new("templates/lambda/decode_and_log.py"),
                std::path::Path::new(env!("CARGO_MANIFEST_DIR")),
            )
            .unwrap()
            .zip,
        )
        .unwrap();
        let text = found().spec();
        let opts = crate::spec::Options { code_root: Some(dir.clone()), ..Default::default() };
        let l = crate::load::load_str(&text, "imported.yaml", &dir, &opts).unwrap_or_else(|e| panic!("{e:?}\n{text}"));
        let s = &l.spec;
        assert_eq!(s.streams["Clicks"].name, "Clicks");
        assert_eq!(s.buckets["lake"].name, "my-lake");
        assert_eq!(
            s.firehoses["to-s3"].role.as_deref(),
            Some("arn:aws:iam::123456789012:role/service-role/KinesisFirehoseServiceRole-x"),
            "a role with a path keeps its ARN"
        );
        assert_eq!(s.functions["consumer"].role.as_deref(), Some("lab-lambda"));
        let env = &s.functions["consumer"].environment;
        assert_eq!(env["LAKE"].text, "my-lake", "a reference to the bucket");
        let token = crate::spec::interp::SecretRef::Ssm("/clicks/consumer/TOKEN".into());
        assert_eq!(env["TOKEN"].secrets.iter().map(|(_, r)| r).collect::<Vec<_>>(), [&token]);
        assert!(text.contains("--name /clicks/consumer/TOKEN"), "the header says what to create:\n{text}");
        let b = &s.buckets["lake"];
        assert_eq!((b.encryption, b.public_access_block), (crate::spec::BucketEncryption::None, false), "as it is");
        assert!(text.contains("hardening them"), "{text}");
        assert!(l.graph.nodes.keys().all(|a| a.kind != crate::plan::Kind::Role), "their own roles, not pipectl's");
    }
}
