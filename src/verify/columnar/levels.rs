//! One column chunk of a row group decoded to its values and levels, and the
//! row each entry belongs to: what finding a canary and removing its rows
//! share, for every physical type and any nesting.
//!
//! A chunk is a sequence of entries. Each has a definition level (when the
//! column can be null or empty: `max_def > 0`) and a repetition level (when
//! it is inside a list: `max_rep > 0`); an entry holds a value only when its
//! definition level is `max_def`, and the values are stored for those
//! entries only. A repetition level of 0 starts a new row; without
//! repetition every entry is a row of its own.

use parquet::column::reader::{ColumnReader, ColumnReaderImpl};
use parquet::column::writer::{ColumnWriter, ColumnWriterImpl};
use parquet::data_type::{ByteArray, DataType, FixedLenByteArray, Int96};

use super::Needle;

/// Records asked of a column reader at a time.
const BATCH: usize = 8192;

/// Entries a chunk inside a list may hold beyond one per row: a page can
/// declare any count, and this keeps a lying one from filling memory.
const MAX_LIST_ENTRIES: usize = 1 << 24;

/// The most entries a column chunk of a row group of `rows` rows may hold:
/// one a row, and [`MAX_LIST_ENTRIES`] more inside a list (`max_rep > 0`).
/// Its pages' declared counts are held to it before any is decoded
/// ([`super::pages`]), and what is read is held to it again.
pub(super) fn max_entries(rows: usize, max_rep: i16) -> usize {
    if max_rep > 0 {
        rows.saturating_add(MAX_LIST_ENTRIES)
    } else {
        rows
    }
}

/// A column chunk's entries, as read.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Chunk<V> {
    pub(super) values: Vec<V>,
    pub(super) def: Vec<i16>,
    pub(super) rep: Vec<i16>,
    pub(super) max_def: i16,
    pub(super) max_rep: i16,
}

impl<V: Clone> Chunk<V> {
    fn empty(max_def: i16, max_rep: i16) -> Self {
        Chunk { values: Vec::new(), def: Vec::new(), rep: Vec::new(), max_def, max_rep }
    }

    fn levels(&self) -> usize {
        if self.max_def > 0 {
            self.def.len()
        } else {
            self.values.len()
        }
    }

    /// Calls `visit(entry, row, value)` for each entry in order (`value` is
    /// `None` for a null or an empty list), after checking that the levels
    /// and values agree with each other and with the `rows` the row group
    /// declares.
    pub(super) fn entries(&self, rows: usize, mut visit: impl FnMut(usize, usize, Option<&V>)) -> Result<(), String> {
        let levels = self.levels();
        if self.max_rep > 0 && self.rep.len() != levels {
            return Err(format!("{} repetition levels for {levels} definition levels", self.rep.len()));
        }
        let mut row = None::<usize>;
        let mut next_value = 0;
        for entry in 0..levels {
            let this_row = if self.max_rep == 0 || self.rep[entry] == 0 {
                row.map_or(0, |r| r + 1)
            } else {
                row.ok_or("the first entry continues a row before any row started")?
            };
            if this_row >= rows {
                return Err(format!("more rows than the {rows} the row group declares"));
            }
            row = Some(this_row);
            let def = if self.max_def > 0 { self.def[entry] } else { 0 };
            if def > self.max_def || def < 0 {
                return Err(format!("definition level {def} outside 0..={}", self.max_def));
            }
            let value = if def == self.max_def {
                let value = self.values.get(next_value).ok_or("fewer values than entries that hold one")?;
                next_value += 1;
                Some(value)
            } else {
                None
            };
            visit(entry, this_row, value);
        }
        if next_value != self.values.len() {
            return Err(format!("{} values for {next_value} entries that hold one", self.values.len()));
        }
        let seen = row.map_or(0, |r| r + 1);
        if seen != rows {
            return Err(format!("{seen} rows where the row group declares {rows}"));
        }
        Ok(())
    }

    /// The entries of the rows not marked in `remove` (one flag per row).
    pub(super) fn kept(&self, remove: &[bool]) -> Result<Chunk<V>, String> {
        let mut kept = Chunk::empty(self.max_def, self.max_rep);
        self.entries(remove.len(), |entry, row, value| {
            if remove[row] {
                return;
            }
            if self.max_def > 0 {
                kept.def.push(self.def[entry]);
            }
            if self.max_rep > 0 {
                kept.rep.push(self.rep[entry]);
            }
            if let Some(value) = value {
                kept.values.push(value.clone());
            }
        })?;
        Ok(kept)
    }

    fn write<T: DataType<T = V>>(&self, remove: &[bool], writer: &mut ColumnWriterImpl<'_, T>) -> Result<(), String> {
        let kept = self.kept(remove)?;
        let def = (kept.max_def > 0).then_some(&kept.def[..]);
        let rep = (kept.max_rep > 0).then_some(&kept.rep[..]);
        writer.write_batch(&kept.values, def, rep).map_err(|e| e.to_string())?;
        Ok(())
    }
}

fn read<T: DataType>(
    mut reader: ColumnReaderImpl<T>,
    max_def: i16,
    max_rep: i16,
    rows: usize,
) -> Result<Chunk<T::T>, String>
where
    T::T: Clone,
{
    let limit = max_entries(rows, max_rep);
    let mut chunk = Chunk::empty(max_def, max_rep);
    loop {
        let def = (max_def > 0).then_some(&mut chunk.def);
        let rep = (max_rep > 0).then_some(&mut chunk.rep);
        let (records, _, _) = reader.read_records(BATCH, def, rep, &mut chunk.values).map_err(|e| e.to_string())?;
        if records == 0 {
            return Ok(chunk);
        }
        if chunk.levels() > limit {
            return Err(format!("more than {limit} entries for {rows} rows"));
        }
    }
}

/// A chunk of any physical type.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Decoded {
    Bool(Chunk<bool>),
    Int32(Chunk<i32>),
    Int64(Chunk<i64>),
    Int96(Chunk<Int96>),
    Float(Chunk<f32>),
    Double(Chunk<f64>),
    Bytes(Chunk<ByteArray>),
    Fixed(Chunk<FixedLenByteArray>),
}

impl Decoded {
    /// Every entry of the chunk `reader` reads, which belongs to a row group
    /// of `rows` rows.
    pub(super) fn read(reader: ColumnReader, max_def: i16, max_rep: i16, rows: usize) -> Result<Decoded, String> {
        Ok(match reader {
            ColumnReader::BoolColumnReader(r) => Decoded::Bool(read(r, max_def, max_rep, rows)?),
            ColumnReader::Int32ColumnReader(r) => Decoded::Int32(read(r, max_def, max_rep, rows)?),
            ColumnReader::Int64ColumnReader(r) => Decoded::Int64(read(r, max_def, max_rep, rows)?),
            ColumnReader::Int96ColumnReader(r) => Decoded::Int96(read(r, max_def, max_rep, rows)?),
            ColumnReader::FloatColumnReader(r) => Decoded::Float(read(r, max_def, max_rep, rows)?),
            ColumnReader::DoubleColumnReader(r) => Decoded::Double(read(r, max_def, max_rep, rows)?),
            ColumnReader::ByteArrayColumnReader(r) => Decoded::Bytes(read(r, max_def, max_rep, rows)?),
            ColumnReader::FixedLenByteArrayColumnReader(r) => Decoded::Fixed(read(r, max_def, max_rep, rows)?),
        })
    }

    /// Calls `hit(row, needle)` for each value equal to a needle: a byte
    /// array to its id, a 64-bit integer to its number. The caller decides
    /// which columns are worth asking (a timestamp is an `INT64` too).
    pub(super) fn scan(
        &self,
        rows: usize,
        needles: &[Needle],
        mut hit: impl FnMut(usize, usize),
    ) -> Result<(), String> {
        match self {
            Decoded::Int64(chunk) => chunk.entries(rows, |_, row, value| {
                if let Some(value) = value {
                    needles.iter().enumerate().filter(|(_, n)| n.number == *value).for_each(|(n, _)| hit(row, n));
                }
            }),
            Decoded::Bytes(chunk) => chunk.entries(rows, |_, row, value| {
                if let Some(value) = value {
                    let value = value.data();
                    needles.iter().enumerate().filter(|(_, n)| n.id.as_bytes() == value).for_each(|(n, _)| hit(row, n));
                }
            }),
            _ => Ok(()),
        }
    }

    /// Writes the rows not marked in `remove` through `writer`, a writer of
    /// the same column.
    pub(super) fn write(&self, remove: &[bool], writer: &mut ColumnWriter<'_>) -> Result<(), String> {
        match (self, writer) {
            (Decoded::Bool(c), ColumnWriter::BoolColumnWriter(w)) => c.write(remove, w),
            (Decoded::Int32(c), ColumnWriter::Int32ColumnWriter(w)) => c.write(remove, w),
            (Decoded::Int64(c), ColumnWriter::Int64ColumnWriter(w)) => c.write(remove, w),
            (Decoded::Int96(c), ColumnWriter::Int96ColumnWriter(w)) => c.write(remove, w),
            (Decoded::Float(c), ColumnWriter::FloatColumnWriter(w)) => c.write(remove, w),
            (Decoded::Double(c), ColumnWriter::DoubleColumnWriter(w)) => c.write(remove, w),
            (Decoded::Bytes(c), ColumnWriter::ByteArrayColumnWriter(w)) => c.write(remove, w),
            (Decoded::Fixed(c), ColumnWriter::FixedLenByteArrayColumnWriter(w)) => c.write(remove, w),
            _ => Err("the column's physical type differs between the file read and the file written".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(values: Vec<i64>, def: Vec<i16>, rep: Vec<i16>, max_def: i16, max_rep: i16) -> Chunk<i64> {
        Chunk { values, def, rep, max_def, max_rep }
    }

    fn rows_of(c: &Chunk<i64>, rows: usize) -> Result<Vec<(usize, Option<i64>)>, String> {
        let mut seen = Vec::new();
        c.entries(rows, |_, row, value| seen.push((row, value.copied())))?;
        Ok(seen)
    }

    #[test]
    fn a_required_column_has_one_entry_per_row() {
        let c = chunk(vec![7, 8, 9], vec![], vec![], 0, 0);
        assert_eq!(rows_of(&c, 3).unwrap(), vec![(0, Some(7)), (1, Some(8)), (2, Some(9))]);
    }

    #[test]
    fn nulls_take_a_row_but_no_value() {
        let c = chunk(vec![7, 9], vec![1, 0, 1], vec![], 1, 0);
        assert_eq!(rows_of(&c, 3).unwrap(), vec![(0, Some(7)), (1, None), (2, Some(9))]);
    }

    #[test]
    fn a_list_row_spans_its_entries_and_an_empty_list_is_one_entry() {
        // rows: [1, 2], [], null, [3]
        let c = chunk(vec![1, 2, 3], vec![2, 2, 1, 0, 2], vec![0, 1, 0, 0, 0], 2, 1);
        assert_eq!(rows_of(&c, 4).unwrap(), vec![(0, Some(1)), (0, Some(2)), (1, None), (2, None), (3, Some(3))]);
        let kept = c.kept(&[true, false, false, true]).unwrap();
        assert_eq!(kept, chunk(vec![], vec![1, 0], vec![0, 0], 2, 1));
    }

    #[test]
    fn levels_that_disagree_with_the_row_group_are_errors() {
        assert!(rows_of(&chunk(vec![1, 2], vec![], vec![], 0, 0), 3).unwrap_err().contains("2 rows"));
        assert!(rows_of(&chunk(vec![1, 2], vec![], vec![], 0, 0), 1).unwrap_err().contains("more rows"));
        assert!(rows_of(&chunk(vec![1], vec![1, 1], vec![], 1, 0), 2).unwrap_err().contains("fewer values"));
        assert!(rows_of(&chunk(vec![1, 2], vec![1, 0], vec![], 1, 0), 2).unwrap_err().contains("2 values"));
        assert!(rows_of(&chunk(vec![1], vec![2], vec![], 1, 0), 1).unwrap_err().contains("outside"));
        assert!(rows_of(&chunk(vec![1], vec![1], vec![1], 1, 1), 1).unwrap_err().contains("before any row"));
        assert!(rows_of(&chunk(vec![1], vec![1], vec![], 1, 1), 1).unwrap_err().contains("repetition levels"));
    }

    #[test]
    fn scan_compares_ids_with_byte_arrays_and_numbers_with_int64() {
        let needles = [Needle { id: "pipectl-canary-a", number: -5 }, Needle { id: "pipectl-canary-b", number: -6 }];
        let ints = Decoded::Int64(chunk(vec![3, -6, -5], vec![], vec![], 0, 0));
        let mut hits = Vec::new();
        ints.scan(3, &needles, |row, n| hits.push((row, n))).unwrap();
        assert_eq!(hits, vec![(1, 1), (2, 0)]);
        let strings = Decoded::Bytes(Chunk {
            values: vec![ByteArray::from("pipectl-canary-b"), ByteArray::from("pipectl-canary-bb")],
            def: vec![],
            rep: vec![],
            max_def: 0,
            max_rep: 0,
        });
        hits.clear();
        strings.scan(2, &needles, |row, n| hits.push((row, n))).unwrap();
        assert_eq!(hits, vec![(0, 1)]);
        let doubles = Decoded::Double(Chunk { values: vec![-5.0], def: vec![], rep: vec![], max_def: 0, max_rep: 0 });
        doubles.scan(1, &needles, |_, _| panic!("a double is never compared")).unwrap();
    }
}
