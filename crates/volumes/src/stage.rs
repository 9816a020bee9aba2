//! A staging copy of a volume: what a crash-consistent snapshot reads instead of the
//! live volume, so the containers writing it are paused only while the changes since
//! the last snapshot are copied (milliseconds), not while the snapshot is taken.

use crate::VolumeError;
use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::{lchown, MetadataExt, PermissionsExt};
use std::path::Path;
use std::time::SystemTime;

/// What [`stage`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StageStats {
    /// Files copied because they were new or changed (size or modification time).
    pub copied: u64,
    /// Bytes those files hold.
    pub bytes: u64,
    /// Entries removed from the copy because the volume no longer has them.
    pub removed: u64,
}

/// Makes `copy` equal to `live`: new and changed files are copied (content, mode,
/// owner, modification time), symlinks re-made, entries `live` lacks removed. A file is
/// unchanged when its size and modification time match, as restic judges it.
///
/// # Errors
/// An entry of `live` cannot be read, or `copy` cannot be written.
pub fn stage(live: &Path, copy: &Path) -> Result<StageStats, VolumeError> {
    stage_older_than(live, copy, None)
}

/// [`stage`] for a volume that is still being written, before the writers are
/// frozen: so the frozen pass only copies what changed meanwhile (after a failover
/// the staging copy is empty, and copying the whole volume frozen would stop the
/// service for seconds).
///
/// Files modified at or after `cutoff` are left alone: a file's time comes from a
/// coarse clock, so one written again in the same tick after being copied would look
/// unchanged to the frozen pass. Choose a cutoff a second or more before now. The
/// copy is not consistent after this; only [`stage`] (with the writers frozen) makes
/// it so.
///
/// # Errors
/// As [`stage`]; an error here is no reason to skip the frozen pass.
pub fn stage_older_than(live: &Path, copy: &Path, cutoff: Option<SystemTime>) -> Result<StageStats, VolumeError> {
    let mut stats = StageStats::default();
    fs::create_dir_all(copy).map_err(VolumeError::io("make the staging directory", copy))?;
    mirror(live, copy, cutoff, &mut stats)?;
    Ok(stats)
}

fn mirror(live: &Path, copy: &Path, cutoff: Option<SystemTime>, stats: &mut StageStats) -> Result<(), VolumeError> {
    let mut names = BTreeSet::new();
    for entry in fs::read_dir(live).map_err(VolumeError::io("list", live))? {
        let entry = entry.map_err(VolumeError::io("list", live))?;
        let (from, to) = (entry.path(), copy.join(entry.file_name()));
        names.insert(entry.file_name());
        let meta = fs::symlink_metadata(&from).map_err(VolumeError::io("read", &from))?;
        let old = fs::symlink_metadata(&to).ok();
        let kind = meta.file_type();
        if old.as_ref().is_some_and(|o| o.file_type() != kind) {
            remove(&to, stats)?;
        }
        if kind.is_dir() {
            if !to.exists() {
                fs::create_dir(&to).map_err(VolumeError::io("make", &to))?;
            }
            mirror(&from, &to, cutoff, stats)?;
        } else if kind.is_symlink() {
            let target = fs::read_link(&from).map_err(VolumeError::io("read the link", &from))?;
            if fs::read_link(&to).ok().as_deref() != Some(target.as_path()) {
                let _ = fs::remove_file(&to);
                std::os::unix::fs::symlink(&target, &to).map_err(VolumeError::io("make the link", &to))?;
            }
        } else if kind.is_file() {
            if cutoff.is_some_and(|cutoff| meta.modified().is_ok_and(|m| m >= cutoff)) {
                continue;
            }
            let same = old.as_ref().is_some_and(|o| o.len() == meta.len() && o.mtime() == meta.mtime() && o.mtime_nsec() == meta.mtime_nsec());
            if same && old.as_ref().is_some_and(|o| o.uid() == meta.uid() && o.gid() == meta.gid() && o.mode() == meta.mode()) {
                // The common case while the writers are frozen: two stats, nothing else.
                continue;
            }
            if !same {
                fs::copy(&from, &to).map_err(VolumeError::io("copy", &from))?;
                let modified = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
                fs::File::options().write(true).open(&to).and_then(|f| f.set_modified(modified)).map_err(VolumeError::io("date", &to))?;
                stats.copied += 1;
                stats.bytes += meta.len();
            }
        } else {
            // Sockets, fifos, devices: nothing a snapshot keeps the content of.
            continue;
        }
        lchown(&to, Some(meta.uid()), Some(meta.gid())).map_err(VolumeError::io("set the owner of", &to))?;
        if !kind.is_symlink() {
            fs::set_permissions(&to, fs::Permissions::from_mode(meta.mode())).map_err(VolumeError::io("set the mode of", &to))?;
        }
    }
    for entry in fs::read_dir(copy).map_err(VolumeError::io("list", copy))? {
        let entry = entry.map_err(VolumeError::io("list", copy))?;
        if !names.contains(&entry.file_name()) {
            remove(&entry.path(), stats)?;
        }
    }
    // The directory's own owner and mode, as the volume root has them.
    let meta = fs::metadata(live).map_err(VolumeError::io("read", live))?;
    lchown(copy, Some(meta.uid()), Some(meta.gid())).map_err(VolumeError::io("set the owner of", copy))?;
    fs::set_permissions(copy, fs::Permissions::from_mode(meta.mode())).map_err(VolumeError::io("set the mode of", copy))
}

fn remove(path: &Path, stats: &mut StageStats) -> Result<(), VolumeError> {
    let dir = fs::symlink_metadata(path).is_ok_and(|m| m.is_dir());
    let removed = if dir { fs::remove_dir_all(path) } else { fs::remove_file(path) };
    removed.map_err(VolumeError::io("remove", path))?;
    stats.removed += 1;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_copy_follows_the_volume_and_copies_only_what_changed() {
        let (live, copy) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        fs::create_dir_all(live.path().join("a/b")).unwrap();
        fs::write(live.path().join("a/b/one"), "one").unwrap();
        fs::write(live.path().join("two"), "two").unwrap();
        std::os::unix::fs::symlink("two", live.path().join("link")).unwrap();
        let first = stage(live.path(), copy.path()).unwrap();
        assert_eq!((first.copied, first.removed), (2, 0));
        assert_eq!(fs::read_to_string(copy.path().join("a/b/one")).unwrap(), "one");
        assert_eq!(fs::read_link(copy.path().join("link")).unwrap(), Path::new("two"));
        assert_eq!(stage(live.path(), copy.path()).unwrap(), StageStats::default(), "nothing changed");

        fs::write(live.path().join("two"), "two, longer").unwrap();
        fs::remove_dir_all(live.path().join("a")).unwrap();
        fs::write(live.path().join("a"), "now a file").unwrap();
        let again = stage(live.path(), copy.path()).unwrap();
        assert_eq!(again.copied, 2);
        assert_eq!(fs::read_to_string(copy.path().join("a")).unwrap(), "now a file");
        assert_eq!(fs::read_to_string(copy.path().join("two")).unwrap(), "two, longer");
        let modified = |p: &Path| fs::metadata(p).unwrap().modified().unwrap();
        assert_eq!(modified(&copy.path().join("two")), modified(&live.path().join("two")));

        // A mode change alone (same size and time) reaches the copy too.
        let mtime = modified(&live.path().join("two"));
        fs::set_permissions(live.path().join("two"), fs::Permissions::from_mode(0o600)).unwrap();
        fs::File::options().write(true).open(live.path().join("two")).unwrap().set_modified(mtime).unwrap();
        assert_eq!(stage(live.path(), copy.path()).unwrap().copied, 0);
        assert_eq!(fs::metadata(copy.path().join("two")).unwrap().mode() & 0o777, 0o600);
    }

    #[test]
    fn a_pass_before_the_freeze_leaves_fresh_files_to_the_frozen_one() {
        let (live, copy) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        fs::write(live.path().join("old"), "settled").unwrap();
        fs::write(live.path().join("fresh"), "being written").unwrap();
        let an_hour_ago = SystemTime::now() - std::time::Duration::from_secs(3600);
        fs::File::options().write(true).open(live.path().join("old")).unwrap().set_modified(an_hour_ago).unwrap();
        let cutoff = SystemTime::now() - std::time::Duration::from_secs(1);
        let early = stage_older_than(live.path(), copy.path(), Some(cutoff)).unwrap();
        assert_eq!(early.copied, 1);
        assert!(copy.path().join("old").exists() && !copy.path().join("fresh").exists());
        let frozen = stage(live.path(), copy.path()).unwrap();
        assert_eq!((frozen.copied, frozen.removed), (1, 0), "only the fresh file is left for the frozen pass");
        assert_eq!(fs::read_to_string(copy.path().join("fresh")).unwrap(), "being written");
    }

    /// Not a test of behaviour: how long staging an unchanged tree takes (the pause a
    /// `pause` snapshot costs at least). `cargo test -p roost-volumes --release stage_cost -- --ignored --nocapture`
    #[test]
    #[ignore = "a measurement, not a check"]
    fn stage_cost() {
        let (live, copy) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        for d in 0..100 {
            fs::create_dir(live.path().join(format!("d{d}"))).unwrap();
            for f in 0..100 {
                fs::write(live.path().join(format!("d{d}/f{f}")), [d as u8; 100]).unwrap();
            }
        }
        stage(live.path(), copy.path()).unwrap();
        let started = std::time::Instant::now();
        for _ in 0..5 {
            stage(live.path(), copy.path()).unwrap();
        }
        eprintln!("staging 10 000 unchanged files: {:?} a pass", started.elapsed() / 5);
    }
}
