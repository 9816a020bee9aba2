//! Rolling updates as data: stacks, replica rows and the rollout set in; the next set,
//! rollbacks and events out.

mod common;

use roost_core::reconcile::{Millis, SlotKey};
use roost_core::rollout::{
    step, FailureAction, PauseCause, RolloutEvent, RolloutInput, RolloutMemory, RolloutStack, RolloutStep, UpdateOrder,
};
use roost_core::status::ReplicaStatus;
use roost_spec::{Service, Stack, UpdateConfig};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

fn update(parallelism: u32, failure_action: &str, order: &str) -> UpdateConfig {
    UpdateConfig {
        parallelism,
        delay: None,
        failure_action: failure_action.into(),
        monitor: None,
        max_failure_ratio: None,
        order: order.into(),
    }
}

fn service(replicas: u32, update: UpdateConfig) -> Service {
    Service { image: "nginx".into(), replicas, update_config: Some(update), ..Default::default() }
}

fn stack(services: Vec<(&str, Service)>) -> Stack {
    let mut stack = Stack { name: "demo".into(), ..Default::default() };
    for (name, s) in services {
        stack.services.insert(name.into(), s);
    }
    stack
}

/// A replica row: `v` is `old`, `new` (starting), `ready` (new and ready), `failed`
/// (new and failed) or `none` (no container: an old copy stopped, the new one not yet
/// created).
fn row(service: &str, slot: u32, v: &str) -> ReplicaStatus {
    ReplicaStatus {
        stack: "demo".into(),
        service: service.into(),
        slot,
        node: "h1".into(),
        container_id: (v != "none").then(|| format!("c{slot}")),
        state: "running".into(),
        health: "none".into(),
        ports: vec![],
        up_to_date: matches!(v, "new" | "ready" | "failed"),
        desired: true,
        ready: matches!(v, "ready" | "old"),
        failed: v == "failed",
        note: (v == "failed").then(|| "exited (1)".into()),
    }
}

fn rows(service: &str, versions: &[&str]) -> Vec<ReplicaStatus> {
    versions.iter().enumerate().map(|(i, v)| row(service, i as u32 + 1, v)).collect()
}

fn slots(service: &str, numbers: &[u32]) -> BTreeSet<SlotKey> {
    numbers.iter().map(|n| SlotKey::new("demo", service, *n)).collect()
}

/// One step for stack `demo` (with a previous version unless `auto_rolled_back`
/// says otherwise).
struct World {
    spec: Stack,
    has_previous: bool,
    auto_rolled_back: bool,
    memory: RolloutMemory,
}

impl World {
    fn new(spec: Stack) -> Self {
        World { spec, has_previous: true, auto_rolled_back: false, memory: RolloutMemory::default() }
    }

    fn step(&mut self, rows: &[ReplicaStatus], rollout: &BTreeSet<SlotKey>, now: Millis) -> RolloutStep {
        let stack = RolloutStack { spec: &self.spec, has_previous: self.has_previous, auto_rolled_back: self.auto_rolled_back };
        let stacks = BTreeMap::from([("demo".to_string(), stack)]);
        step(&RolloutInput { stacks: &stacks, rows, rollout, now }, &mut self.memory)
    }
}

fn batch(service: &str, slots: &[u32], order: UpdateOrder) -> RolloutEvent {
    RolloutEvent::RolloutBatch { stack: "demo".into(), service: service.into(), slots: slots.to_vec(), order }
}

#[test]
fn batches_take_parallelism_slots_lowest_first_once_the_previous_is_ready() {
    let mut w = World::new(stack(vec![("web", service(3, update(1, "pause", "stop-first")))]));
    // Rows arrive in node order, not slot order.
    let mut all_old = rows("web", &["old", "old", "old"]);
    all_old.reverse();
    let s = w.step(&all_old, &BTreeSet::new(), 0);
    assert_eq!(s.allowed, slots("web", &[1]));
    assert_eq!(s.events, [batch("web", &[1], UpdateOrder::StopFirst)]);

    // Slot 1 is being replaced (stop-first: no container for a moment): nothing more.
    let s = w.step(&rows("web", &["none", "old", "old"]), &slots("web", &[1]), 300);
    assert_eq!(s.allowed, slots("web", &[1]));
    assert!(s.events.is_empty());
    let s = w.step(&rows("web", &["new", "old", "old"]), &slots("web", &[1]), 600);
    assert_eq!(s.allowed, slots("web", &[1]), "up to date but not ready yet");

    let s = w.step(&rows("web", &["ready", "old", "old"]), &slots("web", &[1]), 900);
    assert_eq!(s.allowed, slots("web", &[1, 2]));
    assert_eq!(s.events, [batch("web", &[2], UpdateOrder::StopFirst)]);
}

#[test]
fn parallelism_two_and_zero() {
    let mut w = World::new(stack(vec![("web", service(3, update(2, "pause", "stop-first")))]));
    let s = w.step(&rows("web", &["old", "old", "old"]), &BTreeSet::new(), 0);
    assert_eq!(s.allowed, slots("web", &[1, 2]));
    let s = w.step(&rows("web", &["ready", "ready", "old"]), &slots("web", &[1, 2]), 300);
    assert_eq!(s.allowed, slots("web", &[1, 2, 3]));
    assert_eq!(s.events, [batch("web", &[3], UpdateOrder::StopFirst)]);

    let mut w = World::new(stack(vec![("web", service(3, update(0, "pause", "stop-first")))]));
    let s = w.step(&rows("web", &["old", "old", "old"]), &BTreeSet::new(), 0);
    assert_eq!(s.allowed, slots("web", &[1, 2, 3]), "0: all at once");
}

#[test]
fn delay_counts_from_when_a_batch_is_ready() {
    let mut u = update(1, "pause", "stop-first");
    u.delay = Some(Duration::from_secs(2));
    let mut w = World::new(stack(vec![("web", service(2, u))]));
    let s = w.step(&rows("web", &["old", "old"]), &BTreeSet::new(), 0);
    assert_eq!(s.allowed, slots("web", &[1]), "the first batch goes at once");
    let ready = rows("web", &["ready", "old"]);
    assert_eq!(w.step(&ready, &slots("web", &[1]), 1000).allowed, slots("web", &[1]), "ready at 1000: wait until 3000");
    assert_eq!(w.step(&ready, &slots("web", &[1]), 2999).allowed, slots("web", &[1]));
    let s = w.step(&ready, &slots("web", &[1]), 3000);
    assert_eq!(s.allowed, slots("web", &[1, 2]));

    // A new leader has no memory: it lets the next batch through at once.
    let mut w2 = World::new(w.spec.clone());
    assert_eq!(w2.step(&ready, &slots("web", &[1]), 1000).allowed, slots("web", &[1, 2]));
}

#[test]
fn an_update_done_clears_its_slots_and_says_so() {
    let mut w = World::new(stack(vec![("web", service(2, update(1, "pause", "stop-first")))]));
    let s = w.step(&rows("web", &["ready", "ready"]), &slots("web", &[1, 2]), 0);
    assert!(s.allowed.is_empty());
    assert_eq!(s.events, [RolloutEvent::RolloutFinished { stack: "demo".into(), service: "web".into() }]);
    // Nothing to roll, nothing said.
    let s = w.step(&rows("web", &["ready", "ready"]), &BTreeSet::new(), 300);
    assert_eq!(s, RolloutStep::default());
}

#[test]
fn services_without_update_config_are_left_alone() {
    let plain = Service { image: "nginx".into(), replicas: 2, ..Default::default() };
    let mut w = World::new(stack(vec![("web", plain)]));
    assert_eq!(w.step(&rows("web", &["old", "old"]), &BTreeSet::new(), 0), RolloutStep::default());
}

#[test]
fn order_is_reported_and_stateful_services_update_stop_first() {
    let start_first = service(2, update(1, "pause", "start-first"));
    let mut stateful = start_first.clone();
    stateful.volumes.push(common::volume_mount("data", "/data"));
    assert_eq!(UpdateOrder::of(&start_first), Some(UpdateOrder::StartFirst));
    assert_eq!(UpdateOrder::of(&stateful), Some(UpdateOrder::StopFirst));
    assert_eq!(UpdateOrder::of(&service(1, update(1, "pause", "stop-first"))), Some(UpdateOrder::StopFirst));
    assert_eq!(UpdateOrder::of(&Service::default()), None);

    let mut w = World::new(stack(vec![("web", start_first), ("db", stateful)]));
    let mut both = rows("web", &["old", "old"]);
    both.extend(rows("db", &["old", "old"]));
    let s = w.step(&both, &BTreeSet::new(), 0);
    assert_eq!(s.events, [batch("db", &[1], UpdateOrder::StopFirst), batch("web", &[1], UpdateOrder::StartFirst)]);

    // Start-first: the slot's row shows the new copy once it serves (the old one is
    // stopping beside it): the batch is done.
    let mut next = rows("web", &["ready", "old"]);
    next.extend(rows("db", &["none", "old"]));
    let rollout: BTreeSet<SlotKey> = slots("web", &[1]).into_iter().chain(slots("db", &[1])).collect();
    let s = w.step(&next, &rollout, 300);
    assert_eq!(s.events, [batch("web", &[2], UpdateOrder::StartFirst)], "db's slot 1 is still in flight");
}

#[test]
fn monitor_and_max_failure_ratio_do_not_change_batches() {
    let plain = update(1, "pause", "stop-first");
    let mut watched = plain.clone();
    watched.monitor = Some(Duration::from_secs(30));
    watched.max_failure_ratio = Some(0.5);
    let script: [(&[&str], &[u32], Millis); 3] =
        [(&["old", "old"], &[], 0), (&["ready", "old"], &[1], 300), (&["failed", "old"], &[1], 600)];
    let run = |u: &UpdateConfig| {
        let mut w = World::new(stack(vec![("web", service(2, u.clone()))]));
        script.iter().map(|(v, s, now)| w.step(&rows("web", v), &slots("web", s), *now)).collect::<Vec<_>>()
    };
    assert_eq!(run(&plain), run(&watched));
}

#[test]
fn a_failed_new_replica_rolls_the_stack_back_once() {
    let mut w = World::new(stack(vec![
        ("api", service(2, update(1, "rollback", "stop-first"))),
        ("web", service(2, update(1, "rollback", "stop-first"))),
    ]));
    let mut failing = rows("api", &["failed", "old"]);
    failing.extend(rows("web", &["failed", "old"]));
    let rollout: BTreeSet<SlotKey> = slots("api", &[1]).into_iter().chain(slots("web", &[1])).collect();
    let s = w.step(&failing, &rollout, 0);
    assert_eq!(s.rollbacks, ["demo"], "one rollback although two services failed");
    assert_eq!(
        s.events,
        [RolloutEvent::AutoRollback { stack: "demo".into(), service: "api".into(), slot: 1, reason: "exited (1)".into() }]
    );
    assert!(s.allowed.is_empty(), "the stack changes version: its slots leave the set");

    // Rolled back once already: pause instead, and say so once.
    w.auto_rolled_back = true;
    let s = w.step(&rows("api", &["failed", "old"]), &slots("api", &[1]), 300);
    assert!(s.rollbacks.is_empty());
    assert_eq!(s.allowed, slots("api", &[1]), "keeps what it let through, adds nothing");
    assert!(s.events.is_empty(), "the failure was reported: {:?}", s.events);

    let mut fresh = World::new(w.spec.clone());
    fresh.auto_rolled_back = true;
    let s = fresh.step(&rows("api", &["failed", "old"]), &slots("api", &[1]), 0);
    assert_eq!(s.events, [paused("api", PauseCause::AlreadyRolledBack)]);

    let mut no_previous = World::new(w.spec.clone());
    no_previous.has_previous = false;
    let s = no_previous.step(&rows("api", &["failed", "old"]), &slots("api", &[1]), 0);
    assert!(s.rollbacks.is_empty());
    assert_eq!(s.events, [paused("api", PauseCause::NoPreviousVersion)]);
}

fn paused(service: &str, cause: PauseCause) -> RolloutEvent {
    RolloutEvent::RolloutPaused { stack: "demo".into(), service: service.into(), slot: 1, reason: "exited (1)".into(), cause }
}

#[test]
fn pause_holds_the_update_until_the_failure_is_gone() {
    let mut w = World::new(stack(vec![("web", service(3, update(1, "pause", "stop-first")))]));
    let s = w.step(&rows("web", &["failed", "old", "old"]), &slots("web", &[1]), 0);
    assert_eq!(s.allowed, slots("web", &[1]));
    assert_eq!(s.events, [paused("web", PauseCause::Asked)]);
    let s = w.step(&rows("web", &["failed", "old", "old"]), &slots("web", &[1]), 300);
    assert_eq!((s.allowed, s.events), (slots("web", &[1]), vec![]), "reported once");
    // Fixed (it became ready after a restart): the update goes on.
    let s = w.step(&rows("web", &["ready", "old", "old"]), &slots("web", &[1]), 600);
    assert_eq!(s.allowed, slots("web", &[1, 2]));
}

#[test]
fn continue_goes_on_past_a_failed_replica() {
    let mut w = World::new(stack(vec![("web", service(3, update(1, "continue", "stop-first")))]));
    // Slot 1 failed (not ready, so still in flight); slot 1's batch never finishes, so
    // `continue` only means "no pause": later batches wait for ready slots as before.
    let s = w.step(&rows("web", &["failed", "old", "old"]), &slots("web", &[1]), 0);
    assert_eq!(s.allowed, slots("web", &[1]));
    assert_eq!(
        s.events,
        [RolloutEvent::FailureIgnored { stack: "demo".into(), service: "web".into(), slot: 1, reason: "exited (1)".into() }]
    );
    // A failed replica that is also ready (a one-shot that recorded an error, then
    // served) does not block the next batch.
    let mut r = rows("web", &["failed", "old", "old"]);
    r[0].ready = true;
    let s = w.step(&r, &slots("web", &[1]), 300);
    assert_eq!(s.allowed, slots("web", &[1, 2]));
    assert_eq!(s.events, [batch("web", &[2], UpdateOrder::StopFirst)]);
}

#[test]
fn failure_actions_parse_as_the_loader_spells_them() {
    assert_eq!(FailureAction::parse("rollback"), FailureAction::Rollback);
    assert_eq!(FailureAction::parse("continue"), FailureAction::Continue);
    assert_eq!(FailureAction::parse("pause"), FailureAction::Pause);
    assert_eq!(FailureAction::parse("explode"), FailureAction::Pause, "unknown: change nothing");
}

#[test]
fn events_read_well() {
    let texts: Vec<String> = [
        batch("web", &[1, 2], UpdateOrder::StartFirst),
        RolloutEvent::AutoRollback { stack: "demo".into(), service: "web".into(), slot: 2, reason: "exited (1)".into() },
        paused("web", PauseCause::Asked),
        paused("web", PauseCause::NoPreviousVersion),
        paused("web", PauseCause::AlreadyRolledBack),
        RolloutEvent::FailureIgnored { stack: "demo".into(), service: "web".into(), slot: 1, reason: "exited (1)".into() },
        RolloutEvent::RolloutFinished { stack: "demo".into(), service: "web".into() },
    ]
    .iter()
    .map(ToString::to_string)
    .collect();
    assert_eq!(
        texts,
        [
            "demo/web: rolling update: next batch, slots [1, 2] (start-first)",
            // The e2e test looks for "rolling the stack back" in the agent's log.
            "demo: web-2 failed after the update (exited (1)): rolling the stack back",
            "demo: web-1 failed after the update (exited (1)): rolling update paused",
            "demo: web-1 failed after the update (exited (1)): rolling update paused (no previous version to roll back to)",
            "demo: web-1 failed after the update (exited (1)): rolling update paused (already rolled back once since the last deploy)",
            "demo: web-1 failed after the update (exited (1)): continuing (failure_action: continue)",
            "demo/web: rolling update done",
        ]
    );
}
