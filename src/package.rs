//! Function code: where it may come from, and its deterministic zip.
//!
//! A spec is code that CI runs with cloud credentials, often from a pull
//! request: `code:` must not reach outside the spec's project. The project
//! is `--code-root`, else the nearest git work tree holding the spec, else
//! the spec's folder. A path (absolute, `..`, or through a symlink) that
//! resolves outside it is refused, as is a symlink inside the code that
//! points outside.
//!
//! Nor may code come from a hidden place of the project (`.git/config`
//! holds a CI checkout's token, `.env` and `.aws/` hold credentials): a
//! hidden name (one starting with `.`, other than `.` and `..`) below the
//! project root is refused wherever it shows, at every depth: in the path
//! as written, in the path it resolves to, and in every symlink met on the
//! way or in a code folder, both in the link's own text and in where it
//! resolves. Names above the root do not count (a project may live in
//! `~/.cache/...`). Hidden entries of a code folder are not an attack, only
//! not code: they are left out of the package, with caches (`__pycache__`,
//! `*.pyc`). Lambda's own limits are checked before anything is read whole:
//! 250 MB unzipped, 50 MB zipped.
//!
//! Lambda reports `CodeSha256`, the base64 SHA-256 of the zip it was given.
//! Building the zip with a fixed entry order, fixed timestamps and fixed
//! permissions makes the same code give the same bytes, so "nothing
//! changed" is a hash comparison and a no-op plan uploads nothing.

use base64::Engine as _;
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Component, Path, PathBuf};
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
    /// `route` says how the hidden name is reached: "names", "resolves to
    /// `.git/config`, in", "is a symlink to `../.git/config`, through".
    #[error("`{path}` {route} the hidden `{component}`: code is never taken from a hidden file or folder")]
    Hidden { path: String, route: String, component: String },
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

/// The folder a `--code-root` must name to hold both `root` (the
/// project) and `target` (code outside it): their deepest common folder,
/// shown from `cwd` when it is there or below (`.`, `app`); `None` when
/// only the filesystem's root holds both, which is no project.
pub fn widened_root(root: &Path, target: &Path, cwd: Option<&Path>) -> Option<String> {
    let common = root.ancestors().find(|a| target.starts_with(a))?;
    // Only the filesystem's root: no project.
    common.parent()?;
    let shown = match cwd.and_then(|c| common.strip_prefix(c).ok()) {
        Some(rel) if rel.as_os_str().is_empty() => ".".to_string(),
        Some(rel) => rel.display().to_string(),
        None => common.display().to_string(),
    };
    Some(shown)
}

/// Left out of every package: hidden files and folders, Python caches.
fn left_out(name: &str) -> bool {
    name.starts_with('.') || name == "__pycache__" || name.ends_with(".pyc")
}

/// A hidden name: one starting with `.`, other than `.` and `..`.
fn hidden(name: &std::ffi::OsStr) -> bool {
    let name = name.as_encoded_bytes();
    name.first() == Some(&b'.') && name != b"." && name != b".."
}

/// The first hidden name `path` passes through below `root`, read as
/// written (`..` goes up a name, symlinks are not followed), from `base`
/// when it is relative. Names down to `root` itself do not count.
fn hidden_as_written(base: &Path, path: &Path, root: &Path) -> Option<String> {
    let mut at = if path.is_absolute() { PathBuf::new() } else { base.to_path_buf() };
    for c in path.components() {
        match c {
            Component::Prefix(_) | Component::RootDir => at.push(c.as_os_str()),
            Component::CurDir => {}
            Component::ParentDir => {
                at.pop();
            }
            Component::Normal(name) => {
                at.push(name);
                if hidden(name) && at.starts_with(root) && at != root {
                    return Some(name.to_string_lossy().into_owned());
                }
            }
        }
    }
    None
}

/// The first hidden name below `root` of where `path` leads as written,
/// once its `..` are applied (symlinks not followed): a folder the path
/// only passes through on its way elsewhere (a spec kept in `.github/`
/// naming `../../fn`) is not where the code is; the spec's own `code:`
/// text is checked whole by the builder, and symlinks by `check_links`.
fn hidden_as_reached(base: &Path, path: &Path, root: &Path) -> Option<String> {
    let mut at = if path.is_absolute() { PathBuf::new() } else { base.to_path_buf() };
    for c in path.components() {
        match c {
            Component::ParentDir => {
                at.pop();
            }
            Component::CurDir => {}
            other => at.push(other.as_os_str()),
        }
    }
    let below = at.strip_prefix(root).ok()?;
    below.components().find(|c| hidden(c.as_os_str())).map(|c| c.as_os_str().to_string_lossy().into_owned())
}

/// The first hidden name of `path` (already resolved) below `root`.
fn hidden_resolved(path: &Path, root: &Path) -> Option<String> {
    let below = path.strip_prefix(root).ok()?;
    below.components().find(|c| hidden(c.as_os_str())).map(|c| c.as_os_str().to_string_lossy().into_owned())
}

/// `path` as shown in a message: inside the project when it is.
fn shown(path: &Path, root: &Path) -> String {
    match path.strip_prefix(root) {
        Ok(p) if !p.as_os_str().is_empty() => p.display().to_string(),
        _ => path.display().to_string(),
    }
}

/// Follows `path` name by name from `base` (a folder without symlinks in
/// it, used when `path` is relative) as the system resolves it, and
/// refuses every symlink met whose text, or whose target, passes through
/// a hidden name below `root`. A path that does not resolve is left to
/// `canonicalize` to report.
fn check_links(base: &Path, path: &Path, root: &Path) -> Result<(), CodeError> {
    // Names still to follow, the next one last.
    let mut todo: Vec<PathBuf> = path.components().rev().map(|c| PathBuf::from(c.as_os_str())).collect();
    let mut at = if path.is_absolute() { PathBuf::new() } else { base.to_path_buf() };
    let mut links = 0;
    while let Some(name) = todo.pop() {
        match name.components().next() {
            Some(Component::Normal(_)) => {}
            Some(Component::ParentDir) => {
                at.pop();
                continue;
            }
            Some(Component::CurDir) | None => continue,
            Some(Component::Prefix(_) | Component::RootDir) => {
                at = name;
                continue;
            }
        }
        let next = at.join(&name);
        let is_link = std::fs::symlink_metadata(&next).is_ok_and(|m| m.file_type().is_symlink());
        if !is_link {
            at = next;
            continue;
        }
        links += 1;
        if links > 40 {
            return Ok(()); // a loop: `canonicalize` says so
        }
        let text = std::fs::read_link(&next)?;
        let refuse =
            |route: String, component: String| CodeError::Hidden { path: shown(&next, root), route, component };
        if let Some(component) = hidden_as_written(&at, &text, root) {
            return Err(refuse(format!("is a symlink to `{}`, through", text.display()), component));
        }
        if let Ok(target) = next.canonicalize() {
            if let Some(component) = hidden_resolved(&target, root) {
                let route =
                    format!("is a symlink to `{}`, which resolves to `{}`, in", text.display(), shown(&target, root));
                return Err(refuse(route, component));
            }
        }
        todo.extend(text.components().rev().map(|c| PathBuf::from(c.as_os_str())));
    }
    Ok(())
}

/// `path` with symlinks resolved, which must be inside `root` and reach
/// nothing hidden below it: as written (from `base` when relative),
/// through the symlinks met, and resolved.
fn confined(base: &Path, path: &Path, root: &Path) -> Result<PathBuf, CodeError> {
    let full = base.join(path);
    if let Some(component) = hidden_as_reached(base, path, root) {
        return Err(CodeError::Hidden { path: shown(&full, root), route: "names".into(), component });
    }
    check_links(base, path, root)?;
    let target = full.canonicalize()?;
    if !target.starts_with(root) {
        return Err(CodeError::Outside {
            path: full.display().to_string(),
            target: target.display().to_string(),
            root: root.display().to_string(),
        });
    }
    if let Some(component) = hidden_resolved(&target, root) {
        let route = format!("resolves to `{}`, in", shown(&target, root));
        return Err(CodeError::Hidden { path: shown(&full, root), route, component });
    }
    Ok(target)
}

/// [`confined`] for a path as the spec gives it: relative to the current
/// folder when it is not absolute.
fn inside(path: &Path, root: &Path) -> Result<PathBuf, CodeError> {
    let base = if path.is_absolute() { PathBuf::new() } else { std::env::current_dir()? };
    confined(&base, path, root)
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
            // `dir` is resolved: only the entry itself may be a symlink.
            let target = confined(&dir, Path::new(&name), root)?;
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

    #[test]
    fn the_widened_root_holds_the_project_and_the_code_shown_from_where_pipectl_runs() {
        let (root, code) = (Path::new("/w/app/pipelines"), Path::new("/w/app/templates/f.py"));
        assert_eq!(widened_root(root, code, Some(Path::new("/w/app"))).as_deref(), Some("."));
        assert_eq!(widened_root(root, code, Some(Path::new("/w"))).as_deref(), Some("app"));
        assert_eq!(widened_root(root, code, Some(Path::new("/elsewhere"))).as_deref(), Some("/w/app"));
        assert_eq!(widened_root(root, code, None).as_deref(), Some("/w/app"));
        assert_eq!(widened_root(root, Path::new("/etc/passwd"), None), None);
    }

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

    /// The hidden name a refusal of `code` names.
    #[track_caller]
    fn hidden_in(code: &Path, root: &Path) -> String {
        match build(code, root) {
            Err(CodeError::Hidden { component, .. }) => component,
            other => panic!("{code:?}: {other:?}"),
        }
    }

    /// A project holding a function folder and the hidden files CI leaves.
    #[cfg(unix)]
    fn hidden_project(name: &str) -> PathBuf {
        let d = dir(name);
        for (f, body) in [
            ("fn/h.py", "x = 1\n"),
            (".git/config", "[http] extraheader = AUTHORIZATION: basic dG9rZW4=\n"),
            (".aws/credentials", "[default]\n"),
            (".env", "TOKEN=1\n"),
            (".build/fn.zip", ""),
        ] {
            std::fs::create_dir_all(d.join(f).parent().unwrap()).unwrap();
            std::fs::write(d.join(f), body).unwrap();
        }
        let zip = build(&d.join("fn"), &d).unwrap().zip;
        std::fs::write(d.join(".build/fn.zip"), zip).unwrap();
        d
    }

    #[test]
    #[cfg(unix)]
    fn a_path_reaching_a_hidden_place_is_refused_as_written_and_resolved() {
        let d = hidden_project("hidden-path");
        assert_eq!(hidden_in(&d.join(".git/config"), &d), ".git");
        assert_eq!(hidden_in(&d.join(".env"), &d), ".env");
        assert_eq!(hidden_in(&d.join(".aws"), &d), ".aws");
        assert_eq!(hidden_in(&d.join("fn/../.git/config"), &d), ".git");
        // A hidden folder only passed through (the spec's own folder, say)
        // is not where the code is; the builder refuses a `code:` text
        // naming one.
        assert!(build(&d.join(".git/../fn/h.py"), &d).is_ok());
        assert_eq!(hidden_in(&d.join(".build/fn.zip"), &d), ".build", "a zip too");
        assert!(files(&d.join(".git/config"), &d).is_err(), "the check `validate` makes");
        assert!(build(&d.join("fn/./h.py"), &d).is_ok(), "`.` is not hidden");
    }

    #[test]
    #[cfg(unix)]
    fn a_symlink_into_a_hidden_place_is_refused_at_every_depth() {
        use std::os::unix::fs::symlink;
        let d = hidden_project("hidden-link");
        let fresh = |rel: &str| {
            let _ = std::fs::remove_dir_all(d.join("fn2"));
            let p = d.join("fn2").join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(d.join("fn2/h.py"), "x = 1\n").unwrap();
            p
        };
        // A file, in the folder and deeper.
        symlink("../.git/config", fresh("c.py")).unwrap();
        assert_eq!(hidden_in(&d.join("fn2"), &d), ".git");
        assert_eq!(hidden_in(&d.join("fn2/c.py"), &d), ".git", "named itself");
        symlink("../../../../.aws/credentials", fresh("a/b/c/creds")).unwrap();
        assert_eq!(hidden_in(&d.join("fn2"), &d), ".aws");
        // A folder.
        symlink("../.aws", fresh("lib")).unwrap();
        assert_eq!(hidden_in(&d.join("fn2"), &d), ".aws");
        symlink(d.join(".git"), fresh("deep/er/git")).unwrap();
        assert_eq!(hidden_in(&d.join("fn2"), &d), ".git", "an absolute link");
        // Text through a hidden folder that resolves somewhere harmless.
        symlink("../.git/../fn/h.py", fresh("via.py")).unwrap();
        assert_eq!(hidden_in(&d.join("fn2"), &d), ".git");
        // A chain: the second link's text is the hidden one.
        let first = fresh("a.py");
        symlink("b.py", &first).unwrap();
        symlink("../.env", d.join("fn2/b.py")).unwrap();
        assert_eq!(hidden_in(&d.join("fn2/a.py"), &d), ".env");
        // A path through a symlinked folder that leads into a hidden one.
        symlink("../.git", fresh("g")).unwrap();
        assert_eq!(hidden_in(&d.join("fn2/g/config"), &d), ".git");
        assert_eq!(hidden_in(&d.join("fn2/g/../fn/h.py"), &d), ".git", "`..` after the link");
        // A hidden entry of the folder is left out, not refused.
        symlink("../.git/config", fresh(".c.py")).unwrap();
        assert!(build(&d.join("fn2"), &d).is_ok());
        // Links that stay in plain places are fine.
        symlink("../fn/h.py", fresh("alias.py")).unwrap();
        assert!(build(&d.join("fn2"), &d).is_ok());
    }

    #[test]
    #[cfg(unix)]
    fn a_project_inside_a_hidden_folder_is_not_refused_for_it() {
        use std::os::unix::fs::symlink;
        let d = dir("hidden-root");
        let root = d.join(".cache/x/project");
        std::fs::create_dir_all(root.join("fn")).unwrap();
        std::fs::create_dir_all(root.join(".git")).unwrap();
        std::fs::write(root.join("fn/h.py"), "x = 1\n").unwrap();
        std::fs::write(root.join("fn/g.py"), "y = 1\n").unwrap();
        symlink(root.join("fn/h.py"), root.join("fn/abs.py")).unwrap();
        assert!(build(&root.join("fn"), &root).is_ok(), "names above the root do not count");
        assert!(build(&d.join(".cache/x/project/fn/g.py"), &root).is_ok());
        assert_eq!(hidden_in(&root.join("fn/../.git"), &root), ".git", "names below it do");
        let msg = build(&root.join(".git"), &root).unwrap_err().to_string();
        assert!(msg.contains("the hidden `.git`") && !msg.contains(".cache"), "{msg}");
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
