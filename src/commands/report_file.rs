//! A report written to a file (`status --html FILE`): the path checked
//! before anything is read from AWS, the file written once the report is
//! ready.
//!
//! A report is meant to be written again and again at the same path, so
//! an existing page pipectl wrote (it carries `GENERATOR`) is replaced,
//! without `--force`; any other file there is refused, so a mistyped path
//! never replaces the spec's code or anything else. The page is
//! written to a new file beside it (created new, so through no link) and
//! renamed over the path: a rename replaces the name itself and follows
//! no symbolic link, so neither a link's target nor another hard link's
//! content is ever written, and a write that fails halfway leaves the old
//! page whole. A symbolic link at the path, anything but a regular file,
//! `-`, or a file the run reads (the spec), is refused (exit 2) before any
//! AWS call.

use super::produce::output::beside;
use crate::status::html::GENERATOR;
use crate::BadInput;
use std::io::Write;
use std::path::Path;

/// Refuses a path the report cannot be written to: a symbolic link, or
/// something there that is not a regular file, or a folder that is not;
/// `-` (standard output carries the report itself); and any of `inputs`
/// (the files the run reads, such as the spec), which it would replace.
pub fn check(path: &Path, flag: &str, inputs: &[&Path]) -> anyhow::Result<()> {
    let shown = path.display();
    let hint = "give the path of a regular file, or a new one";
    if path.as_os_str() == "-" {
        return Err(BadInput::error(
            format!("`{flag} -`: the page is written to a file; standard output carries the report"),
            "give a path, such as `status.html`",
        ));
    }
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => Err(BadInput::error(
            format!("`{flag} {shown}` is a symbolic link: not written, nor what it points to"),
            hint,
        )),
        Ok(m) if !m.is_file() => {
            Err(BadInput::error(format!("`{flag} {shown}` exists and is not a regular file"), hint))
        }
        Ok(_) => {
            let target = std::fs::canonicalize(path).ok();
            if let Some(input) = inputs.iter().find(|i| target.is_some() && std::fs::canonicalize(i).ok() == target) {
                return Err(BadInput::error(
                    format!("`{flag} {shown}` is `{}`, which this run reads: not replaced", input.display()),
                    hint,
                ));
            }
            if !written_by_us(path) {
                return Err(BadInput::error(
                    format!("`{flag} {shown}` exists and is not a page pipectl wrote: not replaced"),
                    "remove it first, or give a new path",
                ));
            }
            writable(path, flag)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let folder = match path.parent() {
                Some(p) if !p.as_os_str().is_empty() => p,
                _ => Path::new("."),
            };
            if folder.is_dir() {
                writable(path, flag)
            } else {
                Err(BadInput::error(format!("cannot write `{flag} {shown}`: its folder does not exist"), hint))
            }
        }
        Err(e) => Err(BadInput::error(format!("cannot write `{flag} {shown}`: {e}"), hint)),
    }
}

/// Whether the file at `path` is a page pipectl wrote: it begins as every
/// page does, `<!DOCTYPE html>`, and its head (within its first 4 KB)
/// carries `GENERATOR`. An empty file is not one: it may be a module's
/// `__init__.py`.
fn written_by_us(path: &Path) -> bool {
    use std::io::Read;
    let Ok(f) = std::fs::File::open(path) else { return false };
    let mut head = Vec::new();
    if f.take(4096).read_to_end(&mut head).is_err() {
        return false;
    }
    let head = String::from_utf8_lossy(&head);
    let Some(end) = head.find("</head>") else { return false };
    head.starts_with("<!DOCTYPE html>") && head[..end].contains(GENERATOR)
}

/// Whether a file can be made beside `path` (where the page is written
/// first): tried before any AWS call, so a folder that cannot be written
/// is bad input, not a failure after the report was read.
fn writable(path: &Path, flag: &str) -> anyhow::Result<()> {
    match beside(path) {
        Ok((file, temp)) => {
            drop(file);
            let _ = std::fs::remove_file(&temp);
            Ok(())
        }
        Err(e) => Err(BadInput::error(
            format!("cannot write `{flag} {}`: {e}", path.display()),
            "give a path in a folder you can write",
        )),
    }
}

/// Writes `content` at `path`, replacing a regular file there (its
/// permissions kept), never through a symbolic link.
pub fn write(path: &Path, flag: &str, content: &str, inputs: &[&Path]) -> anyhow::Result<()> {
    check(path, flag, inputs)?;
    let context = || format!("writing `{flag} {}`", path.display());
    let (mut file, temp) = beside(path).map_err(|e| anyhow::Error::from(e).context(context()))?;
    if let Ok(m) = std::fs::symlink_metadata(path) {
        if m.is_file() {
            let _ = file.set_permissions(m.permissions());
        }
    }
    let written = file.write_all(content.as_bytes()).and_then(|()| file.sync_all());
    let renamed = written.and_then(|()| std::fs::rename(&temp, path));
    if let Err(e) = renamed {
        let _ = std::fs::remove_file(&temp);
        return Err(anyhow::Error::from(e).context(context()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("pipectl-report-file-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn a_page_is_written_new_and_replaces_a_page_pipectl_wrote() {
        let d = folder("replace");
        let p = d.join("status.html");
        let page = |body: &str| format!("<!DOCTYPE html>\n<html><head>{GENERATOR}</head><body>{body}</body></html>");
        let (one, two) = (page("one"), page("two"));
        write(&p, "--html", &one, &[]).unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), one);
        write(&p, "--html", &two, &[]).unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), two);
        assert_eq!(std::fs::read_dir(&d).unwrap().count(), 1, "no file left beside it");
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn html_replaced_the_specs_function_code_or_any_file_it_did_not_write() {
        let d = folder("foreign");
        let code = d.join("handler.py");
        std::fs::write(&code, "def handler(event, context):\n    return event\n").unwrap();
        let e = write(&code, "--html", GENERATOR, &[]).unwrap_err();
        assert!(e.to_string().contains("is not a page pipectl wrote: not replaced"), "{e}");
        assert!(std::fs::read_to_string(&code).unwrap().starts_with("def handler"));
        // Nor an empty module, nor source that merely quotes the marker.
        let init = d.join("__init__.py");
        std::fs::write(&init, "").unwrap();
        assert!(write(&init, "--html", GENERATOR, &[]).is_err());
        let quoting = d.join("html.rs");
        std::fs::write(&quoting, format!("pub const GENERATOR: &str = r#\"{GENERATOR}\"#;\n")).unwrap();
        assert!(write(&quoting, "--html", GENERATOR, &[]).is_err());
        let _ = std::fs::remove_dir_all(&d);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn html_into_a_folder_that_cannot_be_written_is_refused_before_anything_is_read() {
        // /proc takes no new file, not even from root.
        let e = check(Path::new("/proc/pipectl-status.html"), "--html", &[]).unwrap_err();
        assert!(e.downcast_ref::<BadInput>().is_some() && e.to_string().contains("cannot write"), "{e}");
    }

    #[test]
    fn the_spec_is_never_replaced_by_its_page() {
        let d = folder("spec");
        let spec = d.join("lab.yaml");
        std::fs::write(&spec, "pipeline: lab").unwrap();
        let again = d.join(".").join("lab.yaml");
        let e = write(&again, "--html", "page", &[&spec]).unwrap_err();
        assert!(e.downcast_ref::<BadInput>().is_some() && e.to_string().contains("which this run reads"), "{e}");
        assert_eq!(std::fs::read_to_string(&spec).unwrap(), "pipeline: lab");
        let _ = std::fs::remove_dir_all(&d);
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_at_the_path_is_refused_and_its_target_untouched() {
        let d = folder("symlink");
        let target = d.join("target.txt");
        std::fs::write(&target, "keep").unwrap();
        let link = d.join("status.html");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let e = write(&link, "--html", "page", &[]).unwrap_err();
        assert!(e.downcast_ref::<BadInput>().is_some(), "{e}");
        assert!(e.to_string().contains("symbolic link"), "{e}");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep");
        std::os::unix::fs::symlink(d.join("nowhere"), d.join("dangling.html")).unwrap();
        assert!(check(&d.join("dangling.html"), "--html", &[]).is_err());
        assert!(!d.join("nowhere").exists());
        assert!(check(&d, "--html", &[]).is_err(), "a folder");
        assert!(check(&d.join("no/such/folder.html"), "--html", &[]).is_err());
        assert!(check(Path::new("-"), "--html", &[]).is_err(), "standard output");
        let _ = std::fs::remove_dir_all(&d);
    }
}
