//! Ctrl-C and SIGTERM during apply or destroy.
//!
//! The first signal asks the run to stop: the executor starts nothing new,
//! the changes already running finish their calls (a wait for readiness
//! ends early), the record and the lock are written and released as usual,
//! and the command exits 130. A second signal exits at once (130); the lock
//! is then left for the next run to take over (see `lock`).

use std::sync::atomic::{AtomicBool, Ordering};

static REQUESTED: AtomicBool = AtomicBool::new(false);

/// Whether a stop was asked for.
pub fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}

/// Asks the run to stop (what the first signal does).
pub fn request() {
    REQUESTED.store(true, Ordering::SeqCst);
}

/// The exit code of a run stopped by a signal.
pub const EXIT_CODE: u8 = 130;

/// Listens for SIGINT and SIGTERM for the rest of the process.
pub fn install() {
    tokio::spawn(async {
        let mut count = 0;
        loop {
            wait_for_signal().await;
            count += 1;
            if count == 1 {
                request();
                eprintln!(
                    "\nstopping: nothing new starts; waiting for running changes to finish their calls \
                     (press Ctrl-C again to abort at once)"
                );
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
