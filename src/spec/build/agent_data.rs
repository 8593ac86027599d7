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
