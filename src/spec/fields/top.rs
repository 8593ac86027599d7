//! The top level: the pipeline, its region and tags, timeouts, variables.

use super::Default::{Derived, None as No};
use super::{Field, Keys, Text, Ty, TEXT};

/// A row of the table (in every section file).
macro_rules! row {
    ($path:expr, $ty:expr, $required:expr, $default:expr, $update:ident, $about:expr, $example:expr $(,)?) => {
        super::Field {
            path: $path,
            ty: $ty,
            required: $required,
            default: $default,
            update: super::Update::$update,
            about: $about,
            example: $example,
        }
    };
}
pub(super) use row;

/// Whole-value variable types (`spec::vars::Type::parse`).
const VAR_TYPE: Ty = Ty::Str(Text {
    pattern: Some(
        r"^\s*(string|integer|int|number|bool|boolean|list\(\s*(string|integer|int|number|bool|boolean)\s*\))\s*$",
    ),
    min: None,
    max: None,
    rule: "`string`, `integer` (`int`), `number`, `bool` (`boolean`), or `list(<one of those>)`",
});

pub const FIELDS: &[Field] = &[
    row!(
        "pipeline",
        Ty::Str(Text {
            pattern: Some("^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$"),
            min: Some(1),
            max: Some(40),
            rule: "1 to 40 lower-case letters, digits and inner hyphens",
        }),
        true,
        No,
        Deployment,
        "The pipeline's name: part of every default physical name and of the tags that mark what pipectl owns.",
        "schema-demo",
    ),
    row!(
        "region",
        Ty::Str(Text {
            pattern: Some("^[a-z]{2,}(-[a-z]+)+-[0-9]+$"),
            min: None,
            max: None,
            rule: "an AWS region name, e.g. `us-west-2`",
        }),
        false,
        Derived("`--region`, else the AWS profile's or environment's region"),
        Deployment,
        "The AWS region to deploy in; `--region` overrides it.",
        "us-west-2",
    ),
    row!(
        "tags",
        Ty::Map {
            keys: Keys::Pattern("^(?!<<$)(?![aA][wW][sS]:)(?![pP][iI][pP][eE][cC][tT][lL]:).{1,128}$", "1 to 128 characters, not starting with `aws:` or `pipectl:`, not `<<`"),
            value: &Ty::Str(Text { pattern: None, min: None, max: Some(256), rule: "at most 256 characters" }),
        },
        false,
        No,
        InPlace,
        "Tags added to every taggable resource (at most 40); values may interpolate `${pipeline}`, `${env}`, `${region}`, `${account}`, `${var.NAME}`.",
        "{ team: data-eng }",
    ),
    row!(
        "timeouts",
        Ty::Map {
            keys: Keys::OneOf(&["stream", "firehose", "function", "trigger", "agent", "network", "security_group"]),
            value: &Ty::Int { min: 30, max: 7200 },
        },
        false,
        Derived("5 minutes for streams and security groups, 10 minutes for the other kinds"),
        Pipectl,
        "How long apply and destroy wait for AWS, in seconds, per kind of resource.",
        "{ firehose: 1200 }",
    ),
    row!(
        "vars",
        Ty::Map { keys: Keys::Pattern("^[A-Za-z0-9_-]+$", "letters, digits, `_` and `-`"), value: &Ty::Object },
        false,
        No,
        Fields,
        "Declared, typed variables: `${var.NAME}` fills any field with its value (docs/variables.md).",
        "",
    ),
    row!("vars.*.type", VAR_TYPE, true, No, Fills, "The variable's type; a value of another type is an error.", "integer"),
    row!(
        "vars.*.default",
        Ty::Any,
        false,
        No,
        Fills,
        "The value when no var file, `PIPECTL_VAR_<NAME>` or `--var` sets one; without it the variable is required.",
        "2",
    ),
    row!("vars.*.description", TEXT, false, No, Nothing, "What the variable is for.", "shards of the stream"),
    row!(
        "vars.*.allowed",
        Ty::List(&Ty::Any),
        false,
        No,
        Fills,
        "The only values the variable may take.",
        "[1, 2, 4]",
    ),
    row!("vars.*.min", Ty::Num, false, No, Fills, "The smallest value of a numeric variable (of each item of a list).", "1"),
    row!("vars.*.max", Ty::Num, false, No, Fills, "The largest value of a numeric variable (of each item of a list).", "8"),
];
