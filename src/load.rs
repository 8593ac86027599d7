//! A spec file to what every command starts from: the validated spec and
//! its resource graph, or every diagnostic found. Offline: no AWS here.

use crate::diag::Diagnostic;
use crate::plan::Graph;
use crate::policy::{self, Decision, Operator, Vars, Verdict};
use crate::spec::yaml::MAX_BYTES;
use crate::spec::{self, Options, Origins, Spec, SpecError};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A spec that passed validation, with its graph.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The path as given on the command line, for messages.
    pub file: String,
    pub spec: Spec,
    pub graph: Graph,
    pub origins: Origins,
    /// What the spec reaches for beyond its own pipeline (see [`police`]).
    pub reach: Vec<spec::Reach>,
    /// The variables (`vars:`, `--var`, `--var-file`, `PIPECTL_VAR_`).
    pub variables: spec::vars::Resolved,
    /// What is worth a look but does not stop the command (a region the
    /// SDK does not list yet).
    pub warnings: Vec<Diagnostic>,
    /// Addresses keeping the default name an earlier pipectl gave them, as
    /// the deployment record lists it (`docs/names.md`).
    pub kept: BTreeMap<String, String>,
}

impl Loaded {
    /// Each variable's effective value, typed, with where it was set: every
    /// declared variable, or (a spec without `vars:`) each `--var` as text.
    /// What a saved plan digests to know the spec it was made from.
    pub fn vars(&self) -> &BTreeMap<String, spec::vars::Var> {
        &self.variables.values
    }

    /// The plain (not secret) environment values to hide from output
    /// (`scrub::plain`). A value holding a secret is hidden whole once the
    /// secret is read; one that holds the name of one of the deployment's
    /// resources (an ARN, a Firehose name), or any of `shown` (the region,
    /// the account), is left out: pipectl shows those anyway, and hiding
    /// them would hide the resources in every message.
    pub fn plain_environment(&self, shown: &[&str]) -> Vec<String> {
        let names = self.graph.nodes.values().map(|n| n.name.as_str()).chain(shown.iter().copied());
        let names: Vec<&str> = names.filter(|n| !n.is_empty()).collect();
        let values = self.spec.functions.values().flat_map(|f| f.environment.values());
        let plain = values.filter(|v| v.secrets.is_empty()).map(|v| &v.text);
        let mut out: Vec<String> = plain.filter(|v| !names.iter().any(|n| v.contains(n))).cloned().collect();
        out.sort();
        out.dedup();
        out
    }
}

pub fn load(path: &Path, opts: &Options) -> Result<Loaded, SpecError> {
    let file = path.display().to_string();
    let text = read(path).map_err(|source| SpecError::Read { path: file.clone(), source })?;
    if crate::plan::saved::is_saved(&text) {
        let d =
            Diagnostic::new(Default::default(), "saved-plan", "this file is a saved plan (`plan --out`), not a spec")
                .hint("`pipectl apply FILE` runs a saved plan; every other command takes the spec it was made from");
        return Err(SpecError::Invalid { file, diagnostics: vec![d] });
    }
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."));
    let dir = if dir.as_os_str().is_empty() { PathBuf::from(".") } else { dir };
    load_str(&text, &file, &dir, opts)
}

/// Reads a spec or var file, bounded: never more than the limit and one
/// byte (`/dev/zero` is a file too).
fn read(path: &Path) -> std::io::Result<String> {
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut std::io::Read::take(std::fs::File::open(path)?, MAX_BYTES as u64 + 1), &mut bytes)?;
    if bytes.len() > MAX_BYTES {
        // Cut anywhere, even inside a character: lossy decoding never
        // shortens it, so the parser reports the size.
        return Ok(String::from_utf8_lossy(&bytes).into_owned());
    }
    let text = crate::diag::sources::utf8(bytes)?;
    // Kept for errors to show their line (a byte-order mark is not part of it).
    crate::diag::sources::remember(&path.display().to_string(), crate::diag::sources::strip_bom(&text));
    Ok(text)
}

/// Loads a spec from text; `dir` is where relative `code:` paths start.
pub fn load_str(text: &str, file: &str, dir: &Path, opts: &Options) -> Result<Loaded, SpecError> {
    let invalid = |mut diagnostics: Vec<Diagnostic>| {
        diagnostics.sort_by(|a, b| (&a.file, a.mark).cmp(&(&b.file, b.mark)));
        diagnostics.dedup();
        SpecError::Invalid { file: file.to_string(), diagnostics }
    };
    let mut var_files = Vec::new();
    for path in &opts.var_files {
        let shown = path.display().to_string();
        let text = read(path).map_err(|source| SpecError::Read { path: shown.clone(), source })?;
        var_files.push(spec::vars::VarFile { path: shown, text });
    }
    let (built, mut diags) = spec::parse_with(text, dir, opts, &var_files).map_err(invalid)?;
    let graph = Graph::from_spec(&built.spec, &built.env_refs);
    if let Some(cycle) = graph.find_cycle() {
        let origin = graph.nodes.get(&cycle[0]).and_then(|n| n.origin.clone());
        let mark = origin.and_then(|o| built.origins.get(&o).copied()).unwrap_or_default();
        let path: Vec<String> = cycle.iter().map(|a| format!("`{a}`")).collect();
        diags.push(
            Diagnostic::new(mark, "cycle", format!("dependency cycle {}", path.join(" -> ")))
                .hint("a function's trigger waits for what the function's environment names (`${...}`), and each resource for what it reads or lands in; remove one reference of the cycle"),
        );
    }
    let (warnings, errors): (Vec<Diagnostic>, Vec<Diagnostic>) =
        diags.into_iter().partition(|d| d.severity == crate::diag::Severity::Warning);
    if !errors.is_empty() {
        return Err(invalid(errors));
    }
    Ok(Loaded {
        file: file.to_string(),
        spec: built.spec,
        graph,
        origins: built.origins,
        reach: built.reach,
        variables: built.vars,
        warnings,
        kept: built.kept,
    })
}

/// Writes the spec's warnings to stderr, drawn as its errors are.
pub fn warn(loaded: &Loaded) {
    let colour = crate::term::colour(crate::term::Stream::Stderr);
    for w in &loaded.warnings {
        eprint!("{}", crate::scrub::text(&w.render_styled(&loaded.file, colour)));
    }
}

/// The operator's decisions on what a loaded spec reaches for and on its
/// size; any refusal is a spec error at the place it is written, naming
/// what the operator would add to allow it. `account` and `region` are
/// `None` offline (what needs them is decided again once connected).
pub fn police(
    loaded: &Loaded,
    op: &Operator,
    account: Option<&str>,
    region: Option<&str>,
) -> Result<Vec<Decision>, SpecError> {
    refuse(loaded, decisions(loaded, op, account, region))
}

/// Every decision of [`police`], refused ones included.
pub fn decisions(loaded: &Loaded, op: &Operator, account: Option<&str>, region: Option<&str>) -> Vec<Decision> {
    let vars = Vars::of(&loaded.spec, account, region);
    let mut decisions = policy::decide(&loaded.reach, op, &vars);
    let first_of = |section: &str| {
        let prefix = format!("{section}.");
        loaded.origins.iter().filter(|(k, _)| k.starts_with(&prefix)).map(|(_, m)| *m).min().unwrap_or_default()
    };
    decisions.extend(policy::limits(&loaded.spec, op, first_of));
    decisions
}

/// `decisions`, or the spec error listing the refused ones.
pub fn refuse(loaded: &Loaded, decisions: Vec<Decision>) -> Result<Vec<Decision>, SpecError> {
    let mut refused: Vec<Diagnostic> =
        decisions.iter().filter(|d| d.verdict == Verdict::Refused).map(Decision::diagnostic).collect();
    if refused.is_empty() {
        return Ok(decisions);
    }
    refused.sort_by_key(|d| d.mark);
    // A refusal of what a variable filled in names the variable.
    loaded.variables.annotate(&mut refused);
    Err(SpecError::Invalid { file: loaded.file.clone(), diagnostics: refused })
}

/// A spec of `pipelines/`, loaded offline, for unit tests.
#[cfg(test)]
pub fn load_pipeline(name: &str) -> Loaded {
    let text = std::fs::read_to_string(format!("pipelines/{name}.yaml")).expect("pipeline exists");
    load_str(&text, &format!("{name}.yaml"), Path::new("pipelines"), &Options::default()).expect("pipeline is valid")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Address;

    #[test]
    fn a_trigger_waits_for_what_its_function_environment_names() {
        let text = "pipeline: p\nbuckets: { b: {} }\nstreams: { s: {} }\nfirehoses: { f: { source: direct, destination: { bucket: b } } }\nfunctions:\n  fn:\n    runtime: python3.12\n    code: templates/lambda/decode_and_log.py\n    handler: decode_and_log.handler\n    environment: { D: \"${firehoses.f.name}\" }\n    trigger: { stream: s }\n";
        let l = load_str(text, "t.yaml", Path::new(env!("CARGO_MANIFEST_DIR")), &Options::default()).unwrap();
        let deps = |a: &str| l.graph.nodes[&Address::parse(a).unwrap()].deps.clone();
        let firehose = Address::parse("firehose.f").unwrap();
        assert!(!deps("function.fn").contains(&firehose), "the name is known before the Firehose exists");
        assert!(deps("trigger.fn").contains(&firehose), "records flow only once it does");
    }

    #[test]
    fn plain_environment_values_are_hidden_unless_they_name_the_deployment() {
        let text = "pipeline: p\nbuckets: { b: {} }\nfirehoses: { f: { source: direct, destination: { bucket: b } } }\nfunctions:\n  fn:\n    runtime: python3.12\n    code: templates/lambda/decode_and_log.py\n    handler: decode_and_log.handler\n    environment:\n      DSN: postgres://db.internal:5432/app\n      D: \"${firehoses.f.name}\"\n      A: \"${firehoses.f.arn}\"\n      R: us-east-1\n      T: \"${ssm:/p/token}\"\n      LEVEL: debug\n";
        let l = load_str(text, "t.yaml", Path::new(env!("CARGO_MANIFEST_DIR")), &Options::default()).unwrap();
        assert_eq!(l.plain_environment(&["us-east-1", "123456789012"]), ["debug", "postgres://db.internal:5432/app"]);
    }

    #[test]
    fn an_existing_role_replaces_the_one_pipectl_makes() {
        let text = "pipeline: p\nregion: us-east-1\nbuckets: { b: {} }\nfirehoses: { f: { source: direct, role: arn:aws:iam::123456789012:role/service-role/fh, destination: { bucket: b } } }\nfunctions:\n  fn:\n    runtime: python3.12\n    code: templates/lambda/decode_and_log.py\n    handler: decode_and_log.handler\n    role: lab-lambda\n";
        let l = load_str(text, "t.yaml", Path::new(env!("CARGO_MANIFEST_DIR")), &Options::default()).unwrap();
        assert!(l.graph.nodes.keys().all(|a| a.kind != crate::plan::Kind::Role), "{:?}", l.graph.nodes.keys());
        let scope = crate::names::Scope::new("us-east-1", "123456789012");
        assert_eq!(
            crate::names::role_arn(&scope, l.spec.functions["fn"].role.as_deref(), "x"),
            "arn:aws:iam::123456789012:role/lab-lambda"
        );
        assert_eq!(l.spec.firehoses["f"].role.as_deref(), Some("arn:aws:iam::123456789012:role/service-role/fh"));
    }

    #[test]
    fn an_existing_role_takes_no_policy_and_must_be_a_role() {
        let text = "pipeline: p\nbuckets: { b: {} }\nfirehoses:\n  f:\n    source: direct\n    role: arn:aws:s3:::nope\n    destination: { bucket: b }\n  g:\n    source: direct\n    role: mine\n    destination: { bucket: b }\n    policy: [{ actions: [\"s3:GetObject\"], resources: [\"arn:aws:s3:::b/*\"] }]\n";
        let Err(SpecError::Invalid { diagnostics, .. }) =
            load_str(text, "t.yaml", Path::new(env!("CARGO_MANIFEST_DIR")), &Options::default())
        else {
            panic!("invalid")
        };
        let rules: Vec<&str> = diagnostics.iter().map(|d| d.rule).collect();
        assert!(rules.contains(&"role") && rules.contains(&"role-policy"), "{rules:?}");
    }
}
