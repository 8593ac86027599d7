use super::calls::{On, CALLS, OUT_OF_SCOPE};
use super::*;
use crate::spec::Options;
use std::path::Path;

/// Every operation the sources send, as (file below `src/`, operation):
/// `send!("Op"`, `gone!("Op"` and `aws_err("Op")`, comments left out.
fn sent_by_the_code() -> BTreeSet<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = BTreeSet::new();
    let mut dirs = vec![root.clone()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let file = path.strip_prefix(&root).unwrap().to_string_lossy().replace('\\', "/");
            let text = std::fs::read_to_string(&path).unwrap();
            let code: String =
                text.lines().filter(|l| !l.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n");
            for marker in ["send!(", "gone!(", "aws_err("] {
                for (at, _) in code.match_indices(marker) {
                    let rest = code[at + marker.len()..].trim_start();
                    let Some(rest) = rest.strip_prefix('"') else { continue };
                    let op: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric()).collect();
                    if op.chars().next().is_some_and(|c| c.is_ascii_uppercase()) && rest[op.len()..].starts_with('"') {
                        out.insert((file.clone(), op));
                    }
                }
            }
        }
    }
    // The macros' own definitions and this module's tests name no call.
    out.retain(|(f, _)| !f.starts_with("deployer/"));
    out
}

#[test]
fn every_call_the_code_sends_has_its_permissions_and_no_row_is_stale() {
    let sent = sent_by_the_code();
    assert!(sent.len() > 150, "the scan finds the calls ({} found)", sent.len());
    let out_of_scope = |f: &str| OUT_OF_SCOPE.iter().any(|(o, _)| *o == f);
    let table: BTreeSet<(String, String)> = CALLS.iter().map(|c| (c.file.to_string(), c.op.to_string())).collect();
    let missing: Vec<_> = sent.iter().filter(|(f, _)| !out_of_scope(f)).filter(|c| !table.contains(*c)).collect();
    assert!(missing.is_empty(), "calls without a row in deployer::calls::CALLS: {missing:?}");
    let stale: Vec<_> = table.iter().filter(|c| !sent.contains(*c)).collect();
    assert!(stale.is_empty(), "rows of deployer::calls::CALLS no code sends: {stale:?}");
    for (file, _) in OUT_OF_SCOPE {
        assert!(sent.iter().any(|(f, _)| f == file), "`{file}` sends nothing: drop it from OUT_OF_SCOPE");
    }
    for c in CALLS {
        assert!(!c.actions.is_empty(), "{} {} needs an action", c.file, c.op);
        for a in c.actions {
            let (service, action) = a.split_once(':').expect("service:Action");
            assert!(!service.is_empty() && action.chars().all(|c| c.is_ascii_alphanumeric()), "{a}");
        }
    }
}

fn lab(env: Option<&str>) -> Loaded {
    let text = std::fs::read_to_string("pipelines/lab.yaml").unwrap();
    let opts = Options {
        env: env.map(str::to_string),
        region: Some("us-east-1".into()),
        account: Some("123456789012".into()),
        ..Options::default()
    };
    crate::load::load_str(&text, "lab.yaml", Path::new("pipelines"), &opts).unwrap()
}

fn request(loaded: &Loaded, import: bool) -> Request<'_> {
    Request {
        loaded,
        scope: Scope::new("us-east-1", "123456789012"),
        import,
        verify: false,
        status: false,
        boundary: None,
    }
}

fn policy(loaded: &Loaded, import: bool) -> Value {
    document(&request(loaded, import)).unwrap()
}

fn statements(doc: &Value) -> Vec<Value> {
    doc["Statement"].as_array().unwrap().clone()
}

fn list(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a.iter().map(|x| x.as_str().unwrap().to_string()).collect(),
        _ => panic!("{v}"),
    }
}

fn actions(doc: &Value) -> BTreeSet<String> {
    statements(doc).iter().flat_map(|s| list(&s["Action"])).collect()
}

#[test]
fn no_list_of_the_permissions_the_ci_role_needs() {
    // The defect: nothing said what a CI role needs. Now every action the
    // lab's kinds send is in its policy, exactly, and nothing with `*`.
    let l = lab(Some("pr-1"));
    let doc = policy(&l, false);
    let granted = actions(&doc);
    for a in [
        "kinesis:CreateStream",
        "firehose:CreateDeliveryStream",
        "lambda:CreateFunction",
        "lambda:CreateEventSourceMapping",
        "iam:CreateRole",
        "iam:PassRole",
        "s3:CreateBucket",
        "glue:CreateTable",
        "logs:CreateLogGroup",
        "cloudwatch:PutDashboard",
        "cloudwatch:PutMetricAlarm",
        "ec2:RunInstances",
        "ssm:PutParameter",
        "ssm:GetParametersByPath",
        "sts:GetCallerIdentity",
        "tag:GetResources",
    ] {
        assert!(granted.contains(a), "{a} missing from {granted:?}");
    }
    assert!(granted.iter().all(|a| !a.contains('*')), "{granted:?}");
    assert!(!granted.contains("iam:GetAccountAuthorizationDetails"), "a listing that only saves calls is not granted");
    assert!(!granted.contains("firehose:ListDeliveryStreams"), "import's needs only with --include import");
    let sids: Vec<String> = statements(&doc).iter().map(|s| s["Sid"].as_str().unwrap().to_string()).collect();
    let unique: BTreeSet<&String> = sids.iter().collect();
    assert_eq!(unique.len(), sids.len(), "Sids are unique: {sids:?}");
    assert!(sids.iter().all(|s| s.chars().all(|c| c.is_ascii_alphanumeric())), "{sids:?}");
}

#[test]
fn every_arn_is_the_deployments_unless_a_condition_or_aws_scopes_it() {
    let l = lab(Some("pr-1"));
    let doc = policy(&l, true);
    // Statements naming no resource of this deployment: each a listing AWS
    // cannot scope, or scoped by a condition.
    let mut unscoped = Vec::new();
    for s in statements(&doc) {
        let sid = s["Sid"].as_str().unwrap().to_string();
        let resources = list(&s["Resource"]);
        if s.get("Condition").is_some() {
            continue;
        }
        for r in &resources {
            assert!(r == "*" || r.starts_with("arn:aws:"), "{sid}: {r}");
            // Glue names spell `-` as `_`; every Glue call also names the catalog.
            let named = r.replace('_', "-");
            let ours = named.contains("taxi-lab") && named.contains("pr-1");
            if !ours && !r.ends_with(":catalog") {
                unscoped.push(sid.clone());
                break;
            }
        }
    }
    unscoped.sort();
    unscoped.dedup();
    assert_eq!(
        unscoped,
        [
            "AmazonLinuxAmiParameters",
            "CloudWatchDescribeAlarmsListsTheAccount",
            "Ec2CreatesUseWhatTheyDoNotOwn",
            "Ec2DescribeHasNoResourceLevelPermissions",
            "FirehoseListDeliveryStreamsTakesNoResource",
            "GcListsThePipelinesRecords",
            // The lab's host waits for its agent by default: Run Command's
            // AWS-owned document, and reading the answer.
            "HostServiceCheckDocument",
            "LambdaListEventSourceMappingsTakesNoResource",
            // ListFunctions and GetAccountSettings take no resource.
            "LambdaListingsTakeNoResource",
            "LambdaMappingReadsByUuid",
            "LogsDescribeLogGroupsListsTheAccount",
            "S3ListAllMyBucketsTakesNoResource",
            "SsmGetCommandInvocationTakesNoResource",
            "StsCallerIdentityTakesNoResource",
            "TaggingGetResourcesTakesNoResource",
        ]
    );
    // Nothing writes or deletes outside the deployment without a condition.
    for s in statements(&doc).iter().filter(|s| unscoped.contains(&s["Sid"].as_str().unwrap().to_string())) {
        for a in list(&s["Action"]) {
            let verb = a.split_once(':').unwrap().1;
            let read = ["Describe", "Get", "List"].iter().any(|v| verb.starts_with(v));
            let create = ["RunInstances", "CreateSecurityGroup", "CreateTags"].contains(&verb);
            // Sending a command names AWS's own document; the hosts it runs
            // on are the deployment's (another statement).
            let aws_document =
                verb == "SendCommand" && list(&s["Resource"]).iter().all(|r| r.contains(":document/AWS-"));
            assert!(read || create || aws_document, "{} grants {a} beyond the deployment", s["Sid"]);
        }
    }
    let tags_on_create = statements(&doc).into_iter().find(|s| s["Sid"] == "Ec2TagsOnlyWithTheirCreate").unwrap();
    assert_eq!(tags_on_create["Action"], json!(["ec2:CreateTags"]));
    assert!(tags_on_create["Condition"]["StringEquals"]["ec2:CreateAction"].is_array());
}

#[test]
fn pass_role_only_on_the_deployments_roles_to_their_service() {
    let l = lab(None);
    let doc = policy(&l, false);
    let pass: Vec<Value> =
        statements(&doc).into_iter().filter(|s| list(&s["Action"]).contains(&"iam:PassRole".into())).collect();
    let mut seen = BTreeMap::new();
    for s in &pass {
        assert_eq!(list(&s["Action"]), ["iam:PassRole"], "PassRole stands alone: {s}");
        let service = s["Condition"]["StringEquals"]["iam:PassedToService"].as_str().unwrap().to_string();
        seen.insert(service, list(&s["Resource"]));
    }
    assert_eq!(
        seen,
        BTreeMap::from([
            (
                "ec2.amazonaws.com".to_string(),
                vec!["arn:aws:iam::123456789012:role/taxi-lab-producer-agent-us-east-1".to_string()]
            ),
            (
                "firehose.amazonaws.com".into(),
                vec![
                    "arn:aws:iam::123456789012:role/taxi-lab-raw-firehose-us-east-1".to_string(),
                    "arn:aws:iam::123456789012:role/taxi-lab-to-lake-firehose-us-east-1".into()
                ]
            ),
            (
                "lambda.amazonaws.com".into(),
                vec!["arn:aws:iam::123456789012:role/taxi-lab-filter-lambda-us-east-1".to_string()]
            ),
        ])
    );
}

#[test]
fn a_role_the_spec_names_is_passed_and_a_spec_without_hosts_gets_no_ec2() {
    let text = "pipeline: p\nregion: eu-west-1\nbuckets: { b: {} }\nfirehoses: { f: { source: direct, destination: { bucket: b } } }\nfunctions:\n  fn:\n    runtime: python3.12\n    code: templates/lambda/decode_and_log.py\n    handler: decode_and_log.handler\n    role: lab-lambda\n    environment: { T: \"${ssm:/p/token}\" }\n";
    let l = crate::load::load_str(text, "t.yaml", Path::new(env!("CARGO_MANIFEST_DIR")), &Options::default()).unwrap();
    let scope = Scope::new("eu-west-1", "111122223333");
    let doc =
        document(&Request { loaded: &l, scope, import: false, verify: false, status: false, boundary: None }).unwrap();
    let granted = actions(&doc);
    assert!(granted.iter().all(|a| !a.starts_with("ec2:")), "{granted:?}");
    assert!(!granted.contains("kinesis:CreateStream"), "no stream, no stream actions");
    let lambda = statements(&doc).into_iter().find(|s| s["Sid"] == "PassRolesToFunction").unwrap();
    assert_eq!(list(&lambda["Resource"]), ["arn:aws:iam::111122223333:role/lab-lambda"]);
    let params = statements(&doc).into_iter().find(|s| s["Sid"] == "SpecParameters").unwrap();
    assert_eq!(params["Resource"], json!(["arn:aws:ssm:eu-west-1:111122223333:parameter/p/token"]));
}

#[test]
fn statements_group_by_their_target() {
    let l = lab(None);
    let doc = policy(&l, false);
    let streams = statements(&doc).into_iter().find(|s| s["Sid"] == "Streams").unwrap();
    assert_eq!(list(&streams["Resource"]), ["arn:aws:kinesis:us-east-1:123456789012:stream/taxi-lab-trips"]);
    assert!(list(&streams["Action"]).contains(&"kinesis:DeleteStream".to_string()));
    let record = statements(&doc).into_iter().find(|s| s["Sid"] == "RecordAndLock").unwrap();
    assert_eq!(
        list(&record["Resource"]),
        [
            "arn:aws:ssm:us-east-1:123456789012:parameter/pipectl/taxi-lab/default",
            "arn:aws:ssm:us-east-1:123456789012:parameter/pipectl-parts/taxi-lab/default/*",
            "arn:aws:ssm:us-east-1:123456789012:parameter/pipectl-lock/taxi-lab/default",
            "arn:aws:ssm:us-east-1:123456789012:parameter/pipectl-lock/taxi-lab/default/takeover/*",
        ]
    );
    assert!(CALLS.iter().any(|c| matches!(c.on, On::NotGranted(_))));
}

#[test]
fn a_policy_too_large_for_one_managed_policy_splits_within_the_limit() {
    let l = lab(Some("pr-1"));
    let doc = policy(&l, true);
    let docs = split(&doc, &Sizing::managed());
    assert!(docs.len() > 1, "the lab's policy is larger than one managed policy");
    for d in &docs {
        assert!(d.to_string().len() <= MANAGED_POLICY_LIMIT, "{}", d.to_string().len());
    }
    let together: BTreeSet<String> = docs.iter().flat_map(actions).collect();
    assert_eq!(together, actions(&doc), "nothing lost in the split");
    // A statement larger than the limit alone is cut by its resources.
    let tiny = split(&doc, &Sizing { limit: 600, fills: vec![] });
    assert!(tiny.iter().all(|d| d.to_string().len() <= 600 || d["Statement"].as_array().unwrap().len() == 1));
    let roles: Vec<String> = tiny
        .iter()
        .flat_map(statements)
        .filter(|s| s["Sid"].as_str().unwrap().starts_with("RolesPart"))
        .flat_map(|s| list(&s["Resource"]))
        .collect();
    assert_eq!(roles.len(), 4, "every role is in one of the parts");
}

fn load_text(text: &str) -> Loaded {
    let opts = Options { region: Some("us-east-1".into()), account: Some("123456789012".into()), ..Options::default() };
    crate::load::load_str(text, "t.yaml", Path::new(env!("CARGO_MANIFEST_DIR")), &opts).unwrap()
}

#[test]
fn the_pull_request_role_can_make_itself_account_admin() {
    let l = lab(Some("pr-1"));
    let boundary = "arn:aws:iam::123456789012:policy/ci-boundary";
    let doc = document(&Request { boundary: Some(boundary.into()), ..request(&l, false) }).unwrap();
    let all = statements(&doc);
    let bounded = all.iter().find(|s| s["Sid"] == "RolesOnlyWithTheBoundary").expect("a statement for role changes");
    assert_eq!(bounded["Condition"], json!({ "StringEquals": { "iam:PermissionsBoundary": boundary } }));
    let bounded_actions = list(&bounded["Action"]);
    for a in ["iam:CreateRole", "iam:PutRolePolicy", "iam:DeleteRolePolicy", "iam:PutRolePermissionsBoundary"] {
        assert!(bounded_actions.contains(&a.to_string()), "{a} in {bounded_actions:?}");
    }
    // No other statement grants these, nor removing a boundary at all.
    for s in all.iter().filter(|s| s["Sid"] != "RolesOnlyWithTheBoundary") {
        for a in list(&s["Action"]) {
            assert!(!BOUNDED_ROLE_ACTIONS.contains(&a.as_str()), "{} grants {a} without the boundary", s["Sid"]);
            assert_ne!(a, UNBOUNDING, "{} grants removing the boundary", s["Sid"]);
        }
    }
    let roles = all.iter().find(|s| s["Sid"] == "Roles").unwrap();
    assert_eq!(roles["Resource"], bounded["Resource"], "the same roles, the deployment's");
    assert!(list(&roles["Action"]).contains(&"iam:DeleteRole".to_string()));
    // Without a boundary, nothing changes.
    let free = policy(&l, false);
    assert!(actions(&free).contains(UNBOUNDING));
    assert!(statements(&free).iter().all(|s| s["Sid"] != "RolesOnlyWithTheBoundary"));
}

#[test]
fn names_with_star_or_question_mark_become_wildcards_in_arns() {
    // The spec's rules refuse these names; the deployer refuses them too,
    // whatever reaches it: a graph node named with `*` here.
    let mut l = lab(Some("pr-1"));
    let node = l.graph.nodes.values_mut().find(|n| n.address.kind == Kind::Alarm).unwrap();
    node.name = "*prod".into();
    let e = document(&request(&l, false)).unwrap_err();
    assert!(e.contains("`*prod`"), "{e}");
    let mut l = lab(Some("pr-1"));
    l.spec.pipeline = "taxi?".into();
    assert!(document(&request(&l, false)).is_err());
    // Its own wildcards stay: objects, log streams, secrets.
    let doc = policy(&lab(Some("pr-1")), true);
    assert!(doc.to_string().contains("/*\""), "{doc}");
}

#[test]
fn retained_buckets_still_get_data_deletion_rights() {
    let l = load_text(
        "pipeline: p\nbuckets:\n  kept: { name: 'p-kept-x', on_destroy: retain }\n  gone: { name: 'p-gone-x', on_destroy: delete }\n",
    );
    let doc = policy(&l, false);
    let deletes: Vec<Value> = statements(&doc)
        .into_iter()
        .filter(|s| list(&s["Action"]).iter().any(|a| a == "s3:DeleteObject" || a == "s3:DeleteObjectVersion"))
        .collect();
    assert_eq!(deletes.len(), 1, "{deletes:?}");
    assert_eq!(list(&deletes[0]["Resource"]), ["arn:aws:s3:::p-gone-x/*"]);
    let only_kept = load_text("pipeline: p\nbuckets: { kept: { name: 'p-kept-x' } }\n");
    let granted = actions(&policy(&only_kept, false));
    assert!(!granted.contains("s3:DeleteObject") && !granted.contains("s3:DeleteObjectVersion"), "{granted:?}");
    assert!(granted.contains("s3:DeleteBucket"), "an empty retained bucket is still removed by `--delete-data` rules");
}

#[test]
fn split_over_the_limits() {
    // Sized after the final Sid and the account's expansion, and a long
    // condition list cut too.
    let mut text = String::from("pipeline: many\nstreams: { s: {} }\nfunctions:\n");
    for i in 0..120 {
        text += &format!(
            "  consumer-number-{i}:\n    runtime: python3.12\n    code: templates/lambda/decode_and_log.py\n    handler: decode_and_log.handler\n    trigger: {{ stream: s }}\n"
        );
    }
    let l = load_text(&text);
    let scope = Scope::new("us-east-1", "${AWS::AccountId}");
    let doc = document(&Request { scope, ..request(&l, false) }).unwrap();
    let sizing = Sizing::managed();
    let docs = split(&doc, &sizing);
    for d in &docs {
        let filled = d.to_string().replace("${AWS::AccountId}", "123456789012");
        let aws_size = filled.chars().filter(|c| !c.is_whitespace()).count();
        assert!(aws_size <= MANAGED_POLICY_LIMIT, "{aws_size}");
    }
    let mapping_parts: Vec<Value> = docs
        .iter()
        .flat_map(statements)
        .filter(|s| s["Sid"].as_str().unwrap().starts_with("LambdaMappingChangesTakeNoResourceScopedByFunctionPart"))
        .collect();
    assert!(mapping_parts.len() > 1, "the condition's list is cut");
    let arns: usize =
        mapping_parts.iter().map(|s| s["Condition"]["ArnLike"]["lambda:FunctionArn"].as_array().unwrap().len()).sum();
    assert_eq!(arns, 120, "every function in one part");
}

#[test]
fn verify_is_not_covered() {
    let l = lab(Some("pr-1"));
    let without = actions(&policy(&l, false));
    assert!(!without.contains("kinesis:PutRecord") && !without.contains("s3:GetObject"));
    let doc = document(&Request { verify: true, ..request(&l, false) }).unwrap();
    let with = actions(&doc);
    for a in [
        "kinesis:PutRecord",
        "kinesis:GetShardIterator",
        "kinesis:GetRecords",
        "firehose:PutRecord",
        "s3:ListBucket",
        "s3:GetObject",
        "logs:FilterLogEvents",
    ] {
        assert!(with.contains(a), "{a} missing");
    }
    let reads = statements(&doc).into_iter().find(|s| s["Sid"] == "BucketObjectReads").unwrap();
    assert_eq!(list(&reads["Action"]), ["s3:GetObject"]);
    assert!(list(&reads["Resource"]).iter().all(|r| r.starts_with("arn:aws:s3:::taxi-lab-") && r.ends_with("/*")));
}

#[test]
fn verify_asks_the_service_and_cleans_only_under_firehose_prefixes() {
    let l = lab(Some("pr-1"));
    let doc = document(&Request { verify: true, ..request(&l, false) }).unwrap();
    let with = actions(&doc);
    for a in ["firehose:DescribeDeliveryStream", "lambda:ListEventSourceMappings", "lambda:InvokeFunction"] {
        assert!(with.contains(a), "{a} missing");
    }
    let clean = statements(&doc).into_iter().find(|s| s["Sid"] == "VerifyCleanObjectsUnderFirehosePrefixes").unwrap();
    assert_eq!(list(&clean["Action"]), ["s3:DeleteObject", "s3:PutObject"]);
    let bucket = "arn:aws:s3:::taxi-lab-pr-1-123456789012";
    assert_eq!(list(&clean["Resource"]), [format!("{bucket}/nyctaxitrips/year=*"), format!("{bucket}/raw/year=*")]);
    let without = actions(&policy(&l, false));
    assert!(!without.contains("s3:PutObject") && !without.contains("lambda:InvokeFunction"));
}

#[test]
fn status_reads_metrics_only_with_include_status() {
    let l = lab(Some("pr-1"));
    assert!(!actions(&policy(&l, false)).contains("cloudwatch:GetMetricData"));
    let doc = document(&Request { status: true, ..request(&l, false) }).unwrap();
    let with = actions(&doc);
    assert!(with.contains("cloudwatch:GetMetricData") && with.contains("cloudwatch:DescribeAlarms"));
    let read =
        statements(&doc).into_iter().find(|s| list(&s["Action"]).contains(&"cloudwatch:GetMetricData".to_string()));
    // GetMetricData takes no resource: AWS documents it with `*` only.
    assert_eq!(list(&read.unwrap()["Resource"]), ["*"]);
}
