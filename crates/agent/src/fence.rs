//! The fence watchdog: fencing that works even when the agent itself is frozen.
//!
//! The agent fences its stateful replicas when its lease runs out, but an agent that
//! is killed (-9) or paused (SIGSTOP) while its host keeps running cannot. So each
//! cluster-capable agent keeps a deadline in `DIR/lease-deadline-boot` (milliseconds
//! of `CLOCK_BOOTTIME`, `0` = no fencing, a lone node) and runs a small separate process,
//! `roost fence-watchdog`, that kills every running stateful container of this agent
//! (label `io.roost.stateful`) once the deadline passes without a renewal. The deadline
//! file outlives the agent, so a restarted agent never extends a lease it no longer has.
//!
//! An agent that stops cleanly leaves `DIR/fence.stopped`: its watchdog then stays only
//! as long as it is needed, until the deadline has passed and it has fenced (at once
//! when fencing is off), and exits. A killed agent leaves no such file, and its
//! watchdog keeps guarding until a new agent replaces it.

use roost_docker::Driver;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The deadline on the boot-time clock, which every process of the machine shares and
/// nothing steps: a deadline on the wall clock (as earlier versions kept, in
/// `lease-deadline`) moved with every clock step, so a step back let a watchdog fence
/// too late, and a step forward fence for nothing.
const FILE: &str = "lease-deadline-boot";
const LEGACY_FILE: &str = "lease-deadline";
const PID_FILE: &str = "fence.pid";
const STOPPED_FILE: &str = "fence.stopped";
const EVERY: Duration = Duration::from_millis(100);

/// Time since boot, suspend included (`CLOCK_BOOTTIME`): the clock of fencing deadlines.
pub fn since_boot() -> Duration {
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_BOOTTIME).map_or(Duration::ZERO, Duration::from)
}

/// Records the fencing deadline, as time since boot (`None`: never fence).
pub fn write_deadline(dir: &Path, deadline: Option<Duration>) {
    let text = deadline.map_or(0, |d| d.as_millis().max(1) as u64).to_string();
    let tmp = dir.join("lease-deadline.tmp");
    // Said once per failing streak (a full disk fails it five times a second).
    static FAILING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    match std::fs::write(&tmp, text).and_then(|()| std::fs::rename(&tmp, dir.join(FILE))) {
        Ok(()) => {
            if FAILING.swap(false, std::sync::atomic::Ordering::Relaxed) {
                tracing::info!("the lease deadline file is written again");
            }
        }
        Err(e) => {
            if !FAILING.swap(true, std::sync::atomic::Ordering::Relaxed) {
                tracing::warn!("cannot write the lease deadline file (the watchdog fences at the last one written): {e}");
            }
        }
    }
}

/// The recorded deadline (time since boot): `None` if there is no file, `Some(None)`
/// if fencing is off.
pub fn read_deadline(dir: &Path) -> Option<Option<Duration>> {
    let text = std::fs::read_to_string(dir.join(FILE)).ok()?;
    let ms: u64 = text.trim().parse().ok()?;
    Some((ms != 0).then(|| Duration::from_millis(ms)))
}

/// Tells the watchdog its agent stopped cleanly (see the module docs).
pub fn agent_stopped(dir: &Path) {
    if dir.join(PID_FILE).exists() {
        if let Err(e) = std::fs::write(dir.join(STOPPED_FILE), b"") {
            tracing::warn!("cannot tell the fence watchdog that the agent stopped: {e}");
        }
    }
}

/// Starts the watchdog for `dir`, replacing one a previous agent left running.
pub fn spawn(dir: &Path, docker_host: Option<&str>, owner: &str) {
    let _ = std::fs::remove_file(dir.join(STOPPED_FILE));
    let _ = std::fs::remove_file(dir.join(LEGACY_FILE));
    if let Ok(pid) = std::fs::read_to_string(dir.join(PID_FILE)) {
        // Only a real process id (0 or -1 would signal a whole group or every process),
        // and only if it still is a watchdog: the id may have been reused since.
        let watchdog = |p: &i32| *p > 1 && std::fs::read(format!("/proc/{p}/cmdline")).is_ok_and(|c| c.windows(14).any(|w| w == b"fence-watchdog"));
        if let Some(pid) = pid.trim().parse::<i32>().ok().filter(watchdog) {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
        }
    }
    let Ok(exe) = std::env::current_exe() else { return };
    let mut cmd = std::process::Command::new(exe);
    cmd.args(["fence-watchdog", "--data-dir"]).arg(dir).args(["--owner", owner]);
    if let Some(h) = docker_host {
        cmd.args(["--docker-host", h]);
    }
    cmd.stdin(std::process::Stdio::null()).stdout(std::process::Stdio::null());
    match cmd.spawn() {
        Ok(child) => {
            let _ = std::fs::write(dir.join(PID_FILE), child.id().to_string());
        }
        Err(e) => tracing::error!("cannot start the fence watchdog: {e}"),
    }
}

/// The watchdog's loop. Ends when the data dir disappears, another watchdog took over,
/// or its agent stopped cleanly and there is nothing left to fence.
pub async fn watchdog(dir: PathBuf, docker_host: Option<String>, owner: String) {
    let me = std::process::id().to_string();
    let mut driver: Option<Driver> = None;
    loop {
        tokio::time::sleep(EVERY).await;
        if !dir.exists() || std::fs::read_to_string(dir.join(PID_FILE)).is_ok_and(|p| p.trim() != me) {
            return;
        }
        let agent_stopped = dir.join(STOPPED_FILE).exists();
        let Some(Some(deadline)) = read_deadline(&dir) else {
            if agent_stopped {
                return finish(&dir, &me);
            }
            continue;
        };
        if since_boot() < deadline {
            continue;
        }
        if driver.is_none() {
            driver = Driver::connect(docker_host.as_deref()).await.ok().map(|d| d.owned_by(owner.clone()));
        }
        if let Some(d) = &driver {
            match d.kill_stateful().await {
                Ok(n) => {
                    if n > 0 {
                        eprintln!("roost fence-watchdog: lease expired, killed {n} stateful container(s)");
                    }
                    if agent_stopped {
                        return finish(&dir, &me);
                    }
                }
                Err(_) => driver = None,
            }
        }
    }
}

/// The stopped agent's watchdog leaves, and so do its files, unless a new agent
/// already started its own watchdog.
fn finish(dir: &Path, me: &str) {
    if std::fs::read_to_string(dir.join(PID_FILE)).is_ok_and(|p| p.trim() == me) {
        let _ = std::fs::remove_file(dir.join(STOPPED_FILE));
        let _ = std::fs::remove_file(dir.join(PID_FILE));
    }
}
