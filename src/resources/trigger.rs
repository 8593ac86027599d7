//! A function's trigger: a Lambda event source mapping on a Kinesis stream.
//!
//! Contract:
//! 1. read: ListEventSourceMappings by function name and stream ARN; none =
//!    `None`. Mappings carry no pipectl tags: a mapping is owned through its
//!    function (our function, or no function yet: a leftover of a crashed
//!    run or a deleted function, which is adopted).
//! 2. attributes: stream and starting_position force a replacement;
//!    batch_size, batching_window_seconds, tumbling_window_seconds,
//!    parallelization_factor, bisect_on_error, max_retries,
//!    max_record_age_seconds and enabled update in place
//!    (UpdateEventSourceMapping). `count` is 1: extra mappings for the same
//!    function and stream (duplicates) are removed by an update.
//! 3. create: an existing mapping for the same function and stream is
//!    adopted (updated) instead of duplicated; otherwise
//!    CreateEventSourceMapping, retried while the function's new role
//!    cannot read the stream yet, then a wait for Enabled (or Disabled).
//!    The graph creates a trigger only after everything its function writes
//!    to is ready, so no record is consumed before its destination exists.
//! 4. delete: every mapping for the function and stream, retried while
//!    ResourceInUse (Creating/Updating), then a wait until gone.

use super::{Attrs, Base, Deleted, Meta, Observed, Progress, Resource, Tags};
use crate::aws::{aws_err, retry, wait_until, Aws, AwsError, Poll};
use crate::names::{Scope, TriggerId};
use crate::plan::Address;
use crate::spec::{self, StartingPosition};
use async_trait::async_trait;
use aws_sdk_lambda::types::{EventSourceMappingConfiguration, EventSourcePosition};
use serde_json::json;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct TriggerSpec {
    pub trigger: spec::Trigger,
}

pub struct Trigger {
    base: Base,
    id: TriggerId,
    stream_arn: String,
    spec: Option<TriggerSpec>,
}

/// The options shared by CreateEventSourceMapping and UpdateEventSourceMapping.
macro_rules! settings {
    ($req:expr, $t:expr) => {
        $req.batch_size($t.batch_size as i32)
            .maximum_batching_window_in_seconds($t.batching_window_seconds as i32)
            .parallelization_factor($t.parallelization_factor as i32)
            .bisect_batch_on_function_error($t.bisect_on_error)
            .maximum_retry_attempts($t.max_retries as i32)
            .maximum_record_age_in_seconds($t.max_record_age_seconds as i32)
            .tumbling_window_in_seconds($t.tumbling_window_seconds.unwrap_or(0) as i32)
            .enabled($t.enabled)
    };
}

fn in_use(e: &AwsError) -> bool {
    e.code.as_deref() == Some("ResourceInUseException")
}

fn position(p: StartingPosition) -> &'static str {
    match p {
        StartingPosition::Latest => "LATEST",
        StartingPosition::TrimHorizon => "TRIM_HORIZON",
    }
}

impl Trigger {
    pub fn new(address: Address, id: TriggerId, spec: Option<TriggerSpec>, scope: &Scope, meta: &Meta) -> Self {
        let stream_arn = scope.stream(&id.stream).to_string();
        let base = Base::new(address, id.to_string(), meta, Duration::from_secs(600));
        Trigger { base, id, stream_arn, spec }
    }

    async fn mappings(&self, aws: &Aws) -> Result<Vec<EventSourceMappingConfiguration>, AwsError> {
        let out = aws
            .lambda
            .list_event_source_mappings()
            .function_name(&self.id.function)
            .event_source_arn(&self.stream_arn)
            .send()
            .await
            .map_err(aws_err("ListEventSourceMappings"));
        match out {
            Ok(o) => Ok(o.event_source_mappings().to_vec()),
            Err(e) if e.is_not_found() => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }

    /// Ownership through the function: its tags, or ours when there is no
    /// function (a leftover mapping, adopted).
    async fn owner_tags(&self, aws: &Aws) -> Result<Tags, AwsError> {
        match aws.lambda.get_function().function_name(&self.id.function).send().await.map_err(aws_err("GetFunction")) {
            Ok(o) => Ok(o.tags().map(|t| t.clone().into_iter().collect()).unwrap_or_default()),
            Err(e) if e.is_not_found() => Ok(self.base.meta.tags()),
            Err(e) => Err(e),
        }
    }

    async fn wait_state(&self, aws: &Aws, uuid: &str, want: &str, p: &Progress) -> Result<(), AwsError> {
        wait_until(&format!("trigger `{}`", self.base.name), self.timeout(), || async {
            let out = aws
                .lambda
                .get_event_source_mapping()
                .uuid(uuid)
                .send()
                .await
                .map_err(aws_err("GetEventSourceMapping"))?;
            let state = out.state().unwrap_or("Enabled").to_string();
            Ok(if state == want {
                Poll::Ready
            } else {
                p.say(format!("waiting for {want} ({state})"));
                Poll::NotYet(state)
            })
        })
        .await
    }

    async fn apply_settings(&self, aws: &Aws, uuid: &str, p: &Progress) -> Result<(), AwsError> {
        let t = &self.spec.as_ref().expect("needs a spec").trigger;
        retry(self.timeout(), in_use, || async {
            settings!(aws.lambda.update_event_source_mapping().uuid(uuid).function_name(&self.id.function), t)
                .send()
                .await
                .map(|_| ())
                .map_err(aws_err("UpdateEventSourceMapping"))
        })
        .await?;
        self.wait_state(aws, uuid, if t.enabled { "Enabled" } else { "Disabled" }, p).await
    }

    async fn delete_one(&self, aws: &Aws, uuid: &str, p: &Progress) -> Result<(), AwsError> {
        let out = retry(self.timeout(), in_use, || async {
            aws.lambda
                .delete_event_source_mapping()
                .uuid(uuid)
                .send()
                .await
                .map(|_| ())
                .map_err(aws_err("DeleteEventSourceMapping"))
        })
        .await;
        match out {
            Ok(()) => {}
            Err(e) if e.is_not_found() => return Ok(()),
            Err(e) => return Err(e),
        }
        wait_until(&format!("trigger `{}` to be deleted", self.base.name), self.timeout(), || async {
            match aws
                .lambda
                .get_event_source_mapping()
                .uuid(uuid)
                .send()
                .await
                .map_err(aws_err("GetEventSourceMapping"))
            {
                Err(e) if e.is_not_found() => Ok(Poll::Ready),
                Err(e) => Err(e),
                Ok(o) => {
                    let state = o.state().unwrap_or("Deleting").to_string();
                    p.say(format!("waiting for deletion ({state})"));
                    Ok(Poll::NotYet(state))
                }
            }
        })
        .await
    }
}

#[async_trait]
impl Resource for Trigger {
    fn base(&self) -> &Base {
        &self.base
    }
    fn record_name(&self) -> String {
        self.id.to_record()
    }
    fn desired(&self) -> Option<Attrs> {
        let t = &self.spec.as_ref()?.trigger;
        Some(Attrs::from([
            ("stream".into(), json!(self.stream_arn)),
            ("starting_position".into(), json!(position(t.starting_position))),
            ("batch_size".into(), json!(t.batch_size)),
            ("batching_window_seconds".into(), json!(t.batching_window_seconds)),
            ("tumbling_window_seconds".into(), json!(t.tumbling_window_seconds.unwrap_or(0))),
            ("parallelization_factor".into(), json!(t.parallelization_factor)),
            ("bisect_on_error".into(), json!(t.bisect_on_error)),
            ("max_retries".into(), json!(t.max_retries)),
            ("max_record_age_seconds".into(), json!(t.max_record_age_seconds)),
            ("enabled".into(), json!(t.enabled)),
            ("count".into(), json!(1)),
        ]))
    }
    fn replace_on(&self) -> &'static [&'static str] {
        &["stream", "starting_position"]
    }

    async fn read(&self, aws: &Aws) -> Result<Option<Observed>, AwsError> {
        let all = self.mappings(aws).await?;
        let Some(m) = all.first() else { return Ok(None) };
        let enabled = !matches!(m.state(), Some("Disabled" | "Disabling"));
        let attrs = Attrs::from([
            ("stream".into(), json!(m.event_source_arn().unwrap_or_default())),
            ("starting_position".into(), json!(m.starting_position().map(|p| p.as_str()).unwrap_or_default())),
            ("batch_size".into(), json!(m.batch_size().unwrap_or(100))),
            ("batching_window_seconds".into(), json!(m.maximum_batching_window_in_seconds().unwrap_or(0))),
            ("tumbling_window_seconds".into(), json!(m.tumbling_window_in_seconds().unwrap_or(0))),
            ("parallelization_factor".into(), json!(m.parallelization_factor().unwrap_or(1))),
            ("bisect_on_error".into(), json!(m.bisect_batch_on_function_error().unwrap_or(false))),
            ("max_retries".into(), json!(m.maximum_retry_attempts().unwrap_or(-1))),
            ("max_record_age_seconds".into(), json!(m.maximum_record_age_in_seconds().unwrap_or(-1))),
            ("enabled".into(), json!(enabled)),
            ("count".into(), json!(all.len())),
        ]);
        Ok(Some(Observed { attrs, tags: Some(self.owner_tags(aws).await?) }))
    }

    async fn create(&self, aws: &Aws, p: &Progress) -> Result<(), AwsError> {
        let t = &self.spec.as_ref().expect("create needs a spec").trigger;
        // A mapping for the same function and stream (a lost response, a
        // crashed run) is adopted, never duplicated.
        if let Some(uuid) = self.mappings(aws).await?.first().and_then(|m| m.uuid().map(str::to_string)) {
            p.say("adopting an existing mapping");
            return self.apply_settings(aws, &uuid, p).await;
        }
        let uuid = retry(
            Duration::from_secs(180),
            |e| super::function::role_not_ready(e) || in_use(e),
            || async {
                let req = aws
                    .lambda
                    .create_event_source_mapping()
                    .function_name(&self.id.function)
                    .event_source_arn(&self.stream_arn);
                let out = settings!(req.starting_position(EventSourcePosition::from(position(t.starting_position))), t)
                    .send()
                    .await
                    .map_err(aws_err("CreateEventSourceMapping"));
                match out {
                    Ok(o) => Ok(o.uuid().unwrap_or_default().to_string()),
                    Err(e) if super::function::role_not_ready(&e) => {
                        p.say("waiting for role to propagate");
                        Err(e)
                    }
                    Err(e) if e.code.as_deref() == Some("ResourceConflictException") => {
                        match self.mappings(aws).await?.first().and_then(|m| m.uuid().map(str::to_string)) {
                            Some(uuid) => Ok(uuid),
                            None => Err(e),
                        }
                    }
                    Err(e) => Err(e),
                }
            },
        )
        .await?;
        self.wait_state(aws, &uuid, if t.enabled { "Enabled" } else { "Disabled" }, p).await
    }

    async fn update(&self, aws: &Aws, _before: &Observed, _changed: &[String], p: &Progress) -> Result<(), AwsError> {
        let all = self.mappings(aws).await?;
        let Some((first, extra)) = all.split_first() else {
            return Err(AwsError::fatal(
                "UpdateEventSourceMapping",
                format!("trigger `{}` disappeared", self.base.name),
            ));
        };
        for m in extra {
            p.say("removing a duplicate mapping");
            self.delete_one(aws, m.uuid().unwrap_or_default(), p).await?;
        }
        self.apply_settings(aws, first.uuid().unwrap_or_default(), p).await
    }

    async fn delete(&self, aws: &Aws, p: &Progress) -> Result<Deleted, AwsError> {
        for m in self.mappings(aws).await? {
            self.delete_one(aws, m.uuid().unwrap_or_default(), p).await?;
        }
        Ok(Deleted::Gone)
    }
}
