//! The one place that reads the whole spec to build each resource: every
//! kind gets its own input (its section of the spec, plus the names and
//! ARNs of what it references, resolved here once), never the whole `Spec`.

pub mod agent;
pub mod dashboard;
pub mod policy;
pub mod projection;

use crate::names::{self, Scope, TableId, TriggerId};
use crate::plan::{Address, Graph, Kind};
use crate::resources::{
    bucket, cloudwatch, firehose, function, glue, instance_profile, log_group, metric_filter, network, role,
    security_group, stream, trigger, Meta, Res,
};
use crate::spec::{ColumnarCompression, ConvertFormat, FirehoseSource, Spec};
use std::collections::BTreeMap;
use std::sync::Arc;

/// What reads stream `key`: the Firehoses it is the source of and the
/// functions it triggers, as addresses (`firehose.raw`).
fn stream_consumers(spec: &Spec, key: &str) -> Vec<String> {
    let firehoses = spec
        .firehoses
        .iter()
        .filter(|(_, f)| matches!(&f.source, crate::spec::model::FirehoseSource::Stream(s) if s == key))
        .map(|(k, _)| format!("firehose.{k}"));
    let functions = spec
        .functions
        .iter()
        .filter(|(_, f)| f.trigger.as_ref().is_some_and(|t| t.stream == key))
        .map(|(k, _)| format!("function.{k}"));
    firehoses.chain(functions).collect()
}

/// Every node of the graph but the record, built from the spec.
pub fn resources(spec: &Spec, graph: &Graph, scope: &Scope, meta: &Meta) -> BTreeMap<Address, Res> {
    graph.nodes.values().filter_map(|node| Some((node.address.clone(), resource(spec, node, scope, meta)?))).collect()
}

fn resource(spec: &Spec, node: &crate::plan::graph::Node, scope: &Scope, meta: &Meta) -> Option<Res> {
    let a = node.address.clone();
    let key = node.address.key.as_str();
    let name = node.name.clone();
    let base = crate::resources::Base::new(a.clone(), name.clone(), meta);
    Some(match a.kind {
        Kind::Record => return None,
        Kind::Bucket => Arc::new(bucket::Bucket { base, spec: Some(spec.buckets.get(key)?.clone()) }),
        Kind::Stream => {
            let consumers = stream_consumers(spec, key);
            Arc::new(stream::Stream { base, spec: Some(spec.streams.get(key)?.clone()), consumers })
        }
        Kind::GlueDatabase => {
            Arc::new(glue::Database::new(a, name, Some(spec.databases.get(key)?.clone()), scope, meta))
        }
        Kind::GlueTable => {
            let t = spec.tables.get(key)?;
            let database = spec.databases.get(&t.database).map(|d| d.name.clone()).unwrap_or_default();
            let bucket = spec.buckets.get(&t.bucket).map(|b| b.name.clone()).unwrap_or_default();
            let id = TableId { database, table: t.name.clone() };
            let projection = projection::for_table(spec, key, t, &bucket);
            Arc::new(glue::Table::new(a, id, Some(glue::TableSpec { table: t.clone(), bucket, projection }), meta))
        }
        Kind::MetricFilter => {
            let m = spec.metric_filters.get(key)?;
            let f = spec.functions.get(&m.function)?;
            let id = names::MetricFilterId { log_group: names::function_log_group(&f.name), filter: m.name.clone() };
            Arc::new(metric_filter::MetricFilter::new(a, id, Some(m.clone()), meta))
        }
        Kind::Role => Arc::new(role::Role { base, spec: policy::role(&node.owner()?, spec, scope) }),
        Kind::LogGroup => Arc::new(log_group::LogGroup { base, spec: Some(log_group(&node.owner()?, spec)) }),
        Kind::Network => Arc::new(network::Network { base, spec: Some(spec.networks.get(key)?.clone()) }),
        Kind::InstanceProfile => {
            let role = names::agent_role(&spec.agents.get(key)?.name, spec.region.as_deref());
            Arc::new(instance_profile::InstanceProfile::new(base, Some(role)))
        }
        Kind::SecurityGroup => Arc::new(security_group::SecurityGroup::new(a, name, Some(spec.agents.get(key)?), meta)),
        Kind::Agent => {
            let ag = spec.agents.get(key)?;
            let host = crate::resources::agent::HostSpec {
                agent: ag.clone(),
                user_data: agent::user_data(ag, spec, &scope.region),
                profile: names::agent_role(&ag.name, spec.region.as_deref()),
                security_group: names::agent_role(&ag.name, spec.region.as_deref()),
            };
            Arc::new(crate::resources::agent::Agent { base, spec: Some(host) })
        }
        Kind::Dashboard => {
            let body = dashboard::body(spec, scope);
            let agents = spec.agents.keys().cloned().collect();
            Arc::new(cloudwatch::Dashboard { base, body: Some(body), agents })
        }
        Kind::Alarm => Arc::new(cloudwatch::Alarm { base, spec: dashboard::alarm(key, spec) }),
        Kind::Function => {
            let f = spec.functions.get(key)?;
            let derived = names::function_role(&f.name, spec.region.as_deref());
            let role_arn = names::role_arn(scope, f.role.as_deref(), &derived);
            let fs = function::FunctionSpec { function: f.clone(), role_arn };
            Arc::new(function::Function::new(a, name, Some(fs), meta))
        }
        Kind::Trigger => {
            let f = spec.functions.get(key)?;
            let t = f.trigger.clone()?;
            let stream = spec.streams.get(&t.stream).map(|s| s.name.clone()).unwrap_or_default();
            let id = TriggerId { function: f.name.clone(), stream };
            Arc::new(trigger::Trigger::new(a, id, Some(trigger::TriggerSpec { trigger: t }), scope, meta))
        }
        Kind::Firehose => Arc::new(firehose::Firehose { base, config: firehose(key, spec, scope) }),
    })
}

/// What the log group of `owner` should look like: a Firehose's holds its
/// delivery log stream; a function's keeps the function's retention.
fn log_group(owner: &Address, spec: &Spec) -> log_group::Desired {
    match owner.kind {
        Kind::Function => log_group::Desired {
            retention_days: spec.functions.get(&owner.key).map_or(14, |f| f.log_retention_days),
            streams: vec![],
        },
        _ => log_group::Desired { retention_days: 14, streams: vec![names::FIREHOSE_LOG_STREAM.into()] },
    }
}

/// A Firehose's configuration from the spec, with every name resolved.
fn firehose(key: &str, spec: &Spec, scope: &Scope) -> Option<firehose::Config> {
    let f = spec.firehoses.get(key)?;
    let d = &f.destination;
    let bucket = spec.buckets.get(&d.bucket)?;
    let source = match &f.source {
        FirehoseSource::Direct => "direct".to_string(),
        FirehoseSource::Stream(s) => scope.stream(&spec.streams.get(s)?.name).to_string(),
    };
    let conversion = match &d.convert {
        Some(c) => {
            let t = spec.tables.get(&c.table)?;
            let db = spec.databases.get(&t.database)?;
            Some(firehose::Conversion {
                format: match c.format {
                    ConvertFormat::Parquet => "parquet".into(),
                    ConvertFormat::Orc => "orc".into(),
                },
                database: db.name.clone(),
                table: t.name.clone(),
                region: scope.region.clone(),
                compression: columnar_compression(c.format, c.compression).into(),
            })
        }
        None => None,
    };
    Some(firehose::Config {
        source,
        role: names::role_arn(scope, f.role.as_deref(), &names::firehose_role(&f.name, spec.region.as_deref())),
        bucket: scope.bucket(&bucket.name).to_string(),
        prefix: d.prefix.clone().unwrap_or_default(),
        error_prefix: d.error_prefix.clone().unwrap_or_default(),
        buffer_size_mb: d.buffer_size_mb as i32,
        buffer_interval_seconds: d.buffer_interval_seconds as i32,
        compression: d.compression.aws().to_string(),
        conversion,
        logging: d.error_logging.then(|| names::firehose_log_group(&f.name)),
        processor: f
            .processor
            .as_ref()
            .and_then(|p| spec.functions.get(p))
            .map(|p| scope.function(&p.name).to_string()),
        encryption: d.encryption,
    })
}

fn columnar_compression(format: ConvertFormat, c: ColumnarCompression) -> &'static str {
    match (format, c) {
        (_, ColumnarCompression::Snappy) => "SNAPPY",
        (_, ColumnarCompression::Gzip) => "GZIP",
        (_, ColumnarCompression::Zlib) => "ZLIB",
        (ConvertFormat::Parquet, ColumnarCompression::Uncompressed) => "UNCOMPRESSED",
        (ConvertFormat::Orc, ColumnarCompression::Uncompressed) => "NONE",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columnar_compression_names() {
        assert_eq!(columnar_compression(ConvertFormat::Parquet, ColumnarCompression::Uncompressed), "UNCOMPRESSED");
        assert_eq!(columnar_compression(ConvertFormat::Orc, ColumnarCompression::Uncompressed), "NONE");
        assert_eq!(columnar_compression(ConvertFormat::Orc, ColumnarCompression::Zlib), "ZLIB");
    }

    #[test]
    fn a_spec_in_china_plans_aws_cn_arns() {
        let l = crate::load::load_pipeline("lab");
        let scope = Scope::new("cn-north-1", "123456789012");
        let f = firehose("raw", &l.spec, &scope).unwrap();
        assert!(f.role.starts_with("arn:aws-cn:iam::123456789012:role/"), "{}", f.role);
        assert!(f.bucket.starts_with("arn:aws-cn:s3:::"), "{}", f.bucket);
        assert!(f.source.starts_with("arn:aws-cn:kinesis:cn-north-1:123456789012:stream/"), "{}", f.source);
        let owner = Address::new(Kind::Function, "filter");
        let policy = policy::role(&owner, &l.spec, &scope).unwrap().policy.to_string();
        assert!(policy.contains("arn:aws-cn:logs:cn-north-1:123456789012:log-group:/aws/lambda/"), "{policy}");
        assert!(!policy.contains("arn:aws:"), "{policy}");
    }

    #[test]
    fn the_lab_costs_what_the_price_table_says_in_us_east_1() {
        let l = crate::load::load_pipeline("lab");
        let scope = Scope::new("us-east-1", "123456789012");
        let meta = Meta::of(&l.spec, "us-east-1");
        let res = resources(&l.spec, &l.graph, &scope, &meta);
        let usages = res.iter().map(|(a, r)| (a.to_string(), r.usage()));
        let e = crate::cost::estimate("us-east-1", 1.0, usages, crate::cost::table());
        let got: Vec<(&str, &str, String)> =
            e.items.iter().map(|i| (i.address.as_str(), i.what.as_str(), format!("{:.6}", i.hourly))).collect();
        // us-east-1 at 1 GB/day: a month of it is 730/24 GB, so a per-GB
        // price p costs p * 30.4167 / 730 an hour.
        let want = [
            ("stream.trips", "1 shard", "0.015000"),
            ("firehose.raw", "ingested (1 GB/day)", "0.001208"),
            ("firehose.raw", "S3 storage of a month's deliveries (1 GB/day)", "0.000958"),
            ("firehose.to-lake", "ingested (1 GB/day)", "0.001208"),
            ("firehose.to-lake", "converted to parquet (1 GB/day)", "0.000750"),
            ("firehose.to-lake", "S3 storage of a month's deliveries (1 GB/day)", "0.000958"),
            ("agent.producer", "t3.small instance", "0.020800"),
            ("agent.producer", "8 GB root volume", "0.000877"),
            ("agent.producer", "public IPv4", "0.005000"),
            ("dashboard.main", "dashboard", "0.004110"),
            ("alarm.filter_errors", "alarm", "0.000137"),
            ("alarm.iterator_age", "alarm", "0.000137"),
            ("alarm.lake_freshness", "alarm", "0.000137"),
        ];
        let mut got = got;
        got.sort();
        let mut want: Vec<(&str, &str, String)> = want.iter().map(|(a, w, h)| (*a, *w, h.to_string())).collect();
        want.sort();
        assert_eq!(got, want);
        assert_eq!(format!("{:.6} {:.2}", e.hourly, e.monthly), "0.051281 37.43");
        assert_eq!(format!("{:.6} {:.2}", e.idle_hourly, e.idle_hourly * 730.0), "0.046197 33.72");
        assert_eq!(
            e.not_estimated,
            [
                "stream.trips: PUT payload units (per 25 KB of each record put)",
                "function.filter: Lambda bills per request and GB-second of run time"
            ]
        );
    }
}
