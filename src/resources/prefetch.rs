//! Before a plan's reads: list calls that each answer many resources,
//! kept in [`crate::aws::Known`] for the reads to take instead of a call
//! of their own. A listing is made only where the plan has enough of what
//! it answers to be cheaper, and one that fails (not allowed, not
//! answering) leaves those resources to their own reads: a listing only
//! ever saves calls, it never decides what exists.
//!
//! - IAM roles: GetAccountAuthorizationDetails (trust, inline policies and
//!   tags, up to 1,000 roles a page) instead of GetRole, ListRoleTags and
//!   GetRolePolicy for each role.
//! - Log groups: DescribeLogGroups by the name prefix the plan's groups
//!   share (50 a page) instead of one call a group; groups in several
//!   folders (a Firehose's and a function's) by the longest part of their
//!   own names they all hold (its `logGroupNamePattern`), one listing.
//! - Triggers: one ListEventSourceMappings of the account instead of one
//!   for each function.
//! - Functions: ListFunctions (every configuration, 50 a page) instead of
//!   GetFunction for each, when GetAccountSettings says the account
//!   reserves no concurrency for any function (ListFunctions does not show
//!   a function's; with some reserved, each function is read on its own).
//!   Their tags come from the tag listing.
//! - Glue tables: GetTables of each database holding two or more of the
//!   plan's tables (100 a page) instead of GetTable for each; a table's
//!   marker, among its parameters, says whose it is either way.
//! - Agent hosts: one DescribeInstances by the deployment's ownership tags
//!   when the agents' reads and the dashboards naming them would ask for
//!   the same hosts more than once.
//! - Alarms: DescribeAlarms naming up to 100 of them, instead of one
//!   call an alarm. It asks for exact names, so an alarm it does not
//!   return is not there, as its own call would have said.
//! - Tags of streams, Firehoses, log groups, functions, alarms, Glue
//!   databases, buckets and the deployment record: the Resource Groups
//!   Tagging API's GetResources, filtered by the deployment's ownership
//!   tags (up to 100 resources a page), instead of a ListTags call each:
//!   one listing per service with many of them, one shared by the
//!   services with a few. A resource someone else owns never carries
//!   those tags, so it is never listed and is read, and refused, the
//!   usual way.

use super::{Kind, Res, Tags};
use crate::aws::{retry, Aws, AwsError};
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

/// Resources of a kind from which a listing is cheaper than their own reads.
const MANY: usize = 4;

/// Pages a listing may take before it is given up as too broad (an
/// account with thousands of log groups under the shared prefix): the
/// resources are then read one by one.
const MAX_PAGES: usize = 20;

/// How long a listing is retried when AWS throttles or does not answer.
const PATIENCE: Duration = Duration::from_secs(30);

/// Waits for the listings a read of `kind` starts from, before the read
/// takes a permit (it holds none while waiting). The reads of streams and
/// Firehoses start with a call of their own and wait for the tag listing
/// only then (`aws.known.tags.settled()`).
pub async fn settled_for(aws: &Aws, kind: Kind) {
    let known = &aws.known;
    match kind {
        Kind::Role => known.roles.settled().await,
        Kind::LogGroup => {
            known.log_groups.settled().await;
            then_tags(known, known.log_groups.made()).await;
        }
        Kind::Trigger => {
            known.mappings.settled().await;
            then_tags(known, known.mappings.made()).await;
        }
        Kind::Alarm => {
            known.alarms.settled().await;
            then_tags(known, known.alarms.made()).await;
        }
        Kind::GlueTable => known.tables.settled().await,
        Kind::Function => {
            known.functions.settled().await;
            then_tags(known, known.functions.made()).await;
        }
        _ => {}
    }
}

/// Waits for the tag listing too when a listing answers the read's own
/// call (the read then makes no call before it needs the tags); a read
/// that makes its call waits for the tags beside it ([`super::with_tags`]).
async fn then_tags(known: &crate::aws::Known, listed: bool) {
    if listed {
        known.tags.settled().await;
    }
}

/// Makes every listing the plan's resources call for, side by side.
pub async fn prefetch(aws: &Aws, resources: &[Res]) {
    let count = |kinds: &[Kind]| resources.iter().filter(|r| kinds.contains(&r.address().kind)).count();
    let log_groups: Vec<&str> =
        resources.iter().filter(|r| r.address().kind == Kind::LogGroup).map(|r| r.name()).collect();
    let alarms: Vec<&str> = resources.iter().filter(|r| r.address().kind == Kind::Alarm).map(|r| r.name()).collect();
    let tables: Vec<crate::names::TableId> = resources
        .iter()
        .filter(|r| r.address().kind == Kind::GlueTable)
        .map(|r| crate::names::TableId::from_record(&r.record_name()))
        .collect();
    let owner = resources.first().map(|r| r.base().meta.owner().tags_without_region());
    let known = &aws.known;
    // Each listing is ended as soon as it is made (or not), so the reads
    // waiting on it start while the others go on.
    tokio::join!(
        fill(&known.roles, count(&[Kind::Role]) >= MANY, roles(aws)),
        fill(&known.log_groups, group_filters(&log_groups).len() < log_groups.len(), groups(aws, &log_groups)),
        fill(&known.mappings, count(&[Kind::Trigger]) >= MANY, mappings(aws)),
        fill(&known.functions, count(&[Kind::Function]) >= MANY, functions(aws, count(&[Kind::Function]))),
        fill(&known.tables, !databases_of_several(&tables).is_empty(), glue_tables(aws, &tables)),
        fill(&known.hosts, hosts_asked_again(&count), hosts(aws, &owner)),
        // Exact names: one call is cheaper than two of their own.
        fill(&known.alarms, alarms.len() >= 2, named_alarms(aws, &alarms)),
        async {
            tag_listings(aws, &owner, &count).await;
            known.tags.end();
        },
    );
}

/// Makes one listing when `wanted` (the future is not polled otherwise),
/// keeps what it found, and ends it either way.
async fn fill<T: Clone>(
    listing: &crate::aws::Listing<T>,
    wanted: bool,
    list: impl std::future::Future<Output = Option<HashMap<String, T>>>,
) {
    if wanted {
        if let Some(found) = list.await {
            listing.set(found);
        }
    }
    listing.end();
}

/// The tags of every kind whose reads take them from a listing: a
/// service with many resources gets a listing of its own, side by side
/// with the others (fewer pages one after another than one listing of
/// all), and the services with a few each share one listing, which
/// answers in one call what would be a tag call per resource.
async fn tag_listings(aws: &Aws, owner: &Option<Tags>, count: &impl Fn(&[Kind]) -> usize) {
    let Some(owner) = owner else { return };
    let services = [
        ("kinesis", &[Kind::Stream][..]),
        ("firehose", &[Kind::Firehose][..]),
        ("logs", &[Kind::LogGroup][..]),
        ("lambda", &[Kind::Function, Kind::Trigger][..]),
        ("cloudwatch", &[Kind::Alarm][..]),
        ("glue", &[Kind::GlueDatabase][..]),
        ("s3", &[Kind::Bucket][..]),
        ("ssm", &[Kind::Record][..]),
    ];
    let (many, few): (Vec<_>, Vec<_>) =
        services.iter().filter(|(_, kinds)| count(kinds) > 0).partition(|(_, kinds)| count(kinds) >= MANY);
    let few_resources: usize = few.iter().map(|(_, kinds)| count(kinds)).sum();
    let mut listings: Vec<Vec<&str>> = many.iter().map(|(s, _)| vec![*s]).collect();
    if few_resources >= 2 {
        listings.push(few.iter().map(|(s, _)| *s).collect());
    }
    let wanted = listings.iter().map(|services| tags(aws, owner, services));
    let mut found = HashMap::new();
    for listing in futures_util::future::join_all(wanted).await.into_iter().flatten() {
        found.extend(listing);
    }
    if !found.is_empty() {
        aws.known.tags.set(found);
    }
}

/// Sends one page's request, retrying what AWS leaves unanswered; `None`
/// when the listing cannot be had.
async fn page<T, F, Fut>(op: F) -> Option<T>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<T, AwsError>>,
{
    retry(PATIENCE, |_| false, op).await.ok()
}

/// Pages a listing to its end: `request` makes a page's call from the
/// token of the one before, `keep` takes what a page found and gives the
/// next token. `None` when a page cannot be had or the listing runs past
/// [`MAX_PAGES`].
async fn paged<P, Fut>(request: impl Fn(Option<String>) -> Fut, keep: impl FnMut(P) -> Option<String>) -> Option<()>
where
    Fut: std::future::Future<Output = Result<P, AwsError>>,
{
    paged_within(MAX_PAGES, request, keep).await
}

/// [`paged`] given up past `max_pages`.
async fn paged_within<P, Fut>(
    max_pages: usize,
    request: impl Fn(Option<String>) -> Fut,
    mut keep: impl FnMut(P) -> Option<String>,
) -> Option<()>
where
    Fut: std::future::Future<Output = Result<P, AwsError>>,
{
    let mut token = None;
    for _ in 0..max_pages {
        token = keep(page(|| request(token.clone())).await?);
        if token.is_none() {
            return Some(());
        }
    }
    None
}

async fn roles(aws: &Aws) -> Option<HashMap<String, aws_sdk_iam::types::RoleDetail>> {
    let mut found = HashMap::new();
    paged(
        |marker| {
            let req = aws.iam.get_account_authorization_details();
            let req = req.filter(aws_sdk_iam::types::EntityType::Role).max_items(1000).set_marker(marker);
            async move { crate::send!("GetAccountAuthorizationDetails", req) }
        },
        |out| {
            for r in out.role_detail_list() {
                if let Some(name) = r.role_name() {
                    found.insert(name.to_string(), r.clone());
                }
            }
            out.marker().map(str::to_string).filter(|_| out.is_truncated())
        },
    )
    .await?;
    Some(found)
}

async fn groups(aws: &Aws, names: &[&str]) -> Option<HashMap<String, aws_sdk_cloudwatchlogs::types::LogGroup>> {
    let mut found = HashMap::new();
    // Pages one after another cost more than the groups' own calls side by
    // side once they outnumber them (a pattern every env of the pipeline
    // shares, in an account with many): the groups are then read on their own.
    let pages = names.len().saturating_sub(1).clamp(1, MAX_PAGES);
    for filter in group_filters(names) {
        paged_within(
            pages,
            |token| {
                let req = aws.logs.describe_log_groups().limit(50).set_next_token(token);
                let req = match &filter {
                    GroupFilter::Prefix(p) => req.log_group_name_prefix(p),
                    GroupFilter::Pattern(p) => req.log_group_name_pattern(p),
                };
                async move { crate::send!("DescribeLogGroups", req) }
            },
            |out| {
                for g in out.log_groups() {
                    if let Some(name) = g.log_group_name() {
                        found.insert(name.to_string(), g.clone());
                    }
                }
                out.next_token().map(str::to_string)
            },
        )
        .await?;
    }
    Some(found)
}

/// How a listing of log groups picks them: by a name prefix, or by a part
/// of the name (a case-sensitive substring).
#[derive(Debug, PartialEq)]
enum GroupFilter {
    Prefix(String),
    Pattern(String),
}

/// The fewest listings that answer every group: one by the part of their
/// names they all hold when they are in several folders and share one,
/// else one by the shared prefix of each folder's.
fn group_filters(names: &[&str]) -> Vec<GroupFilter> {
    let prefixes = shared_prefixes(names);
    if prefixes.len() > 1 {
        if let Some(p) = shared_part(names) {
            return vec![GroupFilter::Pattern(p)];
        }
    }
    prefixes.into_iter().map(GroupFilter::Prefix).collect()
}

/// A pattern shorter than this would list too much of an account.
const MIN_PATTERN: usize = 6;

/// The longest part of every name's last segment (after its folder) that
/// all of them hold, when it is long enough to pick out the deployment's
/// groups and made only of what a pattern may hold.
fn shared_part(names: &[&str]) -> Option<String> {
    let own: Vec<&str> = names.iter().map(|n| n.rsplit('/').next().unwrap_or(n)).collect();
    let allowed = |c: char| c.is_ascii_alphanumeric() || ".-_#".contains(c);
    if own.iter().any(|n| !n.chars().all(allowed)) {
        return None;
    }
    let shortest = own.iter().min_by_key(|n| n.len())?;
    (MIN_PATTERN..=shortest.len()).rev().find_map(|len| {
        (0..=shortest.len() - len)
            .map(|at| &shortest[at..at + len])
            .find(|part| own.iter().all(|n| n.contains(part)))
            .map(str::to_string)
    })
}

/// The fewest name prefixes that cover every name without reaching into
/// other folders: names grouped by their folder (up to the last `/`),
/// each group's longest common prefix.
fn shared_prefixes(names: &[&str]) -> Vec<String> {
    let mut by_folder: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for n in names {
        let folder = n.rfind('/').map_or("", |i| &n[..=i]);
        by_folder.entry(folder).or_default().push(n);
    }
    by_folder.into_values().map(|group| common_prefix(&group)).collect()
}

/// The longest prefix every name starts with, cut between characters.
pub(super) fn common_prefix(names: &[&str]) -> String {
    let Some(first) = names.first() else { return String::new() };
    let mut common: Vec<char> = first.chars().collect();
    for n in &names[1..] {
        let same = common.iter().zip(n.chars()).take_while(|(a, b)| **a == *b).count();
        common.truncate(same);
    }
    common.into_iter().collect()
}

async fn mappings(aws: &Aws) -> Option<HashMap<String, Vec<aws_sdk_lambda::types::EventSourceMappingConfiguration>>> {
    let mut found: HashMap<String, Vec<_>> = HashMap::new();
    paged(
        |marker| {
            let req = aws.lambda.list_event_source_mappings().max_items(1000).set_marker(marker);
            async move { crate::send!("ListEventSourceMappings", req) }
        },
        |out| {
            for m in out.event_source_mappings() {
                if let Some(function) = m.function_arn().and_then(function_name) {
                    found.entry(function.to_string()).or_default().push(m.clone());
                }
            }
            out.next_marker().map(str::to_string)
        },
    )
    .await?;
    Some(found)
}

/// Every function's configuration by name, when the account reserves no
/// concurrency for any of them (the listing does not show a function's
/// own): the account's limit and its unreserved concurrency, asked beside
/// the listing, are then equal.
/// Given up once its pages would outnumber the plan's functions (an
/// account holding many more): they are then read on their own.
async fn functions(aws: &Aws, wanted: usize) -> Option<HashMap<String, aws_sdk_lambda::types::FunctionConfiguration>> {
    let settings = page(|| async { crate::send!("GetAccountSettings", aws.lambda.get_account_settings()) });
    let mut found = HashMap::new();
    let listing = paged_within(
        wanted.saturating_sub(2).clamp(1, MAX_PAGES),
        |marker| {
            let req = aws.lambda.list_functions().max_items(50).set_marker(marker);
            async move { crate::send!("ListFunctions", req) }
        },
        |out| {
            for f in out.functions() {
                if let Some(name) = f.function_name() {
                    found.insert(name.to_string(), f.clone());
                }
            }
            out.next_marker().map(str::to_string)
        },
    );
    let (settings, listed) = tokio::join!(settings, listing);
    listed?;
    reserves_none(settings?.account_limit()?).then_some(found)
}

/// Whether no function of the account reserves concurrency: what is left
/// unreserved is the whole limit.
fn reserves_none(limit: &aws_sdk_lambda::types::AccountLimit) -> bool {
    limit.unreserved_concurrent_executions() == Some(limit.concurrent_executions())
}

/// The databases holding two or more of these tables: one GetTables each
/// answers them.
fn databases_of_several(tables: &[crate::names::TableId]) -> Vec<&str> {
    let mut by_database: BTreeMap<&str, usize> = BTreeMap::new();
    for t in tables {
        *by_database.entry(t.database.as_str()).or_default() += 1;
    }
    by_database.into_iter().filter(|(_, n)| *n >= 2).map(|(d, _)| d).collect()
}

/// The tables of each database holding several of the plan's, by
/// `database/table`, the databases side by side.
async fn glue_tables(
    aws: &Aws,
    tables: &[crate::names::TableId],
) -> Option<HashMap<String, aws_sdk_glue::types::Table>> {
    let listings = databases_of_several(tables).into_iter().map(|database| async move {
        let mut found = HashMap::new();
        paged(
            |token| {
                let req = aws.glue.get_tables().database_name(database).max_results(100).set_next_token(token);
                async move { crate::send!("GetTables", req) }
            },
            |out| {
                for t in out.table_list() {
                    let id = crate::names::TableId { database: database.to_string(), table: t.name().to_string() };
                    found.insert(id.to_record(), t.clone());
                }
                out.next_token().map(str::to_string)
            },
        )
        .await?;
        Some(found)
    });
    let mut found = HashMap::new();
    for listing in futures_util::future::join_all(listings).await {
        found.extend(listing?);
    }
    Some(found)
}

/// Whether hosts would be looked up more than once: by two agents' reads,
/// or by an agent's and a dashboard's.
fn hosts_asked_again(count: &impl Fn(&[Kind]) -> usize) -> bool {
    count(&[Kind::Agent]) >= 1 && count(&[Kind::Agent, Kind::Dashboard]) >= 2
}

/// The deployment's live hosts by their address tag; an address with more
/// than one is left out.
async fn hosts(aws: &Aws, owner: &Option<Tags>) -> Option<HashMap<String, aws_sdk_ec2::types::Instance>> {
    use super::ec2::{filter, LIVE, TAG_ADDRESS};
    let owner = owner.as_ref()?;
    let mut found: HashMap<String, Vec<aws_sdk_ec2::types::Instance>> = HashMap::new();
    paged(
        |token| {
            let mut req = aws.ec2.describe_instances().filters(filter("instance-state-name", &LIVE));
            for (k, v) in owner {
                req = req.filters(filter(&format!("tag:{k}"), &[v.as_str()]));
            }
            let req = req.max_results(1000).set_next_token(token);
            async move { crate::send!("DescribeInstances", req) }
        },
        |out| {
            for i in out.reservations().iter().flat_map(|r| r.instances()) {
                let address = i.tags().iter().find(|t| t.key() == Some(TAG_ADDRESS)).and_then(|t| t.value());
                if let Some(address) = address {
                    found.entry(address.to_string()).or_default().push(i.clone());
                }
            }
            out.next_token().map(str::to_string)
        },
    )
    .await?;
    Some(found.into_iter().filter(|(_, hosts)| hosts.len() == 1).map(|(a, mut hosts)| (a, hosts.remove(0))).collect())
}

/// The alarms with these names, 100 to a call side by side, and `None`
/// for each name no answer holds.
async fn named_alarms(
    aws: &Aws,
    names: &[&str],
) -> Option<HashMap<String, Option<aws_sdk_cloudwatch::types::MetricAlarm>>> {
    let calls = names.chunks(100).map(|chunk| {
        let req = aws.cloudwatch.describe_alarms().set_alarm_names(Some(chunk.iter().map(|n| n.to_string()).collect()));
        let req = req.max_records(100);
        page(move || {
            let req = req.clone();
            async move { crate::send!("DescribeAlarms", req) }
        })
    });
    let mut found: HashMap<String, Option<_>> = names.iter().map(|n| (n.to_string(), None)).collect();
    for out in futures_util::future::join_all(calls).await {
        for a in out?.metric_alarms() {
            if let Some(slot) = a.alarm_name().and_then(|n| found.get_mut(n)) {
                *slot = Some(a.clone());
            }
        }
    }
    Some(found)
}

/// The function's name in its ARN (`...:function:NAME[:QUALIFIER]`).
fn function_name(arn: &str) -> Option<&str> {
    let rest = arn.split(":function:").nth(1)?;
    Some(rest.split(':').next().unwrap_or(rest))
}

async fn tags(aws: &Aws, owner: &Tags, services: &[&str]) -> Option<HashMap<String, Tags>> {
    use aws_sdk_resourcegroupstagging::types::TagFilter;
    let filters: Vec<TagFilter> = owner.iter().map(|(k, v)| TagFilter::builder().key(k).values(v).build()).collect();
    let mut found = HashMap::new();
    paged(
        |token| {
            let req = aws.tagging.get_resources().set_tag_filters(Some(filters.clone()));
            let req = req.set_resource_type_filters(Some(services.iter().map(|s| s.to_string()).collect()));
            let req = req.resources_per_page(100).tags_per_page(500).set_pagination_token(token);
            async move { crate::send!("GetResources", req) }
        },
        |out| {
            for r in out.resource_tag_mapping_list() {
                if let Some(arn) = r.resource_arn() {
                    let tags: Tags = r.tags().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect();
                    found.insert(arn.strip_suffix(":*").unwrap_or(arn).to_string(), tags);
                }
            }
            out.pagination_token().filter(|t| !t.is_empty()).map(str::to_string)
        },
    )
    .await?;
    Some(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_stay_in_their_folder() {
        let names = [
            "/aws/lambda/bench-dev-c000",
            "/aws/lambda/bench-dev-c001",
            "/aws/lambda/bench-dev-c010",
            "/aws/kinesisfirehose/bench-dev-f000",
            "/aws/kinesisfirehose/bench-dev-f001",
            "/aws/p/raw",
            "/aws/p/to-lake",
        ];
        assert_eq!(
            shared_prefixes(&names),
            ["/aws/kinesisfirehose/bench-dev-f00", "/aws/lambda/bench-dev-c0", "/aws/p/"]
        );
    }

    #[test]
    fn groups_in_several_folders_are_listed_by_the_part_their_names_share() {
        let lab = [
            "/aws/kinesisfirehose/taxi-lab-raw-dev",
            "/aws/kinesisfirehose/taxi-lab-to-lake-dev",
            "/aws/lambda/taxi-lab-consumer-dev",
        ];
        assert_eq!(group_filters(&lab), [GroupFilter::Pattern("taxi-lab-".into())]);
        // One folder: its prefix, which is anchored.
        let one = ["/aws/lambda/p-e-c0", "/aws/lambda/p-e-c1"];
        assert_eq!(group_filters(&one), [GroupFilter::Prefix("/aws/lambda/p-e-c".into())]);
        // Too little in common, or what a pattern cannot hold: a prefix each.
        let apart = ["/aws/lambda/abc-one", "/aws/kinesisfirehose/xyz-two"];
        assert_eq!(group_filters(&apart).len(), 2);
        assert_eq!(shared_part(&["/a/ümlaut-long-1", "/b/ümlaut-long-2"]), None);
        assert_eq!(shared_part(&["/a/x-shared-1", "/b/y-shared-2"]), Some("-shared-".into()));
        assert_eq!(shared_part(&[]), None);
    }

    #[test]
    fn a_lone_name_is_its_own_prefix_and_multibyte_names_cut_whole() {
        assert_eq!(shared_prefixes(&["/a/ümlaut-1"]), ["/a/ümlaut-1"]);
        assert_eq!(shared_prefixes(&["/a/üa", "/a/üb"]), ["/a/ü"]);
        assert_eq!(shared_prefixes(&["plain", "plane"]), ["pla"]);
    }

    #[test]
    fn functions_are_listed_only_when_no_concurrency_is_reserved() {
        use aws_sdk_lambda::types::AccountLimit;
        let limit = |total, unreserved: Option<i32>| {
            AccountLimit::builder()
                .concurrent_executions(total)
                .set_unreserved_concurrent_executions(unreserved)
                .build()
        };
        assert!(reserves_none(&limit(1000, Some(1000))));
        assert!(!reserves_none(&limit(1000, Some(995))), "some function reserves 5");
        assert!(!reserves_none(&limit(1000, None)), "not said: not known");
    }

    #[test]
    fn tables_are_listed_by_the_databases_holding_several() {
        let ids: Vec<crate::names::TableId> = ["lake/a", "lake/b", "other/c", "third/d", "third/e"]
            .iter()
            .map(|r| crate::names::TableId::from_record(r))
            .collect();
        assert_eq!(databases_of_several(&ids), ["lake", "third"]);
        assert!(databases_of_several(&ids[2..3]).is_empty());
    }

    #[test]
    fn a_function_is_named_by_its_arn_with_or_without_qualifier() {
        assert_eq!(function_name("arn:aws:lambda:us-east-1:1:function:f"), Some("f"));
        assert_eq!(function_name("arn:aws:lambda:us-east-1:1:function:f:live"), Some("f"));
        assert_eq!(function_name("arn:aws:s3:::b"), None);
    }
}
