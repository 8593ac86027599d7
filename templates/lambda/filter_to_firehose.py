"""Kinesis consumer: the Parquet lab's filter. Keeps the records the lab's
function keeps, forwards each one's original bytes to a Firehose delivery
stream with PutRecordBatch, and retries as the lab's function retries.

The lab's rules (its `check_data`): a record is kept when its `type` is
`trip` and none of its four coordinates equals 0 (Python's `==`: 0 and 0.0
are zero, the text "0" is not). Kept records are sent as they arrived, not
re-serialized. Where following the lab would harm, this function does the
safe thing instead (the README's lab table lists each difference):

- A record that is not JSON, or lacks `type`, a coordinate or a required
  field, is dropped and counted. The lab's function raises (KeyError), which
  fails the whole invocation again and again until the record expires from
  the stream: one bad record would block its shard for the retention period.
- A batch is cut at PutRecordBatch's limits (500 records, 4 MiB); a record
  over 1000 KiB, which Firehose refuses, is dropped and counted.
- A backoff longer than the time the invocation has left is cut to that time
  (keeping `CALL_RESERVE_MS` for the call); with no time left it raises at
  once. The lab's third wait, 85.75 s, exceeds most functions' timeout.

The lab's retry: when some entries of the call failed, only the entries whose
ErrorCode is `ServiceUnavailableException` are sent again, after waiting
`2 * seed ** n / 1000` seconds before retry n (n from 1; seed 35: 0.07 s,
2.45 s, 85.75 s), up to `number_of_retries` times. When no failed entry is
retriable ("potential non-retriable errors"), or retries run out, it raises;
when every entry of the call failed it raises at once. Raising lets Lambda
retry the batch (there may be duplicates, as the lab says).

Environment (the lab's names; the older names still work):
  delivery_stream_name      the delivery stream (required; or DELIVERY_STREAM)
  number_of_retries         retries after the first call (default 3; or
                            MAX_ATTEMPTS, which counts the first call too)
  exponential_backoff_seed  the lab's seed (default 35)
  BACKOFF_BASE_MS           instead of a seed: retry n waits
                            BACKOFF_BASE_MS * 2 ** (n - 1) milliseconds
  RECORD_TYPE               the value `type` must have (default `trip`;
                            empty: no rule on `type`)
  COORDINATE_FIELDS         comma-separated fields that must be present and
                            not zero (default the lab's four; empty: none)
  REQUIRED_FIELDS           comma-separated fields that must be present and
                            not null or empty (default none)
"""

import base64
import json
import logging
import os
import time

import boto3

logger = logging.getLogger()
logger.setLevel(logging.INFO)

MAX_RECORDS_PER_CALL = 500
MAX_BYTES_PER_CALL = 4 * 1024 * 1024
MAX_RECORD_BYTES = 1000 * 1024
# Time kept back from a cut backoff for the retry call itself.
CALL_RESERVE_MS = 2000
RETRIABLE = "ServiceUnavailableException"
COORDINATES = "pickup_longitude,pickup_latitude,dropoff_latitude,dropoff_longitude"

_firehose = None


def firehose():
    global _firehose
    if _firehose is None:
        _firehose = boto3.client("firehose", endpoint_url=os.environ.get("AWS_ENDPOINT_URL") or None)
    return _firehose


class NotDelivered(Exception):
    """Records the function could not deliver: Lambda retries the batch."""


def fields(name, default=""):
    return [f.strip() for f in os.environ.get(name, default).split(",") if f.strip()]


class Rules:
    """What a record must be to be kept, from the environment."""

    def __init__(self):
        self.record_type = os.environ.get("RECORD_TYPE", "trip")
        self.coordinates = fields("COORDINATE_FIELDS", COORDINATES)
        self.required = fields("REQUIRED_FIELDS")

    def judge(self, data):
        """None when the record is kept, else why it is dropped: `malformed`
        (not a JSON object), `incomplete` (a field the rules read is missing:
        the lab's function would raise) or `filtered` (the lab drops it)."""
        try:
            item = json.loads(data)
        except ValueError:
            return "malformed"
        if not isinstance(item, dict):
            return "malformed"
        needed = (["type"] if self.record_type else []) + self.coordinates
        if any(f not in item for f in needed) or any(item.get(f) in (None, "") for f in self.required):
            return "incomplete"
        if self.record_type and item["type"] != self.record_type:
            return "filtered"
        if any(item[f] == 0 for f in self.coordinates):
            return "filtered"
        return None


class Retry:
    """How many times, and how long before each retry."""

    def __init__(self):
        if "number_of_retries" in os.environ:
            self.retries = int(os.environ["number_of_retries"])
        elif "MAX_ATTEMPTS" in os.environ:
            self.retries = int(os.environ["MAX_ATTEMPTS"]) - 1
        else:
            self.retries = 3
        self.seed = os.environ.get("exponential_backoff_seed")
        self.base_ms = os.environ.get("BACKOFF_BASE_MS")
        if self.seed is None and self.base_ms is None:
            self.seed = "35"

    def delay(self, retry):
        """Seconds to wait before retry number `retry` (from 1)."""
        if self.seed is not None:
            return 2 * int(self.seed) ** retry / 1000
        return float(self.base_ms) * 2 ** (retry - 1) / 1000


def delivery_stream():
    name = os.environ.get("delivery_stream_name") or os.environ.get("DELIVERY_STREAM")
    if not name:
        raise KeyError("delivery_stream_name (or DELIVERY_STREAM) is not set")
    return name


def batches(blobs):
    """Split records into PutRecordBatch-sized batches."""
    batch, size = [], 0
    for blob in blobs:
        if batch and (len(batch) == MAX_RECORDS_PER_CALL or size + len(blob) > MAX_BYTES_PER_CALL):
            yield batch
            batch, size = [], 0
        batch.append(blob)
        size += len(blob)
    if batch:
        yield batch


def put(stream, blobs):
    return firehose().put_record_batch(DeliveryStreamName=stream, Records=[{"Data": b} for b in blobs])


def deliver(stream, blobs, retry, remaining_ms=None, sleep=time.sleep):
    """One batch, retried as the lab retries; raises NotDelivered when records
    are left undelivered."""
    response = put(stream, blobs)
    if response["FailedPutCount"] == 0:
        return
    if response["FailedPutCount"] == len(blobs):
        raise NotDelivered(f"all {len(blobs)} records failed; letting Lambda retry")
    pending = blobs
    for n in range(1, retry.retries + 1):
        pending = [b for b, r in zip(pending, response["RequestResponses"]) if r.get("ErrorCode") == RETRIABLE]
        if not pending:
            raise NotDelivered(f"{response['FailedPutCount']} records failed with potential non-retriable errors")
        wait = retry.delay(n)
        if remaining_ms is not None:
            left = (remaining_ms() - CALL_RESERVE_MS) / 1000
            if left <= 0:
                raise NotDelivered(f"{len(pending)} records failed and no time is left to retry")
            wait = min(wait, left)
        logger.warning("retry %d of %d: %d records in %.2f s", n, retry.retries, len(pending), wait)
        sleep(wait)
        response = put(stream, pending)
        if response["FailedPutCount"] == 0:
            return
    raise NotDelivered(f"{response['FailedPutCount']} records failed after {retry.retries} retries")


def handler(event, context):
    stream = delivery_stream()
    rules, retry = Rules(), Retry()
    remaining_ms = getattr(context, "get_remaining_time_in_millis", None)

    records = event.get("Records", [])
    blobs, dropped = [], {}
    for record in records:
        try:
            data = base64.b64decode(record["kinesis"]["data"])
        except (KeyError, ValueError, TypeError):
            data = None
        why = "malformed" if data is None else rules.judge(data)
        if why is None and len(data) > MAX_RECORD_BYTES:
            why = "oversize"
        if why is not None:
            dropped[why] = dropped.get(why, 0) + 1
            continue
        blobs.append(data)

    counts = {"received": len(records), "dropped": sum(dropped.values()), "delivered": 0, "failed": 0}
    if dropped:
        logger.info("dropped %s", json.dumps(dropped, sort_keys=True))
    try:
        for batch in batches(blobs):
            deliver(stream, batch, retry, remaining_ms)
            counts["delivered"] += len(batch)
    except NotDelivered:
        counts["failed"] = len(blobs) - counts["delivered"]
        logger.info("counts %s", json.dumps(counts))
        raise
    logger.info("counts %s", json.dumps(counts))
    return counts
