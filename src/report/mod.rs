//! Progress display, fed by engine events: plain lines (one per start,
//! note and end, with elapsed time) or JSON lines with `--json`.

use crate::engine::walk::Event;
use crate::plan::Address;
use serde_json::json;
use std::collections::BTreeMap;
use std::io::Write;
use tokio::sync::mpsc::UnboundedReceiver;

/// Renders events until the channel closes. `labels` gives each address
/// the verb shown beside it ("create", "delete", ...).
pub async fn render(
    mut rx: UnboundedReceiver<Event>,
    labels: BTreeMap<Address, String>,
    json: bool,
) {
    let mut out = std::io::stderr();
    let label = |a: &Address| labels.get(a).cloned().unwrap_or_default();
    while let Some(e) = rx.recv().await {
        if json {
            let v = match &e {
                Event::Started { address } => {
                    json!({"event": "started", "address": address.to_string(), "action": label(address)})
                }
                Event::Note { address, note } => {
                    json!({"event": "note", "address": address.to_string(), "note": note})
                }
                Event::Finished {
                    address,
                    elapsed,
                    note,
                } => {
                    json!({"event": "finished", "address": address.to_string(), "action": label(address), "elapsed_ms": elapsed.as_millis() as u64, "note": note})
                }
                Event::Failed {
                    address,
                    elapsed,
                    error,
                } => {
                    json!({"event": "failed", "address": address.to_string(), "action": label(address), "elapsed_ms": elapsed.as_millis() as u64, "error": error})
                }
                Event::Skipped { address, reason } => {
                    json!({"event": "skipped", "address": address.to_string(), "reason": reason})
                }
            };
            println!("{v}");
            continue;
        }
        let line = match &e {
            Event::Started { address } => format!("  {address}: {}...", label(address)),
            Event::Note { address, note } => format!("  {address}: {note}"),
            Event::Finished {
                address,
                elapsed,
                note,
            } => match note {
                Some(n) => format!(
                    "  {address}: {} done in {:.1}s ({n})",
                    label(address),
                    elapsed.as_secs_f64()
                ),
                None => format!(
                    "  {address}: {} done in {:.1}s",
                    label(address),
                    elapsed.as_secs_f64()
                ),
            },
            Event::Failed {
                address,
                elapsed,
                error,
            } => format!(
                "  {address}: FAILED after {:.1}s: {error}",
                elapsed.as_secs_f64()
            ),
            Event::Skipped { address, reason } => format!("  {address}: skipped ({reason})"),
        };
        let _ = writeln!(out, "{line}");
    }
}
