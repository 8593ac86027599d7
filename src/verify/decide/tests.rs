//! The decision on answers recorded from moto (`tests/fixtures/verify/`,
//! made by `scripts/record-verify-answers.py`).

use super::*;
use crate::verify::canary::{needle, Pair, Shape};
use base64::Engine;

struct Recorded {
    bucket: String,
    sent: SystemTime,
    objects: Vec<Object>,
    events: Vec<(String, String)>,
    canaries: serde_json::Value,
}

/// A scenario's answers, read as `check` reads the SDK's: ListObjectsV2's
/// keys and LastModified, each key's GetObject body, FilterLogEvents' events.
fn recorded(name: &str) -> Recorded {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/fixtures/verify/{name}.json"));
    let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let xml = doc["list_objects_v2"].as_str().unwrap();
    let tag = |s: &str, t: &str| -> String {
        let open = format!("<{t}>");
        s.split(&open).nth(1).unwrap().split(&format!("</{t}>")).next().unwrap().to_string()
    };
    let objects = xml
        .split("<Contents>")
        .skip(1)
        .map(|c| {
            let key = tag(c, "Key");
            let body = doc["get_object"][&key].as_str().unwrap();
            Object::new(
                key.clone(),
                humantime::parse_rfc3339(&tag(c, "LastModified")).unwrap(),
                Ok(base64::engine::general_purpose::STANDARD.decode(body).unwrap()),
            )
        })
        .collect();
    let events = doc["filter_log_events"].as_str().map_or(Vec::new(), |e| {
        let e: serde_json::Value = serde_json::from_str(e).unwrap();
        let events = e["events"].as_array().unwrap().iter();
        events.map(|e| (e["logStreamName"].as_str().unwrap().into(), e["message"].as_str().unwrap().into())).collect()
    });
    Recorded {
        bucket: doc["bucket"].as_str().unwrap().into(),
        sent: humantime::parse_rfc3339(doc["sent_at"].as_str().unwrap()).unwrap(),
        objects,
        events,
        canaries: doc["canaries"].clone(),
    }
}

/// The function on the recorded path: the aggregator for the aggregate
/// scenario, a pass-through otherwise (a filter's pair says the rest).
fn shape(r: &Recorded) -> Shape {
    if r.canaries["keep"] == "pipectl-canary-000000sensor" {
        Shape::Aggregate { key: "sensor_id".into(), values: vec!["temperature".into(), "humidity".into()] }
    } else {
        Shape::Plain
    }
}

fn pair(r: &Recorded) -> Pair {
    pair_of(&r.canaries)
}

fn seen(name: &str) -> Seen {
    let r = recorded(name);
    assert!(!r.objects.is_empty(), "{name}: the recording lists objects");
    in_objects(&r.bucket, &r.objects, r.sent, &pair(&r), &shape(&r))
}

#[test]
fn a_function_path_that_delivered_nothing_is_not_delivered() {
    assert_eq!(seen("function_delivered_nothing"), Seen::Nothing);
}

#[test]
fn parquet_lab_direct_canary_under_the_same_prefix_does_not_deliver_the_function_path() {
    let r = recorded("only_the_direct_canary");
    assert_eq!(in_objects(&r.bucket, &r.objects, r.sent, &pair(&r), &shape(&r)), Seen::Nothing);
    // The direct canary's own hop does find it there.
    let direct = Pair { keep: needle(r.canaries["direct"].as_str().unwrap()), drop: None };
    let Seen::Found(at) = in_objects(&r.bucket, &r.objects, r.sent, &direct, &shape(&r)) else { panic!() };
    assert!(at.contains("s3://recorded-lake/nyctaxitrips/year=") && at.ends_with("(text)"), "{at}");
}

#[test]
fn a_drop_canary_that_comes_out_is_not_delivered() {
    let Seen::Dropped(why) = seen("drop_canary_passed") else { panic!() };
    assert!(why.starts_with("the filter passed a record it must drop: canary pipectl-canary-00000000drop"), "{why}");
}

#[test]
fn the_keep_canary_without_the_drop_canary_is_delivered() {
    assert!(matches!(seen("filter_kept_and_dropped"), Seen::Found(_)));
}

#[test]
fn the_aggregate_row_keyed_by_the_canary_is_delivered() {
    let Seen::Found(at) = seen("aggregate_row") else { panic!() };
    assert!(at.contains("canary pipectl-canary-000000sensor in s3://recorded-lake/processed-stream/"), "{at}");
}

#[test]
fn parquet_objects_are_not_accepted_by_arrival_a_canary_only_in_one_is_not_checkable() {
    let Seen::Unread(why) = seen("canary_only_in_unread_object") else { panic!() };
    assert!(why.contains("part-0.parquet arrived, content not read ("), "{why}");
}

#[test]
fn objects_from_before_the_canary_are_not_searched() {
    let r = recorded("filter_kept_and_dropped");
    let later = r.sent + SKEW + Duration::from_secs(3600);
    assert_eq!(in_objects(&r.bucket, &r.objects, later, &pair(&r), &shape(&r)), Seen::Nothing);
}

#[test]
fn objects_not_opened_are_never_delivered() {
    let r = recorded("filter_kept_and_dropped");
    let opaque: Vec<Object> =
        r.objects.iter().map(|o| Object { body: Err("ZIP objects are not opened".into()), ..o.clone() }).collect();
    let Seen::Unread(why) = in_objects(&r.bucket, &opaque, r.sent, &pair(&r), &shape(&r)) else { panic!() };
    assert!(why.contains("content not read (ZIP objects are not opened)"), "{why}");
}

#[test]
fn a_logged_canary_is_found_in_its_log_group_events() {
    let r = recorded("logged");
    let Seen::Found(at) = in_events(&r.events, &pair(&r)) else { panic!() };
    assert_eq!(at, "canary pipectl-canary-00000000keep logged in 2024/01/01/[$LATEST]abc");
    let r = recorded("not_logged");
    assert_eq!(in_events(&r.events, &pair(&r)), Seen::Nothing);
}

/// A Parquet object as a converting Firehose writes it (written by another
/// writer, pyarrow: `int96` timestamps, SNAPPY): its rows are searched, so
/// the canary's number in `trip_id` is found and another number is not.
#[test]
fn a_real_parquet_object_is_searched_for_the_canarys_number() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/verify/nyctaxitrips-snappy.parquet");
    let sent = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let objects =
        vec![Object::new("nyctaxitrips/year=2027/part.parquet".into(), sent, Ok(std::fs::read(path).unwrap()))];
    let keep = |number| Pair { keep: Needle { id: "pipectl-canary-0000000000aa".into(), number }, drop: None };
    let Seen::Found(at) = in_objects("lake", &objects, sent, &keep(-4611686018427387905), &Shape::Plain) else {
        panic!()
    };
    assert!(at.ends_with("part.parquet (Parquet)"), "{at}");
    assert_eq!(in_objects("lake", &objects, sent, &keep(-4611686018427387906), &Shape::Plain), Seen::Nothing);
}

/// Firehose names every object `<name>-<version>-<time>-<id>`: a path's
/// objects are told from another Firehose's under the same or a wider
/// prefix, and `a` does not claim `a-b`'s.
#[test]
fn objects_of_another_firehose_under_the_prefix_never_stand_for_a_path() {
    let key = "processed-stream/year=2026/month=12/day=07/processed-sensor-data-1-2026-12-07-10-00-00-8d1f.parquet";
    assert!(written_by(key, "processed-sensor-data"));
    assert!(!written_by(key, "processed-sensor"), "a shorter name does not claim a longer one's objects");
    assert!(!written_by(key, "sensor-data-delivery"));
    assert!(written_by("x-1-2026-12-07-10-00-00-uuid", "x"));
    assert!(!written_by("x-b-1-2026-12-07-10-00-00-uuid", "x"));
    assert!(!written_by("raw/x-1-", "x"));
    assert!(!written_by("raw/notes.txt", "x"));
}

/// An aggregating function that passes its input through (the canary as
/// it was sent, `sensor_id` and all) is not aggregating: not delivered.
#[test]
fn an_aggregator_that_passes_the_canary_through_is_not_delivered() {
    let mut r = recorded("aggregate_row");
    let id = "pipectl-canary-000000sensor";
    let raw =
        format!("{{\"sensor_id\":\"{id}\",\"temperature\":21.5,\"humidity\":21.5,\"pipectl_canary\":\"{id}\"}}\n");
    for o in &mut r.objects {
        o.body = Ok(raw.clone().into_bytes());
    }
    let Seen::Dropped(why) = in_objects(&r.bucket, &r.objects, r.sent, &pair(&r), &shape(&r)) else { panic!() };
    assert!(why.starts_with("the function passed its canary through instead of aggregating it"), "{why}");
}

/// An aggregating function writing into a converting Firehose: a Parquet
/// row keyed by the canary could be the canary passed through, converted,
/// so it proves nothing: not read, never delivered.
#[test]
fn an_aggregate_row_in_parquet_is_not_told_from_the_canary_passed_through() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/verify/nyctaxitrips-snappy.parquet");
    let sent = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let objects = vec![Object::new("p/part.parquet".into(), sent, Ok(std::fs::read(path).unwrap()))];
    let pair =
        Pair { keep: Needle { id: "pipectl-canary-0000000000aa".into(), number: -4611686018427387905 }, drop: None };
    let shape = Shape::Aggregate { key: "sensor_id".into(), values: vec!["temperature".into()] };
    let Seen::Unread(why) = in_objects("lake", &objects, sent, &pair, &shape) else { panic!() };
    assert!(why.contains("not told from the canary passed through"), "{why}");
}

/// An object read at one look is searched once: the result stays with the
/// shared object for the next look, and only for the same canaries.
#[test]
fn an_object_is_searched_once_for_its_canaries() {
    let r = recorded("filter_kept_and_dropped");
    let shared: Vec<std::sync::Arc<Object>> = r.objects.into_iter().map(std::sync::Arc::new).collect();
    let first = in_objects(&r.bucket, &shared, r.sent, &pair_of(&r.canaries), &Shape::Plain);
    assert!(shared.iter().all(|o| o.searched.get().is_some()));
    assert_eq!(in_objects(&r.bucket, &shared, r.sent, &pair_of(&r.canaries), &Shape::Plain), first);
}

fn pair_of(canaries: &serde_json::Value) -> Pair {
    Pair { keep: needle(canaries["keep"].as_str().unwrap()), drop: canaries["drop"].as_str().map(needle) }
}
