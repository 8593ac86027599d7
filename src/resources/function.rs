//! Lambda function.
//!
//! Contract:
//! 1. read: GetFunction (configuration and tags); ResourceNotFound = `None`.
//!    Or, in a plan of many, ListFunctions' configuration and the tag
//!    listing's tags (`prefetch`).
//! 2. attributes: runtime, handler, memory_mb, timeout_seconds, environment
//!    (each value as a SHA-256 digest, and `sensitive`: the plan shows only
//!    that it changes), role, code_sha256 (of the deterministic zip, see `package`), tags.
//!    All update in place: code through UpdateFunctionCode, the rest through
//!    UpdateFunctionConfiguration, each followed by a wait for
//!    LastUpdateStatus Successful (a second update meanwhile would get
//!    ResourceConflictException, which is retried). reserved_concurrency
//!    (GetFunction's Concurrency) through PutFunctionConcurrency, or
//!    DeleteFunctionConcurrency when the spec drops it. The name forces a
//!    replacement.
//! 3. create: CreateFunction, retried while the new execution role is not
//!    yet assumable by Lambda ("waiting for role to propagate"), then a wait
//!    for State Active (Pending first; Failed shows AWS's reason).
//! 4. Secret references in the environment (`${ssm:...}`, `${secret:...}`)
//!    are read by `prepare`, before the plan, so a rotated secret shows as
//!    a changed environment; the values go only into Create/Update calls.
//! 5. delete: DeleteFunction; ResourceNotFound means done. The log group
//!    (`/aws/lambda/<name>`) is its own resource and goes after it.

use super::cfn::{self, Part};
use super::{gone_if_absent, to_attrs, Attrs, Base, Deleted, Meta, Observed, Progress, Resource, Tags};
use crate::aws::Outcome;
use crate::aws::{retry, wait_until, Aws, AwsError, Poll};
use crate::package::{self, Package};
use crate::plan::Address;
use crate::spec::{self, rules, SecretRef};
use crate::{gone, send};
use async_trait::async_trait;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{Environment, FunctionCode, FunctionConfiguration, LastUpdateStatus, Runtime, State};
use serde::Serialize;
use serde_json::json;
use std::collections::BTreeMap;
use std::time::Duration;

const DESCRIPTION: &str = "created by pipectl";

mod inline;

/// A secret reference as CloudFormation resolves it when the stack is
/// deployed: the value never enters the template.
pub fn dynamic_reference(r: &SecretRef) -> String {
    match r {
        SecretRef::Ssm(name) => format!("{{{{resolve:ssm:{name}}}}}"),
        SecretRef::Secret { id, field: None } => format!("{{{{resolve:secretsmanager:{id}}}}}"),
        SecretRef::Secret { id, field: Some(k) } => format!("{{{{resolve:secretsmanager:{id}:SecretString:{k}}}}}"),
    }
}

/// A function's code in a template, and its handler there: inline when it
/// is one small Python or Node.js file (CloudFormation names it `index`),
/// else the zip in the code bucket under its digest.
fn template_code(
    f: &spec::Function,
    name: &str,
    cx: &super::cfn::Context,
) -> Result<(serde_json::Value, String, Option<super::cfn::Asset>), String> {
    let (files, _) = package::files(&f.code, &f.code_root).map_err(|e| e.to_string())?;
    let mut sized = Vec::with_capacity(files.len());
    for (inside, path) in &files {
        let size = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?.len();
        sized.push((inside.clone(), size));
    }
    let inline = inline::handler(&inline::Code { files: &sized, runtime: &f.runtime, handler: &f.handler });
    let refusal = match (inline, files.as_slice()) {
        (Ok(handler), [(inside, path)]) => {
            let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
            match String::from_utf8(bytes) {
                Ok(text) => return Ok((serde_json::json!({ "ZipFile": text }), handler, None)),
                // A template is text: such code can only be uploaded.
                Err(_) => format!("`{inside}` is not UTF-8 text, and CloudFormation inlines code as text"),
            }
        }
        (Ok(_), _) => unreachable!("only one file is inlined"),
        (Err(why), _) => why,
    };
    let Some(bucket) = &cx.code_bucket else {
        return Err(format!("{refusal}: pass `--code-bucket BUCKET` to upload it there as a zip"));
    };
    let pkg = package::build(&f.code, &f.code_root).map_err(|e| e.to_string())?;
    let digest: String = pkg.sha256.chars().filter(char::is_ascii_alphanumeric).collect();
    let key = format!("pipectl/{name}/{digest}.zip");
    let code = serde_json::json!({ "S3Bucket": bucket, "S3Key": key });
    Ok((code, f.handler.clone(), Some(super::cfn::Asset { key, bytes: pkg.zip })))
}

/// What a function should be, with its role's ARN resolved.
#[derive(Debug, Clone)]
pub struct FunctionSpec {
    pub function: spec::Function,
    pub role_arn: String,
}

/// What the diff compares; the code by the SHA-256 of its zip.
#[derive(Serialize)]
struct Attributes {
    runtime: String,
    handler: String,
    memory_mb: u32,
    timeout_seconds: u32,
    /// Name -> SHA-256 of the value: never the value itself.
    environment: BTreeMap<String, String>,
    role: String,
    code_sha256: String,
    /// `None`: no reservation.
    reserved_concurrency: Option<i32>,
    tags: Tags,
}

pub struct Function {
    pub(super) base: Base,
    spec: Option<FunctionSpec>,
    /// Built once, when first needed.
    package: tokio::sync::OnceCell<Package>,
    /// The environment with secret references read (`prepare`).
    resolved: tokio::sync::OnceCell<BTreeMap<String, String>>,
}

/// What the diff compares for an environment value.
fn digest(value: &str) -> String {
    crate::names::sha256_hex(value)
}

/// The errors Lambda returns while a new role has not propagated yet.
pub fn role_not_ready(e: &AwsError) -> bool {
    e.code.as_deref() == Some("InvalidParameterValueException")
        && ["cannot be assumed by Lambda", "The provided execution role does not have permissions"]
            .iter()
            .any(|m| e.message.contains(m))
}

fn conflict(e: &AwsError) -> bool {
    e.code.as_deref() == Some("ResourceConflictException")
}

const ROLE_PROPAGATION: Duration = Duration::from_secs(180);

impl Function {
    /// What the spec asks for; only a resource known from the record has none.
    fn input(&self) -> &FunctionSpec {
        self.spec.as_ref().expect("a function of the spec")
    }

    pub fn new(address: Address, name: String, spec: Option<FunctionSpec>, meta: &Meta) -> Self {
        Function {
            base: Base::new(address, name, meta),
            spec,
            package: tokio::sync::OnceCell::new(),
            resolved: tokio::sync::OnceCell::new(),
        }
    }

    async fn package(&self) -> Result<&Package, AwsError> {
        let s = self.spec.as_ref().expect("needs a spec");
        self.package
            .get_or_try_init(|| async {
                let (code, root) = (s.function.code.clone(), s.function.code_root.clone());
                tokio::task::spawn_blocking(move || package::build(&code, &root))
                    .await
                    .map_err(|e| AwsError::fatal("package", e.to_string()))?
                    .map_err(|e| AwsError::fatal("package", format!("cannot zip `{}`: {e}", s.function.code.display())))
            })
            .await
    }

    /// The environment with every secret read: once, with a check of
    /// Lambda's size limit now that the values are known.
    async fn resolve(&self, aws: &Aws) -> Result<&BTreeMap<String, String>, AwsError> {
        let s = self.input();
        self.resolved
            .get_or_try_init(|| async {
                let wanted: std::collections::BTreeSet<SecretRef> =
                    s.function.environment.values().flat_map(|v| v.secrets.iter()).map(|(_, r)| r.clone()).collect();
                let mut values = BTreeMap::new();
                for secret in &wanted {
                    let value = aws.secret_value(secret).await?;
                    crate::scrub::secret(&value);
                    values.insert(secret.clone(), value);
                }
                let mut env = BTreeMap::new();
                for (k, v) in &s.function.environment {
                    let value = v.resolve(|r| Ok::<_, AwsError>(values[r].clone()))?;
                    if !v.secrets.is_empty() {
                        // The whole value, so no part of what surrounds a secret shows either.
                        crate::scrub::secret(&value);
                    }
                    env.insert(k.clone(), value);
                }
                let size = rules::lambda_environment_size(env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
                if size > rules::MAX_LAMBDA_ENVIRONMENT {
                    let named: Vec<String> = wanted.iter().map(ToString::to_string).collect();
                    let read =
                        if named.is_empty() { String::new() } else { format!(" with {} read", named.join(", ")) };
                    return Err(AwsError::fatal(
                        "environment",
                        format!(
                            "the environment of function `{}` is {size} bytes{read}, as Lambda measures it (its \
                             variables as one JSON object); Lambda allows {} and its refusal would quote every value",
                            self.base.name,
                            rules::MAX_LAMBDA_ENVIRONMENT
                        ),
                    ));
                }
                Ok(env)
            })
            .await
    }

    /// The environment for Create/UpdateFunctionConfiguration.
    async fn environment(&self, aws: &Aws) -> Result<Environment, AwsError> {
        let env = self.resolve(aws).await?;
        Ok(Environment::builder().set_variables(Some(env.clone().into_iter().collect())).build())
    }

    async fn configuration(
        &self,
        aws: &Aws,
    ) -> Result<Option<aws_sdk_lambda::operation::get_function_configuration::GetFunctionConfigurationOutput>, AwsError>
    {
        match send!("GetFunctionConfiguration", aws.lambda.get_function_configuration().function_name(&self.base.name))
            .found()?
        {
            Some(o) => Ok(Some(o)),
            None => Ok(None),
        }
    }

    /// Sets the function's reserved concurrency, or removes the reservation
    /// (`None`). Both are idempotent, so a retry after a lost answer is safe.
    async fn reserve(&self, aws: &Aws, reserved: Option<u32>) -> Result<(), AwsError> {
        retry(self.timeout(), conflict, || async {
            match reserved {
                Some(n) => send!(
                    "PutFunctionConcurrency",
                    aws.lambda
                        .put_function_concurrency()
                        .function_name(&self.base.name)
                        .reserved_concurrent_executions(n as i32)
                )
                .map(drop),
                None => gone!(
                    "DeleteFunctionConcurrency",
                    aws.lambda.delete_function_concurrency().function_name(&self.base.name)
                ),
            }
        })
        .await
    }

    /// Waits for State Active and LastUpdateStatus Successful.
    async fn wait_ready(&self, aws: &Aws, p: &Progress) -> Result<(), AwsError> {
        wait_until(&format!("function `{}`", self.base.name), self.timeout(), super::usual::FUNCTION, || async {
            let Some(c) = self.configuration(aws).await? else {
                return Ok(Poll::NotYet("not visible yet".into()));
            };
            let state = c.state().cloned().unwrap_or(State::Active);
            let update = c.last_update_status().cloned().unwrap_or(LastUpdateStatus::Successful);
            Ok(match (state, update) {
                (State::Failed, _) => {
                    Poll::Failed(format!("State Failed: {}", c.state_reason().unwrap_or("no reason given")))
                }
                (_, LastUpdateStatus::Failed) => Poll::Failed(format!(
                    "update Failed: {}",
                    c.last_update_status_reason().unwrap_or("no reason given")
                )),
                (State::Active, LastUpdateStatus::Successful) => Poll::Ready,
                (s, u) => {
                    let status = format!("State {}, LastUpdateStatus {}", s.as_str(), u.as_str());
                    p.say(format!("waiting for Active ({status})"));
                    Poll::NotYet(status)
                }
            })
        })
        .await
    }

    async fn arn(&self, aws: &Aws) -> String {
        aws.scope().function(&self.base.name).to_string()
    }
}

/// The settings CreateFunction and UpdateFunctionConfiguration share, from
/// the spec `$s` of function `$f`.
macro_rules! configuration {
    ($req:expr, $s:expr, $f:expr, $aws:expr) => {
        $req.runtime(runtime_of(&$s.function.runtime))
            .handler(&$s.function.handler)
            .role(&$s.role_arn)
            .memory_size($s.function.memory_mb as i32)
            .timeout($s.function.timeout_seconds as i32)
            .environment($f.environment($aws).await?)
    };
}

fn runtime_of(s: &str) -> Runtime {
    Runtime::from(s)
}

/// What a read observes of a function's configuration (from GetFunction
/// or ListFunctions), its tags and its reserved concurrency.
fn observed(c: &FunctionConfiguration, tags: Tags, reserved: Option<i32>) -> Observed {
    let env: BTreeMap<String, String> = c
        .environment()
        .and_then(|e| e.variables())
        .map(|v| v.iter().map(|(k, v)| (k.clone(), digest(v))).collect())
        .unwrap_or_default();
    let attrs = Attributes {
        runtime: c.runtime().map(|r| r.as_str()).unwrap_or_default().to_string(),
        handler: c.handler().unwrap_or_default().to_string(),
        memory_mb: c.memory_size().unwrap_or(128) as u32,
        timeout_seconds: c.timeout().unwrap_or(3) as u32,
        environment: env,
        role: c.role().unwrap_or_default().to_string(),
        code_sha256: c.code_sha256().unwrap_or_default().to_string(),
        reserved_concurrency: reserved,
        tags: tags.clone(),
    };
    Observed::of(&attrs, Some(tags))
}

#[async_trait]
impl Resource for Function {
    fn cloudformation(&self, cx: &cfn::Context) -> Result<Vec<Part>, String> {
        let Some(s) = &self.spec else { return Ok(Vec::new()) };
        let f = &s.function;
        let mut variables = serde_json::Map::new();
        for (k, v) in &f.environment {
            let text = v.resolve(|r| Ok::<_, std::convert::Infallible>(dynamic_reference(r))).unwrap_or_default();
            variables.insert(k.clone(), text.into());
        }
        let (code, handler, asset) = template_code(f, &self.base.name, cx)?;
        let mut props = serde_json::json!({
            "FunctionName": self.base.name,
            "Runtime": f.runtime,
            "Handler": handler,
            "Role": s.role_arn,
            "MemorySize": f.memory_mb,
            "Timeout": f.timeout_seconds,
            "Code": code,
            "Description": DESCRIPTION,
            "Tags": cfn::tags(&self.base.tags),
        });
        if !variables.is_empty() {
            props["Environment"] = serde_json::json!({ "Variables": variables });
        }
        if let Some(n) = f.reserved_concurrency {
            props["ReservedConcurrentExecutions"] = n.into();
        }
        let mut part = Part::new("AWS::Lambda::Function", props);
        part.asset = asset;
        Ok(vec![part])
    }
    fn usage(&self) -> Vec<crate::cost::Usage> {
        vec![crate::cost::Usage::unpriced("Lambda bills per request and GB-second of run time")]
    }
    fn desired(&self) -> Option<Attrs> {
        let s = self.spec.as_ref()?;
        let f = &s.function;
        // The code hash needs the zip: built here, synchronously, once per plan.
        let sha =
            package::build(&f.code, &f.code_root).map(|p| p.sha256).unwrap_or_else(|e| format!("unreadable: {e}"));
        Some(to_attrs(&Attributes {
            runtime: f.runtime.clone(),
            handler: f.handler.clone(),
            memory_mb: f.memory_mb,
            timeout_seconds: f.timeout_seconds,
            environment: match self.resolved.get() {
                Some(env) => env.iter().map(|(k, v)| (k.clone(), digest(v))).collect(),
                // Not prepared (no secrets to read, or offline): the text.
                None => f.environment.iter().map(|(k, v)| (k.clone(), digest(&v.text))).collect(),
            },
            role: s.role_arn.clone(),
            code_sha256: sha,
            reserved_concurrency: f.reserved_concurrency.map(|c| c as i32),
            tags: self.base.tags.clone(),
        }))
    }

    fn sensitive(&self) -> &'static [&'static str] {
        &["environment"]
    }

    async fn prepare(&self, aws: &Aws) -> Result<(), AwsError> {
        if self.spec.is_some() {
            self.resolve(aws).await?;
        }
        Ok(())
    }

    async fn read(&self, aws: &Aws) -> Result<Option<Observed>, AwsError> {
        // From the plan's listing when it holds the function and the tag
        // listing its tags (only the deployment's own carry them): a
        // function someone else owns is read, and refused, the usual way.
        // A function the spec reserves concurrency for is read on its own:
        // a reservation of 0 takes nothing from the account's unreserved
        // concurrency, so the listing's condition cannot see it.
        let reserves = self.spec.as_ref().is_some_and(|s| s.function.reserved_concurrency.is_some());
        if let Some(c) = aws.known.functions.get(&self.base.name).filter(|_| !reserves) {
            aws.known.tags.settled().await;
            if let Some(tags) = aws.known.tags(&aws.scope().function(&self.base.name).to_string()) {
                // The listing is made only when the account reserves no
                // concurrency for any function (`prefetch`).
                return Ok(Some(observed(&c, tags, None)));
            }
        }
        let out = match send!("GetFunction", aws.lambda.get_function().function_name(&self.base.name)).found()? {
            Some(o) => o,
            None => return Ok(None),
        };
        let Some(c) = out.configuration() else { return Ok(None) };
        let tags: Tags = out.tags().map(|t| t.clone().into_iter().collect()).unwrap_or_default();
        Ok(Some(observed(c, tags, out.concurrency().and_then(|c| c.reserved_concurrent_executions()))))
    }

    async fn create(&self, aws: &Aws, p: &Progress) -> Result<(), AwsError> {
        let s = self.spec.as_ref().expect("create needs a spec");
        let pkg = self.package().await?;
        crate::aws::retry_paced(
            ROLE_PROPAGATION,
            super::role::propagation(self.spec.as_ref().map_or("", |s| &s.role_arn)),
            |e| role_not_ready(e) || conflict(e),
            || async {
                let req = configuration!(aws.lambda.create_function().function_name(&self.base.name), s, self, aws);
                let code = FunctionCode::builder().zip_file(Blob::new(pkg.zip.clone())).build();
                let tags = Some(self.base.tags.clone().into_iter().collect());
                let out = send!("CreateFunction", req.code(code).set_tags(tags).description(DESCRIPTION));
                match out {
                    Ok(_) => Ok(()),
                    Err(e) if role_not_ready(&e) => {
                        p.say("waiting for role to propagate");
                        Err(e)
                    }
                    // A retried create whose first response was lost: ours if it carries our code.
                    Err(e)
                        if conflict(&e)
                            && self
                                .read(aws)
                                .await?
                                .is_some_and(|o| o.attrs.get("code_sha256") == Some(&json!(pkg.sha256))) =>
                    {
                        Ok(())
                    }
                    Err(e) => Err(e),
                }
            },
        )
        .await?;
        self.wait_ready(aws, p).await?;
        match s.function.reserved_concurrency {
            Some(n) => self.reserve(aws, Some(n)).await,
            None => Ok(()),
        }
    }

    async fn update(&self, aws: &Aws, _before: &Observed, changed: &[String], p: &Progress) -> Result<(), AwsError> {
        let s = self.input();
        let has = |k: &str| changed.iter().any(|c| c == k);
        if has("code_sha256") {
            let pkg = self.package().await?;
            p.say("uploading code");
            retry(self.timeout(), conflict, || async {
                send!(
                    "UpdateFunctionCode",
                    aws.lambda
                        .update_function_code()
                        .function_name(&self.base.name)
                        .zip_file(Blob::new(pkg.zip.clone()))
                )
                .map(drop)
            })
            .await?;
            self.wait_ready(aws, p).await?;
        }
        let config = ["runtime", "handler", "memory_mb", "timeout_seconds", "environment", "role"];
        if changed.iter().any(|c| config.contains(&c.as_str())) {
            p.say("updating configuration");
            crate::aws::retry_paced(
                ROLE_PROPAGATION,
                super::role::propagation(self.spec.as_ref().map_or("", |s| &s.role_arn)),
                |e| conflict(e) || role_not_ready(e),
                || async {
                    let req = aws.lambda.update_function_configuration().function_name(&self.base.name);
                    send!("UpdateFunctionConfiguration", configuration!(req, s, self, aws)).map(drop)
                },
            )
            .await?;
            self.wait_ready(aws, p).await?;
        }
        if has("reserved_concurrency") {
            p.say("reserving concurrency");
            self.reserve(aws, s.function.reserved_concurrency).await?;
        }
        Ok(())
    }

    async fn add_tags(&self, aws: &Aws, set: &Tags) -> Result<(), AwsError> {
        let arn = self.arn(aws).await;

        let req = aws.lambda.tag_resource().resource(&arn);
        send!("TagResource", req.set_tags(Some(set.clone().into_iter().collect())))?;
        Ok(())
    }

    async fn remove_tags(&self, aws: &Aws, remove: &[String]) -> Result<(), AwsError> {
        let arn = self.arn(aws).await;

        let req = aws.lambda.untag_resource().resource(&arn);
        gone!("UntagResource", req.set_tag_keys(Some(remove.to_vec())))?;
        Ok(())
    }

    async fn delete(&self, aws: &Aws, _p: &Progress) -> Result<Deleted, AwsError> {
        let out = retry(self.timeout(), conflict, || async {
            gone!("DeleteFunction", aws.lambda.delete_function().function_name(&self.base.name)).map(drop)
        })
        .await;
        gone_if_absent(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_propagation_errors_are_recognized() {
        let e = |code: &str, msg: &str| AwsError {
            op: "CreateFunction",
            code: Some(code.into()),
            message: msg.into(),
            class: crate::aws::Class::Fatal,
        };
        assert!(role_not_ready(&e(
            "InvalidParameterValueException",
            "The role defined for the function cannot be assumed by Lambda."
        )));
        assert!(role_not_ready(&e(
            "InvalidParameterValueException",
            "The provided execution role does not have permissions to call GetRecords on Kinesis"
        )));
        assert!(!role_not_ready(&e(
            "InvalidParameterValueException",
            "Unzipped size must be smaller than 262144000 bytes"
        )));
    }
}
