//! `pipectl status --watch` (`docs/status-watch.md`): the report read
//! again every `--interval`.
//!
//! On a terminal, a view redrawn in place on the alternate screen
//! (`view::draw`), a countdown to the next read, a read's failure shown
//! and retried at the next interval; `q`, `Q`, `Esc` or Ctrl-C quits
//! (exit 0). The terminal is given back as it was (main screen, cooked
//! mode, cursor shown) on every way out: a quit, an error, a signal
//! (exit 130) and a panic ([`Screen`]'s `Drop` and a panic hook).
//!
//! Otherwise (standard output piped or a file, `TERM=dumb`, or `--json`):
//! each read as plain lines, one per hop (`text::plain_lines`), or one
//! JSON report per line (NDJSON), flushed; it runs until SIGINT or
//! SIGTERM and then exits 130, as a stopped `produce` does.

use super::view::{self, View};
use crate::cancel;
use crate::deployment::Deployment;
use crate::diag::value::terminal_safe;
use crate::status::{self, text, Report};
use ratatui::backend::CrosstermBackend;
use ratatui::crossterm::event::{self, Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use ratatui::crossterm::{cursor, execute, terminal};
use ratatui::Terminal;
use std::io::{IsTerminal, Stdout, Write};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Once};
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::mpsc;

/// Runs the watch until it is quit or stopped.
pub async fn run(d: &Deployment, since: Duration, interval: Duration, json: bool) -> anyhow::Result<ExitCode> {
    cancel::install_quietly();
    let dumb = std::env::var("TERM").is_ok_and(|t| t == "dumb");
    if !json && !dumb && std::io::stdout().is_terminal() {
        live(d, since, interval).await
    } else {
        plain(d, since, interval, json).await
    }
}

/// Seconds since the epoch.
fn now() -> i64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// A read's failure in one line, without secrets or control characters.
fn failure(e: &anyhow::Error) -> String {
    terminal_safe(&crate::scrub::text(&format!("{e:#}"))).replace('\n', " ")
}

/// Plain lines (or NDJSON) every interval until a signal: exit 130.
async fn plain(d: &Deployment, since: Duration, interval: Duration, json: bool) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout();
    loop {
        let lines = match status::read(d, since).await {
            Ok(r) => plain_lines(&r, now(), json)?,
            Err(_) if cancel::requested() => break,
            Err(e) => {
                let secs = interval.as_secs();
                let line = format!(
                    "{} error: reading the metrics failed: {}; retrying in {secs}s",
                    view::clock_seconds(now()),
                    failure(&e)
                );
                // Its reader gone (`2>&1 | head`): no one is watching.
                let mut err = std::io::stderr();
                if let Err(e) = writeln!(err, "{line}").and_then(|()| err.flush()) {
                    if e.kind() == std::io::ErrorKind::BrokenPipe {
                        return Ok(ExitCode::SUCCESS);
                    }
                }
                Vec::new()
            }
        };
        let written = lines.iter().try_for_each(|l| writeln!(out, "{l}")).and_then(|()| out.flush());
        match written {
            // The reader went away (`| head`): the watch has no one to show.
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(ExitCode::SUCCESS),
            Err(e) => return Err(anyhow::Error::new(e).context("writing the report")),
            Ok(()) => {}
        }
        if cancel::sleep(interval).await.is_err() {
            break;
        }
    }
    Ok(ExitCode::from(cancel::EXIT_CODE))
}

/// One reading as the plain watch prints it: a line per hop, or the
/// report as one line of JSON; no secret, no control character.
fn plain_lines(r: &Report, now: i64, json: bool) -> anyhow::Result<Vec<String>> {
    if json {
        return Ok(vec![serde_json::to_string(&crate::scrub::json(serde_json::to_value(r)?))?]);
    }
    Ok(text::plain_lines(r, now).iter().map(|l| terminal_safe(&crate::scrub::text(l))).collect())
}

/// The view on the alternate screen until a quit key or a signal.
async fn live(d: &Deployment, since: Duration, interval: Duration) -> anyhow::Result<ExitCode> {
    let colour = crate::term::colour(crate::term::Stream::Stdout);
    let mut hangup = Hangup::listen();
    let mut screen = Screen::enter()?;
    let mut keys = keys(screen.stop.clone());
    let mut keys_open = true;
    let mut report: Option<Report> = None;
    let mut error: Option<String> = None;
    let mut refreshed: Option<i64> = None;
    let mut next = Instant::now();
    let mut reading = None;
    loop {
        if reading.is_none() && Instant::now() >= next {
            reading = Some(Box::pin(status::read(d, since)));
        }
        let next_in =
            reading.is_none().then(|| next.saturating_duration_since(Instant::now()).as_secs_f64().ceil() as u64);
        let v = View {
            report: report.as_ref(),
            error: error.as_deref(),
            refreshed,
            next_in,
            interval: interval.as_secs(),
            colour,
        };
        screen.terminal.draw(|f| view::draw(f, &v))?;
        // Wake at the next whole second of the countdown.
        let tick = next.saturating_duration_since(Instant::now()).as_nanos() % 1_000_000_000;
        let tick = Duration::from_nanos(if tick == 0 { 1_000_000_000 } else { tick as u64 });
        tokio::select! {
            biased;
            () = cancel::cancelled() => return Ok(ExitCode::from(cancel::EXIT_CODE)),
            // The terminal closed, or a quit signal: the screen is given
            // back (its `Drop`) and the exit code is the signal's.
            code = hangup.recv() => return Ok(ExitCode::from(code)),
            key = keys.recv(), if keys_open => match key {
                Some(Event::Key(k)) if quits(&k) => return Ok(ExitCode::SUCCESS),
                Some(Event::Resize(..)) => screen.terminal.autoresize()?,
                Some(_) => {}
                // No terminal to read keys from: a signal ends the watch.
                None => keys_open = false,
            },
            read = async { reading.as_mut().expect("reading").await }, if reading.is_some() => {
                reading = None;
                next = Instant::now() + interval;
                match read {
                    Ok(r) => {
                        report = Some(r);
                        refreshed = Some(now());
                        error = None;
                    }
                    Err(e) => error = Some(failure(&e)),
                }
            }
            _ = cancel::sleep(tick) => {}
        }
    }
}

/// SIGHUP (the terminal closed) and SIGQUIT, listened for from before the
/// view is drawn until it ends, so neither kills it with the screen taken.
struct Hangup {
    #[cfg(unix)]
    listeners: Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>,
}

impl Hangup {
    fn listen() -> Hangup {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Hangup { listeners: signal(SignalKind::hangup()).ok().zip(signal(SignalKind::quit()).ok()) }
        }
        #[cfg(not(unix))]
        Hangup {}
    }

    /// The next one, as the shell's exit code for it.
    async fn recv(&mut self) -> u8 {
        #[cfg(unix)]
        if let Some((hup, quit)) = &mut self.listeners {
            return tokio::select! {
                _ = hup.recv() => 128 + 1,
                _ = quit.recv() => 128 + 3,
            };
        }
        std::future::pending().await
    }
}

/// Whether a key quits: `q`, `Q`, `Esc`, or Ctrl-C (a key in raw mode).
pub fn quits(k: &KeyEvent) -> bool {
    k.kind != KeyEventKind::Release
        && match k.code {
            KeyCode::Char('q' | 'Q') | KeyCode::Esc => true,
            KeyCode::Char('c' | 'C') => k.modifiers.contains(KeyModifiers::CONTROL),
            _ => false,
        }
}

/// The terminal's events, read on a thread of their own until `stop`;
/// the channel closes when the terminal cannot be read.
fn keys(stop: Arc<AtomicBool>) -> mpsc::UnboundedReceiver<Event> {
    let (tx, rx) = mpsc::unbounded_channel();
    std::thread::spawn(move || {
        while !stop.load(Ordering::SeqCst) {
            match event::poll(Duration::from_millis(100)) {
                Ok(true) => {
                    let Ok(e) = event::read() else { return };
                    if tx.send(e).is_err() {
                        return;
                    }
                }
                Ok(false) => {}
                Err(_) => return,
            }
        }
    });
    rx
}

/// Whether the terminal is in the view's modes, so it is given back once.
static ACTIVE: AtomicBool = AtomicBool::new(false);

/// The terminal in raw mode on the alternate screen, its cursor hidden,
/// for as long as this lives.
struct Screen {
    terminal: Terminal<CrosstermBackend<Stdout>>,
    /// Tells the event thread to end.
    stop: Arc<AtomicBool>,
}

impl Screen {
    fn enter() -> anyhow::Result<Screen> {
        static HOOK: Once = Once::new();
        HOOK.call_once(|| {
            let previous = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                restore();
                previous(info);
            }));
        });
        ACTIVE.store(true, Ordering::SeqCst);
        let entered = terminal::enable_raw_mode()
            .and_then(|()| execute!(std::io::stdout(), terminal::EnterAlternateScreen, cursor::Hide))
            .and_then(|()| Terminal::new(CrosstermBackend::new(std::io::stdout())));
        match entered {
            Ok(terminal) => Ok(Screen { terminal, stop: Arc::new(AtomicBool::new(false)) }),
            Err(e) => {
                restore();
                Err(anyhow::Error::new(e).context("setting up the terminal for --watch"))
            }
        }
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Shown through ratatui too, so its own `Drop` writes nothing after
        // the main screen is back.
        let _ = self.terminal.show_cursor();
        restore();
    }
}

/// Gives the terminal back: cooked mode, the cursor, the main screen
/// (last, so what the view wrote ends with leaving it).
fn restore() {
    if ACTIVE.swap(false, Ordering::SeqCst) {
        let _ = terminal::disable_raw_mode();
        let _ = execute!(std::io::stdout(), cursor::Show, terminal::LeaveAlternateScreen);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hostile_label_or_reason_is_printed_inert_in_plain_lines_and_ndjson() {
        let mut r = super::super::view::tests::report("stream \x1b[2Jtrips");
        r.hops[0].reason = "alarm \x1b]0;owned\x07 is in ALARM".into();
        let lines = plain_lines(&r, 3_600 * 14 + 60 * 5, false).unwrap();
        assert_eq!(lines.len(), r.hops.len());
        assert_eq!(lines[0], "14:05 flowing  stream.trips alarm \\u{001b}]0;owned\\u{0007} is in ALARM");
        let json = plain_lines(&r, 0, true).unwrap();
        assert_eq!(json.len(), 1, "one line per reading");
        assert!(!json[0].chars().any(char::is_control), "{:?}", json[0]);
        let back: serde_json::Value = serde_json::from_str(&json[0]).unwrap();
        assert_eq!(back["hops"][0]["label"], "stream \x1b[2Jtrips", "JSON keeps the text, escaped");
    }

    #[test]
    fn q_esc_and_ctrl_c_quit_other_keys_do_not() {
        let key = |code, modifiers| KeyEvent::new(code, modifiers);
        assert!(quits(&key(KeyCode::Char('q'), KeyModifiers::NONE)));
        assert!(quits(&key(KeyCode::Char('Q'), KeyModifiers::SHIFT)));
        assert!(quits(&key(KeyCode::Esc, KeyModifiers::NONE)));
        assert!(quits(&key(KeyCode::Char('c'), KeyModifiers::CONTROL)));
        assert!(!quits(&key(KeyCode::Char('c'), KeyModifiers::NONE)));
        assert!(!quits(&key(KeyCode::Char('x'), KeyModifiers::NONE)));
        let mut released = key(KeyCode::Char('q'), KeyModifiers::NONE);
        released.kind = KeyEventKind::Release;
        assert!(!quits(&released), "a key's release is not a second press");
    }
}
