"""Fixtures for the Lambda handler tests: a moto server on a free loopback
port (the same emulator the Rust integration tests use), environment
pointing boto3 at it, and a delivery stream that lands in S3."""

import importlib
import json
import os
import socket
import sys
from pathlib import Path

import boto3
import pytest

TEMPLATES = Path(__file__).resolve().parents[2] / "templates" / "lambda"
sys.path.insert(0, str(TEMPLATES))


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def moto_url():
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture()
def aws(moto_url, monkeypatch):
    """boto3 and the handlers talk to the emulator; each test gets a fresh one."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    import urllib.request

    urllib.request.urlopen(urllib.request.Request(f"{moto_url}/moto-api/reset", method="POST")).read()
    return moto_url


@pytest.fixture()
def delivery(aws):
    """A Direct-PUT delivery stream into a bucket; returns (stream, reader of delivered lines)."""
    s3 = boto3.client("s3", endpoint_url=aws)
    s3.create_bucket(Bucket="lake")
    iam = boto3.client("iam", endpoint_url=aws)
    role = iam.create_role(RoleName="fh", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    boto3.client("firehose", endpoint_url=aws).create_delivery_stream(
        DeliveryStreamName="out",
        DeliveryStreamType="DirectPut",
        ExtendedS3DestinationConfiguration={"RoleARN": role, "BucketARN": "arn:aws:s3:::lake", "Prefix": "out/"},
    )

    def delivered():
        lines = []
        for obj in s3.list_objects_v2(Bucket="lake").get("Contents", []):
            body = s3.get_object(Bucket="lake", Key=obj["Key"])["Body"].read().decode()
            lines.extend(json.loads(l) for l in body.splitlines() if l.strip())
        return lines

    return "out", delivered


@pytest.fixture()
def handlers(aws):
    """The handler modules, reloaded so each test gets fresh clients."""
    mods = {}
    for name in ("decode_and_log", "filter_to_firehose", "window_aggregate"):
        mods[name] = importlib.reload(importlib.import_module(name))
    return mods


def kinesis_event(payloads, key="k"):
    import base64

    return {
        "Records": [
            {
                "kinesis": {
                    "data": base64.b64encode(p if isinstance(p, bytes) else p.encode()).decode(),
                    "partitionKey": key,
                    "sequenceNumber": str(i),
                },
                "eventSource": "aws:kinesis",
            }
            for i, p in enumerate(payloads)
        ]
    }
