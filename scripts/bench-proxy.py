#!/usr/bin/env python3
"""An HTTP proxy in front of the emulator that behaves like AWS in time:
every call takes a round trip (`--latency-ms`), and what AWS provisions
takes AWS's time, scaled by `--scale` (1 = real times, 0.1 = a tenth):

  kind        becomes usable after             meanwhile the proxy answers
  stream      CreateStream 12 s                StreamStatus CREATING; mutations ResourceInUse
  stream      Start/StopStreamEncryption 10 s  StreamStatus UPDATING; mutations ResourceInUse
  stream      DeleteStream 12 s                StreamStatus DELETING
  firehose    CreateDeliveryStream 60 s        DeliveryStreamStatus CREATING
  firehose    DeleteDeliveryStream 30 s        DeliveryStreamStatus DELETING
  role        CreateRole 8 s                   Firehose/Lambda "cannot assume role"
  profile     AddRoleToInstanceProfile 8 s     RunInstances "Invalid IAM Instance Profile"
  trigger     CreateEventSourceMapping 30 s    State Creating
  trigger     DeleteEventSourceMapping 30 s    State Deleting
  instance    RunInstances 15 s                pending
  instance    TerminateInstances 15 s          shutting-down

A Firehose reading a stream that is not ACTIVE is refused, as AWS does.
The Resource Groups Tagging API's GetResources lists Kinesis streams, as
AWS's does and the emulator's does not: the proxy keeps the streams' tags
from the calls it forwards and adds the matching ones to the answer.
Lambda's GetAccountSettings, which the emulator lacks, is answered from the
concurrency reservations the proxy forwarded.
The emulator itself makes everything ready at once; the proxy only holds
the answers back, so what pipectl sees is what AWS would show.

GET /__stats answers the calls counted since the last reset (by service
and operation) and the times in use; GET /__stats?reset=1 also resets.

    bench-proxy.py --upstream http://127.0.0.1:5000 --port 5001 --latency-ms 30 --scale 0.1
"""
import argparse
import http.client
import json
import queue
import re
import threading
import time
import urllib.parse
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TIMES = {  # seconds at AWS's real speed
    "stream": 12, "stream_update": 10, "stream_delete": 12,
    "firehose": 60, "firehose_delete": 30,
    "role": 8, "trigger": 30, "trigger_delete": 30,
    "instance": 15, "instance_stop": 15,
}
STREAM_MUTATIONS = {
    "StartStreamEncryption", "StopStreamEncryption", "IncreaseStreamRetentionPeriod",
    "DecreaseStreamRetentionPeriod", "UpdateShardCount", "UpdateStreamMode",
}

args = None
T0 = time.monotonic()
lock = threading.Lock()
calls = Counter()
since = {}        # (what, name) -> when it started
last_body = {}    # (what, name) -> the last successful describe, to show while deleting
upstream = None
stream_tags = {}  # stream name -> its tags, from the calls forwarded
account = "123456789012"  # the emulator's, until STS says otherwise


def t(kind):
    return TIMES[kind] * args.scale


def started(what, name):
    with lock:
        since[(what, name)] = time.monotonic()


def within(what, name, kind):
    with lock:
        at = since.get((what, name))
    return at is not None and time.monotonic() - at < t(kind)


def operation(headers, path, body):
    headers = {k.lower(): v for k, v in headers.items()}
    auth = headers.get("authorization", "")
    m = re.search(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/", auth)
    service = m.group(1) if m else "?"
    target = headers.get("x-amz-target")
    if target:
        return service, target.split(".")[-1]
    if body.startswith(b"Action=") or b"&Action=" in body:
        form = urllib.parse.parse_qs(body.decode(errors="replace"))
        return service, form.get("Action", ["?"])[0]
    words = {"functions", "event-source-mappings", "configuration", "code", "concurrency", "tags", "policy",
             "versions", "aliases", "dashboards"}
    segments = urllib.parse.urlparse(path).path.split("/")[1:]
    route = "/".join(s if s in words else "{}" for s in segments[1:] if s) if service == "lambda" else "{}"
    return service, f"{headers.get('x-method', '')}/{route}"


def error(status, code, message, json_protocol=True):
    if json_protocol:
        body = json.dumps({"__type": code, "message": message}).encode()
        return status, {"Content-Type": "application/x-amz-json-1.1", "x-amzn-ErrorType": code}, body
    body = (f"<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors>"
            f"<RequestID>bench</RequestID></Response>").encode()
    return status, {"Content-Type": "text/xml"}, body


def before(service, op, body, path, method):
    """Refusals AWS would answer instead of acting; None to forward."""
    if service == "kinesis" and op in STREAM_MUTATIONS:
        name = stream_name(body)
        if within("stream", name, "stream") or within("stream_update", name, "stream_update"):
            return error(400, "ResourceInUseException", f"Stream {name} is not ACTIVE")
    if service == "firehose" and op == "CreateDeliveryStream":
        req = json.loads(body or b"{}")
        role = (req.get("ExtendedS3DestinationConfiguration") or {}).get("RoleARN", "")
        if within("role", role.split("/")[-1], "role"):
            return error(400, "InvalidArgumentException", f"Firehose is unable to assume role {role}. Please check the role provided.")
        src = (req.get("KinesisStreamSourceConfiguration") or {}).get("KinesisStreamARN", "")
        name = src.split("/")[-1]
        if src and (within("stream", name, "stream") or within("stream_update", name, "stream_update")):
            return error(400, "InvalidArgumentException", f"The stream {src} is not ACTIVE")
    if service == "lambda" and method in ("POST", "PUT") and "/functions" in path and body:
        try:
            role = json.loads(body).get("Role", "")
        except ValueError:
            role = ""
        if role and within("role", role.split("/")[-1], "role"):
            return error(400, "InvalidParameterValueException", "The role defined for the function cannot be assumed by Lambda.")
    if service == "ec2" and op == "RunInstances":
        form = urllib.parse.parse_qs(body.decode(errors="replace"))
        profile = form.get("IamInstanceProfile.Name", [""])[0]
        if profile and within("profile", profile, "role"):
            return error(400, "InvalidParameterValue", f"Invalid IAM Instance Profile name {profile}", json_protocol=False)
    return None


def stream_name(body):
    try:
        req = json.loads(body or b"{}")
    except ValueError:
        return ""
    return req.get("StreamName") or (req.get("StreamARN") or "").split("/")[-1]


def remember_stream_tags(op, name, req_body):
    """Keeps each stream's tags as AWS's tagging API would list them."""
    req = json.loads(req_body or b"{}")
    with lock:
        if op == "CreateStream":
            stream_tags[name] = dict(req.get("Tags") or {})
        elif op in ("AddTagsToStream", "TagResource"):
            stream_tags.setdefault(name, {}).update(req.get("Tags") or {})
        elif op in ("RemoveTagsFromStream", "UntagResource"):
            for k in req.get("TagKeys") or []:
                stream_tags.get(name, {}).pop(k, None)
        elif op == "DeleteStream":
            stream_tags.pop(name, None)


def tagged_streams(req_body, region, body):
    """Adds the Kinesis streams a GetResources call asks for to its last page."""
    req = json.loads(req_body or b"{}")
    types = req.get("ResourceTypeFilters") or []
    out = json.loads(body or b"{}")
    if out.get("PaginationToken") or (types and not any(t == "kinesis" or t.startswith("kinesis:") for t in types)):
        return body
    filters = req.get("TagFilters") or []

    def matches(tags):
        return bool(tags) and all(f["Key"] in tags and (not f.get("Values") or tags[f["Key"]] in f["Values"])
                                  for f in filters)
    with lock:
        found = [(n, dict(t)) for n, t in stream_tags.items() if matches(t)]
    listed = {r.get("ResourceARN") for r in out.get("ResourceTagMappingList", [])}
    for name, tags in found:
        arn = f"arn:aws:kinesis:{region}:{account}:stream/{name}"
        if arn not in listed:
            out.setdefault("ResourceTagMappingList", []).append(
                {"ResourceARN": arn, "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]})
    return json.dumps(out).encode()


def after(service, op, req_body, path, status, headers, body, region):
    """Remembers what started, and rewrites statuses AWS would still show."""
    now_ok = 200 <= status < 300
    if service == "kinesis":
        name = stream_name(req_body)
        if now_ok:
            remember_stream_tags(op, name, req_body)
        if op == "CreateStream" and now_ok:
            started("stream", name)
        if op in ("StartStreamEncryption", "StopStreamEncryption") and now_ok:
            started("stream_update", name)
        if op == "DeleteStream" and now_ok:
            started("stream_delete", name)
        if op in ("DescribeStreamSummary", "DescribeStream"):
            if now_ok:
                last_body[("stream", name)] = body
                if within("stream", name, "stream"):
                    body = body.replace(b'"StreamStatus": "ACTIVE"', b'"StreamStatus": "CREATING"')
                elif within("stream_update", name, "stream_update"):
                    body = body.replace(b'"StreamStatus": "ACTIVE"', b'"StreamStatus": "UPDATING"')
            elif within("stream_delete", name, "stream_delete") and ("stream", name) in last_body:
                status, body = 200, last_body[("stream", name)].replace(b'"StreamStatus": "ACTIVE"', b'"StreamStatus": "DELETING"')
                headers = {"Content-Type": "application/x-amz-json-1.1"}
    if service == "firehose":
        try:
            name = json.loads(req_body or b"{}").get("DeliveryStreamName", "")
        except ValueError:
            name = ""
        if op == "CreateDeliveryStream" and now_ok:
            started("firehose", name)
        if op == "DeleteDeliveryStream" and now_ok:
            started("firehose_delete", name)
        if op == "DescribeDeliveryStream":
            if now_ok:
                last_body[("firehose", name)] = body
                if within("firehose", name, "firehose"):
                    body = body.replace(b'"DeliveryStreamStatus": "ACTIVE"', b'"DeliveryStreamStatus": "CREATING"')
            elif within("firehose_delete", name, "firehose_delete") and ("firehose", name) in last_body:
                status = 200
                body = last_body[("firehose", name)].replace(b'"DeliveryStreamStatus": "ACTIVE"', b'"DeliveryStreamStatus": "DELETING"')
                headers = {"Content-Type": "application/x-amz-json-1.1"}
    if service == "iam" and now_ok:
        form = urllib.parse.parse_qs(req_body.decode(errors="replace"))
        if op == "CreateRole":
            started("role", form.get("RoleName", [""])[0])
        if op == "AddRoleToInstanceProfile":
            started("profile", form.get("InstanceProfileName", [""])[0])
    if service == "sts" and op == "GetCallerIdentity" and now_ok:
        m = re.search(rb"<Account>(\d+)</Account>", body)
        if m:
            global account
            account = m.group(1).decode()
    if service == "tagging" and op == "GetResources" and now_ok:
        body = tagged_streams(req_body, region, body)
    if service == "lambda":
        body, status, headers = lambda_mapping(op, path, status, headers, body)
        status, headers, body = lambda_concurrency(op, path, req_body, status, headers, body)
    if service == "ec2":
        body = ec2_instances(op, req_body, status, body)
    return status, headers, body


def lambda_concurrency(op, path, req_body, status, headers, body):
    """Lambda's GetAccountSettings, which the emulator lacks, answered as
    AWS does: the account's limit and what no function reserves of it (the
    reservations kept from the calls the proxy forwards)."""
    route = urllib.parse.urlparse(path).path
    m = re.match(r"/[^/]+/functions/([^/]+?)(/concurrency)?/?$", route)
    if m and 200 <= status < 300:
        name = urllib.parse.unquote(m.group(1)).split(":")[-1]
        with lock:
            if m.group(2) and op.startswith("PUT"):
                reserved[name] = json.loads(req_body or b"{}").get("ReservedConcurrentExecutions", 0)
            elif op.startswith("DELETE"):
                reserved.pop(name, None)
    if route.endswith("/account-settings") or route.endswith("/account-settings/"):
        with lock:
            unreserved = LAMBDA_LIMIT - sum(reserved.values())
        limit = {"ConcurrentExecutions": LAMBDA_LIMIT, "UnreservedConcurrentExecutions": unreserved,
                 "TotalCodeSize": 80530636800, "CodeSizeUnzipped": 262144000, "CodeSizeZipped": 52428800}
        body = json.dumps({"AccountLimit": limit, "AccountUsage": {"FunctionCount": 0, "TotalCodeSize": 0}}).encode()
        return 200, {"Content-Type": "application/json"}, body
    return status, headers, body


reserved = {}
LAMBDA_LIMIT = 1000


def lambda_mapping(op, path, status, headers, body):
    if "event-source-mappings" not in op:
        return body, status, headers
    ok = 200 <= status < 300
    try:
        doc = json.loads(body) if body else None
    except ValueError:
        doc = None
    if op.startswith("POST") and ok and doc:
        started("trigger", doc.get("UUID"))
    if op.startswith("DELETE") and ok and doc:
        started("trigger_delete", doc.get("UUID"))
        with lock:
            last_body[("trigger", doc.get("UUID"))] = body
    def shown(m):
        uuid = m.get("UUID")
        if within("trigger", uuid, "trigger"):
            m["State"] = "Creating"
        return m
    if op.startswith("GET") and doc is not None:
        if ok and "EventSourceMappings" in doc:
            doc["EventSourceMappings"] = [shown(m) for m in doc["EventSourceMappings"]]
            body = json.dumps(doc).encode()
        elif ok and "UUID" in doc:
            body = json.dumps(shown(doc)).encode()
    if op.startswith("GET") and status == 404:
        uuid = path.rstrip("/").split("/")[-1]
        if within("trigger_delete", uuid, "trigger_delete") and ("trigger", uuid) in last_body:
            m = json.loads(last_body[("trigger", uuid)])
            m["State"] = "Deleting"
            return json.dumps(m).encode(), 200, {"Content-Type": "application/json"}
    return body, status, headers


def ec2_instances(op, req_body, status, body):
    if not (200 <= status < 300):
        return body
    if op == "RunInstances":
        for iid in re.findall(rb"<instanceId>(i-[0-9a-f]+)</instanceId>", body):
            started("instance", iid.decode())
    if op == "TerminateInstances":
        for iid in set(re.findall(rb"<instanceId>(i-[0-9a-f]+)</instanceId>", body)):
            started("instance_stop", iid.decode())
    if op == "DescribeInstances":
        def state(m):
            block = m.group(0)
            iid = re.search(rb"<instanceId>(i-[0-9a-f]+)</instanceId>", block)
            iid = iid.group(1).decode() if iid else ""
            if within("instance", iid, "instance"):
                block = re.sub(rb"<instanceState>\s*<code>16</code>\s*<name>running</name>",
                               b"<instanceState><code>0</code><name>pending</name>", block)
            if within("instance_stop", iid, "instance_stop"):
                block = re.sub(rb"<instanceState>\s*<code>48</code>\s*<name>terminated</name>",
                               b"<instanceState><code>32</code><name>shutting-down</name>", block)
            return block
        # An instance's id and its state, wherever they sit in its item.
        body = re.sub(rb"<instanceId>i-[0-9a-f]+</instanceId>(?:(?!<instanceId>).)*?</instanceState>", state, body,
                      flags=re.S)
    return body


idle = queue.LifoQueue()  # kept-alive connections to the emulator


def forward(method, path, body, headers):
    """Sends one request upstream on a kept-alive connection: a new
    connection per call would cost the emulator a thread and a handshake
    each, CPU that AWS does not spend on the caller's behalf."""
    for attempt in range(2):
        try:
            conn = idle.get_nowait()
        except queue.Empty:
            conn = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=120)
        try:
            conn.request(method, path, body=body, headers=headers)
            r = conn.getresponse()
            out = r.read()
        except (http.client.HTTPException, OSError):
            conn.close()
            if attempt:
                raise
            continue
        if r.will_close:
            conn.close()
        else:
            idle.put(conn)
        return r, out


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # The headers and the body go out in two writes: with Nagle's
    # algorithm the body waits for the client's delayed ACK (40 ms on
    # Linux), a delay AWS does not add to every answer.
    disable_nagle_algorithm = True

    def log_message(self, *a):
        pass

    def do_GET(self):
        if self.path.startswith("/__stats"):
            with lock:
                out = {"calls": dict(calls), "total": sum(calls.values()), "times": {k: t(k) for k in TIMES},
                       "latency_ms": args.latency_ms}
                if "reset=1" in self.path:
                    calls.clear()
            data = json.dumps(out).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        self.forward()

    def do_POST(self):
        self.forward()

    def do_PUT(self):
        self.forward()

    def do_DELETE(self):
        self.forward()

    def do_HEAD(self):
        self.forward()

    def do_PATCH(self):
        self.forward()

    def forward(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k: v for k, v in self.headers.items()}
        headers["X-Method"] = self.command + " "
        service, op = operation(headers, self.path, body)
        del headers["X-Method"]
        with lock:
            calls[f"{service}:{op}"] += 1
        if args.trace:
            print(f"{time.monotonic() - T0:8.3f} {service}:{op}", flush=True)
        time.sleep(args.latency_ms / 1000.0)
        refused = before(service, op, body, self.path, self.command)
        upstream_ms = 0.0
        if refused is not None:
            status, out_headers, out = refused
        else:
            sent = time.monotonic()
            r, out = forward(self.command, self.path, body, headers)
            upstream_ms = (time.monotonic() - sent) * 1000
            status = r.status
            out_headers = {k: v for k, v in r.getheaders()
                           if k.lower() not in ("content-length", "transfer-encoding", "connection", "date", "server")}
            m = re.search(r"Credential=[^/]+/[^/]+/([^/]+)/", self.headers.get("Authorization", ""))
            region = m.group(1) if m else "us-east-1"
            status, out_headers, out = after(service, op, body, self.path, status, out_headers, out, region)
        if args.trace:
            print(f"{time.monotonic() - T0:8.3f}   <- {service}:{op} {status} (emulator {upstream_ms:.0f} ms)", flush=True)
        self.send_response(status)
        for k, v in out_headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(out)


def main():
    global args, upstream
    p = argparse.ArgumentParser()
    p.add_argument("--upstream", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--latency-ms", type=float, default=30)
    p.add_argument("--scale", type=float, default=1.0)
    p.add_argument("--trace", action="store_true", help="print each call with its time")
    args = p.parse_args()
    upstream = urllib.parse.urlparse(args.upstream)
    # A listen backlog of 5 (the default) drops connections when a
    # client opens dozens at once; the retried SYN costs a second.
    ThreadingHTTPServer.request_queue_size = 512
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
