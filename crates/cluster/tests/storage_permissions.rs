//! The Raft database holds the CA key and the token secrets: only its owner may read it.

#![cfg(unix)]

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// The permission bits of every file under `dir`, by path.
fn modes(dir: &Path) -> Vec<(String, u32)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let meta = entry.metadata().unwrap();
        if meta.is_dir() {
            out.extend(modes(&entry.path()));
        } else {
            out.push((
                entry.path().display().to_string(),
                meta.permissions().mode() & 0o777,
            ));
        }
    }
    out
}

fn assert_owner_only(dir: &Path) {
    let files = modes(dir);
    assert!(
        !files.is_empty(),
        "the storage created no file in {}",
        dir.display()
    );
    for (path, mode) in files {
        assert_eq!(mode, 0o600, "{path} has mode {mode:o}");
    }
}

#[test]
fn the_raft_database_is_created_readable_by_its_owner_only() {
    let dir = tempfile::tempdir().unwrap();
    let stores = roost_cluster::storage::open(dir.path()).unwrap();
    assert_owner_only(dir.path());
    drop(stores);
    assert_owner_only(dir.path());
}

#[test]
fn an_existing_database_readable_by_others_is_restricted_on_open() {
    let dir = tempfile::tempdir().unwrap();
    drop(roost_cluster::storage::open(dir.path()).unwrap());
    for (path, _) in modes(dir.path()) {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let _stores = roost_cluster::storage::open(dir.path()).unwrap();
    assert_owner_only(dir.path());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_started_node_leaves_only_owner_readable_files() {
    struct Nowhere;
    impl roost_cluster::network::Transport for Nowhere {
        fn post(
            &self,
            addr: &str,
            _path: &str,
            _body: Vec<u8>,
        ) -> roost_cluster::network::BoxFuture<
            Result<Vec<u8>, roost_cluster::network::TransportError>,
        > {
            let addr = addr.to_owned();
            Box::pin(async move { Err(roost_cluster::network::TransportError::Unreachable(addr)) })
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let timing = roost_cluster::node::Timing {
        heartbeat_ms: 50,
        election_min_ms: 200,
        election_max_ms: 400,
        snapshot_every: 20,
    };
    let node = roost_cluster::node::ClusterNode::start(
        dir.path(),
        1,
        std::sync::Arc::new(Nowhere),
        timing,
    )
    .await
    .unwrap();
    assert_owner_only(dir.path());
    node.shutdown().await;
}
