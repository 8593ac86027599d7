"""pipectl's built-in producer, run on an agent host as the
`pipectl-producer` service (`run: producer`): records from a generator
shaped like a lab's data, sent to one Kinesis stream with PutRecords at a
steady rate. The generators send the same shapes as `pipectl produce
--generate`; only the failed entries of a call are sent again, with backoff.

Environment:
  STREAM          the stream's name (required)
  GENERATE        taxi | sensor | tenant-metrics (default taxi)
  RATE            records per second (default 10)
  PARTITION_KEY   a field whose value is the partition key (default: random)
  AWS_REGION      the stream's region
"""

import datetime
import json
import os
import random
import time
import uuid

MAX_RECORDS = 500


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


def run(client, stream, generate, rate, key_field, batches=None, clock=time.monotonic, sleep=time.sleep):
    """Sends `rate` records a second, one batch at a time; forever unless
    `batches` says how many."""
    rng = random.Random(1)
    make = GENERATORS[generate]
    n, sent, lost = 0, 0, 0
    start = clock()
    while batches is None or batches > 0:
        size = max(1, min(MAX_RECORDS, rate))
        now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
        records = []
        for _ in range(size):
            n += 1
            records.append(entry(make(rng, n, now), key_field))
        lost += put(client, stream, records, sleep)
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
    import boto3

    client = boto3.client("kinesis", region_name=os.environ.get("AWS_REGION"))
    run(client, os.environ["STREAM"], os.environ.get("GENERATE", "taxi"), int(os.environ.get("RATE", "10")),
        os.environ.get("PARTITION_KEY") or None)


if __name__ == "__main__":
    main()
