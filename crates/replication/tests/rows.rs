//! Rule 8 as data: volumes, plans and holdings in, `roost volume ls` rows out.

mod common;

use common::{held, nodes, render_rows, settings, volume};
use expect_test::expect;
use roost_replication::{plan_volume, rows, Held, NodeId, ReplicatedVolume, VolumePlan, VolumeRow};
use roost_spec::{Consistency, Replication};
use std::collections::BTreeMap;

const NOW: u64 = 1_700_000_000_000;

/// What each node holds of each volume, by Docker name.
type Holdings = BTreeMap<String, BTreeMap<NodeId, Held>>;

fn named(docker_name: &str, settings: Replication) -> ReplicatedVolume {
    let (stack, key) = docker_name.split_once('_').unwrap();
    ReplicatedVolume { docker_name: docker_name.into(), stack: stack.into(), volume: key.into(), ..volume(settings) }
}

fn names() -> BTreeMap<NodeId, String> {
    (1..=4).map(|i| (i, format!("h{i}"))).collect()
}

/// Four volumes on four nodes: replicated, lagging, single copy, not running.
fn cluster() -> (Vec<ReplicatedVolume>, BTreeMap<String, VolumePlan>, Holdings) {
    let hook = Replication { consistency: Consistency::Hook("pg_dump -f /data/dump.sql".into()), ..settings(3, 10) };
    let volumes = vec![
        named("blog_db", hook),
        named("blog_media", Replication { consistency: Consistency::None, ..settings(2, 60) }),
        named("demo_cache", settings(1, 10)),
        named("demo_data", settings(3, 10)),
    ];
    let holdings = BTreeMap::from([
        ("blog_db".to_string(), held(&[(2, 'a', NOW - 2_500), (3, 'b', NOW - 12_999)])),
        ("blog_media".to_string(), held(&[(4, 'c', NOW - 600_000)])),
        ("demo_cache".to_string(), held(&[(2, 'd', NOW - 1_000)])),
        ("demo_data".to_string(), held(&[(3, 'e', NOW - 7_000)])),
    ]);
    let primaries = [Some(1), Some(2), Some(3), None];
    let plans = volumes
        .iter()
        .zip(primaries)
        .map(|(v, p)| (v.docker_name.clone(), plan_volume(v, p, &nodes(4), &holdings[&v.docker_name], NOW)))
        .collect();
    (volumes, plans, holdings)
}

#[test]
fn a_table_of_every_state() {
    let (volumes, plans, holdings) = cluster();
    expect![[r#"
        blog_db (blog/db) on h1: replicated, rpo 2s, every 10s, hook
          standby h2: aaaaaaaa (2s)
          standby h3: bbbbbbbb (12s)
        blog_media (blog/media) on h2: lagging, rpo 600s, every 60s, none
          standby h4: cccccccc (600s)
        demo_cache (demo/cache) on h3: single copy, rpo -, every 10s, pause
        demo_data (demo/data) on -: not running, rpo 7s, every 10s, pause
          standby h3: eeeeeeee (7s)
          standby h1: - (-)
    "#]]
    .assert_eq(&render_rows(&rows(&volumes, &plans, &holdings, &names(), NOW)));
}

#[test]
fn later_the_ages_grow_and_missing_facts_show_as_such() {
    let (volumes, mut plans, mut holdings) = cluster();
    // blog_media has no plan yet, nothing is known of demo_data's holdings, and h3 has
    // no name: they show as not running, as holding nothing, and as its id.
    plans.remove("blog_media");
    holdings.remove("demo_data");
    let mut names = names();
    names.remove(&3);
    expect![[r#"
        blog_db (blog/db) on h1: replicated, rpo 12s, every 10s, hook
          standby h2: aaaaaaaa (12s)
          standby 3: bbbbbbbb (22s)
        blog_media (blog/media) on -: not running, rpo -, every 60s, none
        demo_cache (demo/cache) on 3: single copy, rpo -, every 10s, pause
        demo_data (demo/data) on -: not running, rpo -, every 10s, pause
          standby 3: - (-)
          standby h1: - (-)
    "#]]
    .assert_eq(&render_rows(&rows(&volumes, &plans, &holdings, &names, NOW + 10_000)));
    expect![[r#"
        (no replicated volumes)
    "#]]
    .assert_eq(&render_rows(&rows(&[], &plans, &holdings, &names, NOW)));
}

#[test]
fn the_json_field_names_are_a_script_api() {
    let (volumes, plans, holdings) = cluster();
    let rows = rows(&volumes[..1], &plans, &holdings, &names(), NOW);
    let json = serde_json::to_string_pretty(&rows).unwrap();
    expect![[r#"
        [
          {
            "stack": "blog",
            "volume": "db",
            "docker_name": "blog_db",
            "primary": "h1",
            "standbys": [
              {
                "node": "h2",
                "snapshot": "aaaaaaaa",
                "age_s": 2
              },
              {
                "node": "h3",
                "snapshot": "bbbbbbbb",
                "age_s": 12
              }
            ],
            "rpo_s": 2,
            "interval_s": 10,
            "consistency": "hook",
            "state": "replicated"
          }
        ]"#]]
    .assert_eq(&json);
    let back: Vec<VolumeRow> = serde_json::from_str(&json).unwrap();
    assert_eq!(back, rows);
}
