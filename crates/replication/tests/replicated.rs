//! Rule 1 as data: stacks in, the replicated volumes out.

mod common;

use common::{service, settings};
use expect_test::{expect, Expect};
use roost_replication::{copies, replicated, ReplicatedVolume};
use roost_spec::{Consistency, Mount, MountKind, Replication, Stack, Volume};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::time::Duration;

fn stacks(list: Vec<Stack>) -> BTreeMap<String, Stack> {
    list.into_iter().map(|s| (s.name.clone(), s)).collect()
}

fn render(volumes: &[ReplicatedVolume]) -> String {
    let mut out = String::new();
    for v in volumes {
        let s = &v.settings;
        writeln!(
            out,
            "{} = {}/{} by [{}]: every {:?}, copies {}, {:?}",
            v.docker_name,
            v.stack,
            v.volume,
            v.services.join(", "),
            s.interval,
            s.copies,
            s.consistency
        )
        .unwrap();
    }
    if out.is_empty() {
        out.push_str("(none)\n");
    }
    out
}

fn check(stacks: &BTreeMap<String, Stack>, expect: Expect) {
    expect.assert_eq(&render(&replicated(stacks)));
}

fn opted_out() -> Volume {
    Volume { replication: Replication { replicate: false, ..Default::default() }, ..Default::default() }
}

/// `demo`: db and backup share `shared` (Docker name `shared-data`); db also mounts
/// `data`; the other volumes are opted out, external, unused or only bind-mounted.
fn demo() -> Stack {
    let mut stack = Stack { name: "demo".into(), ..Default::default() };
    stack.volumes.insert("data".into(), Volume::default());
    stack.volumes.insert("shared".into(), Volume { name: Some("shared-data".into()), ..Default::default() });
    stack.volumes.insert("media".into(), opted_out());
    stack.volumes.insert("ext".into(), Volume { external: true, ..Default::default() });
    stack.volumes.insert("unused".into(), Volume::default());
    stack.volumes.insert("nfs".into(), Volume { driver: Some("nfs".into()), ..Default::default() });
    let tmpfs = BTreeMap::from([("type".to_owned(), "tmpfs".to_owned())]);
    stack.volumes.insert("scratch".into(), Volume { driver: Some("local".into()), driver_opts: tmpfs, ..Default::default() });
    stack.volumes.insert("plain".into(), Volume { driver: Some("local".into()), ..Default::default() });
    stack.volumes.insert("bound".into(), Volume::default());
    stack.services.insert("db".into(), service("postgres", &[("data", "/var/lib/postgresql/data"), ("shared", "/shared")]));
    stack.services.insert("backup".into(), service("restic", &[("shared", "/in"), ("nfs", "/nfs"), ("scratch", "/tmp"), ("plain", "/plain")]));
    stack.services.insert("cache".into(), service("redis", &[("media", "/data")]));
    stack.services.insert("tool".into(), service("busybox", &[("ext", "/ext")]));
    let mut web = service("nginx", &[]);
    // A bind mount whose path happens to equal a volume key does not mount the volume.
    web.volumes.push(Mount { kind: MountKind::Bind, source: Some("bound".into()), ..common::volume_mount("x", "/www") });
    stack.services.insert("web".into(), web);
    stack
}

#[test]
fn only_named_local_opted_in_volumes_of_stateful_services() {
    check(&stacks(vec![demo()]), expect![[r#"
        demo_data = demo/data by [db]: every 10s, copies 3, Pause
        demo_plain = demo/plain by [backup]: every 10s, copies 3, Pause
        shared-data = demo/shared by [backup, db]: every 10s, copies 3, Pause
    "#]]);
}

#[test]
fn several_stacks_sort_by_docker_name_and_keep_their_settings() {
    let mut blog = Stack { name: "blog".into(), ..Default::default() };
    let hook = Replication {
        interval: Duration::from_secs(60),
        copies: 2,
        consistency: Consistency::Hook("mysqldump > /var/lib/mysql/dump.sql".into()),
        ..settings(2, 60)
    };
    blog.volumes.insert("db".into(), Volume { replication: hook, ..Default::default() });
    blog.volumes.insert("uploads".into(), Volume { replication: settings(1, 300), ..Default::default() });
    blog.services.insert("mysql".into(), service("mysql", &[("db", "/var/lib/mysql")]));
    blog.services.insert("wp".into(), service("wordpress", &[("uploads", "/var/www/html/wp-content/uploads")]));
    check(&stacks(vec![demo(), blog]), expect![[r#"
        blog_db = blog/db by [mysql]: every 60s, copies 2, Hook("mysqldump > /var/lib/mysql/dump.sql")
        blog_uploads = blog/uploads by [wp]: every 300s, copies 1, Pause
        demo_data = demo/data by [db]: every 10s, copies 3, Pause
        demo_plain = demo/plain by [backup]: every 10s, copies 3, Pause
        shared-data = demo/shared by [backup, db]: every 10s, copies 3, Pause
    "#]]);
}

#[test]
fn nothing_to_replicate() {
    check(&BTreeMap::new(), expect![[r#"
        (none)
    "#]]);
    // A singleton without volumes is stateful but has no data to move.
    let mut s = Stack { name: "demo".into(), ..Default::default() };
    let mut lone = service("app", &[]);
    lone.x_roost = Some(serde_json::json!({"singleton": true}));
    s.services.insert("app".into(), lone);
    s.volumes.insert("data".into(), Volume::default());
    check(&stacks(vec![s]), expect![[r#"
        (none)
    "#]]);
}

#[test]
fn copies_clamp_to_one_through_three() {
    let got: Vec<(u8, usize)> = [0u8, 1, 2, 3, 4, 255].iter().map(|&c| (c, copies(&settings(c, 10)))).collect();
    assert_eq!(got, [(0, 1), (1, 1), (2, 2), (3, 3), (4, 3), (255, 3)]);
}

#[test]
fn a_replicated_volume_round_trips_through_json() {
    let v = replicated(&stacks(vec![demo()])).remove(0);
    let back: ReplicatedVolume = serde_json::from_str(&serde_json::to_string(&v).unwrap()).unwrap();
    assert_eq!(back, v);
}
