//! A small HTTP proxy between pipectl and the emulator that injects the
//! failures AWS really produces: throttling, 5xx, lost responses (the
//! request reaches AWS, the answer never comes back), answers that hang
//! until the client times out, a late "not found" right after a create
//! (eventual consistency), slow answers, and slow provisioning (a stream
//! that stays CREATING for a while). Faults are chosen by request count or
//! drawn from a seeded generator, so with `--parallelism 1` a run is
//! repeatable.

mod entries;

use entries::{answer_failed, fail_entries};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// Every Nth request is refused as throttled (0: never).
    pub throttle_every: usize,
    /// Every Nth request gets a 500 (0: never).
    pub server_error_every: usize,
    /// Every Nth mutating request is forwarded but its response dropped.
    pub lose_response_every: usize,
    /// Added to every response.
    pub delay: Duration,
    /// This many DescribeStreamSummary answers say CREATING instead of ACTIVE.
    pub creating_reads: usize,
    /// Every call of this operation is denied (a fatal error half-way).
    pub deny: Option<&'static str>,
    /// The first N calls of an operation fail with this code and message
    /// (e.g. a role that has not propagated yet).
    pub reject_first: Option<(&'static str, usize, &'static str, &'static str)>,
    /// Every Nth request is forwarded (so AWS acts on it) and its answer
    /// held for `hang_for` before the connection is dropped: a stalled
    /// answer the client must time out on.
    pub hang_every: usize,
    pub hang_for: Duration,
    /// The first request of this operation (or whose request line holds
    /// it, for REST APIs) is forwarded and its answer held for `hang_for`.
    pub hang_first: Option<&'static str>,
    /// The first request whose request line holds this (a Lambda path) is
    /// refused as Lambda refuses an environment over 4 KB: with a message
    /// quoting the variables the request sent ("String measured: {...}").
    pub quote_environment_first: Option<&'static str>,
    /// After each EC2 or IAM create, this many reads of the new resource
    /// (by its name or id) answer "not found" (eventual consistency: not
    /// visible yet).
    pub late_not_found: usize,
    /// Every Nth entry of PutRecords calls is not passed on and is answered
    /// as failed (`ProvisionedThroughputExceededException`): a partial
    /// failure, where only the failed entries must be sent again.
    pub fail_entries_every: usize,
    /// Faults drawn at random, as real AWS shows them: the share of calls
    /// throttled, of calls answered with a 5xx, and of mutating calls whose
    /// answer is dropped after they were executed; seeded.
    pub random: Option<Random>,
    /// S3 as it answers for another account's bucket (bucket, its owner):
    /// see `crate::buckets::Owners`.
    pub bucket_owner: Option<(&'static str, &'static str)>,
    /// S3 calls about a bucket that do not name this account as the
    /// expected owner are recorded in `Stats::ownerless` (and forwarded).
    pub require_owner: Option<&'static str>,
    /// Called with each request (its head lines and body) before it is
    /// passed on; a body it returns replaces the request's: a test's own
    /// change at an exact moment (a concurrent writer, a producer's bytes).
    pub before: Option<Hook>,
    /// Called with each request once the emulator answered it, before the
    /// answer is returned.
    pub after: Option<Hook>,
    /// Answers a request instead of the emulator when it returns the whole
    /// HTTP answer: an operation the emulator lacks, answered as AWS does.
    pub answer: Option<Hook>,
}

/// A test's code run by the proxy on a request: `(head lines, body)`.
#[derive(Clone)]
#[allow(clippy::type_complexity)]
pub struct Hook(pub Arc<dyn Fn(&[String], &[u8]) -> Option<Vec<u8>> + Send + Sync>);

impl std::fmt::Debug for Hook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Hook")
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Random {
    pub throttle: f64,
    pub server_error: f64,
    pub drop_answer: f64,
    pub seed: u64,
}

#[derive(Debug, Default)]
pub struct Stats {
    pub requests: AtomicUsize,
    pub rejected: AtomicUsize,
    pub throttled: AtomicUsize,
    pub server_errors: AtomicUsize,
    pub lost: AtomicUsize,
    pub creating: AtomicUsize,
    pub hung: AtomicUsize,
    pub hung_first: AtomicUsize,
    pub quoted: AtomicUsize,
    pub late: AtomicUsize,
    /// PutRecords entries seen, and of them answered as failed.
    pub put_entries: AtomicUsize,
    pub failed_entries: AtomicUsize,
    /// S3 calls about a bucket seen under `require_owner`, and the request
    /// lines of those that named no owner or another.
    pub bucket_calls: AtomicUsize,
    pub ownerless: std::sync::Mutex<Vec<String>>,
    /// Requests per operation.
    pub ops: std::sync::Mutex<std::collections::BTreeMap<String, usize>>,
}

impl Stats {
    /// How many requests of `op` reached the proxy.
    pub fn calls(&self, op: &str) -> usize {
        self.ops.lock().unwrap().get(op).copied().unwrap_or(0)
    }
}

pub struct Proxy {
    pub url: String,
    pub stats: Arc<Stats>,
    stop: Arc<AtomicBool>,
    port: u16,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

struct Request {
    head: Vec<String>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.iter().skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }

    /// The operation, for deciding what to break: `X-Amz-Target` for JSON
    /// protocols, `Action=` for query protocols, the method for S3.
    fn operation(&self) -> String {
        if let Some(t) = self.header("x-amz-target") {
            return t.rsplit('.').next().unwrap_or(t).to_string();
        }
        let body = String::from_utf8_lossy(&self.body);
        if let Some(a) = body.split('&').find_map(|kv| kv.strip_prefix("Action=")) {
            return a.to_string();
        }
        self.head[0].split(' ').next().unwrap_or("").to_string()
    }

    /// The service a request is for: the JSON target's prefix, the query
    /// API's version, Lambda's REST path, or S3.
    fn service(&self) -> String {
        if let Some(t) = self.header("x-amz-target") {
            return t.split('.').next().unwrap_or(t).to_string();
        }
        let body = String::from_utf8_lossy(&self.body);
        if let Some(v) = body.split('&').find_map(|kv| kv.strip_prefix("Version=")) {
            return v.to_string();
        }
        let path = self.head[0].split(' ').nth(1).unwrap_or("");
        if path.starts_with("/2015-03-31/") || path.starts_with("/2017-03-31/") {
            return "lambda".into();
        }
        "s3".into()
    }

    /// A "not found" answer in the request's protocol.
    fn not_found(&self) -> Vec<u8> {
        let body = String::from_utf8_lossy(&self.body);
        match self.service().as_str() {
            "2016-11-15" => self.error_with(400, "InvalidResource.NotFound", "not visible yet"),
            "2010-05-08" => self.error_with(404, "NoSuchEntity", "not visible yet"),
            "2010-08-01" => self.error_with(404, "ResourceNotFound", "not visible yet"),
            "s3" if body.is_empty() => {
                b"HTTP/1.1 404 Not Found\r\nContent-Type: application/xml\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec()
            }
            "lambda" => {
                let b = "{\"Type\":\"User\",\"message\":\"not visible yet\"}";
                format!("HTTP/1.1 404 Not Found\r\nx-amzn-errortype: ResourceNotFoundException\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{b}", b.len()).into_bytes()
            }
            "AmazonSSM" => self.error_with(400, "ParameterNotFound", "not visible yet"),
            _ => self.error_with(400, "ResourceNotFoundException", "not visible yet"),
        }
    }

    /// A read of one resource by its name or id: what AWS answers "not
    /// found" for until a new resource is visible. (Lists and EC2's
    /// filtered describes answer an empty list instead.)
    fn reads_one(&self) -> bool {
        if self.mutating() {
            return false;
        }
        let op = self.operation();
        if self.service() == "2016-11-15" {
            let body = String::from_utf8_lossy(&self.body);
            return body.split('&').any(|kv| kv.split('=').next().is_some_and(|k| k.ends_with("Id.1")));
        }
        // Lists (`List…`, `…ByPath`, plural `Describe…s`) answer empty.
        !(op.starts_with("List") || op.ends_with("ByPath") || (op.starts_with("Describe") && op.ends_with('s')))
    }

    /// The request with another body (its length said again).
    fn with_body(mut self, body: Vec<u8>) -> Request {
        let len = body.len();
        for h in self.head.iter_mut().skip(1) {
            if h.to_ascii_lowercase().starts_with("content-length:") {
                *h = format!("Content-Length: {len}");
            }
        }
        self.body = body;
        self
    }

    fn path(&self) -> &str {
        self.head[0].split(' ').nth(1).unwrap_or("")
    }

    fn creates(&self) -> bool {
        let op = self.operation();
        let path = self.path();
        op.starts_with("Create")
            || op.starts_with("Run")
            || op.starts_with("Allocate")
            || op == "PutParameter"
            || (op == "PUT" && self.service() == "s3" && !path.contains('?') && path.matches('/').count() == 1)
            || (op == "POST" && self.service() == "lambda" && path.ends_with("/functions"))
    }

    /// What names the resource a create made: the values of its `…Name`
    /// parameters, an S3 bucket's path, and the ids EC2 answers with.
    fn created_names(&self, response: &[u8]) -> Vec<String> {
        let body = String::from_utf8_lossy(&self.body);
        let mut names: Vec<String> = Vec::new();
        if let Ok(serde_json::Value::Object(m)) = serde_json::from_str::<serde_json::Value>(&body) {
            names.extend(
                m.iter().filter(|(k, _)| k.ends_with("Name")).filter_map(|(_, v)| v.as_str().map(str::to_string)),
            );
        }
        for kv in body.split('&') {
            if let Some((k, v)) = kv.split_once('=') {
                if k.ends_with("Name") && !k.starts_with("TagSpecification") {
                    names.push(v.replace("%2F", "/"));
                }
            }
        }
        if self.service() == "s3" {
            names.push(self.path().trim_start_matches('/').to_string());
        }
        if self.service() == "2016-11-15" {
            let text = String::from_utf8_lossy(response);
            for part in text.split('<').filter(|p| p.contains("Id>")) {
                if let Some((tag, value)) = part.split_once('>') {
                    if tag.ends_with("Id") && value.contains('-') && !value.is_empty() {
                        names.push(value.to_string());
                    }
                }
            }
        }
        names.retain(|n| n.len() > 2);
        names
    }

    /// Whether the request names one of `names`.
    fn mentions(&self, name: &str) -> bool {
        self.path().contains(name) || String::from_utf8_lossy(&self.body).contains(name)
    }

    fn mutating(&self) -> bool {
        let op = self.operation();
        [
            "Create",
            "Put",
            "Delete",
            "Update",
            "Increase",
            "Decrease",
            "Start",
            "Stop",
            "Add",
            "Tag",
            "Untag",
            "Run",
            "Allocate",
            "Associate",
            "Attach",
            "Modify",
            "Replace",
            "Remove",
            "Release",
            "Terminate",
            "Detach",
            "Disassociate",
            "Authorize",
            "Revoke",
        ]
        .iter()
        .any(|p| op.starts_with(p))
            // REST APIs (S3, Lambda) say it with the method.
            || matches!(op.as_str(), "PUT" | "POST" | "DELETE" | "PATCH")
    }

    /// Lambda's refusal of an environment over 4 KB, which quotes the
    /// variables of the request.
    fn environment_refused(&self) -> Vec<u8> {
        let body: serde_json::Value = serde_json::from_slice(&self.body).unwrap_or_default();
        let measured = body["Environment"]["Variables"].to_string();
        let message = format!(
            "Lambda was unable to configure your environment variables because the environment variables you have provided exceeded the 4KB limit. String measured: {measured}"
        );
        let b = serde_json::json!({ "Type": "User", "message": message }).to_string();
        format!("HTTP/1.1 400 Bad Request\r\nx-amzn-errortype: InvalidParameterValueException\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{b}", b.len()).into_bytes()
    }

    fn error(&self, status: u16, code: &str) -> Vec<u8> {
        self.error_with(status, code, "injected by the test proxy")
    }

    /// An error body in the request's protocol.
    fn error_with(&self, status: u16, code: &str, message: &str) -> Vec<u8> {
        let ec2 = String::from_utf8_lossy(&self.body).contains("Version=2016-11-15");
        let (ctype, body) = if ec2 {
            ("text/xml", format!("<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors><RequestID>x</RequestID></Response>"))
        } else if self.header("x-amz-target").is_some() {
            ("application/x-amz-json-1.1", format!("{{\"__type\":\"{code}\",\"message\":\"{message}\"}}"))
        } else if self.header("content-type").is_some_and(|c| c.contains("x-www-form-urlencoded")) {
            ("text/xml", format!("<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>x</RequestId></ErrorResponse>"))
        } else {
            ("application/xml", format!("<Error><Code>{code}</Code><Message>{message}</Message></Error>"))
        };
        format!("HTTP/1.1 {status} Injected\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len()).into_bytes()
    }
}

fn read_request(r: &mut BufReader<TcpStream>) -> Option<Request> {
    let mut head = Vec::new();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end_matches(['\r', '\n']).to_string();
        if line.is_empty() {
            break;
        }
        head.push(line);
    }
    let mut req = Request { head, body: Vec::new() };
    let len: usize = req.header("content-length").and_then(|l| l.parse().ok()).unwrap_or(0);
    let mut body = vec![0; len];
    r.read_exact(&mut body).ok()?;
    req.body = body;
    Some(req)
}

fn forward(upstream: u16, req: &Request) -> std::io::Result<Vec<u8>> {
    let mut up = TcpStream::connect(("127.0.0.1", upstream))?;
    let mut out = Vec::new();
    out.extend(req.head[0].as_bytes());
    out.extend(b"\r\n");
    for h in req.head.iter().skip(1) {
        if h.to_ascii_lowercase().starts_with("connection:") {
            continue;
        }
        out.extend(h.as_bytes());
        out.extend(b"\r\n");
    }
    out.extend(b"Connection: close\r\n\r\n");
    out.extend(&req.body);
    up.write_all(&out)?;
    let mut resp = Vec::new();
    up.read_to_end(&mut resp)?;
    Ok(resp)
}

/// Makes the response close the connection, and applies `edit` to a body
/// with a Content-Length (fixing the length).
fn rewrite(resp: Vec<u8>, edit: impl Fn(&str) -> String) -> Vec<u8> {
    let Some(split) = resp.windows(4).position(|w| w == b"\r\n\r\n") else {
        return resp;
    };
    let head = String::from_utf8_lossy(&resp[..split]).to_string();
    let body = &resp[split + 4..];
    let chunked = head.to_ascii_lowercase().contains("transfer-encoding: chunked");
    let body: Vec<u8> = if chunked { body.to_vec() } else { edit(&String::from_utf8_lossy(body)).into_bytes() };
    let mut out = String::new();
    for (i, line) in head.split("\r\n").enumerate() {
        let lower = line.to_ascii_lowercase();
        if i > 0 && (lower.starts_with("connection:") || (!chunked && lower.starts_with("content-length:"))) {
            continue;
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    if !chunked {
        out.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    out.push_str("Connection: close\r\n\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend(body);
    bytes
}

impl Proxy {
    pub fn start(upstream_url: &str, faults: Faults) -> Proxy {
        let upstream: u16 = upstream_url.rsplit(':').next().unwrap().parse().unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let stats = Arc::new(Stats::default());
        let stop = Arc::new(AtomicBool::new(false));
        let (s, st) = (stats.clone(), stop.clone());
        let mutations = Arc::new(AtomicUsize::new(0));
        // a new resource's name or id -> reads still to answer "not found"
        let late: Arc<std::sync::Mutex<std::collections::HashMap<String, usize>>> = Arc::default();
        let rng = Arc::new(std::sync::Mutex::new(fastrand::Rng::with_seed(faults.random.map_or(0, |r| r.seed))));
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if st.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let (stats, faults, mutations) = (s.clone(), faults.clone(), mutations.clone());
                let (late, rng) = (late.clone(), rng.clone());
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(conn.try_clone().unwrap());
                    let mut conn = conn;
                    let Some(req) = read_request(&mut reader) else {
                        return;
                    };
                    let req = match faults.before.as_ref().and_then(|h| (h.0)(&req.head, &req.body)) {
                        Some(body) => req.with_body(body),
                        None => req,
                    };
                    let n = stats.requests.fetch_add(1, Ordering::SeqCst) + 1;
                    *stats.ops.lock().unwrap().entry(req.operation()).or_default() += 1;
                    let (req, failed_at) = if faults.fail_entries_every > 0 && req.operation() == "PutRecords" {
                        fail_entries(req, faults.fail_entries_every, &stats)
                    } else {
                        (req, Vec::new())
                    };
                    std::thread::sleep(faults.delay);
                    let every = |k: usize| k > 0 && n % k == 0;
                    let (roll_throttle, roll_error, roll_drop) = {
                        let mut r = rng.lock().unwrap();
                        (r.f64(), r.f64(), r.f64())
                    };
                    let random = faults.random;
                    let random_throttle = random.is_some_and(|r| roll_throttle < r.throttle);
                    let random_error = random.is_some_and(|r| roll_error < r.server_error);
                    let random_drop = random.is_some_and(|r| roll_drop < r.drop_answer);
                    let late_read = req.reads_one() && {
                        let mut l = late.lock().unwrap();
                        match l.iter_mut().find(|(name, k)| **k > 0 && req.mentions(name)) {
                            Some((_, k)) => {
                                *k -= 1;
                                true
                            }
                            None => false,
                        }
                    };
                    let reject = faults.reject_first.filter(|(op, n, _, _)| {
                        *op == req.operation() && stats.rejected.fetch_add(1, Ordering::SeqCst) < *n
                    });
                    let quote = faults
                        .quote_environment_first
                        .is_some_and(|f| req.head[0].contains(f) && stats.quoted.fetch_add(1, Ordering::SeqCst) == 0);
                    let owners = crate::buckets::Owners::of(&req.head[0], &req.service(), |h| req.header(h));
                    owners.count(faults.require_owner, &stats);
                    let reply = if let Some(refusal) = owners.refusal(faults.bucket_owner) {
                        refusal
                    } else if let Some(answer) = faults.answer.as_ref().and_then(|h| (h.0)(&req.head, &req.body)) {
                        answer
                    } else if quote {
                        req.environment_refused()
                    } else if let Some((_, _, code, message)) = reject {
                        req.error_with(400, code, message)
                    } else if faults.deny.is_some_and(|d| d == req.operation()) {
                        req.error(400, "AccessDeniedException")
                    } else if late_read {
                        stats.late.fetch_add(1, Ordering::SeqCst);
                        req.not_found()
                    } else if every(faults.throttle_every) || random_throttle {
                        stats.throttled.fetch_add(1, Ordering::SeqCst);
                        let code = if req.header("x-amz-target").is_some() {
                            "ThrottlingException"
                        } else if req.header("content-type").is_some_and(|c| c.contains("urlencoded")) {
                            "Throttling"
                        } else {
                            "SlowDown"
                        };
                        let status = if code == "SlowDown" { 503 } else { 400 };
                        req.error(status, code)
                    } else if every(faults.server_error_every) || random_error {
                        stats.server_errors.fetch_add(1, Ordering::SeqCst);
                        req.error(500, "InternalFailure")
                    } else {
                        let lose = req.mutating() && {
                            let m = mutations.fetch_add(1, Ordering::SeqCst) + 1;
                            (faults.lose_response_every > 0 && m % faults.lose_response_every == 0) || random_drop
                        };
                        let Ok(resp) = forward(upstream, &req) else {
                            return;
                        };
                        if let Some(h) = &faults.after {
                            (h.0)(&req.head, &req.body);
                        }
                        stats.failed_entries.fetch_add(failed_at.iter().filter(|f| **f).count(), Ordering::SeqCst);
                        // EC2 and IAM are the eventually consistent ones (AWS-NOTES.md).
                        let eventual = ["2016-11-15", "2010-05-08"].contains(&req.service().as_str());
                        if eventual && req.creates() && faults.late_not_found > 0 && resp.starts_with(b"HTTP/1.1 2") {
                            let mut l = late.lock().unwrap();
                            for name in req.created_names(&resp) {
                                l.insert(name, faults.late_not_found);
                            }
                        }
                        let first_of_op = faults.hang_first.is_some_and(|op| {
                            (req.operation() == op || req.head[0].contains(op))
                                && stats.hung_first.fetch_add(1, Ordering::SeqCst) == 0
                        });
                        if every(faults.hang_every) || first_of_op {
                            stats.hung.fetch_add(1, Ordering::SeqCst);
                            std::thread::sleep(faults.hang_for);
                            let _ = conn.shutdown(Shutdown::Both);
                            return;
                        }
                        if lose {
                            stats.lost.fetch_add(1, Ordering::SeqCst);
                            let _ = conn.shutdown(Shutdown::Both);
                            return;
                        }
                        let creating = req.operation() == "DescribeStreamSummary"
                            && stats.creating.fetch_add(1, Ordering::SeqCst) < faults.creating_reads;
                        rewrite(resp, |b| {
                            if !failed_at.is_empty() {
                                answer_failed(b, &failed_at)
                            } else if let Some((bucket, _)) = faults.bucket_owner.filter(|_| owners.lists_buckets()) {
                                crate::buckets::unlisted(b, bucket)
                            } else if creating {
                                b.replace("\"ACTIVE\"", "\"CREATING\"")
                            } else {
                                b.to_string()
                            }
                        })
                    };
                    let _ = conn.write_all(&reply);
                    let _ = conn.shutdown(Shutdown::Both);
                });
            }
        });
        Proxy { url: format!("http://127.0.0.1:{port}"), stats, stop, port }
    }
}
