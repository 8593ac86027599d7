//! `pipectl validate`: the spec checked offline.

use super::emitln;
use crate::cli::{Global, SpecArg};
use crate::deployment::options;
use std::process::ExitCode;

pub fn run(g: &Global, a: &SpecArg) -> anyhow::Result<ExitCode> {
    let loaded = crate::load::load(&a.spec, &options(g))?;
    let operator = crate::deployment::operator(g)?;
    crate::load::police(&loaded, &operator, None, loaded.spec.region.as_deref())?;
    let n = loaded.graph.nodes.len();
    if g.json {
        let doc = serde_json::json!({ "format_version": "1", "valid": true, "file": loaded.file, "resources": n, "diagnostics": loaded.warnings, "vars": loaded.vars() });
        emitln!("{doc}");
    } else {
        crate::load::warn(&loaded);
        let s = &loaded.spec;
        emitln!("{}: valid, {n} resources (pipeline `{}`, env `{}`)", loaded.file, s.pipeline, s.env);
    }
    Ok(ExitCode::SUCCESS)
}
