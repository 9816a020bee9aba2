//! Retention on a real repository: the primary forgets and prunes, a standby mirrors the
//! deletions, and both stay whole for Debian's restic and for a restore.

use roost_volumes::ship::{self, receive};
use roost_volumes::{Repo, RepoFile};
use std::path::Path;
use std::process::Command;

const PASSWORD: &str = "prune me gently";
const VOLUME: &str = "app_data";

/// Deterministic bytes, different for each `seed`.
fn bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2).wrapping_add(1);
    (0..len)
        .map(|_| {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            (x >> 33) as u8
        })
        .collect()
}

/// Sends the standby every file of the primary it lacks, as the primary's rounds do.
fn ship_missing(primary: &Path, standby: &Path) {
    let want = ship::files(primary).unwrap();
    let have = ship::files(standby).unwrap();
    for file in ship::missing(&have, &want) {
        receive(standby, &file.path, &std::fs::read(primary.join(&file.path)).unwrap()).unwrap();
    }
}

fn paths(files: &[RepoFile]) -> Vec<String> {
    files.iter().map(|f| f.path.clone()).collect()
}

fn restic_check(repo: &Path) {
    let password_file = repo.with_extension("password");
    std::fs::write(&password_file, PASSWORD).unwrap();
    let out = Command::new("restic")
        .arg("-r")
        .arg(repo)
        .arg("--password-file")
        .arg(&password_file)
        .args(["--no-cache", "check", "--read-data"])
        .output()
        .expect("Debian's restic is a test peer: run scripts/install-test-peers.sh");
    assert!(out.status.success(), "restic check {}: {}{}", repo.display(), String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
}

#[test]
fn a_pruned_primary_and_its_mirrored_standby_stay_whole_and_restore_the_newest_snapshot() {
    let work = tempfile::tempdir().unwrap();
    let [volume, primary_dir, standby_dir, warm] = ["volume", "primary", "standby", "warm"].map(|n| work.path().join(n));
    for dir in [&volume, &standby_dir, &warm] {
        std::fs::create_dir_all(dir).unwrap();
    }
    std::fs::create_dir_all(&primary_dir).unwrap();
    let primary = Repo::init(&primary_dir, PASSWORD).unwrap();
    // Four generations of a 2 MiB file, each replacing the last, and a file that stays.
    std::fs::write(volume.join("stays"), bytes(300_000, 7)).unwrap();
    let mut taken = Vec::new();
    for generation in 0..4u64 {
        std::fs::write(volume.join("big"), bytes(2 << 20, 100 + generation)).unwrap();
        taken.push(primary.snapshot(&volume, VOLUME, "h1", &[]).unwrap());
        ship_missing(&primary_dir, &standby_dir);
    }
    let before = ship::files(&standby_dir).unwrap();
    assert_eq!(paths(&before), paths(&ship::files(&primary_dir).unwrap()));

    let forget: Vec<String> = taken[..3].iter().map(|s| s.id.clone()).collect();
    let summary = primary.forget_and_prune(&forget).unwrap();
    assert_eq!(summary.forgotten, 3);
    assert!(summary.packs_deleted + summary.packs_repacked > 0, "{summary:?}");
    let listed: Vec<String> = primary.snapshots().unwrap().into_iter().map(|s| s.id).collect();
    assert_eq!(listed, [taken[3].id.clone()]);

    // The standby: new files first (the rewritten index), then the deletions, listing
    // its own files before asking for the primary's.
    ship_missing(&primary_dir, &standby_dir);
    let have = ship::files(&standby_dir).unwrap();
    let keep = paths(&ship::files(&primary_dir).unwrap());
    let extra = ship::extra(&have, &keep);
    assert!(extra.iter().any(|f| f.path.starts_with("snapshots/")), "{extra:?}");
    assert!(extra.iter().any(|f| f.path.starts_with("data/")), "{extra:?}");
    assert_eq!(ship::remove(&standby_dir, &extra).unwrap(), extra.len());
    assert_eq!(ship::remove(&standby_dir, &extra).unwrap(), 0, "removing again is no error");
    assert_eq!(paths(&ship::files(&standby_dir).unwrap()), keep);
    let size = |files: &[RepoFile]| files.iter().map(|f| f.size).sum::<u64>();
    // The two middle generations' packs are unused and gone; the first one's also holds
    // `stays`, and restic's limit on repacking (10 % a run) may keep it for now.
    let (was, is) = (size(&before), size(&ship::files(&standby_dir).unwrap()));
    assert!(is + (4 << 20) - (100 << 10) < was, "{is} bytes left of {was}: the old generations' data is gone");

    restic_check(&primary_dir);
    restic_check(&standby_dir);
    let standby = Repo::open(&standby_dir, PASSWORD).unwrap();
    standby.restore_in_place(&taken[3].id, VOLUME, &warm, &work.path().join("marker")).unwrap();
    for name in ["stays", "big"] {
        assert_eq!(std::fs::read(warm.join(name)).unwrap(), std::fs::read(volume.join(name)).unwrap(), "{name}");
    }
    // Forgetting nothing known is a prune that changes nothing.
    let again = primary.forget_and_prune(&["00".repeat(32)]).unwrap();
    assert_eq!((again.forgotten, again.packs_deleted), (0, 0));
}

#[test]
fn remove_refuses_a_path_that_is_not_a_repository_file() {
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join("precious"), b"x").unwrap();
    let bad = RepoFile { kind: roost_volumes::FileKind::Pack, path: "../precious".to_owned(), size: 1 };
    let err = ship::remove(&work.path().join("repo"), &[bad]).unwrap_err();
    assert!(err.to_string().contains("cannot remove `../precious`"), "{err}");
    assert!(work.path().join("precious").exists());
}
