"""Kinesis consumer: drop malformed or spurious records, deliver the rest to
a Firehose delivery stream with PutRecordBatch.

Environment:
  DELIVERY_STREAM   name of the delivery stream (required)
  MAX_ATTEMPTS      attempts per batch, first included (default 4)
  BACKOFF_BASE_MS   first backoff in milliseconds, doubled each retry (default 100)
  REQUIRED_FIELDS   comma-separated fields a record must have (default: none)

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


def parse(record, required):
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

    records = event.get("Records", [])
    blobs, dropped = [], 0
    for record in records:
        item = parse(record, required)
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
