use super::*;
use std::sync::Mutex as StdMutex;

#[test]
fn the_table_reads_with_a_source_for_every_service_and_its_date() {
    let t = &*TABLE;
    assert!(t.checked.len() == 10 && t.checked.starts_with("20"), "{}", t.checked);
    for (name, s) in &t.services {
        assert!(s.source.starts_with("https://"), "{name}: {}", s.source);
    }
    for service in ["kinesis", "firehose", "lambda", "iam", "logs", "ec2", "s3", "glue", "ssm", "monitoring", "sts"] {
        assert!(t.services.contains_key(service), "{service}");
    }
}

#[test]
fn a_bucket_is_the_published_one_or_seconds_of_the_rate_by_verb() {
    let t = &*TABLE;
    assert_eq!(t.limit("kinesis", "CreateStream"), Some(Limit { rate: 5.0, burst: 5.0 }));
    assert_eq!(t.limit("kinesis", "DescribeStreamSummary"), Some(Limit { rate: 20.0, burst: 200.0 }));
    assert_eq!(t.limit("firehose", "DescribeDeliveryStream"), Some(Limit { rate: 5.0, burst: 50.0 }));
    assert_eq!(t.limit("ec2", "RunInstances"), Some(Limit { rate: 2.0, burst: 5.0 }));
    assert_eq!(t.limit("ec2", "DescribeInstances"), Some(Limit { rate: 20.0, burst: 100.0 }));
    assert_eq!(t.limit("ec2", "CreateSecurityGroup"), Some(Limit { rate: 5.0, burst: 200.0 }));
    assert_eq!(t.limit("iam", "GetRole"), Some(Limit { rate: 20.0, burst: 200.0 }));
    assert_eq!(t.limit("iam", "CreateRole"), Some(Limit { rate: 10.0, burst: 10.0 }));
    assert_eq!(t.limit("monitoring", "PutMetricAlarm"), Some(Limit { rate: 3.0, burst: 3.0 }));
    // Data-plane calls are limited per shard or stream, not per account.
    assert_eq!(t.limit("kinesis", "PutRecords"), None);
    assert_eq!(t.limit("firehose", "PutRecordBatch"), None);
    assert_eq!(t.limit("nothing", "CreateStream"), None);
}

#[test]
fn every_client_is_told_by_its_crate() {
    use std::any::type_name;
    assert_eq!(
        service_of(type_name::<aws_sdk_kinesis::operation::create_stream::builders::CreateStreamFluentBuilder>()),
        "kinesis"
    );
    assert_eq!(
        service_of(type_name::<
            aws_sdk_cloudwatchlogs::operation::create_log_group::builders::CreateLogGroupFluentBuilder,
        >()),
        "logs"
    );
    assert_eq!(
        service_of(
            type_name::<aws_sdk_cloudwatch::operation::put_metric_alarm::builders::PutMetricAlarmFluentBuilder>()
        ),
        "monitoring"
    );
    assert_eq!(
        service_of(type_name::<
            aws_sdk_resourcegroupstagging::operation::get_resources::builders::GetResourcesFluentBuilder,
        >()),
        "tagging"
    );
    assert_eq!(
        service_of(type_name::<aws_sdk_iam::operation::create_role::builders::CreateRoleFluentBuilder>()),
        "iam"
    );
    assert_eq!(service_of("std::string::String"), "");
}

#[test]
fn every_service_pipectl_calls_is_in_the_table() {
    // Each row of the calls table names its IAM actions; their prefix is
    // the service (`cloudwatch:` is signed as `monitoring`, `tag:` as
    // `tagging`).
    for call in crate::deployer::calls::CALLS {
        let Some(action) = call.actions.first() else { continue };
        let service = match action.split(':').next().unwrap_or("") {
            "cloudwatch" => "monitoring",
            "tag" => "tagging",
            s => s,
        };
        assert!(TABLE.services.contains_key(service), "{} ({}): no rates for {service}", call.op, call.file);
    }
}

fn limit(rate: f64, burst: f64) -> Limit {
    Limit { rate, burst }
}

// Real time, in tens of milliseconds: the bounds leave room for a busy
// machine's scheduling, never for a wrong rate.
fn ms(since: std::time::Instant) -> u128 {
    since.elapsed().as_millis()
}

#[tokio::test]
async fn a_bucket_gives_its_burst_at_once_then_its_rate() {
    let pacer = Pacer::default();
    let l = limit(50.0, 5.0);
    let start = std::time::Instant::now();
    for _ in 0..5 {
        pacer.take("kinesis", "CreateStream", l, 0).await.unwrap();
    }
    assert!(ms(start) < 15, "{}", ms(start));
    pacer.take("kinesis", "CreateStream", l, 0).await.unwrap();
    assert!((18..80).contains(&ms(start)), "{}", ms(start));
    for _ in 0..10 {
        pacer.take("kinesis", "CreateStream", l, 0).await.unwrap();
    }
    // 11 tokens after the burst, 20 ms each.
    assert!((215..320).contains(&ms(start)), "{}", ms(start));
    // Another operation has a bucket of its own.
    let before = std::time::Instant::now();
    pacer.take("kinesis", "DeleteStream", l, 0).await.unwrap();
    assert!(ms(before) < 15);
}

#[tokio::test]
async fn the_waiting_call_of_the_highest_priority_goes_first_then_the_first_come() {
    let pacer = Arc::new(Pacer::default());
    let l = limit(10.0, 1.0);
    pacer.take("lambda", "CreateFunction", l, 0).await.unwrap();
    let order = Arc::new(StdMutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for (name, prio) in [("low-1", 1), ("low-2", 1), ("high", 9), ("mid", 5)] {
        let (pacer, order) = (pacer.clone(), order.clone());
        tasks.push(tokio::spawn(async move {
            pacer.take("lambda", "CreateFunction", l, prio).await.unwrap();
            order.lock().unwrap().push(name);
        }));
        // They line up in this order, well before the next token (100 ms).
        tokio::time::timeout(Duration::from_millis(5), std::future::pending::<()>()).await.ok();
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(*order.lock().unwrap(), ["high", "mid", "low-1", "low-2"]);
}

#[tokio::test]
async fn a_call_given_up_while_waiting_leaves_the_line() {
    let pacer = Arc::new(Pacer::default());
    let l = limit(5.0, 1.0);
    let start = std::time::Instant::now();
    pacer.take("glue", "CreateTable", l, 0).await.unwrap();
    // The first in line is given up before its token comes (at 200 ms).
    let gave_up =
        tokio::time::timeout(Duration::from_millis(60), pacer.take("glue", "CreateTable", l, 9)).await.is_err();
    assert!(gave_up);
    pacer.take("glue", "CreateTable", l, 0).await.unwrap();
    assert!((190..300).contains(&ms(start)), "the next one takes the token: {}", ms(start));
}

#[tokio::test]
async fn a_throttled_answer_empties_the_bucket_and_halves_its_rate() {
    let pacer = Pacer::default();
    let l = limit(20.0, 4.0);
    pacer.take("iam", "CreateRole", l, 0).await.unwrap();
    pacer.drain("iam", "CreateRole");
    let start = std::time::Instant::now();
    pacer.take("iam", "CreateRole", l, 0).await.unwrap();
    // Empty, and refilled at half the rate: a token in 100 ms, not 50.
    assert!((90..170).contains(&ms(start)), "{}", ms(start));
    pacer.drain("iam", "CreateRole");
    let start = std::time::Instant::now();
    pacer.take("iam", "CreateRole", l, 0).await.unwrap();
    // Halved again: a quarter of the rate, recovering a little meanwhile.
    assert!((170..260).contains(&ms(start)), "{}", ms(start));
}

#[tokio::test]
async fn an_urgent_call_never_waits_and_the_calls_behind_it_pay_its_token() {
    let pacer = Pacer::default();
    let l = limit(10.0, 1.0);
    pacer.take("ssm", "PutParameter", l, 0).await.unwrap();
    // Emptied and slowed by a throttle: a token now takes 200 ms.
    pacer.drain("ssm", "PutParameter");
    let start = std::time::Instant::now();
    for _ in 0..3 {
        pacer.take("ssm", "PutParameter", l, URGENT).await.unwrap();
    }
    assert!(ms(start) < 15, "urgent calls wait for nothing: {}", ms(start));
    // Three tokens owed, then the one asked for, at half the rate
    // (recovering a little meanwhile).
    pacer.take("ssm", "PutParameter", l, 0).await.unwrap();
    assert!((600..900).contains(&ms(start)), "{}", ms(start));
}

#[tokio::test]
async fn shielded_work_is_urgent() {
    // SSM's writes: 3 a second, a bucket of 2 on pipectl's side.
    let start = std::time::Instant::now();
    crate::cancel::shielded(async {
        for _ in 0..6 {
            pace("ssm", "DeleteParameters").await.unwrap();
        }
    })
    .await;
    assert!(ms(start) < 15, "{}", ms(start));
}

#[test]
fn pipectl_keeps_a_token_short_and_refills_slower_than_aws() {
    assert_eq!(ours(limit(5.0, 5.0)), limit(4.9, 4.0));
    assert_eq!(ours(limit(2.0, 1.0)).burst, 1.0);
}

/// `docs/rates.md`: the table as a page, checked fresh.
fn markdown() -> String {
    let t = &*TABLE;
    let mut out = String::from(
        "# AWS's rates\n\n\
         Generated from `rates/aws.json`; write it again with \
         `PIPECTL_UPDATE_DOCS=1 cargo test --locked --lib aws::rate` and commit it.\n\n\
         Every call pipectl sends waits for a token of its operation's bucket (`docs/speed.md`, *Pacing*). \
         A bucket holds `burst` tokens and refills at `rate` a second, per account and region \
         (IAM: per account).\n\n",
    );
    out += &format!("Checked {}. {}\n\n", t.checked, t.about);
    for (name, s) in &t.services {
        out += &format!("## `{name}`{}\n\n", if s.published { "" } else { " (not published: assumed)" });
        out += &format!("Source: {}\n\n", s.source);
        out += "| Operation | Rate a second | Bucket |\n|---|---|---|\n";
        let show = |e: Entry, read: bool| -> (String, String) {
            match e {
                Entry::Bucket { rate, burst } => (format!("{rate}"), format!("{burst} (published)")),
                Entry::Rate(rate) => {
                    let secs = if read { t.assumed_burst_seconds.read } else { t.assumed_burst_seconds.write };
                    (format!("{rate}"), format!("{} ({secs} s of it)", (rate * secs).max(1.0)))
                }
            }
        };
        let (r, b) = show(s.default, false);
        out += &format!("| any other write | {r} | {b} |\n");
        let (r, b) = show(s.default_read.unwrap_or(s.default), true);
        out += &format!("| any other read | {r} | {b} |\n");
        for (op, e) in &s.ops {
            let (r, b) = show(*e, reads(op));
            out += &format!("| `{op}` | {r} | {b} |\n");
        }
        if !s.unpaced.is_empty() {
            let list: Vec<String> = s.unpaced.iter().map(|u| format!("`{u}`")).collect();
            out += &format!("\nNot paced (limited per shard, stream, function or prefix): {}.\n", list.join(", "));
        }
        out += "\n";
    }
    out
}

#[test]
fn the_committed_rates_page_is_fresh() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/rates.md");
    let want = markdown();
    if std::env::var_os("PIPECTL_UPDATE_DOCS").is_some_and(|v| v == "1") {
        std::fs::write(&path, &want).expect("docs/rates.md is writable");
        return;
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "docs/rates.md differs from rates/aws.json: write it again with \
         `PIPECTL_UPDATE_DOCS=1 cargo test --locked --lib aws::rate` and commit it"
    );
}
