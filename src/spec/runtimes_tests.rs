use super::*;

const TODAY: &str = "2026-12-07";

#[test]
fn deprecated_runtimes_block_plan_apply_destroy_of_deployed_pipelines() {
    // Deprecated, still known: a warning with the successor and the dates.
    let f = check("python3.9", TODAY).unwrap();
    assert!(!f.error, "{f:?}");
    assert!(f.message.contains("deprecated since 2025-12-15"), "{f:?}");
    assert!(f.message.contains("create functions with it from 2027-02-01"), "{f:?}");
    assert!(f.message.contains("update them from 2027-03-03"), "{f:?}");
    assert!(f.hint.starts_with("move to `python3.14`"), "{f:?}");
    // Creatable again after the 2026 extension.
    assert!(!check("python3.8", TODAY).unwrap().error);
    // Long past both blocks, still a name Lambda knows: a warning.
    let old = check("python2.7", TODAY).unwrap();
    assert!(!old.error && old.message.contains("since 2021-07-15"), "{old:?}");
    assert!(check("nodejs16.x", TODAY).unwrap().hint.starts_with("move to `nodejs24.x`"));
    assert!(check("go1.x", TODAY).unwrap().hint.starts_with("move to `provided.al2023`"));
    assert!(check("dotnetcore3.1", TODAY).unwrap().hint.starts_with("move to `dotnet10`"));
    assert!(check("ruby3.2", TODAY).unwrap().hint.starts_with("move to `ruby4.0`"));
}

#[test]
fn current_runtimes_pass_until_their_deprecation_date() {
    for r in ["python3.14", "python3.11", "nodejs22.x", "ruby4.0", "java8.al2", "dotnet10", "provided.al2023"] {
        assert_eq!(check(r, TODAY), None, "{r}");
    }
    assert_eq!(check("python3.10", "2026-10-30"), None);
    assert!(check("python3.10", "2026-10-31").is_some_and(|f| !f.error));
}

#[test]
fn a_name_lambda_never_had_is_an_error_suggesting_its_language() {
    let r = check("python3.16", TODAY).unwrap();
    assert!(r.error);
    assert!(r.message.contains("newest python runtime is `python3.14`"), "{r:?}");
    assert!(r.hint.starts_with("use `python3.14`, the newest python runtime"), "{r:?}");
    // Never in the API's enum (container images only).
    let d = check("dotnet7", TODAY).unwrap();
    assert!(d.error && d.hint.starts_with("use `dotnet10`"), "{d:?}");
    assert!(check("pyhton3.12", TODAY).unwrap().hint.starts_with("did you mean"), "{:?}", check("pyhton3.12", TODAY));
    assert!(check("cobol", TODAY).unwrap().hint.starts_with("current runtimes: "));
}

#[test]
fn a_name_in_the_api_before_the_guide_is_a_warning() {
    let r = check("python3.15", TODAY).unwrap();
    assert!(!r.error && r.message.contains("not in its documented runtimes"), "{r:?}");
}

#[test]
fn the_names_are_the_api_models_and_every_dated_one_is_known() {
    let mut model: Vec<&str> = aws_sdk_lambda::types::Runtime::values().to_vec();
    let mut known = KNOWN.to_vec();
    model.sort_unstable();
    known.sort_unstable();
    assert_eq!(known, model, "KNOWN is the SDK's Runtime enum");
    for l in LIFECYCLE {
        assert!(KNOWN.contains(&l.name), "{}", l.name);
        assert!(l.block_create <= l.block_update, "{l:?}");
    }
}
