//! The pictures: `graph --format svg` (offline, drawn without Graphviz)
//! and `status --html FILE` (against the emulator), each read as XML and
//! checked to load nothing from elsewhere, so they open offline.

use crate::emulator::Moto;
use crate::util::{pipectl, scratch};

/// Whether `doc` reads as XML: every token well formed (by `xmlparser`),
/// every element closed in the order opened, one root element.
fn well_formed(doc: &str) -> Result<(), String> {
    let mut open: Vec<String> = Vec::new();
    let mut roots = 0;
    for token in xmlparser::Tokenizer::from(doc) {
        let token = token.map_err(|e| e.to_string())?;
        match token {
            xmlparser::Token::ElementStart { local, prefix, .. } => {
                if open.is_empty() {
                    roots += 1;
                }
                open.push(format!("{}{}", prefix.as_str(), local.as_str()));
            }
            xmlparser::Token::ElementEnd { end, .. } => match end {
                xmlparser::ElementEnd::Open => {}
                xmlparser::ElementEnd::Empty => {
                    open.pop();
                }
                xmlparser::ElementEnd::Close(prefix, local) => {
                    let name = format!("{}{}", prefix.as_str(), local.as_str());
                    match open.pop() {
                        Some(o) if o == name => {}
                        o => return Err(format!("`</{name}>` closes {o:?}")),
                    }
                }
            },
            xmlparser::Token::Text { text } if open.is_empty() && !text.as_str().trim().is_empty() => {
                return Err(format!("text outside the root: {:?}", text.as_str()));
            }
            _ => {}
        }
    }
    match (open.last(), roots) {
        (Some(o), _) => Err(format!("`<{o}>` never closed")),
        (None, 1) => Ok(()),
        (None, n) => Err(format!("{n} root elements")),
    }
}

/// What a document would load from elsewhere: every `src=`, `href=`,
/// `url(` naming something outside it, `@import`, and `<script`.
fn external(doc: &str) -> Vec<String> {
    let lower = doc.to_ascii_lowercase();
    let mut found = Vec::new();
    for key in ["src=", "href=", "url(", "@import", "<script"] {
        for (i, _) in lower.match_indices(key) {
            let value = lower[i + key.len()..].trim_start_matches(['"', '\'', ' ']);
            if key.starts_with(['@', '<']) || !value.starts_with('#') {
                found.push(doc[i..].chars().take(80).collect());
            }
        }
    }
    found
}

fn escaped(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

#[test]
fn graph_format_svg_is_a_standalone_drawing_of_every_node() {
    let run = pipectl(&["graph", "pipelines/lab.yaml", "--format", "svg"]).run().expect_code(0);
    let svg = run.stdout;
    assert!(svg.starts_with("<?xml") && svg.contains("<svg"), "{svg}");
    well_formed(&svg).unwrap();
    assert_eq!(external(&svg), Vec::<String>::new());
    let graph = pipectl(&["graph", "pipelines/lab.yaml", "--json"]).run().expect_code(0).json();
    let nodes = graph["nodes"].as_array().unwrap();
    assert!(nodes.len() > 10);
    for n in nodes {
        // A node's label: its address, then its physical name.
        let (address, name) = (n["address"].as_str().unwrap(), n["name"].as_str().unwrap());
        let label = format!(">{address}</tspan><tspan x = ");
        assert!(svg.contains(&label), "{address} is not a node's first line");
        assert!(svg.contains(&format!(">{name}</tspan>")), "{name} not drawn");
    }
    let edges = graph["edges"].as_array().unwrap().len();
    assert_eq!(svg.matches("marker-end=\"url(#endarrow)\"").count(), edges);
}

#[test]
fn status_html_writes_a_page_with_each_hop_and_the_seeded_figure() {
    let Some(moto) = Moto::start() else { return };
    let lab = "pipelines/lab.yaml";
    moto.apply(lab);
    // Records into the stream three minutes ago.
    let sdk = moto.sdk();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let datum = aws_sdk_cloudwatch::types::MetricDatum::builder()
        .metric_name("IncomingRecords")
        .dimensions(aws_sdk_cloudwatch::types::Dimension::builder().name("StreamName").value("taxi-lab-trips").build())
        .timestamp(aws_sdk_cloudwatch::primitives::DateTime::from_secs(now - 180))
        .value(4242.0)
        .unit(aws_sdk_cloudwatch::types::StandardUnit::Count)
        .build();
    sdk.run(sdk.cloudwatch.put_metric_data().namespace("AWS/Kinesis").metric_data(datum).send()).unwrap();

    let dir = scratch().join(format!("pictures-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let page_path = dir.join("status.html");
    let page_arg = page_path.to_str().unwrap();
    // `--json` still prints the report, and the page is written.
    let run = moto.pipectl(&["status", lab, "--html", page_arg, "--json"]).run().expect_code(0);
    let report = run.json();
    let page = std::fs::read_to_string(&page_path).unwrap();
    well_formed(&page).unwrap();
    for found in external(&page) {
        assert!(found.starts_with("href=\"https://"), "{found}");
    }
    let links = page.matches("<a href=\"https://").count();
    assert!(links >= 4, "the console links");
    assert_eq!(page.matches("href=\"http").count(), links, "every reference out is a console link");
    let hops = report["hops"].as_array().unwrap();
    assert!(hops.len() >= 4, "{report}");
    assert_eq!(page.matches("<article class=\"hop\"").count(), hops.len());
    assert_eq!(page.matches("<svg class=\"chart\"").count(), hops.len(), "a chart per hop");
    for h in hops {
        let label = escaped(h["label"].as_str().unwrap());
        assert!(page.matches(&label).count() >= 2, "{label}: its block and its box in the graph");
        assert!(page.contains(&escaped(h["reason"].as_str().unwrap())), "{h}");
    }
    let stream = hops.iter().find(|h| h["id"] == "stream.trips").unwrap();
    assert_ne!(stream["verdict"], "idle", "{stream}");
    assert!(page.contains(" in: 4,242</title>"), "the seeded point is a bar of the stream's chart");

    // Written again: the page it wrote is replaced; a file it did not
    // write (a mistyped path onto the spec's code, say) is not.
    let before = std::fs::read_to_string(&page_path).unwrap();
    moto.pipectl(&["status", lab, "--html", page_arg]).run().expect_code(0);
    assert!(std::fs::read_to_string(&page_path).unwrap().starts_with("<!DOCTYPE html>"));
    assert!(before.contains(pipectl::status::html::GENERATOR));
    std::fs::write(&page_path, "def handler(event, context): pass\n").unwrap();
    let refused = moto.pipectl(&["status", lab, "--html", page_arg]).run().expect_code(2);
    assert!(refused.stderr.contains("is not a page pipectl wrote: not replaced"), "{}", refused.stderr);
    assert!(refused.stdout.is_empty(), "refused before anything was read");
    assert_eq!(std::fs::read_to_string(&page_path).unwrap(), "def handler(event, context): pass\n");

    // A symbolic link at FILE: refused, nothing written through it.
    let target = dir.join("target.txt");
    std::fs::write(&target, "keep").unwrap();
    let link = dir.join("link.html");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let refused = moto.pipectl(&["status", lab, "--html", link.to_str().unwrap()]).run().expect_code(2);
    assert!(refused.stderr.contains("is a symbolic link"), "{}", refused.stderr);
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep");
    assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
    // Refused before any AWS call: with no endpoint answering, still exit 2.
    let offline =
        pipectl(&["status", lab, "--html", link.to_str().unwrap()]).aws_env("http://127.0.0.1:9").run().expect_code(2);
    assert!(offline.stderr.contains("is a symbolic link"), "{}", offline.stderr);
    // Nor is the spec ever replaced by its page.
    let spec = pipectl(&["status", lab, "--html", lab]).aws_env("http://127.0.0.1:9").run().expect_code(2);
    assert!(spec.stderr.contains("which this run reads"), "{}", spec.stderr);
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 3, "no file left beside the page");

    moto.pipectl(&["destroy", lab, "--yes"]).run().expect_code(0);
    let _ = std::fs::remove_dir_all(&dir);
}
