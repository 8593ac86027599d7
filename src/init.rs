//! The starting pipelines `pipectl init` writes, built into the binary so
//! they exist after `cargo install` with no source checkout: each of
//! `pipelines/*.yaml` and the handler files its `code:` paths name.
//!
//! A spec in `pipelines/` names its code from there (`../templates/...`);
//! written into a folder of its own, with its code beside it, the same path
//! becomes `templates/...`. A first `yaml-language-server` line pointing at
//! the repository's schema points at `pipectl.schema.json` beside the spec.
//! Pure: no file is read or written here.

/// A starting pipeline: its name (`pipectl init NAME`), what it is, and
/// the spec's text as kept in `pipelines/`.
#[derive(Debug, Clone, Copy)]
pub struct Template {
    pub name: &'static str,
    pub about: &'static str,
    text: &'static str,
}

/// The template `pipectl init` writes without a name.
pub const DEFAULT: &str = "minimal";

macro_rules! template {
    ($name:literal, $about:literal) => {
        Template { name: $name, about: $about, text: include_str!(concat!("../pipelines/", $name, ".yaml")) }
    };
}

/// Every template, `minimal` first.
pub const TEMPLATES: &[Template] = &[
    template!("minimal", "one stream, a Firehose to one bucket, a Lambda logging each record: deploys in minutes"),
    template!(
        "lab",
        "the full taxi pipeline: agent host, stream, raw and Parquet Firehoses, Glue table, Lambda filter, dashboard, alarms"
    ),
    template!("firehose-tenant-metrics", "lab: a 1-shard stream copied to S3 by a gzip Firehose with error logging"),
    template!("kinesis-agent-lambda-s3", "lab: the Kinesis Agent on EC2 feeding a stream, a Firehose to S3, a Lambda logging"),
    template!(
        "lambda-firehose-parquet-glue",
        "lab: a Lambda filtering a stream into a Direct-PUT Firehose writing Parquet from a Glue table"
    ),
    template!(
        "sensor-streaming-lab",
        "lab: an on-demand sensor stream to S3, a Lambda computing 1-minute windows, a dashboard"
    ),
    template!(
        "stream-data-processor",
        "lab: a stream in a VPC of its own, a producer host, Python and Node.js consumers, a dashboard"
    ),
];

/// Every file a template's `code:` may name, by its path from the
/// repository root (so from the written spec's folder).
const FILES: &[(&str, &str)] = &[
    ("templates/lambda/decode_and_log.py", include_str!("../templates/lambda/decode_and_log.py")),
    ("templates/lambda/filter_to_firehose.py", include_str!("../templates/lambda/filter_to_firehose.py")),
    ("templates/lambda/window_aggregate.py", include_str!("../templates/lambda/window_aggregate.py")),
    (
        "templates/lambda/stream_consumer_node/index.mjs",
        include_str!("../templates/lambda/stream_consumer_node/index.mjs"),
    ),
];

/// The schema line a `pipelines/` file may start with, and what it becomes.
const SCHEMA_LINE: &str = "# yaml-language-server: $schema=";
const SCHEMA_WRITTEN: &str = "# yaml-language-server: $schema=pipectl.schema.json";
/// The spec's JSON Schema, written beside it for the editor.
const SCHEMA_FILE: &str = "pipectl.schema.json";

/// A file to write: its path relative to the output folder, and content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    pub path: String,
    pub content: String,
}

impl Template {
    pub fn find(name: &str) -> Option<&'static Template> {
        TEMPLATES.iter().find(|t| t.name == name)
    }

    /// The spec's file name: `pipeline.yaml` for the default, else the
    /// template's own name.
    pub fn spec_name(&self) -> String {
        if self.name == DEFAULT {
            "pipeline.yaml".into()
        } else {
            format!("{}.yaml", self.name)
        }
    }

    /// The spec as written beside its code: each `code: ../X` becomes
    /// `code: X`, and a first schema line names the schema beside it.
    pub fn spec(&self) -> String {
        let mut out = String::with_capacity(self.text.len());
        for (i, line) in self.text.split_inclusive('\n').enumerate() {
            if i == 0 && line.starts_with(SCHEMA_LINE) {
                out.push_str(SCHEMA_WRITTEN);
                out.push('\n');
            } else if let Some((lead, path)) = code_line(line) {
                out.push_str(lead);
                out.push_str(path.strip_prefix("../").unwrap_or(path));
                out.push('\n');
            } else {
                out.push_str(line);
            }
        }
        out
    }

    /// The spec's own top-level `region:`, if it names one.
    pub fn region(&self) -> Option<&'static str> {
        self.text.lines().find_map(|l| l.strip_prefix("region:")).map(|r| r.split('#').next().unwrap_or(r).trim())
    }

    /// The `code:` paths of the written spec.
    pub fn code_paths(&self) -> Vec<String> {
        self.spec().lines().filter_map(code_line).map(|(_, p)| p.to_string()).collect()
    }

    /// Every file to write: the spec first, then each file its code paths
    /// name (a folder brings every file under it), each once.
    pub fn files(&self) -> Vec<File> {
        let mut out = vec![File { path: self.spec_name(), content: self.spec() }];
        if self.text.starts_with(SCHEMA_LINE) {
            out.push(File { path: SCHEMA_FILE.into(), content: crate::spec::fields::schema::text() });
        }
        for code in self.code_paths() {
            let folder = format!("{}/", code.trim_end_matches('/'));
            for (path, content) in FILES {
                let named = *path == code || path.starts_with(&folder);
                if named && !out.iter().any(|f| f.path == *path) {
                    out.push(File { path: path.to_string(), content: content.to_string() });
                }
            }
        }
        out
    }
}

/// A `code:` line (`    code: ../templates/x.py`): what precedes the
/// path, and the path (unquoted, without a trailing comment).
fn code_line(line: &str) -> Option<(&str, &str)> {
    let trimmed = line.trim_start();
    let rest = trimmed.strip_prefix("code:")?;
    let path = rest.trim_start();
    let lead = &line[..line.len() - path.len()];
    let path = path.split(" #").next().unwrap_or(path).trim_end();
    let path = path.trim_matches(|c| c == '"' || c == '\'');
    (!path.is_empty()).then_some((lead, path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn every_pipeline_file_is_a_template_and_every_template_a_pipeline_file() {
        let mut on_disk: Vec<String> = std::fs::read_dir("pipelines")
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
            .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
            .collect();
        on_disk.sort();
        let mut names: Vec<String> = TEMPLATES.iter().map(|t| t.name.to_string()).collect();
        names.sort();
        assert_eq!(names, on_disk);
        assert_eq!(TEMPLATES[0].name, DEFAULT);
    }

    #[test]
    fn code_paths_are_relative_to_the_written_spec_and_every_file_they_name_is_built_in() {
        for t in TEMPLATES {
            for code in t.code_paths() {
                assert!(code.starts_with("templates/"), "{}: {code}", t.name);
                let on_disk = Path::new(&code);
                let mut want: Vec<String> = if on_disk.is_dir() {
                    std::fs::read_dir(on_disk)
                        .unwrap()
                        .map(|e| format!("{code}/{}", e.unwrap().file_name().to_string_lossy()))
                        .filter(|p| !p.rsplit('/').next().unwrap().starts_with('.'))
                        .collect()
                } else {
                    vec![code.clone()]
                };
                want.sort();
                let files = t.files();
                for path in &want {
                    let f = files.iter().find(|f| &f.path == path).unwrap_or_else(|| panic!("{}: {path}", t.name));
                    assert_eq!(f.content, std::fs::read_to_string(path).unwrap(), "{path} is the file on disk");
                }
            }
        }
    }

    #[test]
    fn every_built_in_file_serves_some_template() {
        for (path, _) in FILES {
            assert!(TEMPLATES.iter().any(|t| t.files().iter().any(|f| f.path == *path)), "{path} serves no template");
        }
    }

    #[test]
    fn a_schema_line_points_beside_the_spec_and_code_paths_lose_their_parent() {
        let t = Template {
            name: "x",
            about: "",
            text: "# yaml-language-server: $schema=../schema/pipectl.schema.json\npipeline: x\nfunctions:\n  f:\n    code: \"../templates/lambda/decode_and_log.py\" # the handler\n",
        };
        assert_eq!(
            t.spec(),
            "# yaml-language-server: $schema=pipectl.schema.json\npipeline: x\nfunctions:\n  f:\n    code: templates/lambda/decode_and_log.py\n"
        );
        assert_eq!(t.code_paths(), ["templates/lambda/decode_and_log.py"]);
        let files: Vec<String> = t.files().into_iter().map(|f| f.path).collect();
        assert_eq!(files, ["x.yaml", "pipectl.schema.json", "templates/lambda/decode_and_log.py"]);
        assert_eq!(t.region(), None);
        assert_eq!(Template::find("lambda-firehose-parquet-glue").unwrap().region(), Some("us-west-2"));
        // A spec without a schema line keeps its first line, and gets no schema file.
        let plain = Template { name: "y", about: "", text: "# y\npipeline: y\n" };
        assert_eq!(plain.spec(), "# y\npipeline: y\n");
        assert_eq!(plain.files().len(), 1);
    }
}
