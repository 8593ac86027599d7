//! An agent host's `data:`: a file of generated rows the host writes once,
//! after the agent is installed, where one of its flows watches.

use super::*;
use crate::spec::glob;

/// Rows a host may generate: about 150 bytes each, so at most ~150 MB,
/// which fits the `/tmp` of the smallest instance types.
pub const MAX_ROWS: u32 = 1_000_000;
/// The folder, beside the file, where it is written before its rename.
pub const PARTIAL_DIR: &str = ".pipectl-partial";

impl Builder<'_> {
    pub(super) fn agent_data(&mut self, d: &RawData, flows: &[Flow], runs_producer: bool) -> Option<AgentData> {
        if runs_producer {
            self.bad(
                d.mark,
                "data",
                "`data:` is a file for the Kinesis Agent to read; a host with `run: producer` sends its own records",
                "remove `data:`, or `run: producer`",
            );
            return None;
        }
        let generate = self.choice(&d.generate, &[("taxi", "taxi")], "taxi", "data generator (taxi)");
        let rows = self.range(
            &d.rows,
            1,
            MAX_ROWS,
            10_000,
            "rows",
            Some("the file is generated on the host, about 150 bytes a row"),
        );
        let path = d.path.as_ref()?;
        let literal = path.v.starts_with('/')
            && !path.v.ends_with('/')
            && path.v.len() <= 1024
            && !path.v.split('/').any(|s| s == ".." || s == ".")
            && !path.v.chars().any(|c| c.is_control() || "*?[]{}\\".contains(c));
        if !literal {
            self.bad(
                path.mark,
                "data-path",
                format!("`{}` is not an absolute file path", path.v),
                "a path without wildcards, `.` or `..`, e.g. `/tmp/yellow_tripdata.csv`",
            );
            return None;
        }
        let patterns: Vec<&str> = flows.iter().map(|f| f.file_pattern.as_str()).collect();
        let Some(flow) = flows.iter().find(|f| glob::matches(&f.file_pattern, &path.v)) else {
            self.bad(
                path.mark,
                "data-path",
                format!("`{}` matches no flow's `file_pattern` ({}): the agent would never read it", path.v, {
                    let quoted: Vec<String> = patterns.iter().map(|p| format!("`{p}`")).collect();
                    quoted.join(", ")
                }),
                "put the file where a flow watches, e.g. `/tmp/yellow_tripdata.csv` for `/tmp/*.csv*`",
            );
            return None;
        };
        let (dir, name) = path.v.rsplit_once('/').expect("an absolute path has a `/`");
        let partial = format!("{dir}/{PARTIAL_DIR}/{name}");
        if let Some(p) = patterns.iter().find(|p| glob::matches(p, &partial)) {
            self.bad(
                path.mark,
                "data-path",
                format!("the file is written first as `{partial}`, which `{p}` watches: the agent would read it half written"),
                "narrow the pattern to the file's folder (no `**`), or put the file elsewhere",
            );
            return None;
        }
        let (fields, delimiter) = match &flow.csv_to_json {
            Some(c) => (c.fields.clone(), c.delimiter.clone()),
            None => (Vec::new(), ",".to_string()),
        };
        if let Err(why) = crate::taxi::order(&fields) {
            self.bad(
                path.mark,
                "data-fields",
                format!("the flow watching `{}` names its CSV fields so that {why}", path.v),
                "name the taxi columns (`VendorID`, …, `total_amount`), or give 17 fields",
            );
            return None;
        }
        Some(AgentData { generate: generate.to_string(), rows, path: path.v.clone(), partial, fields, delimiter })
    }
}

#[cfg(test)]
mod tests {
    use crate::load::load_str;
    use crate::spec::{Options, SpecError};
    use std::path::Path;

    fn host(extra: &str) -> String {
        format!(
            "pipeline: p\nstreams: {{ s: {{}} }}\nagents:\n  h:\n    flows:\n      - file_pattern: \"/tmp/*.csv*\"\n        stream: s\n        csv_to_json: {{ fields: [total_amount, VendorID] }}\n{extra}"
        )
    }

    fn load(text: &str) -> Result<crate::spec::Agent, Vec<(usize, usize, &'static str, String)>> {
        match load_str(text, "t.yaml", Path::new("."), &Options::default()) {
            Ok(l) => Ok(l.spec.agents["h"].clone()),
            Err(SpecError::Invalid { diagnostics, .. }) => {
                Err(diagnostics.into_iter().map(|d| (d.mark.line, d.mark.col, d.rule, d.message)).collect())
            }
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn a_data_file_lands_where_a_flow_watches_with_its_fields() {
        let a = load(&host("    data: { generate: taxi, rows: 500, path: /tmp/yellow_tripdata.csv }\n")).unwrap();
        let d = a.data.unwrap();
        assert_eq!((d.rows, d.path.as_str()), (500, "/tmp/yellow_tripdata.csv"));
        assert_eq!(d.partial, "/tmp/.pipectl-partial/yellow_tripdata.csv");
        assert_eq!(d.fields, ["total_amount", "VendorID"]);
        assert!(a.wait_for_running, "apply waits for the agent by default");
        let rows = load(&host("    data: { generate: taxi, path: /tmp/t.csv }\n")).unwrap().data.unwrap().rows;
        assert_eq!(rows, 10_000);
    }

    #[test]
    fn a_data_path_no_flow_watches_is_refused_at_its_place() {
        let e = load(&host("    data: { generate: taxi, path: /var/t.csv }\n")).unwrap_err();
        assert_eq!((e[0].0, e[0].1, e[0].2), (9, 35, "data-path"), "{e:?}");
        assert!(e[0].3.contains("matches no flow's `file_pattern` (`/tmp/*.csv*`)"), "{e:?}");
        let e = load(&host("    data: { generate: taxi, path: \"/tmp/*.csv\" }\n")).unwrap_err();
        assert_eq!(e[0].2, "data-path");
        let e = load(&host("    data: { generate: taxi, rows: 0, path: /tmp/t.csv }\n")).unwrap_err();
        assert_eq!(e[0].2, "range", "{e:?}");
        let e = load(&host("    data: { generate: sensor, path: /tmp/t.csv }\n")).unwrap_err();
        assert_eq!(e[0].2, "enum", "{e:?}");
        let watched_below =
            host("    data: { generate: taxi, path: /tmp/t.csv }\n").replace("/tmp/*.csv*", "/tmp/**.csv*");
        let e = load(&watched_below).unwrap_err();
        assert!(e[0].3.contains("`/tmp/.pipectl-partial/t.csv`, which `/tmp/**.csv*` watches"), "{e:?}");
        let other_fields =
            host("    data: { generate: taxi, path: /tmp/t.csv }\n").replace("total_amount, VendorID", "a, b");
        let e = load(&other_fields).unwrap_err();
        assert_eq!(e[0].2, "data-fields", "{e:?}");
    }

    #[test]
    fn wait_for_launched_opts_out_and_unknown_values_are_refused() {
        assert!(!load(&host("    wait_for: launched\n")).unwrap().wait_for_running);
        assert!(load(&host("    wait_for: running\n")).unwrap().wait_for_running);
        let e = load(&host("    wait_for: ready\n")).unwrap_err();
        assert_eq!(e[0].2, "enum");
    }
}
