//! The cluster network: a real three-service app (Python web app, PostgreSQL, Redis on
//! the Debian image `roost-test/app`, built by scripts/build-app-image.sh) with its
//! services forced onto different hosts, reaching each other by Compose name.

use crate::{tb, wait_until, Testbed};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// examples/webapp with constraints that put web on h1, cache on h2 and db anywhere
/// but h1 (h3 by spread; h2 after h3 is lost).
fn stack() -> String {
    let example = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/webapp/compose.yaml"
    ))
    .unwrap();
    let pin = |svc_line: &str, constraint: &str| {
        format!(
            "{svc_line}\n    deploy:\n      placement:\n        constraints: [\"{constraint}\"]"
        )
    };
    let s = example
        .replace(
            "    command: [\"python3\", \"/app/web.py\"]",
            &pin(
                "    command: [\"python3\", \"/app/web.py\"]",
                "node.hostname == h1",
            ),
        )
        .replace(
            "    command: [\"/app/pg.sh\"]",
            &pin("    command: [\"/app/pg.sh\"]", "node.hostname != h1"),
        )
        .replace(
            "    command: [\"/app/redis.sh\"]",
            &pin("    command: [\"/app/redis.sh\"]", "node.hostname == h2"),
        );
    assert_eq!(
        s.matches("constraints").count(),
        3,
        "the example changed shape:\n{s}"
    );
    s
}

/// A command inside a testbed host's namespace.
fn exec(host: &str, args: &[&str]) -> (bool, String) {
    let mut all = vec!["exec", host];
    all.extend_from_slice(args);
    let out = tb(&all);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

fn curl(host: &str, args: &[&str]) -> Option<serde_json::Value> {
    let mut all = vec!["curl", "-s", "-m", "3"];
    all.extend_from_slice(args);
    let (ok, out) = exec(host, &all);
    ok.then(|| serde_json::from_str(&out).ok()).flatten()
}

fn node_of(t: &Testbed, service: &str) -> Option<String> {
    t.json("h1", &["ps", "--json"])?
        .into_iter()
        .find(|r| r["service"] == service && r["ready"] == true)
        .map(|r| r["node"].as_str().unwrap().to_owned())
}

fn docker(host: &str, args: &[&str]) -> String {
    let mut all = vec!["docker", host];
    all.extend_from_slice(args);
    let out = tb(&all);
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// tcpdump on the testbed bridge (the wire between hosts), writing to `file`.
fn capture(file: &str) -> Child {
    let child = Command::new("tcpdump")
        .args(["-i", "roostbr0", "-s", "0", "-U", "-w", file, "tcp"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("tcpdump (scripts/install-test-peers.sh installs it)");
    std::thread::sleep(Duration::from_millis(700));
    child
}

#[test]
fn a_web_app_reaches_postgres_and_redis_on_other_hosts_by_name_encrypted_and_after_failover() {
    let t = Testbed::cluster(3, &[]);
    std::fs::write("/tmp/roost-cluster-test-webapp.yaml", stack()).unwrap();
    t.ok(
        "h1",
        &[
            "up",
            "-f",
            "/tmp/roost-cluster-test-webapp.yaml",
            "--wait",
            "--wait-timeout",
            "120",
        ],
    );
    assert_eq!(node_of(&t, "web").as_deref(), Some("h1"));
    assert_eq!(node_of(&t, "cache").as_deref(), Some("h2"));
    let db_node = node_of(&t, "db").unwrap();
    assert_ne!(db_node, "h1", "db must be on another host than web");

    // Reads and writes go through: every page view is a row in PostgreSQL and a hit
    // in Redis, each on another host.
    let web = "http://10.77.0.11:8000";
    let first = curl("h1", &[web]).expect("the app answers");
    let second = curl("h1", &[web]).expect("the app answers");
    assert_eq!(
        second["visits"].as_i64(),
        Some(first["visits"].as_i64().unwrap() + 1),
        "{first} then {second}"
    );
    assert_eq!(
        second["cache_hits"].as_i64(),
        Some(first["cache_hits"].as_i64().unwrap() + 1)
    );
    let db_addr = second["db_host_ip"].as_str().unwrap().to_owned();
    assert!(
        db_addr.starts_with("10.213."),
        "db resolves to its service address, not {db_addr}"
    );

    // SERVICE.STACK resolves too, in the app's own container.
    let web_id = docker(
        "h1",
        &["ps", "-q", "--filter", "label=io.roost.service=web"],
    );
    let qualified = docker(
        "h1",
        &[
            "exec",
            &web_id,
            "python3",
            "-c",
            "import socket; print(socket.gethostbyname('db.webapp'))",
        ],
    );
    assert_eq!(qualified, db_addr);

    // Encrypted between nodes: a note written through the app crosses the wire to
    // PostgreSQL, yet the capture of the bridge never shows it, while a marker sent
    // in plain HTTP between hosts does (the capture works).
    let pcap = "/tmp/roost-cluster-test-webapp.pcap";
    let mut dump = capture(pcap);
    let secret = "SECRET-NOTE-4c1d9e";
    assert!(curl("h1", &["-d", secret, &format!("{web}/notes")]).is_some());
    let notes = curl("h1", &[&format!("{web}/notes")]).unwrap();
    assert!(
        notes.to_string().contains(secret),
        "the note was stored: {notes}"
    );
    let control = "PLAIN-CONTROL-77aa";
    let _ = exec(
        "h2",
        &["curl", "-s", "-m", "3", &format!("{web}/?{control}")],
    );
    std::thread::sleep(Duration::from_millis(500));
    let _ = Command::new("kill")
        .args(["-INT", &dump.id().to_string()])
        .status();
    let _ = dump.wait();
    let wire = std::fs::read(pcap).unwrap();
    let has = |needle: &str| wire.windows(needle.len()).any(|w| w == needle.as_bytes());
    assert!(has(control), "the capture saw plain traffic between hosts");
    assert!(!has(secret), "the note crossed the wire in plain text");

    // Another stack's container may neither resolve nor reach this stack's services.
    std::fs::write(
        "/tmp/roost-cluster-test-stranger.yaml",
        "services:\n  probe:\n    image: roost-test/app:latest\n    command: [sleep, infinity]\n    deploy:\n      placement:\n        constraints: [\"node.hostname == h1\"]\n",
    )
    .unwrap();
    t.ok(
        "h1",
        &[
            "up",
            "-f",
            "/tmp/roost-cluster-test-stranger.yaml",
            "-p",
            "stranger",
            "--wait",
        ],
    );
    let probe = docker(
        "h1",
        &["ps", "-q", "--filter", "label=io.roost.stack=stranger"],
    );
    let lookup = docker("h1", &["exec", &probe, "python3", "-c", "import socket\ntry: print(socket.gethostbyname('db'))\nexcept OSError: print('no-such-name')"]);
    assert_eq!(lookup, "no-such-name");
    let reach = docker(
        "h1",
        &["exec", &probe, "python3", "-c", &format!("import socket\ntry: socket.create_connection(('{db_addr}', 5432), 2); print('reached')\nexcept OSError: print('refused')")],
    );
    assert_eq!(reach, "refused", "another stack reached db at {db_addr}");

    // Kill the database's host: the app serves again from the new database without
    // being restarted, at the same cached address.
    let started = docker("h1", &["inspect", "-f", "{{.State.StartedAt}}", &web_id]);
    let crashed = tb(&["crash", &db_node]);
    assert!(
        crashed.status.success(),
        "crash {db_node}: {}",
        String::from_utf8_lossy(&crashed.stderr)
    );
    let moved = |t: &Testbed| {
        t.json("h1", &["ps", "--json"])
            .unwrap_or_default()
            .into_iter()
            .find_map(|r| {
                (r["service"] == "db" && r["ready"] == true && r["node"] != db_node.as_str())
                    .then(|| r["node"].as_str().unwrap().to_owned())
            })
    };
    wait_until(
        Duration::from_secs(60),
        "db to be ready on another host",
        || moved(&t).is_some(),
    );
    let moved = moved(&t).unwrap();
    assert_ne!(moved, "h1", "db's constraint keeps it off web's host");
    wait_until(
        Duration::from_secs(30),
        "the app to reach the new database",
        || curl("h1", &[web]).is_some_and(|v| v["visits"].is_i64()),
    );
    let after = curl("h1", &[web]).unwrap();
    assert_eq!(
        after["db_host_ip"].as_str(),
        Some(db_addr.as_str()),
        "the name still means the same address"
    );
    assert_eq!(
        docker("h1", &["inspect", "-f", "{{.State.StartedAt}}", &web_id]),
        started,
        "web was not restarted"
    );
    // A client that keeps the address (no new lookup) connects too.
    let cached = docker(
        "h1",
        &[
            "exec",
            &web_id,
            "python3",
            "-c",
            &format!(
                "import socket; socket.create_connection(('{db_addr}', 5432), 3); print('ok')"
            ),
        ],
    );
    assert_eq!(cached, "ok");
}
