#!/usr/bin/env python3
"""Records what moto answers to verify's reads, for the decision's unit
tests (src/verify/decide/tests.rs): one JSON file per scenario in
tests/fixtures/verify/, holding the raw ListObjectsV2 answer (XML), the raw
GetObject body of each key listed (base64), the raw FilterLogEvents answer
(JSON), and the canary ids the scenario is about.

  scripts/record-verify-answers.py [MOTO_SERVER]

MOTO_SERVER defaults to $PIPECTL_MOTO_SERVER, else `moto_server`. The
scenarios are made with boto3 (in moto's own environment); the answers are
read with plain HTTP (GetObject, which must be signed, with boto3, its body
unparsed) so they are recorded byte for byte as moto sent them.
"""

import base64
import json
import os
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request

import boto3

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "verify")
BUCKET = "recorded-lake"
PREFIX = "nyctaxitrips/year="
GROUP = "/aws/lambda/recorded-logger"

KEEP = "pipectl-canary-00000000keep"
DROP = "pipectl-canary-00000000drop"
DIRECT = "pipectl-canary-000000direct"
SENSOR = "pipectl-canary-000000sensor"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(binary):
    port = free_port()
    proc = subprocess.Popen([binary, "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            return proc, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.05)
    proc.kill()
    sys.exit(f"{binary} did not start")


def canary(cid, **fields):
    return json.dumps({"pipectl_canary": cid, **fields}) + "\n"


def trip(n):
    return json.dumps({"trip_id": n, "type": "trip", "total_amount": 9.5}) + "\n"


def record(url, s3, name, sent_at, canaries, prefix=PREFIX, group=None):
    raw = urllib.request.urlopen(f"{url}/{BUCKET}?list-type=2&prefix={urllib.parse.quote(prefix)}").read()
    keys = [k.split("</Key>")[0] for k in raw.decode().split("<Key>")[1:]]
    # GetObject needs a signed request: its body as boto3 returns it, unparsed.
    bodies = {k: base64.b64encode(s3.get_object(Bucket=BUCKET, Key=k)["Body"].read()).decode() for k in keys}
    doc = {"scenario": name, "sent_at": sent_at, "canaries": canaries, "bucket": BUCKET, "prefix": prefix,
           "list_objects_v2": raw.decode(), "get_object": bodies}
    if group:
        body = json.dumps({"logGroupName": group, "filterPattern": f'"{canaries["keep"]}"'}).encode()
        req = urllib.request.Request(url + "/", data=body, headers={
            "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "Logs_20140328.FilterLogEvents",
            "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20240101/us-east-1/logs/aws4_request"})
        doc["filter_log_events"] = urllib.request.urlopen(req).read().decode()
    with open(os.path.join(OUT, f"{name}.json"), "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("PIPECTL_MOTO_SERVER", "moto_server")
    os.makedirs(OUT, exist_ok=True)
    for name in os.listdir(OUT):
        if name.endswith(".json"):
            os.remove(os.path.join(OUT, name))
    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1")
    proc, url = start(binary)
    try:
        s3 = boto3.client("s3", endpoint_url=url)
        firehose = boto3.client("firehose", endpoint_url=url)
        logs = boto3.client("logs", endpoint_url=url)

        def fresh(prefix=PREFIX + "!{timestamp:yyyy}/"):
            for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", []):
                s3.delete_object(Bucket=BUCKET, Key=o["Key"])
            for n in firehose.list_delivery_streams()["DeliveryStreamNames"]:
                firehose.delete_delivery_stream(DeliveryStreamName=n)
            firehose.create_delivery_stream(
                DeliveryStreamName="recorded", DeliveryStreamType="DirectPut",
                ExtendedS3DestinationConfiguration={
                    "BucketARN": f"arn:aws:s3:::{BUCKET}", "Prefix": prefix,
                    "RoleARN": "arn:aws:iam::123456789012:role/recorded"})

        def put(*lines):
            firehose.put_record_batch(DeliveryStreamName="recorded", Records=[{"Data": l.encode()} for l in lines])

        s3.create_bucket(Bucket=BUCKET)
        sent_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())

        # The function delivered nothing: only the user's trips arrived.
        fresh()
        put(trip(1), trip(2))
        record(url, s3, "function_delivered_nothing", sent_at, {"keep": KEEP, "drop": DROP})

        # Only the Direct-PUT canary arrived, under the same prefix.
        fresh()
        put(trip(3), canary(DIRECT, trip_id=-1))
        record(url, s3, "only_the_direct_canary", sent_at, {"keep": KEEP, "drop": DROP, "direct": DIRECT})

        # A broken filter passed both: the drop canary came out too.
        fresh()
        put(canary(DROP, type="trip", pickup_latitude=0.0), canary(KEEP, type="trip", pickup_latitude=1.5))
        record(url, s3, "drop_canary_passed", sent_at, {"keep": KEEP, "drop": DROP})

        # The filter kept one and dropped the other.
        fresh()
        put(trip(4), canary(KEEP, type="trip", pickup_latitude=1.5))
        record(url, s3, "filter_kept_and_dropped", sent_at, {"keep": KEEP, "drop": DROP})

        # The aggregator's row for the canary's key, as window_aggregate.py writes it.
        fresh("processed-stream/year=!{timestamp:yyyy}/")
        row = {"sensor_id": SENSOR, "window_start_time": "2024-01-01T00:00:00Z",
               "window_end_time": "2024-01-01T00:01:00Z", "avg_temperature": 21.5, "count_temperature": 1}
        put(json.dumps({"sensor_id": "sensor-7", "avg_temperature": 19.0}) + "\n", json.dumps(row) + "\n")
        record(url, s3, "aggregate_row", sent_at, {"keep": SENSOR}, prefix="processed-stream/year=")

        # The canary is only in an object whose content is not read (Parquet).
        fresh()
        s3.put_object(Bucket=BUCKET, Key=PREFIX + "2024/part-0.parquet",
                      Body=b"PAR1" + KEEP.encode() + b"\x00\x00\x00\x00PAR1")
        put(trip(5))
        record(url, s3, "canary_only_in_unread_object", sent_at, {"keep": KEEP, "drop": DROP})

        # A function's log group: the handler logged the canary.
        logs.create_log_group(logGroupName=GROUP)
        logs.create_log_stream(logGroupName=GROUP, logStreamName="2024/01/01/[$LATEST]abc")
        now = int(time.time() * 1000)
        logs.put_log_events(logGroupName=GROUP, logStreamName="2024/01/01/[$LATEST]abc", logEvents=[
            {"timestamp": now, "message": "START RequestId: 1"},
            {"timestamp": now + 1, "message": "payload " + canary(KEEP).strip()}])
        record(url, s3, "logged", sent_at, {"keep": KEEP}, group=GROUP)
        record(url, s3, "not_logged", sent_at, {"keep": DIRECT}, group=GROUP)
    finally:
        proc.terminate()
        proc.wait()


if __name__ == "__main__":
    main()
