//! `pipectl init [LAB]`: a starting spec and its handlers, from the
//! templates built into the binary (`crate::init`), written into `--dir`.
//!
//! Everything is checked before anything is written: a file that exists is
//! refused unless `--force` (all of them named, nothing written), and a
//! symbolic link anywhere below the folder, at a file or a folder on its
//! way, is refused even with `--force`: nothing is written through one.
//! A new file is created with `create_new` (which follows no link); one
//! replaced is written beside and renamed over it.

use super::emitln;
use crate::cli::{Global, InitArgs};
use crate::init::{File, Template, DEFAULT, TEMPLATES};
use crate::BadInput;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

pub fn run(g: &Global, a: &InitArgs) -> anyhow::Result<ExitCode> {
    if a.list {
        return Ok(list(g.json));
    }
    let name = a.lab.as_deref().unwrap_or(DEFAULT);
    let t = Template::find(name).expect("clap takes only the templates' names");
    let files = t.files();
    check(&a.dir, &files, a.force)?;
    for f in &files {
        write(&a.dir, f)
            .map_err(|e| anyhow::Error::from(e).context(format!("writing `{}`", a.dir.join(&f.path).display())))?;
    }
    let spec = shown(&a.dir, &t.spec_name());
    // A spec naming its region is deployed there; `--region` would move it.
    let region = if t.region().is_some() { "" } else { " --region us-east-1" };
    let next = [
        format!("pipectl validate {spec}"),
        format!("pipectl cost {spec}{region}"),
        format!("pipectl apply {spec}{region}"),
    ];
    if g.json {
        let written: Vec<String> = files.iter().map(|f| shown(&a.dir, &f.path)).collect();
        let doc = serde_json::json!({ "format_version": "1", "template": t.name, "written": written, "next": next });
        emitln!("{doc}");
    } else {
        emitln!("Wrote the `{}` pipeline:", t.name);
        for f in &files {
            emitln!("  {}", shown(&a.dir, &f.path));
        }
        emitln!("\nNext:");
        for n in &next {
            emitln!("  {n}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn list(json: bool) -> ExitCode {
    if json {
        let all: Vec<_> =
            TEMPLATES.iter().map(|t| serde_json::json!({ "name": t.name, "description": t.about })).collect();
        emitln!("{}", serde_json::json!({ "format_version": "1", "default": DEFAULT, "templates": all }));
    } else {
        let w = TEMPLATES.iter().map(|t| t.name.len()).max().unwrap_or(0);
        for t in TEMPLATES {
            let default = if t.name == DEFAULT { " (default)" } else { "" };
            emitln!("{:<w$}  {}{default}", t.name, t.about);
        }
    }
    ExitCode::SUCCESS
}

/// `path` under `dir` as a person types it (no `./` for the current folder).
fn shown(dir: &Path, path: &str) -> String {
    if dir == Path::new(".") || dir.as_os_str().is_empty() {
        path.to_string()
    } else {
        dir.join(path).display().to_string()
    }
}

/// Refuses before writing anything: a symbolic link at a file or on its
/// way below `dir`, something not a regular file (or not a folder) where one
/// goes, and, without `force`, every file that exists.
fn check(dir: &Path, files: &[File], force: bool) -> anyhow::Result<()> {
    let mut existing = Vec::new();
    for f in files {
        let mut at = dir.to_path_buf();
        let parts: Vec<&str> = f.path.split('/').collect();
        for (i, part) in parts.iter().enumerate() {
            at.push(part);
            let last = i + 1 == parts.len();
            let meta = match std::fs::symlink_metadata(&at) {
                Ok(m) => m,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => break,
                Err(e) => {
                    return Err(BadInput::error(
                        format!("cannot write `{}`: {e}", at.display()),
                        "check the folder's permissions",
                    ))
                }
            };
            if meta.file_type().is_symlink() {
                return Err(BadInput::error(
                    format!("`{}` is a symbolic link: pipectl init writes through none", at.display()),
                    "remove the link, or pass `--dir` a new folder",
                ));
            }
            if last && !meta.is_file() {
                return Err(BadInput::error(
                    format!("`{}` exists and is not a regular file", at.display()),
                    "move it away, or pass `--dir` a new folder",
                ));
            }
            if !last && !meta.is_dir() {
                return Err(BadInput::error(
                    format!("`{}` is not a folder, and `{}` goes inside it", at.display(), f.path),
                    "move it away, or pass `--dir` a new folder",
                ));
            }
            if last {
                existing.push(shown(dir, &f.path));
            }
        }
    }
    if !existing.is_empty() && !force {
        return Err(BadInput::error(
            format!(
                "{} already exist{}: nothing written",
                quoted(&existing),
                if existing.len() == 1 { "s" } else { "" }
            ),
            "pass --force to replace them, or `--dir` a new folder",
        ));
    }
    Ok(())
}

fn quoted(paths: &[String]) -> String {
    paths.iter().map(|p| format!("`{p}`")).collect::<Vec<_>>().join(", ")
}

/// Writes one file: created new, or (it exists: `check` allowed `--force`)
/// written beside and renamed over the old one.
fn write(dir: &Path, f: &File) -> std::io::Result<()> {
    let path = dir.join(&f.path);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    match create_new(&path, &f.content) {
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let temp = beside(&path);
            create_new(&temp, &f.content).and_then(|()| std::fs::rename(&temp, &path)).inspect_err(|_| {
                let _ = std::fs::remove_file(&temp);
            })
        }
        r => r,
    }
}

fn create_new(path: &Path, content: &str) -> std::io::Result<()> {
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).open(path)?;
    file.write_all(content.as_bytes())?;
    file.sync_all()
}

/// A hidden name beside `path` for the new content.
fn beside(path: &Path) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    path.with_file_name(format!(".{name}.pipectl-init-{}", std::process::id()))
}
