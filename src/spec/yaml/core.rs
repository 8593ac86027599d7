//! How a plain (unquoted) scalar reads under the YAML 1.2 core schema, the
//! one yaml-language-server and the schema test follow: integers are
//! `[-+]?[0-9]+`, `0o[0-7]+` or `0x[0-9a-fA-F]+` (no `_`, no `0b`),
//! floats `[-+]?(.[0-9]+|[0-9]+(.[0-9]*)?)([eE][-+]?[0-9]+)?` or
//! `.inf`/`.nan`, booleans `true`/`false` (and `True`, `TRUE`, `False`,
//! `FALSE`). Anything else is a string: `1_000`, `yes`, `on`, `nan`, `inf`.

/// The integer a plain scalar reads as, if it is one (wide enough for
/// every integer type the spec reads, to tell "out of range" from "not an
/// integer").
pub fn int(text: &str) -> Option<i128> {
    if let Some(hex) = text.strip_prefix("0x") {
        return digits(hex, |c| c.is_ascii_hexdigit()).then(|| i128::from_str_radix(hex, 16).ok()).flatten();
    }
    if let Some(oct) = text.strip_prefix("0o") {
        return digits(oct, |c| ('0'..='7').contains(&c)).then(|| i128::from_str_radix(oct, 8).ok()).flatten();
    }
    let unsigned = text.strip_prefix(['-', '+']).unwrap_or(text);
    if !digits(unsigned, |c| c.is_ascii_digit()) {
        return None;
    }
    // Beyond i128 is still an integer: saturate so it reads out of range.
    Some(text.parse::<i128>().unwrap_or(if text.starts_with('-') { i128::MIN } else { i128::MAX }))
}

fn digits(s: &str, ok: impl Fn(char) -> bool) -> bool {
    !s.is_empty() && s.chars().all(ok)
}

/// A float as YAML 1.2 reads it: `Some(finite)`, `Some(inf or NaN)` for
/// `.inf`/`.nan`, `None` for a string. An integer reads as a float too.
pub fn float(text: &str) -> Option<f64> {
    if let Some(i) = int(text) {
        return Some(i as f64);
    }
    let unsigned = text.strip_prefix(['-', '+']).unwrap_or(text);
    let negative = text.starts_with('-');
    match unsigned {
        ".inf" | ".Inf" | ".INF" => return Some(if negative { f64::NEG_INFINITY } else { f64::INFINITY }),
        ".nan" | ".NaN" | ".NAN" if unsigned.len() == text.len() => return Some(f64::NAN),
        _ => {}
    }
    let (mantissa, exponent) = match unsigned.split_once(['e', 'E']) {
        Some((m, e)) => (m, Some(e)),
        None => (unsigned, None),
    };
    let mantissa_ok = match mantissa.split_once('.') {
        Some(("", frac)) => digits(frac, |c| c.is_ascii_digit()),
        Some((whole, frac)) => digits(whole, |c| c.is_ascii_digit()) && frac.chars().all(|c| c.is_ascii_digit()),
        None => digits(mantissa, |c| c.is_ascii_digit()),
    };
    let exponent_ok = exponent.is_none_or(|e| digits(e.strip_prefix(['-', '+']).unwrap_or(e), |c| c.is_ascii_digit()));
    if !(mantissa_ok && exponent_ok) {
        return None;
    }
    text.parse::<f64>().ok()
}

/// The boolean a plain scalar reads as, if it is one.
pub fn boolean(text: &str) -> Option<bool> {
    match text {
        "true" | "True" | "TRUE" => Some(true),
        "false" | "False" | "FALSE" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_are_yaml_1_2_core_integers() {
        for (text, n) in [("0", 0), ("-5", -5), ("+7", 7), ("007", 7), ("0x1F", 31), ("0o17", 15)] {
            assert_eq!(int(text), Some(n), "{text}");
        }
        for text in ["_5", "1_0_", "1_000", "1.0", "0b101", "", "-", "0x", "0o8", "1e3", "five", "+-1"] {
            assert_eq!(int(text), None, "{text}");
        }
        assert_eq!(int("99999999999999999999999999999999999999999"), Some(i128::MAX));
    }

    #[test]
    fn floats_are_yaml_1_2_core_floats() {
        for (text, n) in [("1.5", 1.5), ("-2", -2.0), (".5", 0.5), ("1.", 1.0), ("1e3", 1000.0), ("2.5E-1", 0.25)] {
            assert_eq!(float(text), Some(n), "{text}");
        }
        for text in ["nan", "NaN", "inf", "infinity", "-inf", "1_000.5", "1e", "e5", ".", "1.2.3", "0x1p3"] {
            assert_eq!(float(text), None, "{text}");
        }
        assert_eq!(float(".inf"), Some(f64::INFINITY));
        assert_eq!(float("-.inf"), Some(f64::NEG_INFINITY));
        assert!(float(".nan").is_some_and(f64::is_nan));
    }

    #[test]
    fn booleans_are_yaml_1_2_core_booleans() {
        assert_eq!(boolean("true"), Some(true));
        assert_eq!(boolean("FALSE"), Some(false));
        for text in ["yes", "no", "on", "off", "y", "n", "tRUE"] {
            assert_eq!(boolean(text), None, "{text}");
        }
    }
}
