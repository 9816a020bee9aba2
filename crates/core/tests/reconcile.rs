//! The reconciler as data: a desired stack, what Docker shows, the plan.

mod common;

use common::*;
use expect_test::expect;
use roost_core::observed::{ContainerState, Health, Observed};
use roost_core::reconcile::{Reconciler, SlotKey};
use roost_core::status::replica_status;
use roost_spec::RestartCondition;

#[test]
fn fresh_stack_creates_resources_then_services_whose_dependencies_hold() {
    let stack = demo_stack();
    let mut r = Reconciler::new();
    let plan = r.plan(&desired(&[stack.clone()]), &Observed::default(), 0);
    expect![[r#"
        ensure network demo/default
        ensure volume demo/data
        create demo/api#1
        create demo/api#2
        create demo/web#1
    "#]]
    .assert_eq(&render(&plan));
    let rows = replica_status("n1", &desired(&[stack]), &Observed::default(), &r, None);
    let worker = rows.iter().find(|r| r.service == "worker").unwrap();
    assert_eq!(worker.note.as_deref(), Some("waiting for web to be healthy"));
    assert!(!worker.failed);
}

#[test]
fn dependent_starts_only_once_its_dependency_is_healthy() {
    let stack = demo_stack();
    let mut observed = converged(&stack);
    observed.containers.retain(|c| c.service != "worker");
    let web = observed.containers.iter_mut().find(|c| c.service == "web").unwrap();
    web.health = Health::Starting;
    let mut r = Reconciler::new();
    expect!["(nothing)\n"].assert_eq(&render(&r.plan(&desired(&[stack.clone()]), &observed, 0)));

    let web = observed.containers.iter_mut().find(|c| c.service == "web").unwrap();
    web.health = Health::Healthy;
    expect![[r#"
        create demo/worker#1
    "#]]
    .assert_eq(&render(&r.plan(&desired(&[stack]), &observed, 1)));
}

#[test]
fn a_converged_node_needs_nothing_so_a_restarted_agent_adopts_its_containers() {
    let stack = demo_stack();
    let mut fresh_agent = Reconciler::new();
    expect!["(nothing)\n"].assert_eq(&render(&fresh_agent.plan(&desired(&[stack.clone()]), &converged(&stack), 5)));
}

#[test]
fn changing_one_service_replaces_only_that_service() {
    let old = demo_stack();
    let observed = converged(&old);
    let mut new = old.clone();
    new.services.get_mut("api").unwrap().environment.insert("MODE".into(), "fast".into());
    let mut r = Reconciler::new();
    expect![[r#"
        remove demo/api#1 (api1): Outdated
        remove demo/api#2 (api2): Outdated
    "#]]
    .assert_eq(&render(&r.plan(&desired(&[new]), &observed, 0)));
}

#[test]
fn scaling_adds_and_removes_slots_without_touching_the_others() {
    let old = demo_stack();
    let observed = converged(&old);
    let mut up = old.clone();
    up.services.get_mut("api").unwrap().replicas = 3;
    up.services.get_mut("web").unwrap().replicas = 1;
    let mut down = old.clone();
    down.services.get_mut("api").unwrap().replicas = 1;
    let mut r = Reconciler::new();
    expect![[r#"
        create demo/api#3
    "#]]
    .assert_eq(&render(&r.plan(&desired(&[up]), &observed, 0)));
    expect![[r#"
        remove demo/api#2 (api2): NotDesired
    "#]]
    .assert_eq(&render(&r.plan(&desired(&[down]), &observed, 0)));
}

#[test]
fn a_killed_container_restarts_at_once_then_backs_off_when_it_keeps_dying() {
    let stack = demo_stack();
    let d = desired(&[stack.clone()]);
    let mut observed = converged(&stack);
    let exited = ContainerState::Exited { code: Some(137) };
    observed.containers.iter_mut().find(|c| c.service == "api" && c.slot == 1).unwrap().state = exited;
    let mut r = Reconciler::new();
    expect![[r#"
        start demo/api#1 (api1)
    "#]]
    .assert_eq(&render(&r.plan(&d, &observed, 1_000)));
    // It died again right away: the second restart waits 500 ms after the exit was
    // seen, the third 1 s.
    expect!["(nothing)\n"].assert_eq(&render(&r.plan(&d, &observed, 1_100)));
    expect!["start demo/api#1 (api1)\n"].assert_eq(&render(&r.plan(&d, &observed, 1_600)));
    expect!["(nothing)\n"].assert_eq(&render(&r.plan(&d, &observed, 2_500)));
    expect!["(nothing)\n"].assert_eq(&render(&r.plan(&d, &observed, 3_499)));
    expect!["start demo/api#1 (api1)\n"].assert_eq(&render(&r.plan(&d, &observed, 3_500)));
    let key = SlotKey::new("demo", "api", 1);
    assert_eq!(r.slot(&key).unwrap().failures, 3);
    assert_eq!(r.slot(&key).unwrap().last_error.as_ref().unwrap().1, "exited with code 137");

    // Running for 10 s resets the count, so the next failure restarts at once.
    let healthy = converged(&stack);
    r.plan(&d, &healthy, 4_000);
    r.plan(&d, &healthy, 14_000);
    assert_eq!(r.slot(&key).unwrap().failures, 0);
    assert_eq!(r.slot(&key).unwrap().last_error, None);
}

#[test]
fn a_removed_container_is_recreated_at_once() {
    let stack = demo_stack();
    let mut observed = converged(&stack);
    observed.containers.retain(|c| c.service != "web");
    let mut r = Reconciler::new();
    expect!["create demo/web#1\n"].assert_eq(&render(&r.plan(&desired(&[stack]), &observed, 0)));
}

#[test]
fn an_unhealthy_container_is_replaced() {
    let stack = demo_stack();
    let mut observed = converged(&stack);
    observed.containers.iter_mut().find(|c| c.service == "web").unwrap().health = Health::Unhealthy;
    let mut r = Reconciler::new();
    let d = desired(&[stack]);
    expect!["remove demo/web#1 (web1): Unhealthy\n"].assert_eq(&render(&r.plan(&d, &observed, 0)));
    observed.containers.retain(|c| c.service != "web");
    expect!["create demo/web#1\n"].assert_eq(&render(&r.plan(&d, &observed, 0)));

    // The replacement runs but its healthcheck has not passed yet: the failure stays
    // visible (for `ps`, `up --wait` and a rolling update's failure_action) until the
    // new copy serves. Cleared at `Running`, a rollout polling the rows saw it only
    // in the instant between the removal and the next pass (a flaky automatic rollback).
    let stack = &d["demo"];
    let mut starting = container(stack, "web", 1, ContainerState::Running, Health::Starting);
    starting.id = "web1-again".into();
    observed.containers.push(starting);
    expect!["(nothing)\n"].assert_eq(&render(&r.plan(&d, &observed, 100)));
    let web = |rows: Vec<roost_core::status::ReplicaStatus>| rows.into_iter().find(|r| r.service == "web").unwrap();
    let row = web(replica_status("n1", &d, &observed, &r, None));
    assert!(row.failed && row.up_to_date, "{row:?}");
    assert_eq!(row.note.as_deref(), Some("container became unhealthy; replacing it"));

    observed.containers.iter_mut().find(|c| c.service == "web").unwrap().health = Health::Healthy;
    expect!["(nothing)\n"].assert_eq(&render(&r.plan(&d, &observed, 1_100)));
    let row = web(replica_status("n1", &d, &observed, &r, None));
    assert!(row.ready && !row.failed, "{row:?}");
}

#[test]
fn restart_policy_decides_what_happens_after_an_exit() {
    let mut stack = demo_stack();
    let d = |s: &roost_spec::Stack| desired(&[s.clone()]);
    let mut observed = converged(&stack);
    let api1 = observed.containers.iter_mut().find(|c| c.service == "api" && c.slot == 1).unwrap();
    api1.state = ContainerState::Exited { code: Some(0) };

    stack.services.get_mut("api").unwrap().restart.condition = RestartCondition::OnFailure;
    expect!["(nothing)\n"].assert_eq(&render(&Reconciler::new().plan(&d(&stack), &observed, 0)));
    stack.services.get_mut("api").unwrap().restart.condition = RestartCondition::None;
    let mut r = Reconciler::new();
    expect!["(nothing)\n"].assert_eq(&render(&r.plan(&d(&stack), &observed, 0)));
    let rows = replica_status("n1", &d(&stack), &observed, &r, None);
    assert!(rows.iter().find(|r| r.service == "api" && r.slot == 1).unwrap().ready, "a one-shot that exited 0 is done");
}

#[test]
fn max_attempts_stops_restarts_and_reports_it() {
    let mut stack = demo_stack();
    let api = stack.services.get_mut("api").unwrap();
    api.restart.max_attempts = Some(1);
    let d = desired(&[stack.clone()]);
    let mut observed = converged(&stack);
    observed.containers.iter_mut().find(|c| c.service == "api" && c.slot == 1).unwrap().state =
        ContainerState::Exited { code: Some(3) };
    let mut r = Reconciler::new();
    expect!["start demo/api#1 (api1)\n"].assert_eq(&render(&r.plan(&d, &observed, 0)));
    expect!["(nothing)\n"].assert_eq(&render(&r.plan(&d, &observed, 60_000)));
    let rows = replica_status("n1", &d, &observed, &r, None);
    let row = rows.iter().find(|r| r.service == "api" && r.slot == 1).unwrap();
    assert!(row.failed);
    expect!["gave up after 2 failures: exited with code 3"].assert_eq(row.note.as_deref().unwrap());
}

#[test]
fn a_failed_create_is_retried_after_a_backoff_and_shown() {
    let stack = demo_stack();
    let d = desired(&[stack.clone()]);
    let mut observed = converged(&stack);
    observed.containers.retain(|c| c.service != "web");
    let mut r = Reconciler::new();
    let key = SlotKey::new("demo", "web", 1);
    expect!["create demo/web#1\n"].assert_eq(&render(&r.plan(&d, &observed, 0)));
    r.record_error(&key, 0, "port 8080 is already in use".into(), None);
    r.record_error(&key, 0, "port 8080 is already in use".into(), None);
    expect!["(nothing)\n"].assert_eq(&render(&r.plan(&d, &observed, 100)));
    expect!["create demo/web#1\n"].assert_eq(&render(&r.plan(&d, &observed, 500)));
    let rows = replica_status("n1", &d, &observed, &r, None);
    let web = rows.iter().find(|r| r.service == "web").unwrap();
    assert!(web.failed);
    assert_eq!(web.note.as_deref(), Some("port 8080 is already in use"));
}

#[test]
fn duplicates_keep_the_oldest_up_to_date_running_container() {
    let stack = demo_stack();
    let mut observed = converged(&stack);
    let mut twin = running(&stack, "web", 1);
    twin.id = "web1-twin".into();
    twin.created = 200;
    observed.containers.push(twin);
    let mut r = Reconciler::new();
    expect!["remove demo/web#1 (web1-twin): Duplicate\n"]
        .assert_eq(&render(&r.plan(&desired(&[stack]), &observed, 0)));
}

#[test]
fn a_removed_stack_loses_its_containers_and_networks_but_never_its_volumes() {
    let stack = demo_stack();
    let observed = converged(&stack);
    let mut r = Reconciler::new();
    expect![[r#"
        remove demo/api#1 (api1): NotDesired
        remove demo/api#2 (api2): NotDesired
        remove demo/web#1 (web1): NotDesired
        remove demo/worker#1 (worker1): NotDesired
        remove network demo_default
    "#]]
    .assert_eq(&render(&r.plan(&desired(&[]), &observed, 0)));
}

#[test]
fn status_rows_snapshot() {
    let stack = demo_stack();
    let mut observed = converged(&stack);
    observed.containers.iter_mut().find(|c| c.service == "web").unwrap().health = Health::Starting;
    observed.containers.retain(|c| c.service != "worker");
    let mut r = Reconciler::new();
    r.plan(&desired(&[stack.clone()]), &observed, 0);
    let rows = replica_status("n1", &desired(&[stack]), &observed, &r, None);
    let text: String = rows
        .iter()
        .map(|r| {
            format!(
                "{} {} {} {} {} ready={} failed={} {}\n",
                r.service,
                r.slot,
                r.state,
                r.health,
                r.container_id.as_deref().unwrap_or("-"),
                r.ready,
                r.failed,
                r.note.as_deref().unwrap_or("")
            )
        })
        .collect();
    expect![[r#"
        api 1 running none api1 ready=true failed=false 
        api 2 running none api2 ready=true failed=false 
        web 1 running starting web1 ready=false failed=false 
        worker 1 pending none - ready=false failed=false waiting for web to be healthy
    "#]]
    .assert_eq(&text);
}

#[test]
fn an_error_of_an_old_config_does_not_hold_back_or_fail_the_new_one() {
    let stack = demo_stack();
    let mut observed = converged(&stack);
    observed.containers.retain(|c| c.service != "web");
    let mut r = Reconciler::new();
    r.plan(&desired(&[stack.clone()]), &observed, 0);
    let key = SlotKey::new("demo", "web", 1);
    r.record_error(&key, 0, "port 8080 is already in use".into(), None);
    r.record_error(&key, 0, "port 8080 is already in use".into(), None);

    let mut fixed = stack.clone();
    fixed.services.get_mut("web").unwrap().environment.insert("PORT".into(), "8081".into());
    let rows = replica_status("n1", &desired(&[fixed.clone()]), &observed, &r, None);
    assert!(!rows.iter().find(|r| r.service == "web").unwrap().failed, "status ignores the old config's error");
    expect!["create demo/web#1\n"].assert_eq(&render(&r.plan(&desired(&[fixed]), &observed, 1)));
}

#[test]
fn a_node_runs_only_its_slots_and_gives_up_slots_assigned_elsewhere() {
    use roost_core::reconcile::Scope;
    let stack = demo_stack();
    let mut r = Reconciler::new();
    let here: std::collections::BTreeSet<_> = [SlotKey::new("demo", "api", 2), SlotKey::new("demo", "web", 1)].into();
    let scope = Scope { slots: Some(here), ..Default::default() };
    expect![[r#"
        remove demo/api#1 (api1): NotDesired
        remove demo/worker#1 (worker1): NotDesired
    "#]]
    .assert_eq(&render(&r.plan_scoped(&desired(&[stack]), &scope, &converged(&demo_stack()), 0)));
}

#[test]
fn a_fenced_node_kills_its_stateful_replicas_and_keeps_stateless_ones() {
    use roost_core::reconcile::Scope;
    let stack = demo_stack();
    let mut r = Reconciler::new();
    let scope = Scope { fenced: true, ..Default::default() };
    // web mounts a named volume: stateful. The others are stateless.
    expect!["remove demo/web#1 (web1): Fenced\n"]
        .assert_eq(&render(&r.plan_scoped(&desired(&[stack.clone()]), &scope, &converged(&stack), 0)));
    let mut without_web = converged(&stack);
    without_web.containers.retain(|c| c.service != "web");
    expect!["(nothing)\n"].assert_eq(&render(&r.plan_scoped(&desired(&[stack]), &scope, &without_web, 1)));
}

#[test]
fn a_dependency_running_on_another_node_counts() {
    use roost_core::reconcile::Scope;
    let stack = demo_stack();
    let mut local = converged(&stack);
    let web = local.containers.iter().find(|c| c.service == "web").unwrap().clone();
    local.containers.retain(|c| c.service != "web" && c.service != "worker");
    let here: std::collections::BTreeSet<_> =
        [SlotKey::new("demo", "api", 1), SlotKey::new("demo", "api", 2), SlotKey::new("demo", "worker", 1)].into();
    let mut r = Reconciler::new();
    let alone = Scope { slots: Some(here.clone()), ..Default::default() };
    expect!["(nothing)\n"].assert_eq(&render(&r.plan_scoped(&desired(&[stack.clone()]), &alone, &local, 0)));
    let with_remote = Scope { slots: Some(here), remote: vec![web], ..Default::default() };
    expect!["create demo/worker#1\n"].assert_eq(&render(&r.plan_scoped(&desired(&[stack]), &with_remote, &local, 1)));
}

#[test]
fn a_rolling_update_replaces_only_the_slots_let_through() {
    use roost_core::reconcile::Scope;
    let old = demo_stack();
    let observed = converged(&old);
    let mut new = old.clone();
    let api = new.services.get_mut("api").unwrap();
    api.environment.insert("MODE".into(), "fast".into());
    api.update_config = Some(roost_spec::UpdateConfig {
        parallelism: 1,
        delay: None,
        failure_action: "rollback".into(),
        monitor: None,
        max_failure_ratio: None,
        order: "stop-first".into(),
    });
    let mut r = Reconciler::new();
    let first: std::collections::BTreeSet<_> = [SlotKey::new("demo", "api", 1)].into();
    let scope = Scope { updatable: Some(first), ..Default::default() };
    expect!["remove demo/api#1 (api1): Outdated\n"].assert_eq(&render(&r.plan_scoped(&desired(&[new.clone()]), &scope, &observed, 0)));
    let none = Scope { updatable: Some(Default::default()), ..Default::default() };
    expect!["(nothing)\n"].assert_eq(&render(&r.plan_scoped(&desired(&[new]), &none, &observed, 1)));
}

#[test]
fn networks_are_made_only_where_a_replica_attached_to_them_runs_and_go_when_the_last_leaves() {
    use roost_core::reconcile::Scope;
    let stack = demo_stack();
    let d = desired(std::slice::from_ref(&stack));
    let mut r = Reconciler::new();
    let elsewhere = Scope { slots: Some(Default::default()), ..Default::default() };
    // The volume is still made (it costs no address pool); the network is not.
    expect!["ensure volume demo/data\n"].assert_eq(&render(&r.plan_scoped(&d, &elsewhere, &Observed::default(), 0)));

    let one: std::collections::BTreeSet<_> = [SlotKey::new("demo", "api", 2)].into();
    let here = Scope { slots: Some(one), ..Default::default() };
    expect![[r#"
        ensure network demo/default
        ensure volume demo/data
        create demo/api#2
    "#]]
    .assert_eq(&render(&r.plan_scoped(&d, &here, &Observed::default(), 1)));

    // The last replica here moves away: its container goes first, the network after.
    let mut observed = Observed::default();
    resources(&stack, &mut observed);
    observed.containers.push(running(&stack, "api", 2));
    expect!["remove demo/api#2 (api2): NotDesired\n"].assert_eq(&render(&r.plan_scoped(&d, &elsewhere, &observed, 2)));
    observed.containers.clear();
    expect!["remove network demo_default\n"].assert_eq(&render(&r.plan_scoped(&d, &elsewhere, &observed, 3)));
}

#[test]
fn a_network_that_cannot_be_created_shows_its_cause_on_its_slots_until_it_exists() {
    let stack = demo_stack();
    let d = desired(std::slice::from_ref(&stack));
    let mut r = Reconciler::new();
    r.plan(&d, &Observed::default(), 0);
    let cause = "network `demo_default` cannot be created: Docker's address pools are used up";
    assert!(r.record_network_error("demo", "default", cause.into()), "a new error is logged");
    assert!(!r.record_network_error("demo", "default", cause.into()), "the same error again is not");

    let mut volume_only = Observed::default();
    resources(&stack, &mut volume_only);
    volume_only.networks.clear();
    expect!["ensure network demo/default\n"].assert_eq(&render(&r.plan(&d, &volume_only, 1)));
    let rows = replica_status("n1", &d, &volume_only, &r, None);
    let api = rows.iter().find(|r| r.service == "api").unwrap();
    assert!(api.failed);
    assert_eq!(
        api.note.as_deref(),
        Some("network demo_default could not be created: network `demo_default` cannot be created: Docker's address pools are used up")
    );
    assert_eq!(r.slot(&SlotKey::new("demo", "api", 1)).unwrap().failures, 0, "not the container's failure");

    let mut with_network = volume_only.clone();
    resources(&stack, &mut with_network);
    expect![[r#"
        create demo/api#1
        create demo/api#2
        create demo/web#1
    "#]]
    .assert_eq(&render(&r.plan(&d, &with_network, 2)));
}

#[test]
fn a_name_held_by_a_container_roost_may_not_touch_blocks_the_slot_without_failures_until_it_is_freed() {
    use roost_core::reconcile::BLOCKED_RETRY;
    let mut stack = demo_stack();
    stack.services.get_mut("api").unwrap().restart.max_attempts = Some(1);
    let d = desired(&[stack.clone()]);
    let mut observed = converged(&stack);
    observed.containers.retain(|c| !(c.service == "api" && c.slot == 1));
    let mut r = Reconciler::new();
    let key = SlotKey::new("demo", "api", 1);
    let taken = "the name \"demo-api-1\" is taken by a container that another roost agent (owner 1a2b) made";
    expect!["create demo/api#1\n"].assert_eq(&render(&r.plan(&d, &observed, 0)));
    let mut now = 0;
    let mut logged = 0;
    for _ in 0..5 {
        logged += usize::from(r.record_blocked(&key, now, taken.into()));
        expect!["(nothing)\n"].assert_eq(&render(&r.plan(&d, &observed, now + BLOCKED_RETRY - 1)));
        now += BLOCKED_RETRY;
        expect!["create demo/api#1\n"].assert_eq(&render(&r.plan(&d, &observed, now)));
    }
    assert_eq!(logged, 1, "logged once, not at every retry");
    let mem = r.slot(&key).unwrap();
    assert!(!mem.gave_up && mem.failures == 0, "max_attempts never gives up on it: {mem:?}");
    let rows = replica_status("n1", &d, &observed, &r, None);
    let row = rows.iter().find(|r| r.service == "api" && r.slot == 1).unwrap();
    assert!(row.failed);
    assert_eq!(row.note.as_deref(), Some(taken));

    // The user removed the holder: the create succeeds and the error is gone.
    let freed = converged(&stack);
    expect!["(nothing)\n"].assert_eq(&render(&r.plan(&d, &freed, now + 1)));
    let rows = replica_status("n1", &d, &freed, &r, None);
    assert!(rows.iter().all(|r| r.ready && r.note.is_none()), "{rows:?}");
}

#[test]
fn networks_and_volumes_another_agent_made_are_reused_not_created_at_every_pass_nor_removed() {
    let stack = demo_stack();
    let mut observed = converged(&stack);
    observed.networks.clear();
    observed.volumes.clear();
    observed.unowned_networks = vec!["bridge".into(), "demo_default".into()];
    observed.unowned_volumes = vec!["demo_data".into()];
    let mut r = Reconciler::new();
    expect!["(nothing)\n"].assert_eq(&render(&r.plan(&desired(&[stack]), &observed, 0)));
    expect!["(nothing)\n"].assert_eq(&render(&r.plan(&desired(&[]), &Observed { containers: vec![], ..observed }, 1)));
}

#[test]
fn an_error_is_new_only_when_its_message_changes() {
    let stack = demo_stack();
    let mut r = Reconciler::new();
    r.plan(&desired(&[stack]), &Observed::default(), 0);
    let key = SlotKey::new("demo", "web", 1);
    assert!(r.record_error(&key, 0, "port 8080 is already in use".into(), None));
    assert!(!r.record_error(&key, 500, "port 8080 is already in use".into(), None));
    assert!(r.record_error(&key, 1500, "port 8081 is already in use".into(), None));
}
