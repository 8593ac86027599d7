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


TRIP = {"type": "trip", "trip_id": 1, "pickup_latitude": 40.7, "pickup_longitude": -73.9,
        "dropoff_latitude": 40.8, "dropoff_longitude": -73.95, "total_amount": 12.0}
COORDINATES = ("pickup_longitude", "pickup_latitude", "dropoff_latitude", "dropoff_longitude")


def lab_env(monkeypatch, stream):
    """The Parquet lab's environment, by the lab's names."""
    monkeypatch.setenv("delivery_stream_name", stream)
    monkeypatch.setenv("exponential_backoff_seed", "35")
    monkeypatch.setenv("number_of_retries", "3")


def test_filter_drops_bad_records_and_delivers_the_rest(handlers, delivery, monkeypatch):
    stream, delivered = delivery
    monkeypatch.setenv("DELIVERY_STREAM", stream)
    monkeypatch.setenv("REQUIRED_FIELDS", "trip_id,total_amount")
    good = [dict(TRIP, trip_id=i, total_amount=10.5 + i) for i in range(3)]
    bad = ["{broken", json.dumps(dict(TRIP, trip_id=9, total_amount="")), json.dumps([1, 2]), json.dumps({}), b"\xff\xfe"]
    event = kinesis_event([json.dumps(g) + "\n" for g in good] + bad)
    counts = handlers["filter_to_firehose"].handler(event, None)
    assert counts == {"received": 8, "dropped": 5, "delivered": 3, "failed": 0}
    assert sorted(delivered(), key=lambda r: r["trip_id"]) == good


def test_filter_follows_the_labs_rules_type_and_four_coordinates(handlers, delivery, monkeypatch):
    stream, delivered = delivery
    lab_env(monkeypatch, stream)
    kept = [TRIP, dict(TRIP, trip_id=2, pickup_latitude="0")]  # the text "0" is not 0 to the lab
    dropped = [
        {"type": "watermark", "watermark": "2026-11-29 10:00:00"},  # another type
        {k: v for k, v in TRIP.items() if k != "type"},  # no type: the lab raises, we drop
        dict(TRIP, type="Trip"),
    ]
    for c in COORDINATES:
        dropped.append(dict(TRIP, **{c: 0}))
        dropped.append(dict(TRIP, **{c: 0.0}))
        dropped.append({k: v for k, v in TRIP.items() if k != c})  # missing: the lab raises, we drop
    event = kinesis_event([json.dumps(r) + "\n" for r in kept + dropped])
    counts = handlers["filter_to_firehose"].handler(event, None)
    assert counts == {"received": len(kept) + len(dropped), "dropped": len(dropped), "delivered": 2, "failed": 0}
    assert sorted(r["trip_id"] for r in delivered()) == [1, 2]


def test_filter_missing_field_is_dropped_and_counted_not_raised(handlers, delivery, monkeypatch, caplog):
    stream, delivered = delivery
    lab_env(monkeypatch, stream)
    caplog.set_level("INFO")
    no_type = {k: v for k, v in TRIP.items() if k != "type"}
    no_position = {k: v for k, v in TRIP.items() if k != "dropoff_longitude"}
    counts = handlers["filter_to_firehose"].handler(kinesis_event([json.dumps(no_type), json.dumps(no_position), json.dumps(TRIP)]), None)
    assert counts == {"received": 3, "dropped": 2, "delivered": 1, "failed": 0}
    assert 'dropped {"incomplete": 2}' in caplog.text


def test_filter_rules_can_be_lifted_for_records_without_type_or_position(handlers, delivery, monkeypatch):
    stream, delivered = delivery
    monkeypatch.setenv("DELIVERY_STREAM", stream)
    monkeypatch.setenv("RECORD_TYPE", "")
    monkeypatch.setenv("COORDINATE_FIELDS", "")
    monkeypatch.setenv("REQUIRED_FIELDS", "vendor_id")
    rows = [json.dumps({"vendor_id": "1", "total_amount": "7.5"}), json.dumps({"total_amount": "1"})]
    counts = handlers["filter_to_firehose"].handler(kinesis_event(rows), None)
    assert counts == {"received": 2, "dropped": 1, "delivered": 1, "failed": 0}


def test_filter_forwards_the_original_bytes(handlers, delivery, monkeypatch, aws):
    import boto3

    stream, _ = delivery
    lab_env(monkeypatch, stream)
    # Spacing and key order a re-serialization would change, ending in the producer's newline.
    raw = b'{ "trip_id":7,"type" : "trip", "pickup_latitude": 40.70, "pickup_longitude": -73.9, ' \
          b'"dropoff_latitude": 40.8, "dropoff_longitude": -73.95}\n'
    handlers["filter_to_firehose"].handler(kinesis_event([raw]), None)
    s3 = boto3.client("s3", endpoint_url=aws)
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="lake")["Contents"]]
    assert b"".join(s3.get_object(Bucket="lake", Key=k)["Body"].read() for k in keys) == raw


def test_filter_sends_large_batches_within_the_api_limits(handlers, delivery, monkeypatch):
    stream, delivered = delivery
    monkeypatch.setenv("DELIVERY_STREAM", stream)
    event = kinesis_event([json.dumps(dict(TRIP, trip_id=i)) + "\n" for i in range(1234)])
    counts = handlers["filter_to_firehose"].handler(event, None)
    assert counts["delivered"] == 1234
    assert sorted(r["trip_id"] for r in delivered()) == list(range(1234))


class FakeFirehose:
    """Answers PutRecordBatch with the per-entry error codes it is given, call by call."""

    def __init__(self, answers):
        self.answers, self.calls = list(answers), []

    def put_record_batch(self, DeliveryStreamName, Records):
        self.calls.append([r["Data"] for r in Records])
        codes = self.answers.pop(0)
        assert len(codes) == len(Records)
        return {
            "FailedPutCount": sum(1 for c in codes if c),
            "RequestResponses": [{"ErrorCode": c, "ErrorMessage": "x"} if c else {"RecordId": "r"} for c in codes],
        }


def retry_env(monkeypatch, mod, answers):
    monkeypatch.setenv("delivery_stream_name", "out")
    monkeypatch.setenv("exponential_backoff_seed", "35")
    monkeypatch.setenv("number_of_retries", "3")
    fake = FakeFirehose(answers)
    monkeypatch.setattr(mod, "_firehose", fake)
    return fake


SU, IF = "ServiceUnavailableException", "InternalFailure"


def test_filter_retries_only_service_unavailable_entries_with_the_labs_backoff(handlers, monkeypatch):
    mod = handlers["filter_to_firehose"]
    fake = retry_env(monkeypatch, mod, [[SU, None, SU], [SU, None], [None]])
    slept = []
    mod.deliver("out", [b"a", b"b", b"c"], mod.Retry(), sleep=slept.append)
    assert fake.calls == [[b"a", b"b", b"c"], [b"a", b"c"], [b"a"]]
    assert slept == [0.07, 2.45]


def test_filter_backoff_values_are_the_labs(handlers, monkeypatch):
    mod = handlers["filter_to_firehose"]
    retry_env(monkeypatch, mod, [])
    assert [round(mod.Retry().delay(n), 4) for n in (1, 2, 3)] == [0.07, 2.45, 85.75]
    assert mod.Retry().retries == 3
    # The older names: MAX_ATTEMPTS counts the first call, BACKOFF_BASE_MS doubles.
    for name in ("exponential_backoff_seed", "number_of_retries"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("MAX_ATTEMPTS", "4")
    monkeypatch.setenv("BACKOFF_BASE_MS", "100")
    assert mod.Retry().retries == 3
    assert [mod.Retry().delay(n) for n in (1, 2, 3)] == [0.1, 0.2, 0.4]


def test_filter_non_retriable_errors_stop_and_raise(handlers, monkeypatch):
    mod = handlers["filter_to_firehose"]
    fake = retry_env(monkeypatch, mod, [[IF, None, SU], [IF]])
    slept = []
    with pytest.raises(mod.NotDelivered, match="non-retriable"):
        mod.deliver("out", [b"a", b"b", b"c"], mod.Retry(), sleep=slept.append)
    # c was retriable and retried once; a (InternalFailure) never was.
    assert fake.calls == [[b"a", b"b", b"c"], [b"c"]]
    assert slept == [0.07]


def test_filter_all_failed_raises_at_once(handlers, monkeypatch):
    mod = handlers["filter_to_firehose"]
    fake = retry_env(monkeypatch, mod, [[SU, SU]])
    slept = []
    with pytest.raises(mod.NotDelivered, match="all 2 records failed"):
        mod.deliver("out", [b"a", b"b"], mod.Retry(), sleep=slept.append)
    assert len(fake.calls) == 1 and slept == []


def test_filter_retries_run_out_then_raise(handlers, monkeypatch):
    mod = handlers["filter_to_firehose"]
    fake = retry_env(monkeypatch, mod, [[SU, None], [SU], [SU], [SU]])
    slept = []
    with pytest.raises(mod.NotDelivered, match="after 3 retries"):
        mod.deliver("out", [b"a", b"b"], mod.Retry(), sleep=slept.append)
    assert len(fake.calls) == 4 and slept == [0.07, 2.45, 85.75]


def test_filter_third_backoff_is_cut_to_the_time_the_invocation_has_left(handlers, monkeypatch):
    mod = handlers["filter_to_firehose"]
    fake = retry_env(monkeypatch, mod, [[SU, None], [SU], [SU], [SU]])
    slept = []
    left = iter([60_000, 58_000, 50_000])  # milliseconds left before each retry
    with pytest.raises(mod.NotDelivered):
        mod.deliver("out", [b"a", b"b"], mod.Retry(), remaining_ms=lambda: next(left), sleep=slept.append)
    assert slept == [0.07, 2.45, 48.0]
    # No time left: raise without waiting, so Lambda retries the batch.
    fake = retry_env(monkeypatch, mod, [[SU, None]])
    slept = []
    with pytest.raises(mod.NotDelivered, match="no time is left"):
        mod.deliver("out", [b"a", b"b"], mod.Retry(), remaining_ms=lambda: 1500, sleep=slept.append)
    assert slept == [] and len(fake.calls) == 1


def test_filter_handler_raises_when_records_are_not_delivered(handlers, monkeypatch):
    mod = handlers["filter_to_firehose"]
    retry_env(monkeypatch, mod, [[SU]])
    with pytest.raises(mod.NotDelivered):
        mod.handler(kinesis_event([json.dumps(TRIP)]), None)


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
