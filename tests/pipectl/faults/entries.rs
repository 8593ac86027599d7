//! A partial PutRecords failure: entries taken out of a request and put
//! back into its answer as failed.

use super::{Request, Stats};
use std::sync::atomic::Ordering;

/// Takes every `every`th entry (counted across calls by `counter`) out of
/// a PutRecords request; returns the request to pass on and, per original
/// entry, whether it was taken out.
pub(super) fn fail_entries(mut req: Request, every: usize, stats: &Stats) -> (Request, Vec<bool>) {
    let counter = &stats.put_entries;
    let Ok(mut body) = serde_json::from_slice::<serde_json::Value>(&req.body) else {
        return (req, Vec::new());
    };
    let Some(records) = body.get_mut("Records").and_then(|r| r.as_array_mut()) else {
        return (req, Vec::new());
    };
    let mut failed = Vec::new();
    records.retain(|_| {
        let fail = (counter.fetch_add(1, Ordering::SeqCst) + 1).is_multiple_of(every);
        failed.push(fail);
        !fail
    });
    if failed.iter().all(|f| *f) {
        // AWS never answers a call with no entry at all; keep it whole.
        counter.fetch_sub(failed.len(), Ordering::SeqCst);
        return (req, Vec::new());
    }
    req.body = serde_json::to_vec(&body).unwrap();
    let len = req.body.len();
    for h in req.head.iter_mut().skip(1) {
        if h.to_ascii_lowercase().starts_with("content-length:") {
            *h = format!("Content-Length: {len}");
        }
    }
    (req, failed)
}

/// The PutRecords answer with the taken-out entries put back as failed.
pub(super) fn answer_failed(body: &str, failed_at: &[bool]) -> String {
    let Ok(mut v) = serde_json::from_str::<serde_json::Value>(body) else {
        return body.to_string();
    };
    let mut passed = v["Records"].as_array().cloned().unwrap_or_default().into_iter();
    let records: Vec<serde_json::Value> = failed_at
        .iter()
        .map(|f| {
            if *f {
                serde_json::json!({"ErrorCode": "ProvisionedThroughputExceededException",
                                   "ErrorMessage": "Rate exceeded for shard (injected by the test proxy)"})
            } else {
                passed.next().unwrap_or_default()
            }
        })
        .collect();
    v["FailedRecordCount"] = failed_at.iter().filter(|f| **f).count().into();
    v["Records"] = records.into();
    v.to_string()
}
