//! `pipectl import SPEC [--yes]`: the live resources the spec names that
//! nobody owns, each with how it differs from the spec; with `--yes`,
//! adopted (the record first, then ownership tags, or pipectl's marker
//! where AWS cannot tag) so the next plan manages them.
//!
//! `pipectl import --from-stream NAME --out FILE`: a spec for a pipeline
//! built by hand (`crate::import`), its functions' code beside it.

use super::{emitln, release};
use crate::cli::{Global, ImportArgs};
use crate::deployment::{Deployment, Locking, Reach};
use crate::engine;
use crate::plan::{diff, Address, Kind};
use crate::resources::{Observed, Progress, Res, TAG_PIPELINE};
use crate::BadInput;
use std::process::ExitCode;

pub async fn run(g: &Global, a: &ImportArgs) -> anyhow::Result<ExitCode> {
    match (&a.spec, &a.from_stream, &a.out) {
        (Some(spec), None, _) => {
            let locking = Locking { command: "import", wait: a.lock.lock_timeout };
            let (d, lock) = Deployment::open_locked(g, spec, &[], Reach::Upstream, locking).await?;
            crate::cancel::install();
            release(lock, adopt(g, a, &d).await).await
        }
        (None, Some(stream), Some(out)) => from_stream(g, a, stream, out).await,
        _ => Err(BadInput::error(
            "import needs a SPEC to adopt, or `--from-stream NAME --out FILE` to write one",
            "e.g. `pipectl import --from-stream clicks --out clicks.yaml`, then `pipectl import clicks.yaml --yes`",
        )),
    }
}

/// Where a live resource stands for an import.
enum Standing {
    Absent,
    Managed,
    Foreign(String),
    /// Nobody's: adoptable, with what the next apply would change.
    Adoptable(Vec<String>),
}

async fn adopt(g: &Global, a: &ImportArgs, d: &Deployment) -> anyhow::Result<ExitCode> {
    let res = d.resources();
    let reads: Vec<(Address, Res)> =
        res.iter().filter(|(a, _)| a.kind != Kind::Record).map(|(a, r)| (a.clone(), r.clone())).collect();
    let seen = engine::read_all(&d.aws, reads, engine::MAX_READS, engine::Depth::Full).await?;
    let owner = d.meta.owner();
    let mut rows = Vec::new();
    for (address, observed) in seen {
        let r = &res[&address];
        let recorded = d.record.as_ref().and_then(|c| c.resources.get(&address.to_string())) == Some(&r.record_name());
        let standing = match &observed {
            None => Standing::Absent,
            Some(o) if owner.owns(o, recorded) => Standing::Managed,
            Some(o) if someone_elses(o) => Standing::Foreign(owner.conflict_reason(o)),
            Some(o) => Standing::Adoptable(differences(r, o)),
        };
        rows.push((address, r.clone(), standing));
    }
    let adoptable: Vec<&(Address, Res, Standing)> =
        rows.iter().filter(|(_, _, s)| matches!(s, Standing::Adoptable(_))).collect();
    print(g.json, d, &rows);
    if adoptable.is_empty() || !a.yes {
        if !adoptable.is_empty() {
            eprintln!("\ndry run: pass `--yes` to adopt these {} resource(s)", adoptable.len());
        }
        return Ok(ExitCode::SUCCESS);
    }
    // The record first: what is adopted is listed before it is changed.
    let ra = Address::new(Kind::Record, "deployment");
    if let Some(record) = res.get(&ra) {
        let p = Progress::new(ra.clone(), None);
        let written = match &d.record {
            None => record.create(&d.aws, &p).await,
            Some(_) => crate::resources::converge(record.as_ref(), &d.aws, &p).await,
        };
        written.map_err(|e| anyhow::anyhow!(e).context("writing the deployment record"))?;
    }
    for (address, r, _) in &adoptable {
        r.adopt(&d.aws).await.map_err(|e| anyhow::anyhow!(e).context(format!("adopting {address}")))?;
        eprintln!("adopted {address} ({})", r.name());
    }
    eprintln!(
        "\n{} resource(s) adopted: `pipectl plan` now manages them and shows what differs from the spec",
        adoptable.len()
    );
    Ok(ExitCode::SUCCESS)
}

/// Tagged or marked for another deployment.
fn someone_elses(o: &Observed) -> bool {
    o.tags.as_ref().is_some_and(|t| t.contains_key(TAG_PIPELINE))
        || o.marker.as_ref().is_some_and(|m| m.contains_key(TAG_PIPELINE))
}

/// What the next apply would change on an adopted resource, as the plan
/// shows it; tags only for keys it would remove.
fn differences(r: &Res, o: &Observed) -> Vec<String> {
    let Some(desired) = r.desired() else { return Vec::new() };
    let mut changes = diff::diff(&desired, &o.attrs);
    diff::mask(&mut changes, r.sensitive());
    let mut out: Vec<String> = changes
        .iter()
        .filter(|c| c.field != "tags")
        .map(|c| format!("{}: {}", c.field, diff::describe_change(&c.before, &c.after)))
        .collect();
    let want = r.desired_tags();
    let extra: Vec<&String> =
        o.tags.iter().flatten().map(|(k, _)| k).filter(|k| !want.contains_key(*k) && !k.starts_with("aws:")).collect();
    if !extra.is_empty() {
        out.push(format!("tags: {} removed", extra.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")));
    }
    out
}

fn print(json: bool, d: &Deployment, rows: &[(Address, Res, Standing)]) {
    if json {
        let list: Vec<serde_json::Value> = rows
            .iter()
            .map(|(a, r, s)| {
                let (status, detail) = match s {
                    Standing::Absent => ("absent", serde_json::json!([])),
                    Standing::Managed => ("managed", serde_json::json!([])),
                    Standing::Foreign(why) => ("foreign", serde_json::json!([why])),
                    Standing::Adoptable(changes) => ("adoptable", serde_json::json!(changes)),
                };
                serde_json::json!({ "address": a.to_string(), "name": r.name(), "status": status, "changes": detail })
            })
            .collect();
        emitln!("{}", serde_json::json!({ "format_version": "1", "operation": "import", "resources": list }));
        return;
    }
    emitln!("import: pipeline `{}`, env `{}`, region {}\n", d.meta.pipeline, d.meta.env, d.aws.region);
    let width = rows.iter().map(|(a, _, _)| a.to_string().len()).max().unwrap_or(0);
    let count = |f: fn(&Standing) -> bool| rows.iter().filter(|(_, _, s)| f(s)).count();
    for (a, r, s) in rows {
        let (symbol, what) = match s {
            Standing::Absent => (".", "not there: apply creates it".to_string()),
            Standing::Managed => ("=", "already this deployment's".to_string()),
            Standing::Foreign(why) => ("!", format!("left alone: {why}")),
            Standing::Adoptable(changes) if changes.is_empty() => ("+", "adopt: matches the spec".to_string()),
            Standing::Adoptable(_) => ("+", "adopt; then apply changes:".to_string()),
        };
        emitln!("  {symbol} {:<width$}  {}  ({what})", a.to_string(), r.name());
        if let Standing::Adoptable(changes) = s {
            for c in changes {
                emitln!("        {c}");
            }
        }
    }
    emitln!(
        "\nImport: {} to adopt, {} already managed, {} to create by apply, {} left alone.",
        count(|s| matches!(s, Standing::Adoptable(_))),
        count(|s| matches!(s, Standing::Managed)),
        count(|s| matches!(s, Standing::Absent)),
        count(|s| matches!(s, Standing::Foreign(_)))
    );
}

async fn from_stream(g: &Global, a: &ImportArgs, stream: &str, out: &std::path::Path) -> anyhow::Result<ExitCode> {
    let pipeline = a.pipeline.clone().unwrap_or_else(|| crate::import::pipeline_of(stream));
    crate::spec::rules::pipeline_name(&pipeline)
        .map_err(|m| BadInput::error(format!("--pipeline: {m}"), "for example `--pipeline clicks-lab`"))?;
    if let Some(dir) = &a.code_dir {
        if !dir.is_dir() {
            return Err(BadInput::error(
                format!("--code-dir `{}` is not a folder", dir.display()),
                "give the folder holding <function>.zip files",
            ));
        }
    }
    let aws = crate::deployment::connect(g, None).await?;
    let found = crate::import::discover(&aws, stream, &pipeline)
        .await
        .map_err(|e| anyhow::anyhow!(e).context(format!("reading the pipeline around stream `{stream}`")))?;
    let folder = out.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
    let mut notes = found.notes.clone();
    for f in found.functions.values() {
        let dest = folder.join(crate::import::code_path(&f.name));
        let source = a.code_dir.as_ref().map(|d| d.join(format!("{}.zip", f.name))).filter(|p| p.is_file());
        match source {
            Some(src) => {
                std::fs::create_dir_all(dest.parent().unwrap_or(folder))?;
                std::fs::copy(&src, &dest)?;
                // The digest the plan will compare, of the zip as it is.
                match crate::package::build(&dest, folder) {
                    Ok(pkg) if pkg.sha256 == f.code_sha256 => {}
                    Ok(_) => notes.push(format!(
                        "`{}` is not the code function `{}` runs: apply will upload it",
                        src.display(),
                        f.name
                    )),
                    Err(e) => notes.push(format!("`{}` cannot be the code of `{}`: {e}", src.display(), f.name)),
                }
            }
            None => notes.push(format!(
                "the code of `{}` is not here: save it as `{}` (`aws lambda get-function --function-name {} --query Code.Location --output text` is its download link), or pass --code-dir",
                f.name,
                dest.display(),
                f.name
            )),
        }
    }
    std::fs::write(out, found.spec())?;
    eprintln!(
        "wrote `{}`: stream `{}`, {} Firehose(s), {} bucket(s), {} table(s), {} function(s)",
        out.display(),
        found.stream.name,
        found.firehoses.len(),
        found.buckets.len(),
        found.tables.len(),
        found.functions.len()
    );
    for n in &notes {
        eprintln!("note: {n}");
    }
    eprintln!(
        "next: `pipectl import {} --yes` adopts what it names; then `pipectl plan {}`",
        out.display(),
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}
