//! Parquet as a Firehose writes it (Hive's Parquet SerDe, the Glue table's
//! columns and types, SNAPPY, GZIP or UNCOMPRESSED): the canary searched in
//! its rows, and the file written again without them.
//!
//! 1. The object is checked before it is parsed: at most
//!    [`MAX_OBJECT_BYTES`], `PAR1` at both ends; then the footer is read.
//! 2. The columns a canary can be in are the leaves (at any nesting) that
//!    are strings (`BYTE_ARRAY` annotated `STRING`/`UTF8`) or plain signed
//!    64-bit integers (`INT64` without annotation or annotated as such; a
//!    timestamp, time or decimal stored as `INT64` is not one). Only those
//!    are decoded to search, one row group at a time.
//! 3. The rewrite keeps the schema exactly as the file has it (the writer is
//!    given the file's own schema, so `int96` timestamps stay `int96`), the
//!    file's key-value metadata and each column's codec. A row group without
//!    a canary is copied byte for byte; one with a canary is decoded in full
//!    and written again without those rows (data page v1, what every reader
//!    of Firehose's output reads); one holding only canaries is left out.
//!    Bloom filters and page indexes are not carried over, and `created_by`
//!    names the writer that wrote the new file.
//! 4. Memory: one column of one row group decoded at a time, at most
//!    [`MAX_ROWS`] rows in the file, and a row group refused when the file's
//!    metadata says its columns exceed [`MAX_DECODED_BYTES`]. That metadata
//!    is made to hold before the reader sees a page: every page of a chunk
//!    is checked to decompress to no more than its header declares, and the
//!    headers to declare no more than the chunk ([`super::pages`]).
//!    Malformed data is an `Err`; those checks and the reader's own come
//!    first, and a panic inside the reader is caught and reported as one.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Once};

use bytes::Bytes;
use parquet::basic::{ConvertedType, LogicalType, Type as PhysicalType};
use parquet::column::writer::ColumnCloseResult;
use parquet::file::metadata::RowGroupMetaData;
use parquet::file::properties::{WriterProperties, WriterVersion};
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::file::writer::{SerializedFileWriter, SerializedRowGroupWriter};
use parquet::schema::types::ColumnDescriptor;

use super::levels::{self, Decoded};
use super::pages;
use super::{Needle, MAX_OBJECT_BYTES};

/// The uncompressed size, as the file's metadata states it, of the columns
/// decoded at once (one row group's).
pub const MAX_DECODED_BYTES: i64 = 1 << 30;

/// The rows of one object: a Firehose buffer of 128 MiB holds at most
/// 32 Mi records of 4 bytes, the smallest a record with a column can be.
pub const MAX_ROWS: i64 = 1 << 25;

const MAGIC: &[u8; 4] = b"PAR1";

/// The canaries (by index into `needles`) found in a Parquet file's rows,
/// and how many rows it has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParquetFound {
    pub found: BTreeSet<usize>,
    pub rows: usize,
}

/// A Parquet file written again without the canaries' rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rewritten {
    /// The new file (a valid Parquet file even when `kept` is 0).
    pub bytes: Vec<u8>,
    /// Rows removed: those that held a canary.
    pub removed: usize,
    /// Rows kept: 0 means the object should be deleted rather than written.
    pub kept: usize,
}

/// The canaries (by index into `needles`) found in a Parquet file's rows,
/// and how many rows it has.
pub fn parquet_find(bytes: &[u8], needles: &[Needle]) -> Result<ParquetFound, String> {
    guarded(|| {
        let file = Opened::open(bytes)?;
        let mut found = BTreeSet::new();
        let mut rows = 0usize;
        for group in 0..file.groups() {
            rows += file.rows(group);
            if found.len() < needles.len() {
                file.scan(group, needles, |_, needle| {
                    found.insert(needle);
                })?;
            }
        }
        Ok(ParquetFound { found, rows })
    })
}

/// The same file without the rows that hold any of the canaries: `Ok(None)`
/// when no row matched; `Ok(Some(Rewritten { bytes, removed, kept }))`
/// otherwise (`kept == 0` means the caller should delete the object rather
/// than write an empty file). The rewrite keeps the file's schema (the Glue
/// table's columns as Firehose wrote them), its key-value metadata and its
/// compression codec.
pub fn parquet_without(bytes: &[u8], needles: &[Needle]) -> Result<Option<Rewritten>, String> {
    guarded(|| {
        let file = Opened::open(bytes)?;
        let mut removals = Vec::with_capacity(file.groups());
        let (mut removed, mut total) = (0usize, 0usize);
        for group in 0..file.groups() {
            let mut remove = vec![false; file.rows(group)];
            file.scan(group, needles, |row, _| remove[row] = true)?;
            removed += remove.iter().filter(|r| **r).count();
            total += remove.len();
            removals.push(remove);
        }
        if removed == 0 {
            return Ok(None);
        }
        let schema = file.reader.metadata().file_metadata().schema_descr().root_schema_ptr();
        let mut writer =
            SerializedFileWriter::new(Vec::new(), schema, Arc::new(file.properties())).map_err(|e| e.to_string())?;
        for (group, remove) in removals.iter().enumerate() {
            let gone = remove.iter().filter(|r| **r).count();
            if gone == remove.len() {
                continue;
            }
            let mut out = writer.next_row_group().map_err(|e| e.to_string())?;
            if gone == 0 {
                file.copy(group, &mut out)?;
            } else {
                file.rewrite(group, remove, &mut out)?;
            }
            out.close().map_err(|e| format!("row group {group}: {e}"))?;
        }
        let bytes = writer.into_inner().map_err(|e| e.to_string())?;
        Ok(Some(Rewritten { bytes, removed, kept: total - removed }))
    })
}

thread_local! {
    /// Whether this thread is inside [`guarded`], and the message of a panic there.
    static GUARD: RefCell<Option<Option<String>>> = const { RefCell::new(None) };
}

/// `work`, with a panic inside the Parquet reader turned into an `Err` that
/// carries its message and place, and not printed: the panic hook (the one
/// before, for every other panic) keeps quiet on a thread inside `guarded`.
pub(super) fn guarded<T>(work: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    static QUIET_HOOK: Once = Once::new();
    QUIET_HOOK.call_once(|| {
        let before = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let inside = GUARD.with(|guard| match guard.try_borrow_mut() {
                Ok(mut guard) => guard.as_mut().map(|message| *message = Some(info.to_string())).is_some(),
                Err(_) => false,
            });
            if !inside {
                before(info)
            }
        }));
    });
    let outer = GUARD.with(|guard| guard.replace(Some(None)));
    let result = catch_unwind(AssertUnwindSafe(work));
    let message = GUARD.with(|guard| guard.replace(outer)).flatten();
    result.unwrap_or_else(|_| {
        let why = message.unwrap_or_else(|| "no message".into());
        Err(format!("the Parquet reader stopped on malformed data: {why}"))
    })
}

/// Whether a canary can be in this column.
fn searched(column: &ColumnDescriptor) -> bool {
    let (logical, converted) = (column.logical_type_ref(), column.converted_type());
    match column.physical_type() {
        PhysicalType::BYTE_ARRAY => {
            matches!(logical, Some(LogicalType::String)) || (logical.is_none() && converted == ConvertedType::UTF8)
        }
        PhysicalType::INT64 => match logical {
            Some(LogicalType::Integer(int)) => int.bit_width == 64 && int.is_signed,
            Some(_) => false,
            None => matches!(converted, ConvertedType::NONE | ConvertedType::INT_64),
        },
        _ => false,
    }
}

/// A Parquet file whose footer has been read.
struct Opened {
    data: Bytes,
    reader: SerializedFileReader<Bytes>,
    /// The leaf columns a canary can be in, by index.
    searched: Vec<usize>,
}

impl Opened {
    fn open(bytes: &[u8]) -> Result<Opened, String> {
        if bytes.len() > MAX_OBJECT_BYTES {
            return Err(format!(
                "the object is {} MiB; verify opens Parquet objects of at most {} MiB (a Firehose writes at most 128 MiB)",
                bytes.len() >> 20,
                MAX_OBJECT_BYTES >> 20
            ));
        }
        if !bytes.starts_with(MAGIC) {
            return Err("not a Parquet file: it does not begin with `PAR1`".into());
        }
        if bytes.len() < 12 || !bytes.ends_with(MAGIC) {
            return Err(format!(
                "not a whole Parquet file: it begins with `PAR1` but does not end with `PAR1` ({} bytes: \
                 truncated, or its footer is encrypted)",
                bytes.len()
            ));
        }
        let data = Bytes::copy_from_slice(bytes);
        let reader = SerializedFileReader::new(data.clone()).map_err(|e| format!("unreadable Parquet footer: {e}"))?;
        let len = i64::try_from(bytes.len()).unwrap_or(i64::MAX);
        let leaves = reader.metadata().file_metadata().schema_descr().num_columns();
        let mut rows = 0i64;
        for (g, group) in reader.metadata().row_groups().iter().enumerate() {
            if group.num_columns() != leaves {
                return Err(format!("row group {g} has {} columns where the schema has {leaves}", group.num_columns()));
            }
            rows = rows.saturating_add(group.num_rows());
            if group.num_rows() < 0 || rows > MAX_ROWS {
                return Err(format!(
                    "the row groups declare {} rows or more; verify opens objects of at most {MAX_ROWS} rows \
                     (what 128 MiB of the smallest records makes)",
                    rows.max(group.num_rows())
                ));
            }
            for column in group.columns() {
                let start = column.dictionary_page_offset().unwrap_or(column.data_page_offset());
                let (size, data) = (column.compressed_size(), column.data_page_offset());
                if start < 0 || data < start || size < 0 || start.checked_add(size).is_none_or(|end| end > len) {
                    return Err(format!(
                        "row group {g}, column `{}`: its pages lie outside the file's {len} bytes",
                        column.column_path()
                    ));
                }
            }
        }
        let schema = reader.metadata().file_metadata().schema_descr();
        let searched = (0..schema.num_columns()).filter(|&c| searched(schema.column(c).as_ref())).collect();
        Ok(Opened { data, reader, searched })
    }

    fn groups(&self) -> usize {
        self.reader.metadata().num_row_groups()
    }

    fn group(&self, group: usize) -> &RowGroupMetaData {
        self.reader.metadata().row_group(group)
    }

    /// A row group's rows (checked by [`Opened::open`]: from 0 to [`MAX_ROWS`]).
    fn rows(&self, group: usize) -> usize {
        usize::try_from(self.group(group).num_rows()).unwrap_or(0)
    }

    /// Whether the metadata keeps the given columns of a row group within
    /// [`MAX_DECODED_BYTES`].
    fn check_size(&self, group: usize, columns: &[usize]) -> Result<(), String> {
        let meta = self.group(group);
        let mut size = 0i64;
        for &c in columns {
            let column = meta.column(c);
            let column_size = column.uncompressed_size();
            if column_size < 0 {
                return Err(format!("row group {group}, column `{}`: size {column_size}", column.column_path()));
            }
            size = size.saturating_add(column_size);
        }
        if size > MAX_DECODED_BYTES {
            return Err(format!(
                "row group {group} holds {} MiB uncompressed in the columns read; verify decodes at most {} MiB at once",
                size >> 20,
                MAX_DECODED_BYTES >> 20
            ));
        }
        Ok(())
    }

    /// Every entry of one column of a row group: one column is decoded at
    /// a time, and dropped before the next; its pages are checked first
    /// ([`pages::check_chunk`]) so that none decompresses beyond its
    /// declared size.
    fn decode(&self, group: usize, c: usize) -> Result<Decoded, String> {
        let meta = self.group(group).column(c);
        let descr = meta.column_descr();
        let context = |e: String| format!("row group {group}, column `{}`: {e}", descr.path());
        let most = levels::max_entries(self.rows(group), descr.max_rep_level());
        pages::check_chunk(&self.data, meta, most).map_err(context)?;
        let reader = self.reader.get_row_group(group).map_err(|e| context(e.to_string()))?;
        let column = reader.get_column_reader(c).map_err(|e| context(e.to_string()))?;
        Decoded::read(column, descr.max_def_level(), descr.max_rep_level(), self.rows(group)).map_err(context)
    }

    /// Calls `hit(row, needle)` for each canary value in a row group.
    fn scan(&self, group: usize, needles: &[Needle], mut hit: impl FnMut(usize, usize)) -> Result<(), String> {
        if needles.is_empty() {
            return Ok(());
        }
        self.check_size(group, &self.searched)?;
        for &c in &self.searched {
            let path = self.group(group).column(c).column_path();
            let decoded = self.decode(group, c)?;
            decoded
                .scan(self.rows(group), needles, &mut hit)
                .map_err(|e| format!("row group {group}, column `{path}`: {e}"))?;
        }
        Ok(())
    }

    /// The writer's settings that keep what the file had: its key-value
    /// metadata and each column's codec.
    fn properties(&self) -> WriterProperties {
        let meta = self.reader.metadata();
        let mut builder = WriterProperties::builder()
            .set_writer_version(WriterVersion::PARQUET_1_0)
            .set_key_value_metadata(meta.file_metadata().key_value_metadata().cloned());
        if let Some(first) = meta.row_groups().first() {
            if let Some(column) = first.columns().first() {
                builder = builder.set_compression(column.compression());
            }
            for column in first.columns() {
                builder = builder.set_column_compression(column.column_path().clone(), column.compression());
            }
        }
        builder.build()
    }

    /// A row group copied as it is, column chunk by column chunk.
    fn copy(&self, group: usize, out: &mut SerializedRowGroupWriter<'_, Vec<u8>>) -> Result<(), String> {
        let meta = self.group(group);
        for column in meta.columns() {
            let close = ColumnCloseResult {
                bytes_written: u64::try_from(column.compressed_size()).unwrap_or(0),
                rows_written: self.rows(group) as u64,
                metadata: column.clone(),
                bloom_filter: None,
                column_index: None,
                offset_index: None,
            };
            out.append_column(&self.data, close)
                .map_err(|e| format!("row group {group}, column `{}`: {e}", column.column_path()))?;
        }
        Ok(())
    }

    /// A row group written again without the rows marked in `remove`.
    fn rewrite(
        &self,
        group: usize,
        remove: &[bool],
        out: &mut SerializedRowGroupWriter<'_, Vec<u8>>,
    ) -> Result<(), String> {
        let all: Vec<usize> = (0..self.group(group).num_columns()).collect();
        self.check_size(group, &all)?;
        for c in all {
            let decoded = self.decode(group, c)?;
            let path = self.group(group).column(c).column_path();
            let context = |e: String| format!("row group {group}, column `{path}`: {e}");
            let mut column = out
                .next_column()
                .map_err(|e| context(e.to_string()))?
                .ok_or_else(|| context("the schema has fewer columns than the row group".into()))?;
            decoded.write(remove, column.untyped()).map_err(context)?;
            column.close().map_err(|e| context(e.to_string()))?;
        }
        Ok(())
    }
}
