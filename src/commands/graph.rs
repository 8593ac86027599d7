//! `pipectl graph`: the resource graph as DOT or Mermaid, offline.

use crate::cli::{Global, GraphArgs, GraphFormat};
use crate::deployment::options;
use std::io::Write;
use std::process::ExitCode;

pub fn run(g: &Global, a: &GraphArgs) -> anyhow::Result<ExitCode> {
    let loaded = crate::load::load(&a.spec, &options(g))?;
    let out = match a.format {
        GraphFormat::Dot => loaded.graph.to_dot(),
        GraphFormat::Mermaid => loaded.graph.to_mermaid(),
    };
    let _ = std::io::stdout().write_all(out.as_bytes());
    Ok(ExitCode::SUCCESS)
}
