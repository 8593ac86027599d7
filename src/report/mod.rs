//! Progress display, a consumer of engine events (cargo's job queue and
//! uv's reporter work the same way). Three renderings:
//! - a terminal: one live line per resource with a spinner, its latest note
//!   and elapsed time, frozen with the outcome when it ends;
//! - anything else: plain lines, one per start, note and end;
//! - `--json`: one JSON object per event on stdout.

use crate::engine::walk::Event;
use crate::plan::Address;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::json;
use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::time::Duration;
use tokio::sync::mpsc::UnboundedReceiver;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Live,
    Plain,
    Json,
}

impl Style {
    pub fn detect(json: bool) -> Style {
        if json {
            Style::Json
        } else if std::io::stderr().is_terminal() {
            Style::Live
        } else {
            Style::Plain
        }
    }
}

/// Renders events until the channel closes. `labels` gives each address
/// the verb shown beside it ("create", "delete", ...).
pub async fn render(rx: UnboundedReceiver<Event>, labels: BTreeMap<Address, String>, style: Style) {
    match style {
        Style::Live => live(rx, labels).await,
        Style::Plain | Style::Json => lines(rx, labels, style == Style::Json).await,
    }
}

/// One line of plain text for an event, scrubbed of the values that
/// must not be shown (an AWS error may quote a request).
pub fn plain_line(e: &Event, label: &str) -> String {
    crate::scrub::text(&unscrubbed_line(e, label))
}

fn unscrubbed_line(e: &Event, label: &str) -> String {
    match e {
        Event::Started { address } => format!("  {address}: {label}..."),
        Event::Note { address, note } => format!("  {address}: {note}"),
        Event::Finished { address, elapsed, note } => match note {
            Some(n) => format!("  {address}: {label} done in {:.1}s ({n})", elapsed.as_secs_f64()),
            None => format!("  {address}: {label} done in {:.1}s", elapsed.as_secs_f64()),
        },
        Event::Failed { address, elapsed, error } => {
            format!("  {address}: FAILED after {:.1}s: {error}", elapsed.as_secs_f64())
        }
        Event::Skipped { address, reason } => format!("  {address}: skipped ({reason})"),
    }
}

/// The JSON object for an event, scrubbed like [`plain_line`].
pub fn json_line(e: &Event, label: &str) -> serde_json::Value {
    crate::scrub::json(unscrubbed_json(e, label))
}

fn unscrubbed_json(e: &Event, label: &str) -> serde_json::Value {
    match e {
        Event::Started { address } => {
            json!({"event": "started", "address": address.to_string(), "action": label})
        }
        Event::Note { address, note } => {
            json!({"event": "note", "address": address.to_string(), "note": note})
        }
        Event::Finished { address, elapsed, note } => json!({
            "event": "finished", "address": address.to_string(), "action": label,
            "elapsed_ms": elapsed.as_millis() as u64, "note": note
        }),
        Event::Failed { address, elapsed, error } => json!({
            "event": "failed", "address": address.to_string(), "action": label,
            "elapsed_ms": elapsed.as_millis() as u64, "error": error
        }),
        Event::Skipped { address, reason } => {
            json!({"event": "skipped", "address": address.to_string(), "reason": reason})
        }
    }
}

fn address_of(e: &Event) -> &Address {
    match e {
        Event::Started { address }
        | Event::Note { address, .. }
        | Event::Finished { address, .. }
        | Event::Failed { address, .. }
        | Event::Skipped { address, .. } => address,
    }
}

async fn lines(mut rx: UnboundedReceiver<Event>, labels: BTreeMap<Address, String>, json: bool) {
    let mut err = std::io::stderr();
    while let Some(e) = rx.recv().await {
        let label = labels.get(address_of(&e)).map_or("", String::as_str);
        if json {
            // Not `println!`: a closed pipe (`| head`) must not panic.
            let _ = writeln!(std::io::stdout(), "{}", json_line(&e, label));
        } else {
            let _ = writeln!(err, "{}", plain_line(&e, label));
        }
    }
}

async fn live(mut rx: UnboundedReceiver<Event>, labels: BTreeMap<Address, String>) {
    let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
    let width = labels.keys().map(|a| a.to_string().len()).max().unwrap_or(20);
    let running = ProgressStyle::with_template(&format!("{{spinner}} {{prefix:<{width}}} {{msg}} [{{elapsed}}]"))
        .expect("valid template");
    let ended = ProgressStyle::with_template(&format!("  {{prefix:<{width}}} {{msg}}")).expect("valid template");
    let mut bars: BTreeMap<Address, ProgressBar> = BTreeMap::new();
    while let Some(e) = rx.recv().await {
        let address = address_of(&e).clone();
        let label = labels.get(&address).cloned().unwrap_or_default();
        match &e {
            Event::Started { .. } => {
                let bar = multi.add(ProgressBar::new_spinner());
                bar.set_style(running.clone());
                bar.set_prefix(address.to_string());
                bar.set_message(format!("{label}..."));
                bar.enable_steady_tick(Duration::from_millis(120));
                bars.insert(address, bar);
            }
            Event::Note { note, .. } => {
                if let Some(bar) = bars.get(&address) {
                    bar.set_message(crate::scrub::text(&format!("{label}: {note}")));
                }
            }
            Event::Finished { .. } | Event::Failed { .. } if bars.contains_key(&address) => {
                let bar = bars.remove(&address).expect("checked");
                bar.set_style(ended.clone());
                let line = plain_line(&e, &label);
                let msg = line.trim_start().strip_prefix(&format!("{address}: ")).unwrap_or(&line).to_string();
                bar.finish_with_message(msg);
            }
            _ => {
                let _ = multi.println(plain_line(&e, &label));
            }
        }
    }
    for bar in bars.into_values() {
        bar.finish();
    }
}
