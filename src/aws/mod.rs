//! AWS client setup and error classification.
//!
//! Credentials come from aws-config's standard chain (environment, shared
//! profiles, SSO, instance roles). The region is `--region`, else the spec's
//! `region:`, else the environment / profile. `--endpoint-url` or
//! `AWS_ENDPOINT_URL` sends every call to an emulator (S3 then uses
//! path-style addressing). Errors classified here as transient are retried
//! by the SDK ([`retry_config`]) and again above it by [`retry`].

mod known;
pub mod rate;
mod region;
pub mod s3;
mod secrets;
mod wait;

pub use known::*;
pub use rate::Service;
pub use wait::*;

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region};
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::ProvideErrorMetadata;
use std::fmt;
use std::future::Future;
use std::time::{Duration, Instant};

/// How a failed call should be treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// The resource is not there (for read: `None`; for delete: done).
    NotFound,
    /// Throttling, 5xx, a lost response, or a documented eventual-consistency
    /// error: try again.
    Transient,
    /// The resource is there already (a create that a lost answer hid).
    AlreadyExists,
    /// Anything else, including what AWS marks permanent (access denied,
    /// not implemented): stop at once and say what AWS said.
    Fatal,
}

/// A failed AWS call: which operation, AWS's code and message, and its class.
#[derive(Debug, Clone, thiserror::Error)]
pub struct AwsError {
    pub op: &'static str,
    pub code: Option<String>,
    pub message: String,
    pub class: Class,
}

impl fmt::Display for AwsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.code {
            Some(code) => write!(f, "{} failed: {code}: {}", self.op, self.message),
            None => write!(f, "{} failed: {}", self.op, self.message),
        }
    }
}

impl AwsError {
    pub fn is_not_found(&self) -> bool {
        self.class == Class::NotFound
    }

    /// An error pipectl raises itself (a wait that timed out, a state AWS
    /// reports as failed).
    pub fn fatal(op: &'static str, message: impl Into<String>) -> Self {
        AwsError { op, code: None, message: message.into(), class: Class::Fatal }
    }

    /// AWS refused the call for its rate: it did nothing, and the call may
    /// be sent again as it was.
    pub fn throttled(&self) -> bool {
        self.code.as_deref().is_some_and(|c| THROTTLED.contains(&c))
    }

    pub fn mark_transient(mut self) -> Self {
        self.class = Class::Transient;
        self
    }
}

const NOT_FOUND: [&str; 12] = [
    "ResourceNotFoundException",
    "ResourceNotFound",
    "DashboardNotFoundError",
    "NoSuchEntity",
    "NoSuchBucket",
    "NotFound",
    "EntityNotFoundException",
    "ParameterNotFound",
    "NoSuchTagSet",
    "ServerSideEncryptionConfigurationNotFoundError",
    "NoSuchPublicAccessBlockConfiguration",
    "InvalidInstanceID.NotFound",
];

const ALREADY_EXISTS: [&str; 7] = [
    "ResourceAlreadyExistsException",
    "AlreadyExistsException",
    "EntityAlreadyExists",
    "BucketAlreadyOwnedByYou",
    "InvalidGroup.Duplicate",
    "InvalidPermission.Duplicate",
    "ParameterAlreadyExists",
];

/// Errors AWS will answer the same way however often they are retried.
const PERMANENT: [&str; 6] = [
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "NotImplemented",
    "InvalidClientTokenId",
    "ExpiredToken",
];

pub(crate) const THROTTLED: [&str; 7] = [
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "SlowDown",
    "ProvisionedThroughputExceededException",
];

/// Transient beyond throttling ([`THROTTLED`]): 5xx-like answers and
/// limits AWS lifts by itself.
const TRANSIENT: [&str; 8] = [
    "LimitExceededException",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "InternalFailure",
    "InternalError",
    "InternalServiceException",
    "RequestTimeout",
    "RequestTimeoutException",
];

/// Sends an SDK request and awaits it; a failure becomes an [`AwsError`]
/// naming the operation: `send!("CreateStream", aws.kinesis.create_stream().stream_name(n))`.
///
/// A call that removes something (`Delete…`, `Remove…`, `Detach…`, …) does
/// not compile here: it goes through [`gone!`](crate::gone), where "not
/// found" is success. A lost answer is retried, and the retry finds the
/// thing already gone; every delete and each of its sub-steps must take
/// that as done.
#[macro_export]
macro_rules! send {
    ($op:literal, $req:expr) => {{
        const _: () = assert!(!$crate::aws::removes($op), "a removing call goes through `gone!`");
        let req = $req;
        let service = $crate::aws::rate::service_of(::std::any::type_name_of_val(&req));
        $crate::aws::unless_stopped(
            $op,
            $crate::aws::rate::paced(
                service,
                $op,
                ::std::boxed::Box::pin(async move { req.send().await.map_err($crate::aws::aws_err($op)) }),
            ),
        )
        .await
    }};
}

/// Sends a request that removes something: "not found" (already removed,
/// perhaps by an earlier attempt whose answer was lost) is success.
#[macro_export]
macro_rules! gone {
    ($op:literal, $req:expr) => {{
        const _: () = assert!($crate::aws::removes($op), "`gone!` is for calls that remove something");
        let req = $req;
        let service = $crate::aws::rate::service_of(::std::any::type_name_of_val(&req));
        $crate::aws::Outcome::gone(
            $crate::aws::unless_stopped(
                $op,
                $crate::aws::rate::paced(
                    service,
                    $op,
                    ::std::boxed::Box::pin(
                        async move { req.send().await.map(drop).map_err($crate::aws::aws_err($op)) },
                    ),
                ),
            )
            .await,
        )
    }};
}

/// Whether an operation removes something, by its verb.
pub const fn removes(op: &str) -> bool {
    const VERBS: [&str; 7] = ["Delete", "Remove", "Detach", "Terminate", "Release", "Disassociate", "Untag"];
    let mut i = 0;
    while i < VERBS.len() {
        if starts_with(op.as_bytes(), VERBS[i].as_bytes()) {
            return true;
        }
        i += 1;
    }
    false
}

const fn starts_with(s: &[u8], prefix: &[u8]) -> bool {
    if prefix.len() > s.len() {
        return false;
    }
    let mut i = 0;
    while i < prefix.len() {
        if s[i] != prefix[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// Converts an SDK error into an [`AwsError`]. Use as
/// `.map_err(aws_err("CreateStream"))`.
pub fn aws_err<E>(op: &'static str) -> impl Fn(aws_sdk_s3::error::SdkError<E, HttpResponse>) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    move |err| {
        use aws_sdk_s3::error::SdkError;
        match &err {
            SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => AwsError {
                op,
                code: None,
                message: format!("no usable response ({})", describe_chain(&err)),
                class: Class::Transient,
            },
            _ => {
                let status = err.raw_response().map(|r| r.status().as_u16());
                let code = s3::code(err.code(), status);
                let message = err.message().map(str::to_string).unwrap_or_else(|| describe_chain(&err));
                let class = classify_message(code.as_deref(), status, &message);
                AwsError { op, code, message, class }
            }
        }
    }
}

fn describe_chain(err: &dyn std::error::Error) -> String {
    let mut parts = vec![err.to_string()];
    let mut source = err.source();
    while let Some(s) = source {
        parts.push(s.to_string());
        source = s.source();
    }
    parts.join(": ")
}

pub fn classify(code: Option<&str>, status: Option<u16>) -> Class {
    if let Some(c) = code {
        // EC2 spells each of its "not found" answers `<What>.NotFound`.
        if NOT_FOUND.contains(&c) || c.ends_with(".NotFound") {
            return Class::NotFound;
        }
        if ALREADY_EXISTS.contains(&c) {
            return Class::AlreadyExists;
        }
        if PERMANENT.contains(&c) {
            return Class::Fatal;
        }
        if THROTTLED.contains(&c) || TRANSIENT.contains(&c) {
            return Class::Transient;
        }
    }
    match status {
        Some(404) if code.is_none() => Class::NotFound,
        // 501: the endpoint does not implement the call; asking again won't help.
        Some(501) => Class::Fatal,
        Some(429) | Some(500..=599) => Class::Transient,
        _ => Class::Fatal,
    }
}

/// [`classify`], plus the answers that say "not found" only in their
/// message (LocalStack: `InvalidParameterValue: Dashboard … does not exist`).
pub fn classify_message(code: Option<&str>, status: Option<u16>, message: &str) -> Class {
    match classify(code, status) {
        Class::Fatal if code == Some("InvalidParameterValue") && message.contains("does not exist") => Class::NotFound,
        // The same code means a rate (Kinesis, try again) or a quota
        // (Firehose's streams per region, Lambda's storage): a quota does
        // not pass by waiting.
        Class::Transient if code == Some("LimitExceededException") && message.to_lowercase().contains("quota") => {
            Class::Fatal
        }
        class => class,
    }
}

/// What a result means for a read, a delete or a create, written once for
/// every kind.
pub trait Outcome<T> {
    /// A read: "not found" is `None`.
    fn found(self) -> Result<Option<T>, AwsError>;
    /// A delete: "not found" means it is gone already.
    fn gone(self) -> Result<(), AwsError>;
    /// A create: "already exists" is `None` (a retry after a lost answer,
    /// or a leftover the caller reads and adopts).
    fn created(self) -> Result<Option<T>, AwsError>;
}

impl<T> Outcome<T> for Result<T, AwsError> {
    fn found(self) -> Result<Option<T>, AwsError> {
        match self {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.class == Class::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn gone(self) -> Result<(), AwsError> {
        self.found().map(|_| ())
    }

    fn created(self) -> Result<Option<T>, AwsError> {
        match self {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.class == Class::AlreadyExists => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// Every client pipectl uses, for one account and region.
#[derive(Clone)]
pub struct Aws {
    pub known: std::sync::Arc<Known>,
    pub region: String,
    pub account: String,
    pub endpoint: Option<String>,
    pub s3: aws_sdk_s3::Client,
    pub kinesis: aws_sdk_kinesis::Client,
    pub firehose: aws_sdk_firehose::Client,
    pub lambda: aws_sdk_lambda::Client,
    pub ec2: aws_sdk_ec2::Client,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    pub glue: aws_sdk_glue::Client,
    pub iam: aws_sdk_iam::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub ssm: aws_sdk_ssm::Client,
    pub secrets: aws_sdk_secretsmanager::Client,
    pub tagging: aws_sdk_resourcegroupstagging::Client,
    pub sts: aws_sdk_sts::Client,
}

/// Where to connect: from flags, the spec and the environment.
#[derive(Debug, Clone, Default)]
pub struct Target {
    pub region: Option<String>,
    pub profile: Option<String>,
    pub endpoint_url: Option<String>,
    /// How long one attempt of one request may take (default 60 s).
    pub request_timeout: Option<Duration>,
}

impl Aws {
    /// Where this connection's ARNs point.
    pub fn scope(&self) -> crate::names::Scope {
        crate::names::Scope::new(&self.region, &self.account)
    }

    /// Every client from one SDK configuration. With an endpoint (an
    /// emulator), S3 uses path-style addressing.
    pub fn from_config(
        config: &aws_config::SdkConfig,
        region: String,
        account: String,
        endpoint: Option<String>,
    ) -> Aws {
        let s3_config = aws_sdk_s3::config::Builder::from(config)
            .force_path_style(endpoint.is_some())
            .interceptor(rate::Learn)
            .build();
        // Every client tells the pacer of each throttled attempt.
        macro_rules! client {
            ($krate:ident) => {
                $krate::Client::from_conf($krate::config::Builder::from(config).interceptor(rate::Learn).build())
            };
        }
        Aws {
            known: Default::default(),
            region,
            account,
            endpoint,
            s3: aws_sdk_s3::Client::from_conf(s3_config),
            kinesis: client!(aws_sdk_kinesis),
            firehose: client!(aws_sdk_firehose),
            lambda: client!(aws_sdk_lambda),
            ec2: client!(aws_sdk_ec2),
            cloudwatch: client!(aws_sdk_cloudwatch),
            glue: client!(aws_sdk_glue),
            iam: client!(aws_sdk_iam),
            logs: client!(aws_sdk_cloudwatchlogs),
            ssm: client!(aws_sdk_ssm),
            secrets: client!(aws_sdk_secretsmanager),
            tagging: client!(aws_sdk_resourcegroupstagging),
            sts: client!(aws_sdk_sts),
        }
    }

    /// Configures every client for `target` and asks STS for the account.
    pub async fn connect(target: &Target) -> anyhow::Result<Aws> {
        Aws::configure(target).await?.identified().await
    }

    /// Every client configured for `target`, the region known; the account
    /// stays empty until [`Aws::identified`] asks STS, so calls that do not
    /// need it (taking the deployment's lock) go out meanwhile. No call to
    /// AWS is made here.
    pub async fn configure(target: &Target) -> anyhow::Result<Aws> {
        let attempt = target.request_timeout.unwrap_or(Duration::from_secs(60));
        let timeouts = aws_config::timeout::TimeoutConfig::builder()
            .operation_attempt_timeout(attempt)
            .connect_timeout(attempt.min(Duration::from_secs(10)))
            .build();
        let mut loader =
            aws_config::defaults(BehaviorVersion::latest()).retry_config(retry_config()).timeout_config(timeouts);
        if let Some(r) = &target.region {
            loader = loader.region(Region::new(r.clone()));
        }
        if let Some(p) = &target.profile {
            loader = loader.profile_name(p);
        }
        let endpoint =
            target.endpoint_url.clone().or_else(|| std::env::var("AWS_ENDPOINT_URL").ok().filter(|s| !s.is_empty()));
        if let Some(e) = &endpoint {
            loader = loader.endpoint_url(e);
        }
        let config = loader.load().await;
        let region = config.region().map(|r| r.to_string()).ok_or_else(|| crate::Hinted {
            message: "no AWS region is set".into(),
            hint: "pass `--region`, set `region:` in the spec, or set AWS_REGION".into(),
        })?;
        region::check(&region, target.region.is_some())?;
        Ok(Aws::from_config(&config, region, String::new(), endpoint))
    }

    /// The same clients with the account the credentials belong to.
    pub async fn identified(self) -> anyhow::Result<Aws> {
        let identity = self.sts.get_caller_identity().send().await.map_err(|e| {
            let e = aws_err("GetCallerIdentity")(e);
            anyhow::Error::new(e).context(crate::Hinted {
                message: "cannot find out which AWS account the credentials belong to".into(),
                hint: "set credentials (AWS_PROFILE with `aws sso login`, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY); \
                       for an emulator pass --endpoint-url"
                    .into(),
            })
        })?;
        let account = identity.account().unwrap_or_default().to_string();
        Ok(Aws { account, ..self })
    }
}

impl Aws {
    /// Every SSM parameter under `path`, all pages.
    pub async fn parameters_by_path(&self, path: &str) -> Result<Vec<aws_sdk_ssm::types::Parameter>, AwsError> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let req = self.ssm.get_parameters_by_path().path(path).recursive(true).set_next_token(token.clone());
            let page = crate::send!("GetParametersByPath", req)?;
            out.extend(page.parameters().iter().cloned());
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                return Ok(out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pace_looks_again_within_three_percent_of_the_wait_at_any_speed() {
        let ms = Duration::from_millis;
        let usual = Duration::from_secs(60);
        // The first look after the immediate one: a tenth of the usual time.
        assert_eq!(Pace::after(ms(0), usual), ms(6000));
        assert_eq!(Pace::after(ms(5000), usual), ms(1000));
        // Then never more than 3% of the time waited, whether AWS is ten
        // times faster than usual, as usual, or slower; 1% near the usual
        // time.
        for elapsed in [ms(6000), ms(60_000), ms(200_000)] {
            let next = Pace::after(elapsed, usual);
            assert!(next.as_secs_f64() <= elapsed.as_secs_f64() * Pace::SLACK + 1e-9, "{elapsed:?}: {next:?}");
        }
        for elapsed in [ms(30_000), ms(60_000), ms(120_000)] {
            let next = Pace::after(elapsed, usual).as_secs_f64();
            assert!(next <= elapsed.as_secs_f64() * Pace::SLACK_NEAR + 1e-9, "{elapsed:?}: {next}");
        }
        assert_eq!(Pace::after(ms(10_000), usual), ms(300));
        // At least 50 ms apart, at most 10 s.
        assert_eq!(Pace::after(ms(100), Duration::ZERO), ms(50));
        assert_eq!(Pace::after(Duration::from_secs(3600), usual), Duration::from_secs(10));
        // Looks from a tenth of the usual time to the usual time: about 125.
        let (mut t, mut looks) = (ms(6000), 0);
        while t < usual {
            t += Pace::after(t, usual);
            looks += 1;
        }
        assert!((115..=135).contains(&looks), "{looks}");
    }

    #[test]
    fn classification() {
        assert_eq!(classify(Some("ResourceNotFoundException"), Some(400)), Class::NotFound);
        assert_eq!(classify(Some("NoSuchEntity"), Some(404)), Class::NotFound);
        assert_eq!(classify(Some("ThrottlingException"), Some(400)), Class::Transient);
        assert_eq!(classify(Some("LimitExceededException"), Some(400)), Class::Transient);
        assert_eq!(classify(None, Some(503)), Class::Transient);
        assert_eq!(classify(None, Some(404)), Class::NotFound);
        assert_eq!(classify(Some("AccessDenied"), Some(403)), Class::Fatal);
        assert_eq!(classify(Some("AccessDeniedException"), Some(500)), Class::Fatal, "permanent whatever the status");
        assert_eq!(classify(None, Some(501)), Class::Fatal, "not implemented is not retried");
        assert_eq!(classify(Some("EntityAlreadyExists"), Some(409)), Class::AlreadyExists);
        let missing = "Dashboard x does not exist";
        assert_eq!(classify_message(Some("InvalidParameterValue"), Some(400), missing), Class::NotFound);
        assert_eq!(classify_message(Some("InvalidParameterValue"), Some(400), "bad"), Class::Fatal);
        let quota = "You have already consumed your firehose quota of 50 hoses.";
        assert_eq!(classify_message(Some("LimitExceededException"), Some(400), quota), Class::Fatal);
        let rate = "Rate exceeded for stream s under account 1.";
        assert_eq!(classify_message(Some("LimitExceededException"), Some(400), rate), Class::Transient);
        assert_eq!(classify(Some("ValidationException"), Some(400)), Class::Fatal);
    }

    #[tokio::test]
    async fn retry_stops_at_fatal_and_retries_transient() {
        let mut calls = 0;
        let r: Result<(), _> = retry(
            Duration::from_secs(5),
            |_| false,
            || {
                calls += 1;
                let n = calls;
                async move {
                    if n < 3 {
                        Err(AwsError::fatal("x", "busy").mark_transient())
                    } else {
                        Err(AwsError::fatal("x", "no"))
                    }
                }
            },
        )
        .await;
        assert_eq!(calls, 3);
        assert_eq!(r.unwrap_err().message, "no");
    }

    #[tokio::test]
    async fn wait_reports_failure_and_timeout() {
        let r = wait_until("s", Duration::from_secs(1), Duration::ZERO, || async {
            Ok(Poll::Failed("CREATING_FAILED".into()))
        })
        .await;
        assert!(r.unwrap_err().message.contains("CREATING_FAILED"));
        let r = wait_until("s", Duration::from_millis(600), Duration::ZERO, || async {
            Ok(Poll::NotYet("CREATING".into()))
        })
        .await;
        assert!(r.unwrap_err().message.contains("not ready after"));
    }
}
