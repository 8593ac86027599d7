//! Function code: where it may come from, and its deterministic zip.
//!
//! A spec is code that CI runs with cloud credentials, often from a pull
//! request: `code:` must not reach outside the spec's project. The project
//! is `--code-root`, else the nearest git work tree holding the spec, else
//! the spec's folder. A path (absolute, `..`, or through a symlink) that
//! resolves outside it is refused, as is a symlink inside the code that
//! points outside; hidden files and caches (`.git`, `.env`, `__pycache__`,
//! `*.pyc`) are left out of the package. Lambda's own limits are checked
//! before anything is read whole: 250 MB unzipped, 50 MB zipped.
//!
//! Lambda reports `CodeSha256`, the base64 SHA-256 of the zip it was given.
//! Building the zip with a fixed entry order, fixed timestamps and fixed
//! permissions makes the same code give the same bytes, so "nothing
//! changed" is a hash comparison and a no-op plan uploads nothing.

use base64::Engine as _;
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipWriter};

/// Lambda's limit on a function's code, unzipped.
pub const MAX_UNZIPPED: u64 = 250 * 1024 * 1024;
/// Lambda's limit on a zip uploaded directly.
pub const MAX_ZIPPED: usize = 50 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package {
    pub zip: Vec<u8>,
    /// base64 SHA-256 of `zip`, as Lambda's `CodeSha256`.
    pub sha256: String,
}

/// Why code cannot be packaged.
#[derive(Debug, thiserror::Error)]
pub enum CodeError {
    #[error("`{path}` resolves to `{target}`, outside the project `{root}`")]
    Outside { path: String, target: String, root: String },
    #[error("the code is {size} bytes unzipped; Lambda takes at most {MAX_UNZIPPED}")]
    TooLarge { size: u64 },
    #[error("the zip is {size} bytes; Lambda takes at most {MAX_ZIPPED} uploaded directly")]
    ZipTooLarge { size: usize },
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// The project `code:` paths must stay inside: `code_root` when given,
/// else the nearest enclosing git work tree of `spec_dir`, else `spec_dir`.
pub fn project_root(spec_dir: &Path, code_root: Option<&Path>) -> PathBuf {
    let canonical = |p: &Path| p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
    if let Some(r) = code_root {
        return canonical(r);
    }
    let dir = canonical(spec_dir);
    dir.ancestors().find(|a| a.join(".git").exists()).map(Path::to_path_buf).unwrap_or(dir)
}

/// Left out of every package: hidden files and folders, Python caches.
fn left_out(name: &str) -> bool {
    name.starts_with('.') || name == "__pycache__" || name.ends_with(".pyc")
}

/// `path` with symlinks resolved, which must be inside `root`.
fn inside(path: &Path, root: &Path) -> Result<PathBuf, CodeError> {
    let target = path.canonicalize()?;
    if !target.starts_with(root) {
        return Err(CodeError::Outside {
            path: path.display().to_string(),
            target: target.display().to_string(),
            root: root.display().to_string(),
        });
    }
    Ok(target)
}

/// Every file of the code at `code` (a file or a folder), as (path inside
/// the zip, path on disk), in byte order of the inside path, with the total
/// size; checked against `root` and [`MAX_UNZIPPED`] before anything is
/// read.
pub fn files(code: &Path, root: &Path) -> Result<(Vec<(String, PathBuf)>, u64), CodeError> {
    let code = inside(code, root)?;
    if code.is_file() {
        let name = code.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let size = std::fs::metadata(&code)?.len();
        if size > MAX_UNZIPPED {
            return Err(CodeError::TooLarge { size });
        }
        return Ok((vec![(name, code)], size));
    }
    let mut out = Vec::new();
    let mut total = 0u64;
    let mut seen: BTreeSet<PathBuf> = BTreeSet::new();
    // (folder on disk, its path inside the zip)
    let mut stack = vec![(code.clone(), String::new())];
    while let Some((dir, prefix)) = stack.pop() {
        if !seen.insert(dir.clone()) {
            continue; // a symlink loop
        }
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            if left_out(&name) {
                continue;
            }
            let target = inside(&path, root)?;
            let inside_name = if prefix.is_empty() { name } else { format!("{prefix}/{name}") };
            if target.is_dir() {
                stack.push((target, inside_name));
            } else {
                total += std::fs::metadata(&target)?.len();
                if total > MAX_UNZIPPED {
                    return Err(CodeError::TooLarge { size: total });
                }
                out.push((inside_name, target));
            }
        }
    }
    out.sort();
    Ok((out, total))
}

/// Whether `code` is a zip to upload as it is (`code: build/fn.zip`, or
/// the code `pipectl import` downloaded) rather than files to zip.
fn is_zip(code: &Path) -> bool {
    code.is_file() && code.extension().is_some_and(|e| e.eq_ignore_ascii_case("zip"))
}

/// A zip given as the code, as it is: within Lambda's limits zipped and
/// unzipped (from its central directory, before anything is unpacked).
fn prebuilt(code: &Path) -> Result<Package, CodeError> {
    let zip = std::fs::read(code)?;
    if zip.len() > MAX_ZIPPED {
        return Err(CodeError::ZipTooLarge { size: zip.len() });
    }
    let archive = zip::ZipArchive::new(std::io::Cursor::new(&zip))
        .map_err(|e| std::io::Error::other(format!("`{}` is not a zip: {e}", code.display())))?;
    let size: u64 = archive.decompressed_size().map_or(u64::MAX, |s| u64::try_from(s).unwrap_or(u64::MAX));
    if size > MAX_UNZIPPED {
        return Err(CodeError::TooLarge { size });
    }
    let sha256 = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(&zip));
    Ok(Package { zip, sha256 })
}

/// The deterministic zip of the code at `code`, confined to `root`; a
/// `.zip` file is taken as it is.
pub fn build(code: &Path, root: &Path) -> Result<Package, CodeError> {
    let confined = inside(code, root)?;
    if is_zip(&confined) {
        return prebuilt(&confined);
    }
    let (files, _) = files(code, root)?;
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut zip = ZipWriter::new(&mut buf);
        let epoch = DateTime::from_date_and_time(1980, 1, 1, 0, 0, 0).expect("valid date");
        for (inside, path) in files {
            let executable = is_executable(&path);
            let options = SimpleFileOptions::default()
                .compression_method(CompressionMethod::Deflated)
                .compression_level(Some(6))
                .last_modified_time(epoch)
                .unix_permissions(if executable { 0o755 } else { 0o644 });
            zip.start_file(inside, options).map_err(std::io::Error::other)?;
            zip.write_all(&std::fs::read(&path)?)?;
        }
        zip.finish().map_err(std::io::Error::other)?;
    }
    let zip = buf.into_inner();
    if zip.len() > MAX_ZIPPED {
        return Err(CodeError::ZipTooLarge { size: zip.len() });
    }
    let sha256 = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(&zip));
    Ok(Package { zip, sha256 })
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(_path: &Path) -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("pipectl-pkg-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        let d = d.canonicalize().unwrap();
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(d.join("lib/__pycache__")).unwrap();
        std::fs::write(d.join("main.py"), "def handler(e, c):\n    return 1\n").unwrap();
        std::fs::write(d.join("lib/util.py"), "X = 1\n").unwrap();
        std::fs::write(d.join("lib/__pycache__/util.cpython-312.pyc"), "junk").unwrap();
        d
    }

    #[test]
    fn a_zip_is_taken_as_it_is_and_checked() {
        let d = dir("zip");
        let built = build(&d, &d).unwrap();
        std::fs::write(d.join("fn.zip"), &built.zip).unwrap();
        assert_eq!(build(&d.join("fn.zip"), &d).unwrap(), built, "the same bytes, the same digest");
        std::fs::write(d.join("bad.zip"), "not a zip").unwrap();
        assert!(build(&d.join("bad.zip"), &d).unwrap_err().to_string().contains("is not a zip"));
    }

    #[test]
    fn same_code_same_bytes_whatever_the_file_times() {
        let d = dir("same");
        let a = build(&d, &d).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(d.join("main.py"), "def handler(e, c):\n    return 1\n").unwrap();
        let b = build(&d, &d).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.sha256.len(), 44);
    }

    #[test]
    fn a_changed_file_changes_the_hash_and_caches_are_left_out() {
        let d = dir("changed");
        let a = build(&d, &d).unwrap();
        std::fs::write(d.join("lib/util.py"), "X = 2\n").unwrap();
        std::fs::write(d.join(".env"), "SECRET=1\n").unwrap();
        std::fs::create_dir_all(d.join(".git")).unwrap();
        std::fs::write(d.join(".git/config"), "x").unwrap();
        let b = build(&d, &d).unwrap();
        assert_ne!(a.sha256, b.sha256);
        let names: Vec<String> = {
            let mut z = zip::ZipArchive::new(std::io::Cursor::new(b.zip)).unwrap();
            (0..z.len()).map(|i| z.by_index(i).unwrap().name().to_string()).collect()
        };
        assert_eq!(names, ["lib/util.py", "main.py"]);
    }

    #[test]
    fn a_single_file_is_zipped_under_its_name() {
        let d = dir("single");
        let p = build(&d.join("main.py"), &d).unwrap();
        let mut z = zip::ZipArchive::new(std::io::Cursor::new(p.zip)).unwrap();
        assert_eq!(z.by_index(0).unwrap().name(), "main.py");
    }

    #[test]
    fn code_outside_the_project_is_refused() {
        let d = dir("outside");
        let project = d.join("project");
        std::fs::create_dir_all(project.join("fn")).unwrap();
        std::fs::write(project.join("fn/main.py"), "x = 1\n").unwrap();
        // A `..` path, an absolute path, and a symlink inside the code.
        for code in [project.join("../main.py"), PathBuf::from("/etc/hostname")] {
            match build(&code, &project) {
                Err(CodeError::Outside { .. }) => {}
                other => panic!("{code:?}: {other:?}"),
            }
        }
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink("/etc", project.join("fn/etc")).unwrap();
            assert!(matches!(build(&project.join("fn"), &project), Err(CodeError::Outside { .. })));
            std::fs::remove_file(project.join("fn/etc")).unwrap();
            std::os::unix::fs::symlink(project.join("fn/main.py"), project.join("fn/alias.py")).unwrap();
            assert!(build(&project.join("fn"), &project).is_ok(), "a link inside the project is fine");
        }
    }

    #[test]
    fn the_project_is_the_git_work_tree_else_the_spec_folder() {
        let d = dir("root");
        std::fs::create_dir_all(d.join("repo/.git")).unwrap();
        std::fs::create_dir_all(d.join("repo/pipelines")).unwrap();
        assert_eq!(project_root(&d.join("repo/pipelines"), None), d.join("repo"));
        assert_eq!(project_root(&d.join("lib"), None), d.join("lib"));
        assert_eq!(project_root(&d.join("repo/pipelines"), Some(&d)), d);
    }
}
