//! A Lambda function's metrics (AWS/Lambda, by `FunctionName`).
//! `IteratorAge` is reported only for invocations by a stream's event
//! source mapping.

use super::{m, Metric, Panel, Role, Stat, Unit, When};

const L: &str = "AWS/Lambda";
const D: &str = "FunctionName";

pub const METRICS: &[Metric] = &[
    m(L, D, "Invocations", Stat::Sum, Role::RecordsIn, Unit::Count, When::Always, Panel::Flow),
    m(L, D, "Errors", Stat::Sum, Role::Failed, Unit::Count, When::Always, Panel::Flow),
    m(L, D, "Throttles", Stat::Sum, Role::Throttled, Unit::Count, When::Always, Panel::None),
    m(L, D, "Duration", Stat::Maximum, Role::Info, Unit::Milliseconds, When::Always, Panel::Health),
    m(L, D, "IteratorAge", Stat::Maximum, Role::Lag, Unit::Milliseconds, When::Triggered, Panel::Health),
];
