//! What a change tells while it runs, and what it lets go of early.

use super::*;
use tokio::sync::mpsc::UnboundedSender;

/// Progress notes from inside a long operation ("waiting for ACTIVE").
#[derive(Clone)]
pub struct Progress {
    address: Address,
    tx: Option<UnboundedSender<(Address, String)>>,
    release: Option<UnboundedSender<crate::engine::Release>>,
    leave_to_aws: bool,
    observed: Option<std::sync::Arc<Observed>>,
}

impl Progress {
    pub fn new(address: Address, tx: Option<UnboundedSender<(Address, String)>>) -> Self {
        Progress { address, tx, release: None, leave_to_aws: false, observed: None }
    }

    /// The same, knowing what the plan read of the resource: a delete may
    /// act on what it names (an instance id) instead of reading again.
    pub fn with_observed(mut self, observed: Option<Observed>) -> Self {
        self.observed = observed.map(std::sync::Arc::new);
        self
    }

    /// What the plan read of the resource, when the executor knows it.
    pub fn observed(&self) -> Option<&Observed> {
        self.observed.as_deref()
    }

    /// A text attribute the plan read (an id a delete acts on), if not
    /// empty.
    pub fn observed_text(&self, key: &str) -> Option<&str> {
        self.observed()?.attrs.get(key)?.as_str().filter(|v| !v.is_empty())
    }

    /// The same, allowed to end a delete once AWS has accepted it and
    /// reads it as being deleted ([`Deleted::Finishing`]): a destroy that
    /// does not `--wait`.
    pub fn leaving_to_aws(mut self, leave: bool) -> Self {
        self.leave_to_aws = leave;
        self
    }

    /// Whether a delete may end once AWS is finishing it on its own.
    pub fn may_leave_to_aws(&self) -> bool {
        self.leave_to_aws
    }

    /// The same, able to [`Progress::release`] what waits on this change.
    pub fn releasing(mut self, release: UnboundedSender<crate::engine::Release>) -> Self {
        self.release = Some(release);
        self
    }

    /// The same, unable to release or to leave a delete to AWS (a delete
    /// inside a replace: what waits on it needs the new resource, and the
    /// create the old name gone).
    pub fn holding(&self) -> Self {
        Progress { release: None, leave_to_aws: false, ..self.clone() }
    }

    /// Says AWS has accepted a delete and nothing else needs to wait for
    /// it to finish: what waits on this change may start, while this one
    /// goes on waiting until the resource is gone. The deployment record
    /// still waits for it to finish.
    pub fn release(&self) {
        self.send_release(None);
    }

    /// The same for what waits on this change of these kinds only: the
    /// others go on waiting for it to finish.
    pub fn release_only(&self, kinds: &'static [Kind]) {
        self.send_release(Some(kinds));
    }

    fn send_release(&self, only: Option<&'static [Kind]>) {
        if let Some(tx) = &self.release {
            let _ = tx.send(crate::engine::Release { from: self.address.clone(), only });
        }
    }

    pub fn say(&self, note: impl Into<String>) {
        if let Some(tx) = &self.tx {
            let _ = tx.send((self.address.clone(), note.into()));
        }
    }
}
