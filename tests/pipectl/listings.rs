//! Plans of many resources of a kind read through listings: as many calls
//! for ten functions as for five, and what a listing cannot tell (a
//! function deleted by hand, one someone else owns, a reservation of
//! concurrency) still read and decided as the resource's own reads would.

use crate::emulator::Moto;
use crate::faults::{Faults, Hook, Proxy};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;

/// `n` functions without triggers (each with its role and log group).
fn functions(pipeline: &str, n: usize) -> String {
    let mut text = format!("pipeline: {pipeline}\nfunctions:\n");
    for i in 0..n {
        text.push_str(&format!("  c{i}: {{ runtime: python3.12, code: code, handler: handler.handler }}\n"));
    }
    text
}

fn spec_in(test: &str, text: &str) -> (String, std::path::PathBuf) {
    let path = crate::util::temp_spec("listings", test, text);
    let dir = path.parent().expect("a folder").to_path_buf();
    std::fs::create_dir_all(dir.join("code")).unwrap();
    std::fs::write(dir.join("code/handler.py"), "def handler(event, context):\n    return 1\n").unwrap();
    (path.display().to_string(), dir)
}

/// A proxy answering Lambda's GetAccountSettings, which the emulator
/// lacks, as AWS does: a limit of 1,000 and what `reserved` takes of it.
fn proxy(moto: &Moto, reserved: &Arc<AtomicI32>) -> Proxy {
    let reserved = Arc::clone(reserved);
    let answer = Hook(Arc::new(move |head: &[String], _: &[u8]| {
        if !head[0].contains("/account-settings") {
            return None;
        }
        let unreserved = 1000 - reserved.load(Ordering::SeqCst);
        let body = format!(
            "{{\"AccountLimit\":{{\"ConcurrentExecutions\":1000,\"UnreservedConcurrentExecutions\":{unreserved}}},\"AccountUsage\":{{\"FunctionCount\":0}}}}"
        );
        Some(
            format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )
            .into_bytes(),
        )
    }));
    Proxy::start(&moto.url, Faults { answer: Some(answer), ..Faults::default() })
}

/// The addresses a plan changes, with their actions.
fn changes(plan: &serde_json::Value) -> Vec<(String, String)> {
    let all = plan["changes"].as_array().unwrap();
    let changed = all.iter().filter(|c| c["action"] != "no_op");
    changed.map(|c| (c["address"].as_str().unwrap().to_string(), c["action"].as_str().unwrap().to_string())).collect()
}

#[test]
fn a_no_op_plan_of_ten_functions_makes_the_calls_of_five() {
    let Some(moto) = Moto::start() else { return };
    let reserved = Arc::new(AtomicI32::new(0));
    let (five, _d5) = spec_in("five", &functions("lst5", 5));
    let (ten, _d10) = spec_in("ten", &functions("lst10", 10));
    let mut calls = Vec::new();
    for s in [&five, &ten] {
        moto.apply(s);
        let proxy = proxy(&moto, &reserved);
        let plan = crate::util::pipectl(&["plan", s, "--json"]).aws_env(&proxy.url).run().expect_code(0);
        assert!(changes(&plan.json()).is_empty(), "{}", plan.stdout);
        calls.push((proxy.stats.requests.load(Ordering::SeqCst), proxy.stats.ops.lock().unwrap().clone()));
    }
    assert_eq!(calls[0].0, calls[1].0, "five: {:?}\nten: {:?}", calls[0].1, calls[1].1);
    // The account, the record and its tags, a listing each of roles, log
    // groups, functions and the account's concurrency, and a tag listing
    // each of log groups and functions: no call a resource.
    assert!(calls[1].0 <= 9, "{:?}", calls[1].1);
}

#[test]
fn functions_read_from_the_listing_still_show_drift_deletes_reservations_and_strangers() {
    let Some(moto) = Moto::start() else { return };
    let reserved = Arc::new(AtomicI32::new(0));
    let (s, _dir) = spec_in("drift", &functions("lstd", 5));
    moto.apply(&s);
    let sdk = moto.sdk();
    let plan = |proxy: &Proxy| crate::util::pipectl(&["plan", &s, "--json"]).aws_env(&proxy.url).run();

    // Memory changed by hand, and a function deleted by hand.
    sdk.run(sdk.lambda.update_function_configuration().function_name("lstd-c2").memory_size(256).send()).unwrap();
    sdk.run(sdk.lambda.delete_function().function_name("lstd-c3").send()).unwrap();
    let p = proxy(&moto, &reserved);
    let drift = plan(&p).expect_code(0).json();
    let found = changes(&drift);
    assert!(found.contains(&("function.c2".into(), "update".into())), "{found:?}");
    assert!(found.contains(&("function.c3".into(), "create".into())), "{found:?}");
    assert_eq!(found.len(), 2, "{found:?}");
    moto.apply(&s);

    // Concurrency reserved by hand, which the listing does not show: the
    // account's settings say some is reserved, so each function is read.
    sdk.run(sdk.lambda.put_function_concurrency().function_name("lstd-c1").reserved_concurrent_executions(5).send())
        .unwrap();
    reserved.store(5, Ordering::SeqCst);
    let found = changes(&plan(&proxy(&moto, &reserved)).expect_code(0).json());
    assert_eq!(found, [("function.c1".to_string(), "update".to_string())]);
    moto.apply(&s);
    reserved.store(0, Ordering::SeqCst);
    let clean = plan(&proxy(&moto, &reserved)).expect_code(0).json();
    assert!(changes(&clean).is_empty(), "{clean}");

    // A same-name function someone else made (no tags), among listed ones:
    // a conflict, never adopted, left alone.
    let role = sdk.run(sdk.lambda.get_function().function_name("lstd-c0").send()).unwrap();
    let role = role.configuration().unwrap().role().unwrap().to_string();
    let code = aws_sdk_lambda::types::FunctionCode::builder()
        .zip_file(aws_sdk_lambda::primitives::Blob::new(stranger_zip()))
        .build();
    let create = sdk.lambda.create_function().function_name("lstd-c5").role(role).handler("theirs.handler");
    let create = create.runtime(aws_sdk_lambda::types::Runtime::Python312).code(code).memory_size(512);
    sdk.run(create.send()).unwrap();
    let (six, _dir6) = spec_in("drift-six", &functions("lstd", 6));
    let run = crate::util::pipectl(&["apply", &six, "--yes"]).aws_env(&proxy(&moto, &reserved).url).run();
    let run = run.expect_code(1);
    assert!(run.stdout.contains("! function.c5"), "{}", run.stdout);
    let theirs = sdk.run(sdk.lambda.get_function().function_name("lstd-c5").send()).unwrap();
    assert_eq!(theirs.configuration().unwrap().memory_size(), Some(512), "left alone");
    assert_eq!(theirs.configuration().unwrap().handler(), Some("theirs.handler"));
    sdk.run(sdk.lambda.delete_function().function_name("lstd-c5").send()).unwrap();
    moto.pipectl(&["destroy", &s, "--yes"]).run().expect_code(0);
}

/// A zip holding one small Python file, made here (not by pipectl).
fn stranger_zip() -> Vec<u8> {
    use std::io::Write;
    let mut out = std::io::Cursor::new(Vec::new());
    let mut zip = zip::ZipWriter::new(&mut out);
    zip.start_file("theirs.py", zip::write::SimpleFileOptions::default()).unwrap();
    zip.write_all(b"def handler(event, context):\n    return 0\n").unwrap();
    zip.finish().unwrap();
    out.into_inner()
}

/// A database with `n` tables.
fn tables(n: usize) -> String {
    let mut text = String::from(
        "pipeline: lstt\nbuckets: { lake: { name: \"lstt-lake-${account}\", on_destroy: delete } }\ncatalog:\n  databases: { db: {} }\n  tables:\n",
    );
    for i in 0..n {
        text.push_str(&format!(
            "    t{i}: {{ database: db, location: {{ bucket: lake }}, columns: {{ a: string }} }}\n"
        ));
    }
    text
}

#[test]
fn tables_read_from_their_database_listing_still_show_drift_deletes_and_strangers() {
    let Some(moto) = Moto::start() else { return };
    let (s, _dir) = spec_in("tables", &tables(3));
    moto.apply(&s);
    let sdk = moto.sdk();
    let proxy = Proxy::start(&moto.url, Faults::default());
    let plan = |spec: &str| crate::util::pipectl(&["plan", spec, "--json"]).aws_env(&proxy.url).run();
    let clean = plan(&s).expect_code(0).json();
    assert!(changes(&clean).is_empty(), "{clean}");
    assert_eq!((proxy.stats.calls("GetTables"), proxy.stats.calls("GetTable")), (1, 0), "{:?}", proxy.stats.ops);
    let name = |address: &str| {
        let all = clean["changes"].as_array().unwrap();
        all.iter().find(|c| c["address"] == address).unwrap()["name"].as_str().unwrap().to_string()
    };
    let db = name("glue_database.db");

    // A description changed by hand and a table deleted by hand.
    let t1 = sdk.run(sdk.glue.get_table().database_name(&db).name("t1").send()).unwrap();
    let t1 = t1.table().unwrap();
    let input = aws_sdk_glue::types::TableInput::builder()
        .name("t1")
        .description("by hand")
        .set_table_type(t1.table_type().map(str::to_string))
        .set_storage_descriptor(t1.storage_descriptor().cloned())
        .set_partition_keys(Some(t1.partition_keys().to_vec()))
        .set_parameters(t1.parameters().cloned())
        .build()
        .unwrap();
    sdk.run(sdk.glue.update_table().database_name(&db).table_input(input).send()).unwrap();
    sdk.run(sdk.glue.delete_table().database_name(&db).name("t2").send()).unwrap();
    let found = changes(&plan(&s).expect_code(0).json());
    assert_eq!(
        found,
        [("glue_table.t1".to_string(), "update".to_string()), ("glue_table.t2".to_string(), "create".to_string())]
    );
    moto.apply(&s);

    // A table of the name the spec wants, made by someone else in the
    // deployment's database (no marker): a conflict, left alone.
    let theirs = aws_sdk_glue::types::TableInput::builder().name("t3").description("theirs").build().unwrap();
    sdk.run(sdk.glue.create_table().database_name(&db).table_input(theirs).send()).unwrap();
    let (four, _dir4) = spec_in("tables-four", &tables(4));
    let run = crate::util::pipectl(&["apply", &four, "--yes"]).aws_env(&proxy.url).run().expect_code(1);
    assert!(run.stdout.contains("! glue_table.t3"), "{}", run.stdout);
    let left = sdk.run(sdk.glue.get_table().database_name(&db).name("t3").send()).unwrap();
    assert_eq!(left.table().unwrap().description(), Some("theirs"), "left alone");
    sdk.run(sdk.glue.delete_table().database_name(&db).name("t3").send()).unwrap();
    moto.pipectl(&["destroy", &s, "--yes"]).run().expect_code(0);
}

#[test]
fn a_log_group_the_listing_missed_that_someone_else_made_is_refused_not_changed() {
    let Some(moto) = Moto::start() else { return };
    // Made by hand, untagged, with a retention of its own; the listing of
    // log groups does not show it (made just after it, or not caught up).
    let sdk = moto.sdk();
    sdk.run(sdk.logs.create_log_group().log_group_name("/aws/lambda/lgs-c0").send()).unwrap();
    sdk.run(sdk.logs.put_retention_policy().log_group_name("/aws/lambda/lgs-c0").retention_in_days(3653).send())
        .unwrap();
    let answer = Hook(Arc::new(|head: &[String], body: &[u8]| {
        let listing = head.iter().any(|h| h.contains("Logs_20140328.DescribeLogGroups"))
            && String::from_utf8_lossy(body).contains("\"limit\"");
        let empty = "{\"logGroups\":[]}";
        listing.then(|| {
            format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{empty}",
                empty.len()
            )
            .into_bytes()
        })
    }));
    let proxy = Proxy::start(&moto.url, Faults { answer: Some(answer), ..Faults::default() });
    let (s, _dir) = spec_in("missed", &functions("lgs", 5));
    let run = crate::util::pipectl(&["apply", &s, "--yes"]).aws_env(&proxy.url).run();
    assert_ne!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("/aws/lambda/lgs-c0"), "{}", run.stderr);
    let groups = sdk.run(sdk.logs.describe_log_groups().log_group_name_prefix("/aws/lambda/lgs-c0").send()).unwrap();
    assert_eq!(groups.log_groups()[0].retention_in_days(), Some(3653), "someone else's group was changed");
    #[allow(deprecated)]
    let tags = sdk.run(sdk.logs.list_tags_log_group().log_group_name("/aws/lambda/lgs-c0").send()).unwrap();
    assert!(tags.tags().is_none_or(|t| t.is_empty()), "{tags:?}");
}
