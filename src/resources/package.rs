//! Deterministic zip packages of function code.
//!
//! Lambda reports `CodeSha256`, the base64 SHA-256 of the zip it was given.
//! Building the zip with a fixed entry order, fixed timestamps and fixed
//! permissions makes the same code give the same bytes, so "nothing
//! changed" is a hash comparison and a no-op plan uploads nothing.

use base64::Engine as _;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipWriter};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package {
    pub zip: Vec<u8>,
    /// base64 SHA-256 of `zip`, as Lambda's `CodeSha256`.
    pub sha256: String,
}

/// Every file under `root` (or `root` itself), as (path inside the zip,
/// path on disk), in byte order of the inside path. Python caches are left out.
fn files(root: &Path) -> std::io::Result<Vec<(String, PathBuf)>> {
    if root.is_file() {
        let name = root.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        return Ok(vec![(name, root.to_path_buf())]);
    }
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            if name == "__pycache__" || name.ends_with(".pyc") {
                continue;
            }
            if path.is_dir() {
                stack.push(path);
            } else {
                let inside = path
                    .strip_prefix(root)
                    .expect("under root")
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy())
                    .collect::<Vec<_>>()
                    .join("/");
                out.push((inside, path));
            }
        }
    }
    out.sort();
    Ok(out)
}

pub fn build(code: &Path) -> std::io::Result<Package> {
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut zip = ZipWriter::new(&mut buf);
        let epoch = DateTime::from_date_and_time(1980, 1, 1, 0, 0, 0).expect("valid date");
        for (inside, path) in files(code)? {
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
        std::fs::create_dir_all(d.join("lib/__pycache__")).unwrap();
        std::fs::write(d.join("main.py"), "def handler(e, c):\n    return 1\n").unwrap();
        std::fs::write(d.join("lib/util.py"), "X = 1\n").unwrap();
        std::fs::write(d.join("lib/__pycache__/util.cpython-312.pyc"), "junk").unwrap();
        d
    }

    #[test]
    fn same_code_same_bytes_whatever_the_file_times() {
        let d = dir("same");
        let a = build(&d).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(d.join("main.py"), "def handler(e, c):\n    return 1\n").unwrap();
        let b = build(&d).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.sha256.len(), 44);
    }

    #[test]
    fn a_changed_file_changes_the_hash_and_caches_are_left_out() {
        let d = dir("changed");
        let a = build(&d).unwrap();
        std::fs::write(d.join("lib/util.py"), "X = 2\n").unwrap();
        let b = build(&d).unwrap();
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
        let p = build(&d.join("main.py")).unwrap();
        let mut z = zip::ZipArchive::new(std::io::Cursor::new(p.zip)).unwrap();
        assert_eq!(z.by_index(0).unwrap().name(), "main.py");
    }
}
