//! The canary in the columnar objects a Firehose writes when it converts
//! records (`convert: { format: parquet | orc }`): found by its values, not
//! by an object merely arriving, and removed again by `verify --clean`.
//!
//! A canary is recognised in a row by its string id (`pipectl-canary-…`,
//! equal to a value of any string column) or by its number (a negative
//! 64-bit integer, equal to a value of any plain 64-bit integer column),
//! whichever of the two the table's columns can hold. Timestamps, 32-bit
//! integers, floating point and decimals are never compared.
//!
//! Everything here is pure: bytes in (an S3 object's body, which may be
//! anything), an answer or an `Err` with the reason out; never a panic.
//!
//! Memory is bounded whatever the bytes: the object (at most
//! [`MAX_OBJECT_BYTES`]) and one copy of it, plus one column chunk at a
//! time: its decompressed pages, at most [`pq::MAX_DECODED_BYTES`] (the
//! declared sizes, which each page is checked to keep before it is
//! decompressed: [`pages`]), and its decoded entries, at most
//! [`pq::MAX_ROWS`] (plus 16 Mi inside a list) of one value and two
//! levels each; a rewrite adds the file it writes.
//!
//! - Parquet ([`parquet_find`], [`parquet_without`]): read through the
//!   `parquet` crate's column readers, every leaf column at any nesting
//!   (a list's elements, a struct's fields); the rewrite keeps the file's
//!   schema as written (Hive's `int96` timestamps included), its key-value
//!   metadata and each column's codec, and copies untouched row groups
//!   byte for byte.
//! - ORC: not read ([`ORC_UNREAD`] says why).

mod levels;
mod pages;
mod pq;
mod thrift;

pub use pq::{parquet_find, parquet_without, ParquetFound, Rewritten};

/// A canary as it can appear in a row: its string id (`pipectl-canary-…`,
/// found in any string column, equal value) and its number (a negative i64,
/// found in any 64-bit integer column).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Needle<'a> {
    pub id: &'a str,
    pub number: i64,
}

/// The largest object opened: Firehose's largest buffer is 128 MiB, so
/// anything four times that is not what a Firehose wrote.
pub const MAX_OBJECT_BYTES: usize = 512 << 20;

/// Why an ORC object is reported as "arrived, content not read".
pub const ORC_UNREAD: &str = "ORC content is not read by pipectl: the one maintained Rust ORC reader \
     (orc-rust) brings the whole Arrow stack, a C build of zstd and a time-zone database (about 110 \
     crates) into a tool that reads Parquet without any of them";

#[cfg(test)]
mod pages_tests;
#[cfg(test)]
mod pq_tests;
