//! pipectl as a library: the layers the binary is built from, exposed so
//! each can be tested alone (a spec without AWS, a graph without a spec, an
//! executor with fake resources).

// Every AWS call is paced inside its stop guard (`aws::rate`): the
// futures of a read nest deeper than the default limit of 128 allows.
#![recursion_limit = "256"]
// Tests may pause plainly; the crate's own pauses are `cancel::sleep`.
#![cfg_attr(test, allow(clippy::disallowed_methods))]

pub mod aws;
pub mod cancel;
pub mod cli;
pub mod commands;
pub mod cost;
pub mod deployer;
pub mod deployment;
pub mod diag;
pub mod engine;
pub mod export;
#[cfg(test)]
mod fuzz;
pub mod import;
pub mod init;
pub mod load;
pub mod lock;
pub mod metrics;
pub mod names;
pub mod package;
pub mod plan;
pub mod policy;
pub mod produce;
pub mod report;
pub mod resolve;
pub mod resources;
pub mod scrub;
pub mod spec;
pub mod status;
pub mod taxi;
pub mod term;
pub mod verify;

/// Bad input on the command line (a flag naming nothing, a file that cannot
/// be read): exit 2, and nothing was sent to AWS.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct BadInput(#[from] pub Hinted);

impl BadInput {
    pub fn error(message: impl Into<String>, hint: impl Into<String>) -> anyhow::Error {
        BadInput(Hinted { message: message.into(), hint: hint.into() }).into()
    }
}

/// An error with advice for the person reading it.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Hinted {
    pub message: String,
    pub hint: String,
}
