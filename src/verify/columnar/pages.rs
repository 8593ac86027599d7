//! Every page of a column chunk checked before the `parquet` crate decodes
//! it, so that what decoding allocates is what the file declares.
//!
//! The crate trusts what a page's compressed data says of its own size: a
//! GZIP page is decompressed to its end (`read_to_end`) and compared with
//! the page header only afterwards, and a raw Snappy block carries its
//! length in its first bytes. A page of a few KiB that inflates to GiBs
//! would exhaust memory before any check ran. So each page is walked here
//! first, in the order the crate reads them (from the chunk's first page to
//! the end of its `compressed_size` bytes):
//!
//! - its header is read ([`super::thrift`]) and the page must lie inside
//!   the chunk;
//! - the uncompressed sizes its pages declare may add up to no more than
//!   the chunk's own declared uncompressed size, which
//!   [`super::pq::MAX_DECODED_BYTES`] caps;
//! - the entries its data pages declare (`num_values`, nulls and empty
//!   lists included) may add up to no more than the entries the chunk may
//!   hold (`levels::max_entries`), nor may the chunk's metadata declare
//!   more: the crate decodes a page's levels for every entry it declares,
//!   and a row's list is read whole, so a page of a few RLE bytes declaring
//!   200M null elements would fill GiBs before the entries were counted;
//! - a compressed page must really decompress to its declared size: GZIP
//!   is decompressed into nothing through a reader that stops one byte
//!   past the declared size (streaming, a few KiB of buffers), SNAPPY's
//!   length header must equal the declared size (the crate allocates that
//!   and no more, and its decoder refuses to write past it).
//!
//! A GZIP page is therefore decompressed twice, here and in the crate: the
//! price of never holding more than the file declares.

use std::io::{self, Read};

use flate2::read::MultiGzDecoder;
use parquet::basic::Compression;
use parquet::file::metadata::ColumnChunkMetaData;

use super::thrift::{self, PageHeader, DATA_PAGE, DATA_PAGE_V2, DICTIONARY_PAGE, INDEX_PAGE};

/// Checks every page of `column`'s chunk in `file`, which may hold at most
/// `most` entries; the error names the page (counted from 0, the dictionary
/// page included) and its place.
pub(super) fn check_chunk(file: &[u8], column: &ColumnChunkMetaData, most: usize) -> Result<(), String> {
    let codec = column.compression();
    if !matches!(codec, Compression::UNCOMPRESSED | Compression::SNAPPY | Compression::GZIP(_)) {
        return Err(format!(
            "its pages are compressed with {codec}; verify reads SNAPPY, GZIP and UNCOMPRESSED (what a Firehose writes)"
        ));
    }
    let most = i64::try_from(most).unwrap_or(i64::MAX);
    if !(0..=most).contains(&column.num_values()) {
        return Err(format!(
            "its metadata declares {} entries; verify reads at most {most} in a column chunk of its row group",
            column.num_values()
        ));
    }
    let start = column.dictionary_page_offset().unwrap_or(column.data_page_offset());
    let chunk = usize::try_from(start)
        .ok()
        .zip(usize::try_from(column.compressed_size()).ok())
        .and_then(|(start, len)| file.get(start..start.checked_add(len)?))
        .ok_or_else(|| format!("its pages lie outside the file's {} bytes", file.len()))?;
    let start = start as u64;
    let declared = column.uncompressed_size();
    let (mut at, mut page, mut total, mut entries) = (0usize, 0usize, 0i64, 0i64);
    while at < chunk.len() {
        let place = |why: String| format!("page {page} (at byte {} of the file): {why}", start + at as u64);
        let (header, header_len) = thrift::page_header(&chunk[at..]).map_err(place)?;
        let body_start = at + header_len;
        let compressed = usize::try_from(header.compressed)
            .map_err(|_| place(format!("its header declares {} compressed bytes", header.compressed)))?;
        let body = body_start.checked_add(compressed).and_then(|end| chunk.get(body_start..end)).ok_or_else(|| {
            place(format!(
                "its {compressed} bytes run past the end of its column chunk ({} bytes left)",
                chunk.len() - body_start
            ))
        })?;
        match header.kind {
            INDEX_PAGE => {} // skipped unread by the crate
            DATA_PAGE | DICTIONARY_PAGE | DATA_PAGE_V2 => {
                if header.uncompressed < 0 {
                    return Err(place(format!("its header declares {} uncompressed bytes", header.uncompressed)));
                }
                total = total.saturating_add(i64::from(header.uncompressed));
                if total > declared {
                    return Err(place(format!(
                        "the pages declare {total} uncompressed bytes or more; the column chunk's metadata \
                         declares {declared}"
                    )));
                }
                if header.kind != DICTIONARY_PAGE {
                    let values = header.values.ok_or_else(|| place("its data page header is missing".into()))?;
                    if values < 0 {
                        return Err(place(format!("its header declares {values} entries")));
                    }
                    entries = entries.saturating_add(i64::from(values));
                    if entries > most {
                        return Err(place(format!(
                            "the pages declare {entries} entries or more; verify reads at most {most} in a column \
                             chunk of its row group"
                        )));
                    }
                }
                check_body(codec, &header, body).map_err(place)?;
            }
            other => return Err(place(format!("page type {other} is not one Parquet defines"))),
        }
        at = body_start + compressed;
        page += 1;
    }
    Ok(())
}

/// Whether a page's compressed data decompresses to exactly what its header
/// declares, found without holding more than a few KiB. Mirrors what the
/// crate decompresses: a data page v2's levels are stored as they are, and
/// nothing is decompressed when the page says it is not compressed or
/// declares no bytes beyond its levels.
fn check_body(codec: Compression, header: &PageHeader, body: &[u8]) -> Result<(), String> {
    let uncompressed = usize::try_from(header.uncompressed).unwrap_or(0);
    let (levels, compressed) = match header.v2 {
        Some(v2) => {
            let levels = usize::try_from(v2.def_bytes).ok().zip(usize::try_from(v2.rep_bytes).ok());
            match levels.map(|(def, rep)| def + rep) {
                Some(levels) if levels <= uncompressed && levels <= body.len() => (levels, v2.compressed),
                _ => {
                    return Err(format!(
                        "its levels ({} and {} bytes) do not fit in the page ({} bytes, {uncompressed} uncompressed)",
                        v2.def_bytes,
                        v2.rep_bytes,
                        body.len()
                    ))
                }
            }
        }
        None => (0, true),
    };
    let expected = uncompressed - levels;
    if !compressed || expected == 0 {
        return Ok(());
    }
    let data = &body[levels..];
    match codec {
        Compression::SNAPPY => {
            let said = snap::raw::decompress_len(data).map_err(|e| format!("its SNAPPY data is unreadable: {e}"))?;
            if said != expected {
                return Err(format!(
                    "its SNAPPY data says it holds {said} bytes where the page header declares {expected}"
                ));
            }
        }
        Compression::GZIP(_) => {
            let limit = expected as u64 + 1;
            let got = io::copy(&mut MultiGzDecoder::new(data).take(limit), &mut io::sink())
                .map_err(|e| format!("its GZIP data does not decompress: {e}"))?;
            if got > expected as u64 {
                return Err(format!(
                    "its GZIP data decompresses to more than the {expected} bytes the page header declares"
                ));
            }
            if got < expected as u64 {
                return Err(format!(
                    "its GZIP data decompresses to {got} bytes where the page header declares {expected}"
                ));
            }
        }
        _ => {}
    }
    Ok(())
}
