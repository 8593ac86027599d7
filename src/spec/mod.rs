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
    let text = std::fs::read_to_string(path).map_err(|source| SpecError::Read {
        path: file.clone(),
        source,
    })?;
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."));
    let dir = if dir.as_os_str().is_empty() { PathBuf::from(".") } else { dir };
    load_str(&text, &file, &dir, opts)
}

/// Loads a spec from text; `dir` is where relative `code:` paths start.
pub fn load_str(text: &str, file: &str, dir: &Path, opts: &Options) -> Result<Loaded, SpecError> {
    let invalid = |mut diagnostics: Vec<Diagnostic>| {
        diagnostics.sort_by(|a, b| a.mark.cmp(&b.mark));
        diagnostics.dedup();
        SpecError::Invalid {
            file: file.to_string(),
            diagnostics,
        }
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
    Ok(Loaded {
        file: file.to_string(),
        spec: built.spec,
        graph,
        origins: built.origins,
    })
}
