//! Lambda's runtimes: the ones it creates functions with now, the ones it
//! retired, and what to suggest for a runtime it does not take: the newest
//! of the same language (`python3.15` → `python3.14`), or the successor of
//! a deprecated one (`nodejs16.x` → `nodejs24.x`).
//!
//! Source: the AWS Lambda developer guide, "Lambda runtimes"
//! (<https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html>),
//! its supported and deprecated tables as published in February 2026
//! (Python 3.14, Node.js 24 and Java 25 added in November 2025, .NET 10 in
//! January 2026; Node.js 18 deprecated September 2025, Python 3.9 December
//! 2025). Update both lists together from that page.

use crate::diag::did_you_mean;

/// Runtimes Lambda accepts for new functions.
pub const SUPPORTED: &[&str] = &[
    "python3.10",
    "python3.11",
    "python3.12",
    "python3.13",
    "python3.14",
    "nodejs20.x",
    "nodejs22.x",
    "nodejs24.x",
    "java11",
    "java17",
    "java21",
    "java25",
    "dotnet8",
    "dotnet10",
    "ruby3.3",
    "ruby3.4",
    "provided.al2",
    "provided.al2023",
];

/// Runtimes Lambda has retired: it no longer creates functions with them.
pub const DEPRECATED: &[&str] = &[
    "python2.7",
    "python3.6",
    "python3.7",
    "python3.8",
    "python3.9",
    "nodejs",
    "nodejs4.3",
    "nodejs4.3-edge",
    "nodejs6.10",
    "nodejs8.10",
    "nodejs10.x",
    "nodejs12.x",
    "nodejs14.x",
    "nodejs16.x",
    "nodejs18.x",
    "java8",
    "java8.al2",
    "dotnetcore1.0",
    "dotnetcore2.0",
    "dotnetcore2.1",
    "dotnetcore3.1",
    "dotnet6",
    "dotnet7",
    "ruby2.5",
    "ruby2.7",
    "ruby3.2",
    "go1.x",
    "provided",
];

/// Why a runtime is refused, with what to use instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub message: String,
    pub hint: String,
}

/// `None` when Lambda takes `runtime`, else why not and what to use.
pub fn check(runtime: &str) -> Option<Refusal> {
    if SUPPORTED.contains(&runtime) {
        return None;
    }
    let family = family(runtime);
    let newest = newest_of(family);
    let same: Vec<&str> = SUPPORTED.iter().copied().filter(|r| self::family(r) == family).collect();
    if DEPRECATED.contains(&runtime) {
        let successor = newest.map_or_else(String::new, |n| format!("use `{n}`, the newest {family} runtime; "));
        return Some(Refusal {
            message: format!("runtime `{runtime}` is deprecated: Lambda no longer creates functions with it"),
            hint: format!("{successor}supported: {}", list(&same)),
        });
    }
    if let Some(newest) = newest {
        let message = match version(runtime) > version(newest) {
            true => format!(
                "runtime `{runtime}` is not supported by Lambda (yet): the newest {family} runtime is `{newest}`"
            ),
            false => format!("runtime `{runtime}` is not a {family} runtime Lambda supports"),
        };
        return Some(Refusal {
            message,
            hint: format!("use `{newest}`; {family} runtimes Lambda supports: {}", list(&same)),
        });
    }
    let hint = match did_you_mean(runtime, SUPPORTED.iter().copied()) {
        Some(m) => format!("did you mean `{m}`? supported: {}", list(SUPPORTED)),
        None => format!("supported: {}", list(SUPPORTED)),
    };
    Some(Refusal { message: format!("runtime `{}` is not a Lambda runtime", crate::diag::value::short(runtime)), hint })
}

fn list(runtimes: &[&str]) -> String {
    runtimes.join(", ")
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

/// The newest supported runtime of `family`.
pub fn newest_of(family: &str) -> Option<&'static str> {
    SUPPORTED.iter().copied().filter(|r| self::family(r) == family).max_by_key(|r| version(r))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_newer_python_than_lambda_has_suggests_the_newest_python_not_a_spelling() {
        let r = check("python3.15").unwrap();
        assert!(r.message.contains("newest python runtime is `python3.14`"), "{r:?}");
        assert!(r.hint.contains("python3.10, python3.11, python3.12, python3.13, python3.14"), "{r:?}");
        assert_eq!(check("python3.14"), None);
    }

    #[test]
    fn a_deprecated_runtime_names_its_successor() {
        let r = check("python3.8").unwrap();
        assert!(r.message.contains("deprecated"), "{r:?}");
        assert!(r.hint.starts_with("use `python3.14`"), "{r:?}");
        assert!(check("nodejs16.x").unwrap().hint.starts_with("use `nodejs24.x`"));
        assert!(check("go1.x").unwrap().hint.starts_with("use `provided.al2023`"));
        assert!(check("dotnetcore3.1").unwrap().hint.starts_with("use `dotnet10`"));
    }

    #[test]
    fn an_unknown_language_is_spelled_or_listed() {
        assert!(check("pyhton3.12").unwrap().hint.starts_with("did you mean"), "{:?}", check("pyhton3.12"));
        assert!(check("cobol").unwrap().hint.starts_with("supported: python3.10"));
    }

    #[test]
    fn the_lists_are_disjoint_and_every_deprecated_family_has_a_successor() {
        for d in DEPRECATED {
            assert!(!SUPPORTED.contains(d), "{d}");
            assert!(newest_of(family(d)).is_some(), "{d} has no successor");
        }
    }
}
