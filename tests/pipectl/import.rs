//! `pipectl import`: a pipeline built with the SDK alone (stream, bucket,
//! roles, a Firehose with error logging, a triggered function and their
//! log groups) is read from its stream into a spec, adopted, and then
//! re-plans with no changes.

use crate::emulator::{Moto, Sdk};
use crate::faults::{Faults, Proxy};
use crate::util::scratch;

const TRUST_FIREHOSE: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"firehose.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
const TRUST_LAMBDA: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

/// What a console user makes by hand, the way the labs do.
fn build_by_hand(sdk: &Sdk, code: &[u8]) {
    use aws_sdk_firehose::types as fh;
    use aws_sdk_s3::types as s3;
    sdk.run(async {
        let a = &**sdk;
        a.kinesis.create_stream().stream_name("ClickStream").shard_count(1).send().await.unwrap();
        a.s3.create_bucket().bucket("click-lake-by-hand").send().await.unwrap();
        let block = s3::PublicAccessBlockConfiguration::builder()
            .block_public_acls(true)
            .ignore_public_acls(true)
            .block_public_policy(true)
            .restrict_public_buckets(true)
            .build();
        a.s3.put_public_access_block()
            .bucket("click-lake-by-hand")
            .public_access_block_configuration(block)
            .send()
            .await
            .unwrap();
        let sse = s3::ServerSideEncryptionConfiguration::builder()
            .rules(
                s3::ServerSideEncryptionRule::builder()
                    .apply_server_side_encryption_by_default(
                        s3::ServerSideEncryptionByDefault::builder()
                            .sse_algorithm(s3::ServerSideEncryption::Aes256)
                            .build()
                            .unwrap(),
                    )
                    .build(),
            )
            .build()
            .unwrap();
        a.s3.put_bucket_encryption()
            .bucket("click-lake-by-hand")
            .server_side_encryption_configuration(sse)
            .send()
            .await
            .unwrap();
        let fh_role = a
            .iam
            .create_role()
            .role_name("KinesisFirehoseServiceRole-clicks")
            .path("/service-role/")
            .assume_role_policy_document(TRUST_FIREHOSE)
            .send()
            .await
            .unwrap();
        let fn_role = a
            .iam
            .create_role()
            .role_name("click-consumer-role")
            .assume_role_policy_document(TRUST_LAMBDA)
            .send()
            .await
            .unwrap();
        let group = "/aws/kinesisfirehose/click-to-s3";
        a.logs.create_log_group().log_group_name(group).send().await.unwrap();
        a.logs.put_retention_policy().log_group_name(group).retention_in_days(14).send().await.unwrap();
        a.logs.create_log_stream().log_group_name(group).log_stream_name("DestinationDelivery").send().await.unwrap();
        let stream_arn = a.kinesis.describe_stream_summary().stream_name("ClickStream").send().await.unwrap();
        let stream_arn = stream_arn.stream_description_summary().unwrap().stream_arn().to_string();
        let dest = fh::ExtendedS3DestinationConfiguration::builder()
            .role_arn(fh_role.role().unwrap().arn())
            .bucket_arn("arn:aws:s3:::click-lake-by-hand")
            .prefix("raw/")
            .error_output_prefix("errors/")
            .buffering_hints(fh::BufferingHints::builder().size_in_mbs(5).interval_in_seconds(60).build())
            .compression_format(fh::CompressionFormat::Gzip)
            .cloud_watch_logging_options(
                fh::CloudWatchLoggingOptions::builder()
                    .enabled(true)
                    .log_group_name(group)
                    .log_stream_name("DestinationDelivery")
                    .build(),
            )
            .build()
            .unwrap();
        let source = fh::KinesisStreamSourceConfiguration::builder()
            .kinesis_stream_arn(&stream_arn)
            .role_arn(fh_role.role().unwrap().arn())
            .build()
            .unwrap();
        a.firehose
            .create_delivery_stream()
            .delivery_stream_name("click-to-s3")
            .delivery_stream_type(fh::DeliveryStreamType::KinesisStreamAsSource)
            .kinesis_stream_source_configuration(source)
            .extended_s3_destination_configuration(dest)
            .send()
            .await
            .unwrap();
        let lambda_group = "/aws/lambda/click-consumer";
        a.logs.create_log_group().log_group_name(lambda_group).send().await.unwrap();
        a.logs.put_retention_policy().log_group_name(lambda_group).retention_in_days(7).send().await.unwrap();
        a.lambda
            .create_function()
            .function_name("click-consumer")
            .runtime(aws_sdk_lambda::types::Runtime::Python312)
            .handler("decode_and_log.handler")
            .role(fn_role.role().unwrap().arn())
            .timeout(30)
            .environment(aws_sdk_lambda::types::Environment::builder().variables("MODE", "debug").build())
            .code(
                aws_sdk_lambda::types::FunctionCode::builder()
                    .zip_file(aws_sdk_lambda::primitives::Blob::new(code))
                    .build(),
            )
            .send()
            .await
            .unwrap();
        a.lambda
            .create_event_source_mapping()
            .function_name("click-consumer")
            .event_source_arn(&stream_arn)
            .batch_size(50)
            .starting_position(aws_sdk_lambda::types::EventSourcePosition::TrimHorizon)
            .send()
            .await
            .unwrap();
    });
}

#[test]
fn a_pipeline_built_with_the_sdk_is_imported_from_its_stream_and_replans_clean_once_adopted() {
    let Some(moto) = Moto::start() else { return };
    let sdk = moto.sdk();
    let handler = crate::util::root().join("templates/lambda/decode_and_log.py");
    let code = pipectl::package::build(&handler, &crate::util::root()).unwrap().zip;
    build_by_hand(&sdk, &code);

    let dir = scratch().join("import-by-hand");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("downloaded")).unwrap();
    std::fs::write(dir.join("downloaded/click-consumer.zip"), &code).unwrap();
    let spec = dir.join("clicks.yaml").display().to_string();
    let code_dir = dir.join("downloaded").display().to_string();
    let wrote = moto
        .pipectl(&[
            "import",
            "--from-stream",
            "ClickStream",
            "--out",
            &spec,
            "--code-dir",
            &code_dir,
            "--pipeline",
            "clicks",
        ])
        .run()
        .expect_code(0);
    assert!(wrote.stderr.contains("1 Firehose(s), 1 bucket(s), 0 table(s), 1 function(s)"), "{}", wrote.stderr);
    let text = std::fs::read_to_string(&spec).unwrap();
    assert!(
        text.contains("role: \"arn:aws:iam::123456789012:role/service-role/KinesisFirehoseServiceRole-clicks\""),
        "{text}"
    );
    assert!(text.contains(r#""MODE": "${ssm:/clicks/click-consumer/MODE}""#), "{text}");
    moto.pipectl(&["validate", &spec]).run().expect_code(0);
    // The value goes where the header says, as the user would copy it.
    put_parameter(&sdk, "/clicks/click-consumer/MODE", "debug");

    // Before adoption nothing is pipectl's: the plan refuses to touch it.
    let refused = moto.pipectl(&["plan", &spec]).run().expect_code(1);
    assert!(refused.stderr.contains("not owned"), "{}", refused.stderr);
    let dry = moto.pipectl(&["import", &spec]).run().expect_code(0);
    assert!(
        dry.stdout.contains("+ stream.ClickStream") && dry.stderr.contains("dry run"),
        "{}\n{}",
        dry.stdout,
        dry.stderr
    );
    assert!(
        dry.stdout.contains("Import: 7 to adopt, 0 already managed, 0 to create by apply, 0 left alone."),
        "{}",
        dry.stdout
    );

    moto.pipectl(&["import", &spec, "--yes"]).run().expect_code(0);
    let plan = moto.pipectl(&["plan", &spec, "--detailed-exitcode"]).run();
    assert_eq!(plan.code, 0, "the imported spec re-plans clean:\n{}\n{}", plan.stdout, plan.stderr);
    let again = moto.pipectl(&["import", &spec]).run().expect_code(0);
    assert!(again.stdout.contains("0 to adopt, 7 already managed"), "{}", again.stdout);

    // Now it is pipectl's to destroy (the adopted bucket is protected, as
    // any bucket kept on destroy), but the roles it only uses stay.
    moto.pipectl(&["destroy", &spec, "--yes", "--delete-data", "--allow-data-loss", "--wait"]).run().expect_code(0);
    let roles = sdk.run(async { sdk.iam.list_roles().send().await.unwrap() });
    let names: Vec<&str> = roles.roles().iter().map(|r| r.role_name()).collect();
    assert!(
        names.contains(&"click-consumer-role") && names.contains(&"KinesisFirehoseServiceRole-clicks"),
        "{names:?}"
    );
}

/// What another deployment owns is shown and left alone; what nobody owns
/// is adopted; what is missing is left to apply.
#[test]
fn import_adopts_only_what_nobody_owns() {
    let Some(moto) = Moto::start() else { return };
    let sdk = moto.sdk();
    sdk.tagged_stream("theirs", 1, &[("pipectl:pipeline", "other"), ("pipectl:env", "default")]);
    sdk.tagged_stream("nobodys", 2, &[]);
    let text = "pipeline: mixed\nstreams:\n  a: { name: theirs, encryption: none }\n  b: { name: nobodys, encryption: none }\n  c: { name: missing }\n";
    let spec = crate::util::temp_spec("import", "mixed", text).display().to_string();
    let run = moto.pipectl(&["import", &spec, "--yes"]).run().expect_code(0);
    assert!(run.stdout.contains("! stream.a") && run.stdout.contains("pipeline `other`"), "{}", run.stdout);
    assert!(run.stdout.contains("shards: 2 -> 1"), "the next apply's change is shown: {}", run.stdout);
    assert!(
        run.stdout.contains("Import: 1 to adopt, 0 already managed, 1 to create by apply, 1 left alone."),
        "{}",
        run.stdout
    );
    let tags = |name| sdk.stream_tags(name);
    assert!(tags("theirs").contains(&("pipectl:pipeline".into(), "other".into())), "untouched");
    assert!(tags("nobodys").contains(&("pipectl:pipeline".into(), "mixed".into())), "adopted");
}

/// A CloudFormation stack's stream, a bucket Terraform manages and a
/// table a Glue crawler keeps are left alone, named with their tool; what
/// nobody manages is adopted; `--adopt-from` adopts a tool's anyway.
#[test]
fn import_refuses_a_cloudformation_stacks_resources() {
    let Some(moto) = Moto::start() else { return };
    let sdk = moto.sdk();
    let stack = [("aws:cloudformation:stack-name", "legacy"), ("aws:cloudformation:logical-id", "Clicks")];
    sdk.tagged_stream("legacy-clicks", 1, &stack);
    sdk.tagged_stream("nobodys-clicks", 1, &[]);
    sdk.run(async {
        let a = &*sdk;
        a.s3.create_bucket().bucket("legacy-lake-tf").send().await.unwrap();
        let tag = aws_sdk_s3::types::Tag::builder().key("ManagedBy").value("Terraform").build().unwrap();
        let tagging = aws_sdk_s3::types::Tagging::builder().tag_set(tag).build().unwrap();
        a.s3.put_bucket_tagging().bucket("legacy-lake-tf").tagging(tagging).send().await.unwrap();
        let db = aws_sdk_glue::types::DatabaseInput::builder().name("legacy_db").build().unwrap();
        a.glue.create_database().database_input(db).send().await.unwrap();
        let column = aws_sdk_glue::types::Column::builder().name("a").r#type("string").build().unwrap();
        let sd = aws_sdk_glue::types::StorageDescriptor::builder()
            .columns(column)
            .location("s3://legacy-lake-tf/events/")
            .build();
        let table = aws_sdk_glue::types::TableInput::builder()
            .name("events")
            .storage_descriptor(sd)
            .parameters("UPDATED_BY_CRAWLER", "lake-crawler")
            .build()
            .unwrap();
        a.glue.create_table().database_name("legacy_db").table_input(table).send().await.unwrap();
    });
    let text = "pipeline: imp
buckets:
  lake: { name: legacy-lake-tf }
streams:
  a: { name: legacy-clicks, encryption: none }
  b: { name: nobodys-clicks, encryption: none }
catalog:
  databases:
    db: { name: legacy_db }
  tables:
    t: { name: events, database: db, location: { bucket: lake, prefix: events/ }, format: json, columns: { a: string } }
";
    let spec = crate::util::temp_spec("import", "tools", text).display().to_string();
    let dry = moto.pipectl(&["import", &spec]).run().expect_code(0);
    let out = &dry.stdout;
    assert!(out.contains("! stream.a") && out.contains("CloudFormation manages it"), "{out}");
    assert!(out.contains("`--adopt-from cloudformation` adopts it"), "{out}");
    assert!(out.contains("! bucket.lake") && out.contains("Terraform manages it (`ManagedBy` = `Terraform`)"), "{out}");
    assert!(out.contains("! glue_table.t") && out.contains("a Glue crawler manages it"), "{out}");
    assert!(out.contains("Import: 2 to adopt, 0 already managed, 0 to create by apply, 3 left alone."), "{out}");
    let json = moto.pipectl(&["import", &spec, "--json"]).run().expect_code(0);
    let doc: serde_json::Value = json.stdout.lines().next().map(|l| serde_json::from_str(l).unwrap()).unwrap();
    let lake = doc["resources"].as_array().unwrap().iter().find(|r| r["address"] == "bucket.lake").unwrap().clone();
    assert_eq!((lake["status"].as_str(), lake["tool"].as_str()), (Some("other-tool"), Some("terraform")));

    moto.pipectl(&["import", &spec, "--yes"]).run().expect_code(0);
    let tags = |name| sdk.stream_tags(name).into_iter().map(|(k, _)| k).collect::<Vec<_>>();
    assert!(!tags("legacy-clicks").contains(&"pipectl:pipeline".to_string()), "the stack's stream is untouched");
    assert!(tags("nobodys-clicks").contains(&"pipectl:pipeline".to_string()), "nobody's is adopted");
    let lake_tags = sdk.run(sdk.s3.get_bucket_tagging().bucket("legacy-lake-tf").send()).unwrap();
    assert_eq!(lake_tags.tag_set().len(), 1, "Terraform's bucket is untouched");

    let anyway = moto
        .pipectl(&["import", &spec, "--yes", "--adopt-from", "cloudformation", "--adopt-from", "glue-crawler"])
        .run()
        .expect_code(0);
    assert!(
        anyway.stdout.contains("+ stream.a") && anyway.stdout.contains("adopt from CloudFormation"),
        "{}",
        anyway.stdout
    );
    assert!(anyway.stderr.contains("take it out of CloudFormation"), "{}", anyway.stderr);
    assert!(tags("legacy-clicks").contains(&"pipectl:pipeline".to_string()), "adopted when asked");
    assert!(anyway.stdout.contains("Import: 2 to adopt, 2 already managed, 0 to create by apply, 1 left alone."));
}

/// An SSM SecureString parameter, as `aws ssm put-parameter` makes it.
fn put_parameter(sdk: &Sdk, name: &str, value: &str) {
    let req = sdk.ssm.put_parameter().name(name).value(value).r#type(aws_sdk_ssm::types::ParameterType::SecureString);
    sdk.run(req.send()).unwrap();
}

/// A function whose environment holds a password, the stream's name and
/// ARN and the account: the spec written from its stream holds none of
/// those values, only `${ssm:...}` and references, and says which
/// parameters to create; once the password is put there, the adopted
/// pipeline re-plans clean.
#[test]
fn import_from_stream_never_writes_environment_values() {
    let Some(moto) = Moto::start() else { return };
    let sdk = moto.sdk();
    let handler = crate::util::root().join("templates/lambda/decode_and_log.py");
    let code = pipectl::package::build(&handler, &crate::util::root()).unwrap().zip;
    let secret = "hunter2-not-for-git";
    sdk.run(async {
        let a = &*sdk;
        a.kinesis.create_stream().stream_name("LeakyStream").shard_count(1).send().await.unwrap();
        let arn = a.kinesis.describe_stream_summary().stream_name("LeakyStream").send().await.unwrap();
        let arn = arn.stream_description_summary().unwrap().stream_arn().to_string();
        let role = a.iam.create_role().role_name("leaky-role").assume_role_policy_document(TRUST_LAMBDA).send().await;
        let group = "/aws/lambda/leaky-consumer";
        a.logs.create_log_group().log_group_name(group).send().await.unwrap();
        a.logs.put_retention_policy().log_group_name(group).retention_in_days(14).send().await.unwrap();
        let env = aws_sdk_lambda::types::Environment::builder()
            .variables("DB_PASSWORD", secret)
            .variables("SOURCE_STREAM", "LeakyStream")
            .variables("SOURCE_ARN", &arn)
            .variables("ACCOUNT_ID", "123456789012")
            .build();
        a.lambda
            .create_function()
            .function_name("leaky-consumer")
            .runtime(aws_sdk_lambda::types::Runtime::Python312)
            .handler("decode_and_log.handler")
            .role(role.unwrap().role().unwrap().arn())
            .environment(env)
            .code(
                aws_sdk_lambda::types::FunctionCode::builder()
                    .zip_file(aws_sdk_lambda::primitives::Blob::new(code.clone()))
                    .build(),
            )
            .send()
            .await
            .unwrap();
        a.lambda
            .create_event_source_mapping()
            .function_name("leaky-consumer")
            .event_source_arn(&arn)
            .starting_position(aws_sdk_lambda::types::EventSourcePosition::Latest)
            .send()
            .await
            .unwrap();
    });
    let dir = scratch().join(format!("import-leaky-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("downloaded")).unwrap();
    std::fs::write(dir.join("downloaded/leaky-consumer.zip"), &code).unwrap();
    let spec = dir.join("leaky.yaml").display().to_string();
    let code_dir = dir.join("downloaded").display().to_string();
    let args =
        ["import", "--from-stream", "LeakyStream", "--out", &spec, "--code-dir", &code_dir, "--pipeline", "leaky"];
    let wrote = moto.pipectl(&args).run().expect_code(0);
    let text = std::fs::read_to_string(&spec).unwrap();
    assert!(!text.contains(secret) && !wrote.stderr.contains(secret) && !wrote.stdout.contains(secret), "{text}");
    for line in [
        r#""DB_PASSWORD": "${ssm:/leaky/leaky-consumer/DB_PASSWORD}""#,
        r#""SOURCE_STREAM": "${streams.LeakyStream.name}""#,
        r#""SOURCE_ARN": "${streams.LeakyStream.arn}""#,
        r#""ACCOUNT_ID": "${account}""#,
    ] {
        assert!(text.contains(line), "{line}:\n{text}");
    }
    let create = "aws ssm put-parameter --type SecureString --name /leaky/leaky-consumer/DB_PASSWORD";
    assert!(text.contains(&format!("#   {create}")), "the header says what to create:\n{text}");
    assert!(wrote.stderr.contains(create), "and so does the note: {}", wrote.stderr);

    put_parameter(&sdk, "/leaky/leaky-consumer/DB_PASSWORD", secret);
    moto.pipectl(&["import", &spec, "--yes"]).run().expect_code(0);
    let plan = moto.pipectl(&["plan", &spec, "--detailed-exitcode"]).run();
    assert_eq!(plan.code, 0, "the same environment, through references:\n{}\n{}", plan.stdout, plan.stderr);
}

/// A bucket made by hand without default encryption or a public access
/// block is written as it is, so the plan after adoption is empty; every
/// S3 call of the import names the account as the bucket's owner.
#[test]
fn import_of_a_hand_made_bucket_plans_empty() {
    use aws_sdk_firehose::types as fh;
    let Some(moto) = Moto::start() else { return };
    let sdk = moto.sdk();
    sdk.run(async {
        let a = &*sdk;
        a.kinesis.create_stream().stream_name("PlainStream").shard_count(1).send().await.unwrap();
        a.s3.create_bucket().bucket("plain-lake-by-hand").send().await.unwrap();
        let role =
            a.iam.create_role().role_name("plain-firehose").assume_role_policy_document(TRUST_FIREHOSE).send().await;
        let role = role.unwrap().role().unwrap().arn().to_string();
        let arn = a.kinesis.describe_stream_summary().stream_name("PlainStream").send().await.unwrap();
        let arn = arn.stream_description_summary().unwrap().stream_arn().to_string();
        let dest = fh::ExtendedS3DestinationConfiguration::builder()
            .role_arn(&role)
            .bucket_arn("arn:aws:s3:::plain-lake-by-hand")
            // The console's defaults (moto leaves them out otherwise).
            .compression_format(fh::CompressionFormat::Uncompressed)
            .buffering_hints(fh::BufferingHints::builder().size_in_mbs(5).interval_in_seconds(300).build())
            .build()
            .unwrap();
        let source = fh::KinesisStreamSourceConfiguration::builder().kinesis_stream_arn(arn).role_arn(&role).build();
        a.firehose
            .create_delivery_stream()
            .delivery_stream_name("plain-to-s3")
            .delivery_stream_type(fh::DeliveryStreamType::KinesisStreamAsSource)
            .kinesis_stream_source_configuration(source.unwrap())
            .extended_s3_destination_configuration(dest)
            .send()
            .await
            .unwrap();
    });
    let faults = Faults { require_owner: Some("123456789012"), ..Faults::default() };
    let proxy = Proxy::start(&moto.url, faults);
    let via = |args: &[&str]| crate::util::pipectl(args).aws_env(&proxy.url).run();
    let spec = crate::util::temp_spec("import", "plain", "").display().to_string();
    let wrote = via(&["import", "--from-stream", "PlainStream", "--out", &spec, "--pipeline", "plain"]).expect_code(0);
    let text = std::fs::read_to_string(&spec).unwrap();
    assert!(text.contains("encryption: none\n    public_access_block: false"), "as it is:\n{text}");
    assert!(wrote.stderr.contains("hardening it (`encryption: aes256`"), "{}", wrote.stderr);
    via(&["import", &spec, "--yes"]).expect_code(0);
    let plan = via(&["plan", &spec, "--detailed-exitcode"]);
    assert_eq!(plan.code, 0, "nothing to change:\n{}\n{}", plan.stdout, plan.stderr);
    let ownerless = proxy.stats.ownerless.lock().unwrap().clone();
    assert!(ownerless.is_empty(), "S3 calls without the expected owner:\n{}", ownerless.join("\n"));
}
