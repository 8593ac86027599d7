//! `pipectl validate SPEC...`: specs checked offline, each on its own; `-`
//! reads one from standard input.
//!
//! One spec keeps the one document (or error) it always gave; several give
//! each file's result, and with `--json` one document listing them
//! (`{"format_version":"1","valid":..,"files":[..]}`). Exit 2 when any is
//! invalid.

use super::emitln;
use crate::cli::{Global, ValidateArgs, Warnings};
use crate::deployment::options;
use crate::load::Loaded;
use crate::policy::Operator;
use crate::spec::SpecError;
use std::path::Path;
use std::process::ExitCode;

/// The name standard input has in messages.
pub const STDIN: &str = "<stdin>";

pub fn run(g: &Global, a: &ValidateArgs) -> anyhow::Result<ExitCode> {
    if a.specs.iter().filter(|p| is_stdin(p)).count() > 1 {
        return Err(crate::BadInput::error(
            "`-` is given more than once: standard input holds one spec",
            "give `-` once, and the other specs as files",
        ));
    }
    let operator = crate::deployment::operator(g)?;
    if let [one] = a.specs.as_slice() {
        let loaded = check(g, &operator, one)?;
        print_valid(g.json, &loaded, &a.warn);
        return Ok(ExitCode::SUCCESS);
    }
    let mut docs = Vec::new();
    let mut invalid = 0;
    for path in &a.specs {
        match check(g, &operator, path) {
            Ok(loaded) if g.json => docs.push(valid_doc(&loaded, &a.warn)),
            Ok(loaded) => print_valid(false, &loaded, &a.warn),
            Err(e) => {
                invalid += 1;
                if g.json {
                    docs.push(invalid_doc(path, &e));
                } else {
                    super::report(&e, false);
                }
            }
        }
    }
    if g.json {
        let doc = serde_json::json!({ "format_version": "1", "valid": invalid == 0, "files": docs });
        emitln!("{}", crate::scrub::json(doc));
    } else if invalid > 0 {
        eprintln!("error: {invalid} of {} specs are invalid", a.specs.len());
    }
    Ok(if invalid == 0 { ExitCode::SUCCESS } else { ExitCode::from(2) })
}

fn is_stdin(p: &Path) -> bool {
    p.as_os_str() == "-"
}

/// One spec loaded and policed offline.
fn check(g: &Global, operator: &Operator, path: &Path) -> Result<Loaded, anyhow::Error> {
    let opts = options(g);
    let loaded = if is_stdin(path) { from_stdin(&opts)? } else { crate::load::load(path, &opts)? };
    crate::load::police(&loaded, operator, None, loaded.spec.region.as_deref())?;
    Ok(loaded)
}

/// A spec read from standard input, bounded as a file is; its relative
/// `code:` paths start from the current folder.
fn from_stdin(opts: &crate::spec::Options) -> Result<Loaded, SpecError> {
    use std::io::Read;
    let limit = crate::spec::yaml::MAX_BYTES;
    let mut bytes = Vec::new();
    let read = std::io::stdin().lock().take(limit as u64 + 1).read_to_end(&mut bytes);
    let text = match read {
        Err(source) => return Err(SpecError::Read { path: STDIN.into(), source }),
        // Over the limit: cut anywhere, so the parser reports the size.
        Ok(_) if bytes.len() > limit => String::from_utf8_lossy(&bytes).into_owned(),
        Ok(_) => crate::diag::sources::utf8(bytes).map_err(|source| SpecError::Read { path: STDIN.into(), source })?,
    };
    // Kept for errors to show their line, as a file's text is.
    crate::diag::sources::remember(STDIN, crate::diag::sources::strip_bom(&text));
    if crate::plan::saved::is_saved(&text) {
        let d = crate::diag::Diagnostic::new(
            Default::default(),
            "saved-plan",
            "this is a saved plan (`plan --out`), not a spec",
        )
        .hint("`pipectl apply FILE` runs a saved plan; validate the spec it was made from");
        return Err(SpecError::Invalid { file: STDIN.into(), diagnostics: vec![d] });
    }
    crate::load::load_str(&text, STDIN, Path::new("."), opts)
}

/// Every warning of a valid spec: the load's (a region newer than the SDK)
/// and `validate`'s own (a monthly figure, AWS's default quotas).
fn warnings(loaded: &Loaded, warn: &Warnings) -> Vec<crate::diag::Diagnostic> {
    let mut all = loaded.warnings.clone();
    all.extend(super::warnings::warnings(loaded, warn));
    all
}

/// A valid spec's document: its warnings are its only diagnostics (each
/// with `"severity": "warning"`), in `diagnostics` as an invalid spec's
/// errors are: one list, whatever the outcome.
fn valid_doc(loaded: &Loaded, warn: &Warnings) -> serde_json::Value {
    let n = loaded.graph.nodes.len();
    let warnings = warnings(loaded, warn);
    serde_json::json!({ "file": loaded.file, "valid": true, "resources": n, "diagnostics": warnings, "vars": loaded.vars() })
}

/// A file's result when it is not valid: its diagnostics, or the error
/// that stopped it being read.
fn invalid_doc(path: &Path, e: &anyhow::Error) -> serde_json::Value {
    let file = if is_stdin(path) { STDIN.to_string() } else { path.display().to_string() };
    match e.downcast_ref::<SpecError>() {
        Some(SpecError::Invalid { file, diagnostics }) => {
            serde_json::json!({ "file": file, "valid": false, "diagnostics": diagnostics })
        }
        _ => serde_json::json!({ "file": file, "valid": false, "diagnostics": [], "error": format!("{e:#}") }),
    }
}

fn print_valid(json: bool, loaded: &Loaded, warn: &Warnings) {
    if json {
        let mut doc = serde_json::Map::new();
        doc.insert("format_version".into(), "1".into());
        if let serde_json::Value::Object(fields) = valid_doc(loaded, warn) {
            doc.extend(fields);
        }
        emitln!("{}", serde_json::Value::Object(doc));
    } else {
        let colour = crate::term::colour(crate::term::Stream::Stderr);
        let _ = std::io::Write::write_all(
            &mut std::io::stderr(),
            super::warnings::render(&loaded.file, &warnings(loaded, warn), colour).as_bytes(),
        );
        let (s, n) = (&loaded.spec, loaded.graph.nodes.len());
        emitln!("{}: valid, {n} resources (pipeline `{}`, env `{}`)", loaded.file, s.pipeline, s.env);
    }
}
