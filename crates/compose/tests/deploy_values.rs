//! `deploy.update_config` / `deploy.restart_policy` values: a value Docker Compose rejects
//! is an error at its line (nothing is loaded), never a silent fallback to a default.
mod common;

use common::Project;
use expect_test::{expect, Expect};
use roost_spec::RestartCondition;

fn check_err(yaml: &str, want: Expect) {
    let p = Project::new(&[("compose.yaml", yaml)]);
    let err = p.load(&["compose.yaml"], &[], &[]).unwrap_err();
    want.assert_eq(&p.strip(err.to_string()));
}

#[test]
fn update_config_failure_action_typo_is_an_error() {
    check_err(
        "services:\n  web:\n    image: nginx\n    deploy:\n      update_config:\n        parallelism: 1\n        delay: 5s\n        order: stop-first\n        failure_action: rolback\n",
        expect![[r#"
            compose.yaml:9:25: error: services.web.deploy.update_config.failure_action: unknown value `rolback` (expected continue, rollback or pause)
              |
            9 |         failure_action: rolback
              |                         ^"#]],
    );
}

#[test]
fn update_config_failure_action_from_a_variable_is_checked() {
    let p = Project::new(&[("compose.yaml", "services:\n  web:\n    image: nginx\n    deploy:\n      update_config: {failure_action: \"${ACTION}\"}\n")]);
    let err = p.load(&["compose.yaml"], &[("ACTION", "Rollback")], &[]).unwrap_err();
    expect![[r#"
        compose.yaml:5:39: error: services.web.deploy.update_config.failure_action: unknown value `Rollback` (expected continue, rollback or pause)
          |
        5 |       update_config: {failure_action: "${ACTION}"}
          |                                       ^"#]]
    .assert_eq(&p.strip(err.to_string()));
    let ok = p.load(&["compose.yaml"], &[("ACTION", "rollback")], &[]).unwrap();
    assert_eq!(ok.stack.services["web"].update_config.as_ref().unwrap().failure_action, "rollback");
}

#[test]
fn update_config_bad_order_is_an_error() {
    check_err(
        "services:\n  web:\n    image: nginx\n    deploy:\n      update_config:\n        order: start_first\n",
        expect![[r#"
            compose.yaml:6:16: error: services.web.deploy.update_config.order: unknown value `start_first` (expected start-first or stop-first)
              |
            6 |         order: start_first
              |                ^"#]],
    );
}

#[test]
fn rollback_config_bad_order_is_an_error() {
    check_err(
        "services:\n  web:\n    image: nginx\n    deploy:\n      rollback_config:\n        order: first\n",
        expect![[r#"
            compose.yaml:6:16: error: services.web.deploy.rollback_config.order: unknown value `first` (expected start-first or stop-first)
              |
            6 |         order: first
              |                ^"#]],
    );
}

#[test]
fn restart_policy_bad_condition_is_an_error() {
    check_err(
        "services:\n  web:\n    image: nginx\n    deploy:\n      restart_policy:\n        condition: on_failure\n",
        expect![[r#"
            compose.yaml:6:20: error: services.web.deploy.restart_policy.condition: unknown value `on_failure` (expected none, on-failure or any)
              |
            6 |         condition: on_failure
              |                    ^"#]],
    );
}

#[test]
fn every_bad_value_is_reported_at_once() {
    check_err(
        "services:\n  web:\n    image: nginx\n    deploy:\n      restart_policy: {condition: sometimes}\n      update_config: {failure_action: stop}\n",
        expect![[r#"
            compose.yaml:5:35: error: services.web.deploy.restart_policy.condition: unknown value `sometimes` (expected none, on-failure or any)
              |
            5 |       restart_policy: {condition: sometimes}
              |                                   ^
            compose.yaml:6:39: error: services.web.deploy.update_config.failure_action: unknown value `stop` (expected continue, rollback or pause)
              |
            6 |       update_config: {failure_action: stop}
              |                                       ^"#]],
    );
}

#[test]
fn valid_deploy_values_still_load() {
    for (action, order) in [("continue", "stop-first"), ("rollback", "start-first"), ("pause", "stop-first")] {
        let yaml = format!(
            "services:\n  web:\n    image: nginx\n    deploy:\n      update_config:\n        failure_action: {action}\n        order: {order}\n      rollback_config:\n        failure_action: pause\n        order: {order}\n"
        );
        let p = Project::new(&[("compose.yaml", &yaml)]);
        let l = p.load(&["compose.yaml"], &[], &[]).unwrap_or_else(|e| panic!("{action}/{order}: {e}"));
        let u = l.stack.services["web"].update_config.clone().unwrap();
        assert_eq!((u.failure_action.as_str(), u.order.as_str()), (action, order));
        assert!(l.warnings.iter().all(|w| !w.to_string().contains("failure_action")), "{:?}", l.warnings);
    }
    // Unset, the defaults are Swarm's: pause, stop-first.
    let p = Project::new(&[("compose.yaml", "services:\n  web:\n    image: nginx\n    deploy:\n      update_config: {parallelism: 2}\n")]);
    let u = p.load(&["compose.yaml"], &[], &[]).unwrap().stack.services["web"].update_config.clone().unwrap();
    assert_eq!((u.failure_action.as_str(), u.order.as_str()), ("pause", "stop-first"));
}

#[test]
fn valid_restart_conditions_still_load() {
    // The spec's none / on-failure / any, and the engine names Docker Compose also takes.
    for (cond, want) in [
        ("none", RestartCondition::None),
        ("on-failure", RestartCondition::OnFailure),
        ("any", RestartCondition::Any),
        ("no", RestartCondition::None),
        ("always", RestartCondition::Any),
        ("unless-stopped", RestartCondition::Any),
    ] {
        let yaml = format!("services:\n  web:\n    image: nginx\n    deploy:\n      restart_policy:\n        condition: {cond}\n        max_attempts: 3\n");
        let p = Project::new(&[("compose.yaml", &yaml)]);
        let l = p.load(&["compose.yaml"], &[], &[]).unwrap_or_else(|e| panic!("{cond}: {e}"));
        let r = &l.stack.services["web"].restart;
        assert_eq!((r.condition, r.max_attempts), (want, Some(3)), "{cond}");
    }
}
