//! Real Parquet files, written here with the `parquet` crate's writer in the
//! lab tables' schemas, several row groups, every codec a Firehose writes;
//! and one written by another writer (pyarrow), as Hive's SerDe lays it out.

use std::sync::Arc;

use bytes::Bytes;
use parquet::basic::{Compression, GzipLevel, Type as PhysicalType};
use parquet::data_type::{ByteArray, ByteArrayType, DoubleType, Int32Type, Int64Type};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::file::writer::SerializedFileWriter;
use parquet::record::Row;
use parquet::schema::parser::parse_message_type;

use super::{parquet_find, parquet_without, Needle, MAX_OBJECT_BYTES};

/// `nyctaxitrips` of pipelines/lambda-firehose-parquet-glue.yaml (a bigint
/// `trip_id`, doubles, an int, timestamps), as nullable Parquet columns.
const GLUE_TRIPS: &str = "message hive_schema {
    optional double pickup_latitude; optional double pickup_longitude;
    optional double dropoff_latitude; optional double dropoff_longitude;
    optional int64 trip_id; optional double trip_distance; optional int32 passenger_count;
    optional int64 pickup_datetime (TIMESTAMP(MICROS,true)); optional int64 dropoff_datetime (TIMESTAMP(MICROS,true));
    optional double total_amount; }";

/// `nyctaxitrips` of pipelines/lab.yaml (a string `vendor_id`, no bigint).
const LAB_TRIPS: &str = "message hive_schema {
    optional binary vendor_id (STRING);
    optional int64 pickup_datetime (TIMESTAMP(MICROS,true)); optional int64 dropoff_datetime (TIMESTAMP(MICROS,true));
    optional int32 passenger_count; optional double trip_distance; optional double total_amount; }";

const ID: &str = "pipectl-canary-3f2a9c1e";
const NUMBER: i64 = -4611686018427387905;
fn codecs() -> [Compression; 3] {
    [Compression::SNAPPY, Compression::GZIP(GzipLevel::default()), Compression::UNCOMPRESSED]
}

#[derive(Clone, Debug)]
enum Cell {
    Null,
    Double(f64),
    Long(i64),
    Int(i32),
    Text(String),
}
use Cell::*;

/// Writes `rows` in `schema`, `per_group` rows to a row group.
fn write(schema: &str, rows: &[Vec<Cell>], per_group: usize, codec: Compression) -> Vec<u8> {
    let schema = Arc::new(parse_message_type(schema).unwrap());
    let meta = vec![KeyValue::new("writer.time.zone".into(), "UTC".to_string())];
    let props = WriterProperties::builder().set_compression(codec).set_key_value_metadata(Some(meta)).build();
    let mut writer = SerializedFileWriter::new(Vec::new(), schema, Arc::new(props)).unwrap();
    for group in rows.chunks(per_group) {
        let mut out = writer.next_row_group().unwrap();
        let mut c = 0;
        while let Some(mut column) = out.next_column().unwrap() {
            let cells: Vec<&Cell> = group.iter().map(|row| &row[c]).collect();
            let def: Vec<i16> = cells.iter().map(|cell| i16::from(!matches!(cell, Null))).collect();
            match column.untyped() {
                parquet::column::writer::ColumnWriter::DoubleColumnWriter(_) => {
                    let v: Vec<f64> =
                        cells.iter().filter_map(|c| if let Double(x) = c { Some(*x) } else { None }).collect();
                    column.typed::<DoubleType>().write_batch(&v, Some(&def), None).unwrap();
                }
                parquet::column::writer::ColumnWriter::Int64ColumnWriter(_) => {
                    let v: Vec<i64> =
                        cells.iter().filter_map(|c| if let Long(x) = c { Some(*x) } else { None }).collect();
                    column.typed::<Int64Type>().write_batch(&v, Some(&def), None).unwrap();
                }
                parquet::column::writer::ColumnWriter::Int32ColumnWriter(_) => {
                    let v: Vec<i32> =
                        cells.iter().filter_map(|c| if let Int(x) = c { Some(*x) } else { None }).collect();
                    column.typed::<Int32Type>().write_batch(&v, Some(&def), None).unwrap();
                }
                _ => {
                    let v: Vec<ByteArray> = cells
                        .iter()
                        .filter_map(|c| if let Text(x) = c { Some(x.as_str().into()) } else { None })
                        .collect();
                    column.typed::<ByteArrayType>().write_batch(&v, Some(&def), None).unwrap();
                }
            }
            column.close().unwrap();
            c += 1;
        }
        out.close().unwrap();
    }
    writer.into_inner().unwrap()
}

const T0: i64 = 1_714_552_200_000_000; // 2024-05-01T08:30:00Z in microseconds

/// A trip of the Glue lab table; `trip_id` chooses user row or canary.
fn glue_trip(n: i64, trip_id: i64) -> Vec<Cell> {
    let f = n as f64;
    vec![
        Double(40.7 + f / 1000.0),
        Double(-74.0 - f / 1000.0),
        if n % 5 == 0 { Null } else { Double(40.6 + f / 500.0) },
        Double(-73.9),
        Long(trip_id),
        Double(f / 10.0),
        if n % 3 == 0 { Null } else { Int((n % 4) as i32 + 1) },
        Long(T0 + n * 60_000_000),
        if n % 7 == 0 { Null } else { Long(T0 + n * 90_000_000) },
        Double(5.0 + f * 1.25),
    ]
}

/// A trip of the string lab table.
fn lab_trip(n: i64, vendor: &str) -> Vec<Cell> {
    vec![
        Text(vendor.into()),
        Long(T0 + n * 60_000_000),
        if n % 4 == 0 { Null } else { Long(T0 + n * 75_000_000) },
        Int((n % 3) as i32 + 1),
        Double(n as f64 / 3.0),
        if n % 6 == 0 { Null } else { Double(9.5 + n as f64) },
    ]
}

/// 40 user rows with canaries at `canaries` (as indexes among all rows).
fn trips(make: impl Fn(i64, bool) -> Vec<Cell>, canaries: &[usize]) -> Vec<Vec<Cell>> {
    (0..40 + canaries.len()).map(|i| make(i as i64, canaries.contains(&i))).collect()
}

fn glue(n: i64, canary: bool) -> Vec<Cell> {
    glue_trip(n, if canary { NUMBER } else { 1_000_000 + n })
}

fn lab(n: i64, canary: bool) -> Vec<Cell> {
    lab_trip(n, if canary { ID } else { ["CMT", "VTS", "DDS"][n as usize % 3] })
}

fn reader(bytes: &[u8]) -> SerializedFileReader<Bytes> {
    SerializedFileReader::new(Bytes::copy_from_slice(bytes)).unwrap()
}

fn rows(bytes: &[u8]) -> Vec<Row> {
    reader(bytes).get_row_iter(None).unwrap().map(|r| r.unwrap()).collect()
}

fn needle() -> Needle<'static> {
    Needle { id: ID, number: NUMBER }
}

#[test]
fn found_by_string_id() {
    let file = write(LAB_TRIPS, &trips(lab, &[17]), 10, Compression::SNAPPY);
    let found = parquet_find(&file, &[needle()]).unwrap();
    assert_eq!(found.found.into_iter().collect::<Vec<_>>(), vec![0]);
    assert_eq!(found.rows, 41);
}

#[test]
fn found_by_number() {
    let file = write(GLUE_TRIPS, &trips(glue, &[3, 35]), 8, Compression::GZIP(GzipLevel::default()));
    let only_number = Needle { id: "pipectl-canary-not-in-this-table", number: NUMBER };
    let found = parquet_find(&file, &[only_number]).unwrap();
    assert_eq!(found.found.into_iter().collect::<Vec<_>>(), vec![0]);
    assert_eq!(found.rows, 42);
}

#[test]
fn not_found() {
    for codec in codecs() {
        for file in [write(GLUE_TRIPS, &trips(glue, &[]), 8, codec), write(LAB_TRIPS, &trips(lab, &[]), 8, codec)] {
            let found = parquet_find(&file, &[needle()]).unwrap();
            assert!(found.found.is_empty(), "{codec:?}");
            assert_eq!(found.rows, 40);
        }
    }
}

#[test]
fn two_canaries_one_found() {
    let file = write(GLUE_TRIPS, &trips(glue, &[22]), 8, Compression::UNCOMPRESSED);
    let absent = Needle { id: "pipectl-canary-absent", number: -9 };
    let found = parquet_find(&file, &[absent, needle()]).unwrap();
    assert_eq!(found.found.into_iter().collect::<Vec<_>>(), vec![1]);
}

#[test]
fn a_number_in_a_timestamp_int32_or_double_column_is_not_a_canary() {
    let mut row = glue_trip(1, 7);
    row[7] = Long(NUMBER); // pickup_datetime
    row[6] = Int(-5); // passenger_count
    row[9] = Double(NUMBER as f64); // total_amount
    let file = write(GLUE_TRIPS, &[glue_trip(0, 6), row], 8, Compression::SNAPPY);
    let needles = [needle(), Needle { id: ID, number: -5 }];
    assert!(parquet_find(&file, &needles).unwrap().found.is_empty());
    assert_eq!(parquet_without(&file, &needles).unwrap(), None);
}

#[test]
fn truncated_file_is_an_error() {
    let file = write(GLUE_TRIPS, &trips(glue, &[5]), 8, Compression::SNAPPY);
    let err = parquet_find(&file[..file.len() / 2], &[needle()]).unwrap_err();
    assert!(err.contains("does not end with `PAR1`"), "{err}");
    let err = parquet_without(&file[..file.len() - 1], &[needle()]).unwrap_err();
    assert!(err.contains("does not end with `PAR1`"), "{err}");
    // The magic kept, the footer cut short: the footer's length points outside the file.
    let mut short = file[..file.len() - 200].to_vec();
    short.extend_from_slice(&file[file.len() - 8..]);
    assert!(parquet_find(&short, &[needle()]).is_err());
}

#[test]
fn not_parquet_is_an_error() {
    for bytes in [&b""[..], b"{\"id\":\"pipectl-canary-3f2a9c1e\"}\n", b"\x1f\x8b\x08\x00", b"ORC\x00\x00", b"PAR1PAR1"]
    {
        let err = parquet_find(bytes, &[needle()]).unwrap_err();
        assert!(err.contains("Parquet"), "{err}");
        assert!(parquet_without(bytes, &[needle()]).is_err());
    }
    let mut garbage = b"PAR1".to_vec();
    garbage.extend((0..4096u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8));
    garbage.extend_from_slice(b"PAR1");
    assert!(parquet_find(&garbage, &[needle()]).unwrap_err().contains("footer"));
}

#[test]
fn an_object_over_512_mib_is_refused_before_it_is_read() {
    let huge = vec![0u8; MAX_OBJECT_BYTES + 1];
    let err = parquet_find(&huge, &[needle()]).unwrap_err();
    assert!(err.contains("at most 512 MiB"), "{err}");
}

#[test]
fn every_cut_and_every_flipped_byte_is_an_answer_or_an_error_never_a_panic() {
    let file = write(LAB_TRIPS, &trips(lab, &[2]), 16, Compression::SNAPPY);
    for len in 0..file.len() {
        let _ = parquet_find(&file[..len], &[needle()]);
    }
    for at in 0..file.len() {
        let mut bent = file.clone();
        bent[at] ^= 0xff;
        if parquet_find(&bent, &[needle()]).is_ok() {
            let _ = parquet_without(&bent, &[needle()]);
        }
    }
}

#[test]
fn without_keeps_every_user_row_and_value_and_the_codec() {
    for codec in codecs() {
        for (schema, make) in [(GLUE_TRIPS, glue as fn(i64, bool) -> Vec<Cell>), (LAB_TRIPS, lab)] {
            let canaries = [0, 9, 10, 33];
            let file = write(schema, &trips(make, &canaries), 8, codec);
            let out = parquet_without(&file, &[needle()]).unwrap().unwrap();
            assert_eq!((out.removed, out.kept), (4, 40));
            let expected: Vec<Row> =
                rows(&file).into_iter().enumerate().filter(|(i, _)| !canaries.contains(i)).map(|(_, r)| r).collect();
            assert_eq!(rows(&out.bytes), expected, "{codec:?}");

            let (before, after) = (reader(&file), reader(&out.bytes));
            let (before, after) = (before.metadata(), after.metadata());
            assert_eq!(after.file_metadata().schema(), before.file_metadata().schema());
            assert_eq!(after.file_metadata().key_value_metadata(), before.file_metadata().key_value_metadata());
            // 44 rows in groups of 8: 6 groups, none only canaries.
            assert_eq!(after.num_row_groups(), 6);
            for group in after.row_groups() {
                for column in group.columns() {
                    assert_eq!(
                        std::mem::discriminant(&column.compression()),
                        std::mem::discriminant(&codec),
                        "{}",
                        column.column_path()
                    );
                }
            }
            // A group without a canary is the same bytes as before.
            let chunk = |m: &parquet::file::metadata::ParquetMetaData, bytes: &[u8], g: usize| {
                let c = m.row_group(g).column(0);
                let (start, len) = c.byte_range();
                bytes[start as usize..(start + len) as usize].to_vec()
            };
            assert_eq!(chunk(after, &out.bytes, 2), chunk(before, &file, 2));
            assert_eq!(parquet_find(&out.bytes, &[needle()]).unwrap().found.len(), 0);
        }
    }
}

#[test]
fn without_only_canaries_keeps_none() {
    let file = write(LAB_TRIPS, &[lab(0, true), lab(1, true), lab(2, true)], 2, Compression::SNAPPY);
    let out = parquet_without(&file, &[needle()]).unwrap().unwrap();
    assert_eq!((out.removed, out.kept), (3, 0));
    assert_eq!(reader(&out.bytes).metadata().file_metadata().num_rows(), 0);
}

#[test]
fn without_no_match_is_none() {
    let file = write(GLUE_TRIPS, &trips(glue, &[]), 8, Compression::GZIP(GzipLevel::default()));
    assert_eq!(parquet_without(&file, &[needle()]).unwrap(), None);
    assert_eq!(parquet_without(&file, &[]).unwrap(), None);
}

#[test]
fn a_canary_inside_a_list_is_found_and_its_row_removed() {
    let schema = Arc::new(
        parse_message_type(
            "message m { optional int64 trip_id;
               optional group tags (LIST) { repeated group list { optional binary element (UTF8); } } }",
        )
        .unwrap(),
    );
    let mut writer = SerializedFileWriter::new(Vec::new(), schema, Default::default()).unwrap();
    let mut out = writer.next_row_group().unwrap();
    let mut ids = out.next_column().unwrap().unwrap();
    ids.typed::<Int64Type>().write_batch(&[1, 2, 3], Some(&[1, 1, 1]), None).unwrap();
    ids.close().unwrap();
    // rows: ["a", "b"], [ID, "c"], null
    let mut tags = out.next_column().unwrap().unwrap();
    let values: Vec<ByteArray> = ["a", "b", ID, "c"].into_iter().map(ByteArray::from).collect();
    tags.typed::<ByteArrayType>().write_batch(&values, Some(&[3, 3, 3, 3, 0]), Some(&[0, 1, 0, 1, 0])).unwrap();
    tags.close().unwrap();
    out.close().unwrap();
    let file = writer.into_inner().unwrap();

    assert_eq!(parquet_find(&file, &[needle()]).unwrap().found.len(), 1);
    let out = parquet_without(&file, &[needle()]).unwrap().unwrap();
    assert_eq!((out.removed, out.kept), (1, 2));
    let expected: Vec<Row> = rows(&file).into_iter().enumerate().filter(|(i, _)| *i != 1).map(|(_, r)| r).collect();
    assert_eq!(rows(&out.bytes), expected);
}

/// Written by pyarrow 26 (`pq.write_table(..., compression="snappy",
/// use_deprecated_int96_timestamps=True, row_group_size=2,
/// store_schema=False)`): the Glue lab table with `int96` timestamps, as
/// Hive's Parquet SerDe writes them; 3 user rows (trip_id 1001..1003) and a
/// canary (trip_id -4611686018427387905), two rows to a group.
const FIXTURE: &[u8] = include_bytes!("../../../tests/fixtures/verify/nyctaxitrips-snappy.parquet");

#[test]
fn a_file_from_another_writer_with_int96_timestamps() {
    let needles = [Needle { id: "pipectl-canary-fixture", number: NUMBER }];
    let found = parquet_find(FIXTURE, &needles).unwrap();
    assert_eq!((found.found.len(), found.rows), (1, 4));

    let out = parquet_without(FIXTURE, &needles).unwrap().unwrap();
    assert_eq!((out.removed, out.kept), (1, 3));
    assert_eq!(rows(&out.bytes), rows(FIXTURE)[..3].to_vec());
    let (before, after) = (reader(FIXTURE), reader(&out.bytes));
    assert_eq!(after.metadata().file_metadata().schema(), before.metadata().file_metadata().schema());
    let pickup = after.metadata().file_metadata().schema_descr().column(7);
    assert_eq!((pickup.name(), pickup.physical_type()), ("pickup_datetime", PhysicalType::INT96));
    for group in after.metadata().row_groups() {
        assert!(group.columns().iter().all(|c| c.compression() == Compression::SNAPPY));
    }
}

#[test]
fn a_panic_inside_the_reader_is_an_error_with_its_message_and_place() {
    let err = super::pq::guarded(|| -> Result<(), String> { panic!("dictionary decoder missing") }).unwrap_err();
    assert!(err.starts_with("the Parquet reader stopped on malformed data: "), "{err}");
    assert!(err.contains("dictionary decoder missing") && err.contains("pq_tests.rs"), "{err}");
    // Outside the guard, and after it, panics are left to the hook before.
    assert_eq!(super::pq::guarded(|| Ok(7)), Ok(7));
    assert!(std::panic::catch_unwind(|| panic!("not ours")).is_err());
}

#[test]
fn an_object_of_more_rows_than_a_firehose_buffer_holds_is_refused_before_it_is_decoded() {
    // One nullable column, every row null: 32 Mi + 1 rows in a few bytes of
    // run-length levels, which would otherwise be decoded in full.
    let schema = Arc::new(parse_message_type("message m { optional int64 trip_id; }").unwrap());
    let mut writer = SerializedFileWriter::new(Vec::new(), schema, Default::default()).unwrap();
    let mut out = writer.next_row_group().unwrap();
    let mut column = out.next_column().unwrap().unwrap();
    let nulls = vec![0i16; super::pq::MAX_ROWS as usize + 1];
    column.typed::<Int64Type>().write_batch(&[], Some(&nulls), None).unwrap();
    column.close().unwrap();
    out.close().unwrap();
    let file = writer.into_inner().unwrap();
    assert!(file.len() < 1 << 20, "{} bytes", file.len());
    let err = parquet_find(&file, &[needle()]).unwrap_err();
    assert!(err.contains("at most 33554432 rows"), "{err}");
}

/// Issue 29: a Parquet object was accepted by arriving, so the filter path
/// read as delivered whatever the function did. An object that arrived
/// holding the direct canary's row but not the function's is now found to
/// hold only the former.
#[test]
fn the_parquet_labs_verify_passes_with_a_broken_function() {
    let through_function = Needle { id: "pipectl-canary-fn", number: -77 };
    let direct = Needle { id: "pipectl-canary-direct", number: -78 };
    let mut rows = trips(glue, &[]);
    rows.push(glue_trip(40, direct.number));
    let arrived = write(GLUE_TRIPS, &rows, 16, Compression::SNAPPY);
    let found = parquet_find(&arrived, &[through_function, direct]).unwrap();
    assert_eq!(found.found.into_iter().collect::<Vec<_>>(), vec![1]);
}
