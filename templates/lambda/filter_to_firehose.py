"""Kinesis consumer: drop malformed or spurious records, deliver the rest to
a Firehose delivery stream with PutRecordBatch.

Environment:
  DELIVERY_STREAM   name of the delivery stream (required)
  MAX_ATTEMPTS      attempts per batch, first included (default 4)
  BACKOFF_BASE_MS   first backoff in milliseconds, doubled each retry (default 100)
  REQUIRED_FIELDS   comma-separated fields a record must have (default: none)
  RECORD_TYPE       when a record has a `type` field, the value it must have
                    (default `trip`: the taxi replay's watermark events and
                    other non-trip events are dropped; empty keeps every type)
  COORDINATE_FIELDS comma-separated fields that must not be zero when present
                    (default: the pickup and dropoff latitude and longitude,
                    as the lab drops trips without a position)

PutRecordBatch takes at most 500 records and 4 MiB per call, and each record at
most 1000 KiB; batches are cut to stay inside those limits. Only the entries
that failed are retried, with exponential backoff and jitter.
"""

import base64
import json
import logging
import os
import random
import time

import boto3

logger = logging.getLogger()
logger.setLevel(logging.INFO)

MAX_RECORDS_PER_CALL = 500
MAX_BYTES_PER_CALL = 4 * 1024 * 1024
MAX_RECORD_BYTES = 1000 * 1024

_firehose = None


def firehose():
    global _firehose
    if _firehose is None:
        _firehose = boto3.client("firehose", endpoint_url=os.environ.get("AWS_ENDPOINT_URL") or None)
    return _firehose


COORDINATES = "pickup_latitude,pickup_longitude,dropoff_latitude,dropoff_longitude"


def spurious(item, record_type, coordinates):
    """Whether a parsed record is one the lab filters out: an event of
    another type, or a trip whose position is zero."""
    if record_type and "type" in item and item["type"] != record_type:
        return True
    for field in coordinates:
        if field in item:
            try:
                if float(item[field]) == 0.0:
                    return True
            except (TypeError, ValueError):
                return True
    return False


def parse(record, required, record_type="", coordinates=()):
    """The record as a dict, or None when it is malformed or spurious."""
    try:
        data = base64.b64decode(record["kinesis"]["data"])
        item = json.loads(data)
    except (KeyError, ValueError, TypeError):
        return None
    if not isinstance(item, dict) or not item:
        return None
    if any(item.get(field) in (None, "") for field in required):
        return None
    if spurious(item, record_type, coordinates):
        return None
    return item


def batches(blobs):
    """Split encoded records into PutRecordBatch-sized batches."""
    batch, size = [], 0
    for blob in blobs:
        if batch and (len(batch) == MAX_RECORDS_PER_CALL or size + len(blob) > MAX_BYTES_PER_CALL):
            yield batch
            batch, size = [], 0
        batch.append(blob)
        size += len(blob)
    if batch:
        yield batch


def put_with_retries(stream, blobs, attempts, backoff_ms, sleep=time.sleep):
    """Send one batch; retry only the failed entries. Returns the failed count."""
    pending = blobs
    for attempt in range(attempts):
        response = firehose().put_record_batch(
            DeliveryStreamName=stream, Records=[{"Data": b} for b in pending]
        )
        if response.get("FailedPutCount", 0) == 0:
            return 0
        pending = [
            blob
            for blob, result in zip(pending, response["RequestResponses"])
            if result.get("ErrorCode")
        ]
        if attempt + 1 < attempts:
            delay = backoff_ms * (2 ** attempt) * (0.5 + random.random() / 2)
            logger.warning("%d records failed, retrying in %.0f ms", len(pending), delay)
            sleep(delay / 1000)
    return len(pending)


def handler(event, context):
    stream = os.environ["DELIVERY_STREAM"]
    attempts = int(os.environ.get("MAX_ATTEMPTS", "4"))
    backoff_ms = float(os.environ.get("BACKOFF_BASE_MS", "100"))
    required = [f for f in os.environ.get("REQUIRED_FIELDS", "").split(",") if f]
    record_type = os.environ.get("RECORD_TYPE", "trip")
    coordinates = [f for f in os.environ.get("COORDINATE_FIELDS", COORDINATES).split(",") if f]

    records = event.get("Records", [])
    blobs, dropped = [], 0
    for record in records:
        item = parse(record, required, record_type, coordinates)
        blob = None if item is None else (json.dumps(item, separators=(",", ":")) + "\n").encode()
        if blob is None or len(blob) > MAX_RECORD_BYTES:
            dropped += 1
            continue
        blobs.append(blob)

    failed = sum(put_with_retries(stream, b, attempts, backoff_ms) for b in batches(blobs))
    counts = {"received": len(records), "dropped": dropped, "delivered": len(blobs) - failed, "failed": failed}
    logger.info("counts %s", json.dumps(counts))
    if failed:
        # Let Lambda retry (and bisect, if the trigger says so) rather than lose records.
        raise RuntimeError(f"{failed} records could not be delivered to {stream}")
    return counts
