//! Every call paced at AWS's rate for it: an apply and a destroy of many
//! resources of a kind through a proxy that throttles, as AWS does, each
//! operation above its bucket of `rates/aws.json` meet no throttling, and
//! take the time the buckets allow.

use crate::emulator::Moto;
use crate::faults::{Faults, Hook, Proxy};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The header's value in a request's head lines.
fn header<'a>(head: &'a [String], name: &str) -> Option<&'a str> {
    head.iter().skip(1).find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// (service as it signs, operation) of a JSON or query request; REST
/// calls (Lambda, S3) are not throttled here.
fn operation(head: &[String], body: &[u8]) -> Option<(String, String)> {
    let auth = header(head, "authorization")?;
    let scope = auth.split("Credential=").nth(1)?.split(',').next()?;
    let service = scope.split('/').nth(3)?.to_string();
    if let Some(t) = header(head, "x-amz-target") {
        return Some((service, t.rsplit('.').next()?.to_string()));
    }
    let body = String::from_utf8_lossy(body);
    let action = body.split('&').find_map(|kv| kv.strip_prefix("Action="))?;
    Some((service, action.to_string()))
}

/// AWS's answer to a call over its rate, in the request's protocol.
fn throttled(json: bool, service: &str) -> Vec<u8> {
    let (kind, body) = if json {
        let code =
            if matches!(service, "kinesis" | "firehose") { "LimitExceededException" } else { "ThrottlingException" };
        ("application/x-amz-json-1.1", format!("{{\"__type\":\"{code}\",\"message\":\"Rate exceeded\"}}"))
    } else {
        (
            "text/xml",
            "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error>\
             <RequestId>pacing</RequestId></ErrorResponse>"
                .to_string(),
        )
    };
    format!(
        "HTTP/1.1 400 Bad Request\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Tokens left and when, by (service, operation).
type Buckets = HashMap<(String, String), (f64, Instant)>;

/// A proxy with AWS's buckets: a call finding its bucket empty is refused
/// as throttled and counted.
fn throttling(moto: &Moto, refused: &Arc<AtomicUsize>) -> Proxy {
    let buckets: Arc<Mutex<Buckets>> = Arc::default();
    let refused = Arc::clone(refused);
    let answer = Hook(Arc::new(move |head: &[String], body: &[u8]| {
        let (service, op) = operation(head, body)?;
        let limit = pipectl::aws::rate::TABLE.limit(&service, &op)?;
        let mut b = buckets.lock().unwrap();
        let now = Instant::now();
        let (tokens, at) = b.entry((service.clone(), op)).or_insert((limit.burst, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * limit.rate).min(limit.burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            return None;
        }
        refused.fetch_add(1, Ordering::SeqCst);
        Some(throttled(header(head, "x-amz-target").is_some(), &service))
    }));
    Proxy::start(&moto.url, Faults { answer: Some(answer), ..Faults::default() })
}

#[test]
fn sixteen_streams_go_at_kinesis_rate_with_no_call_throttled() {
    let Some(moto) = Moto::start() else { return };
    let mut text = String::from("pipeline: paced\nstreams:\n");
    for i in 0..16 {
        text.push_str(&format!("  s{i:02}: {{ mode: provisioned, shards: 1 }}\n"));
    }
    let spec = crate::util::temp_spec("pacing", "streams", &text);
    let spec = spec.display().to_string();
    let refused = Arc::new(AtomicUsize::new(0));
    let proxy = throttling(&moto, &refused);
    let started = Instant::now();
    let out = crate::util::pipectl(&["apply", &spec, "--yes"]).aws_env(&proxy.url).run().expect_code(0);
    let took = started.elapsed();
    assert_eq!(refused.load(Ordering::SeqCst), 0, "no call throttled:\n{}", out.stderr);
    assert_eq!(proxy.stats.calls("CreateStream"), 16);
    // CreateStream: 5 a second, a bucket of 5; pipectl keeps one short:
    // 12 of the 16 wait for a refill at 4.9 a second.
    assert!(took >= Duration::from_millis(2400), "16 creates in {took:?}: not paced");
    assert!(!out.stderr.contains("throttled"), "{}", out.stderr);

    let started = Instant::now();
    let out = crate::util::pipectl(&["destroy", &spec, "--yes"]).aws_env(&proxy.url).run().expect_code(0);
    assert_eq!(refused.load(Ordering::SeqCst), 0, "no delete throttled:\n{}", out.stderr);
    assert_eq!(proxy.stats.calls("DeleteStream"), 16);
    assert!(started.elapsed() >= Duration::from_millis(2400), "16 deletes in {:?}", started.elapsed());
}
