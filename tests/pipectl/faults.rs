//! A small HTTP proxy between pipectl and the emulator that injects the
//! failures AWS really produces: throttling, 5xx, lost responses (the
//! request reaches AWS, the answer never comes back), slow answers, and
//! slow provisioning (a stream that stays CREATING for a while).
//! Faults are chosen by request count, so with `--parallelism 1` a run is
//! repeatable.

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
}

#[derive(Debug, Default)]
pub struct Stats {
    pub requests: AtomicUsize,
    pub rejected: AtomicUsize,
    pub throttled: AtomicUsize,
    pub server_errors: AtomicUsize,
    pub lost: AtomicUsize,
    pub creating: AtomicUsize,
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

    fn mutating(&self) -> bool {
        let op = self.operation();
        ["Create", "Put", "Delete", "Update", "Increase", "Decrease", "Start", "Stop", "Add", "Tag"]
            .iter()
            .any(|p| op.starts_with(p))
            || op == "PUT"
            || op == "DELETE"
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
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if st.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let (stats, faults, mutations) = (s.clone(), faults.clone(), mutations.clone());
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(conn.try_clone().unwrap());
                    let mut conn = conn;
                    let Some(req) = read_request(&mut reader) else {
                        return;
                    };
                    let n = stats.requests.fetch_add(1, Ordering::SeqCst) + 1;
                    std::thread::sleep(faults.delay);
                    let every = |k: usize| k > 0 && n % k == 0;
                    let reject = faults.reject_first.filter(|(op, n, _, _)| {
                        *op == req.operation() && stats.rejected.fetch_add(1, Ordering::SeqCst) < *n
                    });
                    let reply =
                        if let Some((_, _, code, message)) = reject {
                            req.error_with(400, code, message)
                        } else if faults.deny.is_some_and(|d| d == req.operation()) {
                            req.error(400, "AccessDeniedException")
                        } else if every(faults.throttle_every) {
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
                        } else if every(faults.server_error_every) {
                            stats.server_errors.fetch_add(1, Ordering::SeqCst);
                            req.error(500, "InternalFailure")
                        } else {
                            let lose = req.mutating() && {
                                let m = mutations.fetch_add(1, Ordering::SeqCst) + 1;
                                faults.lose_response_every > 0 && m % faults.lose_response_every == 0
                            };
                            let Ok(resp) = forward(upstream, &req) else {
                                return;
                            };
                            if lose {
                                stats.lost.fetch_add(1, Ordering::SeqCst);
                                let _ = conn.shutdown(Shutdown::Both);
                                return;
                            }
                            let creating = req.operation() == "DescribeStreamSummary"
                                && stats.creating.fetch_add(1, Ordering::SeqCst) < faults.creating_reads;
                            rewrite(resp, |b| {
                                if creating {
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
