//! A graph drawn as SVG without Graphviz: laid out and written by the
//! `layout-rs` crate, left to right as DOT's `rankdir=LR`. Used by
//! `graph --format svg` (the resource graph) and by the page of
//! `status --html` (the hops, each filled by its verdict).
//!
//! The SVG stands alone: no script, no external font, image or style; the
//! only references are to its own arrow markers. Every label comes from
//! a spec (untrusted): the crate escapes `&`, `<`, `>` and quotes, and
//! the characters XML cannot hold even escaped (controls) are replaced
//! here before it sees them.

use super::Graph;
use layout::backends::svg::SVGWriter;
use layout::core::base::Orientation;
use layout::core::color::Color;
use layout::core::style::StyleAttr;
use layout::std_shapes::render::get_shape_size;
use layout::std_shapes::shapes::{Arrow, Element, ShapeKind};
use layout::topo::layout::VisualGraph;
use std::collections::BTreeSet;

/// The font size of a node's label, in pixels.
const FONT: usize = 14;

/// The width of a character of the label, as a part of the font size (a
/// little over Helvetica's average, so that a box holds its text).
const CHAR_WIDTH: f64 = 0.62;

/// One box of a drawing: its label (lines split at `\n`) and its fill,
/// `#rrggbb`.
#[derive(Debug, Clone)]
pub struct Node {
    pub label: String,
    pub fill: &'static str,
}

/// The boxes and arrows as a standalone SVG document (with its XML
/// declaration). `edges` are pairs of indices into `nodes`, `from` first;
/// repeated edges are drawn once, edges to a node itself and to indices
/// out of range not at all.
pub fn draw(nodes: &[Node], edges: &[(usize, usize)]) -> String {
    if nodes.is_empty() {
        return format!("{DECLARATION}\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"1\" height=\"1\"></svg>");
    }
    let mut vg = VisualGraph::new(Orientation::LeftToRight);
    let handles: Vec<_> = nodes
        .iter()
        .map(|n| {
            let label = printable(&n.label);
            let widest = label.lines().map(|l| l.chars().count()).max().unwrap_or(0).max(1);
            let shape = ShapeKind::new_box(&label);
            let fill = Color::from_name(n.fill).unwrap_or_else(|| Color::fast("white"));
            let look = StyleAttr::new(Color::fast("black"), 1, Some(fill), 4, FONT);
            let mut size = get_shape_size(Orientation::LeftToRight, &shape, FONT, false);
            // The crate counts each character a font size wide; Helvetica's
            // are about 0.6 of it, so boxes fit their text.
            size.x = widest as f64 * FONT as f64 * CHAR_WIDTH + 24.0;
            vg.add_node(Element::create(shape, look, Orientation::LeftToRight, size))
        })
        .collect();
    let unique: BTreeSet<(usize, usize)> =
        edges.iter().copied().filter(|(a, b)| a != b && *a < nodes.len() && *b < nodes.len()).collect();
    for (from, to) in unique {
        vg.add_edge(Arrow::simple(""), handles[from], handles[to]);
    }
    let mut svg = SVGWriter::new();
    vg.do_it(false, false, false, &mut svg);
    // The crate's text is in Times; DOT's output asks for Helvetica.
    svg.finalize().replace("font-family: Times, serif;", "font-family: Helvetica, Arial, sans-serif;")
}

/// The XML declaration a standalone document starts with.
const DECLARATION: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="no"?>"#;

/// A drawing without its XML declaration, to be placed inside HTML.
pub fn inline(svg: &str) -> &str {
    svg.strip_prefix(DECLARATION).unwrap_or(svg).trim_start()
}

/// `text` with every character XML 1.0 cannot hold (controls other than
/// the line break that splits a label, U+FFFE and U+FFFF) shown as `�`.
fn printable(text: &str) -> String {
    let refused = |c: char| (c.is_control() && c != '\n') || matches!(c, '\u{FFFE}' | '\u{FFFF}');
    text.chars().map(|c| if refused(c) { '\u{FFFD}' } else { c }).collect()
}

impl Graph {
    /// The graph as SVG: each node labelled with its address and physical
    /// name (as in [`Graph::to_dot`]), an arrow from each dependency to
    /// what depends on it.
    pub fn to_svg(&self) -> String {
        let index: std::collections::BTreeMap<_, usize> = self.nodes.keys().enumerate().map(|(i, a)| (a, i)).collect();
        let nodes: Vec<Node> = self
            .nodes
            .values()
            .map(|n| Node { label: format!("{}\n{}", n.address, n.name), fill: "#ffffff" })
            .collect();
        let edges: Vec<(usize, usize)> = self
            .nodes
            .values()
            .flat_map(|n| n.deps.iter().filter_map(|d| index.get(d).map(|from| (*from, index[&n.address]))))
            .collect();
        draw(&nodes, &edges)
    }
}

/// Checks that a document is well-formed enough to be read as XML:
/// every element closed in order, attributes quoted, no stray `<` or `&`
/// in text. The error says where. (For tests: no XML crate is needed
/// for this much.)
#[cfg(test)]
pub fn well_formed(doc: &str) -> Result<(), String> {
    let mut open: Vec<String> = Vec::new();
    let mut rest = doc;
    let at = |rest: &str| doc.len() - rest.len();
    let entity = |text: &str, pos: usize| -> Result<(), String> {
        for (i, _) in text.match_indices('&') {
            let tail = &text[i + 1..];
            let end = tail.find(';').ok_or(format!("`&` without `;` at {}", pos + i))?;
            let name = &tail[..end];
            let known = matches!(name, "amp" | "lt" | "gt" | "quot" | "apos")
                || name.strip_prefix('#').is_some_and(|n| n.parse::<u32>().is_ok());
            if !known {
                return Err(format!("unknown entity `&{name};` at {}", pos + i));
            }
        }
        Ok(())
    };
    while let Some(lt) = rest.find('<') {
        entity(&rest[..lt], at(rest))?;
        rest = &rest[lt..];
        let pos = at(rest);
        if let Some(r) = rest.strip_prefix("<?") {
            rest = &r[r.find("?>").ok_or(format!("unclosed `<?` at {pos}"))? + 2..];
            continue;
        }
        if let Some(r) = rest.strip_prefix("<!--") {
            rest = &r[r.find("-->").ok_or(format!("unclosed comment at {pos}"))? + 3..];
            continue;
        }
        if let Some(r) = rest.strip_prefix("<!") {
            rest = &r[r.find('>').ok_or(format!("unclosed `<!` at {pos}"))? + 1..];
            continue;
        }
        // A tag: the name, then attributes `name="value"` or `name='value'`.
        let mut chars = rest[1..].char_indices().peekable();
        let mut end = None;
        let mut quote = None;
        for (i, c) in chars.by_ref() {
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), '<') => return Err(format!("`<` in an attribute at {}", pos + 1 + i)),
                (Some(_), _) => {}
                (None, '"' | '\'') => quote = Some(c),
                (None, '<') => return Err(format!("`<` inside a tag at {}", pos + 1 + i)),
                (None, '>') => {
                    end = Some(i + 1);
                    break;
                }
                _ => {}
            }
        }
        let end = end.ok_or(format!("unclosed tag at {pos}"))?;
        let tag = &rest[1..end];
        entity(tag, pos)?;
        let closing = tag.starts_with('/');
        let empty = tag.ends_with('/');
        let name: String =
            tag.trim_start_matches('/').chars().take_while(|c| !c.is_whitespace() && *c != '/' && *c != '>').collect();
        if name.is_empty() {
            return Err(format!("a tag without a name at {pos}"));
        }
        if closing {
            match open.pop() {
                Some(o) if o == name => {}
                o => return Err(format!("`</{name}>` at {pos} closes {o:?}")),
            }
        } else if !empty {
            open.push(name);
        }
        rest = &rest[1 + end..];
    }
    entity(rest, at(rest))?;
    match open.last() {
        Some(o) => Err(format!("`<{o}>` never closed")),
        None => Ok(()),
    }
}

#[cfg(test)]
/// What a document would load from elsewhere: a `src`, `href` or
/// `url(` naming another place than the document itself, and any
/// `@import`.
pub fn external(doc: &str) -> Vec<String> {
    let lower = doc.to_ascii_lowercase();
    let mut found = Vec::new();
    for key in ["src=", "href=", "url(", "@import"] {
        for (i, _) in lower.match_indices(key) {
            let value = lower[i + key.len()..].trim_start_matches(['"', '\'', ' ']);
            if key == "@import" || !value.starts_with('#') {
                found.push(doc[i..].chars().take(60).collect());
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_labs_graph_as_svg_is_well_formed_with_every_node_and_edge() {
        let loaded = crate::load::load_pipeline("lab");
        let svg = loaded.graph.to_svg();
        assert!(svg.starts_with("<?xml"), "{}", &svg[..40]);
        well_formed(&svg).unwrap();
        for n in loaded.graph.nodes.values() {
            assert!(svg.contains(&n.address.to_string()), "{} missing", n.address);
        }
        let edges: usize = loaded.graph.nodes.values().map(|n| n.deps.len()).sum();
        assert_eq!(svg.matches("marker-end=\"url(#endarrow)\"").count(), edges);
        assert_eq!(super::external(&svg), Vec::<String>::new());
    }

    #[test]
    fn a_hostile_label_in_the_svg_stays_text() {
        let nodes = [
            Node { label: "stream.x\n</svg><script>alert(1)</script>".into(), fill: "#ffffff" },
            Node { label: "a & b \"q\" 'x' \u{1}\u{1b}[31m\u{FFFF}".into(), fill: "#ff0000" },
        ];
        let svg = draw(&nodes, &[(0, 1), (0, 1), (1, 1), (0, 7)]);
        well_formed(&svg).unwrap();
        assert!(!svg.contains("<script"), "{svg}");
        assert!(svg.contains("&lt;/svg&gt;&lt;script&gt;alert(1)&lt;/script&gt;"), "{svg}");
        assert!(svg.contains("a &amp; b &quot;q&quot; &apos;x&apos; \u{FFFD}\u{FFFD}[31m\u{FFFD}"), "{svg}");
        assert!(!svg.contains('\u{1b}'));
        assert_eq!(svg.matches("marker-end=").count(), 1, "one edge, drawn once");
        assert!(svg.contains("#ff0000"), "the fill is used");
    }

    #[test]
    fn an_empty_graph_and_a_single_node_draw() {
        well_formed(&draw(&[], &[])).unwrap();
        let one = draw(&[Node { label: "only".into(), fill: "#ffffff" }], &[]);
        well_formed(&one).unwrap();
        assert!(one.contains("only"));
        assert!(inline(&one).starts_with("<svg"));
    }

    #[test]
    fn a_loop_and_a_wide_graph_draw_every_box() {
        let node = |i: usize| Node { label: format!("hop.{i}\nname-{i}"), fill: "#ffffff" };
        let looped = draw(&[node(0), node(1), node(2)], &[(0, 1), (1, 2), (2, 0)]);
        well_formed(&looped).unwrap();
        assert_eq!(looped.matches("<rect").count(), 3);
        // Many sources into a few streams into many sinks, as a big spec's.
        let nodes: Vec<Node> = (0..120).map(node).collect();
        let edges: Vec<(usize, usize)> =
            (0..40).flat_map(|i| [(i, 40 + i % 8), (40 + i % 8, 48 + i), (48 + i, 88 + i % 32)]).collect();
        let wide = draw(&nodes, &edges);
        well_formed(&wide).unwrap();
        assert_eq!(wide.matches("<rect").count(), 120);
    }

    #[test]
    fn the_checker_refuses_what_is_not_well_formed() {
        assert!(well_formed("<a><b></a></b>").is_err());
        assert!(well_formed("<a>x < y</a>").is_err());
        assert!(well_formed("<a>x &nbsp; y</a>").is_err());
        assert!(well_formed("<a href=\"x\">").is_err());
        assert!(well_formed("<a t=\"<\"/>").is_err());
        assert!(well_formed("<?xml version=\"1.0\"?><a t='1'><b/>&amp;&#38;</a>").is_ok());
    }
}
