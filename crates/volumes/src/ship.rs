//! Shipping a repository to a standby, file by file.
//!
//! A standby keeps an identical copy of the primary's repository. The primary sends
//! what the standby lacks ([`missing`]), in the order [`crate::Repo::files`] and
//! [`crate::Snapshot::new_files`] give (config, keys, packs, indexes, snapshots), and
//! the standby stores each file with [`receive`], which checks its name and content
//! and writes it atomically and durably. So a standby never holds a snapshot file
//! before the packs and index it needs, nor a half-written or corrupt file.
//!
//! Every repository file but `config` is named by the SHA-256 of its bytes as stored,
//! 64 lowercase hex digits: rustic_core 0.13 names packs by `hash_reader` over the whole
//! pack file (`blob/packer.rs`), indexes and snapshots by the hash of their encrypted
//! bytes (`DecryptWriteBackend::save_file` → `hash_write_full`), keys by the hash of
//! their JSON (`commands/key.rs`), as restic does; packs are filed under
//! `data/<first 2 hex digits>/`. `config` has no id in its name. `tests/ship.rs`
//! checks every file of a real repository against this.

use crate::repo::{FileKind, RepoFile, VolumeError};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{ErrorKind, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

/// What [`receive`] did with a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Received {
    /// The file is new and now stored.
    Written,
    /// The repository already held this file, with this content.
    AlreadyHad,
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The kind of the repository file at `path` and the id its name holds, if `path` is
/// exactly one restic names; otherwise why not.
fn parse(path: &str) -> Result<(FileKind, Option<&str>), String> {
    const ID: &str = "ids are 64 lowercase hex digits";
    let parts: Vec<&str> = path.split('/').collect();
    let (kind, id) = match parts.as_slice() {
        ["config"] => return Ok((FileKind::Config, None)),
        ["keys", id] => (FileKind::Key, *id),
        ["index", id] => (FileKind::Index, *id),
        ["snapshots", id] => (FileKind::Snapshot, *id),
        ["data", dir, id] => {
            if !is_hex(dir, 2) || !is_hex(id, 64) {
                return Err(format!("a pack is data/<2 hex digits>/<id>, {ID}"));
            }
            if !id.starts_with(dir) {
                return Err(format!("a pack is filed under the first two digits of its id, not under data/{dir}"));
            }
            (FileKind::Pack, *id)
        }
        _ => return Err("not config, keys/<id>, data/<2 hex digits>/<id>, index/<id> or snapshots/<id>".to_owned()),
    };
    if !is_hex(id, 64) {
        return Err(ID.to_owned());
    }
    Ok((kind, Some(id)))
}

/// Stores the repository file `path` (relative to the repository's root, as
/// [`RepoFile::path`] names it) with content `bytes` in the repository directory
/// `repo_dir`, which must exist.
///
/// The name is checked strictly, and the content against it: every file but `config`
/// must hash (SHA-256) to its name. The file is written to a temporary file in its
/// directory, synced, renamed into place and the directory synced, so a crash leaves
/// either no file or the whole file (and at worst a temporary file whose name no
/// restic reader lists). A file already present with the same content is
/// [`Received::AlreadyHad`]. Run one receiver per repository at a time.
///
/// # Errors
/// A path that is not a repository file's, content that does not match its name, a
/// file already present with other content (files are never replaced, `config`
/// included), or a directory or file that cannot be written.
pub fn receive(repo_dir: &Path, path: &str, bytes: &[u8]) -> Result<Received, VolumeError> {
    let invalid = |why: String| VolumeError::Invalid(format!("cannot receive `{path}` into {}: {why}", repo_dir.display()));
    let (_, id) = parse(path).map_err(invalid)?;
    if let Some(id) = id {
        let actual = hex::encode(Sha256::digest(bytes));
        if actual != id {
            return Err(invalid(format!("its content does not match its name (its SHA-256 is {actual})")));
        }
    }
    if !repo_dir.is_dir() {
        return Err(invalid("no such directory".to_owned()));
    }
    let target = repo_dir.join(path);
    match fs::symlink_metadata(&target) {
        Ok(meta) if meta.is_file() => {
            let had = fs::read(&target).map_err(VolumeError::io("read", &target))?;
            if had == bytes {
                // It may be there from a receive that crashed before syncing its directory.
                sync_dir(target.parent().unwrap_or(repo_dir))?;
                return Ok(Received::AlreadyHad);
            }
            return Err(invalid("the repository already holds a different file by that name".to_owned()));
        }
        Ok(_) => return Err(invalid("something other than a file is in the way".to_owned())),
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => return Err(VolumeError::io("look at", &target)(e)),
    }
    // Make the directories down to the file, each made one synced into its parent.
    let mut dir = repo_dir.to_path_buf();
    for part in path.split('/').collect::<Vec<_>>().split_last().map_or(&[][..], |(_, dirs)| dirs) {
        let parent = dir.clone();
        dir.push(part);
        match fs::create_dir(&dir) {
            Ok(()) => sync_dir(&parent)?,
            Err(e) if e.kind() == ErrorKind::AlreadyExists && dir.is_dir() => {}
            Err(e) => return Err(VolumeError::io("make the directory", &dir)(e)),
        }
    }
    write_atomically(&target, bytes)?;
    Ok(Received::Written)
}

/// Writes `bytes` to `target` through a synced temporary file renamed over it, and
/// syncs the directory.
pub(crate) fn write_atomically(target: &Path, bytes: &[u8]) -> Result<(), VolumeError> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let dir = target.parent().unwrap_or(Path::new("."));
    let name = target.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
    let temp = dir.join(format!(".{name}.tmp-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed)));
    let written = File::options()
        .write(true)
        .create_new(true)
        .open(&temp)
        .and_then(|mut file| {
            file.write_all(bytes)?;
            file.sync_all()
        })
        .map_err(VolumeError::io("write", &temp))
        .and_then(|()| fs::rename(&temp, target).map_err(VolumeError::io(format!("rename {} to", temp.display()), target)));
    if let Err(e) = written {
        let _ = fs::remove_file(&temp);
        return Err(e);
    }
    sync_dir(dir)
}

/// Makes the directory `dir`'s entries durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), VolumeError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(VolumeError::io("sync the directory", dir))
}

/// The files of `want` that `have` lacks, in `want`'s order: those whose path `have`
/// does not list, or lists with another size (a different file by the same name,
/// which [`receive`] then reports rather than leaving it unnoticed).
#[must_use]
pub fn missing(have: &[RepoFile], want: &[RepoFile]) -> Vec<RepoFile> {
    let have: HashMap<&str, u64> = have.iter().map(|f| (f.path.as_str(), f.size)).collect();
    want.iter().filter(|f| have.get(f.path.as_str()) != Some(&f.size)).cloned().collect()
}

/// The files of `have` (a standby's copy) that the primary's repository, whose paths
/// are `keep`, no longer holds: what its prune deleted. In the order to delete them in
/// so that the copy stays readable at every step: snapshots first, then indexes, then
/// packs (the reverse of [`missing`]'s). `config` and keys are never listed.
///
/// List `have` before asking for `keep`: a file that reached the copy after `keep`
/// was taken would otherwise be taken for deleted.
#[must_use]
pub fn extra(have: &[RepoFile], keep: &[String]) -> Vec<RepoFile> {
    let keep: std::collections::HashSet<&str> = keep.iter().map(String::as_str).collect();
    let mut out: Vec<RepoFile> =
        have.iter().filter(|f| !matches!(f.kind, FileKind::Config | FileKind::Key) && !keep.contains(f.path.as_str())).cloned().collect();
    out.sort_by(|a, b| b.kind.cmp(&a.kind).then_with(|| a.path.cmp(&b.path)));
    out
}

/// Deletes `files` (from [`extra`]) from the repository in `repo_dir`, in order; a
/// file already gone is no error. Returns how many it deleted.
///
/// # Errors
/// A path that is not a repository file's, or a file that cannot be deleted (the
/// files before it are gone, the rest are left).
pub fn remove(repo_dir: &Path, files: &[RepoFile]) -> Result<usize, VolumeError> {
    let mut removed = 0;
    for file in files {
        if let Err(why) = parse(&file.path) {
            return Err(VolumeError::Invalid(format!("cannot remove `{}` from {}: {why}", file.path, repo_dir.display())));
        }
        let path = repo_dir.join(&file.path);
        match fs::remove_file(&path) {
            Ok(()) => removed += 1,
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(VolumeError::io("remove", &path)(e)),
        }
    }
    if removed > 0 {
        for dir in ["snapshots", "index", "data"] {
            let dir = repo_dir.join(dir);
            if dir.is_dir() {
                sync_dir(&dir)?;
            }
        }
    }
    Ok(removed)
}

/// Every file of the repository in the directory `repo_dir`, in the order a copy must
/// be applied in (see [`crate::Repo::files`]); usable on a standby before the
/// repository is complete enough to open. Names restic would not give (temporary
/// files) are left out.
///
/// # Errors
/// `repo_dir` is not a directory, or a directory in it cannot be read.
pub fn files(repo_dir: &Path) -> Result<Vec<RepoFile>, VolumeError> {
    if !repo_dir.is_dir() {
        return Err(VolumeError::Invalid(format!("{} is not a directory", repo_dir.display())));
    }
    let mut out = Vec::new();
    add_file(repo_dir, "config", &mut out)?;
    for dir in ["keys", "index", "snapshots"] {
        for name in names(&repo_dir.join(dir))? {
            add_file(repo_dir, &format!("{dir}/{name}"), &mut out)?;
        }
    }
    for sub in names(&repo_dir.join("data"))? {
        if is_hex(&sub, 2) {
            for name in names(&repo_dir.join("data").join(&sub))? {
                add_file(repo_dir, &format!("data/{sub}/{name}"), &mut out)?;
            }
        }
    }
    out.sort();
    Ok(out)
}

/// The UTF-8 names in `dir`, none if it does not exist.
fn names(dir: &Path) -> Result<Vec<String>, VolumeError> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(VolumeError::io("list", dir)(e)),
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(VolumeError::io("list", dir))?;
        names.extend(entry.file_name().to_str().map(str::to_owned));
    }
    Ok(names)
}

/// Adds `path` to `out` if it is a repository file's name and a regular file.
fn add_file(repo_dir: &Path, path: &str, out: &mut Vec<RepoFile>) -> Result<(), VolumeError> {
    let Ok((kind, _)) = parse(path) else { return Ok(()) };
    let full = repo_dir.join(path);
    match fs::symlink_metadata(&full) {
        Ok(meta) if meta.is_file() => out.push(RepoFile { kind, path: path.to_owned(), size: meta.len() }),
        Ok(_) => {}
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => return Err(VolumeError::io("look at", &full)(e)),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_names_restic_gives_are_repository_files() {
        let id = "ab".repeat(32);
        assert_eq!(parse("config"), Ok((FileKind::Config, None)));
        assert_eq!(parse(&format!("data/ab/{id}")), Ok((FileKind::Pack, Some(id.as_str()))));
        for kind in ["keys", "index", "snapshots"] {
            assert!(parse(&format!("{kind}/{id}")).is_ok(), "{kind}");
        }
        let upper = id.to_uppercase();
        for bad in [
            "", "/config", "config/", "./config", "locks/x", &format!("keys/{upper}"), &format!("index/{id}0"),
            &format!("data/{id}"), &format!("data/cd/{id}"), &format!("data/zz/{id}"), &format!("data/ab/../{id}"),
            &format!("/index/{id}"), &format!("index//{id}"), &format!("keys/{}", &id[..63]),
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn missing_keeps_the_wanted_order_and_resends_a_file_that_differs() {
        let f = |path: &str, size| RepoFile { kind: FileKind::Pack, path: path.to_owned(), size };
        let want = [f("c", 1), f("a", 1), f("b", 2)];
        assert_eq!(missing(&[f("a", 1), f("b", 3)], &want), [f("c", 1), f("b", 2)]);
        assert_eq!(missing(&want, &want), []);
    }

    #[test]
    fn extra_deletes_what_the_primary_dropped_readers_first_and_never_the_config_or_keys() {
        let f = |kind, path: &str| RepoFile { kind, path: path.to_owned(), size: 1 };
        let have = [
            f(FileKind::Config, "config"),
            f(FileKind::Key, "keys/k"),
            f(FileKind::Pack, "data/aa/old"),
            f(FileKind::Pack, "data/bb/kept"),
            f(FileKind::Index, "index/old"),
            f(FileKind::Snapshot, "snapshots/old"),
            f(FileKind::Snapshot, "snapshots/kept"),
        ];
        let keep = ["data/bb/kept", "snapshots/kept", "index/new"].map(String::from);
        let paths: Vec<String> = extra(&have, &keep).into_iter().map(|f| f.path).collect();
        assert_eq!(paths, ["snapshots/old", "index/old", "data/aa/old"]);
    }
}
