//! The one integration-test binary: runs the real `pipectl` binary.
//! Modules share the helpers in `util`.

// The tests pause plainly; pipectl's own pauses are `cancel::sleep`.
#![allow(clippy::disallowed_methods)]

mod adoption;
mod buckets;
mod canaries;
mod cost;
mod data;
mod deployer;
mod emulator;
mod engine;
mod env_pattern_names;
mod errors;
mod export;
mod faults;
mod firehose;
mod global_names;
mod hostile;
mod hosts;
mod import;
mod init;
mod kept_names;
mod labs;
mod lambda;
mod leaks;
mod listings;
mod lock;
mod metrics;
mod months;
mod pacing;
mod pictures;
mod policy;
mod resilience;
mod saved;
mod schema;
mod shell;
mod signals;
mod spec_errors;
mod spec_reading;
mod startup;
mod status;
mod unattended;
mod util;
mod validate;
mod vars;
mod watch;
mod workflows;
