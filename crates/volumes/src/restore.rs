//! Restoring a snapshot of a volume: into an empty directory, or in place over an
//! older restore (a standby's warm copy).

use crate::repo::{options, volume_path, Repo, VolumeError};
use crate::ship::{sync_dir, write_atomically};
use rustic_core::repofile::Node;
use rustic_core::{IndexedFullStatus, LocalDestination, LsOptions, Repository, RestoreOptions, RestorePlan, RusticResult};
use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

/// What [`Repo::restore_in_place`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RestoreStats {
    /// Regular files written: new ones and changed ones.
    pub files_restored: u64,
    /// Regular files already equal to the snapshot's, left alone.
    pub files_unchanged: u64,
    /// Entries not in the snapshot, removed (a directory counts once, with all in it).
    /// Symlinks and other special files are re-created on every restore and not
    /// counted.
    pub deleted: u64,
    /// Bytes of file content written (only the changed parts of a changed file of the
    /// same size).
    pub bytes_written: u64,
}

/// Runs a `rustic_core` step that panics on some I/O errors (its restore's worker
/// threads unwrap them), turning a panic into an error.
fn unpanicked<T>(doing: &str, dest: &Path, step: impl FnOnce() -> Result<T, VolumeError>) -> Result<T, VolumeError> {
    catch_unwind(AssertUnwindSafe(step)).unwrap_or_else(|panic| {
        let why = panic.downcast_ref::<String>().map(String::as_str).or_else(|| panic.downcast_ref::<&str>().copied());
        Err(VolumeError::Failed(format!("cannot {doing} {}: rustic_core failed: {}", dest.display(), gist(why.unwrap_or("?")))))
    })
}

/// The gist of a panic message: an unwrapped `RusticError`'s guidance, not its
/// debug dump with a backtrace.
fn gist(message: &str) -> &str {
    const GUIDANCE: &str = "guidance: \"";
    if let Some(start) = message.find(GUIDANCE).map(|i| i + GUIDANCE.len()) {
        if let Some(len) = message[start..].find('"') {
            return &message[start..start + len];
        }
    }
    let line = message.lines().next().unwrap_or_default();
    line.char_indices().nth(300).map_or(line, |(end, _)| &line[..end])
}

impl Repo {
    /// The repository, indexed, and the root of snapshot `id` (full, a unique prefix,
    /// or `latest`, which is that volume's newest) of volume `volume`.
    fn find(&self, id: &str, volume: &str) -> Result<(Repository<IndexedFullStatus>, Node), VolumeError> {
        let within = volume_path(volume)?;
        let within = within.to_string_lossy();
        let valid = id == "latest" || (!id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_hexdigit()));
        if !valid {
            return Err(VolumeError::Invalid(format!("`{id}` is not a snapshot id (hex digits, or `latest`)")));
        }
        let repo = Repository::new(&options(), &self.backends)
            .and_then(|r| r.open(&self.credentials))
            .and_then(|r| r.to_indexed())
            .map_err(self.fail("open for a restore"))?;
        let finding = format!("find snapshot {id} of volume {volume}");
        let file = repo.get_snapshot_from_str(id, |s| s.paths.contains(&within)).map_err(self.fail(&finding))?;
        if !file.paths.contains(&within) {
            return Err(VolumeError::Invalid(format!("snapshot {id} is not one of volume {volume}")));
        }
        let node =
            repo.node_from_snapshot_path(&format!("{}:{within}", file.id.to_hex().as_str()), |_| true).map_err(self.fail(&finding))?;
        if !node.is_dir() {
            return Err(VolumeError::Invalid(format!("snapshot {id} of volume {volume} is not a directory")));
        }
        Ok((repo, node))
    }

    /// Restores snapshot `id` (full, a unique prefix, or `latest`) of volume `volume`
    /// into `dest`, which must be empty or missing.
    ///
    /// # Errors
    /// No such snapshot, `dest` not empty, or a file that cannot be written.
    pub fn restore(&self, id: &str, volume: &str, dest: &Path) -> Result<(), VolumeError> {
        if std::fs::read_dir(dest).is_ok_and(|mut d| d.next().is_some()) {
            return Err(VolumeError::Invalid(format!("{} is not empty: restore only into an empty directory", dest.display())));
        }
        let (repo, node) = self.find(id, volume)?;
        let listing = repo.ls(&node, &LsOptions::default()).map_err(self.fail("list the snapshot"))?;
        let destination =
            LocalDestination::new(&dest.to_string_lossy(), true, false).map_err(self.fail(format!("write into {}", dest.display())))?;
        let options = RestoreOptions::default();
        unpanicked("restore into", dest, || {
            let plan = repo.prepare_restore(&options, listing.clone(), &destination, false).map_err(self.fail("plan the restore"))?;
            repo.restore(plan, &options, listing, &destination).map_err(self.fail(format!("restore into {}", dest.display())))
        })
    }

    /// Makes the existing directory `dest` (empty, or holding an older restore of the
    /// volume) equal to snapshot `id` (full, a unique prefix, or `latest`) of volume
    /// `volume`: new and changed files written (only their changed blocks when the size
    /// is the same), everything not in the snapshot deleted, files left alone whose
    /// size and modification time are the snapshot's, as a restore sets them.
    ///
    /// That last check trusts `dest` to be written by restores only (a warm copy no
    /// container uses): a file changed in place without changing its size and mtime
    /// would not be repaired.
    ///
    /// # The marker
    /// Before it changes anything in `dest`, this writes (durably) the file `marker`,
    /// which must not be inside `dest`; it removes it only after the restore succeeded
    /// and a second pass over `dest` found nothing left to write or delete. So **a
    /// directory whose marker exists is not a consistent copy** of any snapshot (a
    /// restore crashed or failed in it), and should be restored again before use. A
    /// restore that fails before touching `dest` (bad name or id, unknown snapshot,
    /// unreadable repository) leaves the marker as it found it: absent stays absent,
    /// and a marker left by an earlier failure stays.
    ///
    /// # Errors
    /// A bad volume name or id, no such snapshot, `dest` not a directory, `marker`
    /// inside `dest` or not writable, a file that cannot be written or removed.
    pub fn restore_in_place(&self, id: &str, volume: &str, dest: &Path, marker: &Path) -> Result<RestoreStats, VolumeError> {
        check_marker(dest, marker)?;
        let Some(dest_str) = dest.to_str() else {
            return Err(VolumeError::Invalid(format!("{} is not a UTF-8 path", dest.display())));
        };
        let (repo, node) = self.find(id, volume)?;
        let listing = repo.ls(&node, &LsOptions::default()).map_err(self.fail("list the snapshot"))?;
        let destination = LocalDestination::new(dest_str, false, false).map_err(self.fail(format!("write into {}", dest.display())))?;
        let options = RestoreOptions::default().delete(true);
        let plan = |dry_run| -> Result<(RestorePlan, u64), VolumeError> {
            let replaced = Cell::new(0);
            let nodes = listing.clone().inspect(|node: &RusticResult<(PathBuf, Node)>| {
                if let Ok((path, node)) = node {
                    if node.is_special() && std::fs::symlink_metadata(dest.join(path)).is_ok() {
                        replaced.set(replaced.get() + 1);
                    }
                }
            });
            let plan = repo.prepare_restore(&options, nodes, &destination, dry_run).map_err(self.fail("plan the restore"))?;
            Ok((plan, replaced.get()))
        };

        write_atomically(marker, format!("restoring snapshot {id} of volume {volume} into {}\n", dest.display()).as_bytes())?;
        let stats = unpanicked("restore into", dest, || {
            let (plan, replaced) = plan(false)?;
            let (files, dirs) = (plan.stats.files, plan.stats.dirs);
            let stats = RestoreStats {
                files_restored: files.restore + files.modify,
                files_unchanged: files.unchanged + files.verified,
                deleted: (files.additional + dirs.additional).saturating_sub(replaced),
                bytes_written: plan.restore_size,
            };
            repo.restore(plan, &options, listing.clone(), &destination).map_err(self.fail(format!("restore into {}", dest.display())))?;
            Ok(stats)
        })?;
        // rustic_core logs rather than returns a failure to delete: look again.
        let (check, replaced) = unpanicked("check", dest, || plan(true))?;
        let (files, dirs) = (check.stats.files, check.stats.dirs);
        let left = (files.additional + dirs.additional).saturating_sub(replaced);
        let unwritten = files.restore + files.modify + dirs.restore;
        if left > 0 || unwritten > 0 || check.restore_size > 0 {
            return Err(VolumeError::Failed(format!(
                "restored snapshot {id} into {}, but {left} entries are still to delete and {unwritten} to write",
                dest.display()
            )));
        }
        std::fs::remove_file(marker).map_err(VolumeError::io("remove the restore marker", marker))?;
        sync_dir(marker.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")))?;
        Ok(stats)
    }
}

/// `dest` is a directory and `marker` a file name outside it.
fn check_marker(dest: &Path, marker: &Path) -> Result<(), VolumeError> {
    let dest_real = std::fs::canonicalize(dest).map_err(VolumeError::io("find the directory", dest))?;
    if !dest_real.is_dir() {
        return Err(VolumeError::Invalid(format!("{} is not a directory", dest.display())));
    }
    let (Some(parent), Some(name)) = (marker.parent(), marker.file_name()) else {
        return Err(VolumeError::Invalid(format!("{} cannot be a restore marker: it names no file", marker.display())));
    };
    let parent = if parent.as_os_str().is_empty() { Path::new(".") } else { parent };
    let parent_real = std::fs::canonicalize(parent).map_err(VolumeError::io("find the marker's directory", parent))?;
    if parent_real.join(name).starts_with(&dest_real) {
        return Err(VolumeError::Invalid(format!(
            "the restore marker {} is inside {}, which the restore makes equal to the snapshot",
            marker.display(),
            dest.display()
        )));
    }
    Ok(())
}
