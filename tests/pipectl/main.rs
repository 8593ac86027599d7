//! The one integration-test binary: runs the real `pipectl` binary.
//! Modules share the helpers in `util`.

mod util;
mod validate;
