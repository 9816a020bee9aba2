//! Raft's durable parts in one redb file: the log, the vote, and the state machine.
//!
//! The state machine lives in memory and is persisted only as snapshots: the JSON of
//! [`Applied`] as raw bytes under one key, its [`SnapshotMeta`] under another, written
//! in one transaction. A restarted node loads the last snapshot and openraft re-applies
//! the committed log entries after it (the log is purged only up to a snapshot), so an
//! acknowledged write survives a crash while a write costs its log entry, not a copy
//! of the whole state: an earlier version rewrote the state at every applied batch,
//! which with 6 MB of state made a 260 MB data dir.

use crate::state::ClusterState;
use crate::types::{LogId, StorageError, StoredMembership, TypeConfig, Vote};
use openraft::storage::{LogFlushed, LogState, RaftLogStorage, RaftStateMachine, Snapshot};
use openraft::{AnyError, Entry, EntryPayload, OptionalSend, RaftLogReader, RaftSnapshotBuilder, SnapshotMeta, StorageIOError};
use redb::{ReadableDatabase, ReadableTable, TableDefinition};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use std::fmt::Debug;
use std::io::Cursor;
use std::ops::RangeBounds;
use std::path::Path;
use std::sync::{Arc, RwLock};

const LOG: TableDefinition<u64, &[u8]> = TableDefinition::new("raft_log");
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("raft_meta");

const VOTE: &str = "vote";
const COMMITTED: &str = "committed";
const LAST_PURGED: &str = "last_purged";
/// The whole state, rewritten at every applied batch by earlier versions: read once if
/// newer than the snapshot, removed at the next snapshot.
const LEGACY_STATE: &str = "state_machine";
/// Earlier versions' snapshot: meta and data as one JSON (data as an array of numbers).
const LEGACY_SNAPSHOT: &str = "snapshot";
const SNAPSHOT_META: &str = "snapshot_meta";
const SNAPSHOT_DATA: &str = "snapshot_data";

fn io(e: impl std::fmt::Display) -> StorageError {
    StorageIOError::write(AnyError::error(e.to_string())).into()
}

fn read_err(e: impl std::fmt::Display) -> StorageError {
    StorageIOError::read(AnyError::error(e.to_string())).into()
}

/// Opens (or creates) the Raft database `DIR/raft.redb`.
///
/// # Errors
/// The file is locked by another process or unreadable.
pub fn open(dir: &Path) -> anyhow::Result<(LogStore, StateMachineStore)> {
    use anyhow::Context;
    let path = dir.join("raft.redb");
    restrict_to_owner(&path).with_context(|| format!("cannot create {}", path.display()))?;
    let db = redb::Database::create(&path).with_context(|| format!("cannot open {}", path.display()))?;
    let db = Arc::new(db);
    let tx = db.begin_write()?;
    tx.open_table(LOG)?;
    tx.open_table(META)?;
    tx.commit()?;
    let log = LogStore { db: db.clone() };
    let sm = StateMachineStore::load(db).map_err(|e| anyhow::anyhow!("cannot load the state machine: {e}"))?;
    Ok((log, sm))
}

/// Creates `path` if missing, mode 0600, and makes an existing file 0600 too: it
/// holds the CA key and the token secrets, which no other local user may read.
/// redb opens an empty file as a new database.
#[cfg(unix)]
fn restrict_to_owner(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let file = std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(false).mode(0o600).open(path)?;
    file.set_permissions(std::fs::Permissions::from_mode(0o600))
}

#[cfg(not(unix))]
fn restrict_to_owner(_path: &Path) -> std::io::Result<()> {
    Ok(())
}

fn get_meta<T: DeserializeOwned>(db: &redb::Database, key: &str) -> Result<Option<T>, StorageError> {
    let tx = db.begin_read().map_err(read_err)?;
    let table = tx.open_table(META).map_err(read_err)?;
    match table.get(key).map_err(read_err)? {
        Some(v) => Ok(Some(serde_json::from_slice(v.value()).map_err(read_err)?)),
        None => Ok(None),
    }
}

fn put_meta<T: Serialize>(db: &redb::Database, key: &str, value: &T) -> Result<(), StorageError> {
    let bytes = serde_json::to_vec(value).map_err(io)?;
    let tx = db.begin_write().map_err(io)?;
    tx.open_table(META).map_err(io)?.insert(key, bytes.as_slice()).map_err(io)?;
    tx.commit().map_err(io)
}

/// The Raft log and vote.
#[derive(Clone)]
pub struct LogStore {
    db: Arc<redb::Database>,
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry<TypeConfig>>, StorageError> {
        let tx = self.db.begin_read().map_err(read_err)?;
        let table = tx.open_table(LOG).map_err(read_err)?;
        let mut out = Vec::new();
        for item in table.range(range).map_err(read_err)? {
            let (_, v) = item.map_err(read_err)?;
            out.push(serde_json::from_slice(v.value()).map_err(read_err)?);
        }
        Ok(out)
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError> {
        let last_purged: Option<LogId> = get_meta(&self.db, LAST_PURGED)?;
        let tx = self.db.begin_read().map_err(read_err)?;
        let table = tx.open_table(LOG).map_err(read_err)?;
        let last = match table.last().map_err(read_err)? {
            Some((_, v)) => Some(serde_json::from_slice::<Entry<TypeConfig>>(v.value()).map_err(read_err)?.log_id),
            None => last_purged,
        };
        Ok(LogState { last_purged_log_id: last_purged, last_log_id: last })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote) -> Result<(), StorageError> {
        put_meta(&self.db, VOTE, vote)
    }

    async fn read_vote(&mut self) -> Result<Option<Vote>, StorageError> {
        get_meta(&self.db, VOTE)
    }

    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), StorageError> {
        put_meta(&self.db, COMMITTED, &committed)
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>, StorageError> {
        Ok(get_meta::<Option<LogId>>(&self.db, COMMITTED)?.flatten())
    }

    async fn append<I>(&mut self, entries: I, callback: LogFlushed<TypeConfig>) -> Result<(), StorageError>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let tx = self.db.begin_write().map_err(io)?;
        {
            let mut table = tx.open_table(LOG).map_err(io)?;
            for entry in entries {
                let bytes = serde_json::to_vec(&entry).map_err(io)?;
                table.insert(entry.log_id.index, bytes.as_slice()).map_err(io)?;
            }
        }
        let result = tx.commit().map_err(|e| std::io::Error::other(e.to_string()));
        let failed = result.as_ref().err().map(|e| io(e));
        callback.log_io_completed(result);
        failed.map_or(Ok(()), Err)
    }

    async fn truncate(&mut self, log_id: LogId) -> Result<(), StorageError> {
        let tx = self.db.begin_write().map_err(io)?;
        tx.open_table(LOG).map_err(io)?.retain_in(log_id.index.., |_, _| false).map_err(io)?;
        tx.commit().map_err(io)
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), StorageError> {
        let bytes = serde_json::to_vec(&log_id).map_err(io)?;
        let tx = self.db.begin_write().map_err(io)?;
        tx.open_table(META).map_err(io)?.insert(LAST_PURGED, bytes.as_slice()).map_err(io)?;
        tx.open_table(LOG).map_err(io)?.retain_in(..=log_id.index, |_, _| false).map_err(io)?;
        tx.commit().map_err(io)
    }
}

/// The applied state: what Raft replicated, up to `last_applied`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Applied {
    pub last_applied: Option<LogId>,
    pub membership: StoredMembership,
    pub state: ClusterState,
}

#[derive(Serialize, Deserialize)]
struct LegacySnapshot {
    meta: SnapshotMeta<u64, openraft::BasicNode>,
    data: Vec<u8>,
}

type Meta = SnapshotMeta<u64, openraft::BasicNode>;

/// The stored snapshot, in either format.
fn read_snapshot(db: &redb::Database) -> Result<Option<(Meta, Vec<u8>)>, StorageError> {
    let tx = db.begin_read().map_err(read_err)?;
    let table = tx.open_table(META).map_err(read_err)?;
    if let (Some(meta), Some(data)) = (table.get(SNAPSHOT_META).map_err(read_err)?, table.get(SNAPSHOT_DATA).map_err(read_err)?) {
        let meta: Meta = serde_json::from_slice(meta.value()).map_err(read_err)?;
        return Ok(Some((meta, data.value().to_vec())));
    }
    match table.get(LEGACY_SNAPSHOT).map_err(read_err)? {
        Some(v) => {
            let legacy: LegacySnapshot = serde_json::from_slice(v.value()).map_err(read_err)?;
            Ok(Some((legacy.meta, legacy.data)))
        }
        None => Ok(None),
    }
}

/// Stores a snapshot (meta and data together) and drops what earlier versions kept.
fn write_snapshot(db: &redb::Database, meta: &Meta, data: &[u8]) -> Result<(), StorageError> {
    let meta = serde_json::to_vec(meta).map_err(io)?;
    let tx = db.begin_write().map_err(io)?;
    {
        let mut table = tx.open_table(META).map_err(io)?;
        table.insert(SNAPSHOT_META, meta.as_slice()).map_err(io)?;
        table.insert(SNAPSHOT_DATA, data).map_err(io)?;
        table.remove(LEGACY_SNAPSHOT).map_err(io)?;
        table.remove(LEGACY_STATE).map_err(io)?;
    }
    tx.commit().map_err(io)
}

/// The state a snapshot holds, as of its meta.
fn applied_of(meta: &Meta, data: &[u8]) -> Result<Applied, StorageError> {
    let mut applied: Applied = serde_json::from_slice(data).map_err(read_err)?;
    applied.last_applied = meta.last_log_id;
    applied.membership = meta.last_membership.clone();
    Ok(applied)
}

/// The state machine: [`Applied`] in memory (shared with readers), persisted as
/// snapshots (see the module docs).
#[derive(Clone)]
pub struct StateMachineStore {
    db: Arc<redb::Database>,
    applied: Arc<RwLock<Applied>>,
}

impl StateMachineStore {
    /// The last snapshot's state, or an earlier version's newer per-batch state.
    fn load(db: Arc<redb::Database>) -> Result<Self, StorageError> {
        let from_snapshot = read_snapshot(&db)?.map(|(meta, data)| applied_of(&meta, &data)).transpose()?;
        let legacy = get_meta::<Applied>(&db, LEGACY_STATE)?;
        let applied = match (from_snapshot, legacy) {
            (Some(s), Some(l)) if l.last_applied > s.last_applied => l,
            (Some(s), _) => s,
            (None, l) => l.unwrap_or_default(),
        };
        Ok(StateMachineStore { db, applied: Arc::new(RwLock::new(applied)) })
    }

    /// The applied state, for local (possibly stale) reads.
    pub fn shared(&self) -> Arc<RwLock<Applied>> {
        self.applied.clone()
    }
}

impl RaftSnapshotBuilder<TypeConfig> for StateMachineStore {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError> {
        let applied = self.applied.read().expect("state lock").clone();
        let data = serde_json::to_vec(&applied).map_err(io)?;
        let id = match &applied.last_applied {
            Some(l) => format!("{}-{}-{}", l.leader_id, l.index, data.len()),
            None => format!("empty-{}", data.len()),
        };
        let meta = SnapshotMeta {
            last_log_id: applied.last_applied,
            last_membership: applied.membership.clone(),
            snapshot_id: id,
        };
        write_snapshot(&self.db, &meta, &data)?;
        Ok(Snapshot { meta, snapshot: Box::new(Cursor::new(data)) })
    }
}

impl RaftStateMachine<TypeConfig> for StateMachineStore {
    type SnapshotBuilder = StateMachineStore;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, StoredMembership), StorageError> {
        let a = self.applied.read().expect("state lock");
        Ok((a.last_applied, a.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<crate::types::CommandResponse>, StorageError>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        // In memory only: the entries are in the log, and re-applied after a restart.
        let mut responses = Vec::new();
        let mut a = self.applied.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        for entry in entries {
            a.last_applied = Some(entry.log_id);
            match entry.payload {
                EntryPayload::Blank => responses.push(Default::default()),
                EntryPayload::Normal(cmd) => responses.push(a.state.apply(&cmd)),
                EntryPayload::Membership(m) => {
                    a.membership = StoredMembership::new(Some(entry.log_id), m);
                    responses.push(Default::default());
                }
            }
        }
        Ok(responses)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<Cursor<Vec<u8>>>, StorageError> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<u64, openraft::BasicNode>,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError> {
        let data = snapshot.into_inner();
        let applied = applied_of(meta, &data)?;
        write_snapshot(&self.db, meta, &data)?;
        *self.applied.write().unwrap_or_else(std::sync::PoisonError::into_inner) = applied;
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot<TypeConfig>>, StorageError> {
        Ok(read_snapshot(&self.db)?.map(|(meta, data)| Snapshot { meta, snapshot: Box::new(Cursor::new(data)) }))
    }
}
