//! `status --watch` on the emulator: on a pseudo-terminal it draws the
//! hops, redraws when a metric arrives, quits on `q` and gives the
//! terminal back; piped, it prints plain lines (or NDJSON) until a signal.

use crate::emulator::Moto;
use crate::util::{finish, temp_spec};
use std::io::{Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

const SPEC: &str = "pipeline: watchp\nstreams: { trips: {} }\n";

/// What a reader thread has read so far.
type Seen = Arc<Mutex<Vec<u8>>>;

/// Reads `from` to its end on a thread of its own.
fn collect(mut from: impl Read + Send + 'static) -> Seen {
    let seen: Seen = Arc::default();
    let into = seen.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        // A pseudo-terminal's reader gets EIO once the last writer closes.
        while let Ok(n) = from.read(&mut buf) {
            if n == 0 {
                break;
            }
            into.lock().unwrap().extend_from_slice(&buf[..n]);
        }
    });
    seen
}

/// Waits until `shows` holds for what was read (at most `within`),
/// failing with it if not.
fn wait_until(seen: &Seen, what: &str, within: Duration, child: &mut Child, shows: impl Fn(&[u8]) -> bool) {
    let start = Instant::now();
    loop {
        let out = seen.lock().unwrap().clone();
        if shows(&out) {
            return;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("pipectl ended ({status}) before showing {what}:\n{:?}", String::from_utf8_lossy(&out));
        }
        assert!(start.elapsed() < within, "never saw {what} in {within:?}:\n{}", screen(&out).join("\n"));
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits until what was read contains every one of `wanted`; how much
/// was read then.
fn wait_for(seen: &Seen, wanted: &[&str], within: Duration, child: &mut Child) -> usize {
    wait_until(seen, &format!("{wanted:?}"), within, child, |out| {
        let text = String::from_utf8_lossy(out);
        wanted.iter().all(|w| text.contains(w))
    });
    seen.lock().unwrap().len()
}

/// The screen a terminal shows after `out`: its text placed by the
/// cursor moves (`ESC [ row ; col H`) a redraw uses, other sequences
/// (colours, modes) dropped. Enough to read the view's rows.
fn screen(out: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(out);
    let mut rows: Vec<Vec<char>> = vec![Vec::new(); 40];
    let (mut row, mut col) = (0usize, 0usize);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\x1b' if chars.peek() == Some(&'[') => {
                chars.next();
                let mut params = String::new();
                for p in chars.by_ref() {
                    if ('\x40'..='\x7e').contains(&p) {
                        if p == 'H' {
                            let mut at = params.split(';').map(|n| n.parse::<usize>().unwrap_or(1).max(1));
                            row = at.next().unwrap_or(1) - 1;
                            col = at.next().unwrap_or(1) - 1;
                        } else if p == 'J' && params == "2" {
                            rows.iter_mut().for_each(Vec::clear);
                        }
                        break;
                    }
                    params.push(p);
                }
            }
            '\x1b' => {
                chars.next();
            }
            '\r' => col = 0,
            '\n' => row += 1,
            c => {
                if let Some(line) = rows.get_mut(row) {
                    if line.len() <= col {
                        line.resize(col + 1, ' ');
                    }
                    line[col] = c;
                }
                col += 1;
            }
        }
    }
    rows.into_iter().map(|l| l.into_iter().collect::<String>().trim_end().to_string()).collect()
}

/// Whether a row of the screen after `out` starts with `verdict` and
/// shows `hop`: a row of the hops' table.
fn row_shows(out: &[u8], verdict: &str, hop: &str) -> bool {
    screen(out).iter().any(|l| l.starts_with(verdict) && l.contains(hop))
}

/// Waits for the child to exit within `within`; its exit code.
fn exits_within(child: &mut Child, within: Duration) -> i32 {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code().unwrap_or(-1);
        }
        if start.elapsed() > within {
            let _ = child.kill();
            panic!("pipectl did not exit within {within:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A pseudo-terminal of 160×40: (the side pipectl writes to, the side
/// the test reads and types on).
fn pty() -> (OwnedFd, OwnedFd) {
    let (mut main, mut sub) = (-1, -1);
    let size = libc::winsize { ws_row: 40, ws_col: 160, ws_xpixel: 0, ws_ypixel: 0 };
    // SAFETY: openpty writes two new descriptors into `main` and `sub`.
    let rc = unsafe { libc::openpty(&mut main, &mut sub, std::ptr::null_mut(), std::ptr::null(), &size) };
    assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
    // SAFETY: both were just opened and are owned by nothing else.
    unsafe { (OwnedFd::from_raw_fd(sub), OwnedFd::from_raw_fd(main)) }
}

/// Records put to `stream` now, as Kinesis reports them.
fn seed_incoming_records(moto: &Moto, stream: &str, records: f64) {
    use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
    let sdk = moto.sdk();
    let datum = MetricDatum::builder()
        .metric_name("IncomingRecords")
        .dimensions(Dimension::builder().name("StreamName").value(stream).build())
        .value(records)
        .unit(StandardUnit::Count)
        .timestamp(aws_sdk_cloudwatch::primitives::DateTime::from(SystemTime::now()))
        .build();
    sdk.run(sdk.cloudwatch.put_metric_data().namespace("AWS/Kinesis").metric_data(datum).send()).unwrap();
}

/// The spec applied, and its stream's physical name (idle so far).
fn applied(moto: &Moto, test: &str) -> (String, String) {
    let spec = temp_spec("watch", test, SPEC).display().to_string();
    moto.apply(&spec);
    let report = moto.pipectl(&["status", &spec, "--json"]).run().expect_code(0).json();
    let hop = &report["hops"][0];
    assert_eq!(hop["verdict"], "idle", "{report}");
    (spec, hop["name"].as_str().unwrap().to_string())
}

/// `status SPEC --watch --interval 10s` on a pseudo-terminal.
struct OnTerminal {
    child: Child,
    /// What it wrote to the terminal.
    seen: Seen,
    /// The test's side of the terminal: typing on it is typing to pipectl.
    keys: std::fs::File,
    stderr: std::path::PathBuf,
}

impl OnTerminal {
    fn start(moto: &Moto, spec: &str) -> OnTerminal {
        let (sub, main) = pty();
        let stderr = std::path::Path::new(spec).with_file_name("stderr.txt");
        let mut cmd = moto.pipectl(&["status", spec, "--watch", "--interval", "10s"]).into_command();
        cmd.env("TERM", "xterm-256color")
            .env_remove("NO_COLOR")
            .stdin(Stdio::from(sub.try_clone().unwrap()))
            .stdout(Stdio::from(sub))
            .stderr(Stdio::from(std::fs::File::create(&stderr).unwrap()));
        let child = cmd.spawn().expect("pipectl starts");
        // Only the child holds the terminal's side now: its exit ends the reader.
        drop(cmd);
        let keys = std::fs::File::from(main.try_clone().unwrap());
        OnTerminal { child, seen: collect(std::fs::File::from(main)), keys, stderr }
    }

    /// Waits until the hops' table shows `hop` with `verdict`.
    fn shows(&mut self, verdict: &str, hop: &str) {
        wait_until(&self.seen, &format!("{hop} {verdict}"), Duration::from_secs(30), &mut self.child, |out| {
            out.starts_with(b"\x1b[?1049h") && row_shows(out, verdict, hop)
        });
    }

    /// Waits for the exit after `how` (at most 5s); asserts `code` and
    /// that the terminal is given back: the main screen (the last thing
    /// written), the cursor, line editing.
    fn ends(mut self, how: &str, code: i32) {
        let asked = Instant::now();
        let got = exits_within(&mut self.child, Duration::from_secs(5));
        eprintln!("exited {:?} after {how}", asked.elapsed());
        let errors = std::fs::read_to_string(&self.stderr).unwrap_or_default();
        assert_eq!(got, code, "exit code after {how}; stderr:\n{errors}");
        // The reader ends when the terminal's last writer is gone.
        let start = Instant::now();
        let out = loop {
            let out = self.seen.lock().unwrap().clone();
            if out.ends_with(b"\x1b[?1049l") || start.elapsed() > Duration::from_secs(2) {
                break out;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let tail = String::from_utf8_lossy(&out[out.len().saturating_sub(40)..]).into_owned();
        assert!(out.ends_with(b"\x1b[?1049l"), "the alternate screen was not left last: {tail:?}\nstderr:\n{errors}");
        assert!(tail.contains("\x1b[?25h"), "the cursor was not shown again: {tail:?}");
        // SAFETY: a termios filled by tcgetattr on a descriptor this owns.
        let mut modes: libc::termios = unsafe { std::mem::zeroed() };
        let rc = unsafe { libc::tcgetattr(std::os::fd::AsRawFd::as_raw_fd(&self.keys), &mut modes) };
        assert_eq!(rc, 0, "tcgetattr: {}", std::io::Error::last_os_error());
        assert_ne!(modes.c_lflag & libc::ICANON, 0, "raw mode was left on");
        assert_ne!(modes.c_lflag & libc::ECHO, 0, "echo was left off");
    }
}

#[test]
fn status_watch_renders_refreshes_and_quits_on_q_in_a_pseudo_terminal() {
    let Some(moto) = Moto::start() else { return };
    let (spec, stream) = applied(&moto, "pty");
    let mut t = OnTerminal::start(&moto, &spec);
    t.shows("idle", "stream trips");
    seed_incoming_records(&moto, &stream, 120.0);
    // The next read is at most 10s away; the redraw shows the new verdict.
    t.shows("flowing", "stream trips");
    let shown = screen(&t.seen.lock().unwrap());
    assert!(shown.iter().any(|l| l.contains("next in") || l.contains("reading…")), "{shown:#?}");
    assert!(shown.iter().any(|l| l.contains("stream trips [flowing]")), "the path is redrawn too: {shown:#?}");
    t.keys.write_all(b"q").unwrap();
    t.ends("`q`", 0);
}

#[test]
fn status_watch_on_a_terminal_quits_on_ctrl_c_and_gives_the_terminal_back_on_sigterm() {
    let Some(moto) = Moto::start() else { return };
    let (spec, _) = applied(&moto, "pty-stop");
    // Ctrl-C in raw mode is a key (ETX), not a signal: a quit like `q`.
    let mut t = OnTerminal::start(&moto, &spec);
    t.shows("idle", "stream trips");
    t.keys.write_all(b"\x03").unwrap();
    t.ends("Ctrl-C", 0);
    // A signal from outside stops it as it stops other commands.
    let mut t = OnTerminal::start(&moto, &spec);
    t.shows("idle", "stream trips");
    let ok = std::process::Command::new("kill").args(["-TERM", &t.child.id().to_string()]).status().unwrap();
    assert!(ok.success());
    t.ends("SIGTERM", 130);
    // The terminal closed (SIGHUP), or SIGQUIT: the terminal is given back
    // all the same, with the shell's code for the signal.
    for (signal, code) in [("-HUP", 129), ("-QUIT", 131)] {
        let mut t = OnTerminal::start(&moto, &spec);
        t.shows("idle", "stream trips");
        let ok = std::process::Command::new("kill").args([signal, &t.child.id().to_string()]).status().unwrap();
        assert!(ok.success());
        t.ends(signal, code);
    }
}

/// `status --watch` with standard output piped, until `signal`.
fn piped_until(moto: &Moto, spec: &str, json: bool, wanted: &[&str], signal: &str) -> (String, i32) {
    let mut args = vec!["status", spec, "--watch", "--interval", "10s"];
    if json {
        args.push("--json");
    }
    let mut child = moto.pipectl(&args).spawn();
    let seen = collect(child.stdout.take().unwrap());
    let read = wait_for(&seen, wanted, Duration::from_secs(30), &mut child);
    let sent = Instant::now();
    let ok = std::process::Command::new("kill").args([signal, &child.id().to_string()]).status().unwrap();
    assert!(ok.success());
    let code = exits_within(&mut child, Duration::from_secs(8));
    eprintln!("exited {:?} after {signal}", sent.elapsed());
    let run = finish(child);
    assert!(!run.stderr.contains("\x1b"), "{:?}", run.stderr);
    let out = String::from_utf8_lossy(&seen.lock().unwrap()[..read]).into_owned();
    (out, code)
}

#[test]
fn status_watch_piped_prints_plain_lines_or_ndjson_and_stops_on_a_signal_with_130() {
    let Some(moto) = Moto::start() else { return };
    let (spec, _) = applied(&moto, "piped");

    let (out, code) = piped_until(&moto, &spec, false, &["idle", "stream.trips ", "\n"], "-INT");
    assert_eq!(code, 130, "{out}");
    assert!(!out.contains('\x1b'), "plain lines carry no escape sequence: {out:?}");
    let line = out.lines().next().unwrap();
    let words: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(words[1..3], ["idle", "stream.trips"], "{line}");
    assert!(words[0].len() == 5 && words[0].as_bytes()[2] == b':', "a time first: {line}");

    let (out, code) = piped_until(&moto, &spec, true, &["}\n"], "-TERM");
    assert_eq!(code, 130, "{out}");
    let report: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!(report["format_version"], "1");
    assert_eq!(report["hops"][0]["verdict"], "idle", "{report}");
}
