#!/usr/bin/env python3
"""The labs' way, for comparison in scripts/bench.sh: the resources of
pipelines/lab.yaml made (`create`) and removed (`delete`) one call after
another, as a folder of `aws` commands does it, waiting the way those
scripts wait: the CLI's own waiters with their delays (`aws kinesis wait
stream-exists` looks every 10 s, `aws ec2 wait instance-running` every
15 s), a `sleep 10` loop where the CLI has no waiter (Firehose, event
source mappings), and `sleep 10` after creating roles. boto3 in one
process stands in for the CLI, so no process start is counted against it.

    cli-way.py create|delete     (AWS_ENDPOINT_URL and credentials from the environment)
"""
import io
import json
import os
import sys
import time
import zipfile

import boto3

P = "cliway"
ACCOUNT = "123456789012"
REGION = os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
BUCKET = f"{P}-lake-{ACCOUNT}"
STREAM = f"{P}-trips"
ROLES = {"raw": "firehose", "to-lake": "firehose", "filter": "lambda", "producer": "ec2"}
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
c = {n: boto3.client(n, region_name=REGION) for n in
     ("s3", "kinesis", "glue", "iam", "logs", "firehose", "lambda", "ec2", "cloudwatch")}
TAGS = [{"Key": "purpose", "Value": "lab"}]


def until(check, delay):
    while not check():
        time.sleep(delay)


def arn(service, rest):
    return f"arn:aws:{service}:{REGION}:{ACCOUNT}:{rest}"


def role_arn(k):
    return f"arn:aws:iam::{ACCOUNT}:role/{P}-{k}"


def firehose_active(name):
    return c["firehose"].describe_delivery_stream(DeliveryStreamName=name)[
        "DeliveryStreamDescription"]["DeliveryStreamStatus"] == "ACTIVE"


def gone(call):
    try:
        call()
        return False
    except c["firehose"].exceptions.ResourceNotFoundException:
        return True
    except Exception as e:  # lambda's and others' not-found
        return "NotFound" in type(e).__name__ or "ResourceNotFound" in str(e)


def create():
    c["s3"].create_bucket(Bucket=BUCKET)
    c["s3"].put_bucket_tagging(Bucket=BUCKET, Tagging={"TagSet": TAGS})
    c["s3"].put_bucket_encryption(Bucket=BUCKET, ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
    c["s3"].put_public_access_block(Bucket=BUCKET, PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True})
    c["kinesis"].create_stream(StreamName=STREAM, ShardCount=1)
    c["kinesis"].get_waiter("stream_exists").wait(StreamName=STREAM)
    c["kinesis"].start_stream_encryption(StreamName=STREAM, EncryptionType="KMS", KeyId="alias/aws/kinesis")
    c["kinesis"].get_waiter("stream_exists").wait(StreamName=STREAM)
    c["kinesis"].add_tags_to_stream(StreamName=STREAM, Tags={"purpose": "lab"})
    c["glue"].create_database(DatabaseInput={"Name": f"{P}_taxi"})
    cols = [{"Name": n, "Type": t} for n, t in [("vendor_id", "string"), ("pickup_datetime", "timestamp"),
                                                ("total_amount", "double")]]
    c["glue"].create_table(DatabaseName=f"{P}_taxi", TableInput={
        "Name": "nyctaxitrips", "PartitionKeys": [{"Name": "year", "Type": "string"}],
        "StorageDescriptor": {"Columns": cols, "Location": f"s3://{BUCKET}/nyctaxitrips/"}})
    for k, svc in ROLES.items():
        trust = {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"Service": f"{svc}.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
        c["iam"].create_role(RoleName=f"{P}-{k}", AssumeRolePolicyDocument=json.dumps(trust), Tags=TAGS)
        policy = {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["s3:PutObject", "kinesis:GetRecords", "firehose:PutRecordBatch"],
             "Resource": [f"arn:aws:s3:::{BUCKET}/*", arn("kinesis", f"stream/{STREAM}")]}]}
        c["iam"].put_role_policy(RoleName=f"{P}-{k}", PolicyName="lab", PolicyDocument=json.dumps(policy))
    c["iam"].create_instance_profile(InstanceProfileName=f"{P}-producer")
    c["iam"].add_role_to_instance_profile(InstanceProfileName=f"{P}-producer", RoleName=f"{P}-producer")
    for g in ("raw", "to-lake", "filter"):
        c["logs"].create_log_group(logGroupName=f"/aws/{P}/{g}")
        c["logs"].put_retention_policy(logGroupName=f"/aws/{P}/{g}", retentionInDays=14)
    time.sleep(10)  # "wait for the IAM role to be ready", as the labs say
    c["firehose"].create_delivery_stream(
        DeliveryStreamName=f"{P}-raw", DeliveryStreamType="KinesisStreamAsSource",
        KinesisStreamSourceConfiguration={"KinesisStreamARN": arn("kinesis", f"stream/{STREAM}"),
                                          "RoleARN": role_arn("raw")},
        ExtendedS3DestinationConfiguration={"RoleARN": role_arn("raw"), "BucketARN": f"arn:aws:s3:::{BUCKET}",
                                             "Prefix": "raw/", "CompressionFormat": "GZIP"})
    until(lambda: firehose_active(f"{P}-raw"), 10)
    c["firehose"].create_delivery_stream(
        DeliveryStreamName=f"{P}-to-lake", DeliveryStreamType="DirectPut",
        ExtendedS3DestinationConfiguration={"RoleARN": role_arn("to-lake"), "BucketARN": f"arn:aws:s3:::{BUCKET}",
                                             "Prefix": "nyctaxitrips/",
                                             "BufferingHints": {"SizeInMBs": 128, "IntervalInSeconds": 180}})
    until(lambda: firehose_active(f"{P}-to-lake"), 10)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.write(os.path.join(ROOT, "templates", "lambda", "filter_to_firehose.py"), "filter_to_firehose.py")
    c["lambda"].create_function(FunctionName=f"{P}-filter", Runtime="python3.12", Role=role_arn("filter"),
                                Handler="filter_to_firehose.handler", Code={"ZipFile": buf.getvalue()},
                                MemorySize=256, Timeout=60,
                                Environment={"Variables": {"DELIVERY_STREAM": f"{P}-to-lake"}})
    c["lambda"].get_waiter("function_active_v2").wait(FunctionName=f"{P}-filter")
    uuid = c["lambda"].create_event_source_mapping(
        FunctionName=f"{P}-filter", EventSourceArn=arn("kinesis", f"stream/{STREAM}"), BatchSize=100,
        StartingPosition="LATEST")["UUID"]
    until(lambda: c["lambda"].get_event_source_mapping(UUID=uuid)["State"] == "Enabled", 10)
    subnet = c["ec2"].describe_subnets(Filters=[{"Name": "default-for-az", "Values": ["true"]}])["Subnets"][0]
    sg = c["ec2"].create_security_group(GroupName=f"{P}-producer", Description="lab producer",
                                        VpcId=subnet["VpcId"])["GroupId"]
    image = c["ec2"].describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    while True:
        try:
            c["ec2"].run_instances(ImageId=image, InstanceType="t3.small", MinCount=1, MaxCount=1,
                                   SubnetId=subnet["SubnetId"], SecurityGroupIds=[sg],
                                   IamInstanceProfile={"Name": f"{P}-producer"},
                                   TagSpecifications=[{"ResourceType": "instance",
                                                       "Tags": [{"Key": "Name", "Value": f"{P}-producer"}]}])
            break
        except c["ec2"].exceptions.ClientError as e:
            if "Instance Profile" not in str(e):
                raise
            time.sleep(5)
    iid = instance_id()
    c["ec2"].get_waiter("instance_running").wait(InstanceIds=[iid])
    c["cloudwatch"].put_dashboard(DashboardName=f"{P}-main", DashboardBody=json.dumps({"widgets": []}))
    for name, metric in (("iterator_age", "GetRecords.IteratorAgeMilliseconds"),
                         ("lake_freshness", "DeliveryToS3.DataFreshness"), ("filter_errors", "Errors")):
        c["cloudwatch"].put_metric_alarm(AlarmName=f"{P}-{name}", MetricName=metric, Namespace="AWS/Kinesis",
                                         Statistic="Maximum", Period=60, EvaluationPeriods=1, Threshold=1,
                                         ComparisonOperator="GreaterThanThreshold")


def instance_id():
    r = c["ec2"].describe_instances(Filters=[{"Name": "tag:Name", "Values": [f"{P}-producer"]},
                                             {"Name": "instance-state-name", "Values": ["pending", "running"]}])
    return [i["InstanceId"] for res in r["Reservations"] for i in res["Instances"]][0]


def delete():
    c["cloudwatch"].delete_alarms(AlarmNames=[f"{P}-{n}" for n in ("iterator_age", "lake_freshness", "filter_errors")])
    c["cloudwatch"].delete_dashboards(DashboardNames=[f"{P}-main"])
    for m in c["lambda"].list_event_source_mappings(FunctionName=f"{P}-filter")["EventSourceMappings"]:
        c["lambda"].delete_event_source_mapping(UUID=m["UUID"])
        until(lambda: gone(lambda: c["lambda"].get_event_source_mapping(UUID=m["UUID"])), 10)
    c["lambda"].delete_function(FunctionName=f"{P}-filter")
    for f in ("to-lake", "raw"):
        c["firehose"].delete_delivery_stream(DeliveryStreamName=f"{P}-{f}")
        until(lambda: gone(lambda: c["firehose"].describe_delivery_stream(DeliveryStreamName=f"{P}-{f}")), 10)
    iid = instance_id()
    c["ec2"].terminate_instances(InstanceIds=[iid])
    c["ec2"].get_waiter("instance_terminated").wait(InstanceIds=[iid])
    c["ec2"].delete_security_group(GroupName=f"{P}-producer")
    c["kinesis"].delete_stream(StreamName=STREAM, EnforceConsumerDeletion=True)
    c["kinesis"].get_waiter("stream_not_exists").wait(StreamName=STREAM)
    c["iam"].remove_role_from_instance_profile(InstanceProfileName=f"{P}-producer", RoleName=f"{P}-producer")
    c["iam"].delete_instance_profile(InstanceProfileName=f"{P}-producer")
    for k in ROLES:
        c["iam"].delete_role_policy(RoleName=f"{P}-{k}", PolicyName="lab")
        c["iam"].delete_role(RoleName=f"{P}-{k}")
    for g in ("raw", "to-lake", "filter"):
        c["logs"].delete_log_group(logGroupName=f"/aws/{P}/{g}")
    c["glue"].delete_table(DatabaseName=f"{P}_taxi", Name="nyctaxitrips")
    c["glue"].delete_database(Name=f"{P}_taxi")
    for o in c["s3"].list_objects_v2(Bucket=BUCKET).get("Contents", []):
        c["s3"].delete_object(Bucket=BUCKET, Key=o["Key"])
    c["s3"].delete_bucket(Bucket=BUCKET)


if __name__ == "__main__":
    {"create": create, "delete": delete}[sys.argv[1]]()
