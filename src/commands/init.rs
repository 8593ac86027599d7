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
    check_dir(&a.dir)?;
    check(&a.dir, &files, a.force)?;
    write_all(&a.dir, &files, a.force)?;
    let spec = shell_word(&shown(&a.dir, &t.spec_name()));
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

/// Writes every file, or none: on a failure part-way the files (and
/// folders) this run created are removed again, and the error names the
/// file. Without `force` each file is created new, so a file that appeared
/// since `check` (another run racing this one) stops it with exit 2.
fn write_all(dir: &Path, files: &[File], force: bool) -> anyhow::Result<()> {
    let mut created: Vec<PathBuf> = Vec::new();
    let mut folders: Vec<PathBuf> = Vec::new();
    for f in files {
        let path = dir.join(&f.path);
        match write(&path, &f.content, force, &mut folders) {
            Ok(true) => created.push(path),
            Ok(false) => {}
            Err(e) => {
                undo(&created, &folders);
                if e.kind() == std::io::ErrorKind::AlreadyExists && !force {
                    return Err(BadInput::error(
                        format!("`{}` appeared while writing: nothing written", shown(dir, &f.path)),
                        "another program writes into this folder; pass --force to replace, or `--dir` a new folder",
                    ));
                }
                let what = if created.is_empty() {
                    "nothing written".to_string()
                } else {
                    "what this run wrote is removed again".to_string()
                };
                return Err(anyhow::Error::from(e).context(format!("writing `{}` ({what})", path.display())));
            }
        }
    }
    Ok(())
}

/// Removes what this run created, newest first (folders only when empty).
fn undo(created: &[PathBuf], folders: &[PathBuf]) {
    for p in created.iter().rev() {
        let _ = std::fs::remove_file(p);
    }
    for d in folders.iter().rev() {
        let _ = std::fs::remove_dir(d);
    }
}

/// Writes one file: created new (`Ok(true)`), or, with `force` and a file
/// there, written beside and renamed over it (`Ok(false)`). The folders it
/// creates are added to `folders`.
fn write(path: &Path, content: &str, force: bool, folders: &mut Vec<PathBuf>) -> std::io::Result<bool> {
    if let Some(parent) = path.parent() {
        let missing: Vec<PathBuf> = parent
            .ancestors()
            .take_while(|a| !a.as_os_str().is_empty() && !a.exists())
            .map(Path::to_path_buf)
            .collect();
        std::fs::create_dir_all(parent)?;
        folders.extend(missing.into_iter().rev());
    }
    match create_new(path, content) {
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && force => {
            let temp = beside(path);
            create_new(&temp, content).and_then(|()| std::fs::rename(&temp, path)).inspect_err(|_| {
                let _ = std::fs::remove_file(&temp);
            })?;
            Ok(false)
        }
        r => r.map(|()| true),
    }
}

/// `--dir` itself, before anything else: the user's choice, so a link to
/// a folder is followed, but a dangling link (creating the folder would
/// fail, or create it where the link points) and a file are refused.
fn check_dir(dir: &Path) -> anyhow::Result<()> {
    if std::fs::symlink_metadata(dir).is_err() {
        return Ok(());
    }
    let Ok(meta) = std::fs::metadata(dir) else {
        return Err(BadInput::error(
            format!("`{}` is a symbolic link to nothing: pipectl init writes through none", dir.display()),
            "pass `--dir` an existing folder, or a new one",
        ));
    };
    if !meta.is_dir() {
        return Err(BadInput::error(
            format!("`{}` is a file, not a folder", dir.display()),
            "pass `--dir` a folder (created if missing)",
        ));
    }
    Ok(())
}

/// `s` as one word for a POSIX shell: as it is when only safe characters,
/// else in single quotes (a quote inside written `'\''`).
pub fn shell_word(s: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "-_./:=@%+,".contains(c);
    if !s.is_empty() && s.chars().all(safe) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn files() -> Vec<File> {
        ["a.yaml", "sub/b.py", "c.json"]
            .iter()
            .map(|p| File { path: p.to_string(), content: format!("new {p}") })
            .collect()
    }

    fn fresh(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("pipectl-init-unit-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// Issue: a file that appeared between the check and the write (two
    /// `init --dir` racing) was renamed over without `--force`.
    #[test]
    fn init_overwrites_without_force_when_it_races() {
        let dir = fresh("race");
        // The other run's file, written after `check` passed.
        std::fs::write(dir.join("c.json"), "theirs").unwrap();
        let e = write_all(&dir, &files(), false).unwrap_err();
        assert!(e.downcast_ref::<BadInput>().is_some(), "{e:#}");
        assert!(format!("{e:#}").contains("c.json` appeared while writing: nothing written"), "{e:#}");
        assert_eq!(std::fs::read_to_string(dir.join("c.json")).unwrap(), "theirs");
        // What this run created is gone again, its folder too.
        assert!(!dir.join("a.yaml").exists() && !dir.join("sub").exists());
        // With --force the file is replaced.
        write_all(&dir, &files(), true).unwrap();
        assert_eq!(std::fs::read_to_string(dir.join("c.json")).unwrap(), "new c.json");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn next_commands_quote_paths_only_when_a_shell_needs_it() {
        assert_eq!(shell_word("cc/pipeline.yaml"), "cc/pipeline.yaml");
        assert_eq!(shell_word("my dir/pipeline.yaml"), "'my dir/pipeline.yaml'");
        assert_eq!(shell_word("café/p.yaml"), "'café/p.yaml'");
        assert_eq!(shell_word("it's/p.yaml"), "'it'\\''s/p.yaml'");
        assert_eq!(shell_word("$HOME/p"), "'$HOME/p'");
    }
}
