//! AWS regions as the SDK knows them: the partitions (`aws`, `aws-cn`,
//! `aws-us-gov`, `aws-eusc`, `aws-iso*`), each with the pattern its region
//! names follow and the regions listed in it.
//!
//! `partitions.json` is a copy of the partition data aws-sdk-s3 1.157.0
//! embeds in `src/endpoint_lib.rs` (`PartitionResolver::new_from_json`),
//! the SDK version in Cargo.lock. A test compares the copy with that file
//! when the crate's source is in the cargo registry; copy it again on an
//! SDK upgrade.

use crate::diag::did_you_mean;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// The SDK release the copy comes from.
pub const SDK_SOURCE: &str = "aws-sdk-s3-1.157.0";

const DATA: &str = include_str!("partitions.json");

#[derive(Debug, Deserialize, PartialEq)]
pub struct Partitions {
    pub partitions: Vec<Partition>,
}

#[derive(Debug, Deserialize, PartialEq)]
pub struct Partition {
    pub id: String,
    #[serde(rename = "regionRegex")]
    pub region_regex: String,
    pub regions: BTreeMap<String, serde_json::Value>,
}

pub fn partitions() -> &'static Partitions {
    static P: OnceLock<Partitions> = OnceLock::new();
    P.get_or_init(|| serde_json::from_str(DATA).expect("the vendored partitions.json is valid"))
}

/// What a region name is to the SDK.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Region {
    /// Listed in a partition.
    Known,
    /// Named as `partition`'s regions are, but not listed: a region opened
    /// after this SDK release.
    Unlisted { partition: String },
    /// No partition's region: a typo, with the closest listed region.
    Unknown { suggestion: Option<String> },
}

/// Regions one can deploy to (the partitions' `*-global` pseudo-regions
/// are endpoints, not places).
pub fn listed() -> impl Iterator<Item = &'static str> {
    partitions()
        .partitions
        .iter()
        .flat_map(|p| p.regions.keys())
        .map(String::as_str)
        .filter(|r| !r.ends_with("-global"))
}

pub fn check(name: &str) -> Region {
    if listed().any(|r| r == name) {
        return Region::Known;
    }
    let suggestion = did_you_mean(name, listed()).map(str::to_string);
    // `\w+` lets `us-easst-1` through the `aws` pattern: a region AWS
    // opens uses a direction word its regions already use, so another
    // word close to a listed region is a typo.
    let words: Vec<&str> = listed().filter_map(|r| r.rsplit('-').nth(1)).collect();
    let word_known = name.rsplit('-').nth(1).is_some_and(|w| words.contains(&w));
    let partition = partitions().partitions.iter().find(|p| matches(&p.region_regex, name));
    match partition {
        Some(p) if word_known || suggestion.is_none() => Region::Unlisted { partition: p.id.clone() },
        _ => Region::Unknown { suggestion },
    }
}

/// Whether `text` matches `pattern`, in the subset of regular expressions
/// the partition data uses: `^`, `$`, literal characters, `\-`, `\w+`,
/// `\d+` and groups of literal alternatives `(us|eu)`. Anything else
/// matches nothing (and the data test fails).
pub fn matches(pattern: &str, text: &str) -> bool {
    let Some(tokens) = tokens(pattern) else { return false };
    step(&tokens, text)
}

#[derive(Debug)]
enum Token {
    Lit(char),
    Word,
    Digit,
    Alt(Vec<String>),
}

fn tokens(pattern: &str) -> Option<Vec<Token>> {
    let body = pattern.strip_prefix('^')?.strip_suffix('$')?;
    let mut out = Vec::new();
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next()? {
                'w' if chars.next_if_eq(&'+').is_some() => out.push(Token::Word),
                'd' if chars.next_if_eq(&'+').is_some() => out.push(Token::Digit),
                c @ ('-' | '.' | '\\') => out.push(Token::Lit(c)),
                _ => return None,
            },
            '(' => {
                let group: String = chars.by_ref().take_while(|c| *c != ')').collect();
                if group.chars().any(|c| !(c.is_ascii_alphanumeric() || c == '|' || c == '-')) {
                    return None;
                }
                out.push(Token::Alt(group.split('|').map(str::to_string).collect()));
            }
            c if c.is_ascii_alphanumeric() || c == '-' => out.push(Token::Lit(c)),
            _ => return None,
        }
    }
    Some(out)
}

/// Backtracking match of the whole of `text`.
fn step(tokens: &[Token], text: &str) -> bool {
    let Some((first, rest)) = tokens.split_first() else { return text.is_empty() };
    match first {
        Token::Lit(c) => text.strip_prefix(*c).is_some_and(|t| step(rest, t)),
        Token::Alt(alts) => alts.iter().any(|a| text.strip_prefix(a.as_str()).is_some_and(|t| step(rest, t))),
        Token::Word | Token::Digit => {
            let ok = |c: char| match first {
                Token::Word => c.is_ascii_alphanumeric() || c == '_',
                _ => c.is_ascii_digit(),
            };
            let run = text.chars().take_while(|c| ok(*c)).count();
            (1..=run).rev().any(|n| step(rest, &text[n..]))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_typo_in_a_region_is_an_error_with_the_region_meant() {
        assert_eq!(check("us-east-1"), Region::Known);
        assert_eq!(check("eusc-de-east-1"), Region::Known);
        assert_eq!(check("us-easst-1"), Region::Unknown { suggestion: Some("us-east-1".into()) });
        assert_eq!(check("mars-north-1"), Region::Unknown { suggestion: None });
        assert!(matches!(check("aws-global"), Region::Unknown { .. }), "an endpoint, not a region");
    }

    #[test]
    fn a_region_opened_after_the_sdk_release_is_unlisted() {
        assert_eq!(check("eu-central-9"), Region::Unlisted { partition: "aws".into() });
        assert_eq!(check("us-gov-central-1"), Region::Unlisted { partition: "aws-us-gov".into() });
        assert_eq!(check("cn-south-1"), Region::Unlisted { partition: "aws-cn".into() });
    }

    #[test]
    fn every_partition_pattern_is_understood() {
        for p in &partitions().partitions {
            assert!(tokens(&p.region_regex).is_some(), "{}: {}", p.id, p.region_regex);
            for r in p.regions.keys().filter(|r| !r.ends_with("-global")) {
                assert!(matches(&p.region_regex, r), "{r} does not match its partition {}", p.id);
            }
        }
        assert!(!matches("^us\\-gov\\-\\w+\\-\\d+$", "us-gov-west-"));
    }

    /// The vendored copy is the SDK's: fails when the SDK crate named in
    /// [`SDK_SOURCE`] holds other partition data (copy it again), skipped
    /// only when the crate's source is not in the cargo registry.
    #[test]
    fn the_vendored_partitions_are_the_sdks() {
        let home = std::env::var("CARGO_HOME")
            .map(std::path::PathBuf::from)
            .or_else(|_| std::env::var("HOME").map(|h| std::path::Path::new(&h).join(".cargo")));
        let Ok(home) = home else { return };
        let Ok(registries) = std::fs::read_dir(home.join("registry/src")) else {
            eprintln!("no cargo registry source: the comparison with {SDK_SOURCE} is skipped");
            return;
        };
        let file =
            registries.flatten().map(|r| r.path().join(SDK_SOURCE).join("src/endpoint_lib.rs")).find(|f| f.exists());
        let Some(file) = file else {
            eprintln!("{SDK_SOURCE} is not in the cargo registry: the comparison is skipped");
            return;
        };
        let text = std::fs::read_to_string(&file).unwrap();
        let start = text.find("new_from_json(b\"").expect("the SDK embeds its partitions") + "new_from_json(b\"".len();
        let end = start + text[start..].find("\")").expect("the end of the JSON");
        let json = text[start..end].replace("\\\"", "\"").replace("\\\\", "\\");
        let sdk: Partitions = serde_json::from_str(&json).unwrap();
        assert_eq!(&sdk, partitions(), "src/spec/partitions.json differs from {}", file.display());
    }
}
