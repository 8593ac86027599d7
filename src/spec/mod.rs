//! The spec: YAML text -> positioned tree -> raw structs -> validated model
//! and resource graph. Nothing here talks to AWS.

pub mod build;
pub mod decode;
pub mod fields;
pub mod glob;
pub mod guard;
pub mod interp;
pub mod model;
pub mod raw;
pub mod reach;
pub mod regions;
pub mod rules;
pub mod runtimes;
pub mod vars;
pub mod yaml;

pub use build::{Built, Options, Origins};
pub use model::*;
pub use reach::{Reach, Wants};

use crate::diag::Diagnostic;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// The spec file could not be read.
    #[error("cannot read spec `{}`", crate::diag::value::escape(path))]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// The spec breaks one or more rules; every one found is listed.
    #[error("{}", summary(file, diagnostics))]
    Invalid { file: String, diagnostics: Vec<Diagnostic> },
}

/// `N errors in `file``, naming the file they are in: the spec, a var
/// file, or both; names escaped, as every message shows them.
fn summary(file: &str, diagnostics: &[Diagnostic]) -> String {
    let n = plural(diagnostics.len(), "error");
    let esc = crate::diag::value::escape;
    let mut others: Vec<&str> = diagnostics.iter().filter_map(|d| d.file.as_deref()).filter(|f| *f != file).collect();
    others.sort_unstable();
    others.dedup();
    let in_spec = diagnostics.iter().any(|d| d.file.as_deref().is_none_or(|f| f == file));
    match (others.as_slice(), in_spec) {
        ([], _) => format!("{n} in `{}`", esc(file)),
        ([one], false) => format!("{n} in `{}`, a var file of `{}`", esc(one), esc(file)),
        (many, _) => {
            let names: Vec<String> = many.iter().map(|f| format!("`{}`", esc(f))).collect();
            format!("{n} in `{}` and {}", esc(file), names.join(", "))
        }
    }
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// Reads a spec from text into the validated model; `dir` is where
/// relative `code:` paths start. A YAML syntax error stops at once;
/// otherwise every rule broken is returned beside what could be built.
pub fn parse(text: &str, dir: &Path, opts: &Options) -> Result<(Built, Vec<Diagnostic>), Vec<Diagnostic>> {
    parse_with(text, dir, opts, &[])
}

/// [`parse`] with the var files read: variables are settled and
/// substituted into the tree first (`vars`); any problem with them stops
/// there, as what they fill in would only add confusing errors.
pub fn parse_with(
    text: &str,
    dir: &Path,
    opts: &Options,
    var_files: &[vars::VarFile],
) -> Result<(Built, Vec<Diagnostic>), Vec<Diagnostic>> {
    let mut root = yaml::parse(text).map_err(|e| vec![e.diagnostic()])?;
    let mut var_diags = Vec::new();
    let inputs = vars::Inputs { flags: &opts.vars, env: &opts.env_vars, files: var_files };
    let resolved = vars::apply(&mut root, &inputs, &mut var_diags);
    if !var_diags.is_empty() {
        return Err(var_diags);
    }
    let mut decoder = decode::Decoder::for_spec();
    let raw = raw::RawSpec::decode(&root, &mut decoder);
    let mut diags = decoder.diags;
    let mut built = build::build(&raw, opts, dir, &mut diags);
    resolved.annotate(&mut diags);
    yaml::paths::fill(&root, &mut diags);
    built.vars = resolved;
    Ok((built, diags))
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Loaded {
        spec: Spec,
    }

    fn load_str(text: &str, _file: &str, dir: &Path, opts: &Options) -> Result<Loaded, Vec<Diagnostic>> {
        match parse(text, dir, opts)? {
            (built, diags) if diags.is_empty() => Ok(Loaded { spec: built.spec }),
            (_, diags) => Err(diags),
        }
    }

    fn load(text: &str, opts: &Options) -> Result<Loaded, Vec<Diagnostic>> {
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
        assert_eq!(l.spec.buckets["b"].encryption, BucketEncryption::Aes256);
        assert!(l.spec.buckets["b"].public_access_block);
        assert_eq!(l.spec.env, "default");
    }

    #[test]
    fn a_bucket_says_its_encryption_and_block_and_kms_is_refused() {
        let text = "pipeline: p\nbuckets: { b: { encryption: none, public_access_block: false } }\n";
        let b = &load(text, &Options::default()).unwrap().spec.buckets["b"];
        assert_eq!((b.encryption, b.public_access_block), (BucketEncryption::None, false));
        let kms = load("pipeline: p\nbuckets: { b: { encryption: kms } }\n", &Options::default()).err().unwrap();
        assert!(kms.iter().any(|d| d.message.contains("does not manage SSE-KMS")), "{kms:?}");
    }

    #[test]
    fn names_interpolate_vars_account_and_region() {
        let opts = Options {
            env: Some("ci".into()),
            vars: [("team".to_string(), "de".to_string())].into(),
            region: Some("eu-west-1".into()),
            account: Some("111122223333".into()),
            code_root: None,
            ..Options::default()
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
        assert_eq!(env["D"], EnvValue::plain("p-f"));
        assert_eq!(env["A"], EnvValue::plain("arn:aws:firehose:us-east-1:123456789012:deliverystream/p-f"));
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
