//! `pipectl export cloudformation SPEC`: the spec as a CloudFormation
//! template (see `crate::export`). Offline, except uploading function code
//! to `--code-bucket` when it cannot be inlined.

use crate::cli::{CloudFormationArgs, ExportFormat, Global};
use crate::export::{self, REGION};
use crate::resources::Meta;
use crate::{send, BadInput};
use std::process::ExitCode;

pub async fn run(g: &Global, f: &ExportFormat) -> anyhow::Result<ExitCode> {
    match f {
        ExportFormat::Cloudformation(a) => cloudformation(g, a).await,
    }
}

/// CloudFormation resolves `{{resolve:ssm:...}}` and
/// `{{resolve:secretsmanager:...}}` anywhere in a template when the stack
/// is deployed, with the deployer's rights. The only ones a template may
/// hold are those the export writes for the spec's `${ssm:...}` /
/// `${secret:...}` references, which the operator's policy decided on;
/// any other (written in a spec however escaped, passed in a `--var`, or
/// in function code inlined as `ZipFile`) would read a secret the policy
/// never saw.
fn refuse_dynamic_references(
    spec: &crate::spec::Spec,
    body: &serde_json::Value,
    file: &std::path::Path,
) -> anyhow::Result<()> {
    use crate::resources::agent::{AL2023_ARM, AL2023_X86};
    let mut allowed: std::collections::BTreeSet<String> = spec
        .functions
        .values()
        .flat_map(|f| f.environment.values())
        .flat_map(|v| v.secrets.iter().map(|(_, r)| crate::resources::function::dynamic_reference(r)))
        .collect();
    // AWS's public parameters naming the latest Amazon Linux 2023 (`ami: al2023`).
    allowed.extend([AL2023_X86, AL2023_ARM].map(|p| format!("{{{{resolve:ssm:{p}}}}}")));
    let mut strings = Vec::new();
    collect_strings(body, &mut strings);
    for text in strings {
        let mut rest = text.as_str();
        while let Some(at) = rest.find("{{resolve:") {
            let tail = &rest[at..];
            let end = tail.find("}}").map_or(tail.len(), |e| e + 2);
            let reference = &tail[..end];
            if !allowed.contains(reference) {
                return Err(BadInput::error(
                    format!(
                        "cannot export `{}`: the template would hold the CloudFormation dynamic reference `{reference}`, which the stack resolves with the deployer's rights",
                        file.display()
                    ),
                    "name a secret as `${ssm:NAME}` or `${secret:ID}` in a function's environment, where the operator's policy decides on it",
                ));
            }
            rest = &tail[end.min(tail.len())..];
        }
    }
    Ok(())
}

fn collect_strings<'a>(v: &'a serde_json::Value, out: &mut Vec<&'a String>) {
    match v {
        serde_json::Value::String(s) => out.push(s),
        serde_json::Value::Array(xs) => xs.iter().for_each(|x| collect_strings(x, out)),
        serde_json::Value::Object(m) => m.iter().for_each(|(k, x)| {
            out.push(k);
            collect_strings(x, out)
        }),
        _ => {}
    }
}

async fn cloudformation(g: &Global, a: &CloudFormationArgs) -> anyhow::Result<ExitCode> {
    // Offline: the account, and the region unless the spec or `--region`
    // names one, stay placeholders the template fills from its stack.
    let mut opts = crate::deployment::options(g);
    let region = match opts.region.clone() {
        Some(r) => Some(r),
        None => crate::load::load(&a.spec, &opts)?.spec.region,
    };
    opts.region = Some(region.clone().unwrap_or_else(|| REGION.into()));
    let l = crate::load::load(&a.spec, &opts)?;
    let operator = crate::deployment::operator(g)?;
    crate::load::police(&l, &operator, None, region.as_deref())?;
    let mut meta = Meta::of(&l.spec, &region.clone().unwrap_or_else(|| REGION.into()));
    let vars = crate::policy::Vars::of(&l.spec, None, region.as_deref());
    meta.permissions_boundary = operator.boundary(&vars);
    let t = export::cloudformation(&l.spec, &l.graph, &meta, a.code_bucket.clone()).map_err(|errors| {
        BadInput::error(
            format!("cannot export `{}`:\n  {}", a.spec.display(), errors.join("\n  ")),
            "change the spec or the flags as each line says; nothing was written",
        )
    })?;
    refuse_dynamic_references(&l.spec, &t.body, &a.spec)?;
    let resources = t.body["Resources"].as_object().map_or(0, |r| r.len());
    let outputs = t.body["Outputs"].as_object().map_or(0, |o| o.len());
    if let (Some(bucket), false) = (&a.code_bucket, t.assets.is_empty()) {
        let aws = crate::deployment::connect(g, region.clone()).await?;
        // Not a bucket pipectl manages, but the code in it runs with the
        // stack's roles: it must be this account's, or another account
        // could swap the code before the stack reads it. S3 refuses both
        // calls for a bucket of another account.
        let owner = aws.bucket_owner();
        for asset in &t.assets {
            let head = aws.s3.head_object().bucket(bucket).key(&asset.key).set_expected_bucket_owner(owner.clone());
            let exists = send!("HeadObject", head).is_ok();
            if !exists {
                let body = aws_sdk_s3::primitives::ByteStream::from(asset.bytes.clone());
                let put = aws.s3.put_object().bucket(bucket).key(&asset.key).body(body);
                send!("PutObject", put.set_expected_bucket_owner(owner.clone())).map_err(|e| {
                    let hint = "`--code-bucket` must be a bucket of the account the credentials belong to";
                    anyhow::Error::new(e).context(crate::Hinted {
                        message: format!("cannot upload code to `{bucket}`"),
                        hint: hint.into(),
                    })
                })?;
            }
            eprintln!("code: s3://{bucket}/{}{}", asset.key, if exists { " (already there)" } else { " (uploaded)" });
        }
    }
    let yaml = export::to_yaml(&t.body);
    match &a.out {
        Some(path) => std::fs::write(path, &yaml)
            .map_err(|e| BadInput::error(format!("cannot write `{}`: {e}", path.display()), "check the path"))?,
        None => {
            use std::io::Write as _;
            let _ = std::io::stdout().write_all(yaml.as_bytes());
        }
    }
    if let (true, Some(path)) = (g.json, &a.out) {
        // `--json` without `--out` is refused before this (`commands::json`).
        let doc = serde_json::json!({
            "format_version": "1", "format": "cloudformation", "file": path.display().to_string(),
            "pipeline": meta.pipeline, "env": meta.env, "resources": resources, "outputs": outputs,
            "bytes": yaml.len(), "code": t.assets.iter().map(|x| format!("s3://{}/{}", a.code_bucket.as_deref().unwrap_or_default(), x.key)).collect::<Vec<_>>(),
        });
        crate::commands::emitln!("{doc}");
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!(
        "exported `{}` env `{}`: {resources} resources, {outputs} outputs ({} KB)",
        meta.pipeline,
        meta.env,
        yaml.len().div_ceil(1024)
    );
    Ok(ExitCode::SUCCESS)
}
