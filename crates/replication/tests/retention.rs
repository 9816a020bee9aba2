//! Rule 9 as data: snapshots (age, tag) in, what is forgotten out.

use expect_test::{expect, Expect};
use proptest::prelude::*;
use roost_replication::{to_forget, SnapshotAge};

/// Unix milliseconds "now", on a clock hour plus 30 min so hours are easy to read.
const NOW: u64 = 1_700_000_000_000 / 3_600_000 * 3_600_000 + 30 * 60_000;
const MIN: u64 = 60_000;

/// `(name, minutes ago, diverged)`: the name is the id.
fn snaps(list: &[(&str, u64, bool)]) -> Vec<SnapshotAge> {
    list.iter().map(|&(id, ago, diverged)| SnapshotAge { id: id.to_owned(), taken_ms: NOW - ago * MIN, diverged }).collect()
}

fn check(list: &[(&str, u64, bool)], expect: Expect) {
    expect.assert_eq(&format!("{:?}", to_forget(&snaps(list), NOW)));
}

#[test]
fn the_last_quarter_hour_is_kept_whole() {
    check(&[("a", 0, false), ("b", 5, false), ("c", 14, false)], expect![[r#"[]"#]]);
}

#[test]
fn older_snapshots_keep_the_newest_of_each_hour_for_a_day() {
    // Now is hh:30. 20 and 25 min ago fall in this hour (the newest, 20, stays);
    // 31 and 40 in the hour before (31 stays); 25 h ago is past a day.
    check(
        &[("now", 0, false), ("m20", 20, false), ("m25", 25, false), ("m31", 31, false), ("m40", 40, false), ("d1", 25 * 60, false)],
        expect![[r#"["d1", "m40", "m25"]"#]],
    );
}

#[test]
fn the_newest_snapshot_is_kept_however_old() {
    check(&[("old", 48 * 60, false), ("older", 72 * 60, false)], expect![[r#"["older"]"#]]);
}

#[test]
fn diverged_snapshots_are_never_forgotten_and_do_not_count_as_newest() {
    check(
        &[("kept", 30 * 24 * 60, true), ("newest", 40 * 60, false), ("old", 50 * 60, false)],
        expect![[r#"["old"]"#]],
    );
}

#[test]
fn a_snapshot_from_the_future_is_kept() {
    let mut list = snaps(&[("now", 0, false)]);
    list.push(SnapshotAge { id: "ahead".into(), taken_ms: NOW + 5 * MIN, diverged: false });
    assert_eq!(to_forget(&list, NOW), Vec::<String>::new());
}

proptest! {
    /// The answer depends on the set, not the order; the newest ordinary snapshot and
    /// every diverged one survive; nothing is forgotten twice or invented.
    #[test]
    fn forgetting_is_order_free_and_spares_what_it_must(
        ages in proptest::collection::vec((0u64..(3 * 24 * 60), any::<bool>()), 0..40),
        rotate in 0usize..40,
    ) {
        let list: Vec<SnapshotAge> = ages
            .iter()
            .enumerate()
            .map(|(i, &(ago, diverged))| SnapshotAge { id: format!("s{i:02}"), taken_ms: NOW - ago * MIN, diverged })
            .collect();
        let forgotten = to_forget(&list, NOW);
        let mut rotated = list.clone();
        if !rotated.is_empty() {
            let k = rotate % rotated.len();
            rotated.rotate_left(k);
        }
        prop_assert_eq!(&to_forget(&rotated, NOW), &forgotten);
        let mut unique = forgotten.clone();
        unique.sort();
        unique.dedup();
        prop_assert_eq!(unique.len(), forgotten.len());
        for id in &forgotten {
            let s = list.iter().find(|s| &s.id == id).expect("forgets only listed snapshots");
            prop_assert!(!s.diverged);
            prop_assert!(NOW - s.taken_ms >= roost_replication::KEEP_ALL_MS);
        }
        if let Some(newest) = list.iter().filter(|s| !s.diverged).max_by(|a, b| a.taken_ms.cmp(&b.taken_ms).then_with(|| a.id.cmp(&b.id))) {
            prop_assert!(!forgotten.contains(&newest.id));
        }
    }
}
