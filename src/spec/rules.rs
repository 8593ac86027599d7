//! AWS naming rules and value checks, as pure functions over strings.
//! Each returns the broken rule's explanation, used as the diagnostic message.

/// Stand-ins for `${account}` / `${region}` while they are unknown, so names
/// can still be checked for length and characters offline.
pub fn with_sample_placeholders(name: &str) -> String {
    name.replace("${account}", "123456789012").replace("${region}", crate::names::LONGEST_REGION)
}

fn chars_ok(s: &str, extra: &str, lower_only: bool) -> bool {
    s.chars().all(|c| {
        (c.is_ascii_lowercase() || c.is_ascii_digit() || extra.contains(c)) || (!lower_only && c.is_ascii_uppercase())
    })
}

fn length(s: &str, what: &str, min: usize, max: usize) -> Result<(), String> {
    let n = s.chars().count();
    if n < min || n > max {
        return Err(format!("{what} must be {min} to {max} characters long; `{s}` has {n}"));
    }
    Ok(())
}

pub fn pipeline_name(s: &str) -> Result<(), String> {
    length(s, "a pipeline name", 1, 40)?;
    if !chars_ok(s, "-", true) || s.starts_with('-') || s.ends_with('-') {
        return Err(format!(
            "a pipeline name may hold only lower-case letters, digits and inner hyphens; `{s}` does not"
        ));
    }
    Ok(())
}

/// The env of the deployment made without `--env`: no env may be named so.
pub const NO_ENV: &str = "default";

pub fn env_name(s: &str) -> Result<(), String> {
    length(s, "an env name", 1, 32)?;
    if !chars_ok(s, "-", true) || s.starts_with('-') || s.ends_with('-') {
        return Err(format!("an env name may hold only lower-case letters, digits and inner hyphens; `{s}` does not"));
    }
    if s == NO_ENV {
        return Err("`default` is the deployment without an env; leave the env out for it".into());
    }
    Ok(())
}

pub fn resource_key(s: &str) -> Result<(), String> {
    length(s, "a resource key", 1, 64)?;
    let first_ok = s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
    if !first_ok || !chars_ok(s, "-_", false) {
        return Err(format!(
            "a resource key may hold letters, digits, `-` and `_`, starting with a letter or digit; `{s}` does not"
        ));
    }
    Ok(())
}

/// S3 general purpose bucket naming rules.
pub fn bucket_name(s: &str) -> Result<(), String> {
    length(s, "an S3 bucket name", 3, 63)?;
    if !chars_ok(s, "-.", true) {
        return Err(format!("an S3 bucket name may hold only lower-case letters, digits, `.` and `-`; `{s}` does not"));
    }
    let alnum = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if !alnum(s.chars().next()) || !alnum(s.chars().last()) {
        return Err(format!("an S3 bucket name must begin and end with a letter or digit; `{s}` does not"));
    }
    if s.contains("..") || s.contains(".-") || s.contains("-.") {
        return Err(format!("an S3 bucket name must not hold `..`, `.-` or `-.`; `{s}` does"));
    }
    if s.split('.').count() == 4 && s.split('.').all(|p| p.parse::<u8>().is_ok()) {
        return Err(format!("an S3 bucket name must not look like an IP address; `{s}` does"));
    }
    for prefix in ["xn--", "sthree-", "amzn-s3-demo-"] {
        if s.starts_with(prefix) {
            return Err(format!("an S3 bucket name must not start with `{prefix}`"));
        }
    }
    for suffix in ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"] {
        if s.ends_with(suffix) {
            return Err(format!("an S3 bucket name must not end with `{suffix}`"));
        }
    }
    Ok(())
}

pub fn stream_name(s: &str) -> Result<(), String> {
    length(s, "a Kinesis stream name", 1, 128)?;
    if !chars_ok(s, "_.-", false) {
        return Err(format!("a Kinesis stream name may hold only letters, digits, `_`, `.` and `-`; `{s}` does not"));
    }
    Ok(())
}

pub fn firehose_name(s: &str) -> Result<(), String> {
    length(s, "a Firehose stream name", 1, 64)?;
    if !chars_ok(s, "_.-", false) {
        return Err(format!("a Firehose stream name may hold only letters, digits, `_`, `.` and `-`; `{s}` does not"));
    }
    Ok(())
}

pub fn function_name(s: &str) -> Result<(), String> {
    length(s, "a Lambda function name", 1, 64)?;
    if !chars_ok(s, "_-", false) {
        return Err(format!("a Lambda function name may hold only letters, digits, `_` and `-`; `{s}` does not"));
    }
    Ok(())
}

/// Glue accepts more, but Athena (where these tables are queried) needs
/// lower-case letters, digits and underscores.
pub fn glue_name(s: &str) -> Result<(), String> {
    length(s, "a Glue name", 1, 255)?;
    if !chars_ok(s, "_", true) {
        return Err(format!(
            "a Glue database or table name may hold only lower-case letters, digits and `_`; `{s}` does not"
        ));
    }
    Ok(())
}

pub fn role_name(s: &str) -> Result<(), String> {
    length(s, "an IAM role name", 1, 64)?;
    if !chars_ok(s, "+=,.@_-", false) {
        return Err(format!("an IAM role name may hold only letters, digits and `+=,.@_-`; `{s}` does not"));
    }
    Ok(())
}

/// An existing IAM role a spec names (`role:`): its name, or its ARN when
/// it has a path (`arn:aws:iam::123456789012:role/service-role/x`).
pub fn existing_role(s: &str) -> Result<(), String> {
    let Some(rest) = s.strip_prefix("arn:") else { return role_name(s) };
    let bad = || format!("`{s}` is not an IAM role ARN (arn:aws:iam::<account>:role/<path/><name>)");
    let (partition, rest) = rest.split_once(':').ok_or_else(bad)?;
    let rest = rest.strip_prefix("iam::").ok_or_else(bad)?;
    let (account, resource) = rest.split_once(':').ok_or_else(bad)?;
    let path_name = resource.strip_prefix("role/").ok_or_else(bad)?;
    let ok = partition.starts_with("aws")
        && account.len() == 12
        && account.chars().all(|c| c.is_ascii_digit())
        && path_name.split('/').all(|p| !p.is_empty() && chars_ok(p, "+=,.@_-", false));
    if !ok {
        return Err(bad());
    }
    role_name(path_name.rsplit('/').next().unwrap_or_default())
}

pub fn dashboard_name(s: &str) -> Result<(), String> {
    length(s, "a CloudWatch dashboard name", 1, 255)?;
    if !chars_ok(s, "_-", false) {
        return Err(format!("a CloudWatch dashboard name may hold only letters, digits, `_` and `-`; `{s}` does not"));
    }
    Ok(())
}

pub fn log_group_name(s: &str) -> Result<(), String> {
    length(s, "a CloudWatch Logs group name", 1, 512)?;
    if !chars_ok(s, "._-/#", false) {
        return Err(format!("a CloudWatch Logs group name may hold only letters, digits and `._-/#`; `{s}` does not"));
    }
    Ok(())
}

/// `*` and `?` in a name would be wildcards where the name is matched:
/// in an IAM policy's ARNs (`deployer-policy`) and EC2's tag filters.
fn no_wildcards(s: &str, what: &str) -> Result<(), String> {
    if s.contains(['*', '?']) {
        return Err(format!("{what} must not hold `*` or `?`, which would match other names in ARNs; `{s}` does"));
    }
    Ok(())
}

pub fn alarm_name(s: &str) -> Result<(), String> {
    length(s, "a CloudWatch alarm name", 1, 255)?;
    if s.chars().any(|c| c.is_control()) {
        return Err("a CloudWatch alarm name must not hold control characters".into());
    }
    no_wildcards(s, "a CloudWatch alarm name")
}

pub fn metric_filter_name(s: &str) -> Result<(), String> {
    length(s, "a metric filter name", 1, 512)?;
    if s.chars().any(|c| c == ':' || c == '*' || c.is_control()) {
        return Err("a metric filter name must not hold `:`, `*` or control characters".into());
    }
    no_wildcards(s, "a metric filter name")
}

pub fn name_tag(s: &str) -> Result<(), String> {
    length(s, "an EC2 Name tag", 1, 255)?;
    no_wildcards(s, "an EC2 Name tag")
}

/// An IPv4 CIDR block `a.b.c.d/n`; returns the prefix length.
pub fn ipv4_cidr(s: &str) -> Result<u8, String> {
    let bad = || format!("`{s}` is not an IPv4 CIDR block like 10.20.0.0/16");
    let (addr, len) = s.split_once('/').ok_or_else(bad)?;
    let len: u8 = len.parse().map_err(|_| bad())?;
    let octets: Vec<u8> = addr.split('.').map(|o| o.parse::<u8>()).collect::<Result<_, _>>().map_err(|_| bad())?;
    if octets.len() != 4 || len > 32 {
        return Err(bad());
    }
    let ip = u32::from_be_bytes([octets[0], octets[1], octets[2], octets[3]]);
    let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
    if ip & !mask != 0 {
        return Err(format!("`{s}` has host bits set; the network address is {}", std::net::Ipv4Addr::from(ip & mask)));
    }
    Ok(len)
}

/// A Hive column type as Glue and Athena accept it: primitives,
/// `decimal(p,s)`, `varchar(n)`, `char(n)`, `array<T>`, `map<K,V>`,
/// `struct<name:T,...>`.
pub fn hive_type(s: &str) -> Result<(), String> {
    let t = s.trim().to_ascii_lowercase();
    let mut p = HiveParser { s: t.as_bytes(), i: 0 };
    if p.ty() && p.i == p.s.len() {
        Ok(())
    } else {
        Err(format!("`{s}` is not a Hive column type"))
    }
}

struct HiveParser<'a> {
    s: &'a [u8],
    i: usize,
}

impl HiveParser<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i] == b' ' {
            self.i += 1;
        }
    }
    fn eat(&mut self, c: u8) -> bool {
        self.ws();
        if self.s.get(self.i) == Some(&c) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn word(&mut self) -> String {
        self.ws();
        let start = self.i;
        while self.i < self.s.len() && (self.s[self.i].is_ascii_alphanumeric() || self.s[self.i] == b'_') {
            self.i += 1;
        }
        String::from_utf8_lossy(&self.s[start..self.i]).into_owned()
    }
    fn number(&mut self) -> bool {
        let w = self.word();
        !w.is_empty() && w.bytes().all(|b| b.is_ascii_digit())
    }
    fn ty(&mut self) -> bool {
        let w = self.word();
        match w.as_str() {
            "boolean" | "tinyint" | "smallint" | "int" | "integer" | "bigint" | "float" | "double" | "string"
            | "date" | "timestamp" | "binary" => true,
            "decimal" => {
                if self.eat(b'(') {
                    self.number() && (!self.eat(b',') || self.number()) && self.eat(b')')
                } else {
                    true
                }
            }
            "varchar" | "char" => self.eat(b'(') && self.number() && self.eat(b')'),
            "array" => self.eat(b'<') && self.ty() && self.eat(b'>'),
            "map" => self.eat(b'<') && self.ty() && self.eat(b',') && self.ty() && self.eat(b'>'),
            "struct" => {
                if !self.eat(b'<') {
                    return false;
                }
                loop {
                    if self.word().is_empty() || !self.eat(b':') || !self.ty() {
                        return false;
                    }
                    if self.eat(b'>') {
                        return true;
                    }
                    if !self.eat(b',') {
                        return false;
                    }
                }
            }
            _ => false,
        }
    }
}

/// The most a function's environment may weigh, as [`lambda_environment_size`]
/// measures it.
/// Environment variable names Lambda reserves: a function may not set them.
pub const RESERVED_ENV: [&str; 18] = [
    "_HANDLER",
    "_X_AMZN_TRACE_ID",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API",
    "LAMBDA_TASK_ROOT",
    "LAMBDA_RUNTIME_DIR",
];

/// The only retention periods CloudWatch Logs' PutRetentionPolicy takes, in days.
pub const LOG_RETENTION_DAYS: &[i64] =
    &[1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];

pub const MAX_LAMBDA_ENVIRONMENT: usize = 4096;

/// A function's environment as Lambda measures it against its 4 KB limit:
/// the bytes of the variables as one JSON object (`{"A":"b","C":"d"}`, no
/// spaces, values JSON-escaped, UTF-8), which is the string Lambda's
/// refusal quotes ("String measured: ...").
pub fn lambda_environment_size<'a>(variables: impl IntoIterator<Item = (&'a str, &'a str)>) -> usize {
    let mut size = 2; // `{` and `}`
    for (i, (k, v)) in variables.into_iter().enumerate() {
        let quoted = |s: &str| serde_json::to_string(s).expect("a string serializes").len();
        size += usize::from(i > 0) + quoted(k) + 1 + quoted(v);
    }
    size
}

/// The `!{namespace:value}` expressions of a Firehose prefix.
pub fn prefix_expressions(prefix: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    let mut rest = prefix;
    while let Some(start) = rest.find("!{") {
        let after = &rest[start + 2..];
        let end = after.find('}').ok_or_else(|| format!("`!{{` without a closing `}}` in `{prefix}`"))?;
        let expr = &after[..end];
        let (ns, value) = expr.split_once(':').ok_or_else(|| format!("`!{{{expr}}}` is not `!{{namespace:value}}`"))?;
        out.push((ns.trim().to_string(), value.trim().to_string()));
        rest = &after[end + 1..];
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_rules() {
        assert!(bucket_name("taxi-lab-123456789012").is_ok());
        assert!(bucket_name("Taxi").is_err());
        assert!(bucket_name("ab").is_err());
        assert!(bucket_name("-abc").is_err());
        assert!(bucket_name("a..b").is_err());
        assert!(bucket_name("192.168.1.1").is_err());
        assert!(bucket_name("xn--abc").is_err());
        assert!(bucket_name("abc-s3alias").is_err());
        assert!(bucket_name(&"a".repeat(64)).is_err());
    }

    #[test]
    fn names_with_star_or_question_mark_become_wildcards_in_arns() {
        type Rule = fn(&str) -> Result<(), String>;
        let rules: [(&str, Rule); 11] = [
            ("pipeline", pipeline_name),
            ("env", env_name),
            ("bucket", bucket_name),
            ("stream", stream_name),
            ("firehose", firehose_name),
            ("function", function_name),
            ("glue", glue_name),
            ("role", role_name),
            ("dashboard", dashboard_name),
            ("log group", log_group_name),
            ("alarm", alarm_name),
        ];
        let more: [(&str, Rule); 3] =
            [("metric filter", metric_filter_name), ("name tag", name_tag), ("existing role", existing_role)];
        for (what, rule) in rules.iter().chain(more.iter()) {
            for name in ["*prod", "a*", "ab?c", "x-?"] {
                assert!(rule(name).is_err(), "{what} accepts `{name}`");
            }
        }
        assert!(existing_role("arn:aws:iam::123456789012:role/*").is_err());
        assert!(alarm_name("taxi trips: iterator age > 1 min").is_ok(), "alarm names keep their freedom otherwise");
    }

    #[test]
    fn names_per_kind() {
        assert!(stream_name("Stream_1.a-b").is_ok());
        assert!(stream_name("a b").is_err());
        assert!(firehose_name(&"a".repeat(65)).is_err());
        assert!(function_name("NYCTaxiTrips-KDSLambdaTrigger").is_ok());
        assert!(function_name("a.b").is_err());
        assert!(glue_name("kinesislab").is_ok());
        assert!(glue_name("KinesisLab").is_err());
        assert!(glue_name("kinesis-lab").is_err());
        assert!(role_name("a+b=c,d.e@f_g-h").is_ok());
        assert!(role_name(&"r".repeat(65)).is_err());
        assert!(dashboard_name("Streaming-Pipeline-Dashboard").is_ok());
        assert!(dashboard_name("a.b").is_err());
        assert!(log_group_name("/aws/kinesisfirehose/x").is_ok());
        assert!(pipeline_name("taxi-lab").is_ok());
        assert!(pipeline_name("Taxi").is_err());
        assert!(env_name("pr-42").is_ok());
        assert!(env_name("pr_42").is_err());
    }

    #[test]
    fn hive_types() {
        for ok in [
            "bigint",
            "double",
            "timestamp",
            "decimal(10,2)",
            "decimal",
            "varchar(20)",
            "array<string>",
            "map<string,int>",
            "struct<a:int,b:array<string>>",
            "STRING",
        ] {
            assert!(hive_type(ok).is_ok(), "{ok}");
        }
        for bad in ["text", "varchar", "array<>", "map<string>", "struct<a>", "int8", "bigint)"] {
            assert!(hive_type(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn cidrs() {
        assert_eq!(ipv4_cidr("10.20.0.0/16"), Ok(16));
        assert!(ipv4_cidr("10.20.1.0/16").is_err());
        assert!(ipv4_cidr("10.20.0.0").is_err());
        assert!(ipv4_cidr("300.0.0.0/8").is_err());
    }

    #[test]
    fn the_environment_is_measured_as_lambda_measures_it() {
        let size = |vars: &[(&str, &str)]| lambda_environment_size(vars.iter().copied());
        let json = |vars: &[(&str, &str)]| {
            let map: serde_json::Map<String, serde_json::Value> =
                vars.iter().map(|(k, v)| (k.to_string(), serde_json::Value::from(*v))).collect();
            serde_json::Value::Object(map).to_string().len()
        };
        assert_eq!(size(&[]), 2, "an empty object");
        assert_eq!(size(&[("A", "b")]), r#"{"A":"b"}"#.len());
        assert_eq!(size(&[("A", "b"), ("C", "d")]), r#"{"A":"b","C":"d"}"#.len());
        // Escaped characters count as written in JSON; non-ASCII as UTF-8.
        assert_eq!(size(&[("Q", "a\"b")]), r#"{"Q":"a\"b"}"#.len());
        assert_eq!(size(&[("N", "a\nb\\c\t")]), r#"{"N":"a\nb\\c\t"}"#.len());
        assert_eq!(size(&[("C", "\u{1}")]), r#"{"C":"\u0001"}"#.len());
        assert_eq!(size(&[("U", "wörd€")]), "{\"U\":\"wörd€\"}".len());
        assert_eq!(size(&[("S", "a/b")]), r#"{"S":"a/b"}"#.len(), "`/` is not escaped");
        let vars = [("K1", "x\"y\n"), ("K2", "ünï"), ("K3", "")];
        assert_eq!(size(&vars), json(&vars));
        // At the boundary: 4096 bytes pass, one more does not.
        let fill = |n: usize| "v".repeat(n);
        let at = fill(MAX_LAMBDA_ENVIRONMENT - r#"{"A":""}"#.len());
        assert_eq!(size(&[("A", &at)]), MAX_LAMBDA_ENVIRONMENT);
        let quote_over = format!("{}\"", &at[..at.len() - 1]);
        assert_eq!(quote_over.len(), at.len(), "the same characters, one of them a quote");
        assert_eq!(size(&[("A", &quote_over)]), MAX_LAMBDA_ENVIRONMENT + 1, "a quote weighs two");
    }

    #[test]
    fn prefix_expressions_are_split() {
        let got = prefix_expressions("a/!{timestamp:yyyy}/!{firehose:error-output-type}/").unwrap();
        assert_eq!(got, vec![("timestamp".into(), "yyyy".into()), ("firehose".into(), "error-output-type".into())]);
        assert!(prefix_expressions("a/!{timestamp").is_err());
    }
}
