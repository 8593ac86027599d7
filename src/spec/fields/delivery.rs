//! Firehose delivery streams, and the `policy:` statements a generated
//! role takes (on Firehoses, functions and agent hosts).

use super::top::row;
use super::Default::{Derived, None as No, Value};
use super::{Field, Keys, Text, Ty, TEXT};

/// A role the spec names instead of the one pipectl makes (`rules::existing_role`).
pub const ROLE: Ty = Ty::Str(Text {
    pattern: Some(
        r"^([A-Za-z0-9+=,.@_-]{1,64}|arn:aws[a-z-]*:iam::[0-9]{12}:role/([A-Za-z0-9+=,.@_-]+/)*[A-Za-z0-9+=,.@_-]{1,64})$",
    ),
    min: None,
    max: None,
    rule: "an IAM role name, or its ARN when it has a path",
});

/// The rows of a `policy:` list under the resource at `$p`.
macro_rules! statements {
    ($p:literal) => {
        &[
            row!(
                concat!($p, ".policy"),
                Ty::List(&Ty::Object),
                false,
                No,
                InPlace,
                "Extra Allow statements for the role pipectl makes (not with `role:`), checked by the IAM guard and the operator's policy.",
                "",
            ),
            row!(
                concat!($p, ".policy[].actions"),
                Ty::List(&Ty::Str(Text {
                    pattern: Some(r"^[a-z0-9-]+:[A-Za-z0-9*?]+$"),
                    min: None,
                    max: None,
                    rule: "`service:Action`, wildcards only as the operator's policy allows",
                })),
                false,
                No,
                InPlace,
                "IAM actions the statement allows (`Action`).",
                "[\"s3:GetObject\"]",
            ),
            row!(
                concat!($p, ".policy[].not_actions"),
                Ty::List(&TEXT),
                false,
                No,
                InPlace,
                "Every action but these (`NotAction`), only where the operator's policy allows it.",
                "[\"iam:*\"]",
            ),
            row!(
                concat!($p, ".policy[].resources"),
                Ty::List(&TEXT),
                false,
                No,
                InPlace,
                "ARNs the statement applies to (`Resource`); may interpolate `${region}`, `${account}`, references.",
                "[\"arn:aws:s3:::reference-data/*\"]",
            ),
            row!(
                concat!($p, ".policy[].not_resources"),
                Ty::List(&TEXT),
                false,
                No,
                InPlace,
                "Every resource but these (`NotResource`), only where the operator's policy allows it.",
                "[\"arn:aws:s3:::private/*\"]",
            ),
            row!(
                concat!($p, ".policy[].allow_privilege_escalation"),
                Ty::Bool,
                false,
                Value("false"),
                Pipectl,
                "A waiver for the guard's escalation findings on this statement; honoured only when the operator allows waivers.",
                "false",
            ),
        ]
    };
}
pub(super) use statements;

pub const POLICY: &[Field] = statements!("firehoses.*");

pub const FIELDS: &[Field] = &[
    row!(
        "firehoses",
        Ty::Map { keys: Keys::Resource, value: &Ty::Object },
        false,
        No,
        Fields,
        "Firehose delivery streams to S3, by key.",
        "",
    ),
    row!(
        "firehoses.*.name",
        Ty::Str(Text {
            pattern: Some(r"^[A-Za-z0-9_.-]{1,64}$"),
            min: Some(1),
            max: Some(64),
            rule: "1 to 64 letters, digits, `_`, `.` and `-`",
        }),
        false,
        Derived("`<pipeline>-<key>`, plus `-<env>` under `--env`"),
        Replace,
        "The delivery stream's physical name.",
        "schema-demo-to-lake",
    ),
    row!(
        "firehoses.*.source",
        Ty::ObjectOr(&Ty::Enum(&["direct"])),
        true,
        No,
        Replace,
        "`direct` for Direct PUT, or `{ stream: <key> }` to read a Kinesis stream.",
        "",
    ),
    row!("firehoses.*.source.stream", Ty::Ref("streams"), true, No, Replace, "The key of the stream to read.", "k"),
    row!("firehoses.*.destination", Ty::Object, true, No, Fields, "The S3 destination.", ""),
    row!(
        "firehoses.*.destination.bucket",
        Ty::Ref("buckets"),
        true,
        No,
        InPlace,
        "The key of the bucket to deliver to.",
        "k",
    ),
    row!(
        "firehoses.*.destination.prefix",
        Ty::Str(Text { pattern: None, min: None, max: Some(1024), rule: "at most 1024 bytes; `!{timestamp:...}` and `!{firehose:random-string}` expressions" }),
        false,
        Derived("Firehose's `YYYY/MM/dd/HH/`"),
        InPlace,
        "The object key prefix; one with `!{timestamp:...}` needs an `error_prefix`.",
        "\"trips/!{timestamp:yyyy/MM/dd}/\"",
    ),
    row!(
        "firehoses.*.destination.error_prefix",
        Ty::Str(Text { pattern: None, min: None, max: Some(1024), rule: "at most 1024 bytes; may use `!{firehose:error-output-type}`" }),
        false,
        No,
        InPlace,
        "The prefix of records that failed delivery or processing.",
        "\"errors/!{firehose:error-output-type}/\"",
    ),
    row!("firehoses.*.destination.buffer", Ty::Object, false, No, Fields, "When Firehose writes an object.", ""),
    row!(
        "firehoses.*.destination.buffer.size_mb",
        Ty::Int { min: 1, max: 128 },
        false,
        Derived("5, or 128 with `convert` (which needs at least 64)"),
        InPlace,
        "Megabytes buffered before an object is written.",
        "64",
    ),
    row!(
        "firehoses.*.destination.buffer.interval_seconds",
        Ty::Int { min: 0, max: 900 },
        false,
        Value("300"),
        InPlace,
        "Seconds buffered before an object is written.",
        "60",
    ),
    row!(
        "firehoses.*.destination.compression",
        Ty::Enum(&["uncompressed", "gzip", "snappy", "zip", "hadoop_snappy"]),
        false,
        Value("\"uncompressed\""),
        InPlace,
        "Compression of the objects; must stay `uncompressed` with `convert` (compress inside the files there).",
        "uncompressed",
    ),
    row!(
        "firehoses.*.destination.convert",
        Ty::Object,
        false,
        No,
        InPlace,
        "Converts JSON records to Parquet or ORC with a Glue table's schema.",
        "",
    ),
    row!(
        "firehoses.*.destination.convert.format",
        Ty::Enum(&["parquet", "orc"]),
        true,
        No,
        InPlace,
        "The columnar format written; the table's `format` must be the same.",
        "parquet",
    ),
    row!(
        "firehoses.*.destination.convert.table",
        Ty::Ref("catalog.tables"),
        true,
        No,
        InPlace,
        "The key of the Glue table whose schema the records follow.",
        "k",
    ),
    row!(
        "firehoses.*.destination.convert.compression",
        Ty::Enum(&["snappy", "gzip", "zlib", "uncompressed", "none"]),
        false,
        Value("\"snappy\""),
        InPlace,
        "Compression inside the files: Parquet takes snappy, gzip or uncompressed; ORC snappy, zlib or none.",
        "snappy",
    ),
    row!(
        "firehoses.*.destination.error_logging",
        Ty::Bool,
        false,
        Value("true"),
        InPlace,
        "Delivery errors logged to a CloudWatch Logs group of the stream's own.",
        "true",
    ),
    row!(
        "firehoses.*.destination.encryption",
        Ty::Enum(&["aws_owned", "none"]),
        false,
        Value("\"none\""),
        InPlace,
        "Server-side encryption of a Direct PUT stream with an AWS owned key (a stream source is protected by the stream's own).",
        "none",
    ),
    row!(
        "firehoses.*.processor",
        Ty::Object,
        false,
        No,
        InPlace,
        "A Lambda function that transforms records before delivery.",
        "",
    ),
    row!(
        "firehoses.*.processor.function",
        Ty::Ref("functions"),
        true,
        No,
        InPlace,
        "The key of the processing function.",
        "k",
    ),
    row!(
        "firehoses.*.role",
        ROLE,
        false,
        Derived("a role pipectl makes with exactly the permissions the stream needs"),
        InPlace,
        "An existing role for the stream to use instead (then no `policy:`).",
        "firehose-delivery",
    ),
];
