//! Snapshots of a volume, incremental, restored byte-identical, and a repository that
//! Debian's restic 0.14 (the real peer, installed by scripts/install-test-peers.sh)
//! lists, checks with `--read-data` and restores.

use roost_volumes::{FileKind, Repo};
use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

const PASSWORD: &str = "correct horse battery staple";

/// A volume: a database-sized file, many small ones, a subdirectory, a symlink, an
/// empty file, an empty directory and an executable.
fn make_volume(dir: &Path) {
    std::fs::create_dir_all(dir.join("pg/base")).unwrap();
    std::fs::create_dir_all(dir.join("empty")).unwrap();
    // Incompressible-ish data from a small xorshift, so deduplication is what saves.
    let mut x: u64 = 0x9e3779b97f4a7c15;
    let big: Vec<u8> = (0..3 << 20)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    std::fs::write(dir.join("pg/base/16384"), &big).unwrap();
    for i in 0..120 {
        std::fs::write(dir.join(format!("pg/base/small-{i:03}")), format!("row {i}\n").repeat(i + 1)).unwrap();
    }
    std::fs::write(dir.join("empty-file"), b"").unwrap();
    std::fs::write(dir.join("run.sh"), b"#!/bin/sh\necho hi\n").unwrap();
    std::fs::set_permissions(dir.join("run.sh"), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::os::unix::fs::symlink("pg/base/16384", dir.join("current")).unwrap();
}

/// Every entry under `dir`: its kind, mode and content (or link target).
fn tree(dir: &Path) -> BTreeMap<PathBuf, (String, u32, Vec<u8>)> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, (String, u32, Vec<u8>)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            let rel = path.strip_prefix(root).unwrap().to_owned();
            if meta.file_type().is_symlink() {
                out.insert(rel, ("link".into(), 0, std::fs::read_link(&path).unwrap().into_os_string().into_encoded_bytes()));
            } else if meta.is_dir() {
                out.insert(rel, ("dir".into(), meta.mode() & 0o7777, vec![]));
                walk(root, &path, out);
            } else {
                out.insert(rel, ("file".into(), meta.mode() & 0o7777, std::fs::read(&path).unwrap()));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

fn restic(repo: &Path, args: &[&str]) -> std::process::Output {
    let password_file = repo.with_extension("password");
    std::fs::write(&password_file, PASSWORD).unwrap();
    Command::new("restic")
        .arg("-r")
        .arg(repo)
        .arg("--password-file")
        .arg(&password_file)
        .arg("--no-cache")
        .args(args)
        .output()
        .expect("Debian's restic is a test peer: run scripts/install-test-peers.sh")
}

#[test]
fn snapshots_are_incremental_restore_byte_identical_and_restic_reads_the_repository() {
    let work = tempfile::tempdir().unwrap();
    let (volume, repo_dir) = (work.path().join("volume"), work.path().join("repo"));
    make_volume(&volume);
    let repo = Repo::init(&repo_dir, PASSWORD).unwrap();

    let first = repo.snapshot(&volume, "shop_db", "h1", &["roost", "volume=shop_db"]).unwrap();
    assert_eq!(first.parent, None);
    let first_packs = first.new_files.iter().filter(|f| f.kind == FileKind::Pack).count();
    assert!(first_packs >= 1, "{first:?}");

    // A few rows change: the next snapshot is an increment of the first.
    std::fs::write(volume.join("pg/base/small-007"), b"changed\n").unwrap();
    std::fs::write(volume.join("pg/base/new-segment"), vec![7u8; 64 << 10]).unwrap();
    let second = repo.snapshot(&volume, "shop_db", "h1", &["roost", "volume=shop_db"]).unwrap();
    assert_eq!(second.parent.as_deref(), Some(first.id.as_str()), "the second snapshot is an increment of the first");
    assert!(second.data_added.unwrap() < 1 << 20, "only the change is new: {:?} bytes", second.data_added);
    let kinds: Vec<FileKind> = second.new_files.iter().map(|f| f.kind).collect();
    assert_eq!(kinds.last(), Some(&FileKind::Snapshot), "the snapshot file is written last: {kinds:?}");
    assert!(kinds.contains(&FileKind::Pack) && kinds.contains(&FileKind::Index), "{kinds:?}");
    for file in &second.new_files {
        assert!(repo_dir.join(&file.path).is_file(), "{} is in the repository", file.path);
    }
    assert!(second.new_files.iter().any(|f| f.path.ends_with(&second.id)), "{:?}", second.new_files);

    let listed = Repo::open(&repo_dir, PASSWORD).unwrap().snapshots().unwrap();
    assert_eq!(listed.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(), [first.id.as_str(), second.id.as_str()]);
    assert_eq!(listed[1].tags, ["roost", "volume=shop_db"]);

    // Our restore: byte-identical, with modes and the symlink.
    let restored = work.path().join("restored");
    repo.restore(&second.id, "shop_db", &restored).unwrap();
    assert_eq!(tree(&restored), tree(&volume), "rustic_core's restore differs from the volume");
    assert!(repo.restore(&second.id, "shop_db", &restored).is_err(), "a restore into a non-empty directory is refused");
    assert!(Repo::open(&repo_dir, "wrong").is_err(), "a wrong password opens nothing");

    // The peer: Debian's restic 0.14 lists, checks every byte and restores the same tree.
    let snapshots = restic(&repo_dir, &["snapshots", "--json"]);
    assert!(snapshots.status.success(), "{}", String::from_utf8_lossy(&snapshots.stderr));
    let snapshots: serde_json::Value = serde_json::from_slice(&snapshots.stdout).unwrap();
    assert_eq!(snapshots.as_array().map(Vec::len), Some(2), "{snapshots}");
    let check = restic(&repo_dir, &["check", "--read-data"]);
    let out = String::from_utf8_lossy(&check.stdout);
    assert!(check.status.success() && out.contains("no errors were found"), "{out}{}", String::from_utf8_lossy(&check.stderr));
    let target = work.path().join("by-restic");
    let restore = restic(&repo_dir, &["restore", &second.id, "--target", target.to_str().unwrap()]);
    assert!(restore.status.success(), "{}", String::from_utf8_lossy(&restore.stderr));
    assert_eq!(tree(&target.join("volumes/shop_db")), tree(&volume), "restic's restore differs from the volume");
}

#[test]
fn bad_input_is_an_error_that_says_what() {
    let work = tempfile::tempdir().unwrap();
    let repo = Repo::init(&work.path().join("repo"), PASSWORD).unwrap();
    let err = repo.snapshot(work.path(), "../etc", "h1", &[]).unwrap_err().to_string();
    assert!(err.contains("not a volume name"), "{err}");
    let err = repo.snapshot(work.path(), "v", "h1", &["a,b"]).unwrap_err().to_string();
    assert!(err.contains("comma"), "{err}");
    let err = Repo::open(&work.path().join("nothing-here"), PASSWORD).unwrap_err().to_string();
    assert!(err.contains("cannot open") && err.contains("nothing-here"), "{err}");
}
