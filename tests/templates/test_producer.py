"""The built-in host producer (templates/agent/producer.py), run against the
emulator: generated records into a stream, read back with GetRecords."""

import importlib.util
import json
from pathlib import Path

import boto3

PRODUCER = Path(__file__).resolve().parents[2] / "templates" / "agent" / "producer.py"


def load():
    spec = importlib.util.spec_from_file_location("producer", PRODUCER)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def read_all(kinesis, stream):
    out = []
    for shard in kinesis.list_shards(StreamName=stream)["Shards"]:
        it = kinesis.get_shard_iterator(StreamName=stream, ShardId=shard["ShardId"],
                                        ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        out.extend(json.loads(r["Data"]) for r in kinesis.get_records(ShardIterator=it, Limit=10000)["Records"])
    return out


def test_the_host_producer_sends_lab_shaped_records_at_its_rate(aws):
    kinesis = boto3.client("kinesis", endpoint_url=aws)
    kinesis.create_stream(StreamName="readings", ShardCount=2)
    mod = load()
    clock = [0.0]
    slept = []

    def sleep(s):
        slept.append(s)
        clock[0] += s

    sent, lost = mod.run(kinesis, "readings", "sensor", 20, "sensor_id", batches=3,
                         clock=lambda: clock[0], sleep=sleep)
    assert (sent, lost) == (60, 0)
    assert abs(sum(slept) - 3.0) < 1e-6, "20 records a second, 60 records: three seconds"
    records = read_all(kinesis, "readings")
    assert len(records) == 60
    assert all(r["sensor_id"].startswith("sensor-0") and 10 <= r["temperature"] < 40 for r in records)


def test_the_generators_have_the_shapes_pipectl_produce_sends():
    import datetime
    import random

    mod = load()
    rng, now = random.Random(1), datetime.datetime(2026, 11, 29, 10, 0, 0)
    taxi = [mod.taxi(rng, n, now) for n in range(1, 201)]
    assert sum(t["type"] == "watermark" for t in taxi) == 2
    trip = next(t for t in taxi if t["type"] == "trip")
    assert set(trip) == {"type", "trip_id", "pickup_datetime", "dropoff_datetime", "pickup_latitude",
                         "pickup_longitude", "dropoff_latitude", "dropoff_longitude", "trip_distance",
                         "passenger_count", "total_amount"}
    assert trip["dropoff_datetime"] == "2026-11-29 10:00:00"
    tenant = mod.tenant_metrics(rng, 1, now)
    assert tenant["type"] == "Application" and tenant["tenant"]["id"].startswith("tenant-")


class Flaky:
    """A client whose first answer fails every other entry."""

    def __init__(self):
        self.calls = []

    def put_records(self, StreamName, Records):
        self.calls.append(len(Records))
        if len(self.calls) == 1:
            results = [{"ErrorCode": "ProvisionedThroughputExceededException"} if i % 2 else {"SequenceNumber": "1"}
                       for i in range(len(Records))]
            return {"FailedRecordCount": len(Records) // 2, "Records": results}
        return {"FailedRecordCount": 0, "Records": [{"SequenceNumber": "1"}] * len(Records)}


def test_only_failed_entries_are_sent_again():
    mod = load()
    client = Flaky()
    entries = [mod.entry({"n": i}, None) for i in range(10)]
    assert mod.put(client, "s", entries, sleep=lambda s: None) == 0
    assert client.calls == [10, 5]
