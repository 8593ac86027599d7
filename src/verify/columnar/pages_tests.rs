//! Pages that lie about their size: real Parquet files written with the
//! `parquet` crate's writer (one column, one page), then one page's bytes or
//! header changed in place, every offset and length of the file kept.

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use flate2::write::GzEncoder;
use parquet::basic::{Compression, GzipLevel};
use parquet::data_type::{ByteArray, ByteArrayType};
use parquet::file::properties::WriterProperties;
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;

use super::thrift::page_header;
use super::{parquet_find, parquet_without, Needle};

fn needle() -> Needle<'static> {
    Needle { id: "pipectl-canary-3f2a9c1e", number: -4611686018427387905 }
}

/// A file of one string column, one row group and one data page of `rows`
/// values of `width` bytes that do not compress; and where its page starts.
fn one_page(codec: Compression, rows: usize, width: usize) -> (Vec<u8>, usize) {
    let schema = Arc::new(parse_message_type("message m { required binary id (STRING); }").unwrap());
    let props = WriterProperties::builder()
        .set_compression(codec)
        .set_dictionary_enabled(false)
        .set_data_page_size_limit(64 << 20)
        .set_data_page_row_count_limit(usize::MAX)
        .set_write_batch_size(rows)
        .build();
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let values: Vec<ByteArray> = (0..rows)
        .map(|_| {
            let text: String = (0..width)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    char::from(b'!' + (state % 94) as u8)
                })
                .collect();
            text.as_str().into()
        })
        .collect();
    let mut writer = SerializedFileWriter::new(Vec::new(), schema, Arc::new(props)).unwrap();
    let mut group = writer.next_row_group().unwrap();
    let mut column = group.next_column().unwrap().unwrap();
    column.typed::<ByteArrayType>().write_batch(&values, None, None).unwrap();
    column.close().unwrap();
    group.close().unwrap();
    let file = writer.into_inner().unwrap();
    let reader = SerializedFileReader::new(bytes::Bytes::from(file.clone())).unwrap();
    let chunk = reader.metadata().row_group(0).column(0);
    let start = chunk.data_page_offset() as usize;
    let (header, len) = page_header(&file[start..]).unwrap();
    assert_eq!(len as i64 + i64::from(header.compressed), chunk.compressed_size(), "one page");
    assert!(parquet_find(&file, &[needle()]).is_ok());
    (file, start)
}

/// The page's header length and its compressed data's place in the file.
fn body(file: &[u8], page: usize) -> std::ops::Range<usize> {
    let (header, len) = page_header(&file[page..]).unwrap();
    page + len..page + len + header.compressed as usize
}

/// Replaces the varint of page header field `field` (2: uncompressed size,
/// 3: compressed size; the writer writes fields 1, 2 and 3 first, as i32)
/// by `value`, which must take as many bytes.
fn set_header_field(file: &mut [u8], page: usize, field: usize, value: i32) {
    let mut at = page;
    for f in 1..=3 {
        assert_eq!(file[at], 0x15, "field {f} is the next i32");
        at += 1;
        let old = at;
        while file[at] & 0x80 != 0 {
            at += 1;
        }
        at += 1;
        if f == field {
            let new = varint(((value << 1) ^ (value >> 31)) as u32);
            assert_eq!(new.len(), at - old, "same length");
            file[old..at].copy_from_slice(&new);
        }
    }
}

fn varint(mut v: u32) -> Vec<u8> {
    let mut out = Vec::new();
    while v >= 0x80 {
        out.push((v as u8 & 0x7f) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
    out
}

/// One gzip member of `zeros` zero bytes, compressed as far as it goes.
fn zeros_member(zeros: usize) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), flate2::Compression::best());
    let block = vec![0u8; 1 << 16];
    let mut left = zeros;
    while left > 0 {
        let n = left.min(block.len());
        encoder.write_all(&block[..n]).unwrap();
        left -= n;
    }
    encoder.finish().unwrap()
}

/// Exactly `len` bytes of gzip members: `member` up to `most` times, then
/// one stored (uncompressed) member filling the rest.
fn bomb(member: &[u8], most: usize, len: usize) -> (Vec<u8>, usize) {
    let mut out = Vec::with_capacity(len);
    let mut count = 0;
    while count < most && out.len() + member.len() + 64 <= len {
        out.extend_from_slice(member);
        count += 1;
    }
    let left = len - out.len();
    let stored = |n: usize| {
        let mut encoder = GzEncoder::new(Vec::new(), flate2::Compression::none());
        encoder.write_all(&vec![0u8; n]).unwrap();
        encoder.finish().unwrap()
    };
    let mut n = left.saturating_sub(stored(0).len());
    for _ in 0..16 {
        let filler = stored(n);
        if filler.len() == left {
            out.extend(filler);
            return (out, count);
        }
        n = (n + left).checked_sub(filler.len()).unwrap();
    }
    panic!("no stored member of {left} bytes");
}

/// A GZIP file whose one page is replaced by `most` members of `zeros`
/// zeros each (as many as fit), and how many there are.
fn gzip_bomb(rows: usize, width: usize, zeros: usize, most: usize) -> (Vec<u8>, usize) {
    let (mut file, page) = one_page(Compression::GZIP(GzipLevel::default()), rows, width);
    let range = body(&file, page);
    let (members, count) = bomb(&zeros_member(zeros), most, range.len());
    file[range].copy_from_slice(&members);
    (file, count)
}

#[test]
fn a_gzip_page_that_inflates_beyond_its_declared_size_is_refused_before_it_is_decompressed() {
    // A page declaring 32 KiB whose members hold 2 MiB of zeros each: the
    // reviewer's decompression bomb, small enough for a test.
    let (file, members) = gzip_bomb(512, 64, 2 << 20, usize::MAX);
    assert!(members >= 8, "{members} members");
    let started = Instant::now();
    let find = parquet_find(&file, &[needle()]).unwrap_err();
    let without = parquet_without(&file, &[needle()]).unwrap_err();
    for err in [find, without] {
        assert!(err.starts_with("row group 0, column `\"id\"`: page 0 (at byte 4 of the file): "), "{err}");
        assert!(err.contains("its GZIP data decompresses to more than the"), "{err}");
    }
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
}

#[test]
fn a_snappy_page_whose_length_header_lies_is_refused() {
    let (mut file, page) = one_page(Compression::SNAPPY, 512, 64);
    let range = body(&file, page);
    let declared = snap::raw::decompress_len(&file[range.clone()]).unwrap();
    let head = varint(declared as u32);
    let lie = varint(2_000_000);
    assert_eq!(head.len(), lie.len());
    file[range.start..range.start + lie.len()].copy_from_slice(&lie);
    let err = parquet_find(&file, &[needle()]).unwrap_err();
    assert_eq!(
        err,
        format!(
            "row group 0, column `\"id\"`: page 0 (at byte 4 of the file): its SNAPPY data says it holds 2000000 bytes \
             where the page header declares {declared}"
        )
    );
}

#[test]
fn a_page_header_pointing_outside_its_chunk_is_refused() {
    let (mut file, page) = one_page(Compression::SNAPPY, 512, 64);
    let left = body(&file, page).len();
    set_header_field(&mut file, page, 3, 1_000_000);
    let err = parquet_find(&file, &[needle()]).unwrap_err();
    assert_eq!(
        err,
        format!(
            "row group 0, column `\"id\"`: page 0 (at byte 4 of the file): its 1000000 bytes run past the end of its \
             column chunk ({left} bytes left)"
        )
    );
}

#[test]
fn pages_declaring_more_than_their_column_chunk_are_refused() {
    let (mut file, page) = one_page(Compression::UNCOMPRESSED, 512, 64);
    set_header_field(&mut file, page, 2, 1_000_000);
    let err = parquet_without(&file, &[needle()]).unwrap_err();
    assert!(
        err.starts_with("row group 0, column `\"id\"`: page 0 (at byte 4 of the file): the pages declare 1000000"),
        "{err}"
    );
}

/// Peak resident memory of this process since the last reset, in KiB.
fn peak_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// The reviewer's file: 1.7 MB, one GZIP page of 16 members of 100 MiB of
/// zeros each (1.6 GiB), which took 1.7 GB of memory to refuse. Peak memory
/// is measured for this process, so run it alone:
/// `cargo test --lib the_reviewers_bomb -- --ignored --test-threads=1`.
#[test]
#[ignore = "builds 1.6 GiB of gzip members (seconds) and measures this process's peak memory"]
fn the_reviewers_bomb_of_16_members_of_100_mib_is_refused_in_bounded_memory() {
    let (file, members) = gzip_bomb(2_100, 1_000, 100 << 20, 16);
    assert_eq!(members, 16);
    std::fs::write("/proc/self/clear_refs", "5").unwrap();
    let before = peak_kib();
    let started = Instant::now();
    let err = parquet_find(&file, &[needle()]).unwrap_err();
    let (took, peak) = (started.elapsed(), peak_kib());
    eprintln!("{} bytes, {members} members: Err after {took:?}, peak RSS {peak} KiB ({before} KiB before)", file.len());
    assert!(err.contains("its GZIP data decompresses to more than the"), "{err}");
    assert!(peak < before + (64 << 10), "peak {peak} KiB, {before} KiB before");
}

/// A column chunk of one row holding a list of `nulls` null elements: one
/// data page v1 whose levels are two RLE runs each (a few bytes whatever
/// the count), and metadata that declares `declared` entries.
fn list_of_nulls(nulls: i32, declared: i64) -> (Vec<u8>, parquet::file::metadata::ColumnChunkMetaData) {
    let zz = |v: i32| varint(((v << 1) ^ (v >> 31)) as u32);
    let run = |count: i32, value: u8| {
        let mut r = varint((count as u32) << 1);
        r.push(value);
        r
    };
    let levels = |runs: Vec<u8>| {
        let mut l = (runs.len() as u32).to_le_bytes().to_vec();
        l.extend(runs);
        l
    };
    let mut body = levels([run(1, 0), run(nulls - 1, 1)].concat()); // repetition
    body.extend(levels(run(nulls, 2))); // definition: a null element
    let mut page = vec![0x15, 0x00, 0x15];
    page.extend(zz(body.len() as i32));
    page.push(0x15);
    page.extend(zz(body.len() as i32));
    page.push(0x2c); // field 5: data_page_header
    page.push(0x15);
    page.extend(zz(nulls)); // num_values
    page.extend([0x15, 0x00, 0x15, 0x06, 0x15, 0x06, 0x00, 0x00]); // PLAIN, RLE, RLE
    page.extend(body);
    let schema = parse_message_type(
        "message m { optional group l (LIST) { repeated group list { optional binary element (STRING); } } }",
    )
    .unwrap();
    let descr = parquet::schema::types::SchemaDescriptor::new(Arc::new(schema)).column(0);
    let meta = parquet::file::metadata::ColumnChunkMetaData::builder(descr)
        .set_compression(Compression::UNCOMPRESSED)
        .set_data_page_offset(0)
        .set_total_compressed_size(page.len() as i64)
        .set_total_uncompressed_size(page.len() as i64)
        .set_num_values(declared)
        .build()
        .unwrap();
    (page, meta)
}

#[test]
fn a_page_declaring_a_list_of_200m_nulls_is_refused_before_it_is_decoded() {
    let most = 1 + (1 << 24);
    let (page, meta) = list_of_nulls(200_000_000, 1);
    let started = Instant::now();
    let err = super::pages::check_chunk(&page, &meta, most).unwrap_err();
    eprintln!("{} bytes: Err after {:?}: {err}", page.len(), started.elapsed());
    assert!(err.starts_with("page 0 (at byte 0 of the file): the pages declare 200000000 entries or more"), "{err}");
    // The chunk's metadata is held to the same bound.
    let (page, meta) = list_of_nulls(3, 200_000_000);
    let err = super::pages::check_chunk(&page, &meta, most).unwrap_err();
    assert!(err.starts_with("its metadata declares 200000000 entries"), "{err}");
    // Within the bound, the same chunk passes.
    let (page, meta) = list_of_nulls(1 << 24, 1 << 24);
    assert_eq!(super::pages::check_chunk(&page, &meta, most), Ok(()));
    assert!(page.len() < 64, "{} bytes", page.len());
}
