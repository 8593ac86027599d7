//! Lambda's runtimes: every name its API knows, the dates of each one's
//! deprecation (Lambda deprecates in phases: a date it stops patching it,
//! a later one it refuses to create functions with it, a later one it
//! refuses to update them; invocations go on), and what to suggest
//! instead: the successor of a deprecated runtime, the newest of the same
//! language for a name Lambda never had (`python3.16` → `python3.14`).
//!
//! A runtime Lambda knows is never an error here, only a warning when it
//! is deprecated: the dates move (AWS pushed most block dates to 2027 in
//! 2026), and a spec of functions already deployed must still plan,
//! apply what Lambda allows, and destroy.
//!
//! Sources, to update together:
//! - the names: the `Runtime` enum of Lambda's API model
//!   (`aws-sdk-lambda` 1.156, `types::Runtime`); a unit test checks
//!   [`KNOWN`] against it;
//! - the dates: the AWS Lambda developer guide, "Lambda runtimes"
//!   (<https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html>),
//!   as transcribed by cfn-lint (`LmbdRuntimeLifecycle.json`, pull request
//!   aws-cloudformation/cfn-lint#4532 of 2026-06-02), [`AS_OF`].

use crate::diag::did_you_mean;

/// The date of the lifecycle table below.
pub const AS_OF: &str = "2026-06-02";

/// One runtime's documented lifecycle (ISO dates).
#[derive(Debug, Clone, Copy)]
pub struct Life {
    pub name: &'static str,
    pub deprecated: &'static str,
    pub block_create: &'static str,
    pub block_update: &'static str,
}

const fn life(
    name: &'static str,
    deprecated: &'static str,
    block_create: &'static str,
    block_update: &'static str,
) -> Life {
    Life { name, deprecated, block_create, block_update }
}

/// Every runtime in Lambda's documented tables, with its dates.
pub const LIFECYCLE: &[Life] = &[
    life("python3.14", "2029-06-30", "2029-07-31", "2029-08-31"),
    life("python3.13", "2029-06-30", "2029-07-31", "2029-08-31"),
    life("python3.12", "2028-10-31", "2028-11-30", "2029-01-10"),
    life("python3.11", "2027-06-30", "2027-07-31", "2027-08-31"),
    life("python3.10", "2026-10-31", "2027-02-01", "2027-03-03"),
    life("python3.9", "2025-12-15", "2027-02-01", "2027-03-03"),
    life("python3.8", "2024-10-14", "2027-02-01", "2027-03-03"),
    life("python3.7", "2023-12-04", "2024-01-09", "2027-03-03"),
    life("python3.6", "2022-07-18", "2022-07-18", "2022-08-29"),
    life("python2.7", "2021-07-15", "2021-07-15", "2022-05-30"),
    life("nodejs24.x", "2028-04-30", "2028-06-01", "2028-07-01"),
    life("nodejs22.x", "2027-04-30", "2027-06-01", "2027-07-01"),
    life("nodejs20.x", "2026-04-30", "2027-02-01", "2027-03-03"),
    life("nodejs18.x", "2025-09-01", "2027-02-01", "2027-03-03"),
    life("nodejs16.x", "2024-06-12", "2027-02-01", "2027-03-03"),
    life("nodejs14.x", "2023-12-04", "2024-01-09", "2027-03-03"),
    life("nodejs12.x", "2023-03-31", "2023-03-31", "2023-04-30"),
    life("nodejs10.x", "2021-07-30", "2021-07-30", "2022-02-14"),
    life("nodejs8.10", "2020-03-06", "2020-02-04", "2020-03-06"),
    life("nodejs6.10", "2019-08-12", "2019-07-12", "2019-08-12"),
    life("nodejs4.3", "2020-03-05", "2020-02-03", "2020-03-05"),
    life("nodejs4.3-edge", "2020-03-05", "2019-03-31", "2019-04-30"),
    life("nodejs", "2016-08-30", "2016-09-30", "2016-10-31"),
    life("java25", "2029-06-30", "2029-07-31", "2029-08-31"),
    life("java21", "2029-06-30", "2029-07-31", "2029-08-31"),
    life("java17", "2027-06-30", "2027-07-31", "2027-08-31"),
    life("java11", "2027-06-30", "2027-07-31", "2027-08-31"),
    life("java8.al2", "2027-06-30", "2027-07-31", "2027-08-31"),
    life("java8", "2024-01-08", "2024-02-08", "2027-03-03"),
    life("dotnet10", "2028-11-14", "2028-12-14", "2029-01-15"),
    life("dotnet8", "2026-11-10", "2027-02-01", "2027-03-03"),
    life("dotnet6", "2024-12-20", "2027-02-01", "2027-03-03"),
    life("dotnetcore3.1", "2023-04-03", "2023-04-03", "2023-05-03"),
    life("dotnetcore2.1", "2022-01-05", "2022-01-05", "2022-04-13"),
    life("dotnetcore2.0", "2019-05-30", "2019-04-30", "2019-05-30"),
    life("dotnetcore1.0", "2019-06-27", "2019-06-30", "2019-07-30"),
    life("ruby4.0", "2029-03-31", "2029-04-30", "2029-05-31"),
    life("ruby3.4", "2028-03-31", "2028-04-30", "2028-05-31"),
    life("ruby3.3", "2027-03-31", "2027-04-30", "2027-05-31"),
    life("ruby3.2", "2026-03-31", "2027-02-01", "2027-03-03"),
    life("ruby2.7", "2023-12-07", "2024-01-09", "2027-03-03"),
    life("ruby2.5", "2021-07-30", "2021-07-30", "2022-03-31"),
    life("provided.al2023", "2029-06-30", "2029-07-31", "2029-08-31"),
    life("provided.al2", "2026-07-31", "2027-02-01", "2027-03-03"),
    life("provided", "2024-01-08", "2024-02-08", "2027-03-03"),
    life("go1.x", "2024-01-08", "2024-02-08", "2027-03-03"),
];

/// Every runtime name Lambda's API takes: the documented ones and those
/// its model lists before the guide does (announced, or in preview).
pub const KNOWN: &[&str] = &[
    "python3.14",
    "python3.13",
    "python3.12",
    "python3.11",
    "python3.10",
    "python3.9",
    "python3.8",
    "python3.7",
    "python3.6",
    "python2.7",
    "nodejs24.x",
    "nodejs22.x",
    "nodejs20.x",
    "nodejs18.x",
    "nodejs16.x",
    "nodejs14.x",
    "nodejs12.x",
    "nodejs10.x",
    "nodejs8.10",
    "nodejs6.10",
    "nodejs4.3",
    "nodejs4.3-edge",
    "nodejs",
    "java25",
    "java21",
    "java17",
    "java11",
    "java8.al2",
    "java8",
    "dotnet10",
    "dotnet8",
    "dotnet6",
    "dotnetcore3.1",
    "dotnetcore2.1",
    "dotnetcore2.0",
    "dotnetcore1.0",
    "ruby4.0",
    "ruby3.4",
    "ruby3.3",
    "ruby3.2",
    "ruby2.7",
    "ruby2.5",
    "provided.al2023",
    "provided.al2",
    "provided",
    "go1.x",
    // In the API model, not (yet) in the guide's tables.
    "python3.15",
    "nodejs26.x",
    "java17.al2023",
    "java11.al2023",
    "java8.al2023",
];

/// What the spec's runtime gets: a warning (the command goes on) or an
/// error (Lambda has no such runtime), with what to use instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub error: bool,
    pub message: String,
    pub label: &'static str,
    pub hint: String,
}

/// Today's date (UTC), `YYYY-MM-DD`.
pub fn today() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()[..10].to_string()
}

/// `None` when Lambda takes `runtime` and has not deprecated it by `today`
/// (`YYYY-MM-DD`); a warning when it is deprecated or not yet documented;
/// an error when Lambda's API has no such runtime.
pub fn check(runtime: &str, today: &str) -> Option<Finding> {
    if let Some(l) = LIFECYCLE.iter().find(|l| l.name == runtime) {
        if l.deprecated > today {
            return None;
        }
        let successor = successor(runtime);
        let phase = |date: &str, what: &str| match date <= today {
            true => format!("Lambda has refused to {what} functions with it since {date}"),
            false => format!("Lambda refuses to {what} functions with it from {date}"),
        };
        return Some(Finding {
            error: false,
            message: format!(
                "runtime `{runtime}` is deprecated since {}: {}, and to update them {}; deployed functions still run",
                l.deprecated,
                phase(l.block_create, "create"),
                match l.block_update <= today {
                    true => format!("since {}", l.block_update),
                    false => format!("from {}", l.block_update),
                }
            ),
            label: "deprecated",
            hint: format!(
                "move to `{successor}`, the newest {} runtime (dates as of {AS_OF}, Lambda's runtime table)",
                family(runtime)
            ),
        });
    }
    let family = family(runtime);
    let newest = newest_of(family, today);
    if KNOWN.contains(&runtime) {
        let instead = newest.map_or_else(String::new, |n| format!("`{n}` is the newest documented {family} runtime; "));
        return Some(Finding {
            error: false,
            message: format!(
                "runtime `{runtime}` is in Lambda's API but not in its documented runtimes (as of {AS_OF}): \
                 it may not be available yet"
            ),
            label: "not documented yet",
            hint: format!("{instead}check the Lambda runtimes page"),
        });
    }
    if let Some(newest) = newest {
        let message = match version(runtime) > version(newest) {
            true => format!(
                "runtime `{runtime}` is not supported by Lambda (yet): the newest {family} runtime is `{newest}`"
            ),
            false => format!("runtime `{runtime}` is not a {family} runtime Lambda has"),
        };
        return Some(Finding {
            error: true,
            message,
            label: "not a runtime Lambda has",
            hint: format!("use `{newest}`, the newest {family} runtime (Lambda's runtime table of {AS_OF})"),
        });
    }
    let all = current(today).collect::<Vec<_>>();
    let hint = match did_you_mean(runtime, KNOWN.iter().copied()) {
        Some(m) => format!("did you mean `{m}`? current: {}", all.join(", ")),
        None => format!("current runtimes: {}", all.join(", ")),
    };
    Some(Finding {
        error: true,
        message: format!("runtime `{}` is not a Lambda runtime", crate::diag::value::short(runtime)),
        label: "not a runtime Lambda has",
        hint,
    })
}

/// The documented runtimes not deprecated by `today`, oldest first.
fn current(today: &str) -> impl Iterator<Item = &'static str> + '_ {
    LIFECYCLE.iter().rev().filter(move |l| l.deprecated > today).map(|l| l.name)
}

/// What to move `runtime` to: the newest documented runtime of its
/// language (the one deprecated last).
pub fn successor(runtime: &str) -> &'static str {
    let family = family(runtime);
    LIFECYCLE
        .iter()
        .filter(|l| self::family(l.name) == family)
        .max_by_key(|l| (l.deprecated, version(l.name)))
        .map_or("", |l| l.name)
}

/// The language of a runtime: its name up to the first digit or `.`,
/// with the old names of a language under the new (`dotnetcore` is
/// `dotnet`, `go` ran on what is now `provided`).
pub fn family(runtime: &str) -> &str {
    let end = runtime.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(runtime.len());
    match &runtime[..end] {
        "dotnetcore" => "dotnet",
        "go" => "provided",
        f => f,
    }
}

/// The numbers of a runtime's version, for ordering (`python3.9` < `python3.14`,
/// `provided.al2` < `provided.al2023`).
fn version(runtime: &str) -> Vec<u64> {
    runtime.split(|c: char| !c.is_ascii_digit()).filter(|p| !p.is_empty()).filter_map(|p| p.parse().ok()).collect()
}

/// The newest documented runtime of `family` not deprecated by `today`.
pub fn newest_of(family: &str, today: &str) -> Option<&'static str> {
    current(today).filter(|r| self::family(r) == family).max_by_key(|r| version(r))
}

#[cfg(test)]
#[path = "runtimes_tests.rs"]
mod tests;
