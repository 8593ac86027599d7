//! The one integration-test binary: runs the real `pipectl` binary.
//! Modules share the helpers in `util`.

mod buckets;
mod data;
mod deployer;
mod emulator;
mod engine;
mod export;
mod faults;
mod firehose;
mod hostile;
mod hosts;
mod import;
mod lambda;
mod leaks;
mod policy;
mod resilience;
mod unattended;
mod util;
mod validate;
