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

use super::cfn::{self, Part};
use super::{to_attrs, Attrs, Base, Deleted, Meta, Observed, Progress, Resource, Tags};
use crate::aws::Outcome;
use crate::aws::{aws_err, retry, wait_until, Aws, AwsError, Poll};
use crate::names::{Scope, TriggerId};
use crate::plan::Address;
use crate::spec::{self, StartingPosition};
use crate::{gone, send};
use async_trait::async_trait;
use aws_sdk_lambda::types::{EventSourceMappingConfiguration, EventSourcePosition};
use serde::Serialize;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct TriggerSpec {
    pub trigger: spec::Trigger,
}

/// What the diff compares; `count` is how many mappings join this function
/// and stream (a leftover makes it more than one).
#[derive(Serialize)]
struct Attributes {
    stream: String,
    starting_position: String,
    batch_size: i32,
    batching_window_seconds: i32,
    tumbling_window_seconds: i32,
    parallelization_factor: i32,
    bisect_on_error: bool,
    max_retries: i64,
    max_record_age_seconds: i64,
    enabled: bool,
    count: usize,
}

pub struct Trigger {
    pub(super) base: Base,
    id: TriggerId,
    stream_arn: String,
    /// Where its ownership is read: the function's tags.
    function_arn: String,
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

/// A mapping AWS is deleting: gone for every purpose but waiting for it
/// (a destroy that did not `--wait` may leave one behind for a while).
fn deleting(m: &EventSourceMappingConfiguration) -> bool {
    m.state() == Some("Deleting")
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
        let function_arn = scope.function(&id.function).to_string();
        let base = Base::new(address, id.to_string(), meta);
        Trigger { base, id, stream_arn, function_arn, spec }
    }

    async fn mappings(&self, aws: &Aws) -> Result<Vec<EventSourceMappingConfiguration>, AwsError> {
        let out = send!(
            "ListEventSourceMappings",
            aws.lambda.list_event_source_mappings().function_name(&self.id.function).event_source_arn(&self.stream_arn)
        );
        match out.found()? {
            Some(o) => Ok(o.event_source_mappings().iter().filter(|m| !deleting(m)).cloned().collect()),
            None => Ok(Vec::new()),
        }
    }

    /// Ownership through the function: its tags, or ours when there is no
    /// function (a leftover mapping, adopted).
    async fn owner_tags(&self, aws: &Aws) -> Result<Tags, AwsError> {
        match send!("GetFunction", aws.lambda.get_function().function_name(&self.id.function)).found()? {
            Some(o) => Ok(o.tags().map(|t| t.clone().into_iter().collect()).unwrap_or_default()),
            None => Ok(self.base.meta.tags()),
        }
    }

    async fn wait_state(&self, aws: &Aws, uuid: &str, want: &str, p: &Progress) -> Result<(), AwsError> {
        wait_until(&format!("trigger `{}`", self.base.name), self.timeout(), super::usual::TRIGGER, || async {
            // Right after its create a mapping may not be visible yet.
            let Some(out) = send!("GetEventSourceMapping", aws.lambda.get_event_source_mapping().uuid(uuid)).found()?
            else {
                return Ok(Poll::NotYet("not visible yet".into()));
            };
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
            let req =
                settings!(aws.lambda.update_event_source_mapping().uuid(uuid).function_name(&self.id.function), t);
            crate::aws::rate::paced("lambda", "UpdateEventSourceMapping", async {
                req.send().await.map(|_| ()).map_err(aws_err("UpdateEventSourceMapping"))
            })
            .await
        })
        .await?;
        self.wait_state(aws, uuid, if t.enabled { "Enabled" } else { "Disabled" }, p).await
    }

    async fn delete_one(&self, aws: &Aws, uuid: &str, p: &Progress) -> Result<(), AwsError> {
        self.send_delete(aws, uuid).await?;
        self.wait_deleted(aws, uuid, p).await
    }

    async fn send_delete(&self, aws: &Aws, uuid: &str) -> Result<(), AwsError> {
        let out = retry(self.timeout(), in_use, || async {
            gone!("DeleteEventSourceMapping", aws.lambda.delete_event_source_mapping().uuid(uuid)).map(drop)
        })
        .await;
        match out {
            Err(e) if e.is_not_found() => Ok(()),
            other => other,
        }
    }

    async fn wait_deleted(&self, aws: &Aws, uuid: &str, p: &Progress) -> Result<(), AwsError> {
        wait_until(
            &format!("trigger `{}` to be deleted", self.base.name),
            self.timeout(),
            super::usual::TRIGGER,
            || async {
                match send!("GetEventSourceMapping", aws.lambda.get_event_source_mapping().uuid(uuid)) {
                    Err(e) if e.is_not_found() => Ok(Poll::Ready),
                    Err(e) => Err(e),
                    Ok(o) => {
                        let state = o.state().unwrap_or("Deleting").to_string();
                        p.say(format!("waiting for deletion ({state})"));
                        Ok(Poll::NotYet(state))
                    }
                }
            },
        )
        .await
    }
}

#[async_trait]
impl Resource for Trigger {
    /// Owned through its function, which is adopted on its own.
    async fn adopt(&self, _aws: &Aws) -> Result<(), AwsError> {
        Ok(())
    }
    /// Owned through the function, as with pipectl: no tags of its own.
    fn cloudformation(&self, _cx: &cfn::Context) -> Result<Vec<Part>, String> {
        let Some(s) = &self.spec else { return Ok(Vec::new()) };
        let t = &s.trigger;
        let mut props = serde_json::json!({
            "FunctionName": self.id.function,
            "EventSourceArn": self.stream_arn,
            "StartingPosition": position(t.starting_position),
            "BatchSize": t.batch_size,
            "MaximumBatchingWindowInSeconds": t.batching_window_seconds,
            "ParallelizationFactor": t.parallelization_factor,
            "BisectBatchOnFunctionError": t.bisect_on_error,
            "MaximumRetryAttempts": t.max_retries,
            "MaximumRecordAgeInSeconds": t.max_record_age_seconds,
            "Enabled": t.enabled,
        });
        if let Some(w) = t.tumbling_window_seconds {
            props["TumblingWindowInSeconds"] = w.into();
        }
        Ok(vec![Part::new("AWS::Lambda::EventSourceMapping", props)])
    }
    fn record_name(&self) -> String {
        self.id.to_record()
    }
    fn desired(&self) -> Option<Attrs> {
        let t = &self.spec.as_ref()?.trigger;
        Some(to_attrs(&Attributes {
            stream: self.stream_arn.clone(),
            starting_position: position(t.starting_position).to_string(),
            batch_size: t.batch_size as i32,
            batching_window_seconds: t.batching_window_seconds as i32,
            tumbling_window_seconds: t.tumbling_window_seconds.unwrap_or(0) as i32,
            parallelization_factor: t.parallelization_factor as i32,
            bisect_on_error: t.bisect_on_error,
            max_retries: t.max_retries,
            max_record_age_seconds: t.max_record_age_seconds,
            enabled: t.enabled,
            count: 1,
        }))
    }
    fn replace_on(&self) -> &'static [&'static str] {
        &["stream", "starting_position"]
    }

    async fn read(&self, aws: &Aws) -> Result<Option<Observed>, AwsError> {
        // The mappings and the function's tags (its owner's) side by side.
        let describe = async {
            let all: Vec<_> = match aws.known.mappings.get(&self.id.function) {
                Some(listed) => listed
                    .into_iter()
                    .filter(|m| m.event_source_arn() == Some(&self.stream_arn) && !deleting(m))
                    .collect(),
                None => self.mappings(aws).await?,
            };
            Ok(Some(all).filter(|all| !all.is_empty()))
        };
        let Some((all, tags)) = super::with_tags(aws, &self.function_arn, describe, self.owner_tags(aws)).await? else {
            return Ok(None);
        };
        let m = &all[0];
        let enabled = !matches!(m.state(), Some("Disabled" | "Disabling"));
        let attrs = to_attrs(&Attributes {
            stream: m.event_source_arn().unwrap_or_default().to_string(),
            starting_position: m.starting_position().map(|p| p.as_str()).unwrap_or_default().to_string(),
            batch_size: m.batch_size().unwrap_or(100),
            batching_window_seconds: m.maximum_batching_window_in_seconds().unwrap_or(0),
            tumbling_window_seconds: m.tumbling_window_in_seconds().unwrap_or(0),
            parallelization_factor: m.parallelization_factor().unwrap_or(1),
            bisect_on_error: m.bisect_batch_on_function_error().unwrap_or(false),
            max_retries: i64::from(m.maximum_retry_attempts().unwrap_or(-1)),
            max_record_age_seconds: i64::from(m.maximum_record_age_in_seconds().unwrap_or(-1)),
            enabled,
            count: all.len(),
        });
        Ok(Some(Observed::with_attrs(attrs, Some(tags))))
    }

    async fn create(&self, aws: &Aws, p: &Progress) -> Result<(), AwsError> {
        let t = &self.spec.as_ref().expect("create needs a spec").trigger;
        // A mapping for the same function and stream (a lost response, a
        // crashed run) is adopted, never duplicated.
        if let Some(uuid) = self.mappings(aws).await?.first().and_then(|m| m.uuid().map(str::to_string)) {
            p.say("adopting an existing mapping");
            return self.apply_settings(aws, &uuid, p).await;
        }
        let first = std::sync::atomic::AtomicBool::new(true);
        let uuid = crate::aws::retry_paced(
            Duration::from_secs(180),
            crate::aws::Pace::new(super::usual::ROLE_PROPAGATION),
            // A conflict is a mapping of the same function and stream:
            // one being deleted (waited out), or one made meanwhile
            // (adopted by the next attempt's look).
            |e| {
                super::function::role_not_ready(e)
                    || in_use(e)
                    || e.code.as_deref() == Some("ResourceConflictException")
            },
            || async {
                // A mapping has no name to be found again by: look for an
                // earlier attempt's before every attempt (the first one's
                // look is the one above), and send the create once, without
                // the SDK's retries (a re-sent create whose first answer
                // was lost or late makes a second mapping).
                if !first.swap(false, std::sync::atomic::Ordering::SeqCst) {
                    if let Some(uuid) = self.mappings(aws).await?.first().and_then(|m| m.uuid().map(str::to_string)) {
                        return Ok(uuid);
                    }
                }
                let req = aws
                    .lambda
                    .create_event_source_mapping()
                    .function_name(&self.id.function)
                    .event_source_arn(&self.stream_arn);
                let once =
                    aws_sdk_lambda::config::Builder::default().retry_config(aws_config::retry::RetryConfig::disabled());
                let req = settings!(req.starting_position(EventSourcePosition::from(position(t.starting_position))), t)
                    .customize()
                    .config_override(once);
                let out = crate::aws::rate::paced("lambda", "CreateEventSourceMapping", async {
                    req.send().await.map_err(aws_err("CreateEventSourceMapping"))
                })
                .await;
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
            )
            .mark_transient());
        };
        for m in extra {
            p.say("removing a duplicate mapping");
            self.delete_one(aws, m.uuid().unwrap_or_default(), p).await?;
        }
        self.apply_settings(aws, first.uuid().unwrap_or_default(), p).await
    }

    /// Every mapping's delete is sent, then what waits on the trigger is
    /// released (nothing needs a mapping gone, only no longer starting
    /// calls), then each is waited on until gone.
    async fn delete(&self, aws: &Aws, p: &Progress) -> Result<Deleted, AwsError> {
        let uuids: Vec<String> =
            self.mappings(aws).await?.iter().map(|m| m.uuid().unwrap_or_default().to_string()).collect();
        for uuid in &uuids {
            self.send_delete(aws, uuid).await?;
        }
        p.release();
        if p.may_leave_to_aws() && !uuids.is_empty() {
            let mut states = Vec::new();
            for uuid in &uuids {
                match send!("GetEventSourceMapping", aws.lambda.get_event_source_mapping().uuid(uuid)).found()? {
                    None => {}
                    Some(m) => states.push(m.state().unwrap_or_default().to_string()),
                }
            }
            if states.iter().all(|s| s == "Deleting") {
                return Ok(if states.is_empty() { Deleted::Gone } else { Deleted::Finishing("Deleting".into()) });
            }
        }
        for uuid in &uuids {
            self.wait_deleted(aws, uuid, p).await?;
        }
        Ok(Deleted::Gone)
    }
}
