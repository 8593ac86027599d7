"""The Lambda handlers of templates/lambda/, run for real against the
emulator: records in, objects (through Firehose into S3) or logs out."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import TEMPLATES, kinesis_event


def test_decode_and_log_logs_every_payload(handlers, caplog):
    caplog.set_level("INFO")
    event = kinesis_event([json.dumps({"VendorID": "1", "total_amount": "7.5"}), "not json"])
    assert handlers["decode_and_log"].handler(event, None) == {"records": 2}
    text = caplog.text
    assert "Decoded payload:" in text
    assert '"VendorID": "1"' in text
    assert "not json" in text


def test_filter_drops_bad_records_and_delivers_the_rest(handlers, delivery, monkeypatch):
    stream, delivered = delivery
    monkeypatch.setenv("DELIVERY_STREAM", stream)
    monkeypatch.setenv("REQUIRED_FIELDS", "trip_id,total_amount")
    good = [{"trip_id": i, "total_amount": 10.5 + i} for i in range(3)]
    event = kinesis_event(
        [json.dumps(g) for g in good]
        + ["{broken", json.dumps({"trip_id": 9}), json.dumps([1, 2]), json.dumps({}), b"\xff\xfe"]
    )
    counts = handlers["filter_to_firehose"].handler(event, None)
    assert counts == {"received": 8, "dropped": 5, "delivered": 3, "failed": 0}
    assert sorted(delivered(), key=lambda r: r["trip_id"]) == good


def test_filter_keeps_only_trips_with_a_position_as_the_lab_does(handlers, delivery, monkeypatch):
    stream, delivered = delivery
    monkeypatch.setenv("DELIVERY_STREAM", stream)
    trip = {"type": "trip", "trip_id": 1, "pickup_latitude": 40.7, "pickup_longitude": -73.9,
            "dropoff_latitude": 40.8, "dropoff_longitude": -73.95, "total_amount": 12.0}
    no_position = dict(trip, trip_id=2, pickup_latitude=0.0, pickup_longitude=0)
    text_zero = dict(trip, trip_id=3, dropoff_longitude="0")
    watermark = {"type": "watermark", "watermark": "2026-11-29 10:00:00"}
    untyped = {"trip_id": 4, "total_amount": 3.0}
    event = kinesis_event([json.dumps(r) for r in (trip, no_position, text_zero, watermark, untyped)])
    counts = handlers["filter_to_firehose"].handler(event, None)
    assert counts == {"received": 5, "dropped": 3, "delivered": 2, "failed": 0}
    assert sorted(r["trip_id"] for r in delivered()) == [1, 4]
    # RECORD_TYPE empty keeps every type.
    monkeypatch.setenv("RECORD_TYPE", "")
    monkeypatch.setenv("COORDINATE_FIELDS", "")
    counts = handlers["filter_to_firehose"].handler(kinesis_event([json.dumps(watermark)]), None)
    assert counts["delivered"] == 1


def test_filter_sends_large_batches_within_the_api_limits(handlers, delivery, monkeypatch):
    stream, delivered = delivery
    monkeypatch.setenv("DELIVERY_STREAM", stream)
    event = kinesis_event([json.dumps({"n": i}) for i in range(1234)])
    counts = handlers["filter_to_firehose"].handler(event, None)
    assert counts["delivered"] == 1234
    assert sorted(r["n"] for r in delivered()) == list(range(1234))


def test_batches_respect_count_and_size_limits(handlers):
    mod = handlers["filter_to_firehose"]
    sizes = [len(b) for b in mod.batches([b"x" * 10] * 1001)]
    assert sizes == [500, 500, 1]
    big = [b"y" * (900 * 1024)] * 10
    batches = list(mod.batches(big))
    assert all(sum(len(r) for r in b) <= mod.MAX_BYTES_PER_CALL for b in batches)
    assert sum(len(b) for b in batches) == 10


def test_window_aggregate_keeps_state_until_the_window_closes(handlers, delivery, monkeypatch):
    stream, delivered = delivery
    monkeypatch.setenv("DELIVERY_STREAM", stream)
    mod = handlers["window_aggregate"]
    first = kinesis_event([json.dumps({"sensor_id": "s1", "temperature": 10.0, "humidity": 50}),
                           json.dumps({"sensor_id": "s2", "temperature": 30.0, "humidity": 70})])
    out = mod.handler(first, None)
    assert set(out["state"]) == {"s1", "s2"}
    assert delivered() == []
    last = kinesis_event([json.dumps({"sensor_id": "s1", "temperature": 20.0, "humidity": 60}), "junk"])
    last.update({"state": out["state"], "isFinalInvokeForWindow": True,
                 "window": {"start": "2026-11-22T00:00:00Z", "end": "2026-11-22T00:01:00Z"}})
    assert mod.handler(last, None) == {"state": {}}
    rows = {r["sensor_id"]: r for r in delivered()}
    assert all("key" not in r for r in rows.values()), "the lab names the column sensor_id"
    assert rows["s1"]["avg_temperature"] == 15.0
    assert (rows["s1"]["min_temperature"], rows["s1"]["max_temperature"]) == (10.0, 20.0)
    assert rows["s1"]["count_temperature"] == 2
    assert rows["s2"]["avg_humidity"] == 70
    assert rows["s1"]["window_end_time"] == "2026-11-22T00:01:00Z"


def test_node_consumer_decodes_and_summarizes(tmp_path):
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: the Node.js consumer was NOT tested")
    event = kinesis_event([json.dumps({"a": 1}), "plain"])
    script = tmp_path / "run.mjs"
    script.write_text(
        f"import {{ handler }} from {json.dumps(str(TEMPLATES / 'stream_consumer_node' / 'index.mjs'))};\n"
        f"const out = await handler({json.dumps(event)});\n"
        "process.stdout.write('SUMMARY ' + JSON.stringify(out) + '\\n');\n"
    )
    run = subprocess.run([node, str(script)], capture_output=True, text=True, check=True)
    summary = json.loads(run.stdout.split("SUMMARY ", 1)[1])
    assert summary == {"records": 2, "bytes": len('{"a": 1}') + len("plain"), "malformed": 1}
    assert '"payload":{"a":1}' in run.stdout
