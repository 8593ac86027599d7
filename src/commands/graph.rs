//! `pipectl graph`: the resource graph as DOT, Mermaid or SVG, or with `--json`
//! as one document of nodes and edges, offline.

use super::emitln;
use crate::cli::{Global, GraphArgs, GraphFormat};
use crate::deployment::options;
use crate::plan::Graph;
use std::io::Write;
use std::process::ExitCode;

pub fn run(g: &Global, a: &GraphArgs) -> anyhow::Result<ExitCode> {
    let loaded = crate::load::load(&a.spec, &options(g))?;
    if g.json {
        emitln!("{}", to_json(&loaded.graph, &loaded.file));
        return Ok(ExitCode::SUCCESS);
    }
    let out = match a.format.unwrap_or(GraphFormat::Dot) {
        GraphFormat::Dot => loaded.graph.to_dot(),
        GraphFormat::Mermaid => loaded.graph.to_mermaid(),
        GraphFormat::Svg => loaded.graph.to_svg(),
    };
    let _ = std::io::stdout().write_all(out.as_bytes());
    Ok(ExitCode::SUCCESS)
}

/// The graph as data: each node (address, kind, physical name, the spec
/// entry it comes from) and each edge `from -> to`, in the direction of
/// DOT's: `from` is created first and deleted last.
fn to_json(graph: &Graph, file: &str) -> serde_json::Value {
    let nodes: Vec<serde_json::Value> = graph
        .nodes
        .values()
        .map(|n| {
            serde_json::json!({
                "address": n.address.to_string(),
                "kind": n.address.kind.as_str(),
                "name": n.name,
                "origin": n.origin,
            })
        })
        .collect();
    let edges: Vec<serde_json::Value> = graph
        .nodes
        .values()
        .flat_map(|n| {
            n.deps.iter().map(move |d| serde_json::json!({ "from": d.to_string(), "to": n.address.to_string() }))
        })
        .collect();
    serde_json::json!({ "format_version": "1", "file": file, "nodes": nodes, "edges": edges })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graph_json_has_every_node_and_the_edges_of_dot() {
        let loaded = crate::load::load_pipeline("lab");
        let doc = to_json(&loaded.graph, "lab.yaml");
        let nodes = doc["nodes"].as_array().unwrap();
        assert_eq!(nodes.len(), loaded.graph.nodes.len());
        let edges = doc["edges"].as_array().unwrap();
        let dot = loaded.graph.to_dot();
        assert_eq!(edges.len(), dot.matches(" -> ").count());
        for e in edges {
            let line = format!("\"{}\" -> \"{}\";", e["from"].as_str().unwrap(), e["to"].as_str().unwrap());
            assert!(dot.contains(&line), "{line} not in DOT");
        }
        assert!(nodes.iter().all(|n| n["address"].as_str().unwrap().starts_with(n["kind"].as_str().unwrap())));
    }
}
