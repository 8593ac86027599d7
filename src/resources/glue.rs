//! Glue database and table.
//!
//! Database contract:
//! 1. read: GetDatabase (EntityNotFound = `None`) + GetTags by ARN.
//! 2. attributes: description, tags; both in place (UpdateDatabase,
//!    TagResource/UntagResource). The name forces a replacement.
//! 3. delete: DeleteDatabase; EntityNotFound means done.
//!
//! Table contract:
//! 1. read: GetTable; EntityNotFound (table or database) = `None`. Or,
//!    in a plan of several in a database, its GetTables (`prefetch`).
//! 2. Glue tables cannot be tagged: a table is owned through the deployment
//!    record (or its database).
//! 3. attributes: location, format (SerDe and input/output formats),
//!    columns, partition_keys, description, projection (the Athena
//!    partition projection parameters). All in place through
//!    UpdateTable, which replaces the whole definition, so the whole
//!    TableInput is sent. The name forces a replacement.
//! 4. delete: DeleteTable; EntityNotFound means done.

use super::cfn::{self, Part};
use super::{
    gone_if_absent, to_attrs, Attrs, Base, Deleted, Meta, Observed, Owner, Progress, Resource, Tags, TAG_PIPELINE,
};
use crate::aws::Outcome;
use crate::aws::{Aws, AwsError};
use crate::names::{Scope, TableId};
use crate::plan::Address;
use crate::spec::{self, TableFormat};
use crate::{gone, send};
use async_trait::async_trait;
use aws_sdk_glue::types::{Column, DatabaseInput, SerDeInfo, StorageDescriptor, TableInput};
use serde::Serialize;

/// What the diff compares of a database.
#[derive(Serialize)]
struct DatabaseAttributes {
    description: String,
    tags: Tags,
}

/// What the diff compares of a table: columns as `[name, type]` pairs.
#[derive(Serialize)]
struct TableAttributes {
    location: String,
    format: String,
    columns: Vec<(String, String)>,
    partition_keys: Vec<(String, String)>,
    description: String,
    /// Athena partition projection (`projection.*` and
    /// `storage.location.template` parameters).
    projection: std::collections::BTreeMap<String, String>,
}

pub struct Database {
    pub(super) base: Base,
    arn: String,
    spec: Option<spec::Database>,
}

impl Database {
    pub fn new(address: Address, name: String, spec: Option<spec::Database>, scope: &Scope, meta: &Meta) -> Self {
        let arn = scope.glue_database(&name).to_string();
        Database { base: Base::new(address, name, meta), arn, spec }
    }

    fn input(&self) -> DatabaseInput {
        let s = self.spec.as_ref().expect("needs a spec");
        DatabaseInput::builder().name(&self.base.name).set_description(s.description.clone()).build().expect("name set")
    }
}

#[async_trait]
impl Resource for Database {
    /// CloudFormation cannot tag a Glue database: the stack owns it.
    fn cloudformation(&self, _cx: &cfn::Context) -> Result<Vec<Part>, String> {
        let Some(s) = &self.spec else { return Ok(Vec::new()) };
        let mut input = serde_json::json!({ "Name": self.base.name });
        if let Some(d) = &s.description {
            input["Description"] = d.clone().into();
        }
        let props = serde_json::json!({ "CatalogId": cfn::ACCOUNT, "DatabaseInput": input });
        Ok(vec![Part::new("AWS::Glue::Database", props)])
    }
    fn desired(&self) -> Option<Attrs> {
        let description = self.spec.as_ref()?.description.clone().unwrap_or_default();
        Some(to_attrs(&DatabaseAttributes { description, tags: self.base.tags.clone() }))
    }

    async fn read(&self, aws: &Aws) -> Result<Option<Observed>, AwsError> {
        let describe = async {
            let out = send!("GetDatabase", aws.glue.get_database().name(&self.base.name)).found()?;
            Ok(out.and_then(|o| o.database().cloned()))
        };
        let tags = async {
            let out = send!("GetTags", aws.glue.get_tags().resource_arn(&self.arn))?;
            Ok(out.tags().cloned().unwrap_or_default().into_iter().collect())
        };
        let Some((db, tags)) = super::with_tags(aws, &self.arn, describe, tags).await? else {
            return Ok(None);
        };
        let description = db.description().unwrap_or_default().to_string();
        Ok(Some(Observed::of(&DatabaseAttributes { description, tags: tags.clone() }, Some(tags))))
    }

    async fn create(&self, aws: &Aws, _p: &Progress) -> Result<(), AwsError> {
        let out = send!(
            "CreateDatabase",
            aws.glue
                .create_database()
                .database_input(self.input())
                .set_tags(Some(self.base.tags.clone().into_iter().collect()))
        );
        match out {
            Ok(_) => Ok(()),
            // An earlier attempt whose answer was lost, if it is ours.
            Err(e) if e.code.as_deref() == Some("AlreadyExistsException") => {
                super::adopt_earlier_attempt(self, aws).await
            }
            Err(e) => Err(e),
        }
    }

    async fn update(&self, aws: &Aws, _before: &Observed, changed: &[String], _p: &Progress) -> Result<(), AwsError> {
        if changed.iter().any(|c| c == "description") {
            send!("UpdateDatabase", aws.glue.update_database().name(&self.base.name).database_input(self.input()))?;
        }
        Ok(())
    }

    async fn add_tags(&self, aws: &Aws, set: &Tags) -> Result<(), AwsError> {
        send!(
            "TagResource",
            aws.glue.tag_resource().resource_arn(&self.arn).set_tags_to_add(Some(set.clone().into_iter().collect()))
        )?;
        Ok(())
    }

    async fn remove_tags(&self, aws: &Aws, remove: &[String]) -> Result<(), AwsError> {
        gone!(
            "UntagResource",
            aws.glue.untag_resource().resource_arn(&self.arn).set_tags_to_remove(Some(remove.to_vec()))
        )?;
        Ok(())
    }

    /// Deleting a database drops every table in it: one holding a table
    /// that is not this deployment's (no marker of ours) is kept.
    async fn delete(&self, aws: &Aws, _p: &Progress) -> Result<Deleted, AwsError> {
        let owner = self.base.meta.owner();
        let mut foreign = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let req = aws.glue.get_tables().database_name(&self.base.name).set_next_token(token.clone());
            let Some(page) = send!("GetTables", req).found()? else { break };
            for t in page.table_list() {
                let marker = table_marker(t.parameters(), &owner);
                if !owner.owns_tags(&marker) {
                    foreign.push(t.name().to_string());
                }
            }
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
        if !foreign.is_empty() {
            return Ok(Deleted::Retained(format!(
                "Glue database `{}` holds tables pipectl did not make ({}); deleting it would drop them: kept",
                self.base.name,
                foreign.join(", ")
            )));
        }
        gone_if_absent(gone!("DeleteDatabase", aws.glue.delete_database().name(&self.base.name)))
    }
}

/// The ownership marker in a table's parameters, as tags, with another
/// tool's marks found there (a crawler's); a table from before the
/// marker named its deployment (`pipectl:managed`) counts as `owner`'s,
/// without a region (the record decides, see [`Owner::owns`]).
fn table_marker(params: Option<&std::collections::HashMap<String, String>>, owner: &Owner) -> Tags {
    let mut marker: Tags = params
        .into_iter()
        .flatten()
        .filter(|(k, v)| Owner::TAGS.contains(&k.as_str()) || crate::plan::foreign::marks(k, v).is_some())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if !marker.contains_key(TAG_PIPELINE) && params.and_then(|p| p.get(LEGACY_MARKER)).is_some_and(|v| v == "true") {
        marker.extend(owner.tags_without_region());
    }
    marker
}

/// A sample Athena query of the table (today's partitions, when its
/// partitions are projected), and the repair it needs first when they are
/// not.
fn athena(id: &TableId, s: &TableSpec, now: std::time::SystemTime) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    let table = format!("\"{}\".\"{}\"", id.database, id.table);
    if !s.table.partition_keys.is_empty() && s.projection.is_empty() {
        out.push(("athena_repair", format!("MSCK REPAIR TABLE {table};")));
    }
    // `2026-11-29T21:40:00Z`: the year, month and day of today (UTC).
    let today = humantime::format_rfc3339_seconds(now).to_string();
    let (year, month, day) = (&today[0..4], &today[5..7], &today[8..10]);
    let filters: Vec<String> = s
        .table
        .partition_keys
        .iter()
        .filter_map(|(k, _)| {
            let p = |x: &str| s.projection.get(&format!("projection.{k}.{x}")).map(String::as_str);
            let value = match (p("type"), p("format"), p("range")) {
                (Some("date"), Some(f), _) => f.replace("yyyy", year).replace("MM", month).replace("dd", day),
                (Some("integer"), _, Some("1,12")) => month.to_string(),
                (Some("integer"), _, Some("1,31")) => day.to_string(),
                _ => return None,
            };
            (!value.contains(|c: char| c.is_ascii_alphabetic())).then(|| format!("{k} = '{value}'"))
        })
        .collect();
    let filter = if filters.is_empty() { String::new() } else { format!(" WHERE {}", filters.join(" AND ")) };
    out.push(("athena", format!("SELECT * FROM {table}{filter} LIMIT 10;")));
    out
}

/// Whether a table parameter belongs to partition projection: pipectl sets
/// them all from the spec (`resolve::projection`).
fn is_projection_parameter(key: &str) -> bool {
    key.starts_with("projection.") || key == "storage.location.template"
}

/// The table parameter that marked pipectl's tables before the marker named
/// the deployment.
const LEGACY_MARKER: &str = "pipectl:managed";

/// The spec's table with its bucket's physical name.
#[derive(Debug, Clone)]
pub struct TableSpec {
    pub table: spec::Table,
    pub bucket: String,
    /// Partition projection parameters (see `resolve::projection`).
    pub projection: std::collections::BTreeMap<String, String>,
}

pub struct Table {
    pub(super) base: Base,
    id: TableId,
    spec: Option<TableSpec>,
}

/// SerDe library, input format and output format of a table format.
pub fn formats(f: TableFormat) -> (&'static str, &'static str, &'static str) {
    match f {
        TableFormat::Parquet => (
            "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
            "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
            "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
        ),
        TableFormat::Orc => (
            "org.apache.hadoop.hive.ql.io.orc.OrcSerde",
            "org.apache.hadoop.hive.ql.io.orc.OrcInputFormat",
            "org.apache.hadoop.hive.ql.io.orc.OrcOutputFormat",
        ),
        TableFormat::Json => (
            "org.openx.data.jsonserde.JsonSerDe",
            "org.apache.hadoop.mapred.TextInputFormat",
            "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
        ),
    }
}

fn format_of_serde(lib: &str) -> &'static str {
    [TableFormat::Parquet, TableFormat::Orc, TableFormat::Json]
        .into_iter()
        .find(|f| formats(*f).0 == lib)
        .map_or("unknown", TableFormat::as_str)
}

fn columns(cols: &[(String, String)]) -> Vec<Column> {
    cols.iter().map(|(n, t)| Column::builder().name(n).r#type(t).build().expect("name set")).collect()
}

impl Table {
    pub fn new(address: Address, id: TableId, spec: Option<TableSpec>, meta: &Meta) -> Self {
        Table { base: Base::new(address, id.table.clone(), meta), id, spec }
    }

    fn location(s: &TableSpec) -> String {
        format!("s3://{}/{}", s.bucket, s.table.prefix)
    }

    /// The table parameters every table has, and pipectl's ownership
    /// marker: Glue tables cannot be tagged.
    fn marker_parameters(&self) -> std::collections::HashMap<String, String> {
        let s = self.spec.as_ref().expect("needs a spec");
        let mut p: std::collections::HashMap<String, String> =
            [("classification", s.table.format.as_str()), ("EXTERNAL", "TRUE"), ("has_encrypted_data", "false")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
        p.extend(self.base.meta.owner().tags());
        p.extend(s.projection.clone());
        p
    }

    /// What a read observes of the live table (from GetTable or its
    /// database's GetTables).
    fn observed(&self, t: &aws_sdk_glue::types::Table) -> Observed {
        let sd = t.storage_descriptor();
        let cols = |c: &[Column]| -> Vec<(String, String)> {
            c.iter().map(|c| (c.name().to_string(), c.r#type().unwrap_or_default().to_string())).collect()
        };
        let serde = sd.and_then(|s| s.serde_info()).and_then(|s| s.serialization_library()).unwrap_or_default();
        let attrs = TableAttributes {
            location: sd.and_then(|s| s.location()).unwrap_or_default().to_string(),
            format: format_of_serde(serde).to_string(),
            columns: cols(sd.map(|s| s.columns()).unwrap_or_default()),
            partition_keys: cols(t.partition_keys()),
            description: t.description().unwrap_or_default().to_string(),
            projection: t
                .parameters()
                .into_iter()
                .flatten()
                .filter(|(k, _)| is_projection_parameter(k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        };
        let marker = table_marker(t.parameters(), &self.base.meta.owner());
        Observed::marked(&attrs, marker)
    }

    fn input(&self) -> TableInput {
        let s = self.spec.as_ref().expect("needs a spec");
        let (serde, input, output) = formats(s.table.format);
        let sd = StorageDescriptor::builder()
            .set_columns(Some(columns(&s.table.columns)))
            .location(Table::location(s))
            .input_format(input)
            .output_format(output)
            .serde_info(SerDeInfo::builder().serialization_library(serde).build())
            .build();
        TableInput::builder()
            .name(&self.base.name)
            .set_description(s.table.description.clone())
            .table_type("EXTERNAL_TABLE")
            .set_parameters(Some(self.marker_parameters()))
            .storage_descriptor(sd)
            .set_partition_keys(Some(columns(&s.table.partition_keys)))
            .build()
            .expect("name set")
    }
}

#[async_trait]
impl Resource for Table {
    /// The live table, with the marker among its parameters.
    async fn adopt(&self, aws: &Aws) -> Result<(), AwsError> {
        let out = send!("GetTable", aws.glue.get_table().database_name(&self.id.database).name(&self.base.name))?;
        let Some(t) = out.table() else { return Ok(()) };
        let mut params = t.parameters().cloned().unwrap_or_default();
        params.extend(self.base.meta.owner().tags());
        let input = TableInput::builder()
            .name(t.name())
            .set_description(t.description().map(str::to_string))
            .set_table_type(t.table_type().map(str::to_string))
            .set_parameters(Some(params))
            .set_storage_descriptor(t.storage_descriptor().cloned())
            .set_partition_keys(Some(t.partition_keys().to_vec()))
            .build()
            .expect("name set");
        send!("UpdateTable", aws.glue.update_table().database_name(&self.id.database).table_input(input)).map(drop)
    }
    fn cloudformation(&self, _cx: &cfn::Context) -> Result<Vec<Part>, String> {
        let Some(s) = &self.spec else { return Ok(Vec::new()) };
        let (serde, input, output) = formats(s.table.format);
        let cols = |c: &[(String, String)]| -> Vec<serde_json::Value> {
            c.iter().map(|(n, t)| serde_json::json!({ "Name": n, "Type": t })).collect()
        };
        let params: std::collections::BTreeMap<String, String> = self.marker_parameters().into_iter().collect();
        let mut table = serde_json::json!({
            "Name": self.base.name,
            "TableType": "EXTERNAL_TABLE",
            "Parameters": params,
            "PartitionKeys": cols(&s.table.partition_keys),
            "StorageDescriptor": {
                "Columns": cols(&s.table.columns),
                "Location": Table::location(s),
                "InputFormat": input,
                "OutputFormat": output,
                "SerdeInfo": { "SerializationLibrary": serde },
            },
        });
        if let Some(d) = &s.table.description {
            table["Description"] = d.clone().into();
        }
        let props =
            serde_json::json!({ "CatalogId": cfn::ACCOUNT, "DatabaseName": self.id.database, "TableInput": table });
        Ok(vec![Part::new("AWS::Glue::Table", props).retain(s.table.protect)])
    }
    fn deletes_data(&self) -> bool {
        true
    }
    fn protected(&self) -> bool {
        self.spec.as_ref().is_some_and(|s| s.table.protect)
    }
    fn record_name(&self) -> String {
        self.id.to_record()
    }
    fn desired(&self) -> Option<Attrs> {
        let s = self.spec.as_ref()?;
        Some(to_attrs(&TableAttributes {
            location: Table::location(s),
            format: s.table.format.as_str().to_string(),
            columns: s.table.columns.clone(),
            partition_keys: s.table.partition_keys.clone(),
            description: s.table.description.clone().unwrap_or_default(),
            projection: s.projection.clone(),
        }))
    }

    async fn read(&self, aws: &Aws) -> Result<Option<Observed>, AwsError> {
        // From the plan's listing of its database when it holds the table
        // (its marker, among its parameters, says whose it is either way).
        if let Some(t) = aws.known.tables.get(&self.id.to_record()) {
            return Ok(Some(self.observed(&t)));
        }
        let t = match send!("GetTable", aws.glue.get_table().database_name(&self.id.database).name(&self.base.name))
            .found()?
        {
            Some(o) => o.table().cloned(),
            None => return Ok(None),
        };
        let Some(t) = t else { return Ok(None) };
        Ok(Some(self.observed(&t)))
    }

    async fn create(&self, aws: &Aws, p: &Progress) -> Result<(), AwsError> {
        let out =
            send!("CreateTable", aws.glue.create_table().database_name(&self.id.database).table_input(self.input()));
        match out {
            Ok(_) => Ok(()),
            // An earlier attempt whose answer was lost made it (with this
            // deployment's marker, set in the same call): make it match.
            // Any other table of that name is left alone.
            Err(e) if e.code.as_deref() == Some("AlreadyExistsException") => {
                let owner = self.base.meta.owner();
                match self.read(aws).await? {
                    Some(o) if o.marker.as_ref().is_some_and(|m| owner.owns_tags(m)) => {
                        self.update(aws, &o, &[], p).await
                    }
                    Some(o) => Err(AwsError::fatal(
                        "CreateTable",
                        format!("`{}`: {}", self.id.to_record(), owner.conflict_reason(&o)),
                    )),
                    None => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }

    async fn update(&self, aws: &Aws, _before: &Observed, _changed: &[String], _p: &Progress) -> Result<(), AwsError> {
        send!("UpdateTable", aws.glue.update_table().database_name(&self.id.database).table_input(self.input()))
            .map(drop)
    }

    async fn outputs(&self, _aws: &Aws) -> Result<Vec<(&'static str, String)>, AwsError> {
        let Some(s) = &self.spec else { return Ok(Vec::new()) };
        Ok(athena(&self.id, s, std::time::SystemTime::now()))
    }

    async fn delete(&self, aws: &Aws, _p: &Progress) -> Result<Deleted, AwsError> {
        gone_if_absent(gone!(
            "DeleteTable",
            aws.glue.delete_table().database_name(&self.id.database).name(&self.base.name)
        ))
    }
}
