"""Kinesis tumbling-window aggregation: per-key min / avg / max.

Replaces the Kinesis Data Analytics SQL application of the sensor lab (that
service was discontinued). The trigger sets `tumbling_window_seconds`; Lambda
passes the running state between invocations of one window and marks the
last one with `isFinalInvokeForWindow`, when the results are written to the
delivery stream.

Environment:
  DELIVERY_STREAM  where window results go (required)
  KEY_FIELD        the field to group by (default sensor_id)
  VALUE_FIELDS     comma-separated numeric fields (default temperature,humidity)
"""

import base64
import json
import logging
import os

import boto3

logger = logging.getLogger()
logger.setLevel(logging.INFO)

_firehose = None


def firehose():
    global _firehose
    if _firehose is None:
        _firehose = boto3.client("firehose", endpoint_url=os.environ.get("AWS_ENDPOINT_URL") or None)
    return _firehose


def fold(state, records, key_field, value_fields):
    """Adds the records to the state {key: {field: [count, sum, min, max]}}."""
    for record in records:
        try:
            item = json.loads(base64.b64decode(record["kinesis"]["data"]))
            key = str(item[key_field])
        except (KeyError, ValueError, TypeError):
            continue
        per_key = state.setdefault(key, {})
        for field in value_fields:
            value = item.get(field)
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                continue
            count, total, low, high = per_key.get(field, [0, 0.0, value, value])
            per_key[field] = [count + 1, total + value, min(low, value), max(high, value)]
    return state


def results(state, window, key_field="sensor_id"):
    """One JSON line per key, like the lab's DESTINATION_SQL_STREAM rows:
    the key under its own field name (`sensor_id`), then the window."""
    rows = []
    for key in sorted(state):
        row = {key_field: key, "window_start_time": window.get("start"), "window_end_time": window.get("end")}
        for field, (count, total, low, high) in sorted(state[key].items()):
            row[f"avg_{field}"] = total / count
            row[f"min_{field}"] = low
            row[f"max_{field}"] = high
            row[f"count_{field}"] = count
        rows.append(row)
    return rows


def handler(event, context):
    key_field = os.environ.get("KEY_FIELD", "sensor_id")
    value_fields = [f for f in os.environ.get("VALUE_FIELDS", "temperature,humidity").split(",") if f]
    state = fold(dict(event.get("state") or {}), event.get("Records", []), key_field, value_fields)
    if not event.get("isFinalInvokeForWindow"):
        return {"state": state}
    rows = results(state, event.get("window") or {}, key_field)
    for start in range(0, len(rows), 500):
        chunk = rows[start : start + 500]
        response = firehose().put_record_batch(
            DeliveryStreamName=os.environ["DELIVERY_STREAM"],
            Records=[{"Data": (json.dumps(r) + "\n").encode()} for r in chunk],
        )
        if response.get("FailedPutCount"):
            raise RuntimeError(f"{response['FailedPutCount']} window results were not delivered")
    logger.info("window %s: %d keys", event.get("window"), len(rows))
    return {"state": {}}
