//! Fuzzing the offline path a spec takes: YAML reader, interpolation,
//! validation, the graph, and what the resolve layer derives from it (IAM,
//! dashboards, desired attributes). Whatever the input, the answer is a
//! spec or diagnostics, never a panic.
//!
//! Inputs are mutations of the specs in `pipelines/` and the invalid
//! fixtures (bytes flipped, lines cut, YAML and `${...}` tokens put in),
//! and spec-shaped documents generated from the spec's own keys, each
//! with an operator policy: a mutation of one in `policies/`, a generated
//! policy-shaped document, or none; every decision of the policy on the
//! spec is made, the ones that read AWS with made-up answers. A short
//! run is part of the unit tests; `scripts/fuzz.sh MINUTES` runs the same
//! checks for as long as asked and prints how many inputs it ran.

use crate::load;
use crate::names::Scope;
use crate::plan::Kind;
use crate::resources::Meta;
use crate::spec::interp::{interpolate, Context, RefTable, SECTIONS};
use crate::spec::{Options, SpecError};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRng, TestRunner};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The seed documents: every pipeline, and every invalid fixture.
fn corpus() -> Vec<String> {
    let mut out = seeds("pipelines");
    out.extend(seeds("tests/fixtures/invalid"));
    out
}

fn seeds(dir: &str) -> Vec<String> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(root().join(dir))
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    paths.sort();
    let out: Vec<String> = paths
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .collect();
    assert!(!out.is_empty(), "no seed specs in {dir}");
    out
}

/// Fragments that reach the parts of the reader and the builder that
/// plain text does not.
const TOKENS: &[&str] = &[
    "${",
    "}",
    "$${",
    "${pipeline}",
    "${env}",
    "${region}",
    "${account}",
    "${var.x}",
    "${streams.trips.arn}",
    "${firehoses.to-lake.name}",
    "${ssm:/p}",
    "${secret:s#k}",
    "${secret:}",
    "${ssm:}",
    "!{timestamp:yyyy}",
    "!{firehose:error-output-type}",
    "!{",
    "&a ",
    "*a",
    "<<: *a",
    "!!str ",
    "!!binary ",
    "? ",
    "- ",
    ": ",
    "---\n",
    "...\n",
    "\t",
    "\r\n",
    "#",
    "'",
    "\"",
    "\\u0000",
    "\u{feff}",
    "é",
    "🦀",
    "[",
    "]",
    "{",
    "}",
    ",",
    "|\n  ",
    ">-\n  ",
    "~",
    "null",
    "true",
    "-1",
    "0",
    "4294967296",
    "1e309",
    "0x1F",
    ".inf",
    "@",
    "`",
    "%YAML 1.2\n",
    "../",
    "/etc/passwd",
    "code: ../../etc\n",
    "protect: true",
    "allow_privilege_escalation: true",
    "actions: [\"*\"]",
    "resources: [\"*\"]",
    "name: ''",
    "shards: 100000",
    "environment: { A: \"${ssm:/a}\" }",
];

/// A policy's keys, for generated policies.
const POLICY_KEYS: &[&str] = &[
    "version",
    "permissions_boundary",
    "regions",
    "secrets",
    "ssm",
    "secretsmanager",
    "roles",
    "amis",
    "ids",
    "owners",
    "subnets",
    "vpcs",
    "limits",
    "shards",
    "hosts",
    "monthly_cost",
    "statements",
    "waivers",
    "not_action",
    "allow",
    "actions",
    "resources",
];

/// The spec's keys beside its sections, for generated documents.
const KEYS: &[&str] = &[
    "pipeline",
    "region",
    "env",
    "tags",
    "timeouts",
    "catalog",
    "name",
    "on_destroy",
    "protect",
    "mode",
    "shards",
    "retention_hours",
    "encryption",
    "database",
    "location",
    "bucket",
    "prefix",
    "format",
    "columns",
    "partition_keys",
    "source",
    "destination",
    "convert",
    "table",
    "error_prefix",
    "error_logging",
    "buffering",
    "processor",
    "runtime",
    "code",
    "handler",
    "memory_mb",
    "timeout_seconds",
    "environment",
    "writes",
    "trigger",
    "stream",
    "batch_size",
    "starting_position",
    "policy",
    "actions",
    "resources",
    "allow_privilege_escalation",
    "flows",
    "instance_type",
    "network",
    "widgets",
    "metric",
    "threshold",
    "cidr",
    "nat_gateway",
    "nacl",
    "on_failure",
];

const SCALARS: &[&str] = &[
    "p",
    "lab",
    "trips",
    "lake",
    "1",
    "0",
    "-5",
    "128",
    "true",
    "no",
    "~",
    "\"\"",
    "kms",
    "none",
    "provisioned",
    "on_demand",
    "retain",
    "delete",
    "parquet",
    "orc",
    "json",
    "python3.12",
    "templates/lambda/decode_and_log.py",
    "decode_and_log.handler",
    "direct",
    "LATEST",
    "TRIM_HORIZON",
    "10.0.0.0/16",
    "us-east-1",
    "*",
    "arn:aws:s3:::b/*",
    "iam:PassRole",
    "s3:GetObject",
    "\"${streams.s.arn}\"",
    "\"${ssm:/db/pw}\"",
    "\"/${pipeline}/${env}/*\"",
    "\"arn:aws:iam::${account}:policy/b\"",
    "amazon",
    "default",
    "ami-0123456789abcdef0",
    "subnet-0123abcd",
    "\"iam:Pass*\"",
    "\"?\"",
];

fn keys() -> Vec<&'static str> {
    KEYS.iter().chain(SECTIONS.iter()).copied().collect()
}

/// A spec-shaped YAML document: nested maps and lists of known keys.
fn generated() -> impl Strategy<Value = String> {
    let scalar = prop::sample::select(SCALARS).prop_map(str::to_string);
    let leaf = prop_oneof![scalar, "[a-z0-9${}:/*._-]{0,12}"];
    let tree = leaf.prop_recursive(5, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec((prop::sample::select(keys()), inner.clone()), 0..6).prop_map(|kv| {
                let body: Vec<String> = kv.iter().map(|(k, v)| format!("{k}: {v}")).collect();
                format!("{{ {} }}", body.join(", "))
            }),
            prop::collection::vec(inner, 0..4).prop_map(|xs| format!("[{}]", xs.join(", "))),
        ]
    });
    prop::collection::vec((prop::sample::select(keys()), tree), 1..10).prop_map(|kv| {
        let mut doc = String::from("pipeline: fuzz\n");
        for (k, v) in kv {
            doc.push_str(&format!("{k}: {v}\n"));
        }
        doc
    })
}

#[derive(Debug, Clone)]
enum Edit {
    Flip(usize, u8),
    Cut(usize, usize),
    Insert(usize, &'static str),
    DupLine(usize),
    /// The value after `: ` on a line, replaced.
    Value(usize, &'static str),
}

/// A seed spec with a few edits.
fn mutated(seeds: Vec<String>) -> impl Strategy<Value = String> {
    let edit = prop_oneof![
        1 => (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Edit::Flip(i, b)),
        1 => (any::<usize>(), 1usize..40).prop_map(|(i, n)| Edit::Cut(i, n)),
        2 => (any::<usize>(), prop::sample::select(TOKENS)).prop_map(|(i, t)| Edit::Insert(i, t)),
        1 => any::<usize>().prop_map(Edit::DupLine),
        4 => (any::<usize>(), prop::sample::select([SCALARS, TOKENS].concat())).prop_map(|(i, v)| Edit::Value(i, v)),
    ];
    (prop::sample::select(seeds), prop::collection::vec(edit, 1..4)).prop_map(|(seed, edits)| {
        let mut bytes = seed.into_bytes();
        for e in edits {
            let at = |i: usize, len: usize| if len == 0 { 0 } else { i % len };
            match e {
                Edit::Flip(i, b) if !bytes.is_empty() => {
                    let i = at(i, bytes.len());
                    bytes[i] = b;
                }
                Edit::Cut(i, n) if !bytes.is_empty() => {
                    let i = at(i, bytes.len());
                    let end = (i + n).min(bytes.len());
                    bytes.drain(i..end);
                }
                Edit::Insert(i, t) => {
                    let i = at(i, bytes.len() + 1);
                    bytes.splice(i..i, t.bytes());
                }
                Edit::Value(i, v) => {
                    let text = String::from_utf8_lossy(&bytes).into_owned();
                    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
                    let with_value: Vec<usize> = (0..lines.len()).filter(|&l| lines[l].contains(": ")).collect();
                    if !with_value.is_empty() {
                        let l = with_value[at(i, with_value.len())];
                        let key_end = lines[l].find(": ").expect("has a value") + 2;
                        lines[l].replace_range(key_end.., v);
                        bytes = lines.join("\n").into_bytes();
                    }
                }
                Edit::DupLine(i) => {
                    let text = String::from_utf8_lossy(&bytes).into_owned();
                    let lines: Vec<&str> = text.lines().collect();
                    if !lines.is_empty() {
                        let l = at(i, lines.len());
                        let mut out: Vec<&str> = lines[..=l].to_vec();
                        out.extend(&lines[l..]);
                        bytes = out.join("\n").into_bytes();
                    }
                }
                _ => {}
            }
        }
        // The reader takes text; invalid UTF-8 stops at reading the file.
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

fn inputs() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => mutated(seeds("pipelines")),
        2 => mutated(seeds("tests/fixtures/invalid")),
        1 => generated(),
        1 => ".{0,300}",
    ]
}

/// A policy-shaped YAML document of the policy's own keys.
fn generated_policy() -> impl Strategy<Value = String> {
    let scalar = prop::sample::select(SCALARS).prop_map(str::to_string);
    let leaf = prop_oneof![scalar, "[a-z0-9${}:/*?._-]{0,12}"];
    let tree = leaf.prop_recursive(3, 32, 5, |inner| {
        prop_oneof![
            prop::collection::vec((prop::sample::select(POLICY_KEYS), inner.clone()), 0..5).prop_map(|kv| {
                let body: Vec<String> = kv.iter().map(|(k, v)| format!("{k}: {v}")).collect();
                format!("{{ {} }}", body.join(", "))
            }),
            prop::collection::vec(inner, 0..4).prop_map(|xs| format!("[{}]", xs.join(", "))),
        ]
    });
    prop::collection::vec((prop::sample::select(POLICY_KEYS), tree), 0..8)
        .prop_map(|kv| kv.iter().map(|(k, v)| format!("{k}: {v}\n")).collect())
}

/// The policy beside a spec: none, a mutated example, or a generated one.
fn policies() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        1 => Just(None),
        3 => mutated(seeds("policies")).prop_map(Some),
        2 => generated_policy().prop_map(Some),
    ]
}

/// An input and its policy through every decision the operator makes.
fn check_policy(loaded: Option<&load::Loaded>, policy: Option<&str>) {
    use crate::policy::{Operator, Policy, Vars, Verdict};
    let policy = match policy.map(|t| Policy::parse(t, "policy.yaml")) {
        Some(Ok(p)) => Some(p),
        Some(Err(diagnostics)) => {
            assert!(!diagnostics.is_empty(), "a refused policy with no diagnostic");
            diagnostics.iter().for_each(|d| drop(d.render("policy.yaml")));
            None
        }
        None => None,
    };
    for honour_waivers in [false, true] {
        let op = Operator { policy: policy.clone(), honour_waivers };
        let Some(l) = loaded else { continue };
        let vars = Vars::of(&l.spec, Some("123456789012"), Some("us-east-1"));
        let _ = op.boundary(&vars);
        match load::police(l, &op, Some("123456789012"), Some("us-east-1")) {
            Ok(decisions) => {
                for d in decisions.iter().filter(|d| d.verdict == Verdict::Deferred) {
                    let _ = crate::policy::ami_owner(d, &op, &vars, Some(("123456789012".into(), None)));
                    let _ = crate::policy::subnet_vpc(d, &op, Some("vpc-1".into()));
                }
                let _ = crate::policy::cost(&op, 1234.5, &["x".to_string()]);
                let _ = crate::policy::region(&op, Some("us-east-1"));
                let _ = serde_json::to_string(&decisions).expect("decisions serialize");
            }
            Err(SpecError::Invalid { diagnostics, .. }) => {
                assert!(!diagnostics.is_empty(), "a refusal with no diagnostic");
                diagnostics.iter().for_each(|d| drop(d.render("fuzz.yaml")));
            }
            Err(e) => panic!("unexpected error kind: {e}"),
        }
    }
}

/// One input and its policy through everything offline: whether it is a
/// valid spec. Panics only on a bug.
fn check(text: &str, policy: Option<&str>) -> bool {
    let vars = BTreeMap::from([("x".to_string(), "v".to_string())]);
    let opts = Options {
        region: Some("us-east-1".into()),
        account: Some("123456789012".into()),
        vars: vars.clone(),
        code_root: Some(root()),
        ..Options::default()
    };
    for line in text.lines().take(20) {
        for secrets in [false, true] {
            let refs = RefTable::new();
            let ctx = Context {
                pipeline: "p",
                env: "e",
                region: None,
                account: Some("1"),
                vars: &vars,
                refs: Some(&refs),
                secrets,
            };
            let _ = interpolate(line, &ctx);
        }
    }
    let loaded = load::load_str(text, "fuzz.yaml", &root().join("pipelines"), &opts);
    check_policy(loaded.as_ref().ok(), policy);
    match loaded {
        Ok(l) => {
            let _ = l.graph.topo_order();
            let _ = l.graph.reversed().deps();
            let scope = Scope { region: "us-east-1".into(), account: "123456789012".into() };
            let meta = Meta::of(&l.spec, &scope.region);
            for (a, r) in crate::resolve::resources(&l.spec, &l.graph, &scope, &meta) {
                // Functions zip their code; the seeds' code is small.
                if a.kind != Kind::Function || text.len() < 20_000 {
                    let _ = r.desired();
                }
            }
            true
        }
        Err(SpecError::Invalid { diagnostics, .. }) => {
            assert!(!diagnostics.is_empty(), "an invalid spec with no diagnostic");
            let source = crate::diag::sources::strip_bom(text);
            for d in &diagnostics {
                let _ = d.render("fuzz.yaml");
                // Drawn over the text itself: a caret at any place, in any line.
                let _ = d.render_with("fuzz.yaml", source, true);
            }
            false
        }
        Err(e) => panic!("unexpected error kind: {e}"),
    }
}

/// Runs `check` on generated inputs until `budget` is spent or `max`
/// inputs ran; returns how many ran and how many were valid specs. A
/// panicking input is written to
/// `target/fuzz-failures/` and the panic goes on.
pub fn run(budget: Duration, max: u64, seed: u64) -> (u64, u64) {
    let mut seed_bytes = [0u8; 32];
    seed_bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let rng = TestRng::from_seed(proptest::test_runner::RngAlgorithm::ChaCha, &seed_bytes);
    let mut runner = TestRunner::new_with_rng(Config::default(), rng);
    let strategy = (inputs(), policies());
    let start = Instant::now();
    let (mut n, mut valid) = (0, 0);
    while n < max && start.elapsed() < budget {
        let (input, policy) = strategy.new_tree(&mut runner).expect("an input").current();
        n += 1;
        match std::panic::catch_unwind(|| check(&input, policy.as_deref())) {
            Ok(ok) => valid += u64::from(ok),
            Err(panic) => {
                let dir = root().join("target/fuzz-failures");
                let _ = std::fs::create_dir_all(&dir);
                let path = dir.join(format!("{seed}-{n}.yaml"));
                let _ = std::fs::write(&path, &input);
                if let Some(p) = &policy {
                    let _ = std::fs::write(dir.join(format!("{seed}-{n}.policy.yaml")), p);
                }
                eprintln!("input {n} panicked; saved to {}", path.display());
                std::panic::resume_unwind(panic);
            }
        }
    }
    (n, valid)
}

/// For `scripts/fuzz.sh`: seconds from PIPECTL_FUZZ_SECONDS.
pub fn budget_from_env() -> Duration {
    Duration::from_secs(std::env::var("PIPECTL_FUZZ_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(60))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thousand_mutated_and_generated_specs_end_in_a_spec_or_diagnostics() {
        let (n, valid) = run(Duration::from_secs(120), 1000, 7);
        assert_eq!(n, 1000);
        assert!(valid > 50, "the mutations should leave some specs valid, to reach past the reader: {valid}");
    }

    #[test]
    #[ignore = "long: run by scripts/fuzz.sh"]
    fn fuzz_for_a_while() {
        let seed = std::env::var("PIPECTL_FUZZ_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(1)
        });
        let budget = budget_from_env();
        let (n, valid) = run(budget, u64::MAX, seed);
        println!("fuzz: {n} inputs ({valid} valid specs) in {} s (seed {seed}), no panic", budget.as_secs());
    }

    #[test]
    fn the_seeds_themselves_load_or_fail_cleanly() {
        let policies = seeds("policies");
        let valid = corpus().iter().filter(|seed| check(seed, policies.first().map(String::as_str))).count();
        assert!(valid >= 6, "every pipeline loads: {valid}");
    }
}
