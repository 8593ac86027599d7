"""pipectl's built-in producer, run on an agent host as the
`pipectl-producer` service (`run: producer`): records from a generator
shaped like a lab's data, sent to one Kinesis stream with PutRecords at a
steady rate. The generators send the same shapes as `pipectl produce
--generate`; only the failed entries of a call are sent again, with backoff.
Once a minute it publishes, best effort, what it sent and what was still
refused after its retries in the minute just ended (`NAMESPACE`, by
`StreamName`: the rows of pipectl's `metrics::host::PRODUCER`).

`producer.py write-csv SETTINGS.json` instead writes a host's `data:` file
once: the lab's yellow-taxi CSV rows (as `pipectl produce --generate taxi
--format csv`), in the order of the flow's `csv_to_json` fields, first to
the settings' `partial` path (outside every flow's pattern), then renamed
into `path`, so the agent never reads it half written.

Environment:
  STREAM          the stream's name (required)
  GENERATE        taxi | sensor | tenant-metrics (default taxi)
  RATE            records per second (default 10)
  PARTITION_KEY   a field whose value is the partition key (default: random;
                  pipectl sets `sensor_id` for `sensor` unless told `random`)
  AWS_REGION      the stream's region
"""

import datetime
import json
import os
import random
import time
import uuid

MAX_RECORDS = 500

# The producer's own metrics, as pipectl's metrics table names them
# (src/metrics/host.rs): the dashboard and `pipectl status` read these.
NAMESPACE = "PipectlProducer"
DIMENSION = "StreamName"
SENT = "RecordsSent"
FAILED = "RecordsFailed"


def hive_time(t):
    return t.strftime("%Y-%m-%d %H:%M:%S")


def taxi(rng, n, now):
    if n % 100 == 0:
        return {"type": "watermark", "watermark": hive_time(now)}
    pickup = now - datetime.timedelta(seconds=rng.randint(3 * 60, 45 * 60))
    plat, plon = round(rng.uniform(40.63, 40.85), 6), round(rng.uniform(-74.02, -73.77), 6)
    if rng.randrange(50) == 0:
        plat, plon = 0.0, 0.0
    distance = round(rng.uniform(0.3, 18.0), 2)
    return {
        "type": "trip",
        "trip_id": 1_000_000 + n,
        "pickup_datetime": hive_time(pickup),
        "dropoff_datetime": hive_time(now),
        "pickup_latitude": plat,
        "pickup_longitude": plon,
        "dropoff_latitude": round(rng.uniform(40.63, 40.85), 6),
        "dropoff_longitude": round(rng.uniform(-74.02, -73.77), 6),
        "trip_distance": distance,
        "passenger_count": rng.randint(1, 6),
        "total_amount": round(3.0 + distance * 2.5 + rng.random() * 8.0, 2),
    }


TAXI_COLUMNS = ["VendorID", "tpep_pickup_datetime", "tpep_dropoff_datetime", "passenger_count", "trip_distance",
                "RatecodeID", "store_and_fwd_flag", "PULocationID", "DOLocationID", "payment_type", "fare_amount",
                "extra", "mta_tax", "tip_amount", "tolls_amount", "improvement_surcharge", "total_amount"]


def taxi_row(rng, n, now):
    """One trip as the lab's yellow-taxi CSV files have it: every column, by
    name, as text; the amounts add up to `total_amount`."""
    dropoff = now - datetime.timedelta(seconds=rng.randint(0, 3600))
    pickup = dropoff - datetime.timedelta(seconds=rng.randint(3 * 60, 45 * 60))
    distance = round(rng.uniform(0.3, 18.0), 2)
    fare = round(3.0 + distance * 2.5, 2)
    extra = rng.choice([0.0, 0.5, 1.0])
    tip = round(fare * rng.choice([0.0, 0.1, 0.15, 0.2]), 2)
    tolls = 6.55 if rng.randrange(20) == 0 else 0.0
    total = fare + extra + 0.5 + tip + tolls + 0.3
    money = lambda v: "%.2f" % v
    return {
        "VendorID": str(rng.choice([1, 2])),
        "tpep_pickup_datetime": hive_time(pickup),
        "tpep_dropoff_datetime": hive_time(dropoff),
        "passenger_count": str(rng.randint(1, 6)),
        "trip_distance": money(distance),
        "RatecodeID": "1" if rng.randrange(20) else str(rng.randint(2, 5)),
        "store_and_fwd_flag": "Y" if rng.randrange(100) == 0 else "N",
        "PULocationID": str(rng.randint(1, 265)),
        "DOLocationID": str(rng.randint(1, 265)),
        "payment_type": str(rng.choice([1, 1, 1, 2, 2, 3, 4])),
        "fare_amount": money(fare),
        "extra": money(extra),
        "mta_tax": "0.50",
        "tip_amount": money(tip),
        "tolls_amount": money(tolls),
        "improvement_surcharge": "0.30",
        "total_amount": money(total),
    }


def taxi_order(fields):
    """The columns in the places `fields` name, as pipectl's `taxi::order`:
    all column names take values by name; otherwise 17 fields name the
    columns in file order."""
    if not fields:
        return list(TAXI_COLUMNS)
    if all(f in TAXI_COLUMNS for f in fields):
        return list(fields)
    if len(fields) == len(TAXI_COLUMNS):
        return list(TAXI_COLUMNS)
    raise ValueError("%d fields cannot name a taxi row of %d columns" % (len(fields), len(TAXI_COLUMNS)))


def write_csv(settings, now=None):
    """Writes the `data:` file once; returns the rows written (0 when the
    file is already there)."""
    import csv

    if settings.get("generate", "taxi") != "taxi":
        raise ValueError("only `taxi` data files can be generated, not %r" % settings["generate"])
    path, partial = settings["path"], settings["partial"]
    if os.path.exists(path):
        return 0
    columns = taxi_order(settings.get("fields") or [])
    rng = random.Random(settings.get("seed", 1))
    now = now or datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
    os.makedirs(os.path.dirname(partial), mode=0o755, exist_ok=True)
    with open(partial, "w", newline="") as f:
        out = csv.writer(f, delimiter=settings.get("delimiter") or ",", lineterminator="\n")
        for n in range(1, settings["rows"] + 1):
            row = taxi_row(rng, n, now)
            out.writerow([row[c] for c in columns])
        f.flush()
        os.fsync(f.fileno())
    # The agent runs as its own user: the file must be readable by it.
    os.chmod(partial, 0o644)
    os.replace(partial, path)
    return settings["rows"]


def sensor(rng, n, now):
    return {
        "sensor_id": "sensor-%03d" % rng.randint(1, 10),
        "timestamp": now.isoformat(),
        "temperature": round(rng.uniform(10.0, 40.0), 2),
        "humidity": round(rng.uniform(30.0, 90.0), 2),
        "pressure": round(rng.uniform(980.0, 1030.0), 2),
    }


TENANTS = [("tenant-001", "Acme", "Gold"), ("tenant-002", "Globex", "Silver"), ("tenant-003", "Initech", "Bronze"),
           ("tenant-004", "Umbrella", "Gold"), ("tenant-005", "Hooli", "Free")]
METRICS = [("DataTransfer", "MB", 500), ("Storage", "GB", 50), ("ExecutionTime", "MilliSeconds", 3000)]


def tenant_metrics(rng, n, now):
    tid, name, tier = rng.choice(TENANTS)
    metric, unit, top = rng.choice(METRICS)
    return {
        "type": "Application",
        "workload": "PhotoApplication",
        "context": rng.choice(["Login", "Search", "Checkout", "Reports"]),
        "tenant": {"id": tid, "name": name, "tier": tier},
        "metric": {"name": metric, "unit": unit, "value": rng.randint(1, top)},
        "timestamp": str(int(now.timestamp())),
        "metadata": {"user": "user-%04d" % rng.randint(1, 999), "resource": "load-balancer"},
    }


GENERATORS = {"taxi": taxi, "sensor": sensor, "tenant-metrics": tenant_metrics}


def entry(record, key_field):
    key = record.get(key_field) if key_field else None
    key = str(key)[:256] if key not in (None, "") else uuid.uuid4().hex
    return {"Data": (json.dumps(record) + "\n").encode(), "PartitionKey": key}


def put(client, stream, entries, sleep=time.sleep):
    """Sends one batch; only the failed entries again, with backoff.
    Returns how many were not delivered."""
    delay = 0.1
    for _ in range(10):
        out = client.put_records(StreamName=stream, Records=entries)
        if not out.get("FailedRecordCount"):
            return 0
        entries = [e for e, r in zip(entries, out["Records"]) if r.get("ErrorCode")]
        sleep(delay * (0.5 + random.random() / 2))
        delay = min(delay * 2, 5.0)
    return len(entries)


class Minutes:
    """Records sent and refused, counted per minute of the wall clock; each
    minute's counts go out in one PutMetricData once it has ended, so never
    more than one call a minute. Best effort: a failed call is printed and
    its counts dropped; sending goes on."""

    def __init__(self, client, stream, wall=time.time):
        self.client, self.stream, self.wall = client, stream, wall
        self.minute = int(wall() // 60)
        self.sent = self.failed = 0

    def count(self, sent, failed):
        """Adds a batch to the minute it ended in, after publishing the
        minute before when this batch ended in a new one."""
        minute = int(self.wall() // 60)
        if minute > self.minute:
            self.publish()
            self.minute, self.sent, self.failed = minute, 0, 0
        self.sent += sent
        self.failed += failed

    def publish(self):
        if self.client is None:
            return
        at = datetime.datetime.fromtimestamp(self.minute * 60, datetime.timezone.utc)
        dimensions = [{"Name": DIMENSION, "Value": self.stream}]
        data = [{"MetricName": name, "Dimensions": dimensions, "Timestamp": at, "Value": value, "Unit": "Count"}
                for name, value in ((SENT, self.sent), (FAILED, self.failed))]
        try:
            self.client.put_metric_data(Namespace=NAMESPACE, MetricData=data)
        except Exception as e:  # best effort: the records matter more
            print(json.dumps({"put_metric_data_failed": type(e).__name__, "message": str(e)[:300]}), flush=True)


def run(client, stream, generate, rate, key_field, batches=None, clock=time.monotonic, sleep=time.sleep,
        metrics=None, wall=time.time):
    """Sends `rate` records a second, one batch at a time; forever unless
    `batches` says how many. `metrics` (a CloudWatch client) gets each
    minute's counts."""
    rng = random.Random(1)
    make = GENERATORS[generate]
    minutes = Minutes(metrics, stream, wall)
    n, sent, lost = 0, 0, 0
    start = clock()
    while batches is None or batches > 0:
        size = max(1, min(MAX_RECORDS, rate))
        now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
        records = []
        for _ in range(size):
            n += 1
            records.append(entry(make(rng, n, now), key_field))
        refused = put(client, stream, records, sleep)
        minutes.count(size - refused, refused)
        lost += refused
        sent += size
        if batches is not None:
            batches -= 1
        due = start + sent / rate
        pause = due - clock()
        if pause > 0:
            sleep(pause)
        if sent % (rate * 60) < size:
            print(json.dumps({"sent": sent, "not_delivered": lost}), flush=True)
    return sent, lost


def main():
    import sys

    if sys.argv[1:2] == ["write-csv"]:
        with open(sys.argv[2]) as f:
            settings = json.load(f)
        print(json.dumps({"path": settings["path"], "written": write_csv(settings)}), flush=True)
        return
    import boto3

    region = os.environ.get("AWS_REGION")
    client = boto3.client("kinesis", region_name=region)
    run(client, os.environ["STREAM"], os.environ.get("GENERATE", "taxi"), int(os.environ.get("RATE", "10")),
        os.environ.get("PARTITION_KEY") or None, metrics=boto3.client("cloudwatch", region_name=region))


if __name__ == "__main__":
    main()
