//! Replication without Docker: a primary's repository shipped file by file to a
//! standby (`ship::receive`), which restores each new snapshot in place into its warm
//! copy of the volume (`Repo::restore_in_place`).

use roost_volumes::ship::{self, receive, Received};
use roost_volumes::{FileKind, Repo, RepoFile, RestoreStats};
use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

const PASSWORD: &str = "correct horse battery staple";
const VOLUME: &str = "app_data";

fn noise(len: usize, mut x: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// A generated volume: a 3 MiB file (several chunks), small files in subdirectories,
/// a directory to delete, an empty file and directory, an executable, a symlink.
fn make_volume(dir: &Path) {
    for sub in ["notes", "old", "empty-dir", "deep/er/est"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
    }
    std::fs::write(dir.join("big"), noise(3 << 20, 0x9e37_79b9_7f4a_7c15)).unwrap();
    for i in 0..40 {
        std::fs::write(dir.join(format!("deep/er/est/f{i:02}")), format!("line {i}\n").repeat(i * 7 + 1)).unwrap();
    }
    std::fs::write(dir.join("notes/a.txt"), b"first version\n").unwrap();
    std::fs::write(dir.join("notes/b.txt"), b"to be deleted\n").unwrap();
    std::fs::write(dir.join("old/1"), b"old one\n").unwrap();
    std::fs::write(dir.join("old/2"), b"old two\n").unwrap();
    std::fs::write(dir.join("empty"), b"").unwrap();
    std::fs::write(dir.join("run.sh"), b"#!/bin/sh\necho hi\n").unwrap();
    std::fs::set_permissions(dir.join("run.sh"), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::os::unix::fs::symlink("notes/a.txt", dir.join("current")).unwrap();
}

/// Every entry under `dir`: its kind, mode and content (or link target).
fn tree(dir: &Path) -> BTreeMap<PathBuf, (&'static str, u32, Vec<u8>)> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, (&'static str, u32, Vec<u8>)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            let rel = path.strip_prefix(root).unwrap().to_owned();
            if meta.file_type().is_symlink() {
                out.insert(rel, ("link", 0, std::fs::read_link(&path).unwrap().into_os_string().into_encoded_bytes()));
            } else if meta.is_dir() {
                out.insert(rel, ("dir", meta.mode() & 0o7777, vec![]));
                walk(root, &path, out);
            } else {
                out.insert(rel, ("file", meta.mode() & 0o7777, std::fs::read(&path).unwrap()));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// Ships `files` of repository `from` into the standby's repository directory `to`.
fn ship(from: &Path, to: &Path, files: &[RepoFile]) {
    for file in files {
        let bytes = std::fs::read(from.join(&file.path)).unwrap();
        assert_eq!(bytes.len() as u64, file.size, "{}", file.path);
        assert_eq!(receive(to, &file.path, &bytes).unwrap(), Received::Written, "{}", file.path);
    }
}

#[test]
fn a_standby_fed_only_missing_files_restores_each_snapshot_in_place() {
    let work = tempfile::tempdir().unwrap();
    let [volume, repo_a, repo_b, warm, marker] = ["volume", "a", "b", "warm", "warm.restoring"].map(|n| work.path().join(n));
    make_volume(&volume);
    let primary = Repo::init(&repo_a, PASSWORD).unwrap();
    let first = primary.snapshot(&volume, VOLUME, "h1", &["roost"]).unwrap();

    // Everything, in apply order: config, keys, packs, index, snapshots. `receive`
    // checks each name against the SHA-256 of the content.
    let all = primary.files().unwrap();
    let kinds: Vec<FileKind> = all.iter().map(|f| f.kind).collect();
    assert_eq!(kinds.first(), Some(&FileKind::Config), "{kinds:?}");
    assert!(kinds.windows(2).all(|w| w[0] <= w[1]), "{kinds:?}");
    for kind in [FileKind::Key, FileKind::Pack, FileKind::Index, FileKind::Snapshot] {
        assert!(kinds.contains(&kind), "{kind:?} in {kinds:?}");
    }
    assert!(first.new_files.iter().all(|f| all.contains(f)), "{:?} in {all:?}", first.new_files);
    std::fs::create_dir(&repo_b).unwrap();
    assert_eq!(ship::files(&repo_b).unwrap(), []);
    ship(&repo_a, &repo_b, &all);
    assert_eq!(ship::files(&repo_b).unwrap(), all, "the standby holds exactly the primary's files");

    let standby = Repo::open(&repo_b, PASSWORD).unwrap();
    assert_eq!(standby.latest(VOLUME).unwrap().map(|s| s.id), Some(first.id.clone()));
    assert_eq!(standby.latest("other").unwrap(), None);
    standby.restore(&first.id, VOLUME, &warm).unwrap();
    assert_eq!(tree(&warm), tree(&volume), "the first restore on the standby differs from the volume");

    // The volume changes: the end of the big file (same size), a small file, one file
    // and one directory deleted, a file and a directory added.
    let mut big = std::fs::read(volume.join("big")).unwrap();
    let len = big.len();
    big[len - 16..].fill(0xee);
    std::fs::write(volume.join("big"), &big).unwrap();
    std::fs::write(volume.join("notes/a.txt"), b"second version, longer\n").unwrap();
    std::fs::remove_file(volume.join("notes/b.txt")).unwrap();
    std::fs::remove_dir_all(volume.join("old")).unwrap();
    std::fs::write(volume.join("new.txt"), b"new\n").unwrap();
    std::fs::create_dir(volume.join("fresh")).unwrap();
    std::fs::write(volume.join("fresh/x"), noise(5000, 7)).unwrap();
    let second = primary.snapshot(&volume, VOLUME, "h1", &["roost"]).unwrap();

    // Only what the standby lacks is shipped: exactly what the snapshot wrote.
    let send = ship::missing(&ship::files(&repo_b).unwrap(), &primary.files().unwrap());
    let mut written = second.new_files.clone();
    written.sort();
    assert_eq!(send, written, "missing() is the snapshot's new files, in apply order");
    assert_eq!(send.last().map(|f| f.kind), Some(FileKind::Snapshot));
    ship(&repo_a, &repo_b, &send);
    assert_eq!(standby.latest(VOLUME).unwrap().map(|s| s.id), Some(second.id.clone()));

    let stats = standby.restore_in_place(&second.id, VOLUME, &warm, &marker).unwrap();
    assert_eq!(tree(&warm), tree(&volume), "the in-place restore differs from the volume");
    assert!(!marker.exists(), "the marker is removed after a successful restore");
    let files = tree(&volume).values().filter(|(kind, ..)| *kind == "file").count() as u64;
    assert_eq!(stats.files_restored, 4, "big, a.txt, new.txt, fresh/x: {stats:?}");
    assert_eq!(stats.files_unchanged, files - 4, "{stats:?}");
    assert_eq!(stats.deleted, 2, "notes/b.txt and old/: {stats:?}");
    assert!(stats.bytes_written > 5000 && stats.bytes_written < 3 << 20, "only the changed chunk of big is rewritten: {stats:?}");

    // Again: nothing to do (the symlink is re-created, not counted).
    let again = standby.restore_in_place("latest", VOLUME, &warm, &marker).unwrap();
    assert_eq!(again, RestoreStats { files_unchanged: files, ..RestoreStats::default() });
    assert_eq!(tree(&warm), tree(&volume));

    // Back to the first snapshot, over the second.
    let back = standby.restore_in_place(&first.id, VOLUME, &warm, &marker).unwrap();
    let restored = work.path().join("restored-first");
    primary.restore(&first.id, VOLUME, &restored).unwrap();
    assert_eq!(tree(&warm), tree(&restored), "{back:?}");
    assert_eq!(back.deleted, 2, "new.txt and fresh/: {back:?}");
}

#[test]
fn receive_takes_only_files_that_are_what_their_names_say() {
    let work = tempfile::tempdir().unwrap();
    let [volume, repo_a, repo_b] = ["volume", "a", "b"].map(|n| work.path().join(n));
    std::fs::create_dir_all(volume.join("d")).unwrap();
    std::fs::write(volume.join("d/f"), b"content").unwrap();
    let primary = Repo::init(&repo_a, PASSWORD).unwrap();
    primary.snapshot(&volume, VOLUME, "h1", &[]).unwrap();
    std::fs::create_dir(&repo_b).unwrap();
    let all = primary.files().unwrap();
    let read = |f: &RepoFile| std::fs::read(repo_a.join(&f.path)).unwrap();
    let index = all.iter().find(|f| f.kind == FileKind::Index).unwrap();
    let pack = all.iter().find(|f| f.kind == FileKind::Pack).unwrap();
    let id = pack.path.rsplit('/').next().unwrap();

    let other_dir = if id.starts_with("cd") { "ab" } else { "cd" };
    let other_id = format!("{other_dir}{}", &id[2..]);
    let rejected = [
        (format!("index/{}", "0".repeat(64)), read(index), "does not match"),
        ("../x".to_owned(), b"x".to_vec(), "not config"),
        ("/etc/passwd".to_owned(), b"root".to_vec(), "not config"),
        (format!("data/zz/{id}"), read(pack), "data/<2 hex digits>"),
        (format!("data/{other_dir}/{id}"), read(pack), "first two digits"),
        (format!("data/{other_dir}/{other_id}"), read(pack), "does not match"),
        (format!("data/{}/{}", &id[..2], id.to_uppercase()), read(pack), "64 lowercase hex"),
        (format!("locks/{id}"), read(pack), "not config"),
        (format!("index/{}/../{}", &id[..2], &index.path[6..]), read(index), "not config"),
    ];
    for (path, bytes, why) in &rejected {
        let err = receive(&repo_b, path, bytes).unwrap_err().to_string();
        assert!(err.contains(path.as_str()) && err.contains(why), "{path}: {err}");
    }
    assert_eq!(std::fs::read_dir(&repo_b).unwrap().count(), 0, "a rejected file leaves nothing behind");
    assert!(!work.path().join("x").exists());

    for file in &all {
        assert_eq!(receive(&repo_b, &file.path, &read(file)).unwrap(), Received::Written, "{}", file.path);
        assert_eq!(receive(&repo_b, &file.path, &read(file)).unwrap(), Received::AlreadyHad, "{}", file.path);
    }
    let config = read(&all[0]);
    let err = receive(&repo_b, "config", b"{\"other\": 1}").unwrap_err().to_string();
    assert!(err.contains("config") && err.contains("different"), "{err}");
    assert_eq!(std::fs::read(repo_b.join("config")).unwrap(), config, "the config is not replaced");
    assert_eq!(ship::files(&repo_b).unwrap(), all);
    let err = receive(&work.path().join("nowhere"), "config", &config).unwrap_err().to_string();
    assert!(err.contains("nowhere"), "{err}");
    Repo::open(&repo_b, PASSWORD).unwrap();
}

#[test]
fn the_marker_shows_a_restore_that_did_not_finish() {
    let work = tempfile::tempdir().unwrap();
    let [volume, repo_dir, warm, marker] = ["volume", "repo", "warm", "warm.restoring"].map(|n| work.path().join(n));
    make_volume(&volume);
    let repo = Repo::init(&repo_dir, PASSWORD).unwrap();
    let snap = repo.snapshot(&volume, VOLUME, "h1", &[]).unwrap();
    let other = repo.snapshot(&volume, "other", "h1", &[]).unwrap();
    std::fs::create_dir(&warm).unwrap();
    std::fs::write(warm.join("stale"), b"from before").unwrap();

    // Failing before it touches the directory, a restore leaves the marker as it was.
    for id in ["0".repeat(64), "zz".to_owned(), other.id.clone()] {
        let err = repo.restore_in_place(&id, VOLUME, &warm, &marker).unwrap_err().to_string();
        assert!(err.contains(&id), "{err}");
        assert!(!marker.exists(), "no marker written for {id}");
    }
    assert!(repo.restore_in_place(&snap.id, "../x", &warm, &marker).is_err());
    std::fs::write(&marker, b"an earlier restore crashed").unwrap();
    assert!(repo.restore_in_place(&"0".repeat(64), VOLUME, &warm, &marker).is_err());
    assert!(marker.exists(), "an earlier failure's marker stays");
    let inside = warm.join("marker");
    let err = repo.restore_in_place(&snap.id, VOLUME, &warm, &inside).unwrap_err().to_string();
    assert!(err.contains("inside"), "{err}");
    assert!(repo.restore_in_place(&snap.id, VOLUME, &work.path().join("missing"), &marker).is_err());
    assert_eq!(std::fs::read(warm.join("stale")).unwrap(), b"from before", "nothing was touched");

    // Success removes it.
    let stats = repo.restore_in_place(&snap.id, VOLUME, &warm, &marker).unwrap();
    assert!(!marker.exists());
    assert_eq!((stats.deleted, stats.files_unchanged), (1, 0), "{stats:?}");
    assert_eq!(tree(&warm), tree(&volume));

    // A restore failing midway (the data packs are corrupt, the small tree pack is
    // not, so the snapshot is found) leaves the marker.
    let data_packs: Vec<RepoFile> = repo.files().unwrap().into_iter().filter(|f| f.kind == FileKind::Pack && f.size > 1 << 20).collect();
    assert!(!data_packs.is_empty());
    for file in &data_packs {
        let path = repo_dir.join(&file.path);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[..64].fill(0);
        std::fs::write(&path, bytes).unwrap();
    }
    let fresh = work.path().join("fresh");
    std::fs::create_dir(&fresh).unwrap();
    let err = repo.restore_in_place(&snap.id, VOLUME, &fresh, &marker).unwrap_err().to_string();
    assert!(err.contains("fresh") && err.contains("MAC check failed") && err.len() < 400, "{err}");
    assert!(marker.exists(), "a failed restore leaves its marker");
}
