//! End-to-end loading: rendered errors, warnings, merge, profiles, env_file, gpus.
mod common;

use common::Project;
use expect_test::{expect, Expect};
use roost_spec::{DeviceMapping, DeviceRequest, RestartCondition};
use std::collections::BTreeMap;

fn check_err(yaml: &str, env: &[(&str, &str)], want: Expect) {
    let p = Project::new(&[("compose.yaml", yaml)]);
    let err = p.load(&["compose.yaml"], env, &[]).unwrap_err();
    want.assert_eq(&p.strip(err.to_string()));
}

#[test]
fn bad_yaml() {
    check_err("services:\n  web:\n    image: [nginx\n", &[], expect![[r#"
        compose.yaml:3:12: error: unclosed bracket '['
          |
        3 |     image: [nginx
          |            ^"#]]);
}

#[test]
fn unknown_key() {
    check_err("services:\n  web:\n    imagee: nginx\n", &[], expect![[r#"
        compose.yaml:3:5: error: services.web: unknown key `imagee`
          |
        3 |     imagee: nginx
          |     ^"#]]);
}

#[test]
fn wrong_type() {
    check_err("services:\n  web:\n    image: nginx\n    environment: 12\n", &[], expect![[r#"
        compose.yaml:4:18: error: services.web.environment: expected a list or mapping, found a number
          |
        4 |     environment: 12
          |                  ^"#]]);
}

#[test]
fn missing_required_variable() {
    check_err("services:\n  web:\n    image: \"nginx:${TAG:?set TAG}\"\n", &[], expect![[r#"
        compose.yaml:3:12: error: services.web.image: required variable TAG is missing a value: set TAG
          |
        3 |     image: "nginx:${TAG:?set TAG}"
          |            ^"#]]);
}

#[test]
fn undefined_volume() {
    check_err("services:\n  web:\n    image: nginx\n    volumes: ['data:/data']\n", &[], expect![[r#"
        compose.yaml:4:15: error: services.web.volumes[0]: refers to undefined volume `data`: declare it under the top-level `volumes:`
          |
        4 |     volumes: ['data:/data']
          |               ^"#]]);
}

#[test]
fn warnings_with_lines() {
    let p = Project::new(&[(
        "compose.yaml",
        "services:\n  web:\n    image: nginx\n    build: .\n    container_name: web1\n    deploy:\n      placement:\n        constraints: [node.role==manager]\n  api:\n    build: ./api\n    environment: [X=$UNSET]\n",
    )]);
    let l = p.load(&["compose.yaml"], &[], &[]).unwrap();
    let text: Vec<String> = l.warnings.iter().map(|w| p.strip(w.to_string())).collect();
    expect![[r#"
        compose.yaml:11:19: warning: services.api.environment[0]: variable UNSET is not set, defaulting to a blank string
           |
        11 |     environment: [X=$UNSET]
           |                   ^
        compose.yaml:5:5: warning: services.web.container_name: `container_name` resolves as a name of the service on its networks, on every node; the container itself is named by roost (replicas cannot share a name)
          |
        5 |     container_name: web1
          |     ^
        compose.yaml:4:12: warning: services.web.build: roost does not build images; image `nginx` is used as is
          |
        4 |     build: .
          |            ^
        compose.yaml:10:12: warning: services.api.build: roost does not build images; using `demo-api`, the name Compose gives the built image: build it first with `docker compose build` or `docker build -t demo-api ./api`
           |
        10 |     build: ./api
           |            ^"#]].assert_eq(&text.join("\n"));
    assert_eq!(l.stack.services["api"].image, "demo-api");
    assert_eq!(l.stack.services["web"].placement.constraints, vec!["node.role==manager".to_string()]);
}

#[test]
fn merge_two_files() {
    let p = Project::new(&[
        ("a.yaml", "services:\n  web:\n    image: a\n    command: run a\n    ports: ['80:80']\n    environment: {A: '1', B: '2'}\n    restart: on-failure:3\n"),
        ("b.yaml", "services:\n  web:\n    image: b\n    command: [run, b]\n    ports: ['443:443']\n    environment: [B=3]\n"),
    ]);
    let s = p.load(&["a.yaml", "b.yaml"], &[], &[]).unwrap().stack;
    let w = &s.services["web"];
    assert_eq!(w.image, "b");
    assert_eq!(w.command, Some(vec!["run".to_string(), "b".to_string()]));
    assert_eq!(w.ports.len(), 2);
    assert_eq!(w.environment["A"], "1");
    assert_eq!(w.environment["B"], "3");
    assert_eq!(w.restart.condition, RestartCondition::OnFailure);
    assert_eq!(w.restart.max_attempts, Some(3));
    assert!(s.networks.contains_key("default"));
}

#[test]
fn gpus_and_devices() {
    let p = Project::new(&[(
        "compose.yaml",
        "services:\n  a:\n    image: x\n    gpus: all\n    devices: ['/dev/x', '/dev/x:/dev/y:rw']\n  b:\n    image: x\n    deploy:\n      resources:\n        reservations:\n          devices:\n            - driver: nvidia\n              count: all\n              capabilities: [gpu, utility]\n",
    )]);
    let s = p.load(&["compose.yaml"], &[], &[]).unwrap().stack;
    assert_eq!(s.services["a"].device_requests, vec![DeviceRequest { driver: None, count: Some(-1), device_ids: vec![], capabilities: vec![vec!["gpu".into()]], options: Default::default() }]);
    assert_eq!(s.services["a"].devices[1], DeviceMapping { host: "/dev/x".into(), container: "/dev/y".into(), permissions: "rw".into() });
    assert_eq!(s.services["b"].device_requests, vec![DeviceRequest { driver: Some("nvidia".into()), count: Some(-1), device_ids: vec![], capabilities: vec![vec!["gpu".into(), "utility".into()]], options: Default::default() }]);
}

#[test]
fn profiles() {
    let yaml = "services:\n  web:\n    image: x\n  debug:\n    image: y\n    profiles: [dev]\n";
    let p = Project::new(&[("compose.yaml", yaml)]);
    assert_eq!(p.load(&["compose.yaml"], &[], &[]).unwrap().stack.services.len(), 1);
    assert_eq!(p.load(&["compose.yaml"], &[], &["dev"]).unwrap().stack.services.len(), 2);
    assert_eq!(p.load(&["compose.yaml"], &[("COMPOSE_PROFILES", "dev")], &[]).unwrap().stack.services.len(), 2);
    let p = Project::new(&[("compose.yaml", "services:\n  web:\n    image: x\n    depends_on: [debug]\n  debug:\n    image: y\n    profiles: [dev]\n")]);
    let e = p.load(&["compose.yaml"], &[], &[]).unwrap_err();
    assert!(e.to_string().contains("not enabled by the active profiles"), "{e}");
}

#[test]
fn env_file_and_dotenv() {
    let p = Project::new(&[
        ("compose.yaml", "services:\n  web:\n    image: \"nginx:${TAG}\"\n    env_file: [a.env, {path: missing.env, required: false}]\n    environment:\n      B: over\n      FROM_HOST:\n      NOT_SET:\n"),
        (".env", "TAG=1.25\n"),
        ("a.env", "A=1\nB=2\n"),
    ]);
    let s = p.load(&["compose.yaml"], &[("FROM_HOST", "h")], &[]).unwrap().stack;
    let w = &s.services["web"];
    assert_eq!(w.image, "nginx:1.25");
    let want: BTreeMap<String, String> = [("A", "1"), ("B", "over"), ("FROM_HOST", "h")].iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    assert_eq!(w.environment, want);
}

#[test]
fn service_keys_are_mapped_or_warned() {
    let mapped = roost_compose::normalize::HANDLED_KEYS;
    let warned = roost_compose::normalize::WARNED_KEYS;
    for k in roost_compose::schema::service_properties() {
        assert!(mapped.contains(&k.as_str()) || warned.contains(&k.as_str()), "service key `{k}` is neither mapped nor warned");
    }
}

#[test]
fn render_yaml_roundtrip() {
    let p = Project::new(&[("compose.yaml", "services:\n  web:\n    image: nginx\n    ports: ['8080:80']\n    healthcheck:\n      test: curl -f localhost\n      interval: 1m30s\n")]);
    let s = p.load(&["compose.yaml"], &[], &[]).unwrap().stack;
    let y = roost_compose::render_yaml(&s);
    assert!(y.contains("CMD-SHELL"), "{y}");
    assert!(y.contains("1m 30s") || y.contains("1m30s"), "{y}");
}

#[test]
fn update_config_settings_roost_cannot_honour_are_warned() {
    let p = Project::new(&[(
        "compose.yaml",
        "services:\n  web:\n    image: nginx\n    deploy:\n      update_config:\n        parallelism: 2\n        order: start-first\n        monitor: 10s\n",
    )]);
    let l = p.load(&["compose.yaml"], &[], &[]).unwrap();
    let text: Vec<String> = l.warnings.iter().map(|w| p.strip(w.to_string())).collect();
    assert!(text.iter().any(|w| w.contains(":7:16: warning: services.web.deploy.update_config.order: start-first applies to stateless services only")), "{text:?}");
    assert!(text.iter().any(|w| w.contains("update_config.monitor")), "{text:?}");
    assert_eq!(l.stack.services["web"].update_config.as_ref().unwrap().parallelism, 2);
}
