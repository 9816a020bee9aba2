//! `x-roost:` on a top-level volume: replication settings, every key checked at load.
mod common;

use common::Project;
use expect_test::{expect, Expect};
use roost_spec::{Consistency, Replication};
use std::time::Duration;

fn load(yaml: &str) -> roost_spec::Stack {
    let p = Project::new(&[("compose.yaml", yaml)]);
    let l = p.load(&["compose.yaml"], &[], &[]).unwrap();
    assert!(l.warnings.is_empty(), "{:?}", l.warnings);
    l.stack
}

fn check_err(yaml: &str, want: Expect) {
    let p = Project::new(&[("compose.yaml", yaml)]);
    let err = p.load(&["compose.yaml"], &[], &[]).unwrap_err();
    want.assert_eq(&p.strip(err.to_string()));
}

#[test]
fn a_volume_without_x_roost_replicates_with_the_defaults() {
    let st = load("services:\n  db:\n    image: postgres\n    volumes: [data:/var/lib/postgresql/data]\nvolumes:\n  data: {}\n");
    assert_eq!(st.volumes["data"].replication, Replication::default());
    assert_eq!(Replication::default().interval, Duration::from_secs(10));
    assert_eq!(Replication::default().consistency, Consistency::Pause);
}

#[test]
fn every_setting_loads_as_given() {
    let st = load(
        r#"services:
  db:
    image: postgres
    volumes: [data:/data, media:/media, local:/local]
volumes:
  data:
    x-roost:
      interval: 30s
      copies: 2
      hook: pg_dump -U postgres -f /data/dump.sql
  media:
    x-roost: {consistency: none, copies: 3}
  local:
    x-roost: {replicate: false}
"#,
    );
    let data = &st.volumes["data"].replication;
    assert_eq!((data.interval, data.copies), (Duration::from_secs(30), 2));
    assert_eq!(data.consistency, Consistency::Hook("pg_dump -U postgres -f /data/dump.sql".into()));
    assert_eq!(st.volumes["media"].replication.consistency, Consistency::None);
    assert!(!st.volumes["local"].replication.replicate);
}

#[test]
fn bad_settings_are_errors_at_their_line() {
    check_err(
        r#"services:
  db:
    image: postgres
    volumes: [a:/a, b:/b, c:/c]
volumes:
  a:
    x-roost:
      interval: 500ms
      copies: 4
      consistancy: pause
  b:
    x-roost:
      consistency: hook
  c:
    x-roost: {consistency: none, hook: "sync"}
"#,
        expect![[r#"
            compose.yaml:8:17: error: volumes.a.x-roost.interval: the snapshot interval must be between 1s and 24h, not 0.5s
              |
            8 |       interval: 500ms
              |                 ^
            compose.yaml:9:15: error: volumes.a.x-roost.copies: copies counts the nodes holding the volume, the primary included: 1 to 3, not 4
              |
            9 |       copies: 4
              |               ^
            compose.yaml:10:7: error: volumes.a.x-roost.consistancy: unknown x-roost key `consistancy` on a volume (known: replicate, interval, copies, consistency, hook)
               |
            10 |       consistancy: pause
               |       ^
            compose.yaml:13:20: error: volumes.b.x-roost.consistency: consistency `hook` needs `hook:`, the command to run in the service's container
               |
            13 |       consistency: hook
               |                    ^
            compose.yaml:15:28: error: volumes.c.x-roost.consistency: `hook` is given, so consistency must be `hook`, not `none`
               |
            15 |     x-roost: {consistency: none, hook: "sync"}
               |                            ^"#]],
    );
}
