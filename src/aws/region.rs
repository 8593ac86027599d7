//! The region the clients will use, checked before any call.

/// The region every client will use, checked as `--region` is before any
/// call: a name no AWS partition has is bad input (exit 2), wherever it
/// came from (`given`: the flag or the spec; else the environment or the
/// profile, as the SDK read them).
pub fn check(region: &str, given: bool) -> anyhow::Result<()> {
    use crate::spec::regions::{check, Region};
    let Region::Unknown { suggestion } = check(region) else { return Ok(()) };
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
    let from = match (given, env("AWS_REGION"), env("AWS_DEFAULT_REGION")) {
        (true, ..) => "--region or the spec's `region:`",
        (false, Some(_), _) => "AWS_REGION",
        (false, None, Some(_)) => "AWS_DEFAULT_REGION",
        (false, None, None) => "the AWS profile's `region`",
    };
    let hint = match suggestion {
        Some(s) => format!("did you mean `{s}`? fix {from}"),
        None => format!("fix {from}; `aws ec2 describe-regions` lists the regions"),
    };
    let shown = crate::diag::value::quoted(region);
    Err(crate::BadInput::error(
        format!("the region {shown} (from {from}) is not an AWS region; nothing was sent to AWS"),
        hint,
    ))
}
