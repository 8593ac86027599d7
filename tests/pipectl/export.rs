//! `pipectl export cloudformation`: every pipeline in `pipelines/` exports
//! a template cfn-lint passes, holding the resources `plan` would make
//! under the same names; code too large to inline is uploaded.

use crate::emulator::Moto;
use crate::util::{root, scratch};
use serde_json::Value;
use std::collections::BTreeMap;
use std::process::Command;

/// cfn-lint from the emulator's virtualenv (scripts/test.sh installs both).
fn cfn_lint() -> String {
    let moto = std::env::var("PIPECTL_MOTO_SERVER").unwrap_or_else(|_| "moto_server".into());
    let dir = std::path::Path::new(&moto).parent().map(|p| p.to_path_buf()).unwrap_or_default();
    let bin = dir.join("cfn-lint");
    if bin.exists() {
        bin.display().to_string()
    } else {
        "cfn-lint".into()
    }
}

#[test]
fn every_pipeline_exports_a_template_cfn_lint_passes_with_what_plan_would_make() {
    let Some(moto) = Moto::start() else { return };
    let sdk = moto.sdk();
    sdk.run(async { sdk.s3.create_bucket().bucket("code-assets").send().await.unwrap() });
    let dir = scratch().join("export");
    std::fs::create_dir_all(&dir).unwrap();
    let mut pipelines: Vec<_> = std::fs::read_dir(root().join("pipelines"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    pipelines.sort();
    assert!(pipelines.len() >= 6, "{pipelines:?}");
    for spec in &pipelines {
        let spec_s = spec.display().to_string();
        let name = spec.file_stem().unwrap().to_string_lossy().to_string();
        let out = dir.join(format!("{name}.yaml"));
        let out_s = out.display().to_string();
        let run = moto
            .pipectl(&["export", "cloudformation", &spec_s, "--code-bucket", "code-assets", "--out", &out_s])
            .run()
            .expect_code(0);
        assert!(run.stderr.contains("resources"), "{}", run.stderr);
        let lint = Command::new(cfn_lint()).arg(&out).output().expect("cfn-lint runs (scripts/test.sh installs it)");
        let code = lint.status.code().unwrap_or(-1);
        // cfn-lint's exit code is a bit mask: 2 errors, 4 warnings, 8 notes.
        assert!(code >= 0 && code & 3 == 0, "{name}: cfn-lint exit {code}\n{}", String::from_utf8_lossy(&lint.stdout));

        let text = std::fs::read_to_string(&out).unwrap();
        let template = yaml_to_json(&text);
        // By address, the physical name of its main resource and how many
        // CloudFormation resources it takes.
        let mut exported: BTreeMap<String, (Option<String>, usize)> = BTreeMap::new();
        for r in template["Resources"].as_object().unwrap().values() {
            let tag = &r["Metadata"]["pipectl"];
            let e = exported.entry(tag["address"].as_str().unwrap().to_string()).or_default();
            e.1 += 1;
            if let Some(n) = tag["name"].as_str() {
                e.0 = Some(n.replace("${account}", "123456789012").replace("${region}", "us-east-1"));
            }
        }
        let plan = moto.pipectl(&["plan", &spec_s, "--json"]).run().expect_code(0).json();
        let planned: BTreeMap<String, String> = plan["changes"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| !c["address"].as_str().unwrap().starts_with("record."))
            .map(|c| (c["address"].as_str().unwrap().to_string(), c["name"].as_str().unwrap().to_string()))
            .collect();
        let names: BTreeMap<String, String> =
            exported.iter().map(|(a, (n, _))| (a.clone(), n.clone().expect("a main resource"))).collect();
        assert_eq!(names, planned, "{name}: addresses and names in the template and in the plan");
        let total: usize = exported.values().map(|(_, n)| n).sum();
        assert_eq!(total, template["Resources"].as_object().unwrap().len());
    }
    // The lab's handler is too large to inline: uploaded under its digest.
    let listed = sdk.run(async { sdk.s3.list_objects_v2().bucket("code-assets").send().await.unwrap() });
    let keys: Vec<&str> = listed.contents().iter().filter_map(|o| o.key()).collect();
    assert!(keys.iter().any(|k| k.starts_with("pipectl/taxi-lab-filter/")), "{keys:?}");
}

/// Without a code bucket, a spec whose code cannot be inlined is bad input:
/// exit 2, each function named, nothing written.
#[test]
fn export_without_a_code_bucket_says_which_function_needs_one() {
    let out = scratch().join("export-none.yaml");
    let _ = std::fs::remove_file(&out);
    let run = crate::util::pipectl(&[
        "export",
        "cloudformation",
        &root().join("pipelines/lab.yaml").display().to_string(),
        "--out",
        &out.display().to_string(),
    ])
    .env_remove("AWS_ENDPOINT_URL")
    .run()
    .expect_code(2);
    assert!(run.stderr.contains("function.filter") && run.stderr.contains("--code-bucket"), "{}", run.stderr);
    assert!(!out.exists());
}

/// The YAML CloudFormation template as JSON (pipectl writes plain YAML,
/// no short-form tags).
fn yaml_to_json(text: &str) -> Value {
    fn convert(y: &yaml_rust2::Yaml) -> Value {
        use yaml_rust2::Yaml;
        match y {
            Yaml::Hash(h) => {
                Value::Object(h.iter().map(|(k, v)| (k.as_str().unwrap_or_default().to_string(), convert(v))).collect())
            }
            Yaml::Array(a) => Value::Array(a.iter().map(convert).collect()),
            Yaml::String(s) => Value::String(s.clone()),
            Yaml::Integer(i) => (*i).into(),
            Yaml::Boolean(b) => (*b).into(),
            Yaml::Real(r) => Value::String(r.clone()),
            _ => Value::Null,
        }
    }
    convert(&yaml_rust2::YamlLoader::load_from_str(text).unwrap()[0])
}
