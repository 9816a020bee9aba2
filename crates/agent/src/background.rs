//! The agent's long-running tasks, supervised.
//!
//! Every loop of the agent (reconcile, scheduler, probes, ingress, cluster network…)
//! is meant to run until the agent stops. One that returns or panics would otherwise
//! vanish while the API keeps answering as if all were well, so [`Background::first_end`]
//! reports the first task that ends, by name, and the agent stops with that reason and
//! a non-zero exit: the service manager (systemd's `Restart=`) starts a fresh agent,
//! which adopts its containers (invariant 5).

use std::collections::HashMap;
use std::future::Future;
use tokio::task::{Id, JoinSet};

/// Named tasks that should never end while the agent runs.
#[derive(Default)]
pub struct Background {
    tasks: JoinSet<()>,
    names: HashMap<Id, &'static str>,
}

/// How a background task ended.
#[derive(Debug, PartialEq, Eq)]
pub struct Ended {
    pub task: &'static str,
    /// The panic message, when it panicked; `None` when it returned.
    pub panic: Option<String>,
}

impl std::fmt::Display for Ended {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.panic {
            Some(msg) => write!(f, "the agent's {} task panicked: {msg}", self.task),
            None => write!(f, "the agent's {} task stopped unexpectedly", self.task),
        }
    }
}

impl Background {
    /// Starts `task` under `name` (a few words: "reconcile loop").
    pub fn spawn(&mut self, name: &'static str, task: impl Future<Output = ()> + Send + 'static) {
        let handle = self.tasks.spawn(task);
        self.names.insert(handle.id(), name);
    }

    /// Waits for the first task to end. Pending for ever when there are none.
    ///
    /// # Cancel safety
    /// Cancel safe: a task that ends while this future is dropped is reported to the
    /// next call.
    pub async fn first_end(&mut self) -> Ended {
        let Some(result) = self.tasks.join_next_with_id().await else {
            return std::future::pending().await;
        };
        let (id, panic) = match result {
            Ok((id, ())) => (id, None),
            Err(e) => {
                let id = e.id();
                let panic = if e.is_panic() { Some(panic_message(e.into_panic())) } else { Some("cancelled".into()) };
                (id, panic)
            }
        };
        Ended { task: self.names.remove(&id).unwrap_or("unnamed"), panic }
    }

    /// Stops every task.
    pub fn abort_all(&mut self) {
        self.tasks.abort_all();
    }
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_first_task_to_end_is_named_with_its_panic() {
        let mut background = Background::default();
        background.spawn("forever", std::future::pending());
        background.spawn("scheduler", async {
            tokio::task::yield_now().await;
            panic!("index out of bounds");
        });
        let ended = background.first_end().await;
        assert_eq!(ended, Ended { task: "scheduler", panic: Some("index out of bounds".into()) });
        assert_eq!(ended.to_string(), "the agent's scheduler task panicked: index out of bounds");

        background.spawn("probe", async {});
        assert_eq!(background.first_end().await, Ended { task: "probe", panic: None });
        background.abort_all();
    }
}
