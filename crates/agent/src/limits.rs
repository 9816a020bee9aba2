//! Process limits the agent sets for itself at start.

use nix::sys::resource::{getrlimit, setrlimit, Resource};

/// Raises the soft limit on open files to the hard limit.
///
/// systemd starts services with a soft limit of 1024, which a few hundred idle
/// connections on the cluster port, the ingress and the cluster network's forwarder
/// together would exhaust; then the agent could accept nothing, not even the local
/// CLI. Go programs (dockerd among them) raise it the same way at start.
///
/// Returns the (soft) limit in force afterwards.
pub fn raise_open_files() -> Option<u64> {
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).ok()?;
    if soft < hard {
        if let Err(e) = setrlimit(Resource::RLIMIT_NOFILE, hard, hard) {
            tracing::warn!("cannot raise the open-file limit from {soft} to {hard}: {e}");
            return Some(soft);
        }
    }
    Some(hard)
}
