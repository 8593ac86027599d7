//! `pipectl unlock`: breaks a deployment's lock, for a run that died
//! holding it on another machine before its lease ran out.

use crate::cli::{Global, UnlockArgs};
use std::process::ExitCode;

pub async fn run(g: &Global, a: &UnlockArgs) -> anyhow::Result<ExitCode> {
    let (pipeline, env, region) = match (&a.which.spec, &a.which.pipeline) {
        (Some(path), _) => {
            let l = crate::load::load(path, &crate::deployment::options(g))?;
            (l.spec.pipeline, l.spec.env, l.spec.region)
        }
        (None, Some(p)) => {
            let env = super::env_of(g);
            crate::deployment::check_pipeline(p, &env)?;
            (p.clone(), env, None)
        }
        (None, None) => anyhow::bail!("give a spec or `--pipeline`"),
    };
    let aws = crate::deployment::connect(g, region).await?;
    let held = crate::lock::unlock(&aws, &pipeline, &env).await?;
    if g.json {
        let doc = serde_json::json!({
            "format_version": "1", "pipeline": pipeline, "env": env,
            "unlocked": held.is_some(), "held_by": held.as_ref().map(|h| h.describe()),
        });
        super::emitln!("{}", crate::scrub::json(doc));
        return Ok(ExitCode::SUCCESS);
    }
    match held {
        Some(h) => eprintln!("unlocked {pipeline}/{env}: it was held by {}", h.describe()),
        None => eprintln!("{pipeline}/{env} was not locked"),
    }
    Ok(ExitCode::SUCCESS)
}
