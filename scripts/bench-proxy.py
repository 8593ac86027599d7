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

AWS's control-plane rates are enforced as AWS does (`rates/aws.json`,
not scaled by `--scale`): one token bucket per service and operation,
full at the start, refilled continuously at the op's rate. A call that
finds its bucket empty is refused as that service refuses it (Kinesis
and Firehose LimitExceededException, Lambda TooManyRequestsException,
IAM, STS and CloudWatch Throttling, EC2 RequestLimitExceeded, S3
SlowDown, Logs, Glue, SSM and Secrets Manager ThrottlingException, the
tagging API ThrottledException) and is not forwarded. The bucket's
size: an op's entry is a number (a rate a second; the bucket holds
`assumed_burst_seconds.read` seconds of it for an op named Describe*,
Get*, List* or Head*, `.write` seconds otherwise, at least one call) or
`{rate, burst}`; an op not listed takes the service's `default_read`
(reads, when there is one) or `default`; ops in `unpaced`, and services
not in the table, are not limited. `--no-rates` turns this off.

GET /__stats answers the calls counted since the last reset (by service
and operation), the throttled ones, the buckets in use and the times;
GET /__stats?reset=1 also resets the counts and refills every bucket.

    bench-proxy.py --upstream http://127.0.0.1:5000 --port 5001 --latency-ms 30 --scale 0.1
    bench-proxy.py --self-test     # the bucket rule and the REST routes' operation names
"""
import argparse
import http.client
import json
import os
import queue
import re
import threading
import time
import urllib.parse
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

RATES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "rates", "aws.json")

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
throttled = Counter()
buckets = {}      # (service, op) -> Bucket, made on the op's first call
rates = None      # rates/aws.json, None with --no-rates
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


READS = ("Describe", "Get", "List", "Head")


def is_read(op):
    return op.startswith(READS)


def bucket_of(table, service, op):
    """(rate a second, bucket size) AWS holds `op` of `service` to, by
    the table's rule, or None when it is not limited (an op in
    `unpaced`, a service not in the table). pipectl's pacer reads the
    table by the same rule."""
    svc = table["services"].get(service)
    if svc is None or op in svc.get("unpaced", ()):
        return None
    read = is_read(op)
    entry = svc.get("ops", {}).get(op)
    if entry is None:
        entry = svc["default_read"] if read and "default_read" in svc else svc["default"]
    if isinstance(entry, dict):
        return float(entry["rate"]), float(entry["burst"])
    seconds = table["assumed_burst_seconds"]["read" if read else "write"]
    return float(entry), float(max(1.0, entry * seconds))


class Bucket:
    """A token bucket: starts full, refills continuously at `rate`; a
    call takes one token or is refused."""

    def __init__(self, rate, size, now):
        self.rate, self.size, self.tokens, self.at = rate, size, size, now

    def take(self, now):
        self.tokens = min(self.size, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


def admitted(service, op):
    """Takes a token from the op's bucket; False when it is empty."""
    if rates is None:
        return True
    with lock:
        if (service, op) not in buckets:
            limit = bucket_of(rates, service, op)
            buckets[(service, op)] = Bucket(*limit, time.monotonic()) if limit else None
        b = buckets[(service, op)]
        if b is None:
            return True
        if b.take(time.monotonic()):
            return True
        throttled[f"{service}:{op}"] += 1
        return False


def throttle_answer(service, op, json_protocol):
    """What AWS answers a call over its rate, in the service's protocol
    and with a code both pipectl (`aws::THROTTLED` and `TRANSIENT`) and
    the SDK's retry classifier take for throttling."""
    message = f"Rate exceeded for {op}"
    if service == "s3":
        body = (f"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SlowDown</Code>"
                f"<Message>Please reduce your request rate.</Message><RequestId>bench</RequestId></Error>").encode()
        return 503, {"Content-Type": "application/xml"}, body
    if service == "lambda":
        body = json.dumps({"Type": "User", "message": "Rate exceeded", "Reason": "CallerRateLimitExceeded"}).encode()
        return 429, {"Content-Type": "application/json", "x-amzn-ErrorType": "TooManyRequestsException"}, body
    if service == "ec2":
        return error(503, "RequestLimitExceeded", "Request limit exceeded.", json_protocol=False)
    code = {"kinesis": "LimitExceededException", "firehose": "LimitExceededException",
            "tagging": "ThrottledException", "iam": "Throttling", "sts": "Throttling",
            "monitoring": "Throttling"}.get(service, "ThrottlingException")
    if json_protocol:
        return error(400, code, message)
    body = (f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>"
            f"<RequestId>bench</RequestId></ErrorResponse>").encode()
    return 400, {"Content-Type": "text/xml"}, body


LAMBDA_ROUTES = [  # (method, route after the API date, operation); {} is one path segment
    ("POST", "functions", "CreateFunction"),
    ("GET", "functions", "ListFunctions"),
    ("GET", "functions/{}", "GetFunction"),
    ("DELETE", "functions/{}", "DeleteFunction"),
    ("GET", "functions/{}/configuration", "GetFunctionConfiguration"),
    ("PUT", "functions/{}/configuration", "UpdateFunctionConfiguration"),
    ("PUT", "functions/{}/code", "UpdateFunctionCode"),
    ("POST", "functions/{}/versions", "PublishVersion"),
    ("GET", "functions/{}/versions", "ListVersionsByFunction"),
    ("POST", "functions/{}/aliases", "CreateAlias"),
    ("GET", "functions/{}/aliases", "ListAliases"),
    ("GET", "functions/{}/aliases/{}", "GetAlias"),
    ("PUT", "functions/{}/aliases/{}", "UpdateAlias"),
    ("DELETE", "functions/{}/aliases/{}", "DeleteAlias"),
    ("POST", "functions/{}/policy", "AddPermission"),
    ("GET", "functions/{}/policy", "GetPolicy"),
    ("DELETE", "functions/{}/policy/{}", "RemovePermission"),
    ("PUT", "functions/{}/concurrency", "PutFunctionConcurrency"),
    ("GET", "functions/{}/concurrency", "GetFunctionConcurrency"),
    ("DELETE", "functions/{}/concurrency", "DeleteFunctionConcurrency"),
    ("POST", "functions/{}/invocations", "Invoke"),
    ("PUT", "functions/{}/event-invoke-config", "PutFunctionEventInvokeConfig"),
    ("GET", "functions/{}/event-invoke-config", "GetFunctionEventInvokeConfig"),
    ("DELETE", "functions/{}/event-invoke-config", "DeleteFunctionEventInvokeConfig"),
    ("POST", "event-source-mappings", "CreateEventSourceMapping"),
    ("GET", "event-source-mappings", "ListEventSourceMappings"),
    ("GET", "event-source-mappings/{}", "GetEventSourceMapping"),
    ("PUT", "event-source-mappings/{}", "UpdateEventSourceMapping"),
    ("DELETE", "event-source-mappings/{}", "DeleteEventSourceMapping"),
    ("POST", "tags/{}", "TagResource"),
    ("GET", "tags/{}", "ListTags"),
    ("DELETE", "tags/{}", "UntagResource"),
    ("GET", "account-settings", "GetAccountSettings"),
]
LAMBDA_WORDS = {"functions", "configuration", "code", "versions", "aliases", "policy", "concurrency",
                "invocations", "event-invoke-config", "event-source-mappings", "tags", "account-settings"}


def lambda_operation(method, path):
    """A Lambda REST call's operation, by its method and route
    (`/2015-03-31/functions/{name}/configuration`)."""
    segments = [urllib.parse.unquote(s) for s in urllib.parse.urlparse(path).path.split("/")[2:] if s]
    # Only the route's own words; a name or ARN is a parameter, whatever it spells.
    route = "/".join(s if s in LAMBDA_WORDS and (i == 0 or i % 2 == 0) else "{}" for i, s in enumerate(segments))
    for m, r, op in LAMBDA_ROUTES:
        if m == method and r == route:
            return op
    return f"{method} {route}"


S3_SUBRESOURCES = {  # query key -> the bucket operation's name after Put/Get/Delete
    "tagging": "BucketTagging", "policy": "BucketPolicy", "encryption": "BucketEncryption",
    "versioning": "BucketVersioning", "lifecycle": "BucketLifecycleConfiguration",
    "notification": "BucketNotificationConfiguration", "publicAccessBlock": "PublicAccessBlock",
    "ownershipControls": "BucketOwnershipControls", "acl": "BucketAcl", "cors": "BucketCors",
    "website": "BucketWebsite", "logging": "BucketLogging", "replication": "BucketReplication",
    "accelerate": "BucketAccelerateConfiguration", "requestPayment": "BucketRequestPayment",
    "object-lock": "ObjectLockConfiguration", "policyStatus": "BucketPolicyStatus",
    "location": "BucketLocation",
}
S3_DELETES = {"lifecycle": "DeleteBucketLifecycle"}  # named unlike its Put and Get


def s3_operation(method, path, headers=None):
    """An S3 REST call's operation, by its method, path-style path and
    query keys (`PUT /bucket?tagging` is PutBucketTagging)."""
    url = urllib.parse.urlparse(path)
    query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
    if "x-id" in query:
        return query["x-id"][0]
    parts = url.path.lstrip("/").split("/", 1)
    bucket, key = parts[0], (parts[1] if len(parts) > 1 else "")
    verb = {"PUT": "Put", "GET": "Get", "DELETE": "Delete", "HEAD": "Head"}.get(method, method)
    if not bucket:
        return "ListBuckets"
    if key:
        if "tagging" in query:
            return f"{verb}ObjectTagging"
        if "uploads" in query:
            return "CreateMultipartUpload" if method == "POST" else "ListMultipartUploads"
        if "uploadId" in query:
            return {"PUT": "UploadPart", "POST": "CompleteMultipartUpload", "DELETE": "AbortMultipartUpload",
                    "GET": "ListParts"}.get(method, "?")
        if method == "PUT" and "x-amz-copy-source" in {k.lower() for k in (headers or {})}:
            return "CopyObject"
        return f"{verb}Object"
    for sub, name in S3_SUBRESOURCES.items():
        if sub in query:
            if method == "DELETE" and sub in S3_DELETES:
                return S3_DELETES[sub]
            return f"{verb}{name}"
    if method == "POST" and "delete" in query:
        return "DeleteObjects"
    if method == "GET":
        if "versions" in query:
            return "ListObjectVersions"
        if "uploads" in query:
            return "ListMultipartUploads"
        return "ListObjectsV2" if query.get("list-type") == ["2"] else "ListObjects"
    return {"PUT": "CreateBucket", "HEAD": "HeadBucket", "DELETE": "DeleteBucket"}.get(method, f"{method} bucket")


def operation(headers, path, body, method=""):
    """(service, operation) of a call: the service from its signature,
    the operation from its target header (JSON), its Action (query), or
    its method and route (Lambda's and S3's REST calls)."""
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
    if service == "lambda":
        return service, lambda_operation(method, path)
    if service == "s3":
        return service, s3_operation(method, path, headers)
    return service, f"{method} {urllib.parse.urlparse(path).path}"


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
    if service == "lambda" and op in ("CreateFunction", "UpdateFunctionConfiguration") and body:
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
            # `op` is the operation's name (PutFunctionConcurrency), not
            # the HTTP method.
            if m.group(2) and op == "PutFunctionConcurrency":
                reserved[name] = json.loads(req_body or b"{}").get("ReservedConcurrentExecutions", 0)
            elif op in ("DeleteFunctionConcurrency", "DeleteFunction"):
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
    if op not in ("CreateEventSourceMapping", "DeleteEventSourceMapping", "GetEventSourceMapping",
                  "ListEventSourceMappings"):
        return body, status, headers
    ok = 200 <= status < 300
    try:
        doc = json.loads(body) if body else None
    except ValueError:
        doc = None
    if op == "CreateEventSourceMapping" and ok and doc:
        started("trigger", doc.get("UUID"))
    if op == "DeleteEventSourceMapping" and ok and doc:
        started("trigger_delete", doc.get("UUID"))
        with lock:
            last_body[("trigger", doc.get("UUID"))] = body
    def shown(m):
        uuid = m.get("UUID")
        if within("trigger", uuid, "trigger"):
            m["State"] = "Creating"
        return m
    if op.startswith(("Get", "List")) and doc is not None:
        if ok and "EventSourceMappings" in doc:
            doc["EventSourceMappings"] = [shown(m) for m in doc["EventSourceMappings"]]
            body = json.dumps(doc).encode()
        elif ok and "UUID" in doc:
            body = json.dumps(shown(doc)).encode()
    if op == "GetEventSourceMapping" and status == 404:
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
                       "latency_ms": args.latency_ms, "throttled": dict(throttled),
                       "throttled_total": sum(throttled.values()), "rates": rates is not None,
                       "buckets": {f"{s}:{o}": {"rate": b.rate, "burst": b.size}
                                   for (s, o), b in sorted(buckets.items()) if b is not None}}
                if "reset=1" in self.path:
                    calls.clear()
                    throttled.clear()
                    # Each measured command starts with AWS's buckets full.
                    buckets.clear()
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
        service, op = operation(headers, self.path, body, self.command)
        with lock:
            calls[f"{service}:{op}"] += 1
        # AWS counts a call against its rate when it arrives.
        allowed = admitted(service, op)
        if args.trace:
            print(f"{time.monotonic() - T0:8.3f} {service}:{op}{'' if allowed else ' throttled'}", flush=True)
        time.sleep(args.latency_ms / 1000.0)
        if not allowed:
            refused = throttle_answer(service, op, any(k.lower() == "x-amz-target" for k in headers))
        else:
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


def self_test():
    """Checks the bucket rule on a small table and on rates/aws.json, the
    Lambda and S3 routes' operation names and the throttling answers."""
    table = {"assumed_burst_seconds": {"read": 10, "write": 1}, "services": {
        "k": {"default": 5, "ops": {"DescribeStream": 10, "ListShards": 0.05}, "unpaced": ["PutRecord"]},
        "i": {"default": 10, "default_read": 20, "ops": {}},
        "e": {"default": {"rate": 5, "burst": 200}, "default_read": {"rate": 20, "burst": 100},
              "ops": {"RunInstances": {"rate": 2, "burst": 1000}}}}}
    cases = [
        (("k", "CreateStream"), (5, 5)),          # a write: one second of its rate
        (("k", "DescribeStream"), (10, 100)),     # a read: ten seconds of it
        (("k", "ListShards"), (0.05, 1)),         # at least one call
        (("k", "PutRecord"), None),               # unpaced
        (("x", "Anything"), None),                # not in the table
        (("i", "GetRole"), (20, 200)),            # default_read for a read
        (("i", "HeadSomething"), (20, 200)),
        (("i", "CreateRole"), (10, 10)),          # default for a write
        (("e", "RunInstances"), (2, 1000)),       # a published bucket
        (("e", "DescribeInstances"), (20, 100)),
        (("e", "CreateTags"), (5, 200)),
    ]
    for (svc, op), want in cases:
        got = bucket_of(table, svc, op)
        assert got == (tuple(map(float, want)) if want else None), (svc, op, got, want)
    real = json.load(open(RATES))
    assert bucket_of(real, "kinesis", "CreateStream") == (5.0, 5.0)
    assert bucket_of(real, "lambda", "GetFunction") == (100.0, 1000.0)
    assert bucket_of(real, "logs", "DeleteLogGroup") == (10.0, 10.0)
    assert bucket_of(real, "monitoring", "DeleteAlarms") == (3.0, 3.0)
    assert bucket_of(real, "s3", "PutObject") is None
    b = Bucket(2.0, 3.0, 0.0)
    assert [b.take(0.0) for _ in range(4)] == [True, True, True, False]
    assert b.take(0.5) and not b.take(0.5) and b.take(1.0)
    lam = [
        ("POST", "/2015-03-31/functions", "CreateFunction"),
        ("GET", "/2015-03-31/functions/", "ListFunctions"),
        ("GET", "/2015-03-31/functions/fn", "GetFunction"),
        ("GET", "/2015-03-31/functions/code", "GetFunction"),
        ("GET", "/2015-03-31/functions/fn/configuration", "GetFunctionConfiguration"),
        ("PUT", "/2015-03-31/functions/fn/configuration", "UpdateFunctionConfiguration"),
        ("PUT", "/2015-03-31/functions/fn/code", "UpdateFunctionCode"),
        ("DELETE", "/2015-03-31/functions/fn", "DeleteFunction"),
        ("POST", "/2015-03-31/functions/fn/policy", "AddPermission"),
        ("GET", "/2015-03-31/functions/fn/policy", "GetPolicy"),
        ("DELETE", "/2015-03-31/functions/fn/policy/sid-1", "RemovePermission"),
        ("PUT", "/2017-10-31/functions/fn/concurrency", "PutFunctionConcurrency"),
        ("GET", "/2019-09-30/functions/fn/concurrency", "GetFunctionConcurrency"),
        ("POST", "/2015-03-31/event-source-mappings/", "CreateEventSourceMapping"),
        ("GET", "/2015-03-31/event-source-mappings/?FunctionName=fn", "ListEventSourceMappings"),
        ("GET", "/2015-03-31/event-source-mappings/1b2c", "GetEventSourceMapping"),
        ("PUT", "/2015-03-31/event-source-mappings/1b2c", "UpdateEventSourceMapping"),
        ("DELETE", "/2015-03-31/event-source-mappings/1b2c", "DeleteEventSourceMapping"),
        ("POST", "/2017-03-31/tags/arn%3Aaws%3Alambda%3Aus-east-1%3A1%3Afunction%3Afn", "TagResource"),
        ("GET", "/2017-03-31/tags/arn%3Aaws%3Alambda%3Aus-east-1%3A1%3Afunction%3Afn", "ListTags"),
        ("DELETE", "/2017-03-31/tags/arn:aws:lambda:us-east-1:1:function:fn?tagKeys=a", "UntagResource"),
    ]
    for method, path, want in lam:
        assert lambda_operation(method, path) == want, (method, path, lambda_operation(method, path))
    s3 = [
        ("PUT", "/b", "CreateBucket"), ("HEAD", "/b", "HeadBucket"), ("DELETE", "/b", "DeleteBucket"),
        ("GET", "/", "ListBuckets"), ("GET", "/?x-id=ListBuckets", "ListBuckets"),
        ("PUT", "/b?tagging", "PutBucketTagging"), ("GET", "/b?tagging", "GetBucketTagging"),
        ("DELETE", "/b?tagging", "DeleteBucketTagging"),
        ("PUT", "/b?encryption", "PutBucketEncryption"), ("GET", "/b?encryption", "GetBucketEncryption"),
        ("PUT", "/b?policy", "PutBucketPolicy"), ("DELETE", "/b?policy", "DeleteBucketPolicy"),
        ("PUT", "/b?versioning", "PutBucketVersioning"),
        ("PUT", "/b?lifecycle", "PutBucketLifecycleConfiguration"), ("DELETE", "/b?lifecycle", "DeleteBucketLifecycle"),
        ("PUT", "/b?notification", "PutBucketNotificationConfiguration"),
        ("PUT", "/b?publicAccessBlock", "PutPublicAccessBlock"), ("GET", "/b?publicAccessBlock", "GetPublicAccessBlock"),
        ("DELETE", "/b?publicAccessBlock", "DeletePublicAccessBlock"),
        ("PUT", "/b?ownershipControls", "PutBucketOwnershipControls"),
        ("GET", "/b?location", "GetBucketLocation"),
        ("GET", "/b?list-type=2&prefix=x", "ListObjectsV2"), ("GET", "/b?versions", "ListObjectVersions"),
        ("POST", "/b?delete", "DeleteObjects"), ("PUT", "/b/k?x-id=PutObject", "PutObject"),
        ("GET", "/b/k/l?x-id=GetObject", "GetObject"), ("HEAD", "/b/k", "HeadObject"),
        ("DELETE", "/b/k?x-id=DeleteObject", "DeleteObject"), ("PUT", "/b/k?tagging", "PutObjectTagging"),
    ]
    for method, path, want in s3:
        assert s3_operation(method, path) == want, (method, path, s3_operation(method, path))
    auth = {"Authorization": "AWS4-HMAC-SHA256 Credential=AK/20261207/us-east-1/lambda/aws4_request, ..."}
    assert operation(auth, "/2015-03-31/functions", b"{}", "POST") == ("lambda", "CreateFunction")
    want = {"kinesis": (400, "LimitExceededException"), "firehose": (400, "LimitExceededException"),
            "lambda": (429, "TooManyRequestsException"), "logs": (400, "ThrottlingException"),
            "glue": (400, "ThrottlingException"), "ssm": (400, "ThrottlingException"),
            "secretsmanager": (400, "ThrottlingException"), "tagging": (400, "ThrottledException"),
            "iam": (400, "<Code>Throttling</Code>"), "sts": (400, "<Code>Throttling</Code>"),
            "monitoring": (400, "<Code>Throttling</Code>"), "ec2": (503, "<Code>RequestLimitExceeded</Code>"),
            "s3": (503, "<Code>SlowDown</Code>")}
    query = {"iam", "sts", "monitoring", "ec2"}
    for svc, (status, code) in want.items():
        got, headers, body = throttle_answer(svc, "Op", svc not in query | {"s3", "lambda"})
        assert got == status and (code.encode() in body or code in headers.values()), (svc, got, body)
    # CloudWatch over JSON (newer SDKs) is answered in JSON.
    assert b'"__type": "Throttling"' in throttle_answer("monitoring", "PutMetricAlarm", True)[2]
    # A reservation made through the proxy counts in GetAccountSettings.
    reserved.clear()
    lambda_concurrency("PutFunctionConcurrency", "/2017-10-31/functions/f1/concurrency",
                       b'{"ReservedConcurrentExecutions": 7}', 200, {}, b"")
    _, _, answer = lambda_concurrency("GetAccountSettings", "/2016-08-19/account-settings/", b"", 200, {}, b"")
    assert json.loads(answer)["AccountLimit"]["UnreservedConcurrentExecutions"] == LAMBDA_LIMIT - 7, answer
    lambda_concurrency("DeleteFunctionConcurrency", "/2017-10-31/functions/f1/concurrency", b"", 204, {}, b"")
    assert not reserved, reserved
    print("bench-proxy self-test: ok")


def main():
    global args, upstream, rates
    p = argparse.ArgumentParser()
    p.add_argument("--upstream")
    p.add_argument("--port", type=int)
    p.add_argument("--latency-ms", type=float, default=30)
    p.add_argument("--scale", type=float, default=1.0, help="AWS's provisioning times (not its rates) x this")
    p.add_argument("--rates", default=RATES, help="the table of AWS's rates (default: rates/aws.json)")
    p.add_argument("--no-rates", action="store_true", help="throttle nothing")
    p.add_argument("--trace", action="store_true", help="print each call with its time")
    p.add_argument("--self-test", action="store_true", help="check the bucket rule and the routes, and exit")
    args = p.parse_args()
    if args.self_test:
        self_test()
        return
    if not args.upstream or not args.port:
        p.error("--upstream and --port are required")
    rates = None if args.no_rates else json.load(open(args.rates))
    upstream = urllib.parse.urlparse(args.upstream)
    # A listen backlog of 5 (the default) drops connections when a
    # client opens dozens at once; the retried SYN costs a second.
    ThreadingHTTPServer.request_queue_size = 512
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
