//! CloudWatch dashboard and alarms.
//!
//! Dashboard contract:
//! 1. read: GetDashboard; ResourceNotFound = `None`. Dashboards cannot be
//!    tagged: one is owned when the deployment record lists it under its
//!    name *and* its body carries pipectl's marker for the deployment
//!    (`managed by pipectl (pipectl:pipeline=… pipectl:env=… pipectl:region=…)`,
//!    the last line of the first text widget).
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

use super::cfn::{self, Part};
use super::{to_attrs, Attrs, Base, Deleted, Meta, Observed, Owner, Progress, Resource, Tags};
use crate::aws::{Aws, AwsError};
use crate::plan::{Address, Kind};
use crate::{gone, send};
use async_trait::async_trait;
use aws_sdk_cloudwatch::types::{ComparisonOperator, Dimension, Statistic, Tag};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// The instance id placeholder of an agent host in a dashboard body.
pub fn instance_placeholder(agent_key: &str) -> String {
    format!("${{agent.{agent_key}.instance_id}}")
}

/// `body` with `owner`'s marker at the end of its first text widget, or in
/// a text widget of its own at the top.
fn mark(mut body: Value, owner: &Owner) -> Value {
    let marker = owner.marker();
    let text = body
        .get_mut("widgets")
        .and_then(|w| w.as_array_mut())
        .and_then(|w| w.iter_mut().find(|w| w["type"] == "text"))
        .and_then(|w| w.pointer_mut("/properties/markdown"));
    match text {
        Some(Value::String(md)) => md.push_str(&format!("\n\n<sub>{marker}</sub>")),
        _ => {
            let widget = serde_json::json!({
                "type": "text", "x": 0, "y": 0, "width": 24, "height": 1,
                "properties": { "markdown": format!("<sub>{marker}</sub>") }
            });
            if let Some(w) = body.get_mut("widgets").and_then(|w| w.as_array_mut()) {
                w.insert(0, widget);
            }
        }
    }
    body
}

/// What the diff compares of a dashboard: the body as JSON, not text.
#[derive(Serialize)]
struct DashboardAttributes {
    body: Value,
}

pub struct Dashboard {
    pub base: Base,
    pub body: Option<Value>,
    /// Agent keys whose instance ids the body refers to.
    pub agents: Vec<String>,
}

impl Dashboard {
    /// The body with pipectl's ownership marker at the end of its first
    /// text widget (dashboards cannot be tagged).
    fn marked_body(&self) -> Option<Value> {
        Some(mark(self.body.clone()?, &self.base.meta.owner()))
    }

    /// The live dashboard's body, if there is one.
    async fn body(&self, aws: &Aws) -> Result<Option<String>, AwsError> {
        match send!("GetDashboard", aws.cloudwatch.get_dashboard().dashboard_name(&self.base.name)) {
            Ok(o) => Ok(Some(o.dashboard_body().unwrap_or("{}").to_string())),
            Err(e) if e.is_not_found() || e.code.as_deref() == Some("ResourceNotFound") => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Current instance id of each agent host of the body.
    async fn instance_ids(&self, aws: &Aws) -> Result<BTreeMap<String, String>, AwsError> {
        let owner = self.base.meta.owner();
        let found = futures_util::future::try_join_all(self.agents.iter().map(|key| {
            let (owner, address) = (&owner, Address::new(Kind::Agent, key));
            async move {
                let host = super::ec2::find_instance(aws, owner, &address).await?;
                Ok::<_, AwsError>(host.and_then(|i| i.instance_id().map(|id| (key.clone(), id.to_string()))))
            }
        }))
        .await?;
        Ok(found.into_iter().flatten().collect())
    }

    async fn put(&self, aws: &Aws) -> Result<(), AwsError> {
        let mut text = self.marked_body().expect("needs a spec").to_string();
        for (key, id) in self.instance_ids(aws).await? {
            text = text.replace(&instance_placeholder(&key), &id);
        }
        let out =
            send!("PutDashboard", aws.cloudwatch.put_dashboard().dashboard_name(&self.base.name).dashboard_body(text))?;
        let problems: Vec<String> =
            out.dashboard_validation_messages().iter().filter_map(|m| m.message().map(str::to_string)).collect();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(AwsError::fatal(
                "PutDashboard",
                format!("dashboard `{}` rejected: {}", self.base.name, problems.join("; ")),
            ))
        }
    }
}

/// What a read found of a dashboard: its body and the marker in it.
fn observed_body(text: String) -> Observed {
    let marker = Owner::parse_marker(&text);
    let body: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Observed::marked(&DashboardAttributes { body }, marker)
}

#[async_trait]
impl Resource for Dashboard {
    /// Its live body, marked.
    async fn adopt(&self, aws: &Aws) -> Result<(), AwsError> {
        let out = send!("GetDashboard", aws.cloudwatch.get_dashboard().dashboard_name(&self.base.name))?;
        let body: Value = serde_json::from_str(out.dashboard_body().unwrap_or("{}"))
            .map_err(|e| AwsError::fatal("GetDashboard", format!("`{}`: its body is not JSON: {e}", self.base.name)))?;
        let text = mark(body, &self.base.meta.owner()).to_string();
        send!("PutDashboard", aws.cloudwatch.put_dashboard().dashboard_name(&self.base.name).dashboard_body(text))
            .map(drop)
    }
    /// CloudFormation cannot tag a dashboard; each host's instance id goes
    /// into the body by reference.
    fn cloudformation(&self, _cx: &cfn::Context) -> Result<Vec<Part>, String> {
        let Some(body) = self.marked_body() else { return Ok(Vec::new()) };
        let refs: Vec<(String, String)> =
            self.agents.iter().map(|k| (instance_placeholder(k), cfn::id(&Address::new(Kind::Agent, k), ""))).collect();
        let text = cfn::sub_text(&body.to_string(), &refs);
        let props = serde_json::json!({ "DashboardName": self.base.name, "DashboardBody": { "Fn::Sub": text } });
        Ok(vec![Part::new("AWS::CloudWatch::Dashboard", props)])
    }
    fn usage(&self) -> Vec<crate::cost::Usage> {
        vec![crate::cost::Usage::monthly("cloudwatch.dashboard_month", 1.0, "dashboard")]
    }
    fn desired(&self) -> Option<Attrs> {
        Some(to_attrs(&DashboardAttributes { body: self.marked_body()? }))
    }

    async fn read(&self, aws: &Aws) -> Result<Option<Observed>, AwsError> {
        // The dashboard and the hosts whose ids it names, side by side.
        let (text, ids) = tokio::try_join!(self.body(aws), self.instance_ids(aws))?;
        let Some(mut text) = text else { return Ok(None) };
        for (key, id) in ids {
            text = text.replace(&format!("\"{id}\""), &format!("\"{}\"", instance_placeholder(&key)));
        }
        Ok(Some(observed_body(text)))
    }

    /// The marker alone: the hosts' ids matter only to a diff.
    async fn read_owner(&self, aws: &Aws) -> Result<Option<Observed>, AwsError> {
        Ok(self.body(aws).await?.map(observed_body))
    }

    /// PutDashboard overwrites whatever has the name: a dashboard that
    /// appeared since the plan and is not marked as this deployment's is
    /// left alone.
    async fn create(&self, aws: &Aws, _p: &Progress) -> Result<(), AwsError> {
        let owner = self.base.meta.owner();
        if let Some(o) = self.read(aws).await? {
            if !o.marker.as_ref().is_some_and(|m| owner.owns_tags(m)) {
                let why = owner.conflict_reason(&o);
                return Err(AwsError::fatal("PutDashboard", format!("`{}`: {why}", self.base.name)));
            }
        }
        self.put(aws).await
    }

    async fn update(&self, aws: &Aws, _before: &Observed, _changed: &[String], _p: &Progress) -> Result<(), AwsError> {
        self.put(aws).await
    }

    async fn delete(&self, aws: &Aws, _p: &Progress) -> Result<Deleted, AwsError> {
        match gone!("DeleteDashboards", aws.cloudwatch.delete_dashboards().dashboard_names(&self.base.name)) {
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

/// What the diff compares of an alarm.
#[derive(Serialize)]
struct AlarmAttributes {
    namespace: String,
    metric: String,
    dimensions: BTreeMap<String, String>,
    statistic: String,
    comparison: String,
    threshold: f64,
    period: i64,
    evaluation_periods: i64,
    tags: Tags,
}

pub struct Alarm {
    pub base: Base,
    pub spec: Option<AlarmSpec>,
}

impl Alarm {
    pub fn new(address: Address, name: String, spec: Option<AlarmSpec>, meta: &Meta) -> Self {
        Alarm { base: Base::new(address, name, meta), spec }
    }

    fn arn(&self, aws: &Aws) -> String {
        aws.scope().alarm(&self.base.name).to_string()
    }

    async fn put(&self, aws: &Aws) -> Result<(), AwsError> {
        let s = self.spec.as_ref().expect("needs a spec");
        send!(
            "PutMetricAlarm",
            aws.cloudwatch
                .put_metric_alarm()
                .alarm_name(&self.base.name)
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
                .set_tags(Some(self.base.tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect()))
        )
        .map(drop)
    }
}

#[async_trait]
impl Resource for Alarm {
    fn cloudformation(&self, _cx: &cfn::Context) -> Result<Vec<Part>, String> {
        let Some(s) = &self.spec else { return Ok(Vec::new()) };
        let props = serde_json::json!({
            "AlarmName": self.base.name,
            "AlarmDescription": s.description,
            "Namespace": s.namespace,
            "MetricName": s.metric,
            "Dimensions": [{ "Name": s.dimension.0, "Value": s.dimension.1 }],
            "Statistic": s.statistic,
            "ComparisonOperator": "GreaterThanThreshold",
            "Threshold": s.threshold,
            "Period": s.period,
            "EvaluationPeriods": s.evaluation_periods,
            "TreatMissingData": "notBreaching",
            "Tags": cfn::tags(&self.base.tags),
        });
        Ok(vec![Part::new("AWS::CloudWatch::Alarm", props)])
    }
    fn usage(&self) -> Vec<crate::cost::Usage> {
        vec![crate::cost::Usage::monthly("cloudwatch.alarm_month", 1.0, "alarm")]
    }
    fn desired(&self) -> Option<Attrs> {
        let s = self.spec.as_ref()?;
        Some(to_attrs(&AlarmAttributes {
            namespace: s.namespace.into(),
            metric: s.metric.into(),
            dimensions: BTreeMap::from([(s.dimension.0.to_string(), s.dimension.1.clone())]),
            statistic: s.statistic.into(),
            comparison: "GreaterThanThreshold".into(),
            threshold: s.threshold,
            period: s.period.into(),
            evaluation_periods: s.evaluation_periods.into(),
            tags: self.base.tags.clone(),
        }))
    }

    async fn read(&self, aws: &Aws) -> Result<Option<Observed>, AwsError> {
        let arn = self.arn(aws);
        let describe = async {
            if let Some(listed) = aws.known.alarms.get(&self.base.name) {
                return Ok(listed);
            }
            let out = send!("DescribeAlarms", aws.cloudwatch.describe_alarms().alarm_names(&self.base.name))?;
            Ok(out.metric_alarms().iter().find(|a| a.alarm_name() == Some(self.base.name.as_str())).cloned())
        };
        let tags = async {
            let out = send!("ListTagsForResource", aws.cloudwatch.list_tags_for_resource().resource_arn(&arn))?;
            let text = |v: Option<&str>| v.unwrap_or_default().to_string();
            Ok(out.tags().iter().map(|t| (text(t.key()), text(t.value()))).collect())
        };
        let Some((a, tags)) = super::with_tags(aws, &arn, describe, tags).await? else {
            return Ok(None);
        };
        let a = &a;
        let text = |v: Option<&str>| v.unwrap_or_default().to_string();
        let attrs = AlarmAttributes {
            namespace: text(a.namespace()),
            metric: text(a.metric_name()),
            dimensions: a.dimensions().iter().map(|d| (text(d.name()), text(d.value()))).collect(),
            statistic: text(a.statistic().map(|s| s.as_str())),
            comparison: text(a.comparison_operator().map(|c| c.as_str())),
            threshold: a.threshold().unwrap_or_default(),
            period: a.period().unwrap_or_default().into(),
            evaluation_periods: a.evaluation_periods().unwrap_or_default().into(),
            tags: tags.clone(),
        };
        Ok(Some(Observed::of(&attrs, Some(tags))))
    }

    /// PutMetricAlarm overwrites an alarm of the name: one that appeared
    /// since the plan is left alone unless it is an earlier attempt's.
    async fn create(&self, aws: &Aws, _p: &Progress) -> Result<(), AwsError> {
        if self.read(aws).await?.is_some() {
            super::adopt_earlier_attempt(self, aws).await?;
        }
        self.put(aws).await
    }

    async fn update(&self, aws: &Aws, _before: &Observed, changed: &[String], _p: &Progress) -> Result<(), AwsError> {
        if changed.iter().any(|c| c != "tags") {
            self.put(aws).await?;
        }
        Ok(())
    }

    async fn add_tags(&self, aws: &Aws, set: &Tags) -> Result<(), AwsError> {
        let arn = self.arn(aws);

        let tags = set.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect();
        let req = aws.cloudwatch.tag_resource().resource_arn(&arn);
        send!("TagResource", req.set_tags(Some(tags)))?;
        Ok(())
    }

    async fn remove_tags(&self, aws: &Aws, remove: &[String]) -> Result<(), AwsError> {
        let arn = self.arn(aws);

        let req = aws.cloudwatch.untag_resource().resource_arn(&arn);
        gone!("UntagResource", req.set_tag_keys(Some(remove.to_vec())))?;
        Ok(())
    }

    async fn delete(&self, aws: &Aws, _p: &Progress) -> Result<Deleted, AwsError> {
        super::gone_if_absent(gone!("DeleteAlarms", aws.cloudwatch.delete_alarms().alarm_names(&self.base.name)))
    }
}
