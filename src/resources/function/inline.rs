//! Whether a function's code can be a template's inline `ZipFile`, and if
//! not, the one true reason why.
//!
//! CloudFormation takes inline code only for Python and Node.js, as one
//! file of at most [`MAX_INLINE`] bytes that it writes as `index.py` or
//! `index.js`. A `.js` file named `index.js` is loaded by Lambda as a
//! CommonJS module, so an ES module (`.mjs`) cannot be inlined: AWS says
//! "ES modules aren't supported for inline functions".

/// The most CloudFormation inlines as a function's `ZipFile`.
const MAX_INLINE: u64 = 4096;

/// The runtime families CloudFormation inlines, with the extensions of the
/// modules it can write as its `index` file.
fn family(runtime: &str) -> Option<(&'static str, &'static [&'static str])> {
    if runtime.starts_with("python") {
        Some(("Python", &[".py"]))
    } else if runtime.starts_with("nodejs") {
        // `.cjs` is CommonJS whatever surrounds it, as `index.js` is read.
        Some(("Node.js", &[".js", ".cjs"]))
    } else {
        None
    }
}

/// What inlining needs to know of the code: each file (its path inside
/// the zip and its size), the runtime and the handler.
pub struct Code<'a> {
    pub files: &'a [(String, u64)],
    pub runtime: &'a str,
    pub handler: &'a str,
}

/// The handler to write in the template (`index.<function>`) when the code
/// can be inlined, else why not, as one sentence.
pub fn handler(code: &Code) -> Result<String, String> {
    let Some((family, extensions)) = family(code.runtime) else {
        return Err(format!(
            "its runtime `{}` cannot be inlined: CloudFormation writes inline code only for Python and Node.js",
            code.runtime
        ));
    };
    let (inside, size) = match code.files {
        [one] => one,
        many => {
            let names: Vec<String> = many.iter().take(3).map(|(n, _)| format!("`{n}`")).collect();
            let more = if many.len() > 3 { ", …" } else { "" };
            return Err(format!(
                "its code is {} files ({}{more}): CloudFormation inlines a single file",
                many.len(),
                names.join(", ")
            ));
        }
    };
    if family == "Node.js" && inside.ends_with(".mjs") {
        return Err(format!(
            "`{inside}` is an ES module: CloudFormation writes inline Node.js code as `index.js`, which Lambda \
             loads as CommonJS, so ES modules cannot be inlined"
        ));
    }
    let Some(module) = extensions.iter().find_map(|e| inside.strip_suffix(e)) else {
        let wanted: Vec<String> = extensions.iter().map(|e| format!("`{e}`")).collect();
        return Err(format!(
            "`{inside}` is not a {family} module (a {} file) that CloudFormation could write as the handler's file",
            wanted.join(" or ")
        ));
    };
    // Lambda's Python bootstrap takes the module before the handler's last
    // `.`, with `/` read as `.`: `sub/app.handler` and `sub.app.handler` both
    // name `sub/app.py`. Node.js reads a path: only `sub/app.handler`.
    let mut spellings = vec![module.to_string()];
    if family == "Python" {
        spellings.push(module.replace('/', "."));
    }
    let function = spellings.iter().find_map(|m| code.handler.strip_prefix(&format!("{m}.")));
    let Some(function) = function.filter(|f| family != "Python" || !f.contains('.')) else {
        return Err(format!(
            "the handler `{}` is not in `{inside}`, the code's one file, so it cannot become `index`",
            code.handler
        ));
    };
    if *size > MAX_INLINE {
        return Err(format!("`{inside}` is {size} bytes: CloudFormation inlines at most {MAX_INLINE} bytes"));
    }
    Ok(format!("index.{function}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn try_inline(files: &[(&str, u64)], runtime: &str, handler: &str) -> Result<String, String> {
        let files: Vec<(String, u64)> = files.iter().map(|(n, s)| (n.to_string(), *s)).collect();
        super::handler(&Code { files: &files, runtime, handler })
    }

    #[test]
    fn one_small_module_of_the_runtime_is_inlined_as_index() {
        assert_eq!(try_inline(&[("app.py", 900)], "python3.12", "app.handler"), Ok("index.handler".into()));
        assert_eq!(try_inline(&[("index.js", 811)], "nodejs20.x", "index.run"), Ok("index.run".into()));
        assert_eq!(try_inline(&[("main.cjs", 4096)], "nodejs22.x", "main.handler"), Ok("index.handler".into()));
    }

    /// The defect: a code folder holding only `sub/app.py` with the handler
    /// `sub.app.handler` (which Lambda's Python bootstrap loads, and
    /// validate accepts) was refused as not in `sub/app.py`.
    #[test]
    fn a_valid_dotted_python_handler_gets_no_false_refusal() {
        let inlined = Ok("index.handler".to_string());
        assert_eq!(try_inline(&[("sub/app.py", 90)], "python3.12", "sub.app.handler"), inlined);
        assert_eq!(try_inline(&[("sub/app.py", 90)], "python3.12", "sub/app.handler"), inlined);
        assert_eq!(try_inline(&[("a/b/app.py", 90)], "python3.13", "a.b.app.handler"), inlined);
        // Node.js reads the module as a path: `sub.app.handler` is `sub.js`.
        assert!(try_inline(&[("sub/app.js", 90)], "nodejs20.x", "sub.app.handler").is_err());
        assert_eq!(try_inline(&[("sub/app.js", 90)], "nodejs20.x", "sub/app.handler"), inlined);
        // Python's function is what follows the last `.`: `sub.app` is not it.
        assert!(try_inline(&[("sub.py", 90)], "python3.12", "sub.app.handler").is_err());
    }

    #[test]
    fn a_single_small_index_mjs_is_refused_as_an_es_module_not_as_too_many_files() {
        let e = try_inline(&[("index.mjs", 811)], "nodejs20.x", "index.handler").unwrap_err();
        assert_eq!(
            e,
            "`index.mjs` is an ES module: CloudFormation writes inline Node.js code as `index.js`, which Lambda \
             loads as CommonJS, so ES modules cannot be inlined"
        );
    }

    /// Files, runtime, handler, and the reason expected.
    type Case = (&'static [(&'static str, u64)], &'static str, &'static str, &'static str);

    #[test]
    fn each_refusal_says_its_own_reason() {
        let cases: [Case; 6] = [
            (&[("a.py", 10), ("b.py", 10)], "python3.12", "a.h", "its code is 2 files (`a.py`, `b.py`): CloudFormation inlines a single file"),
            (
                &[("a.py", 1), ("b.py", 1), ("c.py", 1), ("d.py", 1)],
                "python3.12",
                "a.h",
                "its code is 4 files (`a.py`, `b.py`, `c.py`, …): CloudFormation inlines a single file",
            ),
            (
                &[("config", 10)],
                "python3.12",
                "config.h",
                "`config` is not a Python module (a `.py` file) that CloudFormation could write as the handler's file",
            ),
            (
                &[("app.py", 10)],
                "nodejs20.x",
                "app.h",
                "`app.py` is not a Node.js module (a `.js` or `.cjs` file) that CloudFormation could write as the handler's file",
            ),
            (&[("app.py", 5000)], "python3.12", "app.h", "`app.py` is 5000 bytes: CloudFormation inlines at most 4096 bytes"),
            (
                &[("app.py", 10)],
                "python3.12",
                "main.h",
                "the handler `main.h` is not in `app.py`, the code's one file, so it cannot become `index`",
            ),
        ];
        for (files, runtime, handler, want) in cases {
            assert_eq!(try_inline(files, runtime, handler).unwrap_err(), want);
        }
        let java = try_inline(&[("App.class", 10)], "java21", "App::handle").unwrap_err();
        assert_eq!(
            java,
            "its runtime `java21` cannot be inlined: CloudFormation writes inline code only for Python and Node.js"
        );
    }
}
