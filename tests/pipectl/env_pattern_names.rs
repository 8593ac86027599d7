//! `deployer-policy --env-pattern` with bucket default names long enough
//! to be cut with a hash: the policy's wildcard holds every env of the
//! pattern, and nothing the pattern would not.

use crate::util::{pipectl, temp_spec};

/// The policy for `pipeline: clickstream` with one bucket `key`, under
/// `--env-pattern pr-*`.
fn policy_for(key: &str) -> crate::util::Run {
    let spec = temp_spec("envpat", key, &format!("pipeline: clickstream\nbuckets:\n  {key}: {{}}\n"));
    pipectl(&["deployer-policy", spec.to_str().unwrap(), "--region", "us-east-1", "--env-pattern", "pr-*"]).run()
}

/// The defect: `clickstream` with a bucket `raw-events` (an ordinary
/// spec) was refused as spelling the stand-in "through an escape": the
/// base with the stand-in was cut, and its hash differed between the two
/// stand-ins. Bases (`<pipeline>-<key>-pr-*`) of 20 and 26 characters,
/// and the 27 of `raw-events`, give one wildcard ARN whose fixed part is
/// what the pattern fixes; 34 and 60, whose cut drops part of it, are
/// refused with the reason (no ARN could tell the pattern's envs from
/// others, the hash being all that differs).
#[test]
fn an_env_pattern_policy_is_not_refused_for_a_cut_bucket_name() {
    for key in ["raw", "raw-event", "raw-events"] {
        let base = format!("clickstream-{key}-pr-*");
        assert!([20, 26, 27].contains(&base.len()), "{base}");
        let run = policy_for(key).expect_code(0);
        let arn = format!("arn:aws:s3:::clickstream-{key}-pr-*-${{AWS::AccountId}}-us-east-1");
        assert!(run.stdout.contains(&format!("\"{arn}\"")), "{base}: {}", run.stdout);
        assert!(!run.stdout.contains("wild"), "{}", run.stdout);
        // Every bucket ARN in the policy is this one (or its objects).
        for line in run.stdout.lines().filter(|l| l.contains("arn:aws:s3:::clickstream")) {
            assert!(line.contains(&arn), "{base}: {line}");
        }
    }
    for key in ["raw-events-backup", &"k".repeat(43)] {
        let base = format!("clickstream-{key}-pr-*");
        assert!([34, 60].contains(&base.len()), "{base}");
        let run = policy_for(key).expect_code(2);
        assert!(run.stderr.contains(&format!("bucket `{key}`'s default name is cut to")), "{}", run.stderr);
        assert!(run.stderr.contains(&format!("drops part of `clickstream-{key}-pr-`")), "{}", run.stderr);
        assert!(!run.stderr.contains("escape"), "{}", run.stderr);
        assert!(run.stderr.contains("spec.yaml:3:3"), "at the bucket's key: {}", run.stderr);
        assert!(run.stderr.contains("nothing was sent to AWS"), "{}", run.stderr);
    }
}

/// A name set with `${env}` is never cut: any length that fits 63 works.
#[test]
fn an_env_pattern_policy_for_a_named_bucket_keeps_its_wildcard() {
    let text = "pipeline: clickstream\nbuckets:\n  raw-events-archived: { name: 'cs-${env}-raw-events-archived' }\n";
    let spec = temp_spec("envpat", "named", text);
    let run = pipectl(&["deployer-policy", spec.to_str().unwrap(), "--region", "us-east-1", "--env-pattern", "pr-*"])
        .run()
        .expect_code(0);
    assert!(run.stdout.contains("\"arn:aws:s3:::cs-pr-*-raw-events-archived\""), "{}", run.stdout);
}
