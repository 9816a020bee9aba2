//! Bad input and broken surroundings: a precise message, a non-zero exit, state intact.

use crate::harness::*;
use std::time::Duration;

fn web(port: u16) -> String {
    format!(
        "services:\n  web:\n    image: {IMAGE}\n    command: [\"httpd\", \"-f\", \"-p\", \"8080\"]\n    init: true\n    ports: [\"{port}:8080\"]\n"
    )
}

#[test]
fn invalid_compose_files_fail_with_file_line_column_and_change_nothing() {
    let _serial = serial();
    let mut agent = Agent::start();
    ok(&agent.up("e2ebad", &web(28091)));
    let before = containers("e2ebad");

    let cases = [
        ("bad yaml", "services:\n  web:\n    image: [unclosed\n", ":3:"),
        ("unknown key", "services:\n  web:\n    imagee: x\n", ":3:5"),
        ("wrong type", "services:\n  web:\n    image: x\n    ports: 8080\n", ":4:"),
        ("missing variable", "services:\n  web:\n    image: ${NEEDED:?set NEEDED first}\n", ":3:"),
    ];
    for (what, yaml, location) in cases {
        let out = agent.up("e2ebad", yaml);
        assert!(!out.status.success(), "{what}: must fail");
        let err = stderr(&out);
        assert!(err.contains(&format!("e2ebad.yaml{location}")), "{what}: no file:line:col in\n{err}");
        assert!(err.contains("error"), "{what}: {err}");
    }
    assert!(stderr(&agent.up("e2ebad", "services:\n  web:\n    imagee: x\n")).contains("unknown key `imagee`"));
    assert!(stderr(&agent.up("e2ebad", "services:\n  web:\n    image: ${NEEDED:?set NEEDED first}\n")).contains("set NEEDED first"));

    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(containers("e2ebad"), before, "nothing deployed or changed");
    let gen = agent.roost(&["ps", "-p", "e2ebad", "--json"]);
    assert!(gen.status.success());
}

#[test]
fn a_port_already_taken_fails_up_wait_with_the_reason_and_shows_in_ps() {
    let _serial = serial();
    let mut agent = Agent::start();
    let _taken = std::net::TcpListener::bind("0.0.0.0:28092").unwrap();
    let out = agent.up("e2eport", &web(28092));
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("e2eport-web-1") && err.contains("28092"), "{err}");
    let row = agent.row("e2eport", "web", 1);
    assert_eq!(row["failed"], true);
    assert!(row["note"].as_str().unwrap().contains("28092"), "{row}");
    assert!(agent.is_running(), "the agent keeps running");
}

#[test]
fn a_missing_image_fails_up_wait_with_the_reason() {
    let _serial = serial();
    let mut agent = Agent::start();
    let out = agent.up("e2eimg", "services:\n  app:\n    image: roost-test/not-built:1\n    pull_policy: never\n");
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("roost-test/not-built:1"), "{err}");
    let row = agent.row("e2eimg", "app", 1);
    assert!(row["note"].as_str().unwrap().contains("roost-test/not-built:1"), "{row}");
    assert!(agent.is_running());
}

#[test]
fn an_unreachable_engine_is_reported_and_the_agent_keeps_running() {
    let _serial = serial();
    let mut agent = Agent::start_with(&["--docker-host", "unix:///nonexistent/docker.sock"]);
    let out = agent.up("e2enoengine", &web(28093));
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("container engine unreachable"), "{err}");
    let ps = agent.roost(&["ps"]);
    assert!(ps.status.success(), "ps still answers");
    assert!(stderr(&ps).contains("cannot reach its container engine"), "{}", stderr(&ps));
    assert!(agent.is_running());
    let down = agent.roost(&["down", "-p", "e2enoengine"]);
    assert!(!down.status.success());
    assert!(stderr(&down).contains("unreachable"), "{}", stderr(&down));
}

#[test]
fn the_agent_api_rejects_malformed_requests_clearly() {
    let _serial = serial();
    let agent = Agent::start();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let client = roost_api::client::Client::new(&format!("unix://{}", agent.socket())).unwrap();
    let err = rt
        .block_on(client.send(hyper::Method::PUT, "/v1/stacks/x", Some(b"{not json".to_vec())))
        .unwrap_err();
    assert!(err.to_string().starts_with("invalid deploy request"), "{err}");
    let body = serde_json::json!({"stack": {"name": "Bad Name", "services": {}}});
    let err = rt
        .block_on(client.send(hyper::Method::PUT, "/v1/stacks/Bad%20Name", Some(body.to_string().into_bytes())))
        .unwrap_err();
    assert!(err.to_string().contains("is invalid"), "{err}");
    let mode = std::fs::metadata(agent.socket()).map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o777);
    assert_eq!(mode.unwrap(), 0o600, "the socket is owner-only");
}

#[test]
fn a_second_agent_on_the_same_data_dir_is_refused() {
    let _serial = serial();
    let agent = Agent::start();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_roost"))
        .args(["agent", "--data-dir"])
        .arg(agent.dir.path().join("data"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("in use by another roost agent"), "{}", stderr(&out));
}

#[test]
fn bad_volume_and_move_commands_say_what_is_wrong_and_change_nothing() {
    let _serial = serial();
    let mut agent = Agent::start();
    let yaml = format!(
        "services:\n  db:\n    image: {IMAGE}\n    command: [\"sleep\", \"3600\"]\n    init: true\n    volumes: [\"data:/data\"]\nvolumes:\n  data:\n"
    );
    ok(&agent.up("e2evol", &yaml));
    let before = containers("e2evol");
    let node = agent.roost(&["nodes", "--json"]);
    let node: serde_json::Value = serde_json::from_slice(&node.stdout).unwrap_or_default();
    let node = node.as_array().and_then(|n| n.first()).and_then(|n| n["name"].as_str()).unwrap_or("?").to_owned();

    let cases: [(&[&str], &str); 9] = [
        (&["volume", "snapshots", "data"], "name the volume as STACK/VOLUME"),
        (&["volume", "snapshots", "e2evol/nope"], "no replicated volume e2evol/nope"),
        (&["volume", "restore", "e2evol/nope", "1a2b3c4d"], "no replicated volume e2evol/nope"),
        (&["volume", "snapshots", "e2evol/data"], "holds no snapshots of"),
        (&["volume", "restore", "e2evol/data", "1a2b3c4d"], "1a2b3c4d"),
        (&["move", "db", &node], "name the service as STACK/SERVICE"),
        (&["move", "e2evol/nosuch", &node], "no service e2evol/nosuch"),
        (&["move", "e2evol/db", "no-such-node"], "no node named `no-such-node`"),
        (&["volume", "frobnicate"], "frobnicate"),
    ];
    for (args, says) in cases {
        let out = agent.roost(args);
        assert!(!out.status.success(), "{args:?} must fail");
        let err = stderr(&out);
        assert!(err.contains(says), "{args:?}: expected `{says}` in\n{err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
    // One node: the volume is listed, with no standby to hold a copy.
    let listed = agent.roost(&["volume", "ls", "--json"]);
    let rows: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(rows[0]["state"], "single_copy", "{rows}");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(containers("e2evol"), before, "nothing restarted or changed");
    assert!(agent.is_running(), "the agent keeps running");
}
