//! CloudWatch dashboard and alarms.
//!
//! Dashboard contract:
//! 1. read: GetDashboard; ResourceNotFound = `None`. Dashboards are owned
//!    through the deployment record (their tags are not reliably visible).
//! 2. attributes: body, compared as JSON (not text). PutDashboard is an
//!    upsert: create and update are the same call. The name forces a
//!    replacement.
//! 3. The body is generated from the graph: a text widget with the
//!    pipeline, env and console links, then one row per stream, delivery
//!    stream, function and agent host, the region set on every widget.
//!    An agent host's instance id is known only once it runs: the body holds
//!    `${agent.<key>.instance_id}`, resolved when the dashboard is written and
//!    turned back into the placeholder when it is read.
//! 4. delete: DeleteDashboards; ResourceNotFound means done.
//!
//! Alarm contract:
//! 1. read: DescribeAlarms by name, tags by ARN; absent = `None`.
//! 2. attributes: namespace, metric, dimensions, statistic, comparison,
//!    threshold, period, evaluation periods, tags; all in place
//!    (PutMetricAlarm is an upsert). The name forces a replacement.
//! 3. delete: DeleteAlarms; absent means done.

use super::{tag_delta, tags_attr, Attrs, Deleted, Meta, Observed, Progress, Resource, Tags};
use crate::aws::{aws_err, Aws, AwsError};
use crate::plan::Address;
use crate::spec::{AlarmKind, Spec};
use async_trait::async_trait;
use aws_sdk_cloudwatch::types::{ComparisonOperator, Dimension, Statistic, Tag};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// The instance id placeholder of an agent host in a dashboard body.
pub fn instance_placeholder(agent_key: &str) -> String {
    format!("${{agent.{agent_key}.instance_id}}")
}

fn metric_widget(title: &str, region: &str, y: u32, x: u32, stat: &str, metrics: Vec<Value>) -> Value {
    json!({
        "type": "metric", "x": x, "y": y, "width": 12, "height": 6,
        "properties": { "title": title, "region": region, "view": "timeSeries", "stat": stat, "period": 300, "metrics": metrics }
    })
}

/// The dashboard body for a spec: names only, no AWS call.
pub fn body(spec: &Spec, region: &str) -> Value {
    let mut widgets = Vec::new();
    let console = format!("https://{region}.console.aws.amazon.com");
    let mut links = vec![format!("[Kinesis streams]({console}/kinesis/home?region={region}#/streams/list)")];
    if !spec.firehoses.is_empty() {
        links.push(format!("[Firehose]({console}/firehose/home?region={region}#/streams)"));
    }
    if !spec.functions.is_empty() {
        links.push(format!("[Lambda]({console}/lambda/home?region={region}#/functions)"));
    }
    for b in spec.buckets.values() {
        links.push(format!(
            "[s3://{}](https://s3.console.aws.amazon.com/s3/buckets/{}?region={region})",
            b.name, b.name
        ));
    }
    widgets.push(json!({
        "type": "text", "x": 0, "y": 0, "width": 24, "height": 3,
        "properties": { "markdown": format!("# Pipeline `{}`, env `{}`\n{}", spec.pipeline, spec.env, links.join(" · ")) }
    }));
    let mut y = 3;
    for s in spec.streams.values() {
        let m = |metric: &str| json!(["AWS/Kinesis", metric, "StreamName", s.name]);
        widgets.push(metric_widget(
            &format!("Stream {}: records and bytes in", s.name),
            region,
            y,
            0,
            "Sum",
            vec![m("IncomingRecords"), m("IncomingBytes"), m("PutRecord.Success")],
        ));
        widgets.push(metric_widget(
            &format!("Stream {}: throttling and iterator age", s.name),
            region,
            y,
            12,
            "Maximum",
            vec![
                m("ReadProvisionedThroughputExceeded"),
                m("WriteProvisionedThroughputExceeded"),
                m("GetRecords.IteratorAgeMilliseconds"),
            ],
        ));
        y += 6;
    }
    for f in spec.firehoses.values() {
        let m = |metric: &str| json!(["AWS/Firehose", metric, "DeliveryStreamName", f.name]);
        widgets.push(metric_widget(
            &format!("Firehose {}: records in and delivered", f.name),
            region,
            y,
            0,
            "Sum",
            vec![m("IncomingRecords"), m("DeliveryToS3.Success")],
        ));
        widgets.push(metric_widget(
            &format!("Firehose {}: freshness and conversion failures", f.name),
            region,
            y,
            12,
            "Maximum",
            vec![m("DeliveryToS3.DataFreshness"), m("FailedConversion.Records")],
        ));
        y += 6;
    }
    for f in spec.functions.values() {
        let m = |metric: &str| json!(["AWS/Lambda", metric, "FunctionName", f.name]);
        widgets.push(metric_widget(
            &format!("Function {}: invocations and errors", f.name),
            region,
            y,
            0,
            "Sum",
            vec![m("Invocations"), m("Errors")],
        ));
        widgets.push(metric_widget(
            &format!("Function {}: duration and iterator age", f.name),
            region,
            y,
            12,
            "Maximum",
            vec![m("Duration"), m("IteratorAge")],
        ));
        y += 6;
    }
    for (key, a) in &spec.agents {
        widgets.push(metric_widget(
            &format!("Agent host {}: CPU", a.name),
            region,
            y,
            0,
            "Average",
            vec![json!(["AWS/EC2", "CPUUtilization", "InstanceId", instance_placeholder(key)])],
        ));
        let m = |metric: &str| json!([super::role::AGENT_METRIC_NAMESPACE, metric]);
        widgets.push(metric_widget(
            &format!("Agent host {}: Kinesis Agent", a.name),
            region,
            y,
            12,
            "Sum",
            vec![m("BytesSent"), m("RecordSendAttempts"), m("RecordSendErrors"), m("ServiceErrors")],
        ));
        y += 6;
    }
    json!({ "widgets": widgets })
}

pub struct Dashboard {
    address: Address,
    name: String,
    body: Option<Value>,
    /// Agent keys whose instance ids the body refers to.
    agents: Vec<String>,
    pipeline: String,
    env: String,
}

impl Dashboard {
    pub fn new(address: Address, name: String, body: Option<Value>, agents: Vec<String>, meta: &Meta) -> Self {
        Dashboard { address, name, body, agents, pipeline: meta.pipeline.clone(), env: meta.env.clone() }
    }

    /// Current instance id of each agent host of the body.
    async fn instance_ids(&self, aws: &Aws) -> Result<BTreeMap<String, String>, AwsError> {
        let mut out = BTreeMap::new();
        for key in &self.agents {
            let address = format!("agent.{key}");
            if let Some(id) = super::agent::find_instance(aws, &self.pipeline, &self.env, &address)
                .await?
                .and_then(|i| i.instance_id().map(str::to_string))
            {
                out.insert(key.clone(), id);
            }
        }
        Ok(out)
    }

    async fn put(&self, aws: &Aws) -> Result<(), AwsError> {
        let mut text = self.body.as_ref().expect("needs a spec").to_string();
        for (key, id) in self.instance_ids(aws).await? {
            text = text.replace(&instance_placeholder(&key), &id);
        }
        let out = aws
            .cloudwatch
            .put_dashboard()
            .dashboard_name(&self.name)
            .dashboard_body(text)
            .send()
            .await
            .map_err(aws_err("PutDashboard"))?;
        let problems: Vec<String> =
            out.dashboard_validation_messages().iter().filter_map(|m| m.message().map(str::to_string)).collect();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(AwsError::fatal("PutDashboard", format!("dashboard `{}` rejected: {}", self.name, problems.join("; "))))
        }
    }
}

#[async_trait]
impl Resource for Dashboard {
    fn address(&self) -> &Address {
        &self.address
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn desired(&self) -> Option<Attrs> {
        Some(Attrs::from([("body".into(), self.body.clone()?)]))
    }

    async fn read(&self, aws: &Aws) -> Result<Option<Observed>, AwsError> {
        let out = match aws
            .cloudwatch
            .get_dashboard()
            .dashboard_name(&self.name)
            .send()
            .await
            .map_err(aws_err("GetDashboard"))
        {
            Ok(o) => o,
            Err(e) if e.is_not_found() || e.code.as_deref() == Some("ResourceNotFound") => return Ok(None),
            Err(e) => return Err(e),
        };
        let mut text = out.dashboard_body().unwrap_or("{}").to_string();
        for (key, id) in self.instance_ids(aws).await? {
            text = text.replace(&format!("\"{id}\""), &format!("\"{}\"", instance_placeholder(&key)));
        }
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Ok(Some(Observed { attrs: Attrs::from([("body".into(), body)]), tags: None }))
    }

    async fn create(&self, aws: &Aws, _p: &Progress) -> Result<(), AwsError> {
        self.put(aws).await
    }

    async fn update(&self, aws: &Aws, _before: &Observed, _changed: &[String], _p: &Progress) -> Result<(), AwsError> {
        self.put(aws).await
    }

    async fn delete(&self, aws: &Aws, _p: &Progress) -> Result<Deleted, AwsError> {
        match aws
            .cloudwatch
            .delete_dashboards()
            .dashboard_names(&self.name)
            .send()
            .await
            .map_err(aws_err("DeleteDashboards"))
        {
            Ok(_) => Ok(Deleted::Gone),
            Err(e) if e.is_not_found() || e.code.as_deref() == Some("ResourceNotFound") => Ok(Deleted::Gone),
            Err(e) => Err(e),
        }
    }
}

/// An alarm's metric and threshold, in CloudWatch's terms.
#[derive(Debug, Clone, PartialEq)]
pub struct AlarmSpec {
    pub namespace: &'static str,
    pub metric: &'static str,
    pub dimension: (&'static str, String),
    pub statistic: &'static str,
    pub threshold: f64,
    pub period: u32,
    pub evaluation_periods: u32,
    pub description: String,
}

pub fn alarm_spec(key: &str, spec: &Spec) -> Option<AlarmSpec> {
    let a = spec.alarms.get(key)?;
    let (namespace, metric, dimension, statistic, threshold, what) = match &a.kind {
        AlarmKind::StreamIteratorAge { stream, max_ms } => {
            let s = &spec.streams.get(stream)?.name;
            (
                "AWS/Kinesis",
                "GetRecords.IteratorAgeMilliseconds",
                ("StreamName", s.clone()),
                "Maximum",
                *max_ms as f64,
                format!("records in stream {s} older than {max_ms} ms"),
            )
        }
        AlarmKind::FunctionIteratorAge { function, max_ms } => {
            let f = &spec.functions.get(function)?.name;
            (
                "AWS/Lambda",
                "IteratorAge",
                ("FunctionName", f.clone()),
                "Maximum",
                *max_ms as f64,
                format!("function {f} behind its stream by more than {max_ms} ms"),
            )
        }
        AlarmKind::DeliveryFreshness { firehose, max_seconds } => {
            let f = &spec.firehoses.get(firehose)?.name;
            (
                "AWS/Firehose",
                "DeliveryToS3.DataFreshness",
                ("DeliveryStreamName", f.clone()),
                "Maximum",
                *max_seconds as f64,
                format!("delivery stream {f} more than {max_seconds} s behind"),
            )
        }
        AlarmKind::FunctionErrors { function, max_errors } => {
            let f = &spec.functions.get(function)?.name;
            (
                "AWS/Lambda",
                "Errors",
                ("FunctionName", f.clone()),
                "Sum",
                *max_errors as f64,
                format!("function {f} errors above {max_errors}"),
            )
        }
    };
    Some(AlarmSpec {
        namespace,
        metric,
        dimension,
        statistic,
        threshold,
        period: a.period_seconds,
        evaluation_periods: a.evaluation_periods,
        description: format!("pipectl {}/{}: {what}", spec.pipeline, spec.env),
    })
}

pub struct Alarm {
    address: Address,
    name: String,
    spec: Option<AlarmSpec>,
    tags: Tags,
}

impl Alarm {
    pub fn new(address: Address, name: String, spec: Option<AlarmSpec>, meta: &Meta) -> Self {
        Alarm { address, name, spec, tags: meta.tags() }
    }

    fn arn(&self, aws: &Aws) -> String {
        format!("arn:aws:cloudwatch:{}:{}:alarm:{}", aws.region, aws.account, self.name)
    }

    async fn put(&self, aws: &Aws) -> Result<(), AwsError> {
        let s = self.spec.as_ref().expect("needs a spec");
        aws.cloudwatch
            .put_metric_alarm()
            .alarm_name(&self.name)
            .alarm_description(&s.description)
            .namespace(s.namespace)
            .metric_name(s.metric)
            .dimensions(Dimension::builder().name(s.dimension.0).value(&s.dimension.1).build())
            .statistic(Statistic::from(s.statistic))
            .comparison_operator(ComparisonOperator::GreaterThanThreshold)
            .threshold(s.threshold)
            .period(s.period as i32)
            .evaluation_periods(s.evaluation_periods as i32)
            .treat_missing_data("notBreaching")
            .set_tags(Some(self.tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect()))
            .send()
            .await
            .map(|_| ())
            .map_err(aws_err("PutMetricAlarm"))
    }
}

fn alarm_attrs(
    namespace: &str,
    metric: &str,
    dims: Value,
    statistic: &str,
    threshold: f64,
    period: i64,
    evals: i64,
) -> Attrs {
    Attrs::from([
        ("namespace".into(), json!(namespace)),
        ("metric".into(), json!(metric)),
        ("dimensions".into(), dims),
        ("statistic".into(), json!(statistic)),
        ("comparison".into(), json!("GreaterThanThreshold")),
        ("threshold".into(), json!(threshold)),
        ("period".into(), json!(period)),
        ("evaluation_periods".into(), json!(evals)),
    ])
}

#[async_trait]
impl Resource for Alarm {
    fn address(&self) -> &Address {
        &self.address
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn desired(&self) -> Option<Attrs> {
        let s = self.spec.as_ref()?;
        let dims = json!({ s.dimension.0: s.dimension.1 });
        let mut a = alarm_attrs(
            s.namespace,
            s.metric,
            dims,
            s.statistic,
            s.threshold,
            s.period.into(),
            s.evaluation_periods.into(),
        );
        a.insert("tags".into(), tags_attr(&self.tags));
        Some(a)
    }

    async fn read(&self, aws: &Aws) -> Result<Option<Observed>, AwsError> {
        let out =
            aws.cloudwatch.describe_alarms().alarm_names(&self.name).send().await.map_err(aws_err("DescribeAlarms"))?;
        let Some(a) = out.metric_alarms().iter().find(|a| a.alarm_name() == Some(self.name.as_str())) else {
            return Ok(None);
        };
        let tags: Tags = match aws
            .cloudwatch
            .list_tags_for_resource()
            .resource_arn(self.arn(aws))
            .send()
            .await
            .map_err(aws_err("ListTagsForResource"))
        {
            Ok(o) => o
                .tags()
                .iter()
                .map(|t| (t.key().unwrap_or_default().to_string(), t.value().unwrap_or_default().to_string()))
                .collect(),
            Err(e) if e.is_not_found() => Tags::new(),
            Err(e) => return Err(e),
        };
        let dims: serde_json::Map<String, Value> = a
            .dimensions()
            .iter()
            .map(|d| (d.name().unwrap_or_default().to_string(), json!(d.value().unwrap_or_default())))
            .collect();
        let comparison = a.comparison_operator().map(|c| c.as_str()).unwrap_or_default();
        let mut attrs = alarm_attrs(
            a.namespace().unwrap_or_default(),
            a.metric_name().unwrap_or_default(),
            Value::Object(dims),
            a.statistic().map(|s| s.as_str()).unwrap_or_default(),
            a.threshold().unwrap_or_default(),
            a.period().unwrap_or_default().into(),
            a.evaluation_periods().unwrap_or_default().into(),
        );
        attrs.insert("comparison".into(), json!(comparison));
        attrs.insert("tags".into(), tags_attr(&tags));
        Ok(Some(Observed { attrs, tags: Some(tags) }))
    }

    async fn create(&self, aws: &Aws, _p: &Progress) -> Result<(), AwsError> {
        self.put(aws).await
    }

    async fn update(&self, aws: &Aws, before: &Observed, changed: &[String], _p: &Progress) -> Result<(), AwsError> {
        if changed.iter().any(|c| c != "tags") {
            self.put(aws).await?;
        }
        if changed.iter().any(|c| c == "tags") {
            let (set, remove) = tag_delta(before.tags.as_ref().unwrap_or(&Tags::new()), &self.tags);
            if !set.is_empty() {
                aws.cloudwatch
                    .tag_resource()
                    .resource_arn(self.arn(aws))
                    .set_tags(Some(set.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect()))
                    .send()
                    .await
                    .map_err(aws_err("TagResource"))?;
            }
            if !remove.is_empty() {
                aws.cloudwatch
                    .untag_resource()
                    .resource_arn(self.arn(aws))
                    .set_tag_keys(Some(remove))
                    .send()
                    .await
                    .map_err(aws_err("UntagResource"))?;
            }
        }
        Ok(())
    }

    async fn delete(&self, aws: &Aws, _p: &Progress) -> Result<Deleted, AwsError> {
        super::gone_if_absent(
            aws.cloudwatch.delete_alarms().alarm_names(&self.name).send().await.map_err(aws_err("DeleteAlarms")),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_covers_every_resource_of_the_lab_with_a_region_on_every_widget() {
        let l = crate::spec::load_pipeline("lab");
        let b = body(&l.spec, "eu-west-1");
        let text = b.to_string();
        for name in [
            "taxi-lab-trips",
            "taxi-lab-raw",
            "taxi-lab-to-lake",
            "taxi-lab-filter",
            "${agent.producer.instance_id}",
            "AWSKinesisAgent",
        ] {
            assert!(text.contains(name), "{name} missing");
        }
        let widgets = b["widgets"].as_array().unwrap();
        assert_eq!(widgets.len(), 1 + 2 * (1 + 2 + 1 + 1));
        for w in widgets.iter().filter(|w| w["type"] == "metric") {
            assert_eq!(w["properties"]["region"], "eu-west-1");
        }
        assert!(widgets[0]["properties"]["markdown"].as_str().unwrap().contains("Pipeline `taxi-lab`, env `default`"));
    }
}
