//! A bucket as written.

use super::{Decoder, MapReader, Mark, Node, Sp, S};

#[derive(Debug)]
pub struct RawBucket {
    pub mark: Mark,
    pub name: Option<S>,
    pub on_destroy: Option<S>,
    pub protect: Option<Sp<bool>>,
    /// `aes256` (default) | `none`.
    pub encryption: Option<S>,
    /// Default `true`.
    pub public_access_block: Option<Sp<bool>>,
}

impl RawBucket {
    pub(super) fn read(n: &Node, d: &mut Decoder, path: &str) -> Option<Self> {
        let mut m = MapReader::open(n, d, path)?;
        let r = RawBucket {
            mark: m.mark,
            name: m.opt("name"),
            on_destroy: m.opt("on_destroy"),
            protect: m.opt("protect"),
            encryption: m.opt("encryption"),
            public_access_block: m.opt("public_access_block"),
        };
        m.finish();
        Some(r)
    }
}
