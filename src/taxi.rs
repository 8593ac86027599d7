//! The NYC yellow-taxi trip CSV of the agent lab (lab 000): its 17
//! columns, in the order the files have them, and which value goes in
//! which place of a row named by an agent flow's `csv_to_json` fields.
//! Used by the spec (a host's `data:`) and by `produce --format csv`, so
//! both cut rows the same way. Knows nothing of pipectl.

/// The columns of a yellow-taxi trip file, in file order.
pub const COLUMNS: [&str; 17] = [
    "VendorID",
    "tpep_pickup_datetime",
    "tpep_dropoff_datetime",
    "passenger_count",
    "trip_distance",
    "RatecodeID",
    "store_and_fwd_flag",
    "PULocationID",
    "DOLocationID",
    "payment_type",
    "fare_amount",
    "extra",
    "mta_tax",
    "tip_amount",
    "tolls_amount",
    "improvement_surcharge",
    "total_amount",
];

/// For each place of a row named by `fields`, the column whose value goes
/// there. Fields that are all column names take their values by name (in
/// the fields' order, any subset); otherwise 17 fields name the columns in
/// file order, as a CSV file's rows are named; anything else cannot name a
/// taxi row, and the error says why.
pub fn order(fields: &[String]) -> Result<Vec<usize>, String> {
    if fields.is_empty() {
        return Ok((0..COLUMNS.len()).collect());
    }
    let by_name: Option<Vec<usize>> = fields.iter().map(|f| COLUMNS.iter().position(|c| c == f)).collect();
    match by_name {
        Some(places) => Ok(places),
        None if fields.len() == COLUMNS.len() => Ok((0..COLUMNS.len()).collect()),
        None => {
            let unknown: Vec<&str> =
                fields.iter().filter(|f| !COLUMNS.contains(&f.as_str())).map(String::as_str).collect();
            Err(format!(
                "{} field(s) cannot name a taxi row of {} columns, and `{}` is not one of its columns",
                fields.len(),
                COLUMNS.len(),
                unknown.join("`, `")
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn fields_take_columns_by_name_else_by_place() {
        assert_eq!(order(&[]).unwrap(), (0..17).collect::<Vec<_>>());
        assert_eq!(order(&names(&["total_amount", "VendorID"])).unwrap(), vec![16, 0]);
        let renamed: Vec<String> = (0..17).map(|i| format!("c{i}")).collect();
        assert_eq!(order(&renamed).unwrap(), (0..17).collect::<Vec<_>>());
        let err = order(&names(&["VendorID", "fare"])).unwrap_err();
        assert!(err.contains("`fare`"), "{err}");
    }
}
