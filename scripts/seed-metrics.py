"""Puts an hour of plausible metrics for every hop of a `pipectl status
--json` report into CloudWatch (the emulator), as AWS would report them
for a pipeline at work: a daily-looking wave of records in and out,
small ages, no failures. For trying `status` without a real pipeline.

  pipectl status SPEC --json | python scripts/seed-metrics.py [RECORDS_PER_MINUTE] [--stall HOP]

`--stall HOP` (a hop id such as `firehose.to-lake`): that hop passes
nothing on in the last 20 minutes, as a Firehose whose deliveries fail
would look.
"""

import datetime
import json
import math
import sys

import boto3


def value(series, minute, rate):
    wave = 1.0 + 0.35 * math.sin(minute / 9.0) + 0.1 * math.sin(minute * 1.7)
    role, unit, metric = series["role"], series["unit"], series["metric"]
    if role in ("records_in", "records_out"):
        # A function is invoked once per batch of its trigger.
        return round(rate * wave / (50.0 if metric == "Invocations" else 1.0))
    if role in ("bytes_in", "bytes_out"):
        return round(rate * wave * 180)
    if role == "lag":
        return {"milliseconds": 800.0 * wave, "seconds": 70.0 * wave}.get(unit, 1.0)
    if role in ("success_ratio", "retried_ratio"):
        return 1.0
    if role in ("failed", "throttled"):
        return 0.0
    return {"percent": 4.0 * wave, "milliseconds": 40.0 * wave}.get(unit, rate * wave)


def main():
    args = sys.argv[1:]
    stall = None
    if "--stall" in args:
        i = args.index("--stall")
        stall = args[i + 1]
        del args[i:i + 2]
    rate = float(args[0]) if args else 600.0
    report = json.load(sys.stdin)
    cw = boto3.client("cloudwatch", region_name=report["region"])
    now = datetime.datetime.now(datetime.timezone.utc).replace(second=0, microsecond=0)
    put = 0
    for hop in report["hops"]:
        if hop["kind"] == "bucket":
            continue
        for s in hop["metrics"]:
            data = []
            for minute in range(60, 0, -1):
                if hop["id"] == stall and minute <= 20 and s["role"] in ("records_out", "bytes_out"):
                    continue
                data.append({
                    "MetricName": s["metric"],
                    "Dimensions": [{"Name": s["dimension"], "Value": s["dimension_value"]}],
                    "Timestamp": now - datetime.timedelta(minutes=minute),
                    "Value": float(value(s, 60 - minute, rate)),
                })
            for i in range(0, len(data), 500):
                cw.put_metric_data(Namespace=s["namespace"], MetricData=data[i:i + 500])
            put += len(data)
    print(json.dumps({"points": put}))


if __name__ == "__main__":
    main()
