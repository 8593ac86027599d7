//! `produce --generate KIND --output FILE`: the generated lines written to
//! a file (or standard output) instead of sent, offline: the spec is read
//! for the stream's agent flow (its CSV fields and delimiter), and no AWS
//! call is made, so no credentials are needed. A user copies the file
//! where an agent watches.
//!
//! An existing path is refused (created with `create_new`, which follows
//! no symlink, dangling or not); `--force` replaces a regular file only,
//! by writing a new file beside it and renaming it over the old one, so
//! neither a symlink's target nor another hard link's content is ever
//! written, and a write that fails halfway leaves the old file whole.

use super::{csv_naming, generated_csv};
use crate::cli::{Global, ProduceArgs};
use crate::produce::generate::Generator;
use crate::produce::source::CsvLines;
use crate::BadInput;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

pub fn write(g: &Global, a: &ProduceArgs, out: &Path) -> anyhow::Result<ExitCode> {
    let loaded = crate::load::load(&a.spec, &crate::deployment::options(g))?;
    super::check_stream(a, &loaded.spec)?;
    let (fields, delimiter) = csv_naming(a, &loaded.spec)?;
    let generated = generated_csv(a, fields)?;
    let kind = a.generate.expect("clap requires --generate with --output");
    let limit = a.limit.expect("clap requires --limit with --output");
    let to_stdout = out.as_os_str() == "-";
    let mut target = None;
    let sink: Box<dyn Write> = if to_stdout {
        Box::new(std::io::stdout().lock())
    } else {
        let t = Target::open(out, a.force)?;
        let f = match t.file.try_clone() {
            Ok(f) => f,
            Err(e) => {
                t.abandon();
                return Err(anyhow::Error::from(e).context(format!("writing `{}`", out.display())));
            }
        };
        target = Some(t);
        Box::new(f)
    };
    let mut sink = std::io::BufWriter::with_capacity(1 << 20, sink);
    let mut generator = Generator::new(kind, a.seed);
    let written = match generated {
        Some((_, order)) => {
            let mut lines = CsvLines::new(generator, order, delimiter as u8);
            (0..limit).try_for_each(|_| sink.write_all(&lines.next_line())).and_then(|()| sink.flush())
        }
        None => (0..limit)
            .try_for_each(|_| {
                let mut line = serde_json::to_vec(&generator.record()).expect("generated JSON serializes");
                line.push(b'\n');
                sink.write_all(&line)
            })
            .and_then(|()| sink.flush()),
    };
    match written {
        // A reader that has gone (`| head`) has what it wanted.
        Err(e) if to_stdout && e.kind() == std::io::ErrorKind::BrokenPipe => {}
        Err(e) => {
            if let Some(t) = target {
                t.abandon();
            }
            return Err(anyhow::Error::from(e).context(format!("writing `{}`", out.display())));
        }
        Ok(()) => {}
    }
    drop(sink);
    if let Some(t) = target {
        t.finish().map_err(|e| anyhow::Error::from(e).context(format!("writing `{}`", out.display())))?;
    }
    if !to_stdout && g.json {
        let doc = serde_json::json!({ "format_version": "1", "file": out.display().to_string(), "lines": limit });
        crate::commands::emitln!("{doc}");
    } else if !to_stdout {
        crate::commands::emitln!("wrote {limit} lines to `{}`", out.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// The file being written: `path` itself (created new), or with
/// `--force` over a regular file, a new file beside it (`temp`) that
/// replaces it once complete.
struct Target {
    file: std::fs::File,
    path: PathBuf,
    temp: Option<PathBuf>,
}

impl Target {
    fn open(path: &Path, force: bool) -> anyhow::Result<Target> {
        let shown = path.display();
        let cannot = |e: std::io::Error| {
            BadInput::error(format!("cannot write `--output {shown}`: {e}"), "give a writable path, or `-`")
        };
        let existing = match std::fs::symlink_metadata(path) {
            Ok(m) => Some(m),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(cannot(e)),
        };
        match existing {
            Some(m) if m.file_type().is_symlink() => Err(BadInput::error(
                format!("`--output {shown}` is a symbolic link: not written, nor what it points to"),
                "give the path of a regular file, or a new one",
            )),
            Some(m) if !m.is_file() => Err(BadInput::error(
                format!("`--output {shown}` exists and is not a regular file"),
                "give the path of a regular file, or a new one",
            )),
            Some(_) if !force => Err(BadInput::error(
                format!("`--output {shown}` exists: not overwritten"),
                "pass --force to replace it, or give a new path",
            )),
            Some(m) => {
                let (file, temp) = beside(path).map_err(cannot)?;
                // The new file keeps the old one's permissions.
                let _ = file.set_permissions(m.permissions());
                Ok(Target { file, path: path.to_path_buf(), temp: Some(temp) })
            }
            None => {
                let file = std::fs::OpenOptions::new().write(true).create_new(true).open(path).map_err(|e| {
                    if e.kind() == std::io::ErrorKind::AlreadyExists {
                        BadInput::error(
                            format!("`--output {shown}` exists: not overwritten"),
                            "pass --force to replace it, or give a new path",
                        )
                    } else {
                        cannot(e)
                    }
                })?;
                Ok(Target { file, path: path.to_path_buf(), temp: None })
            }
        }
    }

    /// Everything written: the new file takes the old one's place (a
    /// rename replaces the name, whatever it has become since, and follows
    /// no link).
    fn finish(self) -> std::io::Result<()> {
        self.file.sync_all()?;
        let Some(temp) = self.temp else { return Ok(()) };
        std::fs::rename(&temp, &self.path).inspect_err(|_| {
            let _ = std::fs::remove_file(&temp);
        })
    }

    /// A failed write: a replacement's new file goes; the old one stays.
    fn abandon(self) {
        if let Some(temp) = self.temp {
            let _ = std::fs::remove_file(temp);
        }
    }
}

/// A new file in `path`'s folder, named after it, made with `create_new`.
pub(crate) fn beside(path: &Path) -> std::io::Result<(std::fs::File, PathBuf)> {
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = path.file_name().map_or_else(|| "output".into(), |n| n.to_string_lossy().into_owned());
    loop {
        let temp = folder.join(format!(".{name}.pipectl-{}-{:08x}", std::process::id(), fastrand::u32(..)));
        match std::fs::OpenOptions::new().write(true).create_new(true).open(&temp) {
            Ok(f) => return Ok((f, temp)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
}
