//! Glue database and table.
//!
//! Database contract:
//! 1. read: GetDatabase (EntityNotFound = `None`) + GetTags by ARN.
//! 2. attributes: description, tags; both in place (UpdateDatabase,
//!    TagResource/UntagResource). The name forces a replacement.
//! 3. delete: DeleteDatabase; EntityNotFound means done.
//!
//! Table contract:
//! 1. read: GetTable; EntityNotFound (table or database) = `None`.
//! 2. Glue tables cannot be tagged: a table is owned through the deployment
//!    record (or its database).
//! 3. attributes: location, format (SerDe and input/output formats),
//!    columns, partition_keys, description. All in place through
//!    UpdateTable, which replaces the whole definition, so the whole
//!    TableInput is sent. The name forces a replacement.
//! 4. delete: DeleteTable; EntityNotFound means done.

use super::{gone_if_absent, tags_attr, Attrs, Base, Deleted, Meta, Observed, Progress, Resource, Tags};
use crate::aws::{aws_err, Aws, AwsError};
use crate::names::{Scope, TableId};
use crate::plan::Address;
use crate::spec::{self, TableFormat};
use async_trait::async_trait;
use aws_sdk_glue::types::{Column, DatabaseInput, SerDeInfo, StorageDescriptor, TableInput};
use serde_json::json;
use std::time::Duration;

pub struct Database {
    base: Base,
    arn: String,
    spec: Option<spec::Database>,
}

impl Database {
    pub fn new(address: Address, name: String, spec: Option<spec::Database>, scope: &Scope, meta: &Meta) -> Self {
        let arn = scope.glue_database(&name).to_string();
        Database { base: Base::new(address, name, meta, Duration::from_secs(300)), arn, spec }
    }

    fn input(&self) -> DatabaseInput {
        let s = self.spec.as_ref().expect("needs a spec");
        DatabaseInput::builder().name(&self.base.name).set_description(s.description.clone()).build().expect("name set")
    }
}

#[async_trait]
impl Resource for Database {
    fn base(&self) -> &Base {
        &self.base
    }
    fn desired(&self) -> Option<Attrs> {
        let s = self.spec.as_ref()?;
        Some(Attrs::from([
            ("description".into(), json!(s.description.clone().unwrap_or_default())),
            ("tags".into(), tags_attr(&self.base.tags)),
        ]))
    }

    async fn read(&self, aws: &Aws) -> Result<Option<Observed>, AwsError> {
        let db = match aws.glue.get_database().name(&self.base.name).send().await.map_err(aws_err("GetDatabase")) {
            Ok(o) => o.database().cloned(),
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e),
        };
        let Some(db) = db else { return Ok(None) };
        let tags: Tags = match aws.glue.get_tags().resource_arn(&self.arn).send().await.map_err(aws_err("GetTags")) {
            Ok(o) => o.tags().cloned().unwrap_or_default().into_iter().collect(),
            Err(e) if e.is_not_found() => Tags::new(),
            Err(e) => return Err(e),
        };
        Ok(Some(Observed {
            attrs: Attrs::from([
                ("description".into(), json!(db.description().unwrap_or_default())),
                ("tags".into(), tags_attr(&tags)),
            ]),
            tags: Some(tags),
        }))
    }

    async fn create(&self, aws: &Aws, _p: &Progress) -> Result<(), AwsError> {
        let out = aws
            .glue
            .create_database()
            .database_input(self.input())
            .set_tags(Some(self.base.tags.clone().into_iter().collect()))
            .send()
            .await
            .map_err(aws_err("CreateDatabase"));
        match out {
            Ok(_) => Ok(()),
            Err(e)
                if e.code.as_deref() == Some("AlreadyExistsException")
                    && self.read(aws).await?.is_some_and(|o| o.tags.as_ref().is_some_and(|t| t == &self.base.tags)) =>
            {
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    async fn update(&self, aws: &Aws, _before: &Observed, changed: &[String], _p: &Progress) -> Result<(), AwsError> {
        if changed.iter().any(|c| c == "description") {
            aws.glue
                .update_database()
                .name(&self.base.name)
                .database_input(self.input())
                .send()
                .await
                .map_err(aws_err("UpdateDatabase"))?;
        }
        Ok(())
    }

    async fn write_tags(&self, aws: &Aws, set: &Tags, remove: &[String]) -> Result<(), AwsError> {
        if !set.is_empty() {
            aws.glue
                .tag_resource()
                .resource_arn(&self.arn)
                .set_tags_to_add(Some(set.clone().into_iter().collect()))
                .send()
                .await
                .map_err(aws_err("TagResource"))?;
        }
        if !remove.is_empty() {
            aws.glue
                .untag_resource()
                .resource_arn(&self.arn)
                .set_tags_to_remove(Some(remove.to_vec()))
                .send()
                .await
                .map_err(aws_err("UntagResource"))?;
        }
        Ok(())
    }

    async fn delete(&self, aws: &Aws, _p: &Progress) -> Result<Deleted, AwsError> {
        gone_if_absent(aws.glue.delete_database().name(&self.base.name).send().await.map_err(aws_err("DeleteDatabase")))
    }
}

/// The spec's table with its bucket's physical name.
#[derive(Debug, Clone)]
pub struct TableSpec {
    pub table: spec::Table,
    pub bucket: String,
}

pub struct Table {
    base: Base,
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

fn columns_attr(cols: &[(String, String)]) -> serde_json::Value {
    json!(cols.iter().map(|(n, t)| [n.as_str(), t.as_str()]).collect::<Vec<_>>())
}

impl Table {
    pub fn new(address: Address, id: TableId, spec: Option<TableSpec>, meta: &Meta) -> Self {
        Table { base: Base::new(address, id.table.clone(), meta, Duration::from_secs(300)), id, spec }
    }

    fn location(s: &TableSpec) -> String {
        format!("s3://{}/{}", s.bucket, s.table.prefix)
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
            .parameters("classification", s.table.format.as_str())
            .parameters("EXTERNAL", "TRUE")
            .parameters("has_encrypted_data", "false")
            .parameters("pipectl:managed", "true")
            .storage_descriptor(sd)
            .set_partition_keys(Some(columns(&s.table.partition_keys)))
            .build()
            .expect("name set")
    }
}

#[async_trait]
impl Resource for Table {
    fn base(&self) -> &Base {
        &self.base
    }
    fn record_name(&self) -> String {
        self.id.to_record()
    }
    fn desired(&self) -> Option<Attrs> {
        let s = self.spec.as_ref()?;
        Some(Attrs::from([
            ("location".into(), json!(Table::location(s))),
            ("format".into(), json!(s.table.format.as_str())),
            ("columns".into(), columns_attr(&s.table.columns)),
            ("partition_keys".into(), columns_attr(&s.table.partition_keys)),
            ("description".into(), json!(s.table.description.clone().unwrap_or_default())),
        ]))
    }

    async fn read(&self, aws: &Aws) -> Result<Option<Observed>, AwsError> {
        let t = match aws
            .glue
            .get_table()
            .database_name(&self.id.database)
            .name(&self.base.name)
            .send()
            .await
            .map_err(aws_err("GetTable"))
        {
            Ok(o) => o.table().cloned(),
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e),
        };
        let Some(t) = t else { return Ok(None) };
        let sd = t.storage_descriptor();
        let cols = |c: &[Column]| -> Vec<(String, String)> {
            c.iter().map(|c| (c.name().to_string(), c.r#type().unwrap_or_default().to_string())).collect()
        };
        let attrs = Attrs::from([
            ("location".into(), json!(sd.and_then(|s| s.location()).unwrap_or_default())),
            (
                "format".into(),
                json!(format_of_serde(
                    sd.and_then(|s| s.serde_info()).and_then(|s| s.serialization_library()).unwrap_or_default()
                )),
            ),
            ("columns".into(), columns_attr(&cols(sd.map(|s| s.columns()).unwrap_or_default()))),
            ("partition_keys".into(), columns_attr(&cols(t.partition_keys()))),
            ("description".into(), json!(t.description().unwrap_or_default())),
        ]);
        Ok(Some(Observed { attrs, tags: None }))
    }

    async fn create(&self, aws: &Aws, p: &Progress) -> Result<(), AwsError> {
        let out = aws
            .glue
            .create_table()
            .database_name(&self.id.database)
            .table_input(self.input())
            .send()
            .await
            .map_err(aws_err("CreateTable"));
        match out {
            Ok(_) => Ok(()),
            // The plan saw no table and the record (written first) lists it:
            // an earlier attempt's response was lost. Make it match.
            Err(e) if e.code.as_deref() == Some("AlreadyExistsException") => {
                self.update(aws, &Observed { attrs: Attrs::new(), tags: None }, &[], p).await
            }
            Err(e) => Err(e),
        }
    }

    async fn update(&self, aws: &Aws, _before: &Observed, _changed: &[String], _p: &Progress) -> Result<(), AwsError> {
        aws.glue
            .update_table()
            .database_name(&self.id.database)
            .table_input(self.input())
            .send()
            .await
            .map(|_| ())
            .map_err(aws_err("UpdateTable"))
    }

    async fn delete(&self, aws: &Aws, _p: &Progress) -> Result<Deleted, AwsError> {
        gone_if_absent(
            aws.glue
                .delete_table()
                .database_name(&self.id.database)
                .name(&self.base.name)
                .send()
                .await
                .map_err(aws_err("DeleteTable")),
        )
    }
}
