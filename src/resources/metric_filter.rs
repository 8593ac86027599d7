//! CloudWatch Logs metric filter: a metric from a function's log lines.
//!
//! Contract:
//! 1. read: DescribeMetricFilters on the log group by name prefix, exact
//!    name match; none, or no log group, = `None`.
//! 2. Metric filters cannot be tagged: a filter is owned through the
//!    deployment record and the log group it lives in, whose ownership
//!    tags (ListTagsLogGroup) stand as its marker. A filter in a log group
//!    that is not this deployment's is never changed.
//! 3. attributes: pattern, namespace, metric, value, default; all in
//!    place: PutMetricFilter replaces the whole filter (and is idempotent,
//!    so a retry after a lost answer is safe). The log group and the name
//!    force a replacement (another identity).
//! 4. delete: DeleteMetricFilter; ResourceNotFound (filter or log group)
//!    means done.

use super::cfn::{self, Part};
use super::{gone_if_absent, to_attrs, Attrs, Base, Deleted, Meta, Observed, Progress, Resource, Tags};
use crate::aws::{Aws, AwsError, Outcome};
use crate::names::MetricFilterId;
use crate::plan::Address;
use crate::spec;
use crate::{gone, send};
use async_trait::async_trait;
use aws_sdk_cloudwatchlogs::types::MetricTransformation;
use serde::Serialize;

#[derive(Serialize)]
struct Attributes {
    pattern: String,
    namespace: String,
    metric: String,
    value: String,
    default: Option<f64>,
}

pub struct MetricFilter {
    pub(super) base: Base,
    id: MetricFilterId,
    spec: Option<spec::MetricFilter>,
}

impl MetricFilter {
    pub fn new(address: Address, id: MetricFilterId, spec: Option<spec::MetricFilter>, meta: &Meta) -> Self {
        MetricFilter { base: Base::new(address, id.to_string(), meta), id, spec }
    }

    async fn put(&self, aws: &Aws) -> Result<(), AwsError> {
        let s = self.spec.as_ref().expect("needs a spec");
        let t = MetricTransformation::builder()
            .metric_namespace(&s.namespace)
            .metric_name(&s.metric)
            .metric_value(&s.value)
            .set_default_value(s.default)
            .build()
            .expect("namespace, name and value are set");
        send!(
            "PutMetricFilter",
            aws.logs
                .put_metric_filter()
                .log_group_name(&self.id.log_group)
                .filter_name(&self.id.filter)
                .filter_pattern(&s.pattern)
                .metric_transformations(t)
        )
        .map(drop)
    }
}

#[async_trait]
impl Resource for MetricFilter {
    /// Owned through its log group, which is adopted on its own.
    async fn adopt(&self, _aws: &Aws) -> Result<(), AwsError> {
        Ok(())
    }
    fn cloudformation(&self, _cx: &cfn::Context) -> Result<Vec<Part>, String> {
        let Some(s) = &self.spec else { return Ok(Vec::new()) };
        let mut t =
            serde_json::json!({ "MetricNamespace": s.namespace, "MetricName": s.metric, "MetricValue": s.value });
        if let Some(d) = s.default {
            t["DefaultValue"] = d.into();
        }
        let props = serde_json::json!({
            "LogGroupName": self.id.log_group,
            "FilterName": self.id.filter,
            "FilterPattern": s.pattern,
            "MetricTransformations": [t],
        });
        Ok(vec![Part::new("AWS::Logs::MetricFilter", props)])
    }
    fn record_name(&self) -> String {
        self.id.to_record()
    }

    fn desired(&self) -> Option<Attrs> {
        let s = self.spec.as_ref()?;
        Some(to_attrs(&Attributes {
            pattern: s.pattern.clone(),
            namespace: s.namespace.clone(),
            metric: s.metric.clone(),
            value: s.value.clone(),
            default: s.default,
        }))
    }

    async fn read(&self, aws: &Aws) -> Result<Option<Observed>, AwsError> {
        let out = send!(
            "DescribeMetricFilters",
            aws.logs.describe_metric_filters().log_group_name(&self.id.log_group).filter_name_prefix(&self.id.filter)
        )
        .found()?;
        // AWS holds one filter per name; an emulator that appends on every
        // PutMetricFilter holds the newest last.
        let Some(f) = out.iter().flat_map(|o| o.metric_filters()).rfind(|f| f.filter_name() == Some(&self.id.filter))
        else {
            return Ok(None);
        };
        let t = f.metric_transformations().first();
        let attrs = Attributes {
            pattern: f.filter_pattern().unwrap_or_default().to_string(),
            namespace: t.map(|t| t.metric_namespace().to_string()).unwrap_or_default(),
            metric: t.map(|t| t.metric_name().to_string()).unwrap_or_default(),
            value: t.map(|t| t.metric_value().to_string()).unwrap_or_default(),
            default: t.and_then(|t| t.default_value()),
        };
        #[allow(deprecated)]
        let group_tags: Tags =
            send!("ListTagsLogGroup", aws.logs.list_tags_log_group().log_group_name(&self.id.log_group))
                .found()?
                .and_then(|o| o.tags().cloned())
                .unwrap_or_default()
                .into_iter()
                .collect();
        Ok(Some(Observed::marked(&attrs, group_tags)))
    }

    async fn create(&self, aws: &Aws, _p: &Progress) -> Result<(), AwsError> {
        self.put(aws).await
    }

    async fn update(&self, aws: &Aws, _before: &Observed, _changed: &[String], _p: &Progress) -> Result<(), AwsError> {
        self.put(aws).await
    }

    async fn delete(&self, aws: &Aws, _p: &Progress) -> Result<Deleted, AwsError> {
        // Until the name reads as gone: an emulator that appended a filter
        // on each PutMetricFilter holds several of that name.
        for _ in 0..8 {
            let out = gone!(
                "DeleteMetricFilter",
                aws.logs.delete_metric_filter().log_group_name(&self.id.log_group).filter_name(&self.id.filter)
            );
            if out.is_err() || self.read(aws).await?.is_none() {
                return gone_if_absent(out);
            }
        }
        Err(AwsError::fatal("DeleteMetricFilter", format!("`{}` is still listed after 8 deletes", self.id)))
    }
}
