//! A restic-format repository of volume snapshots.

use crate::recording::Recording;
use rustic_backend::LocalBackend;
use rustic_core::{
    BackupOptions, ConfigOptions, Credentials, FileType, KeyOptions, LocalDestination, LsOptions, PathList, Repository,
    RepositoryBackends, RepositoryOptions, RestoreOptions, RusticError, SnapshotOptions,
};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Why a repository operation failed, with what was being done and where.
#[derive(Debug, thiserror::Error)]
pub enum VolumeError {
    #[error("cannot {doing} (repository {repo}): {source}")]
    Repo {
        doing: String,
        repo: String,
        #[source]
        source: Box<RusticError>,
    },
    #[error("{0}")]
    Invalid(String),
}

/// A kind of repository file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum FileKind {
    Config,
    Key,
    Pack,
    Index,
    Snapshot,
}

/// A file of the repository, by its path relative to the repository's root
/// (`data/ab/ab12…` for a pack, `index/…`, `snapshots/…`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct RepoFile {
    pub kind: FileKind,
    pub path: String,
}

/// One snapshot of a volume.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// Its id, 64 hex digits (restic shows the first 8).
    pub id: String,
    /// When it was taken, RFC 3339.
    pub time: String,
    pub tags: Vec<String>,
    /// The snapshot it is an increment of.
    pub parent: Option<String>,
    /// Bytes of new data it added to the repository (after deduplication, before
    /// compression); `None` when listed rather than just taken.
    pub data_added: Option<u64>,
    /// The files taking it wrote, in the order written (packs, then index, then the
    /// snapshot file); empty when listed rather than just taken.
    pub new_files: Vec<RepoFile>,
}

/// A repository in a local directory, opened with its password.
pub struct Repo {
    path: PathBuf,
    recording: Arc<Recording>,
    backends: RepositoryBackends,
    credentials: Credentials,
}

impl std::fmt::Debug for Repo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Repo").field("path", &self.path).field("credentials", &"[redacted]").finish()
    }
}

fn options() -> RepositoryOptions {
    // No cache: the repository is local, and a cache would live in the agent's home.
    RepositoryOptions::default().no_cache(true)
}

/// Where every snapshot of `volume` is filed in the repository, so restic shows a
/// volume's snapshots as one path and each new one finds its parent.
fn volume_path(volume: &str) -> Result<PathBuf, VolumeError> {
    let valid = !volume.is_empty() && volume.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) && !volume.starts_with('.');
    if !valid {
        return Err(VolumeError::Invalid(format!("`{volume}` is not a volume name (letters, digits, `-`, `_`, `.`)")));
    }
    Ok(PathBuf::from("/volumes").join(volume))
}

impl Repo {
    fn at(path: &Path, password: &str) -> Result<Repo, VolumeError> {
        let backend = LocalBackend::new(path.to_string_lossy(), std::iter::empty::<(String, String)>())
            .map_err(|source| VolumeError::Repo { doing: "open the directory".into(), repo: path.display().to_string(), source })?;
        let recording = Arc::new(Recording::new(Arc::new(backend)));
        let backends = RepositoryBackends::new(recording.clone(), None);
        Ok(Repo { path: path.to_owned(), recording, backends, credentials: Credentials::password(password) })
    }

    fn fail(&self, doing: impl Into<String>) -> impl FnOnce(Box<RusticError>) -> VolumeError + '_ {
        let doing = doing.into();
        move |source| VolumeError::Repo { doing, repo: self.path.display().to_string(), source }
    }

    /// Makes a new repository in `path` (format version 2, compressed), locked with
    /// `password`.
    ///
    /// # Errors
    /// The directory cannot be written, or already holds a repository.
    pub fn init(path: &Path, password: &str) -> Result<Repo, VolumeError> {
        let repo = Repo::at(path, password)?;
        Repository::new(&options(), &repo.backends)
            .and_then(|r| r.init(&repo.credentials, &KeyOptions::default(), &ConfigOptions::default()))
            .map_err(repo.fail("make a repository"))?;
        repo.recording.take();
        Ok(repo)
    }

    /// Opens the repository in `path`.
    ///
    /// # Errors
    /// No repository there, or the password does not open it.
    pub fn open(path: &Path, password: &str) -> Result<Repo, VolumeError> {
        let repo = Repo::at(path, password)?;
        Repository::new(&options(), &repo.backends).and_then(|r| r.open(&repo.credentials)).map_err(repo.fail("open"))?;
        Ok(repo)
    }

    /// Snapshots the directory `dir` as volume `volume`, tagged `tags`, as an increment
    /// of that volume's newest snapshot from `host`.
    ///
    /// # Errors
    /// A bad volume name or tag, an unreadable directory, a repository that cannot be
    /// written.
    pub fn snapshot(&self, dir: &Path, volume: &str, host: &str, tags: &[&str]) -> Result<Snapshot, VolumeError> {
        let as_path = volume_path(volume)?;
        if tags.iter().any(|t| t.contains(',') || t.is_empty()) {
            return Err(VolumeError::Invalid(format!("tags may not be empty or hold a comma: {tags:?}")));
        }
        let repo = Repository::new(&options(), &self.backends)
            .and_then(|r| r.open(&self.credentials))
            .and_then(|r| r.to_indexed_ids())
            .map_err(self.fail("open for a snapshot"))?;
        self.recording.take();
        let mut options = BackupOptions::default();
        options.as_path = Some(as_path);
        let source = PathList::from_string(&dir.to_string_lossy())
            .map_err(self.fail(format!("read {}", dir.display())))?
            .sanitize()
            .map_err(|e| VolumeError::Invalid(format!("cannot snapshot {}: {e}", dir.display())))?;
        let mut described = SnapshotOptions::default().host(Some(host.to_owned()));
        if !tags.is_empty() {
            described = described.add_tags(&tags.join(",")).map_err(self.fail("tag the snapshot"))?;
        }
        let file = described.to_snapshot().map_err(self.fail("describe the snapshot"))?;
        let file = repo.backup(&options, &source, file).map_err(self.fail(format!("snapshot {}", dir.display())))?;
        let new_files = self.recording.take().into_iter().filter_map(|(kind, id)| repo_file(kind, &id.to_hex())).collect();
        let mut snapshot = describe(&file);
        snapshot.data_added = file.summary.as_ref().map(|s| s.data_added);
        snapshot.new_files = new_files;
        Ok(snapshot)
    }

    /// Every snapshot in the repository, oldest first.
    ///
    /// # Errors
    /// The repository cannot be read.
    pub fn snapshots(&self) -> Result<Vec<Snapshot>, VolumeError> {
        let repo = Repository::new(&options(), &self.backends).and_then(|r| r.open(&self.credentials)).map_err(self.fail("open"))?;
        let mut files = repo.get_all_snapshots().map_err(self.fail("list the snapshots"))?;
        files.sort_unstable();
        Ok(files.iter().map(describe).collect())
    }

    /// Restores snapshot `id` (full or a unique prefix) of volume `volume` into `dest`,
    /// which must be empty or missing.
    ///
    /// # Errors
    /// No such snapshot, `dest` not empty, or a file that cannot be written.
    pub fn restore(&self, id: &str, volume: &str, dest: &Path) -> Result<(), VolumeError> {
        let within = volume_path(volume)?;
        if std::fs::read_dir(dest).is_ok_and(|mut d| d.next().is_some()) {
            return Err(VolumeError::Invalid(format!("{} is not empty: restore only into an empty directory", dest.display())));
        }
        let repo = Repository::new(&options(), &self.backends)
            .and_then(|r| r.open(&self.credentials))
            .and_then(|r| r.to_indexed())
            .map_err(self.fail("open for a restore"))?;
        let node = repo
            .node_from_snapshot_path(&format!("{id}:{}", within.display()), |_| true)
            .map_err(self.fail(format!("find snapshot {id} of volume {volume}")))?;
        let listing = repo.ls(&node, &LsOptions::default()).map_err(self.fail("list the snapshot"))?;
        let destination = LocalDestination::new(&dest.to_string_lossy(), true, !node.is_dir())
            .map_err(self.fail(format!("write into {}", dest.display())))?;
        let options = RestoreOptions::default();
        let plan = repo.prepare_restore(&options, listing.clone(), &destination, false).map_err(self.fail("plan the restore"))?;
        repo.restore(plan, &options, listing, &destination).map_err(self.fail(format!("restore into {}", dest.display())))
    }
}

fn describe(file: &rustic_core::repofile::SnapshotFile) -> Snapshot {
    Snapshot {
        id: file.id.to_hex().as_str().to_owned(),
        time: file.time.timestamp().to_string(),
        tags: file.tags.iter().cloned().collect(),
        parent: file.parent.map(|p| p.to_hex().as_str().to_owned()),
        data_added: None,
        new_files: Vec::new(),
    }
}

/// The path of a written file in the repository, as restic lays it out.
fn repo_file(kind: FileType, hex: &str) -> Option<RepoFile> {
    let (kind, path) = match kind {
        FileType::Pack => (FileKind::Pack, format!("data/{}/{hex}", hex.get(..2)?)),
        FileType::Index => (FileKind::Index, format!("index/{hex}")),
        FileType::Snapshot => (FileKind::Snapshot, format!("snapshots/{hex}")),
        FileType::Key => (FileKind::Key, format!("keys/{hex}")),
        FileType::Config => (FileKind::Config, "config".to_owned()),
    };
    Some(RepoFile { kind, path })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volume_names_are_checked_before_they_become_paths() {
        assert_eq!(volume_path("db_data-1.v2").unwrap(), PathBuf::from("/volumes/db_data-1.v2"));
        for bad in ["", "..", ".hidden", "a/b", "a b", "x\u{0}"] {
            assert!(volume_path(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn written_files_are_named_as_restic_lays_them_out() {
        let hex = "ab".repeat(32);
        assert_eq!(repo_file(FileType::Pack, &hex).unwrap().path, format!("data/ab/{hex}"));
        assert_eq!(repo_file(FileType::Snapshot, &hex).unwrap().path, format!("snapshots/{hex}"));
        assert_eq!(repo_file(FileType::Config, &hex).unwrap().path, "config");
    }
}
