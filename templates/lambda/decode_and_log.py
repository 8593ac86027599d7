"""Kinesis consumer: decode every record of the batch and log its payload.

Trigger: a Kinesis event source mapping. Each record's data is base64; the
decoded payload is logged as pretty JSON when it parses, as text otherwise.
"""

import base64
import json
import logging

logger = logging.getLogger()
logger.setLevel(logging.INFO)


def decode(record):
    """The payload of one Kinesis event record, as a str."""
    return base64.b64decode(record["kinesis"]["data"]).decode("utf-8", errors="replace")


def handler(event, context):
    records = event.get("Records", [])
    for record in records:
        payload = decode(record)
        try:
            pretty = json.dumps(json.loads(payload), indent=4)
        except ValueError:
            pretty = payload
        logger.info("Decoded payload:\n%s", pretty)
    return {"records": len(records)}
