//! Desired state on disk.
//!
//! The agent reads and writes desired state only through [`StateStore`], so the
//! cluster issue can put Raft behind the same trait with no second code path for one
//! node. [`RedbStore`] is the one-node store: one redb file, one table of stacks as
//! JSON, each write one ACID transaction, so a crash never leaves half a deploy.

use redb::{ReadableDatabase, ReadableTable};
use roost_spec::Stack;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

const STACKS: redb::TableDefinition<&str, &[u8]> = redb::TableDefinition::new("stacks");

/// A stack as stored, with the generation that counts its changes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredStack {
    pub spec: Stack,
    pub generation: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the state database {path} is in use by another roost agent")]
    InUse { path: String },
    #[error("state database error: {0}")]
    Db(String),
    #[error("stored stack `{name}` cannot be decoded: {source}")]
    Corrupt { name: String, source: serde_json::Error },
}

fn db_err(e: impl std::fmt::Display) -> StoreError {
    StoreError::Db(e.to_string())
}

/// Where desired state lives.
pub trait StateStore: Send + Sync + 'static {
    /// Stores `stack`, bumping its generation when it differs from what was stored.
    ///
    /// # Errors
    /// Storage failures; nothing is changed then.
    fn put_stack(&self, stack: &Stack) -> Result<StoredStack, StoreError>;
    /// Removes a stack; `None` if there was none.
    ///
    /// # Errors
    /// Storage failures; nothing is changed then.
    fn remove_stack(&self, name: &str) -> Result<Option<StoredStack>, StoreError>;
    /// All stacks by name.
    ///
    /// # Errors
    /// Storage failures or an undecodable record.
    fn stacks(&self) -> Result<BTreeMap<String, StoredStack>, StoreError>;
}

pub struct RedbStore {
    db: redb::Database,
}

impl RedbStore {
    /// Opens or creates `DIR/state.redb`.
    ///
    /// # Errors
    /// [`StoreError::InUse`] when another agent has it open.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        let path = dir.join("state.redb");
        let db = redb::Database::create(&path).map_err(|e| match e {
            redb::DatabaseError::DatabaseAlreadyOpen => StoreError::InUse { path: path.display().to_string() },
            e => db_err(e),
        })?;
        let tx = db.begin_write().map_err(db_err)?;
        tx.open_table(STACKS).map_err(db_err)?;
        tx.commit().map_err(db_err)?;
        Ok(RedbStore { db })
    }
}

impl StateStore for RedbStore {
    fn put_stack(&self, stack: &Stack) -> Result<StoredStack, StoreError> {
        let tx = self.db.begin_write().map_err(db_err)?;
        let stored = {
            let mut table = tx.open_table(STACKS).map_err(db_err)?;
            let previous = match table.get(stack.name.as_str()).map_err(db_err)? {
                Some(v) => Some(decode(&stack.name, v.value())?),
                None => None,
            };
            let generation = match &previous {
                Some(p) if p.spec == *stack => p.generation,
                Some(p) => p.generation + 1,
                None => 1,
            };
            let stored = StoredStack { spec: stack.clone(), generation };
            let bytes = serde_json::to_vec(&stored).expect("a stack serializes");
            table.insert(stack.name.as_str(), bytes.as_slice()).map_err(db_err)?;
            stored
        };
        tx.commit().map_err(db_err)?;
        Ok(stored)
    }

    fn remove_stack(&self, name: &str) -> Result<Option<StoredStack>, StoreError> {
        let tx = self.db.begin_write().map_err(db_err)?;
        let removed = {
            let mut table = tx.open_table(STACKS).map_err(db_err)?;
            let removed = table.remove(name).map_err(db_err)?;
            match removed {
                Some(v) => Some(decode(name, v.value())?),
                None => None,
            }
        };
        tx.commit().map_err(db_err)?;
        Ok(removed)
    }

    fn stacks(&self) -> Result<BTreeMap<String, StoredStack>, StoreError> {
        let tx = self.db.begin_read().map_err(db_err)?;
        let table = tx.open_table(STACKS).map_err(db_err)?;
        let mut out = BTreeMap::new();
        for entry in table.iter().map_err(db_err)? {
            let (k, v) = entry.map_err(db_err)?;
            let name = k.value().to_owned();
            let stored = decode(&name, v.value())?;
            out.insert(name, stored);
        }
        Ok(out)
    }
}

fn decode(name: &str, bytes: &[u8]) -> Result<StoredStack, StoreError> {
    serde_json::from_slice(bytes).map_err(|source| StoreError::Corrupt { name: name.to_owned(), source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generations_count_changes_and_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let mut stack = Stack { name: "app".into(), ..Default::default() };
        {
            let store = RedbStore::open(dir.path()).unwrap();
            assert_eq!(store.put_stack(&stack).unwrap().generation, 1);
            assert_eq!(store.put_stack(&stack).unwrap().generation, 1, "same spec, same generation");
            stack.services.insert("web".into(), Default::default());
            assert_eq!(store.put_stack(&stack).unwrap().generation, 2);
            assert!(matches!(RedbStore::open(dir.path()), Err(StoreError::InUse { .. })));
        }
        let store = RedbStore::open(dir.path()).unwrap();
        assert_eq!(store.stacks().unwrap()["app"].spec, stack);
        assert_eq!(store.remove_stack("app").unwrap().unwrap().generation, 2);
        assert!(store.stacks().unwrap().is_empty());
        assert_eq!(store.remove_stack("app").unwrap(), None);
    }
}
