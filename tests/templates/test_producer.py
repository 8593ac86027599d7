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


def test_lab_000s_host_has_no_data_the_taxi_csv_is_written_in_the_flows_field_order(tmp_path):
    import csv
    import datetime

    mod = load()
    fields = ["total_amount", "VendorID", "tpep_pickup_datetime"]
    settings = {"generate": "taxi", "rows": 500, "path": str(tmp_path / "tmp" / "yellow_tripdata.csv"),
                "partial": str(tmp_path / "tmp" / ".pipectl-partial" / "yellow_tripdata.csv"),
                "fields": fields, "delimiter": ";", "seed": 1}
    assert mod.write_csv(settings, now=datetime.datetime(2026, 11, 29, 10, 0, 0)) == 500
    text = (tmp_path / "tmp" / "yellow_tripdata.csv").read_text()
    rows = list(csv.reader(text.splitlines(), delimiter=";"))
    assert len(rows) == 500 and all(len(r) == 3 for r in rows), "no header, the flow's three fields"
    assert rows[0][1] in ("1", "2") and rows[0][2].startswith("2026-11-29 ")
    assert all(float(r[0]) > 3.0 for r in rows)
    # Renamed into place: nothing is left where it was written.
    assert not (tmp_path / "tmp" / ".pipectl-partial" / "yellow_tripdata.csv").exists()
    assert oct((tmp_path / "tmp" / "yellow_tripdata.csv").stat().st_mode & 0o777) == "0o644"
    # Once: an existing file is left as it is.
    assert mod.write_csv(settings) == 0
    assert (tmp_path / "tmp" / "yellow_tripdata.csv").read_text() == text


def test_every_taxi_column_is_written_and_the_amounts_add_up(tmp_path):
    import csv

    mod = load()
    settings = {"rows": 200, "path": str(tmp_path / "t.csv"), "partial": str(tmp_path / "p" / "t.csv"),
                "fields": list(mod.TAXI_COLUMNS)}
    mod.write_csv(settings)
    rows = [dict(zip(mod.TAXI_COLUMNS, r)) for r in csv.reader((tmp_path / "t.csv").read_text().splitlines())]
    assert len(rows) == 200 and all(len(r) == 17 for r in rows)
    for r in rows:
        parts = sum(float(r[c]) for c in ("fare_amount", "extra", "mta_tax", "tip_amount", "tolls_amount",
                                          "improvement_surcharge"))
        assert abs(parts - float(r["total_amount"])) < 0.011, r
        assert r["store_and_fwd_flag"] in ("Y", "N") and 1 <= int(r["PULocationID"]) <= 265
        assert r["tpep_pickup_datetime"] < r["tpep_dropoff_datetime"]


def test_fields_that_cannot_name_a_taxi_row_are_refused():
    mod = load()
    assert mod.taxi_order(["c%d" % i for i in range(17)]) == mod.TAXI_COLUMNS
    try:
        mod.taxi_order(["VendorID", "fare"])
    except ValueError:
        return
    raise AssertionError("two fields, one unknown, name no taxi row")


class Metrics:
    """A CloudWatch client that keeps what it is sent, each call with the
    wall time it came at; `fail` makes every call raise."""

    def __init__(self, wall, fail=False):
        self.wall, self.fail, self.calls = wall, fail, []

    def put_metric_data(self, Namespace, MetricData):
        self.calls.append((self.wall(), Namespace, MetricData))
        if self.fail:
            raise RuntimeError("AccessDenied: not allowed in this namespace")

    def counts(self):
        """Per call: (minute reported, RecordsSent, RecordsFailed)."""
        out = []
        for _, _, data in self.calls:
            values = {d["MetricName"]: d["Value"] for d in data}
            out.append((int(data[0]["Timestamp"].timestamp()) // 60, values["RecordsSent"], values["RecordsFailed"]))
        return out


def test_the_producer_published_no_metrics_of_its_own():
    import datetime

    mod = load()
    wall = [60 * 1000 + 50.0]
    cw = Metrics(lambda: wall[0])
    m = mod.Minutes(cw, "trips", wall=lambda: wall[0])
    m.count(10, 0)
    wall[0] += 5
    m.count(8, 2)
    assert cw.calls == [], "minute 1000 has not ended"
    wall[0] = 60 * 1001 + 1
    m.count(7, 3)
    assert cw.counts() == [(1000, 18, 2)], "the first batch of minute 1001 publishes minute 1000, not itself"
    wall[0] = 60 * 1001 + 59.9
    m.count(1, 0)
    wall[0] = 60 * 1003 + 5
    m.count(4, 0)
    assert cw.counts() == [(1000, 18, 2), (1001, 8, 3)], "a minute without batches publishes nothing"
    at, namespace, data = cw.calls[0]
    assert namespace == "PipectlProducer"
    assert [d["MetricName"] for d in data] == ["RecordsSent", "RecordsFailed"]
    for d in data:
        assert d["Dimensions"] == [{"Name": "StreamName", "Value": "trips"}]
        assert d["Unit"] == "Count"
        assert d["Timestamp"] == datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc) + datetime.timedelta(
            minutes=1000)


class Refusing:
    """A Kinesis client that refuses the first entry of every batch, every
    time it is sent."""

    def __init__(self):
        self.bad, self.accepted = set(), 0

    def put_records(self, StreamName, Records):
        if len(Records) > 1:
            self.bad.add(Records[0]["Data"])
        results = [{"ErrorCode": "InternalFailure"} if r["Data"] in self.bad else {"SequenceNumber": "1"}
                   for r in Records]
        failed = sum("ErrorCode" in r for r in results)
        self.accepted += len(Records) - failed
        return {"FailedRecordCount": failed, "Records": results}


def run_for(mod, batches, metrics_fail):
    clock, wall = [0.0], [60 * 2000 + 30.0]

    def sleep(s):
        clock[0] += s
        wall[0] += s

    kinesis = Refusing()
    cw = Metrics(lambda: wall[0], fail=metrics_fail)
    sent, lost = mod.run(kinesis, "trips", "sensor", 10, None, batches=batches, clock=lambda: clock[0],
                         sleep=sleep, metrics=cw, wall=lambda: wall[0])
    return kinesis, cw, sent, lost, wall[0]


def test_refused_records_are_counted_after_the_retries_and_published_per_minute():
    mod = load()
    kinesis, cw, sent, lost, end = run_for(mod, 40, metrics_fail=False)
    assert (sent, lost) == (400, 40), "one entry of each batch refused through every retry"
    counts = cw.counts()
    minutes = [minute for minute, _, _ in counts]
    assert minutes == list(range(2000, 2000 + len(minutes))) and int(end // 60) == minutes[-1] + 1
    assert all(9 * f == s for _, s, f in counts), "each batch: nine sent, one refused"
    published_sent = sum(s for _, s, _ in counts)
    assert 0 < published_sent < kinesis.accepted, "the current minute is not published before it ends"
    # Each call came in the minute after the one it reports.
    assert all(int(at // 60) == minute + 1 for (at, _, _), minute in zip(cw.calls, minutes))


def test_a_failing_put_metric_data_is_printed_and_does_not_stop_the_puts(capsys):
    mod = load()
    kinesis, cw, sent, lost, end = run_for(mod, 40, metrics_fail=True)
    assert (sent, lost) == (400, 40) and kinesis.accepted == 360
    assert len(cw.calls) >= 2, "tried again the next minute"
    assert len({int(at // 60) for at, _, _ in cw.calls}) == len(cw.calls), "never twice in a minute"
    assert "put_metric_data_failed" in capsys.readouterr().out


def test_the_producers_namespace_dimension_and_metrics_are_the_rust_tables():
    import re

    mod = load()
    host = (PRODUCER.parents[2] / "src" / "metrics" / "host.rs").read_text()
    assert re.search(r'pub const PRODUCER_NAMESPACE: &str = "([^"]+)"', host).group(1) == mod.NAMESPACE
    table = host[host.index("pub const PRODUCER: &[Metric]"):]
    table = table[:table.index("];")]
    rows = re.findall(r'm\(P, "([^"]+)", "([^"]+)", Stat::(\w+)', table)
    assert rows == [(mod.DIMENSION, mod.SENT, "Sum"), (mod.DIMENSION, mod.FAILED, "Sum")]
