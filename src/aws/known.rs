//! What list calls answered for many resources at once, kept for the
//! reads of one plan ([`Known`]).

/// One listing's answers by key (a name or an ARN), or nothing when the
/// listing was not made; and whether it has ended, for reads that wait
/// for it ([`Listing::settled`]).
pub struct Listing<T> {
    found: std::sync::RwLock<Option<std::sync::Arc<std::collections::HashMap<String, T>>>>,
    done: tokio::sync::watch::Sender<bool>,
}

impl<T> Default for Listing<T> {
    fn default() -> Self {
        Listing { found: std::sync::RwLock::new(None), done: tokio::sync::watch::Sender::new(true) }
    }
}

impl<T: Clone> Listing<T> {
    pub fn get(&self, key: &str) -> Option<T> {
        self.found.read().expect("listing lock").as_ref().and_then(|m| m.get(key).cloned())
    }

    /// Whether the listing was made (it answers for what it found).
    pub fn made(&self) -> bool {
        self.found.read().expect("listing lock").is_some()
    }

    pub fn set(&self, found: std::collections::HashMap<String, T>) {
        *self.found.write().expect("listing lock") = Some(std::sync::Arc::new(found));
    }

    /// Says the listing is being made: [`Listing::settled`] waits from now.
    fn begin(&self) {
        self.done.send_replace(false);
    }

    /// Says the listing has ended, made or not.
    pub fn end(&self) {
        self.done.send_replace(true);
    }

    /// Waits until the listing, if one is being made, has ended.
    pub async fn settled(&self) {
        let mut done = self.done.subscribe();
        let _ = done.wait_for(|d| *d).await;
    }

    fn clear(&self) {
        self.end();
        *self.found.write().expect("listing lock") = None;
    }
}

/// What one list call answered for many resources, taken by their reads
/// instead of a call each ([`crate::resources::prefetch`]). It holds only
/// what was found: a resource not in it is read the usual way (a listing
/// may not yet show what was created a moment ago).
#[derive(Default)]
pub struct Known {
    /// IAM roles by name, from GetAccountAuthorizationDetails: trust,
    /// inline policies and tags in one answer.
    pub roles: Listing<aws_sdk_iam::types::RoleDetail>,
    /// Log groups by name, from DescribeLogGroups by name prefix.
    pub log_groups: Listing<aws_sdk_cloudwatchlogs::types::LogGroup>,
    /// Event source mappings by function name, from one
    /// ListEventSourceMappings of the account.
    pub mappings: Listing<Vec<aws_sdk_lambda::types::EventSourceMappingConfiguration>>,
    /// The tags of the deployment's resources by ARN, from the Resource
    /// Groups Tagging API filtered by the deployment's ownership tags:
    /// only what carries them (an unowned resource is never listed).
    pub tags: Listing<crate::plan::state::Tags>,
    /// Alarms by name, from DescribeAlarms naming them all: every name
    /// asked has an entry, `None` for an alarm that is not there (the
    /// answer the alarm's own DescribeAlarms would give).
    pub alarms: Listing<Option<aws_sdk_cloudwatch::types::MetricAlarm>>,
    /// Functions' configurations by name, from ListFunctions; made only
    /// when the account reserves no concurrency (GetAccountSettings), which
    /// the listing does not show.
    pub functions: Listing<aws_sdk_lambda::types::FunctionConfiguration>,
    /// Glue tables by `database/table`, from GetTables of each database
    /// holding several of the plan's tables.
    pub tables: Listing<aws_sdk_glue::types::Table>,
    /// The deployment's live hosts by their `pipectl:address` tag, from one
    /// DescribeInstances by the ownership tags: the agents' reads and the
    /// dashboards naming them ask for the same hosts. An address with two
    /// live hosts is left out (its own read finds both).
    pub hosts: Listing<aws_sdk_ec2::types::Instance>,
}

impl Known {
    /// Says listings are being made: each read that may take an answer
    /// from one waits for it ([`Listing::settled`]) until it is ended.
    pub fn begin(&self) {
        self.roles.begin();
        self.log_groups.begin();
        self.mappings.begin();
        self.tags.begin();
        self.alarms.begin();
        self.functions.begin();
        self.tables.begin();
        self.hosts.begin();
    }

    /// The tags of the resource with this ARN, when the tag listing holds
    /// them. A log group's ARN is taken with or without its `:*`.
    pub fn tags(&self, arn: &str) -> Option<crate::plan::Tags> {
        self.tags.get(arn.strip_suffix(":*").unwrap_or(arn))
    }

    /// Ends every listing, made or not (also when the listing task
    /// stopped short): nothing waits for them any more.
    pub fn end(&self) {
        self.roles.end();
        self.log_groups.end();
        self.mappings.end();
        self.tags.end();
        self.alarms.end();
        self.functions.end();
        self.tables.end();
        self.hosts.end();
    }

    /// Forgets every listing: reads after a plan's (while changing AWS)
    /// must see AWS as it is now.
    pub fn clear(&self) {
        self.roles.clear();
        self.log_groups.clear();
        self.mappings.clear();
        self.tags.clear();
        self.alarms.clear();
        self.functions.clear();
        self.tables.clear();
        self.hosts.clear();
    }
}
