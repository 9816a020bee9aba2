//! Placement as data: nodes and stacks in, one line per slot out.

mod common;

use expect_test::{expect, Expect};
use proptest::prelude::*;
use roost_core::placement::{network_anchor, partner_slot, place, together as together_of, together_groups, NodeId, NodeView, Placement};
use roost_core::reconcile::SlotKey;
use roost_spec::{DeviceMapping, DeviceRequest, Mount, MountKind, Service, Stack};
use std::collections::BTreeMap;
use std::fmt::Write;

const GIB: u64 = 1024 * 1024 * 1024;

fn node(id: NodeId, name: &str) -> NodeView {
    common::node_view(id, name)
}

fn nodes(n: u64) -> Vec<NodeView> {
    (1..=n).map(|i| node(i, &format!("h{i}"))).collect()
}

fn svc(replicas: u32) -> Service {
    Service { image: "busybox".into(), replicas, ..Default::default() }
}

fn stacks(services: Vec<(&str, Service)>) -> BTreeMap<String, Stack> {
    let mut stack = Stack { name: "demo".into(), ..Default::default() };
    for (name, s) in services {
        for m in &s.volumes {
            if let Some(v) = &m.source {
                stack.volumes.insert(v.clone(), Default::default());
            }
        }
        stack.services.insert(name.into(), s);
    }
    BTreeMap::from([("demo".to_string(), stack)])
}

fn with_volume(mut s: Service, volume: &str) -> Service {
    s.volumes.push(Mount {
        kind: MountKind::Volume,
        source: Some(volume.into()),
        target: "/data".into(),
        read_only: false,
        create_host_path: false,
        tmpfs_size: None,
    });
    s
}

fn constrained(mut s: Service, constraints: &[&str]) -> Service {
    s.placement.constraints = constraints.iter().map(|c| c.to_string()).collect();
    s
}

/// `demo/web#1 -> h1 [volume …]` or `demo/web#2 unplaceable: …`, in slot order.
fn render(p: &Placement, nodes: &[NodeView]) -> String {
    let mut lines: BTreeMap<&SlotKey, String> = BTreeMap::new();
    for (k, id) in &p.assignments {
        let name = nodes.iter().find(|n| n.id == *id).map_or("?", |n| n.name.as_str());
        let bound = p.volume_bound.get(k).map(|v| format!(" [{v}]")).unwrap_or_default();
        lines.insert(k, format!("{k} -> {name}{bound}"));
    }
    for (k, why) in &p.unplaceable {
        lines.insert(k, format!("{k} unplaceable: {why}"));
    }
    let mut out = String::new();
    for l in lines.values() {
        writeln!(out, "{l}").unwrap();
    }
    out
}

fn check(stacks: &BTreeMap<String, Stack>, nodes: &[NodeView], current: &BTreeMap<SlotKey, NodeId>, want: Expect) -> Placement {
    let p = place(stacks, nodes, current);
    want.assert_eq(&render(&p, nodes));
    p
}

fn none() -> BTreeMap<SlotKey, NodeId> {
    BTreeMap::new()
}

#[test]
fn three_replicas_spread_over_three_nodes() {
    check(&stacks(vec![("web", svc(3))]), &nodes(3), &none(), expect![[r#"
        demo/web#1 -> h1
        demo/web#2 -> h2
        demo/web#3 -> h3
    "#]]);
}

#[test]
fn three_replicas_on_two_nodes_split_two_and_one() {
    check(&stacks(vec![("web", svc(3)), ("api", svc(1))]), &nodes(2), &none(), expect![[r#"
        demo/api#1 -> h1
        demo/web#1 -> h2
        demo/web#2 -> h1
        demo/web#3 -> h2
    "#]]);
}

#[test]
fn a_node_going_down_moves_only_its_slots_and_its_return_moves_nothing_back() {
    let s = stacks(vec![("web", svc(3)), ("api", svc(2))]);
    let mut ns = nodes(3);
    let first = place(&s, &ns, &none());
    ns[1].up = false;
    let moved = check(&s, &ns, &first.assignments, expect![[r#"
        demo/api#1 -> h1
        demo/api#2 -> h3
        demo/web#1 -> h3
        demo/web#2 -> h1
        demo/web#3 -> h1
    "#]]);
    expect![[r#"
        demo/api#1 -> h1
        demo/api#2 -> h2
        demo/web#1 -> h3
        demo/web#2 -> h1
        demo/web#3 -> h2
    "#]]
    .assert_eq(&render(&first, &ns));
    ns[1].up = true;
    let back = place(&s, &ns, &moved.assignments);
    assert_eq!(back, moved, "h2 returning must not pull replicas back");
}

#[test]
fn draining_moves_everything_off_and_a_witness_gets_nothing() {
    let s = stacks(vec![("web", svc(4))]);
    let mut ns = nodes(3);
    let first = place(&s, &ns, &none());
    ns[0].draining = true;
    ns[2].witness = true;
    check(&s, &ns, &first.assignments, expect![[r#"
        demo/web#1 -> h2
        demo/web#2 -> h2
        demo/web#3 -> h2
        demo/web#4 -> h2
    "#]]);
    ns[1].up = false;
    check(&s, &ns, &first.assignments, expect![[r#"
        demo/web#1 unplaceable: no node is up (1 down, 1 draining, 1 witness)
        demo/web#2 unplaceable: no node is up (1 down, 1 draining, 1 witness)
        demo/web#3 unplaceable: no node is up (1 down, 1 draining, 1 witness)
        demo/web#4 unplaceable: no node is up (1 down, 1 draining, 1 witness)
    "#]]);
    check(&s, &[], &none(), expect![[r#"
        demo/web#1 unplaceable: no node is up (the cluster has no nodes)
        demo/web#2 unplaceable: no node is up (the cluster has no nodes)
        demo/web#3 unplaceable: no node is up (the cluster has no nodes)
        demo/web#4 unplaceable: no node is up (the cluster has no nodes)
    "#]]);
}

#[test]
fn every_constraint_form() {
    let mut ns = nodes(3);
    ns[0].labels.insert("zone".into(), "eu".into());
    ns[1].labels.insert("zone".into(), "us".into());
    ns[2].role = "worker".into();
    let s = stacks(vec![
        ("a-host-eq", constrained(svc(1), &["node.hostname == h2"])),
        ("b-host-ne", constrained(svc(2), &["node.hostname!=h1"])),
        ("c-label-eq", constrained(svc(2), &["node.labels.zone==EU"])),
        ("d-label-ne", constrained(svc(2), &[" node.labels.zone != eu "])),
        ("e-missing-label", constrained(svc(1), &["node.labels.gpu==true"])),
        ("f-role", constrained(svc(2), &["node.role==worker"])),
        ("g-id", constrained(svc(1), &["node.id==2", "node.role==manager"])),
        ("h-both", constrained(svc(1), &["node.role==manager", "node.labels.zone==asia"])),
        ("i-garbage", constrained(svc(1), &["engine.labels.os=linux"])),
    ]);
    check(&s, &ns, &none(), expect![[r#"
        demo/a-host-eq#1 -> h2
        demo/b-host-ne#1 -> h3
        demo/b-host-ne#2 -> h2
        demo/c-label-eq#1 -> h1
        demo/c-label-eq#2 -> h1
        demo/d-label-ne#1 -> h3
        demo/d-label-ne#2 -> h2
        demo/e-missing-label#1 unplaceable: no node matches node.labels.gpu==true
        demo/f-role#1 -> h3
        demo/f-role#2 -> h3
        demo/g-id#1 -> h2
        demo/h-both#1 unplaceable: no node matches node.labels.zone==asia
        demo/i-garbage#1 unplaceable: cannot parse placement constraint `engine.labels.os=linux`: roost understands node.hostname, node.id, node.role and node.labels.KEY with == or !=
    "#]]);
    // The one node that would match is down: say so.
    ns[0].up = false;
    check(&stacks(vec![("eu", constrained(svc(1), &["node.labels.zone==eu"]))]), &ns, &none(), expect![[r#"
        demo/eu#1 unplaceable: no node matches node.labels.zone==eu (h1 would, but is down)
    "#]]);
}

#[test]
fn spread_preference_balances_label_values_before_nodes() {
    let mut ns = nodes(4);
    for (n, zone) in ns.iter_mut().zip(["a", "a", "a", "b"]) {
        n.labels.insert("zone".into(), zone.into());
    }
    let mut zoned = svc(4);
    zoned.placement.preferences = vec!["spread=node.labels.zone".into()];
    let mut plain = svc(2);
    plain.placement.preferences = vec!["node.labels.zone".into()];
    check(&stacks(vec![("zoned", zoned), ("plain", plain)]), &ns, &none(), expect![[r#"
        demo/plain#1 -> h1
        demo/plain#2 -> h4
        demo/zoned#1 -> h2
        demo/zoned#2 -> h4
        demo/zoned#3 -> h3
        demo/zoned#4 -> h4
    "#]]);
}

#[test]
fn memory_and_cpu_reservations_fit_or_say_how_much_is_missing() {
    let mut big = svc(3);
    big.resources.reservations.memory = Some(3 * GIB);
    let mut huge = svc(1);
    huge.resources.reservations.memory = Some(8 * GIB);
    let mut cpu = svc(1);
    cpu.resources.reservations.cpus = Some(2.5);
    let mut ns = nodes(2);
    ns[0].memory_bytes = 4 * GIB;
    ns[1].memory_bytes = 4 * GIB;
    ns[1].cpus = 2.0;
    let s = stacks(vec![("big", big), ("huge", huge), ("cpu", cpu)]);
    let first = check(&s, &ns, &none(), expect![[r#"
        demo/big#1 -> h1
        demo/big#2 -> h2
        demo/big#3 unplaceable: needs 3.0 GiB of memory, the most free on an eligible node is 1.0 GiB
        demo/cpu#1 -> h1
        demo/huge#1 unplaceable: needs 8.0 GiB of memory, the most free on an eligible node is 1.0 GiB
    "#]]);
    assert_eq!(place(&s, &ns, &first.assignments), first);

    // h1 shrinks: the kept slot that no longer fits moves, the others stay.
    ns[0].cpus = 2.0;
    ns[1].cpus = 4.0;
    check(&s, &ns, &first.assignments, expect![[r#"
        demo/big#1 -> h1
        demo/big#2 -> h2
        demo/big#3 unplaceable: needs 3.0 GiB of memory, the most free on an eligible node is 1.0 GiB
        demo/cpu#1 -> h2
        demo/huge#1 unplaceable: needs 8.0 GiB of memory, the most free on an eligible node is 1.0 GiB
    "#]]);
}

fn device(host: &str) -> DeviceMapping {
    DeviceMapping { host: host.into(), container: host.into(), permissions: "rwm".into() }
}

#[test]
fn devices_pull_a_service_to_the_node_that_has_them() {
    let mut ns = nodes(3);
    ns[1].devices = vec!["/dev/dri/card0".into(), "/dev/dri/renderD128".into()];
    let mut transcode = svc(2);
    transcode.devices = vec![device("/dev/dri/renderD128")];
    let mut tpu = svc(1);
    tpu.devices = vec![device("/dev/dri/card0"), device("/dev/apex_0")];
    check(&stacks(vec![("transcode", transcode.clone()), ("tpu", tpu)]), &ns, &none(), expect![[r#"
        demo/tpu#1 unplaceable: no node has /dev/apex_0
        demo/transcode#1 -> h2
        demo/transcode#2 -> h2
    "#]]);
    ns[1].up = false;
    check(&stacks(vec![("transcode", transcode)]), &ns, &none(), expect![[r#"
        demo/transcode#1 unplaceable: no node has /dev/dri/renderD128 (h2 would, but is down)
        demo/transcode#2 unplaceable: no node has /dev/dri/renderD128 (h2 would, but is down)
    "#]]);
}

fn gpus(count: Option<i64>, ids: &[&str]) -> DeviceRequest {
    DeviceRequest {
        driver: Some("nvidia".into()),
        count,
        device_ids: ids.iter().map(|s| s.to_string()).collect(),
        capabilities: vec![vec!["gpu".into()]],
        options: BTreeMap::new(),
    }
}

#[test]
fn gpu_requests_need_enough_gpus_and_the_named_ones() {
    let mut ns = nodes(3);
    ns[0].gpus = vec!["/dev/nvidia0".into()];
    ns[2].gpus = vec!["/dev/nvidia0".into(), "/dev/nvidia1".into()];
    let with = |count, ids: &[&str]| {
        let mut s = svc(1);
        s.device_requests = vec![gpus(count, ids)];
        s
    };
    let mut other = svc(1);
    other.device_requests = vec![DeviceRequest { capabilities: vec![vec!["tpu".into()]], ..gpus(None, &[]) }];
    let s = stacks(vec![
        ("all", with(Some(-1), &[])),
        ("two", with(Some(2), &[])),
        ("three", with(Some(3), &[])),
        ("id1", with(None, &["1"])),
        ("id7", with(None, &["7"])),
        ("other", other),
    ]);
    check(&s, &ns, &none(), expect![[r#"
        demo/all#1 -> h1
        demo/id1#1 -> h3
        demo/id7#1 unplaceable: needs GPU 7; no node has it
        demo/other#1 -> h1
        demo/three#1 unplaceable: needs 3 GPUs; no node has that many
        demo/two#1 -> h3
    "#]]);
    for n in &mut ns {
        n.gpus.clear();
    }
    check(&stacks(vec![("all", with(Some(-1), &[]))]), &ns, &none(), expect![[r#"
        demo/all#1 unplaceable: needs a GPU; no node has one
    "#]]);
}

#[test]
fn a_local_volume_attracts_its_service_and_a_pin_keeps_it_there() {
    let mut ns = nodes(3);
    ns[1].volumes.insert("demo_data".into());
    let db = with_volume(svc(1), "data");
    let mut pinned = with_volume(svc(1), "data");
    pinned.x_roost = Some(serde_json::json!({ "pin_to_volume": true }));
    let s = stacks(vec![("db", db), ("web", pinned), ("other", with_volume(svc(1), "fresh"))]);
    let first = check(&s, &ns, &none(), expect![[r#"
        demo/db#1 -> h2 [volume demo_data is on h2]
        demo/other#1 -> h1
        demo/web#1 -> h2 [volume demo_data is on h2]
    "#]]);

    // h2 goes down: the unpinned service fails over, the pinned one waits for h2.
    ns[1].up = false;
    let down = check(&s, &ns, &first.assignments, expect![[r#"
        demo/db#1 -> h3
        demo/other#1 -> h1
        demo/web#1 unplaceable: volume demo_data lives on h2, which is down; x-roost pin_to_volume keeps web there
    "#]]);
    ns[1].up = true;
    check(&s, &ns, &down.assignments, expect![[r#"
        demo/db#1 -> h3
        demo/other#1 -> h1
        demo/web#1 -> h2 [volume demo_data is on h2]
    "#]]);

    // A pin also beats constraints' candidates: the holder excluded, the reason says how.
    let mut pinned = with_volume(constrained(svc(1), &["node.hostname!=h2"]), "data");
    pinned.x_roost = Some(serde_json::json!({ "pin_to_volume": true }));
    check(&stacks(vec![("web", pinned)]), &ns, &none(), expect![[r#"
        demo/web#1 unplaceable: volume demo_data lives on h2, which is excluded by node.hostname!=h2; x-roost pin_to_volume keeps web there
    "#]]);
}

#[test]
fn a_failover_goes_to_the_freshest_copy_of_a_replicated_volume() {
    // db runs on h1; h2, h3 and h4 hold standby copies; h3's is the newest, h4's the
    // oldest (it was down for a while).
    let mut ns = nodes(4);
    for (i, taken) in [(1, 5_000), (2, 9_000), (3, 1_000)] {
        ns[i].volumes.insert("demo_data".into());
        ns[i].snapshots.insert("demo_data".into(), taken);
    }
    let s = stacks(vec![("db", with_volume(svc(1), "data"))]);
    let on_h1 = BTreeMap::from([(SlotKey::new("demo", "db", 1), 1)]);
    let first = check(&s, &ns, &on_h1, expect![[r#"
        demo/db#1 -> h1
    "#]]);
    ns[0].up = false;
    let moved = check(&s, &ns, &first.assignments, expect![[r#"
        demo/db#1 -> h3 [volume demo_data is on h3]
    "#]]);
    // Once there it stays, though h2's copy grows fresher than h3's old record.
    ns[1].snapshots.insert("demo_data".into(), 20_000);
    check(&s, &ns, &moved.assignments, expect![[r#"
        demo/db#1 -> h3 [volume demo_data is on h3]
    "#]]);
}

#[test]
fn deterministic_whatever_the_order_of_nodes() {
    let mut ns = nodes(5);
    for (i, n) in ns.iter_mut().enumerate() {
        n.labels.insert("zone".into(), ["a", "b"][i % 2].into());
        n.memory_bytes = (i as u64 + 2) * GIB;
    }
    let mut web = svc(7);
    web.placement.preferences = vec!["node.labels.zone".into()];
    web.resources.reservations.memory = Some(GIB);
    let s = stacks(vec![("web", web), ("api", svc(3))]);
    let a = place(&s, &ns, &none());
    let b = place(&s, &ns, &none());
    ns.reverse();
    let c = place(&s, &ns, &none());
    assert_eq!(a, b);
    assert_eq!(a, c);
    expect![[r#"
        demo/api#1 -> h5
        demo/api#2 -> h4
        demo/api#3 -> h3
        demo/web#1 -> h2
        demo/web#2 -> h1
        demo/web#3 -> h5
        demo/web#4 -> h4
        demo/web#5 -> h3
        demo/web#6 -> h2
        demo/web#7 -> h1
    "#]]
    .assert_eq(&render(&a, &ns));
}

fn sharing(mut s: Service, anchor: &str) -> Service {
    s.network_mode = Some(format!("service:{anchor}"));
    s.networks.clear();
    s
}

fn together(mut s: Service, with: &[&str]) -> Service {
    s.x_roost = Some(serde_json::json!({ "together": with }));
    s
}

#[test]
fn a_service_sharing_a_network_follows_its_anchor_slot_by_slot() {
    let mut ns = nodes(3);
    // vpn#2 is kept with db#2, vpn#3 with db#1 (db has only two slots); sidecar#1 waits
    // with db's constraint unmet; exporter names a service that is not there.
    let s = stacks(vec![
        ("db", constrained(svc(2), &["node.hostname!=h1"])),
        ("vpn", sharing(svc(3), "db")),
        ("web", svc(1)),
        ("sidecar", sharing(svc(1), "gone")),
        ("lost", constrained(svc(1), &["node.labels.zone==mars"])),
        ("probe", sharing(svc(2), "lost")),
    ]);
    let first = check(&s, &ns, &none(), expect![[r#"
        demo/db#1 -> h2
        demo/db#2 -> h3
        demo/lost#1 unplaceable: no node matches node.labels.zone==mars
        demo/probe#1 unplaceable: waits for lost (network_mode: service:lost)
        demo/probe#2 unplaceable: waits for lost (network_mode: service:lost)
        demo/sidecar#1 unplaceable: network_mode: service:gone names no service of this stack
        demo/vpn#1 -> h2
        demo/vpn#2 -> h3
        demo/vpn#3 -> h2
        demo/web#1 -> h1
    "#]]);
    assert_eq!(place(&s, &ns, &first.assignments), first);

    // db#1's node goes down: db#1 moves, and vpn#1 and vpn#3 with it.
    ns[1].up = false;
    check(&s, &ns, &first.assignments, expect![[r#"
        demo/db#1 -> h3
        demo/db#2 -> h3
        demo/lost#1 unplaceable: no node matches node.labels.zone==mars
        demo/probe#1 unplaceable: waits for lost (network_mode: service:lost)
        demo/probe#2 unplaceable: waits for lost (network_mode: service:lost)
        demo/sidecar#1 unplaceable: network_mode: service:gone names no service of this stack
        demo/vpn#1 -> h3
        demo/vpn#2 -> h3
        demo/vpn#3 -> h3
        demo/web#1 -> h1
    "#]]);

    // A follower that cannot run where its anchor is stays unplaced; the anchor does
    // not move for it.
    let s = stacks(vec![("db", constrained(svc(1), &["node.hostname==h1"])), ("vpn", sharing(constrained(svc(1), &["node.hostname!=h1"]), "db"))]);
    check(&s, &nodes(2), &none(), expect![[r#"
        demo/db#1 -> h1
        demo/vpn#1 unplaceable: shares db's network (network_mode: service:db), so it must run on h1, which is excluded by node.hostname!=h1
    "#]]);
    // But where there is a choice, the anchor goes where its follower can run too.
    let s = stacks(vec![("db", svc(1)), ("vpn", sharing(constrained(svc(1), &["node.hostname!=h1"]), "db")), ("a", svc(1))]);
    check(&s, &nodes(2), &none(), expect![[r#"
        demo/a#1 -> h1
        demo/db#1 -> h2
        demo/vpn#1 -> h2
    "#]]);
}

#[test]
fn a_together_group_lands_on_one_node_slot_by_slot() {
    let mut ns = nodes(3);
    ns[2].labels.insert("disk".into(), "ssd".into());
    let s = stacks(vec![
        ("app", together(svc(2), &["cache"])),
        ("cache", together(svc(2), &["metrics"])),
        // One slot: both app slots' groups are kept with it, so all land on h3.
        ("metrics", constrained(svc(1), &["node.labels.disk==ssd"])),
        ("web", svc(2)),
    ]);
    let first = check(&s, &ns, &none(), expect![[r#"
        demo/app#1 -> h3
        demo/app#2 -> h3
        demo/cache#1 -> h3
        demo/cache#2 -> h3
        demo/metrics#1 -> h3
        demo/web#1 -> h1
        demo/web#2 -> h2
    "#]]);
    assert_eq!(place(&s, &ns, &first.assignments), first);

    // Two slots each: slot 1 with slot 1, slot 2 with slot 2, spread like one service.
    let s = stacks(vec![("app", together(svc(2), &["cache"])), ("cache", svc(2)), ("web", svc(1))]);
    check(&s, &nodes(3), &none(), expect![[r#"
        demo/app#1 -> h1
        demo/app#2 -> h2
        demo/cache#1 -> h1
        demo/cache#2 -> h2
        demo/web#1 -> h3
    "#]]);
}

#[test]
fn a_group_that_fits_nowhere_as_a_whole_is_unplaced_with_the_reason() {
    let mut ns = nodes(2);
    ns[0].memory_bytes = 4 * GIB;
    ns[1].memory_bytes = 4 * GIB;
    let mut app = together(svc(1), &["db"]);
    app.resources.reservations.memory = Some(3 * GIB);
    let mut db = svc(1);
    db.resources.reservations.memory = Some(2 * GIB);
    let mut solo = svc(1);
    solo.resources.reservations.memory = Some(3 * GIB);
    let s = stacks(vec![("app", app.clone()), ("db", db.clone()), ("solo", solo)]);
    let first = check(&s, &ns, &none(), expect![[r#"
        demo/app#1 unplaceable: with db (x-roost together): together they need 5.0 GiB of memory, the most free on a node eligible for all of them is 4.0 GiB
        demo/db#1 unplaceable: with app (x-roost together): together they need 5.0 GiB of memory, the most free on a node eligible for all of them is 4.0 GiB
        demo/solo#1 -> h1
    "#]]);
    assert_eq!(place(&s, &ns, &first.assignments), first);

    // Constraints no node meets for all members at once.
    let s = stacks(vec![
        ("app", together(constrained(svc(1), &["node.hostname==h1"]), &["db", "gpu"])),
        ("db", constrained(svc(1), &["node.hostname==h2"])),
        ("gpu", svc(1)),
        ("x", together(svc(1), &["y"])),
        ("y", constrained(svc(1), &["node.labels.zone==mars"])),
    ]);
    check(&s, &nodes(3), &none(), expect![[r#"
        demo/app#1 unplaceable: with db and gpu (x-roost together): no node suits all of them (app: h1; db: h2; gpu: h1, h2, h3)
        demo/db#1 unplaceable: with app and gpu (x-roost together): no node suits all of them (app: h1; db: h2; gpu: h1, h2, h3)
        demo/gpu#1 unplaceable: with app and db (x-roost together): no node suits all of them (app: h1; db: h2; gpu: h1, h2, h3)
        demo/x#1 unplaceable: waits for y (x-roost together)
        demo/y#1 unplaceable: no node matches node.labels.zone==mars
    "#]]);
}

#[test]
fn a_group_formed_later_gathers_where_its_stateful_member_runs_and_then_stays() {
    let ns = nodes(3);
    let s = stacks(vec![("api", svc(1)), ("db", with_volume(svc(1), "data")), ("web", svc(1))]);
    let first = check(&s, &ns, &none(), expect![[r#"
        demo/api#1 -> h1
        demo/db#1 -> h2
        demo/web#1 -> h3
    "#]]);
    // api joins db: db has a volume (stateful), so api moves to it, not the reverse.
    let s = stacks(vec![("api", together(svc(1), &["db"])), ("db", with_volume(svc(1), "data")), ("web", svc(1))]);
    let joined = check(&s, &ns, &first.assignments, expect![[r#"
        demo/api#1 -> h2
        demo/db#1 -> h2
        demo/web#1 -> h3
    "#]]);
    assert_eq!(place(&s, &ns, &joined.assignments), joined);
    // Scaling db up adds slots elsewhere without moving the kept group.
    let mut db = with_volume(svc(2), "data");
    db.x_roost = Some(serde_json::json!({ "together": ["api"] }));
    let s = stacks(vec![("api", svc(1)), ("db", db), ("web", svc(1))]);
    check(&s, &ns, &joined.assignments, expect![[r#"
        demo/api#1 -> h2
        demo/db#1 -> h2
        demo/db#2 -> h2
        demo/web#1 -> h3
    "#]]);
}

#[test]
fn links_show_cross_node_dependencies_and_split_pairs() {
    use roost_core::placement::links::links;
    use roost_core::status::ReplicaStatus;
    let mut app = svc(2);
    app.depends_on.insert("db".into(), roost_spec::Dependency { condition: roost_spec::DependencyCondition::ServiceStarted, required: true });
    let s = stacks(vec![("app", app), ("db", svc(1)), ("vpn", sharing(svc(1), "db")), ("a", together(svc(1), &["b"])), ("b", svc(1))]);
    let row = |service: &str, slot: u32, node: &str| ReplicaStatus {
        stack: "demo".into(),
        service: service.into(),
        slot,
        node: node.into(),
        container_id: None,
        state: "running".into(),
        health: "none".into(),
        ports: vec![],
        up_to_date: true,
        desired: true,
        ready: true,
        failed: false,
        note: None,
    };
    let rows = [row("app", 1, "h1"), row("app", 2, "h3"), row("db", 1, "h3"), row("vpn", 1, "h3"), row("a", 1, "h1"), row("b", 1, "h2")];
    let text: String = links(&s, &rows).iter().map(|l| format!("{} {l}\n", if l.cross_node { "cross" } else { "local" })).collect();
    expect![[r#"
        cross app (h1, h3) -> db (h3)
        local vpn (h3) shares db's network
        cross a (h1) <-> b (h2): split, but x-roost together needs one node
    "#]]
    .assert_eq(&text);
}

// ---- properties ----

const CONSTRAINTS: [&str; 5] = ["node.role==manager", "node.labels.zone==a", "node.labels.zone!=b", "node.hostname!=n1", "node.id != 3"];

fn arb_node(id: u64) -> impl Strategy<Value = NodeView> {
    (any::<bool>(), prop::bool::weighted(0.8), prop::bool::weighted(0.1), prop::bool::weighted(0.1), 0..3_usize, 1..5_u32, 1..9_u64)
        .prop_map(move |(manager, up, draining, witness, zone, cpus, mem)| {
            let mut n = node(id, &format!("n{id}"));
            n.role = if manager { "manager" } else { "worker" }.into();
            n.up = up;
            n.draining = draining;
            n.witness = witness;
            if zone < 2 {
                n.labels.insert("zone".into(), ["a", "b"][zone].into());
            }
            n.cpus = f64::from(cpus);
            n.memory_bytes = mem * GIB;
            n
        })
}

fn arb_service() -> impl Strategy<Value = Service> {
    (0..5_u32, prop::option::of(1..4_u64), prop::option::of(1..4_u32), prop::option::of(0..CONSTRAINTS.len()), any::<bool>()).prop_map(
        |(replicas, mem, cpus, constraint, spread)| {
            let mut s = svc(replicas);
            s.resources.reservations.memory = mem.map(|m| m * GIB / 2);
            s.resources.reservations.cpus = cpus.map(|c| f64::from(c) / 2.0);
            s.placement.constraints = constraint.map(|c| CONSTRAINTS[c].to_string()).into_iter().collect();
            if spread {
                s.placement.preferences = vec!["node.labels.zone".into()];
            }
            s
        },
    )
}

/// An independent reading of rule 1 for the constraints the properties use.
fn eligible(s: &Service, n: &NodeView) -> bool {
    let zone = n.labels.get("zone").map(String::as_str);
    n.up && !n.draining
        && !n.witness
        && s.placement.constraints.iter().all(|c| match c.as_str() {
            "node.role==manager" => n.role == "manager",
            "node.labels.zone==a" => zone == Some("a"),
            "node.labels.zone!=b" => zone != Some("b"),
            "node.hostname!=n1" => n.name != "n1",
            "node.id != 3" => n.id != 3,
            other => panic!("unknown constraint {other}"),
        })
}

proptest! {
    #[test]
    fn assignments_are_eligible_within_capacity_and_stable(
        ns in (1..6_u64).prop_flat_map(|n| (1..=n).map(arb_node).collect::<Vec<_>>()),
        services in prop::collection::vec(arb_service(), 1..5),
        current_seed in prop::collection::vec(0..7_u64, 20),
        relations in prop::collection::vec((0..4_usize, 0..4_usize, any::<bool>()), 0..3),
    ) {
        const NAMES: [&str; 4] = ["a", "b", "c", "d"];
        let mut services = services;
        // Sometimes `x-roost together` (true) or `network_mode: service:X` (false).
        for (i, j, is_together) in relations {
            if i >= services.len() || j >= services.len() || i == j {
                continue;
            }
            if is_together {
                let mut with: Vec<String> = together_of(&services[i]).into_iter().map(str::to_owned).collect();
                with.push(NAMES[j].into());
                services[i] = together(services[i].clone(), &with.iter().map(String::as_str).collect::<Vec<_>>());
            } else {
                services[i] = sharing(services[i].clone(), NAMES[j]);
            }
        }
        let s = stacks(services.into_iter().enumerate().map(|(i, sv)| (NAMES[i], sv)).collect());
        let slots: Vec<SlotKey> = s["demo"].services.iter()
            .flat_map(|(name, sv)| (1..=sv.replicas).map(move |i| SlotKey::new("demo", name, i)))
            .collect();
        let current: BTreeMap<SlotKey, NodeId> = slots.iter().cloned().zip(current_seed).collect();
        let p = place(&s, &ns, &current);

        let mut used: BTreeMap<NodeId, (f64, u64)> = BTreeMap::new();
        for k in &slots {
            prop_assert!(p.assignments.contains_key(k) != p.unplaceable.contains_key(k), "{k} in exactly one map");
        }
        for (k, id) in &p.assignments {
            let sv = &s["demo"].services[&k.service];
            let n = ns.iter().find(|n| n.id == *id).unwrap();
            prop_assert!(eligible(sv, n), "{k} on ineligible {}", n.name);
            let u = used.entry(*id).or_default();
            u.0 += sv.resources.reservations.cpus.unwrap_or(0.0);
            u.1 += sv.resources.reservations.memory.unwrap_or(0);
        }
        for (id, (cpus, mem)) in used {
            let n = ns.iter().find(|n| n.id == id).unwrap();
            prop_assert!(cpus <= n.cpus + 1e-6 && mem <= n.memory_bytes, "{} over capacity", n.name);
        }
        // Kept together: both slots of a pair, when placed, are on one node.
        let stack = &s["demo"];
        let groups = together_groups(stack);
        let mut pairs: Vec<(&str, &str)> = Vec::new();
        for (name, sv) in &stack.services {
            pairs.extend(groups[name.as_str()].iter().filter(|o| **o != name.as_str()).map(|o| (name.as_str(), *o)));
            if let Some(x) = network_anchor(sv) {
                pairs.push((name.as_str(), x));
            }
        }
        for (a, b) in &pairs {
            let (ra, rb) = (stack.services[*a].replicas, stack.services[*b].replicas);
            if rb == 0 {
                continue;
            }
            for i in 1..=ra {
                let (ka, kb) = (SlotKey::new("demo", a, i), SlotKey::new("demo", b, partner_slot(i, rb)));
                if let (Some(x), Some(y)) = (p.assignments.get(&ka), p.assignments.get(&kb)) {
                    prop_assert_eq!(x, y, "{} and {} are kept together but split", ka, kb);
                }
                if network_anchor(&stack.services[*a]) == Some(*b) && p.assignments.contains_key(&ka) {
                    prop_assert!(p.assignments.contains_key(&kb), "{} placed without {}", ka, kb);
                }
            }
        }
        // Hysteresis: a slot without reservations (so room is never the issue) stays on
        // its current node while that node is eligible, unless it must join others.
        for (k, id) in &current {
            let sv = &s["demo"].services[&k.service];
            if groups[k.service.as_str()].len() > 1 || network_anchor(sv).is_some() {
                continue;
            }
            if let Some(n) = ns.iter().find(|n| n.id == *id) {
                if eligible(sv, n) && sv.resources.reservations.is_empty() {
                    prop_assert_eq!(p.assignments.get(k), Some(id), "{} left an eligible node", k);
                }
            }
        }
        let again = place(&s, &ns, &p.assignments);
        prop_assert_eq!(again, p);
    }
}
