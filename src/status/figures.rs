//! Figures as people read them: counts with thousands separators, rates,
//! amounts in their unit, times of day (UTC) and durations.

use crate::metrics::Unit;

/// A count as people read it: `12,345`, or `1.5` when not whole.
pub fn count(n: f64) -> String {
    if n.fract() != 0.0 {
        return format!("{n:.1}");
    }
    let digits = format!("{}", n as i64);
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 && c.is_ascii_digit() && !out.ends_with('-') {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A rate: `1.2k`, `35`, `0.4`.
pub fn rate(n: f64) -> String {
    match n {
        n if n >= 1e6 => format!("{:.1}M", n / 1e6),
        n if n >= 1e3 => format!("{:.1}k", n / 1e3),
        n if n >= 10.0 => format!("{n:.0}"),
        n => format!("{n:.1}"),
    }
}

/// A value in its unit: `1.5 s`, `3.2 MB`, `97%`.
pub fn amount(v: f64, unit: Unit) -> String {
    match unit {
        Unit::Count => count(v.round()),
        Unit::Milliseconds if v >= 1000.0 => format!("{} s", rate(v / 1000.0)),
        Unit::Milliseconds => format!("{v:.0} ms"),
        Unit::Seconds => format!("{} s", rate(v)),
        Unit::Percent => format!("{v:.0}%"),
        Unit::Ratio => format!("{:.0}%", v * 100.0),
        Unit::Bytes => bytes(v),
    }
}

pub fn bytes(v: f64) -> String {
    match v {
        v if v >= 1e9 => format!("{:.1} GB", v / 1e9),
        v if v >= 1e6 => format!("{:.1} MB", v / 1e6),
        v if v >= 1e3 => format!("{:.1} kB", v / 1e3),
        v => format!("{v:.0} B"),
    }
}

/// `HH:MM` UTC of a time in seconds since the epoch.
pub fn clock(at: i64) -> String {
    let d = at.rem_euclid(86_400);
    format!("{:02}:{:02}", d / 3600, d % 3600 / 60)
}

/// `14m`, `2h 5m`, `45s`.
pub fn duration(secs: i64) -> String {
    match secs {
        s if s >= 86_400 && s % 86_400 < 3600 => format!("{}d", s / 86_400),
        s if s >= 86_400 => format!("{}d {}h", s / 86_400, s % 86_400 / 3600),
        s if s >= 3600 && s % 3600 < 60 => format!("{}h", s / 3600),
        s if s >= 3600 => format!("{}h {}m", s / 3600, s % 3600 / 60),
        s if s >= 60 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_read_as_people_write_them() {
        assert_eq!(count(1234567.0), "1,234,567");
        assert_eq!(count(12.0), "12");
        assert_eq!(count(-1234.0), "-1,234");
        assert_eq!(amount(0.975, Unit::Ratio), "98%");
        assert_eq!(amount(1500.0, Unit::Milliseconds), "1.5 s");
        assert_eq!(bytes(3_200_000.0), "3.2 MB");
        assert_eq!(clock(1_700_003_570), "23:12");
        assert_eq!(duration(7500), "2h 5m");
        assert_eq!(duration(3600), "1h");
        assert_eq!(duration(15 * 86_400), "15d");
        assert_eq!(duration(86_400 + 7200), "1d 2h");
    }
}
