//! What volume replication asks of the engine: where a volume's files are, the process
//! of a container that writes it (to freeze its cgroup), and running a consistency hook.

use crate::error::is_not_found;
use crate::{Driver, DriverError};
use bollard::exec::{CreateExecOptions, StartExecResults};
use futures_util::StreamExt;
use std::path::PathBuf;
use std::time::Duration;

impl Driver {
    /// The directory holding volume `name`'s files on this engine's host, or `None` when
    /// the volume does not exist.
    ///
    /// # Errors
    /// The engine cannot be asked.
    pub async fn volume_mountpoint(&self, name: &str) -> Result<Option<PathBuf>, DriverError> {
        match self.docker().inspect_volume(name).await {
            Ok(v) => Ok(Some(PathBuf::from(v.mountpoint))),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(self.err(e)),
        }
    }

    /// The host PID of container `id`'s first process, while it runs.
    ///
    /// # Errors
    /// No such container, or the engine cannot be asked.
    pub async fn container_pid(&self, id: &str) -> Result<Option<u32>, DriverError> {
        let c = self.docker().inspect_container(id, None).await.map_err(|e| self.err(e))?;
        Ok(c.state.and_then(|s| s.pid).and_then(|p| u32::try_from(p).ok()).filter(|p| *p > 0))
    }

    /// Runs `command` with `sh -c` in container `id` and waits at most `timeout` for it.
    /// Returns its exit code and its output (stdout and stderr, the last 4 KiB).
    ///
    /// # Errors
    /// The exec cannot be created or started, or it ran longer than `timeout`.
    pub async fn exec_sh(&self, id: &str, command: &str, timeout: Duration) -> Result<(i64, String), DriverError> {
        let options = CreateExecOptions {
            cmd: Some(vec!["sh", "-c", command]),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            ..Default::default()
        };
        let exec = self.docker().create_exec(id, options).await.map_err(|e| self.err(e))?;
        let run = async {
            let mut output = Vec::new();
            if let StartExecResults::Attached { output: mut stream, .. } = self.docker().start_exec(&exec.id, None).await.map_err(|e| self.err(e))? {
                while let Some(chunk) = stream.next().await {
                    output.extend_from_slice(&chunk.map_err(|e| self.err(e))?.into_bytes());
                    if output.len() > 8192 {
                        output.drain(..output.len() - 4096);
                    }
                }
            }
            let code = self.docker().inspect_exec(&exec.id).await.map_err(|e| self.err(e))?.exit_code.unwrap_or(-1);
            Ok((code, String::from_utf8_lossy(&output).into_owned()))
        };
        match tokio::time::timeout(timeout, run).await {
            Ok(r) => r,
            Err(_) => Err(DriverError::Api { status: None, message: format!("`{command}` did not finish within {}s", timeout.as_secs()) }),
        }
    }
}
