//! The decoder: errors collected together, YAML 1.2 scalars.

use super::*;
use crate::spec::yaml::parse;

#[test]
fn reports_unknown_keys_and_type_errors_together() {
    let doc = parse("size_mb: big\nintervl: 3\n").unwrap();
    let mut d = Decoder::default();
    let mut m = MapReader::open(&doc, &mut d, "buffer").unwrap();
    let size: Option<u32> = m.opt("size_mb");
    let interval: Option<u32> = m.opt("interval");
    m.finish();
    assert_eq!((size, interval), (None, None));
    let rules: Vec<_> = d.diags.iter().map(|x| (x.rule, x.mark.line, x.mark.col)).collect();
    assert_eq!(rules, vec![("type", 1, 10), ("unknown-key", 2, 1)]);
    assert_eq!(d.diags[1].hint.as_deref(), Some("did you mean `interval`?"));
}

#[test]
fn duplicate_keys_in_entries_are_reported() {
    let doc = parse("a: x\nb: y\na: z\n").unwrap();
    let mut d = Decoder::default();
    let e: Entries<String> = Decode::decode(&doc, &mut d).unwrap();
    assert_eq!(e.len(), 2);
    assert_eq!(d.diags[0].rule, "duplicate-key");
    assert_eq!(d.diags[0].mark.line, 3);
}

#[test]
fn missing_required_field() {
    let doc = parse("other: 1\n").unwrap();
    let mut d = Decoder::default();
    let mut m = MapReader::open(&doc, &mut d, "streams.x").unwrap();
    let v: Option<String> = m.req("name");
    let _: Option<i64> = m.opt("other");
    m.finish();
    assert!(v.is_none());
    assert_eq!(d.diags.len(), 1);
    assert_eq!(d.diags[0].rule, "missing-field");
}

fn one<T: Decode>(text: &str) -> (Option<T>, Vec<String>) {
    let doc = parse(&format!("v: {text}\n")).unwrap();
    let mut d = Decoder::default();
    let mut m = MapReader::open(&doc, &mut d, "x").unwrap();
    let v = m.opt("v");
    m.finish();
    (v, d.diags.iter().map(|x| x.message.clone()).collect())
}

#[test]
fn yaml_integers_with_underscores_are_strings() {
    for text in ["_5", "1_0_", "1_000"] {
        let (v, errors) = one::<u32>(text);
        assert_eq!(v, None, "{text}");
        assert_eq!(errors, [format!("`x.v` must be an integer, found the string \"{text}\"")]);
        assert_eq!(one::<f64>(text).0, None, "{text}");
    }
    assert_eq!(one::<u32>("0x10").0, Some(16));
    assert_eq!(one::<i64>("-0").0, Some(0));
    assert_eq!(one::<u32>("-1").1, ["`x.v` must be an integer from 0 to 4294967295, found -1"]);
}

#[test]
fn nan_inf_and_infinity_are_refused_by_the_number_decoder() {
    for text in ["nan", "NaN", "inf", "infinity", "-inf"] {
        let (v, errors) = one::<f64>(text);
        assert_eq!(v, None, "{text}");
        assert_eq!(errors, [format!("`x.v` must be a number, found the string \"{text}\"")]);
    }
    for text in [".inf", "-.inf", ".nan"] {
        let (v, errors) = one::<f64>(text);
        assert_eq!(v, None, "{text}");
        assert!(errors[0].starts_with("`x.v` must be a finite number, found"), "{errors:?}");
    }
    assert_eq!(one::<f64>("2.5e1").0, Some(25.0));
}

#[test]
fn booleans_are_true_or_false() {
    assert_eq!(one::<bool>("true").0, Some(true));
    assert_eq!(one::<bool>("False").0, Some(false));
    for text in ["yes", "on", "\"true\""] {
        let (v, errors) = one::<bool>(text);
        assert_eq!(v, None);
        assert!(errors[0].starts_with("`x.v` must be true or false, found the string"), "{errors:?}");
    }
}
