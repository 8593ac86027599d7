//! pipectl: deploy a streaming-data pipeline on AWS from one YAML file.
//!
//! Exit codes (part of the interface):
//! - 0: success (`plan --detailed-exitcode`: nothing to change)
//! - 1: an error while running (AWS refused, a wait timed out, a conflict)
//! - 2: bad input (invalid spec or flags); nothing was sent to AWS.
//!   With `plan --detailed-exitcode`, 2 means "changes pending" and every
//!   error exits 1.

use clap::Parser;
use pipectl::aws::{Aws, Target};
use pipectl::cli::{Cli, Command, GraphFormat, Targets};
use pipectl::engine::{self, walk::Summary};
use pipectl::plan::{Action, Address, Graph, Kind};
use pipectl::resources::record::{Content, Record};
use pipectl::resources::{self, Meta, Res};
use pipectl::spec::{self, Loaded, Options, SpecError};
use pipectl::Hinted;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

/// `println!` that does not panic when the reader has gone (`| head`).
macro_rules! emitln {
    ($($arg:tt)*) => {{
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let detailed = matches!(&cli.command, Command::Plan(p) if p.detailed_exitcode);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    match runtime.block_on(run(&cli)) {
        Ok(code) => code,
        Err(err) => {
            let code = report(&err, cli.global.json);
            if detailed {
                ExitCode::from(1)
            } else {
                code
            }
        }
    }
}

fn options(cli: &Cli) -> Options {
    Options {
        env: cli.global.env.clone(),
        vars: cli.global.vars.iter().cloned().collect(),
        region: cli.global.region.clone(),
        account: None,
    }
}

async fn run(cli: &Cli) -> anyhow::Result<ExitCode> {
    let opts = options(cli);
    match &cli.command {
        Command::Validate(a) => {
            let loaded = spec::load(&a.spec, &opts)?;
            let n = loaded.graph.nodes.len();
            if cli.global.json {
                let doc = serde_json::json!({
                    "format_version": "1",
                    "valid": true,
                    "file": loaded.file,
                    "resources": n,
                    "diagnostics": [],
                });
                emitln!("{doc}");
            } else {
                emitln!(
                    "{}: valid, {n} resources (pipeline `{}`, env `{}`)",
                    loaded.file,
                    loaded.spec.pipeline,
                    loaded.spec.env
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Graph(a) => {
            let loaded = spec::load(&a.spec, &opts)?;
            let out = match a.format {
                GraphFormat::Dot => loaded.graph.to_dot(),
                GraphFormat::Mermaid => loaded.graph.to_mermaid(),
            };
            let _ = std::io::stdout().write_all(out.as_bytes());
            Ok(ExitCode::SUCCESS)
        }
        Command::Plan(a) => {
            let ctx = Deployment::open(cli, &a.spec, &a.targets, false).await?;
            let planned = ctx.plan(&a.targets).await?;
            print_plan(cli, &planned.plan);
            if planned.plan.conflicts().next().is_some() {
                return Err(conflicts_error(&planned.plan));
            }
            Ok(if a.detailed_exitcode && !planned.plan.is_empty() { ExitCode::from(2) } else { ExitCode::SUCCESS })
        }
        Command::Apply(a) => {
            let ctx = Deployment::open(cli, &a.spec, &a.targets, false).await?;
            let planned = ctx.plan(&a.targets).await?;
            print_plan(cli, &planned.plan);
            if planned.plan.conflicts().next().is_some() {
                return Err(conflicts_error(&planned.plan));
            }
            if planned.plan.is_empty() {
                return Ok(ExitCode::SUCCESS);
            }
            confirm("apply these changes", a.yes)?;
            let labels = planned.steps.iter().map(|(a, s)| (a.clone(), s.change.action.verb().to_string())).collect();
            let (aws, planned_ref) = (&ctx.aws, &planned);
            let summary = with_report(cli.global.json, labels, |tx| async move {
                engine::apply(aws, planned_ref, a.targets.parallelism as usize, &tx).await
            })
            .await;
            // Deleted orphans leave the record once they are gone.
            let deleted: Vec<&Address> = summary
                .done
                .iter()
                .filter(|d| planned.steps.get(*d).is_some_and(|s| s.change.action == Action::Delete))
                .collect();
            if !deleted.is_empty() {
                ctx.forget(&deleted).await?;
            }
            finish("apply", &summary, cli.global.json)
        }
        Command::Destroy(a) => destroy(cli, a).await,
        Command::Outputs(a) => outputs(cli, a).await,
    }
}

/// A spec loaded with the account and region known, connected to AWS.
struct Deployment {
    aws: Aws,
    loaded: Loaded,
    meta: Meta,
    graph: Graph,
    record: Option<Content>,
}

impl Deployment {
    async fn open(cli: &Cli, path: &Path, targets: &Targets, upstream_for_destroy: bool) -> anyhow::Result<Deployment> {
        let mut opts = options(cli);
        // Validate offline first: bad input never reaches AWS.
        let offline = spec::load(path, &opts)?;
        let unknown = offline.graph.unknown_targets(&targets.targets);
        if !unknown.is_empty() {
            return Err(SpecError::Invalid {
                file: offline.file.clone(),
                diagnostics: unknown
                    .iter()
                    .map(|t| {
                        pipectl::diag::Diagnostic::new(
                            Default::default(),
                            "target",
                            format!("--target `{t}` selects no resource"),
                        )
                        .hint("give an address like `stream.trips` or a kind like `stream` (see `pipectl graph`)")
                    })
                    .collect(),
            }
            .into());
        }
        let aws = connect(cli, offline.spec.region.clone()).await?;
        opts.account = Some(aws.account.clone());
        opts.region = Some(aws.region.clone());
        let loaded = spec::load(path, &opts)?;
        let graph = loaded.graph.restrict(&targets.targets, !upstream_for_destroy);
        let meta = Meta {
            pipeline: loaded.spec.pipeline.clone(),
            env: loaded.spec.env.clone(),
            spec_tags: loaded.spec.tags.clone(),
            delete_data: false,
            timeouts: loaded.spec.timeouts.clone(),
        };
        let record = Record::fetch(&aws, &loaded.spec.record_name())
            .await
            .map_err(|e| anyhow::Error::new(e).context("reading the deployment record"))?;
        Ok(Deployment { aws, loaded, meta, graph, record })
    }

    fn resources(&self) -> BTreeMap<Address, Res> {
        let mut res = resources::from_spec(&self.loaded.spec, &self.graph, &self.aws, &self.meta);
        // The record lists what this run creates plus what earlier runs
        // left, so nothing is forgotten if the run stops half-way.
        let content = self.record_content();
        let ra = Address::new(Kind::Record, "deployment");
        if let Some(node) = self.graph.nodes.get(&ra) {
            res.insert(
                ra.clone(),
                Arc::new(
                    Record::new(ra, node.name.clone(), Some(content), &self.meta).with_current(self.record.clone()),
                ),
            );
        }
        res
    }

    /// The record's listing for this run: what the (targeted) graph holds,
    /// plus what earlier runs left.
    fn record_content(&self) -> Content {
        let mut content = Content::of(&self.loaded.spec, &self.graph);
        content.region = self.aws.region.clone();
        if let Some(old) = &self.record {
            for (a, n) in &old.resources {
                content.resources.entry(a.clone()).or_insert_with(|| n.clone());
            }
        }
        content
    }

    /// Rewrites the record without resources that are gone.
    async fn forget(&self, gone: &[&Address]) -> anyhow::Result<()> {
        let mut content = self.record_content();
        for a in gone {
            content.resources.remove(&a.to_string());
        }
        let ra = Address::new(Kind::Record, "deployment");
        let record = Record::new(ra, self.loaded.spec.record_name(), Some(content), &self.meta);
        record.put(&self.aws).await.map_err(|e| anyhow::Error::new(e).context("updating the deployment record"))
    }

    /// Resources listed in the record that the spec no longer has.
    fn orphans(&self) -> Vec<Res> {
        let Some(record) = &self.record else {
            return vec![];
        };
        record
            .entries()
            .into_iter()
            .filter(|(a, _)| !self.loaded.graph.nodes.contains_key(a))
            .map(|(a, n)| resources::from_record(&a, &n, &self.aws, &self.meta))
            .collect()
    }

    async fn plan(&self, targets: &Targets) -> anyhow::Result<engine::Planned> {
        let resources = self.resources();
        let orphans = if targets.targets.is_empty() { self.orphans() } else { vec![] };
        engine::plan(engine::PlanInput {
            aws: &self.aws,
            meta: &self.meta,
            resources: &resources,
            deps: self.graph.deps(),
            order: self.graph.topo_order(),
            record: self.record.as_ref(),
            orphans,
            parallelism: targets.parallelism as usize,
        })
        .await
    }
}

async fn connect(cli: &Cli, spec_region: Option<String>) -> anyhow::Result<Aws> {
    let target = Target {
        region: cli.global.region.clone().or(spec_region),
        profile: cli.global.profile.clone(),
        endpoint_url: cli.global.endpoint_url.clone(),
    };
    Aws::connect(&target).await
}

fn print_plan(cli: &Cli, plan: &pipectl::plan::Plan) {
    if cli.global.json {
        emitln!("{}", serde_json::to_string(plan).expect("plan serializes"));
    } else {
        let _ = write!(std::io::stdout(), "{}", plan.render(cli.global.verbose > 0));
    }
}

fn conflicts_error(plan: &pipectl::plan::Plan) -> anyhow::Error {
    let names: Vec<String> = plan.conflicts().map(|c| format!("`{}` ({})", c.address, c.name)).collect();
    Hinted {
        message: format!("{} resource(s) exist but are not owned by this pipeline and env: {}", names.len(), names.join(", ")),
        hint: "pipectl never modifies what it does not own: give these resources other names in the spec (or use another --env)".into(),
    }
    .into()
}

fn confirm(what: &str, yes: bool) -> anyhow::Result<()> {
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(Hinted {
            message: format!("refusing to {what} without confirmation: standard input is not a terminal"),
            hint: "pass `--yes` to confirm non-interactively (e.g. in CI)".into(),
        }
        .into());
    }
    eprint!("\nDo you want to {what}? Only `yes` is accepted: ");
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    if answer.trim() != "yes" {
        anyhow::bail!("cancelled: nothing was changed");
    }
    Ok(())
}

async fn with_report<F, Fut>(json: bool, labels: BTreeMap<Address, String>, run: F) -> Summary
where
    F: FnOnce(tokio::sync::mpsc::UnboundedSender<engine::walk::Event>) -> Fut,
    Fut: std::future::Future<Output = Summary>,
{
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let reporter = tokio::spawn(pipectl::report::render(rx, labels, pipectl::report::Style::detect(json)));
    let summary = run(tx).await;
    let _ = reporter.await;
    summary
}

fn finish(what: &str, s: &Summary, json: bool) -> anyhow::Result<ExitCode> {
    let line = format!(
        "{what}: {} done, {} failed, {} skipped, {} not started",
        s.done.len(),
        s.failed.len(),
        s.skipped.len(),
        s.not_started.len()
    );
    if json {
        emitln!(
            "{}",
            serde_json::json!({"event": "summary", "command": what, "done": s.done.len(), "failed": s.failed.len(), "skipped": s.skipped.len(), "not_started": s.not_started.len()})
        );
    } else {
        eprintln!("\n{line}");
    }
    if s.ok() {
        return Ok(ExitCode::SUCCESS);
    }
    let errors: Vec<String> = s.failed.iter().map(|(a, e)| format!("{a}: {e}")).collect();
    Err(Hinted {
        message: format!("{what} did not finish: {}", errors.join("; ")),
        hint: format!("fix the cause and run `{what}` again: it picks up from what exists now"),
    }
    .into())
}

async fn destroy(cli: &Cli, a: &pipectl::cli::DestroyArgs) -> anyhow::Result<ExitCode> {
    let (aws, meta, mut res, mut deps, listed) = match &a.spec {
        Some(path) => {
            let ctx = Deployment::open(cli, path, &a.targets, true).await?;
            let meta = Meta { delete_data: a.delete_data, ..ctx.meta.clone() };
            let mut res = resources::from_spec(&ctx.loaded.spec, &ctx.graph, &ctx.aws, &meta);
            let mut deps = ctx.graph.reversed().deps();
            if !a.targets.targets.is_empty() {
                // A partial destroy keeps the record: other resources remain.
                let ra = Address::new(Kind::Record, "deployment");
                res.remove(&ra);
                deps.remove(&ra);
                for d in deps.values_mut() {
                    d.remove(&ra);
                }
            } else {
                for o in ctx.orphans() {
                    res.insert(o.address().clone(), o);
                }
            }
            let listed: BTreeSet<String> =
                ctx.record.as_ref().map(|r| r.resources.keys().cloned().collect()).unwrap_or_default();
            (ctx.aws, meta, res, deps, listed)
        }
        None => {
            let pipeline = a.pipeline.clone().expect("clap requires --pipeline without a spec");
            spec::rules::pipeline_name(&pipeline).map_err(|m| Hinted {
                message: format!("--pipeline: {m}"),
                hint: "for example `--pipeline taxi-lab`".into(),
            })?;
            let env = cli.global.env.clone().unwrap_or_else(|| "default".into());
            let aws = connect(cli, None).await?;
            let meta = Meta {
                pipeline: pipeline.clone(),
                env: env.clone(),
                spec_tags: Default::default(),
                delete_data: a.delete_data,
                timeouts: Default::default(),
            };
            let name = format!("/pipectl/{pipeline}/{env}");
            let Some(record) = Record::fetch(&aws, &name).await? else {
                eprintln!(
                    "nothing to destroy: no deployment record `{name}` in {} (account {})",
                    aws.region, aws.account
                );
                return Ok(ExitCode::SUCCESS);
            };
            let mut res: BTreeMap<Address, Res> = BTreeMap::new();
            for (addr, n) in record.entries() {
                res.insert(addr.clone(), resources::from_record(&addr, &n, &aws, &meta));
            }
            let ra = Address::new(Kind::Record, "deployment");
            res.insert(ra.clone(), resources::from_record(&ra, &name, &aws, &meta));
            let listed = record.resources.keys().cloned().collect();
            (aws, meta, res, BTreeMap::new(), listed)
        }
    };
    // Nodes without graph edges (orphans, or everything when there is no
    // spec) go by kind: producers first, the record last.
    let loose: Vec<Address> = res.keys().filter(|a| !deps.contains_key(*a)).cloned().collect();
    if !loose.is_empty() {
        let all: Vec<Address> = res.keys().cloned().collect();
        for (addr, d) in engine::rank_deps(&all) {
            let entry = deps.entry(addr.clone()).or_default();
            if loose.contains(&addr) {
                entry.extend(d);
            } else {
                entry.extend(d.into_iter().filter(|x| loose.contains(x)));
            }
        }
    }
    res.retain(|a, _| deps.contains_key(a));
    eprintln!(
        "destroy: pipeline `{}`, env `{}`, region {}, account {}",
        meta.pipeline, meta.env, aws.region, aws.account
    );
    let order: Vec<String> = Graph::order_of(&deps).iter().map(|a| format!("  - {a}  {}", res[a].name())).collect();
    eprintln!("{}", order.join("\n"));
    confirm("destroy these resources", a.yes)?;
    let labels = res.keys().map(|a| (a.clone(), Action::Delete.verb().to_string())).collect();
    let summary = with_report(cli.global.json, labels, |tx| async move {
        engine::destroy(&aws, &meta, &res, &deps, &listed, a.targets.parallelism as usize, &tx).await
    })
    .await;
    finish("destroy", &summary, cli.global.json)
}

/// Names, ARNs, console links and whether each resource exists, for
/// people and (with `--json`) for CI.
async fn outputs(cli: &Cli, a: &pipectl::cli::SpecArg) -> anyhow::Result<ExitCode> {
    let ctx = Deployment::open(cli, &a.spec, &Targets::default(), false).await?;
    let resources = ctx.resources();
    let mut reads = tokio::task::JoinSet::new();
    for (addr, r) in &resources {
        let (addr, r, aws) = (addr.clone(), r.clone(), ctx.aws.clone());
        reads.spawn(async move { (addr, r.read(&aws).await) });
    }
    let mut exists = BTreeMap::new();
    while let Some(j) = reads.join_next().await {
        let (addr, read) = j?;
        exists.insert(addr, read.map_err(|e| anyhow::anyhow!("reading: {e}"))?.is_some());
    }
    let mut rows = serde_json::Map::new();
    for addr in ctx.graph.topo_order() {
        let Some(r) = resources.get(&addr) else { continue };
        let name = match addr.kind {
            Kind::GlueTable => {
                ctx.record_content().resources.get(&addr.to_string()).cloned().unwrap_or_else(|| r.name().to_string())
            }
            _ => r.name().to_string(),
        };
        let (arn, console) = resources::locate(addr.kind, &name, &ctx.aws.region, &ctx.aws.account);
        rows.insert(
            addr.to_string(),
            serde_json::json!({ "name": r.name(), "arn": arn, "console": console, "exists": exists.get(&addr).copied().unwrap_or(false) }),
        );
    }
    if cli.global.json {
        let doc = serde_json::json!({
            "format_version": "1",
            "pipeline": ctx.meta.pipeline,
            "env": ctx.meta.env,
            "region": ctx.aws.region,
            "account": ctx.aws.account,
            "resources": rows,
        });
        emitln!("{doc}");
    } else {
        emitln!(
            "pipeline `{}`, env `{}`, region {}, account {}\n",
            ctx.meta.pipeline,
            ctx.meta.env,
            ctx.aws.region,
            ctx.aws.account
        );
        for (addr, v) in &rows {
            let mark = if v["exists"] == true { " " } else { "?" };
            emitln!("{mark} {addr}  {}", v["name"].as_str().unwrap_or_default());
            for key in ["arn", "console"] {
                if let Some(x) = v[key].as_str() {
                    emitln!("      {key}: {x}");
                }
            }
        }
        emitln!("\n(? = not deployed)");
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints an error the way cargo does (`error:`, `Caused by:`, `hint:`) and
/// returns the exit code for it.
fn report(err: &anyhow::Error, json: bool) -> ExitCode {
    let mut stderr = std::io::stderr().lock();
    if let Some(SpecError::Invalid { file, diagnostics }) = err.downcast_ref::<SpecError>() {
        if json {
            let doc = serde_json::json!({
                "format_version": "1",
                "valid": false,
                "file": file,
                "diagnostics": diagnostics,
            });
            emitln!("{doc}");
        } else {
            for d in diagnostics {
                let _ = write!(stderr, "{}", d.render(file));
            }
            let _ = writeln!(stderr, "error: {err}; nothing was sent to AWS");
        }
        return ExitCode::from(2);
    }
    let _ = writeln!(stderr, "error: {err}");
    let mut causes = err.chain().skip(1).peekable();
    if causes.peek().is_some() {
        let _ = writeln!(stderr, "\nCaused by:");
        for c in causes {
            let _ = writeln!(stderr, "  {c}");
        }
    }
    let hinted = err.downcast_ref::<Hinted>().or_else(|| err.chain().find_map(|c| c.downcast_ref::<Hinted>()));
    if let Some(h) = hinted {
        let _ = writeln!(stderr, "hint: {}", h.hint);
    }
    if err.downcast_ref::<SpecError>().is_some() {
        return ExitCode::from(2);
    }
    ExitCode::from(1)
}
