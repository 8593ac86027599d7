//! What names a resource: its [`Kind`] and its [`Address`] (`kind.key`),
//! the words the graph, the plan, the record and every command share.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Record,
    Bucket,
    Stream,
    GlueDatabase,
    GlueTable,
    Role,
    LogGroup,
    Firehose,
    Function,
    Trigger,
    Network,
    InstanceProfile,
    SecurityGroup,
    Agent,
    Dashboard,
    Alarm,
    MetricFilter,
}

impl Kind {
    pub const ALL: [Kind; 17] = [
        Kind::Record,
        Kind::Bucket,
        Kind::Stream,
        Kind::GlueDatabase,
        Kind::GlueTable,
        Kind::Role,
        Kind::LogGroup,
        Kind::Firehose,
        Kind::Function,
        Kind::Trigger,
        Kind::Network,
        Kind::InstanceProfile,
        Kind::SecurityGroup,
        Kind::Agent,
        Kind::Dashboard,
        Kind::Alarm,
        Kind::MetricFilter,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Record => "record",
            Kind::Bucket => "bucket",
            Kind::Stream => "stream",
            Kind::GlueDatabase => "glue_database",
            Kind::GlueTable => "glue_table",
            Kind::Role => "role",
            Kind::LogGroup => "log_group",
            Kind::Firehose => "firehose",
            Kind::Function => "function",
            Kind::Trigger => "trigger",
            Kind::Network => "network",
            Kind::InstanceProfile => "instance_profile",
            Kind::SecurityGroup => "security_group",
            Kind::Agent => "agent",
            Kind::Dashboard => "dashboard",
            Kind::Alarm => "alarm",
            Kind::MetricFilter => "metric_filter",
        }
    }

    /// The one ranking of kinds for deletion where no graph edge orders
    /// two resources (orphans, and destroy from the record alone):
    /// producers first, data last, the record after everything.
    pub fn destroy_rank(self) -> u8 {
        match self {
            Kind::Agent => 0,
            Kind::Trigger => 1,
            Kind::Alarm | Kind::Dashboard | Kind::MetricFilter => 2,
            Kind::Function | Kind::Firehose => 3,
            Kind::InstanceProfile | Kind::SecurityGroup => 4,
            Kind::Network => 5,
            Kind::Stream | Kind::GlueTable => 6,
            Kind::GlueDatabase | Kind::Role | Kind::LogGroup => 7,
            Kind::Bucket => 8,
            Kind::Record => 9,
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The kind a `${section.key...}` reference names.
    pub(super) fn of_section(section: &str) -> Option<Kind> {
        Some(match section {
            "buckets" => Kind::Bucket,
            "streams" => Kind::Stream,
            "databases" => Kind::GlueDatabase,
            "tables" => Kind::GlueTable,
            "firehoses" => Kind::Firehose,
            "functions" => Kind::Function,
            "agents" => Kind::Agent,
            "networks" => Kind::Network,
            "dashboards" => Kind::Dashboard,
            "alarms" => Kind::Alarm,
            "metric_filters" => Kind::MetricFilter,
            _ => return None,
        })
    }
}

/// `kind.key`, e.g. `firehose.to-lake` or `role.firehose-to-lake`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Address {
    pub kind: Kind,
    pub key: String,
}

impl Address {
    pub fn new(kind: Kind, key: impl Into<String>) -> Self {
        Address { kind, key: key.into() }
    }

    pub fn parse(s: &str) -> Option<Address> {
        let (kind, key) = s.split_once('.')?;
        Some(Address::new(Kind::parse(kind)?, key))
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.kind.as_str(), self.key)
    }
}
