//! Replicated volumes on three hosts: a SQLite writer and PostgreSQL behind a web app
//! each take a write every 100 ms, acknowledged ids recorded here, outside the cluster.
//! The database's host is cut off, then crashes (kill -9 of everything on it): the
//! database serves again on another host, starts cleanly (SQLite `integrity_check`,
//! PostgreSQL's crash recovery) and holds every row acknowledged more than one
//! snapshot interval before the fault. Rows lost and seconds of data lost are printed.
//! The old primary, back, keeps what only it had as a `diverged` snapshot, and the
//! database never runs twice (sampled on every engine).

use crate::failover::Sampler;
use crate::{tb, wait_until, Testbed};
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[path = "../common/http.rs"]
mod http;

const HOSTS: [&str; 3] = ["h1", "h2", "h3"];
/// The snapshot interval of the tests' volumes.
const INTERVAL: Duration = Duration::from_secs(2);

const SQLITE: &str = r#"services:
  notes:
    image: roost-test/app:latest
    command: ["python3", "/app/notes.py"]
    volumes: [data:/data]
    healthcheck:
      test: ["CMD", "python3", "-c", "import urllib.request; urllib.request.urlopen('http://localhost:8000/health')"]
      interval: 1s
    x-roost:
      routes: [{host: notes.lan, port: 8000, tls: off}]
volumes:
  data:
    x-roost: {interval: 2s}
"#;

const POSTGRES: &str = r#"services:
  db:
    image: roost-test/app:latest
    command: ["/app/pg.sh"]
    volumes: [pgdata:/var/lib/postgresql/data]
    healthcheck:
      test: ["CMD", "pg_isready", "-h", "127.0.0.1", "-U", "postgres"]
      interval: 1s
  web:
    image: roost-test/app:latest
    command: ["python3", "/app/web.py"]
    x-roost:
      routes: [{host: pg.lan, port: 8000, tls: off}]
volumes:
  pgdata:
    x-roost: {interval: 2s}
"#;

/// How a test app is written to and read back.
#[derive(Clone, Copy)]
enum App {
    Sqlite,
    Postgres,
}

impl App {
    fn host(self) -> &'static str {
        match self {
            App::Sqlite => "notes.lan",
            App::Postgres => "pg.lan",
        }
    }

    /// The database's service (the one with the volume).
    fn service(self) -> &'static str {
        match self {
            App::Sqlite => "notes",
            App::Postgres => "db",
        }
    }

    /// Writes `id`; whether the app acknowledged it.
    fn write(self, via: &str, id: u64) -> bool {
        let timeout = Duration::from_secs(2);
        match self {
            App::Sqlite => http::post(via, self.host(), &format!("/rows?id={id}"), "", timeout).is_some_and(|(s, b)| s == 200 && b == "ok"),
            App::Postgres => http::post(via, self.host(), "/notes", &id.to_string(), timeout).is_some_and(|(s, _)| s == 201),
        }
    }

    /// Every id the database holds, or `None` while it does not answer.
    fn read(self, via: &str) -> Option<BTreeSet<u64>> {
        let timeout = Duration::from_secs(5);
        match self {
            App::Sqlite => {
                let (status, body) = http::get(via, self.host(), "/rows", timeout)?;
                (status == 200).then(|| body.split(',').filter_map(|s| s.parse().ok()).collect())
            }
            App::Postgres => {
                let (status, body) = http::get(via, self.host(), "/notes", timeout)?;
                let notes: Vec<serde_json::Value> = (status == 200).then(|| serde_json::from_str(&body).ok()).flatten()?;
                Some(notes.iter().filter_map(|n| n["body"].as_str()?.parse().ok()).collect())
            }
        }
    }

    /// The database's own check after its start on the new host.
    fn check(self, via: &str) {
        if let App::Sqlite = self {
            let answer = http::get(via, self.host(), "/check", Duration::from_secs(5));
            assert_eq!(answer, Some((200, "ok".into())), "SQLite's integrity_check after the failover");
        }
        // PostgreSQL: it answering reads and writes above is its crash recovery done.
    }
}

/// Writes an increasing id every 100 ms through one host; records the acknowledged
/// ones with when their acknowledgement came.
struct Writer {
    stop: Arc<AtomicBool>,
    acked: Arc<Mutex<Vec<(u64, Instant)>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Writer {
    fn start(app: App, via: String, first: u64) -> Writer {
        let stop = Arc::new(AtomicBool::new(false));
        let acked = Arc::new(Mutex::new(Vec::new()));
        let (s, a) = (stop.clone(), acked.clone());
        let thread = std::thread::spawn(move || {
            let mut id = first;
            while !s.load(Ordering::SeqCst) {
                if app.write(&via, id) {
                    a.lock().unwrap().push((id, Instant::now()));
                }
                id += 1;
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        Writer { stop, acked, thread: Some(thread) }
    }

    fn finish(mut self) -> Vec<(u64, Instant)> {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.take().unwrap().join().unwrap();
        std::mem::take(&mut *self.acked.lock().unwrap())
    }
}

fn addr(host: &str) -> String {
    format!("10.77.0.{}:80", 10 + host.trim_start_matches('h').parse::<u32>().unwrap())
}

/// The host running the database, from `ps`.
fn running_on(t: &Testbed, stack: &str, service: &str) -> Option<String> {
    let rows = t.json("h2", &["ps", "-p", stack, "--json"]).or_else(|| t.json("h3", &["ps", "-p", stack, "--json"]))?;
    rows.iter().find(|r| r["service"] == service && r["ready"] == true).and_then(|r| r["node"].as_str().map(str::to_owned))
}

/// Whether the volume is `replicated` with `standbys` standbys holding a snapshot.
fn replicated(t: &Testbed, via: &str, standbys: usize) -> bool {
    t.json(via, &["volume", "ls", "--json"]).is_some_and(|rows| {
        rows.len() == 1
            && rows[0]["state"] == "replicated"
            && rows[0]["standbys"].as_array().is_some_and(|s| s.iter().filter(|s| !s["age_s"].is_null()).count() == standbys)
    })
}

/// Whether `host` is a standby of the (one) volume holding a snapshot at most two
/// intervals old.
fn standby_fresh(t: &Testbed, via: &str, host: &str) -> bool {
    t.json(via, &["volume", "ls", "--json"]).is_some_and(|rows| {
        rows.first().and_then(|r| r["standbys"].as_array()).is_some_and(|standbys| {
            standbys.iter().any(|s| s["node"] == host && s["age_s"].as_u64().is_some_and(|age| age <= 2 * INTERVAL.as_secs()))
        })
    })
}

#[derive(Debug, Clone, Copy)]
enum Fault {
    Cut,
    Crash,
}

fn failover_keeps_every_row_acknowledged_before_the_last_snapshot(app: App, stack: &str, yaml: &str) {
    let t = Testbed::cluster(3, &[]);
    let file = format!("/tmp/roost-cluster-test-volumes-{stack}.yaml");
    std::fs::write(&file, yaml).unwrap();
    t.ok("h1", &["up", "-f", &file, "-p", stack]);
    wait_until(Duration::from_secs(90), "the database replicated to two standbys", || replicated(&t, "h1", 2));
    let copies = Sampler::start(app.service());
    let mut next_id = 1;
    for fault in [Fault::Cut, Fault::Crash] {
        let host = running_on(&t, stack, app.service()).expect("the database runs somewhere");
        let via = HOSTS.into_iter().find(|h| *h != host).unwrap();
        let leader = t.leader(via).is_some_and(|l| l == host);
        let writer = Writer::start(app, addr(via), next_id);
        std::thread::sleep(Duration::from_secs(6));
        let fault_at = Instant::now();
        match fault {
            Fault::Cut => tb(&["cut", &host]),
            Fault::Crash => tb(&["crash", &host]),
        };
        let took = wait_until(Duration::from_secs(60), "writes served again on another host", || app.write(&addr(via), 1_000_000 + next_id));
        std::thread::sleep(Duration::from_secs(2));
        let acked = writer.finish();
        next_id = acked.iter().map(|(id, _)| id + 1).max().unwrap_or(next_id) + 10;
        let held = app.read(&addr(via)).expect("the database answers reads");
        app.check(&addr(via));
        let lost: Vec<&(u64, Instant)> = acked.iter().filter(|(id, _)| !held.contains(id)).collect();
        let data_lost = lost.iter().filter(|(_, at)| *at < fault_at).map(|(_, at)| fault_at - *at).max().unwrap_or_default();
        eprintln!(
            "{fault:?} of {host} ({}): serving writes again after {took:?}; {} of {} acknowledged rows lost, {:.1} s of data",
            if leader { "the leader" } else { "a follower" },
            lost.len(),
            acked.len(),
            data_lost.as_secs_f64()
        );
        let must_keep: Vec<u64> = acked.iter().filter(|(_, at)| *at + INTERVAL < fault_at).map(|(id, _)| *id).collect();
        let missing: Vec<&u64> = must_keep.iter().filter(|id| !held.contains(id)).collect();
        assert!(missing.is_empty(), "{fault:?}: rows acknowledged more than one interval before the fault are gone: {missing:?}");
        let rows = t.json(via, &["ps", "-p", stack, "--json"]).unwrap_or_default();
        let note = rows.iter().find(|r| r["service"] == app.service() && r["ready"] == true).and_then(|r| r["note"].as_str()).unwrap_or_default().to_owned();
        assert!(note.contains("started from snapshot"), "{fault:?}: ps says what data the database came back with: {rows:?}");
        eprintln!("ps: {note}");

        match fault {
            Fault::Cut => tb(&["heal", &host]),
            Fault::Crash => tb(&["revive", &host]),
        };
        // Its entry from before it was the primary does not count: only a snapshot
        // restored since it came back.
        wait_until(Duration::from_secs(90), "the old primary a standby again", || standby_fresh(&t, via, &host));
        let snapshots = t.json(&host, &["volume", "snapshots", &format!("{stack}/{}", volume_of(stack)), "--json"]).unwrap_or_default();
        let diverged = snapshots.iter().rev().find(|s| s["tags"].as_array().is_some_and(|t| t.iter().any(|t| t == "diverged")));
        let diverged = diverged.and_then(|s| s["id"].as_str()).unwrap_or_else(|| {
            panic!("{fault:?}: the old primary {host} keeps what only it had as a `diverged` snapshot: {snapshots:?}")
        });
        // It sends it to the primary, whose retention keeps it and whose prunes the
        // old primary mirrors from now on.
        let primary = running_on(&t, stack, app.service()).expect("the database runs");
        wait_until(Duration::from_secs(30), "the diverged snapshot on the primary too", || {
            t.json(&primary, &["volume", "snapshots", &format!("{stack}/{}", volume_of(stack)), "--json"])
                .is_some_and(|listed| listed.iter().any(|s| s["id"] == diverged))
        });
        if let (Fault::Cut, App::Sqlite) = (fault, app) {
            // Bring it back by hand, on the node that kept it: the rows the failover
            // lost are there again.
            let said = t.ok(&host, &["volume", "restore", &format!("{stack}/{}", volume_of(stack)), &diverged[..8]]);
            eprintln!("{said}");
            let back = wait_until(Duration::from_secs(60), "the database serving the diverged data", || {
                app.read(&addr(via)).is_some_and(|held| lost.iter().all(|(id, _)| held.contains(id)))
            });
            eprintln!("the {} rows the failover lost are back {back:?} after `roost volume restore`", lost.len());
            app.check(&addr(via));
        }
    }
    assert!(copies.finish() <= 1, "the database ran on two hosts at once");
    if let App::Sqlite = app {
        restic_reads_a_standby_copy(&t, stack);
    }
}

/// The open format: Debian's restic checks a standby's repository with the password
/// `roost volume password` prints, and its restore of the newest snapshot equals the
/// live volume (no writes any more).
fn restic_reads_a_standby_copy(t: &Testbed, stack: &str) {
    let name = format!("{stack}_{}", volume_of(stack));
    let primary = running_on(t, stack, "notes").expect("the database runs");
    let standby = HOSTS.into_iter().find(|h| *h != primary).unwrap();
    // A snapshot taken after the last write, held by the standby.
    std::thread::sleep(INTERVAL * 3);
    let password = t.ok(standby, &["volume", "password"]).trim().to_owned();
    let repo = format!("/tmp/roost-testbed/{standby}/roost/volumes/{name}/repo");
    let restic = |args: &[&str]| {
        let out = std::process::Command::new("restic").args(["-r", &repo, "--no-cache"]).args(args).env("RESTIC_PASSWORD", &password).output().expect("restic runs");
        assert!(out.status.success(), "restic {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    restic(&["check", "--read-data"]);
    let target = tempfile::tempdir().unwrap();
    restic(&["restore", "latest", "--target", &target.path().to_string_lossy()]);
    let mountpoint = String::from_utf8(tb(&["docker", &primary, "volume", "inspect", "-f", "{{.Mountpoint}}", &name]).stdout).unwrap();
    let restored = target.path().join("volumes").join(&name);
    let diff = std::process::Command::new("diff").args(["-r", "--no-dereference"]).arg(&restored).arg(mountpoint.trim()).output().unwrap();
    assert!(diff.status.success(), "restic's restore differs from the live volume: {}", String::from_utf8_lossy(&diff.stdout));
}

fn volume_of(stack: &str) -> &'static str {
    if stack == "notes" { "data" } else { "pgdata" }
}

#[test]
fn a_sqlite_writer_keeps_its_acknowledged_rows_through_a_cut_and_a_crash_of_its_host() {
    failover_keeps_every_row_acknowledged_before_the_last_snapshot(App::Sqlite, "notes", SQLITE);
}

#[test]
fn postgresql_keeps_its_acknowledged_rows_through_a_cut_and_a_crash_of_its_host() {
    failover_keeps_every_row_acknowledged_before_the_last_snapshot(App::Postgres, "pg", POSTGRES);
}

/// A planned move loses nothing: `roost drain` of the database's host moves it with a
/// final snapshot taken after its copy stopped, and `roost move` brings it back the
/// same way. The downtime of writes is printed.
#[test]
fn a_drain_roost_move_and_an_update_move_the_sqlite_writer_without_losing_an_acknowledged_row() {
    let t = Testbed::cluster(3, &[]);
    let file = "/tmp/roost-cluster-test-volumes-notes.yaml";
    std::fs::write(file, SQLITE).unwrap();
    t.ok("h1", &["up", "-f", file, "-p", "notes"]);
    wait_until(Duration::from_secs(90), "the database replicated to two standbys", || replicated(&t, "h1", 2));
    let copies = Sampler::start("notes");
    let host = running_on(&t, "notes", "notes").expect("the database runs somewhere");
    let via = HOSTS.into_iter().find(|h| *h != host).unwrap();
    // Each planned move runs under a steady writer; nothing acknowledged may be lost.
    let planned = |what: &str, first_id: u64, action: &dyn Fn()| {
        let writer = Writer::start(App::Sqlite, addr(via), first_id);
        std::thread::sleep(Duration::from_secs(3));
        action();
        std::thread::sleep(Duration::from_secs(3));
        let acked = writer.finish();
        let held = App::Sqlite.read(&addr(via)).expect("the database answers");
        App::Sqlite.check(&addr(via));
        let lost: Vec<u64> = acked.iter().map(|(id, _)| *id).filter(|id| !held.contains(id)).collect();
        let downtime = acked.windows(2).map(|w| w[1].1 - w[0].1).max().unwrap_or_default();
        eprintln!("{what}: {} acknowledged rows, {} lost, writes paused for {downtime:?} at most", acked.len(), lost.len());
        assert!(lost.is_empty(), "{what} lost acknowledged rows: {lost:?}");
    };
    planned(&format!("drain of {host}"), 1, &|| {
        t.ok(via, &["drain", &host]);
        wait_until(Duration::from_secs(60), "the database on another host", || running_on(&t, "notes", "notes").is_some_and(|h| h != host));
    });

    // `roost move` it back to the host it left: again nothing is lost.
    t.ok(via, &["undrain", &host]);
    planned(&format!("move to {host}"), 100_000, &|| eprintln!("{}", t.ok(via, &["move", "notes/notes", &host]).trim()));
    assert_eq!(running_on(&t, "notes", "notes").as_deref(), Some(host.as_str()), "roost move put it there");

    // An update that places it elsewhere (a new constraint) is a planned move too.
    let third = HOSTS.into_iter().find(|h| *h != host && *h != via).unwrap();
    let pinned = SQLITE.replace("    x-roost:\n      routes:", &format!("    deploy:\n      placement:\n        constraints: [\"node.hostname == {third}\"]\n    x-roost:\n      routes:"));
    assert_ne!(pinned, SQLITE);
    std::fs::write(file, &pinned).unwrap();
    planned(&format!("update placing it on {third}"), 200_000, &|| {
        t.ok(via, &["up", "-f", file, "-p", "notes"]);
        wait_until(Duration::from_secs(60), "the database on the pinned host", || running_on(&t, "notes", "notes").as_deref() == Some(third));
    });
    assert!(copies.finish() <= 1, "the database ran on two hosts at once");
}

/// `hook` consistency: a command run in the service's container before each snapshot,
/// whose output lands in that snapshot (here the time it ran; a real one would be
/// `pg_dump`). Each standby's warm copy shows it, newer with every snapshot.
#[test]
fn a_hook_runs_in_the_container_before_each_snapshot_and_its_output_reaches_the_standbys() {
    const HOOKED: &str = r#"services:
  app:
    image: roost-test/busybox:latest
    command: ["sleep", "3600"]
    init: true
    volumes: [data:/data]
volumes:
  data:
    x-roost: {interval: 2s, hook: "date +%s > /data/hook-ran"}
"#;
    let t = Testbed::cluster(3, &[]);
    let file = "/tmp/roost-cluster-test-volumes-hook.yaml";
    std::fs::write(file, HOOKED).unwrap();
    t.ok("h1", &["up", "-f", file, "-p", "hooked"]);
    wait_until(Duration::from_secs(90), "the volume replicated to two standbys", || replicated(&t, "h1", 2));
    let listed = t.json("h1", &["volume", "ls", "--json"]).unwrap_or_default();
    assert_eq!(listed[0]["consistency"], "hook", "{listed:?}");
    let primary = running_on(&t, "hooked", "app").expect("the service runs");
    let ran_at = |host: &str| -> Option<u64> {
        let mountpoint = String::from_utf8(tb(&["docker", host, "volume", "inspect", "-f", "{{.Mountpoint}}", "hooked_data"]).stdout).ok()?;
        std::fs::read_to_string(std::path::Path::new(mountpoint.trim()).join("hook-ran")).ok()?.trim().parse().ok()
    };
    for standby in HOSTS.into_iter().filter(|h| *h != primary) {
        let first = {
            let mut seen = None;
            wait_until(Duration::from_secs(30), "the hook's output in a standby's copy", || {
                seen = ran_at(standby);
                seen.is_some()
            });
            seen.unwrap()
        };
        wait_until(Duration::from_secs(30), "a newer run of the hook in the standby's copy", || ran_at(standby).is_some_and(|t| t > first));
        eprintln!("{standby}: the hook's output reached the warm copy, and a newer one after it");
    }
}
