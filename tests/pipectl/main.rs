//! The one integration-test binary: runs the real `pipectl` binary.
//! Modules share the helpers in `util`.

// The tests pause plainly; pipectl's own pauses are `cancel::sleep`.
#![allow(clippy::disallowed_methods)]

mod buckets;
mod canaries;
mod data;
mod deployer;
mod emulator;
mod engine;
mod export;
mod faults;
mod firehose;
mod global_names;
mod hostile;
mod hosts;
mod import;
mod labs;
mod lambda;
mod leaks;
mod lock;
mod months;
mod policy;
mod resilience;
mod saved;
mod signals;
mod startup;
mod unattended;
mod util;
mod validate;
mod vars;
mod workflows;
