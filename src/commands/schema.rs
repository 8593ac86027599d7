//! `pipectl schema`: the JSON Schema of the spec, offline, from the table
//! of fields (`spec::fields`); `--markdown` prints the spec reference made
//! from the same table (how docs/spec-reference.md is written).

use super::emitln;
use crate::cli::SchemaArgs;
use crate::spec::fields::{markdown, schema};
use std::process::ExitCode;

pub fn run(a: &SchemaArgs) -> anyhow::Result<ExitCode> {
    let text = if a.markdown { markdown::text() } else { schema::text() };
    emitln!("{}", text.trim_end_matches('\n'));
    Ok(ExitCode::SUCCESS)
}
