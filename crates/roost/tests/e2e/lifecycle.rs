//! A stack's life: up, self-healing, adoption after an agent crash, updates, down.

use crate::harness::*;
use std::time::Duration;

/// web (healthcheck, named volume) ← worker (service_healthy) and api ×2.
fn demo(port: u16) -> String {
    format!(
        r#"
services:
  web:
    image: {IMAGE}
    command: ["sh", "-c", "echo hello > /data/index.html && httpd -f -p 8080 -h /data"]
    ports: ["{port}:8080"]
    volumes: ["site:/data"]
    init: true
    healthcheck:
      test: ["CMD", "wget", "-q", "-O-", "http://localhost:8080/"]
      interval: 1s
      timeout: 1s
      retries: 3
  worker:
    image: {IMAGE}
    command: ["sh", "-c", "while true; do wget -q -O- http://web:8080/; sleep 1; done"]
    init: true
    depends_on:
      web: {{condition: service_healthy}}
  api:
    image: {IMAGE}
    command: ["sleep", "100000"]
    init: true
    environment:
      MODE: ${{API_MODE:-slow}}
    deploy: {{replicas: 2}}
volumes:
  site: {{}}
"#
    )
}

#[test]
fn a_stack_comes_up_healthy_resolves_service_names_and_shows_in_ps() {
    let _serial = serial();
    let mut agent = Agent::start();
    let out = agent.up("e2eup", &demo(28081));
    let progress = ok(&out);
    assert!(progress.contains("stack e2eup is ready"), "{progress}");

    let rows = agent.ps("e2eup");
    let names: Vec<_> = rows.iter().map(|r| format!("{}#{}", r["service"].as_str().unwrap(), r["slot"])).collect();
    assert_eq!(names, ["api#1", "api#2", "web#1", "worker#1"]);
    for r in &rows {
        assert_eq!(r["state"], "running", "{r}");
        assert_eq!(r["ready"], true, "{r}");
        assert!(r["container_id"].as_str().is_some_and(|id| id.len() == 12), "{r}");
    }
    assert_eq!(agent.row("e2eup", "web", 1)["health"], "healthy");
    assert!(agent.row("e2eup", "web", 1)["ports"][0].as_str().unwrap().contains("28081->8080/tcp"));

    // Service names resolve between containers: a replica of api reaches web by name,
    // and the worker's log shows what it fetched from web.
    let fetched = docker_out(&["exec", "e2eup-api-2", "wget", "-q", "-O-", "http://web:8080/"]);
    assert_eq!(fetched, "hello");
    wait_until(Duration::from_secs(10), "worker fetching from web", || {
        let logs = agent.roost(&["logs", "-p", "e2eup", "worker", "--tail", "5"]);
        String::from_utf8_lossy(&logs.stdout).contains("worker-1 | hello")
    });
    assert!(docker_out(&["volume", "ls", "-q"]).lines().any(|v| v == "e2eup_site"));
}

#[test]
fn killed_or_removed_containers_are_replaced_quickly() {
    let _serial = serial();
    let mut agent = Agent::start();
    ok(&agent.up("e2eheal", &demo(28082)));

    let before = started_at("e2eheal-web-1");
    docker(&["kill", "e2eheal-web-1"]);
    wait_until(Duration::from_secs(15), "the killed web to be restarted and healthy", || {
        let row = agent.row("e2eheal", "web", 1);
        started_at("e2eheal-web-1") != before && row["ready"] == true
    });

    let old = agent.row("e2eheal", "api", 1)["container_id"].as_str().unwrap().to_owned();
    docker(&["rm", "-f", "e2eheal-api-1"]);
    wait_until(Duration::from_secs(15), "the removed api#1 to be re-created", || {
        let row = agent.row("e2eheal", "api", 1);
        row["container_id"].as_str().is_some_and(|id| id != old) && row["ready"] == true
    });
    assert_eq!(containers("e2eheal").len(), 4, "no duplicates: {:?}", containers("e2eheal"));
}

#[test]
fn an_agent_killed_with_sigkill_adopts_its_containers_without_restarting_them() {
    let _serial = serial();
    let mut agent = Agent::start();
    ok(&agent.up("e2eadopt", &demo(28083)));
    let before = containers("e2eadopt");
    let started: Vec<_> = before.keys().map(|n| started_at(n)).collect();

    agent.kill9();
    agent.restart();
    // Give the new agent several passes to do anything it (wrongly) wants to do.
    wait_until(Duration::from_secs(10), "the new agent to observe the stack", || {
        agent.ps("e2eadopt").iter().all(|r| r["ready"] == true)
    });
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(containers("e2eadopt"), before, "same containers, no duplicates");
    let after: Vec<_> = before.keys().map(|n| started_at(n)).collect();
    assert_eq!(after, started, "no container was restarted");
}

#[test]
fn changing_one_service_replaces_only_that_service() {
    let _serial = serial();
    let mut agent = Agent::start();
    ok(&agent.up("e2eupd", &demo(28084)));
    let before = containers("e2eupd");

    let out = agent.up_env("e2eupd", &demo(28084), &[("API_MODE", "fast")]);
    let progress = ok(&out);
    assert!(progress.contains("generation 2): api changed"), "{progress}");
    let after = containers("e2eupd");
    for (name, id) in &after {
        if name.starts_with("e2eupd-api-") {
            assert_ne!(before.get(name), Some(id), "{name} must be replaced");
        } else {
            assert_eq!(before.get(name), Some(id), "{name} must be left alone");
        }
    }
    assert_eq!(after.len(), 4);
    let env = docker_out(&["inspect", "-f", "{{range .Config.Env}}{{println .}}{{end}}", "e2eupd-api-1"]);
    assert!(env.lines().any(|l| l == "MODE=fast"), "{env}");

    // Re-running the same up changes nothing.
    let again = ok(&agent.up_env("e2eupd", &demo(28084), &[("API_MODE", "fast")]));
    assert!(again.contains("is up to date"), "{again}");
    assert_eq!(containers("e2eupd"), after);
}

#[test]
fn down_leaves_no_containers_or_networks_and_removes_volumes_when_asked() {
    let _serial = serial();
    let mut agent = Agent::start();
    ok(&agent.up("e2edown", &demo(28085)));

    ok(&agent.roost(&["down", "-p", "e2edown"]));
    assert!(containers("e2edown").is_empty());
    let label = "label=io.roost.stack=e2edown";
    assert_eq!(docker_out(&["network", "ls", "-q", "--filter", label]), "");
    assert_eq!(docker_out(&["volume", "ls", "-q", "--filter", label]), "e2edown_site", "down keeps volumes");

    ok(&agent.up("e2edown", &demo(28085)));
    ok(&agent.roost(&["down", "-p", "e2edown", "--volumes"]));
    assert!(containers("e2edown").is_empty());
    assert_eq!(docker_out(&["network", "ls", "-q", "--filter", label]), "");
    assert_eq!(docker_out(&["volume", "ls", "-q", "--filter", label]), "");
    // A short wait: nothing comes back.
    std::thread::sleep(Duration::from_secs(2));
    assert!(containers("e2edown").is_empty());
    let gone = agent.roost(&["down", "-p", "e2edown"]);
    assert!(!gone.status.success());
    assert!(stderr(&gone).contains("no stack named `e2edown`"), "{}", stderr(&gone));
}

#[test]
fn two_agents_on_one_engine_leave_each_others_containers_alone() {
    let _serial = serial();
    let mut first = Agent::start();
    ok(&first.up("e2eowner", &demo(28086)));
    let before = containers("e2eowner");
    // The first agent holds the ingress ports.
    let mut second = Agent::start_with(&["--http-listen", "none", "--https-listen", "none"]);
    ok(&second.up("e2eother", "services:\n  s:\n    image: roost-test/busybox:latest\n    command: [\"sleep\", \"1000\"]\n    init: true\n"));
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(containers("e2eowner"), before, "the second agent must not touch the first one's stack");
    assert!(second.ps("e2eowner").is_empty(), "nor show it");
    assert_eq!(containers("e2eother").len(), 1);
}

fn versioned() -> String {
    format!(
        r#"
services:
  app:
    image: {IMAGE}
    command: ["sleep", "100000"]
    init: true
    environment:
      VERSION: ${{VERSION}}
    healthcheck:
      test: ["CMD", "sh", "-c", "test \"$$VERSION\" != bad"]
      interval: 1s
      timeout: 1s
      retries: 1
    deploy:
      update_config: {{failure_action: rollback}}
"#
    )
}

/// The `VERSION` of the container `roost ps` shows for the app (by id: a start-first or
/// name-clash replacement may carry the name with its config hash).
fn app_version(agent: &Agent) -> String {
    let row = agent.row("e2eroll", "app", 1);
    let Some(id) = row["container_id"].as_str() else { return String::new() };
    let env = docker_out(&["inspect", "-f", "{{range .Config.Env}}{{println .}}{{end}}", id]);
    env.lines().find_map(|l| l.strip_prefix("VERSION=")).unwrap_or_default().to_owned()
}

#[test]
fn a_failed_update_rolls_the_stack_back_and_rollback_works_by_hand() {
    let _serial = serial();
    let mut agent = Agent::start();
    ok(&agent.up_env("e2eroll", &versioned(), &[("VERSION", "good")]));

    let bad = agent.up_env("e2eroll", &versioned(), &[("VERSION", "bad")]);
    assert!(!bad.status.success(), "the bad version never becomes healthy");
    wait_until(Duration::from_secs(30), "the automatic rollback to the good version", || {
        app_version(&agent) == "good" && agent.row("e2eroll", "app", 1)["ready"] == true
    });
    assert!(agent.log().contains("rolling the stack back"), "the agent says why");

    ok(&agent.up_env("e2eroll", &versioned(), &[("VERSION", "second")]));
    assert_eq!(app_version(&agent), "second");
    let back = agent.roost(&["rollback", "-p", "e2eroll", "--wait", "--wait-timeout", "60"]);
    let said = ok(&back);
    assert!(said.contains("rolled back"), "{said}");
    assert_eq!(app_version(&agent), "good");

    let none = agent.roost(&["rollback", "-p", "nosuchstack"]);
    assert!(String::from_utf8_lossy(&none.stderr).contains("no stack named"));
}

#[test]
fn a_rolling_update_replaces_one_replica_at_a_time() {
    let _serial = serial();
    let mut agent = Agent::start();
    let yaml = |version: &str| {
        format!(
            r#"
services:
  app:
    image: {IMAGE}
    command: ["sleep", "100000"]
    init: true
    environment: {{VERSION: "{version}"}}
    healthcheck: {{test: ["CMD", "true"], interval: 1s, timeout: 1s, retries: 1}}
    deploy:
      replicas: 3
      update_config: {{parallelism: 1, delay: 1s, failure_action: pause}}
"#
        )
    };
    ok(&agent.up("e2eroll2", &yaml("one")));
    // Sample the ready replicas while the update runs: never fewer than 2 of 3.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (s, socket) = (stop.clone(), agent.socket());
    let sampler = std::thread::spawn(move || {
        let mut min_ready = 3;
        while !s.load(std::sync::atomic::Ordering::SeqCst) {
            let out = std::process::Command::new(env!("CARGO_BIN_EXE_roost"))
                .args(["ps", "-p", "e2eroll2", "--json"])
                .env("ROOST_HOST", format!("unix://{socket}"))
                .output()
                .unwrap();
            if let Ok(rows) = serde_json::from_slice::<Vec<serde_json::Value>>(&out.stdout) {
                let ready = rows.iter().filter(|r| r["ready"] == true || (r["state"] == "running" && r["up_to_date"] == false)).count();
                min_ready = min_ready.min(ready);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        min_ready
    });
    let started = std::time::Instant::now();
    ok(&agent.up("e2eroll2", &yaml("two")));
    let took = started.elapsed();
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let min_ready = sampler.join().unwrap();
    assert!(min_ready >= 2, "at most one replica down at a time, saw {min_ready} serving");
    assert!(took >= Duration::from_secs(2), "two 1 s delays between three batches: {took:?}");
    let versions: Vec<String> = (1..=3)
        .map(|i| {
            let env = docker_out(&["inspect", "-f", "{{range .Config.Env}}{{println .}}{{end}}", &format!("e2eroll2-app-{i}")]);
            env.lines().find_map(|l| l.strip_prefix("VERSION=")).unwrap_or_default().to_owned()
        })
        .collect();
    assert_eq!(versions, ["two", "two", "two"]);
}

#[test]
fn a_start_first_update_keeps_every_replica_serving() {
    let _serial = serial();
    let mut agent = Agent::start();
    let yaml = |version: &str| {
        format!(
            r#"
services:
  app:
    image: {IMAGE}
    command: ["sleep", "100000"]
    init: true
    environment: {{VERSION: "{version}"}}
    healthcheck: {{test: ["CMD", "true"], interval: 1s, timeout: 1s, retries: 1}}
    deploy:
      replicas: 2
      update_config: {{parallelism: 1, order: start-first}}
"#
        )
    };
    ok(&agent.up("e2esf", &yaml("one")));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let s = stop.clone();
    let sampler = std::thread::spawn(move || {
        let mut min_serving = usize::MAX;
        while !s.load(std::sync::atomic::Ordering::SeqCst) {
            let healthy = docker_out(&["ps", "-q", "--filter", "label=io.roost.stack=e2esf", "--filter", "health=healthy"]);
            min_serving = min_serving.min(healthy.lines().count());
            std::thread::sleep(Duration::from_millis(50));
        }
        min_serving
    });
    ok(&agent.up("e2esf", &yaml("two")));
    wait_until(Duration::from_secs(20), "the old copies to be gone", || containers("e2esf").len() == 2);
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    assert!(sampler.join().unwrap() >= 2, "both replicas serve throughout a start-first update");
    let names: Vec<String> = containers("e2esf").into_keys().collect();
    assert!(names.iter().all(|n| n.starts_with("e2esf-app-")), "{names:?}");
}
