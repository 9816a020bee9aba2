//! `x-roost together` and `network_mode: service:X`: names checked at load, errors at
//! the name's line.
mod common;

use common::Project;
use expect_test::{expect, Expect};

fn check_err(yaml: &str, want: Expect) {
    let p = Project::new(&[("compose.yaml", yaml)]);
    let err = p.load(&["compose.yaml"], &[], &[]).unwrap_err();
    want.assert_eq(&p.strip(err.to_string()));
}

#[test]
fn together_and_service_network_mode_load_as_given() {
    let p = Project::new(&[(
        "compose.yaml",
        r#"services:
  app:
    image: app
    x-roost:
      together: [cache]
  cache:
    image: redis
  vpn:
    image: vpn
  client:
    image: client
    network_mode: service:vpn
"#,
    )]);
    let l = p.load(&["compose.yaml"], &[], &[]).unwrap();
    assert!(l.warnings.is_empty(), "{:?}", l.warnings);
    assert_eq!(l.stack.services["app"].x_roost.as_ref().unwrap()["together"], serde_json::json!(["cache"]));
    assert_eq!(l.stack.services["client"].network_mode.as_deref(), Some("service:vpn"));
}

#[test]
fn together_names_must_be_services_of_the_project() {
    check_err(
        r#"services:
  app:
    image: app
    x-roost:
      together:
        - cache
        - nosuch
        - app
  cache:
    image: redis
    x-roost:
      together: cache
"#,
        expect![[r#"
            compose.yaml:7:11: error: services.app.x-roost.together[1]: x-roost together names undefined service `nosuch`
              |
            7 |         - nosuch
              |           ^
            compose.yaml:8:11: error: services.app.x-roost.together[2]: x-roost together names `app` itself
              |
            8 |         - app
              |           ^
            compose.yaml:12:17: error: services.cache.x-roost.together: expected a list of service names (`together: [db, cache]`), found a string
               |
            12 |       together: cache
               |                 ^"#]],
    );
}

#[test]
fn network_mode_service_must_exist_and_form_no_cycle() {
    check_err(
        r#"services:
  a:
    image: a
    network_mode: service:b
  b:
    image: b
    network_mode: "service:a"
  c:
    image: c
    network_mode: service:nosuch
"#,
        expect![[r#"
            compose.yaml:10:19: error: services.c.network_mode: network_mode: service:nosuch names undefined service `nosuch`
               |
            10 |     network_mode: service:nosuch
               |                   ^
            compose.yaml:4:19: error: services.a.network_mode: network_mode: service: references form a cycle: a -> b -> a
              |
            4 |     network_mode: service:b
              |                   ^
            compose.yaml:7:19: error: services.b.network_mode: network_mode: service: references form a cycle: b -> a -> b
              |
            7 |     network_mode: "service:a"
              |                   ^"#]],
    );
}
