//! Stopping a run: Ctrl-C and SIGTERM, or a lost lock.
//!
//! The first signal asks the run to stop: the executor starts nothing new,
//! the changes already running finish their calls, every wait ends at once
//! (a readiness or visibility wait, a retry's backoff, a lock wait), the
//! record and the lock are written and released as usual, and the command
//! exits 130. A second signal exits at once (130); the lock is then left
//! for the next run to take over (see `lock`).
//!
//! A run whose lock is lost ([`lose`]) stops the same way, but exits 1
//! naming the loss: another run may be changing AWS.
//!
//! Cancellation is structural: every pause of the crate is [`sleep`],
//! which ends early with [`Cancelled`] once a stop is asked for, so a wait
//! written with it cannot outlive a stop. What must still run after a stop
//! (the lock's renewer, writing the record, releasing the lock) runs inside
//! [`shielded`], where [`sleep`] sleeps its full time. Every AWS call
//! (`send!`, `gone!`) is abandoned `aws::STOP_GRACE` after a stop, so the
//! SDK's own retries and backoff cannot hold a stopping run either; a
//! shielded call gets a short bound of its own after that, and all of them
//! end a few seconds later ([`shield_ends`], `aws::SHIELDED_CALL`): a run
//! whose AWS hangs still exits within seconds, its lock left to its lease.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// The exit code of a run stopped by a signal.
pub const EXIT_CODE: u8 = 130;

/// Why a run stops.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Why {
    /// SIGINT or SIGTERM.
    Signal,
    /// The lock was lost: what the lock module said about it.
    LockLost(String),
}

/// A wait ended by a stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("interrupted: the run is stopping")]
pub struct Cancelled;

/// A stop that can be asked for once and awaited by any number of waits.
#[derive(Debug, Default, Clone)]
pub struct Token(Arc<Inner>);

#[derive(Debug, Default)]
struct Inner {
    requested: AtomicBool,
    why: Mutex<Option<Why>>,
    /// When the stop was first asked for.
    at: OnceLock<Instant>,
    notify: Notify,
}

impl Token {
    /// Asks for the stop; the first reason given is kept.
    pub fn stop(&self, why: Why) {
        self.0.at.get_or_init(Instant::now);
        self.0.why.lock().expect("stop reason").get_or_insert(why);
        self.0.requested.store(true, Ordering::SeqCst);
        self.0.notify.notify_waiters();
    }

    pub fn requested(&self) -> bool {
        self.0.requested.load(Ordering::SeqCst)
    }

    pub fn why(&self) -> Option<Why> {
        self.0.why.lock().expect("stop reason").clone()
    }

    /// Ends once a stop is asked for (at once if it was).
    pub async fn cancelled(&self) {
        loop {
            let notified = self.0.notify.notified();
            tokio::pin!(notified);
            // Registered before looking, so a stop in between is not missed.
            notified.as_mut().enable();
            if self.requested() {
                return;
            }
            notified.await;
        }
    }

    /// When the stop was asked for, once it was.
    pub fn stopped_at(&self) -> Option<Instant> {
        self.0.at.get().copied()
    }

    /// Ends when a shielded call that began at `began` is given up: never
    /// before a stop; then `per_call` after the later of its start and
    /// `grace` after the stop, and `total` after the stop at the latest.
    #[allow(clippy::disallowed_methods)]
    pub async fn shield_ends(&self, began: Instant, grace: Duration, per_call: Duration, total: Duration) {
        self.cancelled().await;
        let stop = self.stopped_at().unwrap_or(began);
        let end = (began.max(stop + grace) + per_call).min(stop + total);
        tokio::time::sleep_until(end.into()).await;
    }

    /// Sleeps `d`, or less when a stop is asked for (then `Cancelled`).
    #[allow(clippy::disallowed_methods)]
    pub async fn sleep(&self, d: Duration) -> Result<(), Cancelled> {
        if self.requested() {
            return Err(Cancelled);
        }
        tokio::select! {
            () = tokio::time::sleep(d) => Ok(()),
            () = self.cancelled() => Err(Cancelled),
        }
    }
}

/// The process's stop.
fn global() -> &'static Token {
    static TOKEN: OnceLock<Token> = OnceLock::new();
    TOKEN.get_or_init(Token::default)
}

tokio::task_local! {
    static SHIELDED: ();
}

/// Whether a stop was asked for, for any reason.
pub fn requested() -> bool {
    global().requested()
}

/// Whether a signal asked for the stop.
pub fn signalled() -> bool {
    global().why() == Some(Why::Signal)
}

/// What the lock module said when the lock was lost, if it was.
pub fn lock_lost() -> Option<String> {
    match global().why() {
        Some(Why::LockLost(m)) => Some(m),
        _ => None,
    }
}

/// Asks the run to stop (what the first signal does).
pub fn request() {
    global().stop(Why::Signal);
}

/// Stops the run because its lock was lost.
pub fn lose(message: String) {
    global().stop(Why::LockLost(message));
}

/// Ends once a stop is asked for.
pub async fn cancelled() {
    global().cancelled().await
}

/// Every pause of the crate: `d`, ended early by a stop (`Cancelled`),
/// except inside [`shielded`].
#[allow(clippy::disallowed_methods)]
pub async fn sleep(d: Duration) -> Result<(), Cancelled> {
    if is_shielded() {
        tokio::time::sleep(d).await;
        return Ok(());
    }
    global().sleep(d).await
}

/// Whether this task runs inside [`shielded`].
pub fn is_shielded() -> bool {
    SHIELDED.try_with(|_| ()).is_ok()
}

/// [`Token::shield_ends`] for the process's stop.
pub async fn shield_ends(began: Instant, grace: Duration, per_call: Duration, total: Duration) {
    global().shield_ends(began, grace, per_call, total).await
}

/// Ends `grace` after a stop was asked for.
#[allow(clippy::disallowed_methods)]
pub async fn stopped_for(grace: Duration) {
    cancelled().await;
    tokio::time::sleep(grace).await;
}

/// [`sleep`] for a thread outside the runtime (a reader pacing its
/// records): looks for a stop every 50 ms.
#[allow(clippy::disallowed_methods)]
pub fn sleep_blocking(d: Duration) -> Result<(), Cancelled> {
    let end = std::time::Instant::now() + d;
    loop {
        if requested() {
            return Err(Cancelled);
        }
        let left = end.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return Ok(());
        }
        std::thread::sleep(left.min(Duration::from_millis(50)));
    }
}

/// Runs `f` where a stop does not end its pauses: what must finish after
/// a stop (the lock's renewal and release, the record's last write).
pub async fn shielded<F: std::future::Future>(f: F) -> F::Output {
    SHIELDED.scope((), f).await
}

/// Listens for SIGINT and SIGTERM for the rest of the process (once,
/// however often it is called).
pub fn install() {
    listen(true);
}

/// [`install`] for a command with nothing to finish after a stop (`status
/// --watch`): the first signal stops it without a word.
pub fn install_quietly() {
    listen(false);
}

fn listen(say: bool) {
    static INSTALLED: AtomicBool = AtomicBool::new(false);
    if INSTALLED.swap(true, Ordering::SeqCst) {
        return;
    }
    tokio::spawn(async move {
        let mut count = 0;
        loop {
            wait_for_signal().await;
            count += 1;
            if count == 1 {
                request();
                if say {
                    eprintln!(
                        "\nstopping: nothing new starts; waiting for running changes to finish their calls \
                         (press Ctrl-C again to abort at once)"
                    );
                }
            } else {
                eprintln!("\naborted");
                std::process::exit(i32::from(EXIT_CODE));
            }
        }
    });
}

#[cfg(unix)]
async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut int), Ok(mut term)) = (signal(SignalKind::interrupt()), signal(SignalKind::terminate())) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = int.recv() => {}
        _ = term.recv() => {}
    }
}

#[cfg(not(unix))]
async fn wait_for_signal() {
    let _ = tokio::signal::ctrl_c().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_stop_ends_a_sleep_at_once_and_every_later_one() {
        let t = Token::default();
        let t2 = t.clone();
        let start = Instant::now();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            t2.stop(Why::Signal);
        });
        assert_eq!(t.sleep(Duration::from_secs(30)).await, Err(Cancelled));
        assert!(start.elapsed() < Duration::from_secs(2), "{:?}", start.elapsed());
        assert_eq!(t.sleep(Duration::from_secs(30)).await, Err(Cancelled));
        t.cancelled().await;
    }

    #[tokio::test]
    async fn the_first_reason_is_kept() {
        let t = Token::default();
        assert_eq!(t.sleep(Duration::from_millis(1)).await, Ok(()));
        t.stop(Why::LockLost("taken".into()));
        t.stop(Why::Signal);
        assert_eq!(t.why(), Some(Why::LockLost("taken".into())));
    }

    #[tokio::test]
    async fn a_shielded_sleep_is_not_ended_early() {
        // The process's token is not stopped by unit tests; a shielded
        // sleep sleeps its time, an unshielded one its time too.
        let start = Instant::now();
        assert_eq!(shielded(sleep(Duration::from_millis(20))).await, Ok(()));
        assert!(start.elapsed() >= Duration::from_millis(20));
    }

    #[tokio::test]
    async fn sigterm_while_aws_hangs_no_more_a_shielded_call_is_bounded_after_a_stop() {
        let (grace, per_call, total) =
            (Duration::from_millis(30), Duration::from_millis(20), Duration::from_millis(80));
        let t = Token::default();
        let began = Instant::now();
        let t2 = t.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(10)).await;
            t2.stop(Why::Signal);
        });
        t.shield_ends(began, grace, per_call, total).await;
        let stop = t.stopped_at().unwrap();
        assert!(stop.elapsed() >= grace + per_call, "{:?}", stop.elapsed());
        // A call that starts late gets its own bound, within the total.
        let late = Instant::now();
        t.shield_ends(late, grace, per_call, total).await;
        assert!(late.elapsed() >= per_call || stop.elapsed() >= total, "{:?}", late.elapsed());
        let last = Instant::now();
        t.shield_ends(last, grace, per_call, total).await;
        assert!(stop.elapsed() >= total && last.elapsed() < Duration::from_millis(50), "{:?}", stop.elapsed());
    }
}
