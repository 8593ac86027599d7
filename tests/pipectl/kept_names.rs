//! An earlier default name is kept only when its live bucket is this
//! deployment's own: the record alone (edited, stale, or naming what
//! another account took) never makes a name ours.

use crate::emulator::{Moto, Sdk};
use crate::util::temp_spec;

const ACCOUNT: &str = "123456789012";

fn bucket_exists(sdk: &Sdk, name: &str) -> bool {
    sdk.run(sdk.s3.head_bucket().bucket(name).send()).is_ok()
}

fn bucket_tags(sdk: &Sdk, name: &str) -> Vec<(String, String)> {
    match sdk.run(sdk.s3.get_bucket_tagging().bucket(name).send()) {
        Ok(t) => t.tag_set().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect(),
        Err(_) => Vec::new(),
    }
}

/// A record as an earlier pipectl stored it (plain JSON, tagged as the
/// deployment's), listing `resources`.
fn write_record(sdk: &Sdk, pipeline: &str, resources: serde_json::Value) {
    let record = serde_json::json!({ "v": 1, "region": "us-east-1", "resources": resources });
    let tag = |k: &str, v: &str| aws_sdk_ssm::types::Tag::builder().key(k).value(v).build().unwrap();
    let put = sdk
        .ssm
        .put_parameter()
        .name(format!("/pipectl/{pipeline}/default"))
        .value(record.to_string())
        .r#type(aws_sdk_ssm::types::ParameterType::String)
        .tags(tag("pipectl:pipeline", pipeline))
        .tags(tag("pipectl:env", "default"))
        .tags(tag("pipectl:region", "us-east-1"));
    sdk.run(put.send()).unwrap();
}

/// The defect (a): a record edited to list someone else's untagged bucket
/// `demo-lake2` under the old default made `import` adopt it, objects
/// included. The bucket is not ours: import leaves it alone and the new
/// default is the name to create.
#[test]
fn import_never_adopts_a_bucket_because_the_record_names_it() {
    let Some(moto) = Moto::start() else { return };
    let sdk = moto.sdk();
    sdk.run(sdk.s3.create_bucket().bucket("demo-lake2").send()).unwrap();
    let body = aws_sdk_s3::primitives::ByteStream::from_static(b"theirs\n");
    sdk.run(sdk.s3.put_object().bucket("demo-lake2").key("private/1").body(body).send()).unwrap();
    write_record(&sdk, "demo", serde_json::json!({ "bucket.lake2": "demo-lake2" }));
    let spec = temp_spec("kept", "import", "pipeline: demo\nbuckets:\n  lake2: {}\n");
    let s = spec.to_str().unwrap();
    let run = moto.pipectl(&["import", s, "--yes"]).run();
    let all = format!("{}\n{}", run.stdout, run.stderr);
    assert!(!all.contains("adopted bucket.lake2"), "{all}");
    assert!(!all.contains("keep the default name"), "{all}");
    assert!(bucket_tags(&sdk, "demo-lake2").is_empty(), "their bucket was tagged as ours");
    let plan = moto.pipectl(&["plan", s]).run().expect_code(0);
    assert!(plan.stdout.contains(&format!("demo-lake2-{ACCOUNT}-us-east-1")), "{}", plan.stdout);
    assert!(!plan.stdout.contains("keep the default name"), "{}", plan.stdout);
}

/// The defect (b): a record listing a bucket that was never created (an
/// apply killed before the create) made plan create the old,
/// collision-prone name, with a note that nothing moves. Nothing exists
/// to keep: the new default is created and no note is printed.
#[test]
fn a_recorded_bucket_that_does_not_exist_gets_the_new_default() {
    let Some(moto) = Moto::start() else { return };
    let sdk = moto.sdk();
    write_record(&sdk, "ghost", serde_json::json!({ "bucket.raw": "ghost-raw" }));
    let spec = temp_spec("kept", "ghost", "pipeline: ghost\nbuckets:\n  raw: { on_destroy: delete }\n");
    let s = spec.to_str().unwrap();
    let plan = moto.pipectl(&["plan", s, "--json"]).run().expect_code(0).json();
    assert!(plan["notes"].as_array().is_none_or(Vec::is_empty), "{plan}");
    moto.pipectl(&["apply", s, "--yes"]).run().expect_code(0);
    assert!(bucket_exists(&sdk, &format!("ghost-raw-{ACCOUNT}-us-east-1")));
    assert!(!bucket_exists(&sdk, "ghost-raw"), "the old name was created");
    assert_eq!(
        sdk.record("/pipectl/ghost/default")["resources"]["bucket.raw"],
        format!("ghost-raw-{ACCOUNT}-us-east-1")
    );
    moto.pipectl(&["destroy", s, "--yes"]).run().expect_code(0);
}

/// The defect (c): a record listing a name that is taken by someone else
/// (another account, or another deployment: a bucket not tagged as ours)
/// pinned the deployment to the collision. The new default applies, the
/// other bucket is never touched, and no note is printed.
#[test]
fn a_recorded_name_taken_by_someone_else_is_not_kept() {
    let Some(moto) = Moto::start() else { return };
    let sdk = moto.sdk();
    sdk.run(sdk.s3.create_bucket().bucket("taken-raw").send()).unwrap();
    let other = aws_sdk_s3::types::Tagging::builder()
        .tag_set(aws_sdk_s3::types::Tag::builder().key("pipectl:pipeline").value("other").build().unwrap())
        .tag_set(aws_sdk_s3::types::Tag::builder().key("pipectl:env").value("default").build().unwrap())
        .build()
        .unwrap();
    sdk.run(sdk.s3.put_bucket_tagging().bucket("taken-raw").tagging(other).send()).unwrap();
    write_record(&sdk, "taken", serde_json::json!({ "bucket.raw": "taken-raw" }));
    let spec = temp_spec("kept", "taken", "pipeline: taken\nbuckets:\n  raw: { on_destroy: delete }\n");
    let s = spec.to_str().unwrap();
    let plan = moto.pipectl(&["plan", s]).run().expect_code(0);
    assert!(!plan.stdout.contains("keep the default name"), "{}", plan.stdout);
    assert!(plan.stdout.contains(&format!("taken-raw-{ACCOUNT}-us-east-1")), "{}", plan.stdout);
    moto.pipectl(&["apply", s, "--yes"]).run().expect_code(0);
    assert!(bucket_exists(&sdk, &format!("taken-raw-{ACCOUNT}-us-east-1")));
    let tags = bucket_tags(&sdk, "taken-raw");
    assert!(tags.contains(&("pipectl:pipeline".into(), "other".into())), "{tags:?}");
    moto.pipectl(&["destroy", s, "--yes"]).run().expect_code(0);
    assert!(bucket_exists(&sdk, "taken-raw"), "someone else's bucket was deleted");
}
