//! Built-in data generators shaped like each lab's data. The same seed
//! gives the same values in the same order; only the timestamps are the
//! time a record is made, as a live producer's are.

use serde_json::{json, Value};
use std::time::{Duration, SystemTime};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    /// NYC taxi trips as the taxi lab's replay sends them (`type: trip`),
    /// with an occasional watermark event and a few trips without
    /// coordinates: the spurious records its consumer filters out.
    Taxi,
    /// IoT sensor readings of the sensor lab: `sensor_id` (ten sensors),
    /// temperature, humidity, pressure.
    Sensor,
    /// The tenant-metrics lab's SaaS telemetry: tenant, feature, metric.
    TenantMetrics,
}

pub struct Generator {
    kind: Kind,
    rng: fastrand::Rng,
    count: u64,
    /// The clock, replaceable in tests.
    now: fn() -> SystemTime,
}

impl Generator {
    pub fn new(kind: Kind, seed: u64) -> Generator {
        Generator { kind, rng: fastrand::Rng::with_seed(seed), count: 0, now: SystemTime::now }
    }

    pub fn record(&mut self) -> Value {
        self.count += 1;
        let now = (self.now)();
        match self.kind {
            Kind::Taxi => self.taxi(now),
            Kind::Sensor => self.sensor(now),
            Kind::TenantMetrics => self.tenant(now),
        }
    }

    /// A float in [lo, hi) rounded to `places`.
    fn uniform(&mut self, lo: f64, hi: f64, places: i32) -> f64 {
        let scale = 10f64.powi(places);
        ((lo + self.rng.f64() * (hi - lo)) * scale).round() / scale
    }

    fn taxi(&mut self, now: SystemTime) -> Value {
        if self.count.is_multiple_of(100) {
            return json!({ "type": "watermark", "watermark": hive_time(now) });
        }
        let minutes = self.rng.u64(3..45);
        let pickup = now - Duration::from_secs(minutes * 60 + self.rng.u64(0..60));
        let (mut plat, mut plon) = (self.uniform(40.63, 40.85, 6), self.uniform(-74.02, -73.77, 6));
        let (dlat, dlon) = (self.uniform(40.63, 40.85, 6), self.uniform(-74.02, -73.77, 6));
        // About one trip in fifty has lost its pickup position.
        if self.rng.u8(0..50) == 0 {
            (plat, plon) = (0.0, 0.0);
        }
        let distance = self.uniform(0.3, 18.0, 2);
        json!({
            "type": "trip",
            "trip_id": 1_000_000 + self.count,
            "pickup_datetime": hive_time(pickup),
            "dropoff_datetime": hive_time(now),
            "pickup_latitude": plat,
            "pickup_longitude": plon,
            "dropoff_latitude": dlat,
            "dropoff_longitude": dlon,
            "trip_distance": distance,
            "passenger_count": self.rng.u32(1..7),
            "total_amount": ((3.0 + distance * 2.5 + self.rng.f64() * 8.0) * 100.0).round() / 100.0,
        })
    }

    /// One trip as the agent lab's yellow-taxi CSV files have it: the 17
    /// columns of [`crate::taxi::COLUMNS`], in file order, as text; the
    /// amounts add up to `total_amount` (as `producer.py`'s `taxi_row`).
    pub fn taxi_row(&mut self) -> Vec<String> {
        self.count += 1;
        let now = (self.now)();
        let dropoff = now - Duration::from_secs(self.rng.u64(0..=3600));
        let pickup = dropoff - Duration::from_secs(self.rng.u64(3 * 60..=45 * 60));
        let distance = self.uniform(0.3, 18.0, 2);
        let fare = ((3.0 + distance * 2.5) * 100.0).round() / 100.0;
        let extra = [0.0, 0.5, 1.0][self.rng.usize(..3)];
        let tip = (fare * [0.0, 0.1, 0.15, 0.2][self.rng.usize(..4)] * 100.0).round() / 100.0;
        let tolls = if self.rng.u8(0..20) == 0 { 6.55 } else { 0.0 };
        let total = fare + extra + 0.5 + tip + tolls + 0.3;
        let money = |v: f64| format!("{v:.2}");
        vec![
            self.rng.u8(1..=2).to_string(),
            hive_time(pickup),
            hive_time(dropoff),
            self.rng.u8(1..=6).to_string(),
            money(distance),
            if self.rng.u8(0..20) > 0 { "1".into() } else { self.rng.u8(2..=5).to_string() },
            if self.rng.u8(0..100) == 0 { "Y" } else { "N" }.to_string(),
            self.rng.u16(1..=265).to_string(),
            self.rng.u16(1..=265).to_string(),
            [1, 1, 1, 2, 2, 3, 4][self.rng.usize(..7)].to_string(),
            money(fare),
            money(extra),
            "0.50".into(),
            money(tip),
            money(tolls),
            "0.30".into(),
            money(total),
        ]
    }

    fn sensor(&mut self, now: SystemTime) -> Value {
        json!({
            "sensor_id": format!("sensor-{:03}", self.rng.u32(1..=10)),
            "timestamp": iso_time(now),
            "temperature": self.uniform(10.0, 40.0, 2),
            "humidity": self.uniform(30.0, 90.0, 2),
            "pressure": self.uniform(980.0, 1030.0, 2),
        })
    }

    fn tenant(&mut self, now: SystemTime) -> Value {
        const TENANTS: [(&str, &str, &str); 5] = [
            ("tenant-001", "Acme", "Gold"),
            ("tenant-002", "Globex", "Silver"),
            ("tenant-003", "Initech", "Bronze"),
            ("tenant-004", "Umbrella", "Gold"),
            ("tenant-005", "Hooli", "Free"),
        ];
        const FEATURES: [&str; 4] = ["Login", "Search", "Checkout", "Reports"];
        const METRICS: [(&str, &str, f64); 3] =
            [("DataTransfer", "MB", 500.0), ("Storage", "GB", 50.0), ("ExecutionTime", "MilliSeconds", 3000.0)];
        let (id, name, tier) = TENANTS[self.rng.usize(..TENANTS.len())];
        let (metric, unit, max) = METRICS[self.rng.usize(..METRICS.len())];
        json!({
            "type": "Application",
            "workload": "PhotoApplication",
            "context": FEATURES[self.rng.usize(..FEATURES.len())],
            "tenant": { "id": id, "name": name, "tier": tier },
            "metric": { "name": metric, "unit": unit, "value": self.uniform(1.0, max, 0) as u64 },
            "timestamp": now.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs()).to_string(),
            "metadata": { "user": format!("user-{:04}", self.rng.u32(1..1000)), "resource": "load-balancer" },
        })
    }
}

/// `2026-11-29T21:40:05.123456` (the sensor lab's `datetime.isoformat()`).
fn iso_time(t: SystemTime) -> String {
    let text = humantime::format_rfc3339_micros(t).to_string();
    text.trim_end_matches('Z').to_string()
}

/// `2026-11-29 21:40:05`: a timestamp Firehose's JSON reader and Hive take.
pub fn hive_time(t: SystemTime) -> String {
    let text = humantime::format_rfc3339_seconds(t).to_string();
    text.trim_end_matches('Z').replacen('T', " ", 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixed() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_764_000_000)
    }

    fn take(kind: Kind, seed: u64, n: usize) -> Vec<Value> {
        let mut g = Generator::new(kind, seed);
        g.now = fixed;
        (0..n).map(|_| g.record()).collect()
    }

    #[test]
    fn a_seed_repeats_its_records_and_another_seed_does_not() {
        for kind in [Kind::Taxi, Kind::Sensor, Kind::TenantMetrics] {
            assert_eq!(take(kind, 7, 50), take(kind, 7, 50));
            assert_ne!(take(kind, 7, 50), take(kind, 8, 50));
        }
    }

    #[test]
    fn taxi_data_has_the_table_columns_and_some_spurious_records() {
        let records = take(Kind::Taxi, 1, 1000);
        let trips: Vec<&Value> = records.iter().filter(|r| r["type"] == "trip").collect();
        assert_eq!(records.len() - trips.len(), 10, "one watermark every 100 records");
        for column in ["pickup_latitude", "trip_id", "pickup_datetime", "total_amount", "passenger_count"] {
            assert!(trips.iter().all(|t| !t[column].is_null()), "{column}");
        }
        assert!(trips.iter().any(|t| t["pickup_latitude"] == 0.0));
        assert_eq!(trips[0]["dropoff_datetime"], "2025-11-24 16:00:00");
    }

    #[test]
    fn taxi_rows_have_the_seventeen_columns_and_add_up() {
        let mut g = Generator::new(Kind::Taxi, 1);
        g.now = fixed;
        for _ in 0..500 {
            let row = g.taxi_row();
            assert_eq!(row.len(), crate::taxi::COLUMNS.len());
            let col = |name: &str| &row[crate::taxi::COLUMNS.iter().position(|c| *c == name).unwrap()];
            let parts: f64 = ["fare_amount", "extra", "mta_tax", "tip_amount", "tolls_amount", "improvement_surcharge"]
                .iter()
                .map(|c| col(c).parse::<f64>().unwrap())
                .sum();
            assert!((parts - col("total_amount").parse::<f64>().unwrap()).abs() < 0.011, "{row:?}");
            assert!(col("tpep_pickup_datetime") < col("tpep_dropoff_datetime"));
            assert!(["1", "2"].contains(&col("VendorID").as_str()));
        }
    }

    #[test]
    fn sensor_and_tenant_records_are_shaped_like_the_labs() {
        let s = &take(Kind::Sensor, 1, 1)[0];
        assert!(s["sensor_id"].as_str().unwrap().starts_with("sensor-0"));
        assert!((10.0..40.0).contains(&s["temperature"].as_f64().unwrap()));
        assert_eq!(s["timestamp"], "2025-11-24T16:00:00.000000");
        let t = &take(Kind::TenantMetrics, 1, 1)[0];
        assert_eq!(t["type"], "Application");
        assert!(t["tenant"]["id"].as_str().unwrap().starts_with("tenant-"));
    }
}
