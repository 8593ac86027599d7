//! `pipectl validate`: the spec checked offline.

use super::emitln;
use crate::cli::{Global, ValidateArgs};
use crate::deployment::options;
use std::process::ExitCode;

pub fn run(g: &Global, a: &ValidateArgs) -> anyhow::Result<ExitCode> {
    let loaded = crate::load::load(&a.spec.spec, &options(g))?;
    let operator = crate::deployment::operator(g)?;
    crate::load::police(&loaded, &operator, None, loaded.spec.region.as_deref())?;
    let n = loaded.graph.nodes.len();
    let warnings = super::warnings::warnings(&loaded, &a.warn);
    if g.json {
        let doc = serde_json::json!({ "format_version": "1", "valid": true, "file": loaded.file, "resources": n, "diagnostics": [], "warnings": warnings, "vars": loaded.vars() });
        emitln!("{doc}");
    } else {
        let _ = std::io::Write::write_all(
            &mut std::io::stderr(),
            super::warnings::render(&loaded.file, &warnings, crate::term::colour(crate::term::Stream::Stderr))
                .as_bytes(),
        );
        let s = &loaded.spec;
        emitln!("{}: valid, {n} resources (pipeline `{}`, env `{}`)", loaded.file, s.pipeline, s.env);
    }
    Ok(ExitCode::SUCCESS)
}
