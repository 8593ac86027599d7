//! The deployments of an account and region, found by their records: what
//! `list` shows and `gc` judges. A record that cannot be read is reported
//! beside the others, never a reason to stop listing them.

use super::{stored, Content};
use crate::aws::{Aws, AwsError, Class};

/// A deployment found by its record.
#[derive(Debug, Clone)]
pub struct Listed {
    pub pipeline: String,
    pub env: String,
    pub content: Content,
}

/// What a deployment's liveness is judged by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Basis {
    /// When it was last applied successfully, changed or not.
    Applied,
    /// When its record was last written: a record written before pipectl
    /// marked applies, until its next apply.
    Written,
}

impl Listed {
    /// When the record's listing last changed (seconds since the epoch).
    pub fn changed(&self) -> Option<f64> {
        self.content.stamps.changed.or(self.content.written)
    }

    /// When the deployment was last applied, and what says so.
    pub fn last_applied(&self) -> Option<(f64, Basis)> {
        last_applied(&self.content)
    }
}

/// When the deployment of `c` was last applied, and what says so.
pub fn last_applied(c: &Content) -> Option<(f64, Basis)> {
    match c.stamps.applied {
        Some(at) => Some((at, Basis::Applied)),
        None => c.stamps.changed.or(c.written).map(|at| (at, Basis::Written)),
    }
}

/// A record found that cannot be read.
#[derive(Debug, Clone)]
pub struct Damaged {
    pub pipeline: String,
    pub env: String,
    /// Why, as the error says.
    pub why: String,
}

/// The deployments found, and the records that could not be read.
#[derive(Debug, Default)]
pub struct Listing {
    pub found: Vec<Listed>,
    pub damaged: Vec<Damaged>,
}

/// The deployments in this account and region (all, or one pipeline's),
/// from their records.
pub async fn list(aws: &Aws, pipeline: Option<&str>) -> Result<Listing, AwsError> {
    let path = pipeline.map_or_else(|| "/pipectl".to_string(), |p| format!("/pipectl/{p}"));
    let mut out = Listing::default();
    for p in aws.parameters_by_path(&path).await? {
        let name = p.name().unwrap_or_default();
        let parts: Vec<&str> = name.trim_start_matches('/').split('/').collect();
        let (["pipectl", pipeline, env], Some(text)) = (parts.as_slice(), p.value()) else {
            continue;
        };
        let (pipeline, env) = (pipeline.to_string(), env.to_string());
        let content = match stored::load(aws, name, text).await {
            Ok(c) => c,
            Err(e) if e.class == Class::Fatal => {
                out.damaged.push(Damaged { pipeline, env, why: e.message });
                continue;
            }
            Err(e) => return Err(e),
        };
        let content = Content { written: p.last_modified_date().map(|d| d.as_secs_f64()), ..content };
        out.found.push(Listed { pipeline, env, content });
    }
    out.found.sort_by(|a, b| (&a.pipeline, &a.env).cmp(&(&b.pipeline, &b.env)));
    Ok(out)
}
