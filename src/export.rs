//! `pipectl export cloudformation`: the spec as one CloudFormation template,
//! for teams that hand execution to AWS's own engine (stacks, StackSets).
//!
//! Each kind writes its resources ([`Resource::cloudformation`]) with the
//! same physical names, tags and settings as its create calls. Here, once
//! for every kind: the account, region and partition become pseudo
//! parameters (one template serves any account and region); a literal name
//! or ARN of something the resource depends on becomes `Ref` /
//! `Fn::GetAtt`; `DependsOn` is added only where no reference orders two
//! resources; `Outputs` carry each resource's name and ARN, as `pipectl
//! outputs` shows them. Offline: nothing here calls AWS.

use crate::names::Scope;
use crate::plan::{Address, Graph, Kind};
use crate::resources::cfn::{self, Asset, Context, Part};
use crate::resources::{locate, Meta, Res};
use crate::spec::Spec;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};

/// CloudFormation's own limits on one template.
pub const MAX_RESOURCES: usize = 500;
pub const MAX_OUTPUTS: usize = 200;

/// What a spec loaded offline has for the account and, unless it names
/// one, the region: the template's pseudo parameters (see `cfn::PSEUDO`).
pub const ACCOUNT: &str = "${account}";
pub const REGION: &str = "${region}";

pub struct Template {
    pub body: Value,
    /// Function zips to upload to the code bucket before deploying.
    pub assets: Vec<Asset>,
}

/// Kinds whose `Ref` is their physical name, and whether `Fn::GetAtt
/// X.Arn` is their ARN as pipectl writes it.
fn references(kind: Kind) -> (bool, bool) {
    match kind {
        Kind::Bucket | Kind::Stream | Kind::Role | Kind::Firehose | Kind::Function | Kind::InstanceProfile => {
            (true, true)
        }
        // A log group's `Arn` attribute ends in `:*`.
        Kind::GlueDatabase | Kind::GlueTable | Kind::LogGroup | Kind::Dashboard | Kind::Alarm => (true, false),
        _ => (false, false),
    }
}

/// The template for `spec` (loaded offline: the account, and the region
/// unless the spec or `--region` names one, are placeholders), or every
/// reason it cannot be made.
pub fn cloudformation(
    spec: &Spec,
    graph: &Graph,
    meta: &Meta,
    code_bucket: Option<String>,
) -> Result<Template, Vec<String>> {
    let scope = Scope::new(meta.region.clone(), ACCOUNT);
    let resources = crate::resolve::resources(spec, graph, &scope, meta);
    let cx = Context { code_bucket };
    let mut errors = Vec::new();
    let mut parts: BTreeMap<Address, Vec<Part>> = BTreeMap::new();
    for (a, r) in &resources {
        match r.cloudformation(&cx) {
            Ok(p) if !p.is_empty() => {
                parts.insert(a.clone(), p);
            }
            Ok(_) => {}
            Err(why) => errors.push(format!("{a}: {why}")),
        }
    }
    let mut owner: BTreeMap<String, Address> = BTreeMap::new();
    for (a, ps) in &parts {
        for p in ps {
            let id = cfn::id(a, &p.suffix);
            if let Some(other) = owner.insert(id.clone(), a.clone()) {
                if &other != a {
                    errors.push(format!("{a} and {other} would both be `{id}` in the template: rename one of them"));
                }
            }
        }
    }
    let count: usize = parts.values().map(Vec::len).sum();
    if count > MAX_RESOURCES {
        errors.push(format!(
            "the template would hold {count} resources; CloudFormation takes {MAX_RESOURCES} per stack: \
             split the pipeline, or export parts of it as nested stacks"
        ));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let deps = graph.deps();
    let mut body_resources = Map::new();
    let mut assets = Vec::new();
    for (a, ps) in &parts {
        let literals = literals_of(deps.get(a).into_iter().flatten(), &resources, &scope);
        for p in ps {
            let mut props = p.properties.clone();
            replace_literals(&mut props, &literals);
            substitute_pseudo(&mut props);
            let referenced = referenced_ids(&props);
            let mut depends: BTreeSet<String> = p.after.iter().map(|s| cfn::id(a, s)).collect();
            for d in deps.get(a).into_iter().flatten().filter(|d| d.kind != Kind::Record) {
                let Some(theirs) = parts.get(d) else { continue };
                let ready: Vec<String> =
                    theirs.iter().filter(|q| q.marks_ready).map(|q| cfn::id(d, &q.suffix)).collect();
                if !ready.iter().any(|id| referenced.contains(id)) {
                    depends.extend(ready);
                }
            }
            depends.retain(|id| !referenced.contains(id));
            let mut entry = json!({ "Type": p.r#type, "Properties": props });
            if !depends.is_empty() {
                entry["DependsOn"] = json!(depends);
            }
            if p.retain {
                entry["DeletionPolicy"] = "Retain".into();
                entry["UpdateReplacePolicy"] = "Retain".into();
            }
            let mut tag = json!({ "address": a.to_string() });
            if p.suffix.is_empty() {
                tag["name"] = resources[a].name().into();
            }
            entry["Metadata"] = json!({ "pipectl": tag });
            body_resources.insert(cfn::id(a, &p.suffix), entry);
            assets.extend(p.asset.clone());
        }
    }
    let outputs = outputs(&parts, &resources, &scope).map_err(|e| vec![e])?;
    let body = json!({
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": format!(
            "pipectl pipeline `{}`, env `{}`: exported by pipectl {}",
            meta.pipeline,
            meta.env,
            env!("CARGO_PKG_VERSION")
        ),
        "Resources": body_resources,
        "Outputs": outputs,
    });
    Ok(Template { body, assets })
}

/// Each dependency's name and ARN as written in properties, and what
/// refers to it in a template.
fn literals_of<'a>(
    deps: impl Iterator<Item = &'a Address>,
    resources: &BTreeMap<Address, Res>,
    scope: &Scope,
) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for d in deps {
        let Some(r) = resources.get(d) else { continue };
        let (by_ref, by_arn) = references(d.kind);
        let id = cfn::id(d, "");
        if by_arn {
            if let (Some(arn), _) = locate(d.kind, &r.record_name(), scope) {
                out.insert(arn, json!({ "Fn::GetAtt": [id, "Arn"] }));
            }
        }
        if by_ref {
            out.insert(r.name().to_string(), json!({ "Ref": id }));
        }
    }
    out
}

fn replace_literals(v: &mut Value, literals: &BTreeMap<String, Value>) {
    match v {
        Value::String(s) => {
            if let Some(r) = literals.get(s.as_str()) {
                *v = r.clone();
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| replace_literals(i, literals)),
        Value::Object(m) if m.contains_key("Fn::Sub") => {}
        Value::Object(m) => m.values_mut().for_each(|i| replace_literals(i, literals)),
        _ => {}
    }
}

/// Strings holding the account or region placeholders, or an ARN, go
/// through `Fn::Sub` (with the partition a pseudo parameter too).
fn substitute_pseudo(v: &mut Value) {
    match v {
        Value::String(s) if cfn::needs_sub(s) => *v = json!({ "Fn::Sub": cfn::sub_text(s, &[]) }),
        Value::Array(items) => items.iter_mut().for_each(substitute_pseudo),
        Value::Object(m) if m.contains_key("Fn::Sub") => {}
        Value::Object(m) => m.values_mut().for_each(substitute_pseudo),
        _ => {}
    }
}

/// The logical ids a value refers to: `Ref`, `Fn::GetAtt` and `${Id}` in
/// `Fn::Sub` text.
fn referenced_ids(v: &Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    fn walk(v: &Value, out: &mut BTreeSet<String>) {
        match v {
            Value::Object(m) => {
                if let Some(Value::String(id)) = m.get("Ref") {
                    out.insert(id.clone());
                }
                if let Some(Value::Array(a)) = m.get("Fn::GetAtt") {
                    if let Some(Value::String(id)) = a.first() {
                        out.insert(id.clone());
                    }
                }
                if let Some(Value::String(text)) = m.get("Fn::Sub") {
                    let mut rest = text.as_str();
                    while let Some(i) = rest.find("${") {
                        rest = &rest[i + 2..];
                        let end = rest.find('}').unwrap_or(rest.len());
                        let name = &rest[..end];
                        if !name.starts_with('!') && !name.contains("::") {
                            out.insert(name.split('.').next().unwrap_or(name).to_string());
                        }
                    }
                }
                m.values().for_each(|x| walk(x, out));
            }
            Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    walk(v, &mut out);
    out
}

/// Each resource's name and ARN, as `pipectl outputs` lists them; only
/// names when both would pass CloudFormation's limit.
fn outputs(
    parts: &BTreeMap<Address, Vec<Part>>,
    resources: &BTreeMap<Address, Res>,
    scope: &Scope,
) -> Result<Value, String> {
    let mut names = Map::new();
    let mut arns = Map::new();
    for a in parts.keys() {
        let r = &resources[a];
        let id = cfn::id(a, "");
        let (by_ref, by_arn) = references(a.kind);
        let description = format!("{a}");
        let name = if by_ref { json!({ "Ref": id }) } else { sub_or_text(r.name()) };
        names.insert(format!("{id}Name"), json!({ "Description": description, "Value": name }));
        if let (Some(arn), _) = locate(a.kind, &r.record_name(), scope) {
            let value = if by_arn { json!({ "Fn::GetAtt": [id, "Arn"] }) } else { sub_or_text(&arn) };
            arns.insert(format!("{id}Arn"), json!({ "Description": description, "Value": value }));
        }
    }
    if names.len() > MAX_OUTPUTS {
        return Err(format!(
            "the template would have {} outputs; CloudFormation takes {MAX_OUTPUTS}: split the pipeline",
            names.len()
        ));
    }
    if names.len() + arns.len() <= MAX_OUTPUTS {
        names.extend(arns);
    }
    Ok(Value::Object(names))
}

fn sub_or_text(s: &str) -> Value {
    if cfn::needs_sub(s) {
        json!({ "Fn::Sub": cfn::sub_text(s, &[]) })
    } else {
        s.into()
    }
}

/// The template as YAML, multi-line text (user data, handlers) as blocks.
pub fn to_yaml(v: &Value) -> String {
    fn convert(v: &Value) -> yaml_rust2::Yaml {
        use yaml_rust2::Yaml;
        match v {
            Value::Null => Yaml::Null,
            Value::Bool(b) => Yaml::Boolean(*b),
            Value::Number(n) => match n.as_i64() {
                Some(i) => Yaml::Integer(i),
                None => Yaml::Real(n.to_string()),
            },
            Value::String(s) => Yaml::String(s.clone()),
            Value::Array(a) => Yaml::Array(a.iter().map(convert).collect()),
            Value::Object(m) => Yaml::Hash(m.iter().map(|(k, v)| (Yaml::String(k.clone()), convert(v))).collect()),
        }
    }
    let mut out = String::new();
    let mut emitter = yaml_rust2::YamlEmitter::new(&mut out);
    emitter.multiline_strings(true);
    emitter.dump(&convert(v)).expect("writing to a string");
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The template of `pipelines/<name>.yaml`, as `export` loads it.
    fn template(name: &str, code_bucket: Option<&str>) -> Result<Template, Vec<String>> {
        let text = std::fs::read_to_string(format!("pipelines/{name}.yaml")).unwrap();
        let opts = crate::spec::Options { region: Some(REGION.into()), ..Default::default() };
        let l = crate::load::load_str(&text, &format!("{name}.yaml"), std::path::Path::new("pipelines"), &opts)
            .expect("valid");
        let meta = Meta::of(&l.spec, &l.spec.region.clone().unwrap_or(REGION.into()));
        cloudformation(&l.spec, &l.graph, &meta, code_bucket.map(str::to_string))
    }

    fn export(name: &str) -> Value {
        template(name, Some("assets")).map_err(|e| e.join("; ")).unwrap().body
    }

    #[test]
    fn references_order_what_they_can_and_depends_on_the_rest() {
        let t = export("lab");
        let r = &t["Resources"];
        // The Firehose reads its stream by reference: no DependsOn for it.
        let fh = &r["FirehoseToLake"];
        let src = &fh["Properties"]["DeliveryStreamType"];
        assert!(src == "KinesisStreamAsSource" || src == "DirectPut", "{fh}");
        let role = &fh["Properties"]["ExtendedS3DestinationConfiguration"]["RoleARN"];
        assert_eq!(role["Fn::GetAtt"][0], "RoleFirehoseToLake", "{fh}");
        let depends: Vec<&str> =
            fh["DependsOn"].as_array().map(|d| d.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
        assert!(!depends.contains(&"RoleFirehoseToLake"), "{depends:?}");
        // Names and ARNs of what nothing depends on stay literal, with the
        // account, region and partition as pseudo parameters.
        let text = t.to_string();
        assert!(!text.contains("arn:aws:"), "{text}");
        assert!(text.contains("${AWS::AccountId}") && text.contains("${AWS::Partition}"));
        // The lab's bucket goes with it (`on_destroy: delete`); data the
        // spec retains is retained by the stack.
        assert!(r["BucketLake"]["DeletionPolicy"].is_null(), "{}", r["BucketLake"]);
        let kept = export("sensor-streaming-lab");
        let buckets: Vec<&Value> =
            kept["Resources"].as_object().unwrap().values().filter(|v| v["Type"] == "AWS::S3::Bucket").collect();
        assert!(!buckets.is_empty() && buckets.iter().all(|b| b["DeletionPolicy"] == "Retain"), "{buckets:?}");
        assert!(t["Outputs"].as_object().unwrap().contains_key("StreamTripsArn"));
    }

    #[test]
    fn a_function_too_big_to_inline_needs_a_code_bucket() {
        let errors = template("lab", None).err().expect("needs a bucket");
        assert!(errors.iter().any(|e| e.starts_with("function.filter:") && e.contains("--code-bucket")), "{errors:?}");
    }

    #[test]
    fn a_small_single_file_handler_is_inlined_as_index() {
        let t = export("kinesis-agent-lambda-s3");
        let f = t["Resources"].as_object().unwrap().values().find(|v| v["Type"] == "AWS::Lambda::Function").unwrap();
        assert!(f["Properties"]["Code"]["ZipFile"].is_string(), "{f}");
        assert_eq!(f["Properties"]["Handler"], "index.handler");
    }
}
