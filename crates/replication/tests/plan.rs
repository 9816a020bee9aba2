//! Rules 2 to 7 as data: nodes and what they hold in, standbys, recovery point and
//! state out.

mod common;

use common::{held, node, nodes, render_plan, settings, snap, volume};
use expect_test::{expect, Expect};
use proptest::prelude::*;
use roost_replication::{freshest_holder, plan_volume, Candidate, Held, NodeId, VolumePlan, VolumeState};
use std::collections::{BTreeMap, BTreeSet};

/// Unix milliseconds "now" in every scenario.
const NOW: u64 = 1_700_000_000_000;

/// Plans `demo_data` (interval 10 s) with `copies`, primary `h1` unless `primary` says.
fn plan(copies: u8, primary: Option<NodeId>, nodes: &[Candidate], held: &BTreeMap<NodeId, Held>) -> VolumePlan {
    plan_volume(&volume(settings(copies, 10)), primary, nodes, held, NOW)
}

/// Each scenario on a line: its label, then the plan.
fn check(scenarios: &[(&str, VolumePlan)], expect: Expect) {
    let width = scenarios.iter().map(|(l, _)| l.len()).max().unwrap_or(0);
    let text: String = scenarios.iter().map(|(l, p)| format!("{l:width$}  {}\n", render_plan(p))).collect();
    expect.assert_eq(&text);
}

#[test]
fn how_many_standbys() {
    let none = BTreeMap::new();
    let h2 = held(&[(2, 'a', NOW - 4_000)]);
    check(
        &[
            ("one node", plan(3, Some(1), &nodes(1), &none)),
            ("3 nodes, nothing held", plan(3, Some(1), &nodes(3), &none)),
            ("3 nodes, h2 holds 4s", plan(3, Some(1), &nodes(3), &h2)),
            ("7 nodes, copies 3", plan(3, Some(1), &nodes(7), &h2)),
            ("copies 2", plan(2, Some(1), &nodes(3), &h2)),
            ("copies 1", plan(1, Some(1), &nodes(3), &h2)),
            ("copies 0 reads as 1", plan(0, Some(1), &nodes(3), &h2)),
            ("copies 9 reads as 3", plan(9, Some(1), &nodes(7), &h2)),
            ("not running", plan(3, None, &nodes(3), &h2)),
        ],
        expect![[r#"
            one node               primary h1 | standbys - | rpo - | single copy
            3 nodes, nothing held  primary h1 | standbys h2,h3 | rpo - | single copy
            3 nodes, h2 holds 4s   primary h1 | standbys h2,h3 | rpo 4000ms | replicated
            7 nodes, copies 3      primary h1 | standbys h2,h3 | rpo 4000ms | replicated
            copies 2               primary h1 | standbys h2 | rpo 4000ms | replicated
            copies 1               primary h1 | standbys - | rpo - | single copy
            copies 0 reads as 1    primary h1 | standbys - | rpo - | single copy
            copies 9 reads as 3    primary h1 | standbys h2,h3 | rpo 4000ms | replicated
            not running            primary - | standbys h2,h1 | rpo 4000ms | not running
        "#]],
    );
}

#[test]
fn witness_draining_down_and_primary_are_never_standbys() {
    let mut ns = nodes(5);
    ns[1].witness = true;
    ns[2].draining = true;
    ns[3].up = false;
    // They all hold data, newer than h5's: still not chosen.
    let h = held(&[(1, 'p', NOW), (2, 'w', NOW), (3, 'd', NOW), (4, 'x', NOW), (5, 'e', NOW - 9_000)]);
    check(
        &[
            ("h1 primary", plan(3, Some(1), &ns, &h)),
            ("h5 primary", plan(3, Some(5), &ns, &h)),
            ("no node fits", plan(3, Some(1), &ns[..4], &h)),
        ],
        expect![[r#"
            h1 primary    primary h1 | standbys h5 | rpo 9000ms | replicated
            h5 primary    primary h5 | standbys h1 | rpo 0ms | replicated
            no node fits  primary h1 | standbys - | rpo - | single copy
        "#]],
    );
}

#[test]
fn holders_come_first_newest_first_then_name_then_id() {
    let ns = nodes(5);
    check(
        &[
            ("h4 newest, h3 older", plan(3, Some(1), &ns, &held(&[(3, 'c', NOW - 20_000), (4, 'd', NOW - 5_000)]))),
            ("copies 2 takes h4", plan(2, Some(1), &ns, &held(&[(3, 'c', NOW - 20_000), (4, 'd', NOW - 5_000)]))),
            ("h5 holds, h2 not", plan(2, Some(1), &ns, &held(&[(5, 'e', NOW - 50_000)]))),
            ("same snapshot: by name", plan(2, Some(1), &ns, &held(&[(5, 'e', NOW), (3, 'e', NOW)]))),
        ],
        expect![[r#"
            h4 newest, h3 older     primary h1 | standbys h4,h3 | rpo 5000ms | replicated
            copies 2 takes h4       primary h1 | standbys h4 | rpo 5000ms | replicated
            h5 holds, h2 not        primary h1 | standbys h5 | rpo 50000ms | lagging
            same snapshot: by name  primary h1 | standbys h3 | rpo 0ms | replicated
        "#]],
    );
    // Same name: the lower id first.
    let twins = [node(9, "db"), node(7, "db"), node(8, "app")];
    assert_eq!(plan(3, Some(8), &twins, &BTreeMap::new()).standbys, [7, 9]);
    assert_eq!(plan(2, Some(8), &twins, &BTreeMap::new()).standbys, [7]);
}

#[test]
fn lagging_past_three_intervals() {
    let ns = nodes(2);
    let at = |age: u64| plan(2, Some(1), &ns, &held(&[(2, 'b', NOW - age)]));
    let future = plan(2, Some(1), &ns, &held(&[(2, 'b', NOW + 5_000)]));
    check(
        &[
            ("age 0", at(0)),
            ("age 30s (3 intervals)", at(30_000)),
            ("age 30.001s", at(30_001)),
            ("an hour", at(3_600_000)),
            ("taken in the future", future),
        ],
        expect![[r#"
            age 0                  primary h1 | standbys h2 | rpo 0ms | replicated
            age 30s (3 intervals)  primary h1 | standbys h2 | rpo 30000ms | replicated
            age 30.001s            primary h1 | standbys h2 | rpo 30001ms | lagging
            an hour                primary h1 | standbys h2 | rpo 3600000ms | lagging
            taken in the future    primary h1 | standbys h2 | rpo 0ms | replicated
        "#]],
    );
}

#[test]
fn a_node_listed_twice_counts_once() {
    let ns = [node(2, "h2"), node(2, "h2"), node(3, "h3"), node(1, "h1")];
    assert_eq!(plan(3, Some(1), &ns, &BTreeMap::new()).standbys, [2, 3]);
}

#[test]
fn freshest_holder_takes_the_newest_then_the_lowest_id() {
    let ids = |v: &[NodeId]| v.iter().copied().collect::<BTreeSet<NodeId>>();
    let h = held(&[(1, 'a', 100), (2, 'b', 300), (3, 'c', 300), (4, 'd', 900)]);
    assert_eq!(freshest_holder(&h, &ids(&[1, 2, 3, 4])), Some(4));
    assert_eq!(freshest_holder(&h, &ids(&[1, 2, 3])), Some(2), "a tie goes to the lowest id");
    assert_eq!(freshest_holder(&h, &ids(&[3, 2])), Some(2));
    assert_eq!(freshest_holder(&h, &ids(&[1, 5])), Some(1), "5 holds nothing");
    assert_eq!(freshest_holder(&h, &ids(&[5, 6])), None);
    assert_eq!(freshest_holder(&BTreeMap::new(), &ids(&[1])), None);
}

#[test]
fn states_read_and_serialize_as_documented() {
    let all = [VolumeState::NotRunning, VolumeState::SingleCopy, VolumeState::Lagging, VolumeState::Replicated];
    let shown: Vec<String> = all.iter().map(|s| format!("{s} = {}", serde_json::to_string(s).unwrap())).collect();
    expect![[r#"
        [
            "not running = \"not_running\"",
            "single copy = \"single_copy\"",
            "lagging = \"lagging\"",
            "replicated = \"replicated\"",
        ]
    "#]]
    .assert_debug_eq(&shown);
}

/// Up to 7 nodes with random flags and names from a small set (so names tie), random
/// holdings, a random primary and copies.
fn scenario() -> impl Strategy<Value = (Vec<Candidate>, BTreeMap<NodeId, Held>, Option<NodeId>, u8)> {
    let one = (any::<bool>(), any::<bool>(), any::<bool>(), 0..3usize, proptest::option::of(0..4u64));
    (proptest::collection::vec(one, 0..=7), proptest::option::of(1..=8u64), 0..=4u8).prop_map(|(specs, primary, copies)| {
        let mut ns = Vec::new();
        let mut h = BTreeMap::new();
        for (i, (up, witness, draining, name, taken)) in specs.into_iter().enumerate() {
            let id = i as NodeId + 1;
            ns.push(Candidate { id, name: ["a", "b", "c"][name].into(), up, witness, draining });
            if let Some(t) = taken {
                h.insert(id, snap('f', NOW - t * 1_000));
            }
        }
        (ns, h, primary, copies)
    })
}

proptest! {
    #[test]
    fn the_order_of_nodes_never_changes_the_plan(
        ((ns, h, primary, copies), shuffled) in scenario()
            .prop_flat_map(|s| { let ns = s.0.clone(); (Just(s), Just(ns).prop_shuffle()) }),
    ) {
        let v = volume(settings(copies, 10));
        prop_assert_eq!(plan_volume(&v, primary, &shuffled, &h, NOW), plan_volume(&v, primary, &ns, &h, NOW));
    }

    #[test]
    fn standbys_are_eligible_distinct_and_holders_first(
        (ns, h, primary, copies) in scenario(),
    ) {
        let p = plan_volume(&volume(settings(copies, 10)), primary, &ns, &h, NOW);
        let eligible: Vec<&Candidate> =
            ns.iter().filter(|n| n.up && !n.witness && !n.draining && Some(n.id) != primary).collect();
        let want = eligible.len().min(usize::from(copies.clamp(1, 3)) - 1);
        prop_assert_eq!(p.standbys.len(), want);
        prop_assert_eq!(p.standbys.iter().collect::<BTreeSet<_>>().len(), want);
        prop_assert!(p.standbys.iter().all(|id| eligible.iter().any(|n| n.id == *id)));
        // Rule 4: no chosen non-holder while an eligible holder was left out; holders newest first.
        let holds = |id: &NodeId| h.contains_key(id);
        let left_out_holder = eligible.iter().any(|n| holds(&n.id) && !p.standbys.contains(&n.id));
        prop_assert!(!(left_out_holder && p.standbys.iter().any(|id| !holds(id))));
        let taken: Vec<Option<u64>> = p.standbys.iter().map(|id| h.get(id).map(|x| x.taken_ms)).collect();
        let ordered = taken.windows(2).all(|w| match (w[0], w[1]) {
            (Some(a), Some(b)) => a >= b,
            (None, Some(_)) => false,
            _ => true,
        });
        prop_assert!(ordered, "standbys not newest first: {:?}", taken);
        prop_assert_eq!(p.state == VolumeState::NotRunning, primary.is_none());
    }
}
