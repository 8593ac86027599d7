//! CloudWatch Logs group (and, for a Firehose, its delivery log stream).
//!
//! Contract:
//! 1. read: DescribeLogGroups by prefix, exact name match; absent = `None`.
//!    Tags via ListTagsLogGroup; each stream pipectl manages via
//!    DescribeLogStreams by its name (others, such as Lambda's, are not read).
//! 2. attributes: retention_days, streams, tags; all in place
//!    (PutRetentionPolicy, CreateLogStream, TagLogGroup/UntagLogGroup).
//! 3. create: CreateLogGroup with tags, retention, then the streams.
//! 4. delete: DeleteLogGroup (its streams go with it); ResourceNotFound
//!    means done.

use super::cfn::{self, Part};
use super::{gone_if_absent, to_attrs, Attrs, Base, Deleted, Observed, Progress, Resource, Tags};
use crate::aws::Outcome;
use crate::aws::{Aws, AwsError};
use crate::{gone, send};
use async_trait::async_trait;
use serde::Serialize;

/// The log stream Firehose writes delivery errors to.
pub const FIREHOSE_STREAM: &str = "DestinationDelivery";

#[derive(Debug, Clone, PartialEq)]
pub struct Desired {
    pub retention_days: u32,
    pub streams: Vec<String>,
}

/// What the diff compares.
#[derive(Serialize)]
struct Attributes {
    retention_days: Option<i32>,
    streams: Vec<String>,
    tags: Tags,
}

pub struct LogGroup {
    pub base: Base,
    pub spec: Option<Desired>,
}

impl LogGroup {
    async fn create_streams(&self, aws: &Aws, existing: &[String]) -> Result<(), AwsError> {
        let s = self.spec.as_ref().expect("needs a spec");
        for st in s.streams.iter().filter(|s| !existing.contains(s)) {
            send!("CreateLogStream", aws.logs.create_log_stream().log_group_name(&self.base.name).log_stream_name(st))
                .created()?;
        }
        Ok(())
    }

    /// The group, its tags and (`with_streams`) its streams, side by side.
    async fn observe(&self, aws: &Aws, with_streams: bool) -> Result<Option<Observed>, AwsError> {
        let group = async {
            if let Some(g) = aws.known.log_groups.get(&self.base.name) {
                return Ok(Some(g));
            }
            let out =
                send!("DescribeLogGroups", aws.logs.describe_log_groups().log_group_name_prefix(&self.base.name))?;
            Ok(out.log_groups().iter().find(|g| g.log_group_name() == Some(self.base.name.as_str())).cloned())
        };
        #[allow(deprecated)]
        let tags = async {
            let out = send!("ListTagsLogGroup", aws.logs.list_tags_log_group().log_group_name(&self.base.name))?;
            Ok(out.tags().cloned().unwrap_or_default().into_iter().collect::<Tags>())
        };
        let arn = aws.scope().log_group(&self.base.name).to_string();
        let streams = async {
            if with_streams {
                self.live_streams(aws).await
            } else {
                Ok(Vec::new())
            }
        };
        let (found, streams) = tokio::try_join!(super::with_tags(aws, &arn, group, tags), streams)?;
        let Some((group, tags)) = found else { return Ok(None) };
        let retention = group.retention_in_days();
        let attrs = Attributes { retention_days: retention, streams, tags: tags.clone() };
        Ok(Some(Observed::of(&attrs, Some(tags))))
    }

    /// Which of the streams the spec names exist. Only those take part in
    /// the diff: Lambda writes streams of its own into a function's log
    /// group, more than one page of them. One listing by the names' shared
    /// prefix answers them all when it fits in two pages; each name left
    /// is looked up on its own.
    async fn live_streams(&self, aws: &Aws) -> Result<Vec<String>, AwsError> {
        let wanted = self.spec.as_ref().map(|s| s.streams.clone()).unwrap_or_default();
        if wanted.is_empty() {
            return Ok(wanted);
        }
        let names: Vec<&str> = wanted.iter().map(String::as_str).collect();
        let prefix = super::prefetch::common_prefix(&names);
        let mut missing: std::collections::BTreeSet<&str> = names.iter().copied().collect();
        let mut token: Option<String> = None;
        for _ in 0..2 {
            let req = aws
                .logs
                .describe_log_streams()
                .log_group_name(&self.base.name)
                .set_log_stream_name_prefix(Some(prefix.clone()).filter(|p| !p.is_empty()))
                .set_next_token(token.clone());
            let Some(out) = send!("DescribeLogStreams", req).found()? else {
                return Ok(Vec::new());
            };
            for s in out.log_streams() {
                missing.remove(s.log_stream_name().unwrap_or_default());
            }
            token = out.next_token().map(str::to_string);
            if token.is_none() || missing.is_empty() {
                break;
            }
        }
        if token.is_some() {
            for name in missing.clone() {
                let out = send!(
                    "DescribeLogStreams",
                    aws.logs.describe_log_streams().log_group_name(&self.base.name).log_stream_name_prefix(name)
                )?;
                if out.log_streams().iter().any(|s| s.log_stream_name() == Some(name)) {
                    missing.remove(name);
                }
            }
        }
        Ok(wanted.iter().filter(|w| !missing.contains(w.as_str())).cloned().collect())
    }

    async fn put_retention(&self, aws: &Aws) -> Result<(), AwsError> {
        let s = self.spec.as_ref().expect("needs a spec");
        send!(
            "PutRetentionPolicy",
            aws.logs.put_retention_policy().log_group_name(&self.base.name).retention_in_days(s.retention_days as i32)
        )
        .map(drop)
    }
}

#[async_trait]
impl Resource for LogGroup {
    fn cloudformation(&self, _cx: &cfn::Context) -> Result<Vec<Part>, String> {
        let Some(s) = &self.spec else { return Ok(Vec::new()) };
        let props = serde_json::json!({
            "LogGroupName": self.base.name,
            "RetentionInDays": s.retention_days,
            "Tags": cfn::tags(&self.base.tags),
        });
        let mut parts = vec![Part::new("AWS::Logs::LogGroup", props)];
        for (i, st) in s.streams.iter().enumerate() {
            let props = serde_json::json!({
                "LogGroupName": cfn::reference(&self.base.address, ""),
                "LogStreamName": st,
            });
            parts.push(Part::inner(format!("Stream{}", i + 1), "AWS::Logs::LogStream", props).ready());
        }
        Ok(parts)
    }
    fn desired(&self) -> Option<Attrs> {
        let s = self.spec.as_ref()?;
        let tags = self.base.tags.clone();
        Some(to_attrs(&Attributes { retention_days: Some(s.retention_days as i32), streams: s.streams.clone(), tags }))
    }

    async fn read(&self, aws: &Aws) -> Result<Option<Observed>, AwsError> {
        // A plan to apply: a group the listing made for this plan (every
        // page of the names it covers) does not show is not there. Were it
        // made a moment ago by someone else, the create meets it and
        // refuses what is not this deployment's. A destroy
        // (`read_owner`) still looks for each group on its own.
        if aws.known.log_groups.made() && aws.known.log_groups.get(&self.base.name).is_none() {
            return Ok(None);
        }
        self.observe(aws, true).await
    }

    /// Without the streams: a call of its own that no delete needs.
    async fn read_owner(&self, aws: &Aws) -> Result<Option<Observed>, AwsError> {
        self.observe(aws, false).await
    }

    async fn create(&self, aws: &Aws, _p: &Progress) -> Result<(), AwsError> {
        if send!(
            "CreateLogGroup",
            aws.logs
                .create_log_group()
                .log_group_name(&self.base.name)
                .set_tags(Some(self.base.tags.clone().into_iter().collect()))
        )
        .created()?
        .is_none()
        {
            // Already there. The plan may have taken it as absent from the
            // listing (`read`): only a group with this deployment's tags,
            // which the create sets with it, is an earlier attempt's; any
            // other, tagged or not, is someone else's and left alone.
            let owner = self.base.meta.owner();
            match self.observe(aws, false).await? {
                Some(o) if o.tags.as_ref().is_some_and(|t| owner.owns_tags(t)) => {}
                Some(o) => {
                    let why = format!("`{}`: {}", self.base.name, owner.conflict_reason(&o));
                    return Err(AwsError::fatal("CreateLogGroup", why));
                }
                None => {
                    let e = AwsError::fatal("create", format!("`{}` exists but is not visible yet", self.base.name));
                    return Err(e.mark_transient());
                }
            }
        }
        self.put_retention(aws).await?;
        self.create_streams(aws, &[]).await
    }

    async fn update(&self, aws: &Aws, before: &Observed, changed: &[String], _p: &Progress) -> Result<(), AwsError> {
        for c in changed {
            match c.as_str() {
                "retention_days" => self.put_retention(aws).await?,
                "streams" => {
                    let existing: Vec<String> =
                        serde_json::from_value(before.attrs.get("streams").cloned().unwrap_or_default())
                            .unwrap_or_default();
                    self.create_streams(aws, &existing).await?
                }
                _ => {}
            }
        }
        Ok(())
    }

    #[allow(deprecated)]
    async fn add_tags(&self, aws: &Aws, set: &Tags) -> Result<(), AwsError> {
        send!(
            "TagLogGroup",
            aws.logs.tag_log_group().log_group_name(&self.base.name).set_tags(Some(set.clone().into_iter().collect()))
        )?;
        Ok(())
    }

    #[allow(deprecated)]
    async fn remove_tags(&self, aws: &Aws, remove: &[String]) -> Result<(), AwsError> {
        gone!(
            "UntagLogGroup",
            aws.logs.untag_log_group().log_group_name(&self.base.name).set_tags(Some(remove.to_vec()))
        )?;
        Ok(())
    }

    async fn delete(&self, aws: &Aws, _p: &Progress) -> Result<Deleted, AwsError> {
        gone_if_absent(gone!("DeleteLogGroup", aws.logs.delete_log_group().log_group_name(&self.base.name)))
    }
}
