//! The spec: YAML text -> positioned tree -> raw structs -> validated model
//! and resource graph. Nothing here talks to AWS.

pub mod build;
pub mod decode;
pub mod interp;
pub mod model;
pub mod raw;
pub mod rules;
pub mod yaml;

pub use build::{Options, Origins};
pub use model::*;

use crate::diag::Diagnostic;
use crate::plan::Graph;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// The spec file could not be read.
    #[error("cannot read spec `{path}`")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// The spec breaks one or more rules; every one found is listed.
    #[error("{} in `{file}`", plural(diagnostics.len(), "error"))]
    Invalid { file: String, diagnostics: Vec<Diagnostic> },
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// A spec that passed validation, with its graph.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The path as given on the command line, for messages.
    pub file: String,
    pub spec: Spec,
    pub graph: Graph,
    pub origins: Origins,
}

pub fn load(path: &Path, opts: &Options) -> Result<Loaded, SpecError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| SpecError::Read { path: file.clone(), source })?;
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."));
    let dir = if dir.as_os_str().is_empty() { PathBuf::from(".") } else { dir };
    load_str(&text, &file, &dir, opts)
}

/// Loads a spec from text; `dir` is where relative `code:` paths start.
pub fn load_str(text: &str, file: &str, dir: &Path, opts: &Options) -> Result<Loaded, SpecError> {
    let invalid = |mut diagnostics: Vec<Diagnostic>| {
        diagnostics.sort_by_key(|d| d.mark);
        diagnostics.dedup();
        SpecError::Invalid { file: file.to_string(), diagnostics }
    };
    let root = yaml::parse(text).map_err(|e| {
        invalid(vec![Diagnostic::new(e.mark, "syntax", format!("YAML syntax error: {}", e.message))
            .hint("check indentation and quoting around this place")])
    })?;
    let mut decoder = decode::Decoder::default();
    let raw = raw::RawSpec::decode(&root, &mut decoder);
    let mut diags = decoder.diags;
    let built = build::build(&raw, opts, dir, &mut diags);
    let graph = Graph::from_spec(&built.spec, &built.env_refs);
    if let Some(cycle) = graph.find_cycle() {
        let origin = graph.nodes.get(&cycle[0]).and_then(|n| n.origin.clone());
        let mark = origin.and_then(|o| built.origins.get(&o).copied()).unwrap_or_default();
        let path: Vec<String> = cycle.iter().map(|a| format!("`{a}`")).collect();
        diags.push(
            Diagnostic::new(mark, "cycle", format!("dependency cycle {}", path.join(" -> ")))
                .hint("a `${...}` reference in a function's environment makes the function wait for what it names; remove one reference of the cycle"),
        );
    }
    if !diags.is_empty() {
        return Err(invalid(diags));
    }
    Ok(Loaded { file: file.to_string(), spec: built.spec, graph, origins: built.origins })
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

    fn load(text: &str, opts: &Options) -> Result<Loaded, SpecError> {
        load_str(text, "t.yaml", Path::new("."), opts)
    }

    #[test]
    fn defaults_are_applied_in_one_place() {
        let l = load("pipeline: p\nstreams: { s: {} }\nbuckets: { b: {} }\nfirehoses: { f: { source: direct, destination: { bucket: b } } }\n", &Options::default()).unwrap();
        let s = &l.spec.streams["s"];
        assert_eq!(s.mode, StreamMode::Provisioned { shards: 1 });
        assert_eq!((s.retention_hours, s.encryption), (24, StreamEncryption::Kms));
        let d = &l.spec.firehoses["f"].destination;
        assert_eq!((d.buffer_size_mb, d.buffer_interval_seconds), (5, 300));
        assert_eq!(d.compression, Compression::Uncompressed);
        assert!(d.error_logging);
        assert_eq!(l.spec.buckets["b"].on_destroy, OnDestroy::Retain);
        assert_eq!(l.spec.env, "default");
    }

    #[test]
    fn names_interpolate_vars_account_and_region() {
        let opts = Options {
            env: Some("ci".into()),
            vars: [("team".to_string(), "de".to_string())].into(),
            region: Some("eu-west-1".into()),
            account: Some("111122223333".into()),
        };
        let l =
            load("pipeline: p\nbuckets:\n  b: { name: \"${var.team}-${env}-${account}-${region}\" }\n", &opts).unwrap();
        assert_eq!(l.spec.buckets["b"].name, "de-ci-111122223333-eu-west-1");
        let offline = Options { env: Some("ci".into()), vars: opts.vars.clone(), ..Options::default() };
        let l = load("pipeline: p\nbuckets:\n  b: { name: \"${var.team}-${env}-${account}\" }\n", &offline).unwrap();
        assert_eq!(l.spec.buckets["b"].name, "de-ci-${account}", "account stays symbolic offline");
    }

    #[test]
    fn references_resolve_in_function_environment() {
        let text = "pipeline: p\nbuckets: { b: {} }\nfirehoses: { f: { source: direct, destination: { bucket: b } } }\nfunctions:\n  fn:\n    runtime: python3.12\n    code: templates/lambda/decode_and_log.py\n    handler: decode_and_log.handler\n    environment: { D: \"${firehoses.f.name}\", A: \"${firehoses.f.arn}\" }\n";
        let opts =
            Options { region: Some("us-east-1".into()), account: Some("123456789012".into()), ..Options::default() };
        let l = load_str(text, "t.yaml", Path::new(env!("CARGO_MANIFEST_DIR")), &opts).unwrap();
        let env = &l.spec.functions["fn"].environment;
        assert_eq!(env["D"], "p-f");
        assert_eq!(env["A"], "arn:aws:firehose:us-east-1:123456789012:deliverystream/p-f");
        let deps = &l.graph.nodes[&crate::plan::Address::parse("function.fn").unwrap()].deps;
        assert!(deps.contains(&crate::plan::Address::parse("firehose.f").unwrap()));
    }

    #[test]
    fn glue_names_take_underscores_from_pipeline_and_env() {
        let opts = Options { env: Some("pr-1".into()), ..Options::default() };
        let l = load(
            "pipeline: my-lab\nbuckets: { b: {} }\ncatalog:\n  databases:\n    d: { name: \"lake_${env}\" }\n",
            &opts,
        )
        .unwrap();
        assert_eq!(l.spec.databases["d"].name, "lake_pr_1");
    }
}
