//! The few fields of a Parquet page header that bound what decoding its page
//! costs, read from the Thrift compact protocol the header is written in:
//! the page's type, its declared uncompressed and compressed sizes, for a
//! data page (either version) the entries it declares and, for a data page
//! v2, the byte lengths of its levels and whether it is compressed.
//!
//! The `parquet` crate's own Thrift reader is not public. This one reads a
//! byte slice only (never past its end), allocates nothing, nests at most
//! [`MAX_DEPTH`] structures deep, and is stricter than the crate's: a field
//! it uses must have the type the format gives it, so a header it accepts
//! is one the crate reads the same way.

/// Nested structures skipped at most: a page header's statistics nest two.
const MAX_DEPTH: usize = 16;

/// The page types of the Parquet format.
pub(super) const DATA_PAGE: i32 = 0;
pub(super) const INDEX_PAGE: i32 = 1;
pub(super) const DICTIONARY_PAGE: i32 = 2;
pub(super) const DATA_PAGE_V2: i32 = 3;

// Compact protocol types.
const TRUE: u8 = 1;
const FALSE: u8 = 2;
const I32: u8 = 5;
const STRUCT: u8 = 12;

/// What a page header says about the page that follows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct PageHeader {
    pub(super) kind: i32,
    pub(super) uncompressed: i32,
    pub(super) compressed: i32,
    /// A data page's `num_values` (of its `data_page_header` or
    /// `data_page_header_v2`): the entries, nulls and empty lists included,
    /// the crate decodes levels for.
    pub(super) values: Option<i32>,
    pub(super) v2: Option<LevelsV2>,
}

/// A data page v2's levels: stored uncompressed before its values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct LevelsV2 {
    pub(super) def_bytes: i32,
    pub(super) rep_bytes: i32,
    pub(super) compressed: bool,
}

/// The page header at the start of `bytes`, and its length in bytes.
pub(super) fn page_header(bytes: &[u8]) -> Result<(PageHeader, usize), String> {
    let mut r = Reader { bytes, at: 0 };
    let (mut kind, mut uncompressed, mut compressed, mut values, mut v2) = (None, None, None, None, None);
    r.fields(0, |r, id, ty| {
        match id {
            1 => kind = Some(r.i32(ty, "type")?),
            2 => uncompressed = Some(r.i32(ty, "uncompressed_page_size")?),
            3 => compressed = Some(r.i32(ty, "compressed_page_size")?),
            5 => values = Some(r.num_values(ty, "data_page_header")?),
            8 => {
                let (levels, count) = r.levels_v2(ty)?;
                values = Some(count);
                v2 = Some(levels);
            }
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    let missing = |field: &str| format!("the page header has no `{field}`");
    let header = PageHeader {
        kind: kind.ok_or_else(|| missing("type"))?,
        uncompressed: uncompressed.ok_or_else(|| missing("uncompressed_page_size"))?,
        compressed: compressed.ok_or_else(|| missing("compressed_page_size"))?,
        values,
        v2,
    };
    Ok((header, r.at))
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn byte(&mut self) -> Result<u8, String> {
        let byte = *self.bytes.get(self.at).ok_or("the page header runs past the end of its column chunk")?;
        self.at += 1;
        Ok(byte)
    }

    fn skip_bytes(&mut self, n: u64) -> Result<(), String> {
        let left = (self.bytes.len() - self.at) as u64;
        if n > left {
            return Err("the page header runs past the end of its column chunk".into());
        }
        self.at += n as usize;
        Ok(())
    }

    fn varint(&mut self) -> Result<u64, String> {
        let mut value = 0u64;
        for shift in (0..70).step_by(7) {
            let byte = self.byte()?;
            if shift == 63 && byte > 1 {
                break;
            }
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err("the page header holds an integer longer than 64 bits".into())
    }

    fn zigzag32(&mut self) -> Result<i32, String> {
        let raw = u32::try_from(self.varint()?).map_err(|_| "the page header holds a 32-bit integer over 32 bits")?;
        Ok((raw >> 1) as i32 ^ -((raw & 1) as i32))
    }

    fn i32(&mut self, ty: u8, field: &str) -> Result<i32, String> {
        if ty != I32 {
            return Err(format!("the page header's `{field}` has Thrift type {ty}, not i32"));
        }
        self.zigzag32()
    }

    /// A data page header (v1): its `num_values`, the one field read.
    fn num_values(&mut self, ty: u8, name: &str) -> Result<i32, String> {
        if ty != STRUCT {
            return Err(format!("the page header's `{name}` has Thrift type {ty}, not a struct"));
        }
        let mut values = None;
        self.fields(1, |r, id, ty| {
            if id != 1 {
                return Ok(false);
            }
            values = Some(r.i32(ty, "num_values")?);
            Ok(true)
        })?;
        values.ok_or_else(|| format!("the page header's `{name}` has no `num_values`"))
    }

    /// A data page v2 header: its levels, and its `num_values`.
    fn levels_v2(&mut self, ty: u8) -> Result<(LevelsV2, i32), String> {
        if ty != STRUCT {
            return Err(format!("the page header's `data_page_header_v2` has Thrift type {ty}, not a struct"));
        }
        let (mut values, mut def_bytes, mut rep_bytes, mut compressed) = (None, None, None, true);
        self.fields(1, |r, id, ty| {
            match id {
                1 => values = Some(r.i32(ty, "num_values")?),
                5 => def_bytes = Some(r.i32(ty, "definition_levels_byte_length")?),
                6 => rep_bytes = Some(r.i32(ty, "repetition_levels_byte_length")?),
                7 => {
                    compressed = match ty {
                        TRUE => true,
                        FALSE => false,
                        _ => return Err(format!("the page header's `is_compressed` has Thrift type {ty}, not bool")),
                    }
                }
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        let missing = |field: &str| format!("the data page v2 header has no `{field}`");
        let levels = LevelsV2 {
            def_bytes: def_bytes.ok_or_else(|| missing("definition_levels_byte_length"))?,
            rep_bytes: rep_bytes.ok_or_else(|| missing("repetition_levels_byte_length"))?,
            compressed,
        };
        Ok((levels, values.ok_or_else(|| missing("num_values"))?))
    }

    /// Reads a structure's fields up to its stop byte: `field(reader, id,
    /// type)` reads the ones it knows and returns `false` for the others,
    /// which are skipped.
    fn fields(
        &mut self,
        depth: usize,
        mut field: impl FnMut(&mut Self, i16, u8) -> Result<bool, String>,
    ) -> Result<(), String> {
        if depth > MAX_DEPTH {
            return Err(format!("the page header nests structures more than {MAX_DEPTH} deep"));
        }
        let mut last = 0i16;
        loop {
            let byte = self.byte()?;
            if byte == 0 {
                return Ok(());
            }
            let (delta, ty) = (byte >> 4, byte & 0x0f);
            let id = if delta == 0 {
                i16::try_from(self.zigzag32()?).map_err(|_| "the page header holds a field id over 16 bits")?
            } else {
                last.checked_add(i16::from(delta)).ok_or("the page header holds a field id over 16 bits")?
            };
            last = id;
            if !field(self, id, ty)? {
                match ty {
                    TRUE | FALSE => {}
                    _ => self.skip(ty, depth + 1)?,
                }
            }
        }
    }

    /// Skips one value of type `ty` (as an element: a bool is one byte).
    /// Every value takes at least one byte, so a count can never make this
    /// loop longer than the bytes left.
    fn skip(&mut self, ty: u8, depth: usize) -> Result<(), String> {
        match ty {
            TRUE | FALSE | 3 => self.skip_bytes(1),
            4..=6 => self.varint().map(drop),
            7 => self.skip_bytes(8),
            8 => {
                let len = self.varint()?;
                self.skip_bytes(len)
            }
            9 | 10 => {
                let head = self.byte()?;
                let count = if head >> 4 == 15 { self.varint()? } else { u64::from(head >> 4) };
                self.elements(count, &[head & 0x0f], depth)
            }
            11 => {
                let count = self.varint()?;
                if count == 0 {
                    return Ok(());
                }
                let kinds = self.byte()?;
                self.elements(count, &[kinds >> 4, kinds & 0x0f], depth)
            }
            STRUCT => self.fields(depth, |_, _, _| Ok(false)),
            13 => self.skip_bytes(16),
            _ => Err(format!("the page header holds an unknown Thrift type {ty}")),
        }
    }

    fn elements(&mut self, count: u64, kinds: &[u8], depth: usize) -> Result<(), String> {
        if depth > MAX_DEPTH {
            return Err(format!("the page header nests structures more than {MAX_DEPTH} deep"));
        }
        if count > (self.bytes.len() - self.at) as u64 {
            return Err(format!("the page header declares {count} elements in fewer bytes"));
        }
        for _ in 0..count {
            for &kind in kinds {
                self.skip(kind, depth + 1)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zigzag(n: i32) -> Vec<u8> {
        let mut v = ((n << 1) ^ (n >> 31)) as u32;
        let mut out = Vec::new();
        loop {
            if v < 0x80 {
                out.push(v as u8);
                return out;
            }
            out.push((v as u8 & 0x7f) | 0x80);
            v >>= 7;
        }
    }

    /// A data page v2 header with a statistics struct and a list to skip.
    fn header() -> Vec<u8> {
        let mut h = vec![0x15];
        h.extend(zigzag(DATA_PAGE_V2));
        h.push(0x15);
        h.extend(zigzag(70_000));
        h.push(0x15);
        h.extend(zigzag(1234));
        h.push(0x15); // crc
        h.extend(zigzag(-7));
        h.push(0x4c); // field 8, struct
        h.extend([0x15, 0x02, 0x15, 0x00, 0x15, 0x02, 0x15, 0x00]); // num_values, num_nulls, num_rows, encoding
        h.push(0x15);
        h.extend(zigzag(3));
        h.push(0x15);
        h.extend(zigzag(5));
        h.push(0x12); // is_compressed = false
        h.push(0x1c); // statistics: a struct holding binary and a list
        h.extend([0x18, 0x03, b'a', b'b', b'c', 0x19, 0x35, 0x02, 0x04, 0x06, 0x00]);
        h.push(0x00);
        h.push(0x00);
        h
    }

    #[test]
    fn reads_the_fields_that_bound_a_page_and_skips_the_rest() {
        let mut bytes = header();
        let len = bytes.len();
        bytes.extend([0xff; 9]);
        let (h, read) = page_header(&bytes).unwrap();
        assert_eq!(read, len);
        assert_eq!(
            h,
            PageHeader {
                kind: DATA_PAGE_V2,
                uncompressed: 70_000,
                compressed: 1234,
                values: Some(1),
                v2: Some(LevelsV2 { def_bytes: 3, rep_bytes: 5, compressed: false })
            }
        );
    }

    #[test]
    fn every_cut_is_an_error_and_no_input_panics() {
        let bytes = header();
        for cut in 0..bytes.len() {
            assert!(page_header(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        for at in 0..bytes.len() {
            for value in [0x00, 0x0f, 0x19, 0x1b, 0x1c, 0x80, 0xff] {
                let mut bad = bytes.clone();
                bad[at] = value;
                let _ = page_header(&bad);
            }
        }
    }

    #[test]
    fn a_field_of_the_wrong_type_or_deep_nesting_is_an_error() {
        assert!(page_header(&[0x16, 0x00, 0x00]).unwrap_err().contains("not i32"));
        let mut deep = vec![0x4c];
        deep.extend([0x1c; 99]);
        deep.extend([0x00; 101]);
        assert!(page_header(&deep).unwrap_err().contains("deep"));
        let list = [0x49, 0xf5, 0xff, 0xff, 0xff, 0xff, 0x0f];
        assert!(page_header(&list).unwrap_err().contains("elements"));
    }
}
