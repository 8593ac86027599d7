//! `pipectl import SPEC [--yes]`: the live resources the spec names that
//! nobody owns, each with how it differs from the spec; with `--yes`,
//! adopted (the record first, then ownership tags, or pipectl's marker
//! where AWS cannot tag) so the next plan manages them. What another tool
//! marks as its own (`crate::plan::foreign`: a CloudFormation stack's
//! tags, Terraform's, ...) is left alone unless `--adopt-from` names it.
//!
//! `pipectl import --from-stream NAME --out FILE`: a spec for a pipeline
//! built by hand (`crate::import`), its functions' code beside it.

use super::{emitln, release};
use crate::cli::{Global, ImportArgs};
use crate::deployment::{Deployment, Locking, Reach};
use crate::engine;
use crate::plan::foreign::{self, Managed};
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
            // Adopting makes the spec's what it names: the policy decides first.
            let adopted = async {
                d.police(crate::cost::DEFAULT_GB_PER_DAY).await?;
                adopt(g, a, &d).await
            };
            release(lock, adopted.await).await
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
    /// Another tool's (its mark says so), and `--adopt-from` does not name it.
    OtherTool(Managed),
    /// Nobody's, or a tool's `--adopt-from` names: adoptable, with what
    /// the next apply would change.
    Adoptable(Vec<String>, Option<Managed>),
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
            Some(o) => match other_tool(o) {
                Some(m) if !a.adopt_from.iter().any(|t| t == m.tool.name) => Standing::OtherTool(m),
                m => Standing::Adoptable(differences(r, o), m),
            },
        };
        rows.push((address, r.clone(), standing));
    }
    let adoptable: Vec<&(Address, Res, Standing)> =
        rows.iter().filter(|(_, _, s)| matches!(s, Standing::Adoptable(..))).collect();
    print(g.json, d, &rows);
    let tools: std::collections::BTreeSet<&str> = rows
        .iter()
        .filter_map(|(_, _, s)| match s {
            Standing::OtherTool(m) => Some(m.tool.name),
            _ => None,
        })
        .collect();
    if !tools.is_empty() {
        let flags: Vec<String> = tools.iter().map(|t| format!("`--adopt-from {t}`")).collect();
        eprintln!(
            "\nleft alone: what another tool manages (adopting it, that tool and pipectl would undo each other's \
             changes and delete what the other still holds); to adopt it anyway, first take it out of that tool \
             (keeping the resource), then pass {}",
            flags.join(" ")
        );
    }
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
    for (address, r, standing) in &adoptable {
        r.adopt(&d.aws).await.map_err(|e| anyhow::anyhow!(e).context(format!("adopting {address}")))?;
        eprintln!("adopted {address} ({})", r.name());
        if let Standing::Adoptable(_, Some(m)) = standing {
            eprintln!(
                "  note: {m}: take it out of {0} (keeping the resource), or {0} will change it again",
                m.tool.title
            );
        }
    }
    eprintln!(
        "\n{} resource(s) adopted: `pipectl plan` now manages them and shows what differs from the spec",
        adoptable.len()
    );
    Ok(ExitCode::SUCCESS)
}

/// Tagged or marked for another deployment, or another account's.
fn someone_elses(o: &Observed) -> bool {
    o.another_account
        || o.tags.as_ref().is_some_and(|t| t.contains_key(TAG_PIPELINE))
        || o.marker.as_ref().is_some_and(|m| m.contains_key(TAG_PIPELINE))
}

/// The tool whose mark the resource carries: in its tags, or where AWS
/// cannot tag it, among the marks found in it (a table's parameters).
fn other_tool(o: &Observed) -> Option<Managed> {
    o.tags.as_ref().and_then(foreign::managed_by).or_else(|| o.marker.as_ref().and_then(foreign::managed_by))
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
                let (status, detail, tool) = match s {
                    Standing::Absent => ("absent", serde_json::json!([]), None),
                    Standing::Managed => ("managed", serde_json::json!([]), None),
                    Standing::Foreign(why) => ("foreign", serde_json::json!([why]), None),
                    Standing::OtherTool(m) => ("other-tool", serde_json::json!([m.to_string()]), Some(m)),
                    Standing::Adoptable(changes, m) => ("adoptable", serde_json::json!(changes), m.as_ref()),
                };
                let tool = tool.map(|m| m.tool.name);
                let (address, name) = (a.to_string(), r.name());
                serde_json::json!({ "address": address, "name": name, "status": status, "changes": detail, "tool": tool })
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
            Standing::OtherTool(m) => ("!", format!("left alone: {m}; `--adopt-from {}` adopts it", m.tool.name)),
            Standing::Adoptable(changes, m) => {
                let from = m.as_ref().map(|m| format!(" from {}", m.tool.title)).unwrap_or_default();
                let then = if changes.is_empty() { ": matches the spec" } else { "; then apply changes:" };
                ("+", format!("adopt{from}{then}"))
            }
        };
        emitln!("  {symbol} {:<width$}  {}  ({what})", a.to_string(), r.name());
        if let Standing::Adoptable(changes, _) = s {
            for c in changes {
                emitln!("        {c}");
            }
        }
    }
    emitln!(
        "\nImport: {} to adopt, {} already managed, {} to create by apply, {} left alone.",
        count(|s| matches!(s, Standing::Adoptable(..))),
        count(|s| matches!(s, Standing::Managed)),
        count(|s| matches!(s, Standing::Absent)),
        count(|s| matches!(s, Standing::Foreign(_) | Standing::OtherTool(_)))
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
    if g.json {
        let doc = serde_json::json!({
            "format_version": "1", "operation": "import-from-stream", "out": out.display().to_string(),
            "stream": found.stream.name, "firehoses": found.firehoses.len(), "buckets": found.buckets.len(),
            "tables": found.tables.len(), "functions": found.functions.len(), "notes": notes,
        });
        emitln!("{}", crate::scrub::json(doc));
        return Ok(ExitCode::SUCCESS);
    }
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
