//! Freezing a container's processes for a crash-consistent copy, through its cgroup's
//! freezer rather than `docker pause`: Docker then never sees the container paused, so
//! its health verdicts stay true (after a `docker pause`, Docker kept reporting
//! `unhealthy` with every probe passing, and the service was replaced). A health probe
//! that starts during the freeze joins the cgroup and simply waits for the thaw.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A freeze longer than this is abandoned (thawed) and the round fails.
const FREEZE_WAIT: Duration = Duration::from_secs(2);

/// A frozen cgroup; thawed by [`Frozen::thaw`] (and, as a safety net, when dropped).
pub struct Frozen {
    control: PathBuf,
    v2: bool,
    thawed: bool,
}

/// The freezer control file of process `pid`'s cgroup: cgroup v2's `cgroup.freeze`, or
/// v1's `freezer.state`.
fn control_of(pid: u32, root: &Path) -> std::io::Result<(PathBuf, bool)> {
    let table = std::fs::read_to_string(format!("/proc/{pid}/cgroup"))?;
    for line in table.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = (parts.next(), parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        let path = path.trim_start_matches('/');
        if controllers.split(',').any(|c| c == "freezer") {
            return Ok((root.join("freezer").join(path).join("freezer.state"), false));
        }
        if controllers.is_empty() && root.join(path).join("cgroup.freeze").exists() {
            return Ok((root.join(path).join("cgroup.freeze"), true));
        }
    }
    Err(std::io::Error::new(std::io::ErrorKind::NotFound, format!("process {pid} is in no cgroup with a freezer")))
}

/// Freezes the cgroup of process `pid` and waits until every process in it is frozen.
///
/// # Errors
/// No freezer for it, or it did not freeze within [`FREEZE_WAIT`] (it is thawed again).
pub async fn freeze(pid: u32) -> std::io::Result<Frozen> {
    let (control, v2) = control_of(pid, Path::new("/sys/fs/cgroup"))?;
    std::fs::write(&control, if v2 { "1" } else { "FROZEN" })?;
    let frozen = Frozen { control, v2, thawed: false };
    let started = Instant::now();
    loop {
        if frozen.is_frozen()? {
            return Ok(frozen);
        }
        if started.elapsed() > FREEZE_WAIT {
            return Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "the container's processes did not freeze in time"));
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

impl Frozen {
    fn is_frozen(&self) -> std::io::Result<bool> {
        if self.v2 {
            let events = std::fs::read_to_string(self.control.with_file_name("cgroup.events"))?;
            Ok(events.lines().any(|l| l.trim() == "frozen 1"))
        } else {
            Ok(std::fs::read_to_string(&self.control)?.trim() == "FROZEN")
        }
    }

    /// Lets the processes run again.
    ///
    /// # Errors
    /// The control file cannot be written (the cgroup is gone: so are its processes).
    pub fn thaw(mut self) -> std::io::Result<()> {
        self.thawed = true;
        std::fs::write(&self.control, if self.v2 { "0" } else { "THAWED" })
    }
}

impl Drop for Frozen {
    fn drop(&mut self) {
        if !self.thawed {
            let _ = std::fs::write(&self.control, if self.v2 { "0" } else { "THAWED" });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_freezer_is_found_in_either_cgroup_version() {
        let root = tempfile::tempdir().unwrap();
        // This process's own table: whatever it is, the answer names a control file
        // under the root given, or says there is none.
        match control_of(std::process::id(), root.path()) {
            Ok((path, _)) => assert!(path.starts_with(root.path())),
            Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::NotFound),
        }
    }
}
