use super::*;
use crate::plan::graph::Kind;
use crate::plan::state::Tags;
use serde_json::json;

fn owner() -> Owner {
    Owner { pipeline: "p".into(), env: "e".into(), region: "us-east-1".into() }
}

fn addr(s: &str) -> Address {
    Address::parse(s).unwrap()
}

fn attrs(v: serde_json::Value) -> Attrs {
    serde_json::from_value(v).unwrap()
}

fn seen(v: serde_json::Value, tags: Option<Tags>) -> Option<Observed> {
    Some(Observed::of(&v, tags))
}

/// An untaggable resource read with this deployment's marker.
fn marked(v: serde_json::Value) -> Option<Observed> {
    Some(Observed::marked(&v, owner().tags()))
}

fn wanted(a: &str, name: &str, v: serde_json::Value) -> Subject {
    Subject { desired: Some(attrs(v)), ..Subject::new(addr(a), name) }
}

fn test_context(listed: &BTreeMap<String, String>) -> Context<'static> {
    Context { owner: owner(), region: "us-east-1", account: "1", listed: listed.clone(), protected: BTreeSet::new() }
}

fn plan_apply(subjects: &[Subject], orphans: &[Subject], listed: &[(&str, &str)], deps: &Deps) -> Planned {
    let listed: BTreeMap<String, String> = listed.iter().map(|(a, n)| (a.to_string(), n.to_string())).collect();
    let ctx = test_context(&listed);
    let order = Graph::order_of(deps);
    plan_with(&ctx, deps, &order, subjects, orphans)
}

fn plan_with(ctx: &Context, deps: &Deps, order: &[Address], s: &[Subject], o: &[Subject]) -> Planned {
    apply(ctx, deps, order, s, o)
}

fn actions(p: &Planned) -> Vec<(String, Action)> {
    p.plan.changes.iter().map(|c| (c.address.clone(), c.action)).collect()
}

fn no_deps(subjects: &[&str]) -> Deps {
    subjects.iter().map(|a| (addr(a), BTreeSet::new())).collect()
}

#[test]
fn ownership_decides_between_update_and_conflict() {
    let mine = Subject {
        observed: seen(json!({"shards": 1}), Some(owner().tags())),
        ..wanted("stream.a", "p-a", json!({"shards": 2}))
    };
    let foreign_tags = Tags::from([("team".into(), "x".into())]);
    let theirs = Subject {
        observed: seen(json!({"shards": 2}), Some(foreign_tags)),
        ..wanted("stream.b", "p-b", json!({"shards": 2}))
    };
    // A kind without tags is owned only through the record (under the
    // same name) and its marker.
    let table = |key: &str, observed| Subject {
        observed,
        recorded_as: format!("db/{key}"),
        ..wanted(&format!("glue_table.{key}"), key, json!({"cols": 2}))
    };
    let table_listed = table("t", marked(json!({"cols": 1})));
    let table_unlisted = table("u", marked(json!({"cols": 1})));
    let table_unmarked = table("v", seen(json!({"cols": 1}), None));
    let table_renamed_in_record = table("w", marked(json!({"cols": 1})));
    let all = [mine, theirs, table_listed, table_unlisted, table_unmarked, table_renamed_in_record];
    let deps = no_deps(&["stream.a", "stream.b", "glue_table.t", "glue_table.u", "glue_table.v", "glue_table.w"]);
    let listed = [("glue_table.t", "db/t"), ("glue_table.v", "db/v"), ("glue_table.w", "db/other")];
    let p = plan_apply(&all, &[], &listed, &deps);
    assert_eq!(p.change(&addr("stream.a")).unwrap().action, Action::Update);
    let b = p.change(&addr("stream.b")).unwrap();
    assert_eq!(b.action, Action::Conflict);
    assert!(b.conflict.as_deref().unwrap().contains("without pipectl's ownership tags"));
    assert_eq!(p.change(&addr("glue_table.t")).unwrap().action, Action::Update);
    let u = p.change(&addr("glue_table.u")).unwrap();
    assert_eq!(u.action, Action::Conflict);
    assert!(u.conflict.as_deref().unwrap().contains("the record does not list it under this name"));
    let v = p.change(&addr("glue_table.v")).unwrap();
    assert_eq!(v.action, Action::Conflict, "listed but without the marker: someone else's");
    assert!(v.conflict.as_deref().unwrap().contains("without pipectl's marker"));
    assert_eq!(p.change(&addr("glue_table.w")).unwrap().action, Action::Conflict);
    assert_eq!(p.plan.conflicts().count(), 4);
}

#[test]
fn a_network_with_hosts_inside_is_not_replaced() {
    let tags = Some(owner().tags());
    let network = Subject {
        replace_on: &["cidr"],
        container: true,
        observed: seen(json!({"cidr": "10.0.0.0/16"}), tags.clone()),
        ..wanted("network.n", "p-n", json!({"cidr": "10.1.0.0/16"}))
    };
    let host = Subject { observed: seen(json!({"t": 1}), tags), ..wanted("agent.h", "p-h", json!({"t": 1})) };
    let mut deps = no_deps(&["network.n", "agent.h"]);
    deps.get_mut(&addr("agent.h")).unwrap().insert(addr("network.n"));
    let p = plan_apply(&[network.clone(), host], &[], &[], &deps);
    let n = p.change(&addr("network.n")).unwrap();
    assert_eq!(n.action, Action::Conflict);
    assert!(n.conflict.as_deref().unwrap().contains("under `agent.h`"), "{n:?}");
    // Nothing inside yet: replaced.
    let empty = Subject { observed: None, ..wanted("agent.h", "p-h", json!({"t": 1})) };
    let p = plan_apply(&[network, empty], &[], &[], &deps);
    assert_eq!(p.change(&addr("network.n")).unwrap().action, Action::Replace);
}

#[test]
fn absent_is_created_and_a_forcing_field_replaces() {
    let new = wanted("bucket.b", "p-b", json!({"tags": {}}));
    let forced = Subject {
        replace_on: &["source"],
        observed: seen(json!({"source": "direct"}), Some(owner().tags())),
        ..wanted("firehose.f", "p-f", json!({"source": "stream"}))
    };
    let p = plan_apply(&[new, forced], &[], &[], &no_deps(&["bucket.b", "firehose.f"]));
    assert_eq!(p.change(&addr("bucket.b")).unwrap().action, Action::Create);
    let f = p.change(&addr("firehose.f")).unwrap();
    assert_eq!((f.action, f.replace_reasons.clone()), (Action::Replace, vec!["source".to_string()]));
}

#[test]
fn a_rename_replaces_only_what_the_deployment_owns() {
    let tags = Some(owner().tags());
    let renamed = Subject {
        previous: Some(Previous {
            name: "p-old".into(),
            recorded_as: "p-old".into(),
            observed: seen(json!({}), tags.clone()),
        }),
        ..wanted("stream.s", "p-new", json!({"shards": 1}))
    };
    let p = plan_apply(std::slice::from_ref(&renamed), &[], &[("stream.s", "p-old")], &no_deps(&["stream.s"]));
    let c = p.change(&addr("stream.s")).unwrap();
    assert_eq!(c.action, Action::Replace);
    assert_eq!(c.previous_name.as_deref(), Some("p-old"));
    assert_eq!(c.replace_reasons, ["name"]);
    // The old name now belongs to someone else: create the new one, leave the old alone.
    let foreign = Subject {
        previous: Some(Previous {
            name: "p-old".into(),
            recorded_as: "p-old".into(),
            observed: seen(json!({}), Some(Tags::new())),
        }),
        ..renamed.clone()
    };
    let p = plan_apply(&[foreign], &[], &[("stream.s", "p-old")], &no_deps(&["stream.s"]));
    assert_eq!(p.change(&addr("stream.s")).unwrap().action, Action::Create);
    // The old name is gone already: a plain create.
    let gone = Subject {
        previous: Some(Previous { name: "p-old".into(), recorded_as: "p-old".into(), observed: None }),
        ..renamed
    };
    let p = plan_apply(&[gone], &[], &[("stream.s", "p-old")], &no_deps(&["stream.s"]));
    assert_eq!(p.change(&addr("stream.s")).unwrap().action, Action::Create);
}

#[test]
fn an_upstream_change_touches_the_dependents_that_ask_for_it() {
    let tags = Some(owner().tags());
    let table = Subject {
        observed: marked(json!({"columns": 1})),
        recorded_as: "db/t".into(),
        ..wanted("glue_table.t", "t", json!({"columns": 2}))
    };
    let firehose = Subject {
        refresh_on: BTreeSet::from([addr("glue_table.t")]),
        observed: seen(json!({"buffer": 5}), tags.clone()),
        ..wanted("firehose.f", "p-f", json!({"buffer": 5}))
    };
    // A dependent that does not ask stays unchanged.
    let function = Subject { observed: seen(json!({"m": 1}), tags), ..wanted("function.x", "p-x", json!({"m": 1})) };
    let mut deps = no_deps(&["glue_table.t", "firehose.f", "function.x"]);
    deps.get_mut(&addr("firehose.f")).unwrap().insert(addr("glue_table.t"));
    deps.get_mut(&addr("function.x")).unwrap().insert(addr("glue_table.t"));
    let p = plan_apply(&[table, firehose, function], &[], &[("glue_table.t", "db/t")], &deps);
    assert_eq!(
        actions(&p),
        [
            ("glue_table.t".into(), Action::Update),
            ("firehose.f".into(), Action::Update),
            ("function.x".into(), Action::NoOp)
        ]
    );
    assert_eq!(p.change(&addr("firehose.f")).unwrap().changes[0].field, "schema");
}

#[test]
fn a_key_renamed_keeps_an_untaggable_resource_listed_under_the_old_key() {
    let table = |key: &str| Subject {
        observed: marked(json!({"cols": 1})),
        recorded_as: "db/t".into(),
        ..wanted(&format!("glue_table.{key}"), "t", json!({"cols": 1}))
    };
    for (listed, action) in [("glue_table.old", "db/t"), ("stream.old", "db/t"), ("glue_table.old", "db/u")]
        .into_iter()
        .zip([Action::NoOp, Action::Conflict, Action::Conflict])
    {
        let p = plan_apply(&[table("new")], &[], &[listed], &no_deps(&["glue_table.new"]));
        assert_eq!(p.change(&addr("glue_table.new")).unwrap().action, action, "{listed:?}");
    }
}

#[test]
fn orphans_are_deleted_when_owned_after_everything_producers_first() {
    let tags = Some(owner().tags());
    let kept = Subject { observed: seen(json!({}), tags.clone()), ..wanted("bucket.b", "p-b", json!({})) };
    let stream = Subject { observed: seen(json!({}), tags.clone()), ..Subject::new(addr("stream.old"), "p-old") };
    let trigger = Subject { observed: seen(json!({}), tags.clone()), ..Subject::new(addr("trigger.t"), "f ← s") };
    let gone = Subject::new(addr("function.gone"), "p-gone");
    let foreign = Subject { observed: seen(json!({}), Some(Tags::new())), ..Subject::new(addr("stream.x"), "p-x") };
    let p = plan_apply(&[kept], &[stream, gone, foreign, trigger], &[], &no_deps(&["bucket.b"]));
    assert_eq!(
        actions(&p),
        [
            ("bucket.b".into(), Action::NoOp),
            ("trigger.t".into(), Action::Delete),
            ("function.gone".into(), Action::NoOp),
            ("stream.old".into(), Action::Delete),
            ("stream.x".into(), Action::Conflict),
        ]
    );
    assert_eq!(p.change(&addr("function.gone")).unwrap().note.as_deref(), Some("already gone"));
    assert!(p.change(&addr("stream.x")).unwrap().conflict.as_deref().unwrap().starts_with("listed in the record"));
    // Orphans wait for the spec's resources and for the producers among them.
    assert!(p.deps[&addr("stream.old")].contains(&addr("bucket.b")));
    assert!(p.deps[&addr("stream.old")].contains(&addr("trigger.t")));
    assert!(!p.deps[&addr("trigger.t")].contains(&addr("stream.old")));
}

#[test]
fn destroy_follows_the_reversed_graph_and_ranks_the_rest() {
    let owner = owner();
    let listed = BTreeMap::new();
    let ctx = test_context(&listed);
    let tags = Some(owner.tags());
    let subject = |a: &str| Subject { observed: seen(json!({}), tags.clone()), ..Subject::new(addr(a), a) };
    // From the spec: bucket <- firehose (reversed: the firehose goes first).
    let mut reversed = Deps::new();
    reversed.insert(addr("bucket.b"), BTreeSet::from([addr("firehose.f")]));
    reversed.insert(addr("firehose.f"), BTreeSet::new());
    // From the record alone: an agent host (a producer) and a stream.
    let subjects = [subject("bucket.b"), subject("firehose.f"), subject("agent.h"), subject("stream.s")];
    let p = destroy(&ctx, &reversed, &subjects);
    assert_eq!(p.plan.operation, Operation::Destroy);
    assert!(actions(&p).iter().all(|(_, a)| *a == Action::Delete));
    let order: Vec<String> = p.plan.changes.iter().map(|c| c.address.clone()).collect();
    assert_eq!(order, ["agent.h", "firehose.f", "stream.s", "bucket.b"]);
    assert!(p.deps[&addr("bucket.b")].contains(&addr("stream.s")), "the loose stream goes before data");
    assert!(p.deps[&addr("firehose.f")].contains(&addr("agent.h")));
    assert!(p.deps[&addr("bucket.b")].contains(&addr("agent.h")));
    assert!(Kind::Agent.destroy_rank() < Kind::Bucket.destroy_rank());
}

#[test]
fn destroy_leaves_alone_what_is_not_owned_and_notes_what_is_gone() {
    let listed = BTreeMap::from([("glue_table.t".to_string(), "db/t".to_string())]);
    let ctx = test_context(&listed);
    let foreign = Subject {
        observed: seen(json!({}), Some(Tags::from([("pipectl:pipeline".into(), "q".into())]))),
        ..Subject::new(addr("stream.s"), "s")
    };
    let gone = Subject::new(addr("bucket.b"), "b");
    let table =
        Subject { observed: marked(json!({})), recorded_as: "db/t".into(), ..Subject::new(addr("glue_table.t"), "t") };
    let p = destroy(&ctx, &Deps::new(), &[foreign, gone, table]);
    let s = p.change(&addr("stream.s")).unwrap();
    assert_eq!(s.action, Action::Conflict);
    assert!(s.conflict.as_deref().unwrap().starts_with("left alone: it exists and belongs to pipeline `q`"));
    assert_eq!(p.change(&addr("bucket.b")).unwrap().note.as_deref(), Some("already gone"));
    assert_eq!(p.change(&addr("glue_table.t")).unwrap().action, Action::Delete);
    assert!(!p.plan.is_empty());
}
