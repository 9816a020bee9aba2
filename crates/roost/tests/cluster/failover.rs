//! Scheduling and fenced failover on the testbed.

use crate::{tb, wait_until, Testbed};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub(crate) const STACK: &str = "services:
  db:
    image: roost-test/busybox:latest
    command: [\"httpd\", \"-f\", \"-p\", \"8080\", \"-h\", \"/www\"]
    init: true
    volumes: [\"data:/data\"]
    healthcheck:
      test: [\"CMD\", \"wget\", \"-q\", \"-O-\", \"http://localhost:8080/\"]
      interval: 1s
      timeout: 1s
      retries: 2
  web:
    image: roost-test/busybox:latest
    command: [\"sleep\", \"100000\"]
    init: true
    deploy: {replicas: 3}
volumes:
  data: {}
";

/// Counts running containers of one service across all hosts' engines, every 100 ms.
pub(crate) struct Sampler {
    stop: Arc<AtomicBool>,
    max: Arc<AtomicUsize>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Sampler {
    /// Samples the containers of `service` (its `io.roost.service` label).
    pub(crate) fn start(service: &'static str) -> Sampler {
        let stop = Arc::new(AtomicBool::new(false));
        let max = Arc::new(AtomicUsize::new(0));
        let (s, m) = (stop.clone(), max.clone());
        let thread = std::thread::spawn(move || {
            let start = Instant::now();
            while !s.load(Ordering::SeqCst) {
                let per_host: Vec<usize> = ["h1", "h2", "h3"]
                    .iter()
                    .map(|h| {
                        let label = format!("label=io.roost.service={service}");
                        let out = tb(&["docker", h, "ps", "-q", "--filter", &label, "--filter", "status=running"]);
                        String::from_utf8_lossy(&out.stdout).lines().count()
                    })
                    .collect();
                let running: usize = per_host.iter().sum();
                if running > 1 {
                    eprintln!("sampler: {running} {service} copies at {:?} (per host {per_host:?})", start.elapsed());
                }
                m.fetch_max(running, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        Sampler { stop, max, thread: Some(thread) }
    }

    /// The most copies seen running at once.
    pub(crate) fn finish(mut self) -> usize {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.take().unwrap().join().unwrap();
        self.max.load(Ordering::SeqCst)
    }
}

fn rows(t: &Testbed, host: &str) -> Vec<serde_json::Value> {
    t.json(host, &["ps", "-p", "fo", "--json"]).unwrap_or_default()
}

/// The node running a ready `db`, as `host` sees it.
fn db_node(t: &Testbed, host: &str) -> Option<String> {
    rows(t, host)
        .into_iter()
        .find(|r| r["service"] == "db" && r["ready"] == true && r["desired"] == true)
        .map(|r| r["node"].as_str().unwrap().to_owned())
}

fn web_nodes(t: &Testbed, host: &str) -> Vec<String> {
    let mut v: Vec<String> = rows(t, host)
        .into_iter()
        .filter(|r| r["service"] == "web" && r["ready"] == true && r["desired"] == true)
        .map(|r| r["node"].as_str().unwrap().to_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn a_stateful_service_moves_when_its_host_is_lost_and_never_runs_twice() {
    let t = Testbed::cluster(3, &[]);
    std::fs::write("/tmp/roost-cluster-test-fo.yaml", STACK).unwrap();
    t.ok("h1", &["up", "-f", "/tmp/roost-cluster-test-fo.yaml", "-p", "fo"]);
    wait_until(Duration::from_secs(30), "db ready and web spread one per host", || {
        db_node(&t, "h1").is_some() && web_nodes(&t, "h1") == ["h1", "h2", "h3"]
    });
    let sampler = Sampler::start("db");
    let t0 = Instant::now();

    // Cut the db's host off: db comes back elsewhere, web is re-created on the survivors.
    let first = db_node(&t, "h1").unwrap();
    let watcher = ["h1", "h2", "h3"].into_iter().find(|h| *h != first).unwrap();
    let cut_at = Instant::now();
    eprintln!("cut {first} at {:?}", t0.elapsed());
    tb(&["cut", &first]);
    wait_until(Duration::from_secs(30), "db ready on another host", || db_node(&t, watcher).is_some_and(|n| n != first));
    eprintln!("db serving again {:?} after cutting {first}", cut_at.elapsed());
    wait_until(Duration::from_secs(30), "three web replicas on the survivors", || {
        let w = web_nodes(&t, watcher);
        w.len() == 3 && !w.contains(&first)
    });
    eprintln!("heal {first} at {:?}", t0.elapsed());
    tb(&["heal", &first]);
    std::thread::sleep(Duration::from_secs(4));

    // Crash (kill -9 of agent, engine and containers) the db's new host.
    let second = db_node(&t, watcher).unwrap();
    let watcher = ["h1", "h2", "h3"].into_iter().find(|h| *h != second).unwrap();
    let crash_at = Instant::now();
    eprintln!("crash {second} at {:?}", t0.elapsed());
    tb(&["crash", &second]);
    wait_until(Duration::from_secs(30), "db ready after the crash", || db_node(&t, watcher).is_some_and(|n| n != second));
    eprintln!("db serving again {:?} after crashing {second}", crash_at.elapsed());
    eprintln!("revive {second} at {:?}", t0.elapsed());
    tb(&["revive", &second]);
    std::thread::sleep(Duration::from_secs(4));

    let max = sampler.finish();
    assert_eq!(max, 1, "the stateful service ran {max} copies at once");
}

#[test]
fn drain_empties_a_node_and_undrain_lets_work_return() {
    let t = Testbed::cluster(3, &[]);
    std::fs::write("/tmp/roost-cluster-test-fo.yaml", STACK).unwrap();
    t.ok("h1", &["up", "-f", "/tmp/roost-cluster-test-fo.yaml", "-p", "fo"]);
    wait_until(Duration::from_secs(30), "db ready and web spread", || {
        db_node(&t, "h1").is_some() && web_nodes(&t, "h1") == ["h1", "h2", "h3"]
    });
    let target = db_node(&t, "h1").unwrap();
    let sampler = Sampler::start("db");
    t.ok("h1", &["drain", &target]);
    wait_until(Duration::from_secs(30), "nothing left on the drained node", || {
        let db = db_node(&t, "h1");
        let web = web_nodes(&t, "h1");
        db.is_some_and(|n| n != target) && web.len() == 3 && !web.contains(&target)
    });
    let left = tb(&["docker", &target, "ps", "-q"]);
    assert_eq!(String::from_utf8_lossy(&left.stdout).trim(), "", "the drained node runs no container");
    let nodes = t.json("h1", &["nodes", "--json"]).unwrap();
    assert!(nodes.iter().any(|n| n["name"] == target.as_str() && n["draining"] == true));
    assert_eq!(sampler.finish(), 1, "draining stops the stateful copy before starting the new one");

    t.ok("h1", &["undrain", &target]);
    // Nothing moves back by itself; a new replica may land there.
    t.ok("h1", &["up", "-f", "/tmp/roost-cluster-test-fo.yaml", "-p", "fo2"]);
    wait_until(Duration::from_secs(30), "new work placed on the undrained node", || {
        t.json("h1", &["ps", "-p", "fo2", "--json"])
            .unwrap_or_default()
            .iter()
            .any(|r| r["node"] == target.as_str() && r["ready"] == true)
    });
}

#[test]
fn ps_and_logs_work_from_any_node_for_replicas_on_every_node() {
    let t = Testbed::cluster(3, &[]);
    let file = "/tmp/roost-cluster-test-lg.yaml";
    std::fs::write(
        file,
        "services:\n  echo:\n    image: roost-test/busybox:latest\n    command: [\"sh\", \"-c\", \"echo hello; sleep 100000\"]\n    init: true\n    deploy: {replicas: 3}\n",
    )
    .unwrap();
    t.ok("h2", &["up", "-f", file, "-p", "lg", "--wait", "--wait-timeout", "60"]);
    let nodes = |h: &str| -> Vec<String> {
        let mut v: Vec<String> = t
            .json(h, &["ps", "-p", "lg", "--json"])
            .unwrap_or_default()
            .iter()
            .filter(|r| r["ready"] == true)
            .map(|r| r["node"].as_str().unwrap().to_owned())
            .collect();
        v.sort();
        v
    };
    for h in ["h1", "h2", "h3"] {
        wait_until(Duration::from_secs(10), "every host to see all three replicas", || nodes(h) == ["h1", "h2", "h3"]);
    }
    let logs = t.ok("h1", &["logs", "-p", "lg", "echo"]);
    for slot in 1..=3 {
        assert!(logs.contains(&format!("echo-{slot} | hello")), "{logs}");
    }
}

/// A small xorshift generator: the fault schedule is random per run but printed
/// with its seed (`ROOST_TEST_SEED` replays one).
pub(crate) fn fault_rng() -> impl FnMut(u64) -> u64 {
    let seed = std::env::var("ROOST_TEST_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1
    });
    eprintln!("fault schedule seed: ROOST_TEST_SEED={seed}");
    let mut x = seed;
    move |n| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n
    }
}

#[test]
fn a_stateful_service_survives_its_agent_being_killed_or_paused() {
    let t = Testbed::cluster(3, &[]);
    std::fs::write("/tmp/roost-cluster-test-fo.yaml", STACK).unwrap();
    t.ok("h1", &["up", "-f", "/tmp/roost-cluster-test-fo.yaml", "-p", "fo"]);
    wait_until(Duration::from_secs(30), "db ready", || db_node(&t, "h1").is_some());
    let sampler = Sampler::start("db");
    let t0 = Instant::now();
    let mut rng = fault_rng();
    // The agent alone is killed (-9) or paused (SIGSTOP) while its host and the db
    // container keep running, for a random time: shorter than the lease (nothing
    // should move), or long enough for the fence watchdog to stop the copy and the
    // cluster to move it. Each kind is exercised at least once.
    for round in 0..5 {
        let fault = match round {
            0 => "kill-agent",
            1 => "pause",
            _ => ["kill-agent", "pause"][rng(2) as usize],
        };
        let hold = Duration::from_millis(300 + rng(4700));
        wait_until(Duration::from_secs(30), "db ready", || ["h1", "h2", "h3"].iter().any(|h| db_node(&t, h).is_some()));
        let host = ["h1", "h2", "h3"].iter().find_map(|h| db_node(&t, h)).unwrap();
        eprintln!("{fault} of {host} for {hold:?} at {:?}", t0.elapsed());
        tb(&[fault, &host]);
        std::thread::sleep(hold);
        eprintln!("undo {fault} of {host} at {:?}", t0.elapsed());
        tb(&[if fault == "pause" { "resume" } else { "start-agent" }, &host]);
        let at = Instant::now();
        wait_until(Duration::from_secs(30), "db ready again", || ["h1", "h2", "h3"].iter().any(|h| db_node(&t, h).is_some()));
        eprintln!("db ready {:?} after the undo", at.elapsed());
        std::thread::sleep(Duration::from_secs(2));
    }

    let max = sampler.finish();
    assert_eq!(max, 1, "the stateful service ran {max} copies at once");
}

#[test]
fn down_after_is_configurable_a_short_cut_moves_nothing() {
    // Every agent runs with a 5 s grace instead of the default 1.2 s.
    let t = Testbed::cluster(3, &[("ROOST_AGENT_ARGS", "--down-after 5s")]);
    std::fs::write("/tmp/roost-cluster-test-fo.yaml", STACK).unwrap();
    t.ok("h1", &["up", "-f", "/tmp/roost-cluster-test-fo.yaml", "-p", "fo"]);
    wait_until(Duration::from_secs(30), "web spread one per host", || web_nodes(&t, "h1") == ["h1", "h2", "h3"]);
    let web_on_survivors = |t: &Testbed| web_nodes(t, "h1").iter().filter(|n| *n != "h3").count();

    // A 3 s cut of h3 is within the grace: no replica moves to the survivors.
    tb(&["cut", "h3"]);
    let cut_at = Instant::now();
    while cut_at.elapsed() < Duration::from_secs(3) {
        assert_eq!(web_on_survivors(&t), 2, "a replica moved during a cut shorter than --down-after");
        std::thread::sleep(Duration::from_millis(200));
    }
    tb(&["heal", "h3"]);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(web_nodes(&t, "h1"), ["h1", "h2", "h3"], "nothing moved and h3 kept its replica");

    // A long cut moves h3's replica after the grace, not before.
    tb(&["cut", "h3"]);
    let cut_at = Instant::now();
    wait_until(Duration::from_secs(20), "h3's replica re-created on a survivor", || web_on_survivors(&t) == 3);
    let moved = cut_at.elapsed();
    tb(&["heal", "h3"]);
    assert!(moved >= Duration::from_secs(5), "moved after {moved:?}, before the 5 s grace");
    eprintln!("moved {moved:?} after the cut with --down-after 5s");
}
