//! A restic-format repository of volume snapshots.

use crate::recording::Recording;
use rustic_backend::LocalBackend;
use rustic_core::{
    BackupOptions, ConfigOptions, Credentials, FileType, KeyOptions, LimitOption, PathList, PruneOptions, Repository,
    RepositoryBackends, RepositoryOptions, RusticError, SnapshotOptions,
};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Why a repository operation failed, with what was being done and where.
#[derive(Debug, thiserror::Error)]
pub enum VolumeError {
    /// `rustic_core` failed.
    #[error("cannot {doing} (repository {repo}): {source}")]
    Repo {
        doing: String,
        repo: String,
        #[source]
        source: Box<RusticError>,
    },
    /// A file or directory could not be read or written.
    #[error("cannot {doing} ({path}): {source}")]
    Io {
        doing: String,
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// Bad input: a name, id, path or file content; says which.
    #[error("{0}")]
    Invalid(String),
    /// An operation went wrong midway; says what and where.
    #[error("{0}")]
    Failed(String),
}

impl VolumeError {
    /// An I/O error while `doing` something to `path`.
    pub(crate) fn io(doing: impl Into<String>, path: &Path) -> impl FnOnce(std::io::Error) -> VolumeError {
        let (doing, path) = (doing.into(), path.display().to_string());
        move |source| VolumeError::Io { doing, path, source }
    }
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
/// (`config`, `keys/…`, `data/ab/ab12…` for a pack, `index/…`, `snapshots/…`).
/// Ordered by kind, then path: the order a copy must be applied in.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct RepoFile {
    pub kind: FileKind,
    pub path: String,
    /// Its length in bytes.
    pub size: u64,
}

/// One snapshot of a volume.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// Its id, 64 hex digits (restic shows the first 8).
    pub id: String,
    /// When it was taken, RFC 3339.
    pub time: String,
    /// When it was taken, Unix milliseconds.
    pub unix_ms: i64,
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

/// What [`Repo::forget_and_prune`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PruneSummary {
    /// Snapshots forgotten.
    pub forgotten: usize,
    /// Pack files deleted whole (no snapshot needed any of their data).
    pub packs_deleted: u64,
    /// Pack files whose used data was copied into new packs, then deleted.
    pub packs_repacked: u64,
}

/// A repository in a local directory, opened with its password. Keep it for later
/// operations: opening derives the key from the password, which is slow on purpose.
pub struct Repo {
    pub(crate) path: PathBuf,
    recording: Arc<Recording>,
    pub(crate) backends: RepositoryBackends,
    pub(crate) credentials: Credentials,
}

impl std::fmt::Debug for Repo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Repo").field("path", &self.path).field("credentials", &"[redacted]").finish()
    }
}

pub(crate) fn options() -> RepositoryOptions {
    // No cache: the repository is local, and a cache would live in the agent's home.
    RepositoryOptions::default().no_cache(true)
}

/// Where every snapshot of `volume` is filed in the repository, so restic shows a
/// volume's snapshots as one path and each new one finds its parent.
pub(crate) fn volume_path(volume: &str) -> Result<PathBuf, VolumeError> {
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

    pub(crate) fn fail(&self, doing: impl Into<String>) -> impl FnOnce(Box<RusticError>) -> VolumeError + '_ {
        let doing = doing.into();
        move |source| VolumeError::Repo { doing, repo: self.path.display().to_string(), source }
    }

    /// Makes a new repository in `path` (format version 2, compressed), locked with
    /// `password`.
    ///
    /// # Errors
    /// The directory cannot be written, or already holds a repository.
    pub fn init(path: &Path, password: &str) -> Result<Repo, VolumeError> {
        let mut repo = Repo::at(path, password)?;
        let opened = Repository::new(&options(), &repo.backends)
            .and_then(|r| r.init(&repo.credentials, &KeyOptions::default(), &ConfigOptions::default()))
            .map_err(repo.fail("make a repository"))?;
        repo.recording.take();
        repo.credentials = Credentials::Masterkey(opened.key());
        Ok(repo)
    }

    /// Opens the repository in `path`.
    ///
    /// # Errors
    /// No repository there, or the password does not open it.
    pub fn open(path: &Path, password: &str) -> Result<Repo, VolumeError> {
        let mut repo = Repo::at(path, password)?;
        let opened = Repository::new(&options(), &repo.backends).and_then(|r| r.open(&repo.credentials)).map_err(repo.fail("open"))?;
        // The password's key derivation (scrypt) costs a good part of a second; every
        // later operation opens with the master key it unlocked instead.
        repo.credentials = Credentials::Masterkey(opened.key());
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
        let new_files = self.recording.take().into_iter().filter_map(|(kind, id, size)| repo_file(kind, &id.to_hex(), size)).collect();
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

    /// The newest snapshot of volume `volume`, `None` if it has none.
    ///
    /// # Errors
    /// A bad volume name, or a repository that cannot be read.
    pub fn latest(&self, volume: &str) -> Result<Option<Snapshot>, VolumeError> {
        let as_path = volume_path(volume)?;
        let as_path = as_path.to_string_lossy();
        let repo = Repository::new(&options(), &self.backends).and_then(|r| r.open(&self.credentials)).map_err(self.fail("open"))?;
        let files = repo
            .get_matching_snapshots(|s| s.paths.contains(&as_path))
            .map_err(self.fail(format!("list the snapshots of volume {volume}")))?;
        Ok(files.iter().max_by(|a, b| a.time.cmp(&b.time).then_with(|| a.id.cmp(&b.id))).map(describe))
    }

    /// Forgets the snapshots `ids` (full ids) and prunes: deletes every pack no
    /// remaining snapshot needs, repacks packs that are mostly unused (restic's
    /// defaults: at most 5 % of the repository left unused, at most 10 % repacked per
    /// run), rewrites the index. Ids the repository does not hold are ignored.
    ///
    /// Deletes at once rather than in restic's two phases: run it only while nothing
    /// else writes to the repository (a snapshot, or a [`crate::ship::receive`]), or a
    /// pack written meanwhile without its index yet is deleted as unreferenced.
    ///
    /// # Errors
    /// The repository cannot be read or written; it is then as consistent as restic's
    /// own interrupted prune leaves it (every snapshot left still has its data).
    pub fn forget_and_prune(&self, ids: &[String]) -> Result<PruneSummary, VolumeError> {
        let repo = Repository::new(&options(), &self.backends).and_then(|r| r.open(&self.credentials)).map_err(self.fail("open to prune"))?;
        let all = repo.get_all_snapshots().map_err(self.fail("list the snapshots"))?;
        let forget: Vec<_> = all.iter().filter(|s| ids.iter().any(|id| *id == s.id.to_hex().as_str())).map(|s| s.id).collect();
        if !forget.is_empty() {
            repo.delete_snapshots(&forget).map_err(self.fail("forget snapshots"))?;
        }
        let mut opts = PruneOptions::default();
        opts.instant_delete = true;
        opts.max_unused = LimitOption::Percentage(5);
        let plan = repo.prune_plan(&opts).map_err(self.fail("plan the prune"))?;
        let stats = &plan.stats;
        let summary = PruneSummary {
            forgotten: forget.len(),
            packs_deleted: stats.packs.unused + stats.packs_unref,
            packs_repacked: stats.packs.repack,
        };
        repo.prune(&opts, plan).map_err(self.fail("prune"))?;
        self.recording.take();
        Ok(summary)
    }

    /// Every file of the repository, in the order a copy must be applied in so that a
    /// reader never sees a snapshot whose data is missing: `config`, keys, packs,
    /// indexes, snapshots (by path within a kind). Files whose names are not restic's
    /// (such as [`crate::ship::receive`]'s temporary files) are left out.
    ///
    /// `LocalBackend` writes files in place, not atomically: list a repository no
    /// snapshot is being written to, or ship a snapshot's [`Snapshot::new_files`].
    ///
    /// # Errors
    /// A directory of the repository cannot be read.
    pub fn files(&self) -> Result<Vec<RepoFile>, VolumeError> {
        crate::ship::files(&self.path)
    }
}

fn describe(file: &rustic_core::repofile::SnapshotFile) -> Snapshot {
    Snapshot {
        id: file.id.to_hex().as_str().to_owned(),
        time: file.time.timestamp().to_string(),
        unix_ms: file.time.timestamp().as_millisecond(),
        tags: file.tags.iter().cloned().collect(),
        parent: file.parent.map(|p| p.to_hex().as_str().to_owned()),
        data_added: None,
        new_files: Vec::new(),
    }
}

/// The path of a written file in the repository, as restic lays it out.
fn repo_file(kind: FileType, hex: &str, size: u64) -> Option<RepoFile> {
    let (kind, path) = match kind {
        FileType::Pack => (FileKind::Pack, format!("data/{}/{hex}", hex.get(..2)?)),
        FileType::Index => (FileKind::Index, format!("index/{hex}")),
        FileType::Snapshot => (FileKind::Snapshot, format!("snapshots/{hex}")),
        FileType::Key => (FileKind::Key, format!("keys/{hex}")),
        FileType::Config => (FileKind::Config, "config".to_owned()),
    };
    Some(RepoFile { kind, path, size })
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
        assert_eq!(repo_file(FileType::Pack, &hex, 1).unwrap().path, format!("data/ab/{hex}"));
        assert_eq!(repo_file(FileType::Snapshot, &hex, 1).unwrap().path, format!("snapshots/{hex}"));
        assert_eq!(repo_file(FileType::Config, &hex, 1).unwrap().path, "config");
    }
}
