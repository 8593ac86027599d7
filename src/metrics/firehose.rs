//! A Firehose delivery stream's metrics (AWS/Firehose, by
//! `DeliveryStreamName`). A stream-sourced Firehose reports what it read
//! from the stream (`DataReadFromKinesisStream.*`); `IncomingRecords` is
//! Direct PUT's.

use super::{m, Metric, Panel, Role, Stat, Unit, When};

const F: &str = "AWS/Firehose";
const D: &str = "DeliveryStreamName";

pub const METRICS: &[Metric] = &[
    m(
        F,
        D,
        "DataReadFromKinesisStream.Records",
        Stat::Sum,
        Role::RecordsIn,
        Unit::Count,
        When::FromStream,
        Panel::Flow,
    ),
    m(F, D, "DataReadFromKinesisStream.Bytes", Stat::Sum, Role::BytesIn, Unit::Bytes, When::FromStream, Panel::None),
    m(F, D, "KinesisMillisBehindLatest", Stat::Maximum, Role::Lag, Unit::Milliseconds, When::FromStream, Panel::None),
    m(F, D, "IncomingRecords", Stat::Sum, Role::RecordsIn, Unit::Count, When::Direct, Panel::Flow),
    m(F, D, "IncomingBytes", Stat::Sum, Role::BytesIn, Unit::Bytes, When::Direct, Panel::None),
    m(F, D, "ThrottledRecords", Stat::Sum, Role::Throttled, Unit::Count, When::Direct, Panel::None),
    m(F, D, "DeliveryToS3.Records", Stat::Sum, Role::RecordsOut, Unit::Count, When::Always, Panel::Flow),
    m(F, D, "DeliveryToS3.Bytes", Stat::Sum, Role::BytesOut, Unit::Bytes, When::Always, Panel::None),
    m(F, D, "DeliveryToS3.Success", Stat::Average, Role::SuccessRatio, Unit::Ratio, When::Always, Panel::None),
    m(F, D, "DeliveryToS3.DataFreshness", Stat::Maximum, Role::Lag, Unit::Seconds, When::Always, Panel::Health),
    m(F, D, "SucceedConversion.Records", Stat::Sum, Role::Info, Unit::Count, When::Converts, Panel::Flow),
    m(F, D, "FailedConversion.Records", Stat::Sum, Role::Failed, Unit::Count, When::Converts, Panel::Health),
    m(F, D, "ExecuteProcessing.Success", Stat::Average, Role::SuccessRatio, Unit::Ratio, When::Processes, Panel::None),
    m(F, D, "SucceedProcessing.Records", Stat::Sum, Role::Info, Unit::Count, When::Processes, Panel::None),
];
