//! A Kinesis data stream's metrics (AWS/Kinesis, by `StreamName`).
//!
//! Records put are `IncomingRecords` (PutRecord and PutRecords alike):
//! `pipectl produce`, the host producer and the Kinesis Agent all call
//! PutRecords, so `PutRecord.Success` would stay empty under them.

use super::{m, Metric, Panel, Role, Stat, Unit, When};

const K: &str = "AWS/Kinesis";
const D: &str = "StreamName";

pub const METRICS: &[Metric] = &[
    m(K, D, "IncomingRecords", Stat::Sum, Role::RecordsIn, Unit::Count, When::Always, Panel::Flow),
    m(K, D, "IncomingBytes", Stat::Sum, Role::BytesIn, Unit::Bytes, When::Always, Panel::Flow),
    m(K, D, "PutRecords.SuccessfulRecords", Stat::Sum, Role::Info, Unit::Count, When::Always, Panel::Flow),
    m(K, D, "PutRecords.FailedRecords", Stat::Sum, Role::Throttled, Unit::Count, When::Always, Panel::None),
    m(K, D, "GetRecords.Records", Stat::Sum, Role::RecordsOut, Unit::Count, When::StreamRead, Panel::Flow),
    m(K, D, "GetRecords.Bytes", Stat::Sum, Role::BytesOut, Unit::Bytes, When::StreamRead, Panel::None),
    m(K, D, "GetRecords.Success", Stat::Average, Role::RetriedRatio, Unit::Ratio, When::StreamRead, Panel::None),
    m(K, D, "WriteProvisionedThroughputExceeded", Stat::Sum, Role::Throttled, Unit::Count, When::Always, Panel::Health),
    m(
        K,
        D,
        "ReadProvisionedThroughputExceeded",
        Stat::Sum,
        Role::Throttled,
        Unit::Count,
        When::StreamRead,
        Panel::Health,
    ),
    m(
        K,
        D,
        "GetRecords.IteratorAgeMilliseconds",
        Stat::Maximum,
        Role::Lag,
        Unit::Milliseconds,
        When::StreamRead,
        Panel::Health,
    ),
];
