//! `up --wait`: poll the agent's replica status and show progress per service until
//! every replica of the deployed version is ready, one has failed, or time runs out.
//!
//! Scripts trust the exit code, so success means exactly this: the stack is still at
//! the generation the deploy made (an automatic rollback or another deploy bumps it,
//! and that is a failure), and every desired replica runs that version (`up_to_date`)
//! and is ready. A replica of the old version that still serves while a rolling update
//! waits its turn does not count.

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use roost_api::client::Client;
use roost_api::{PsResponse, ReplicaStatus};
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::{Duration, Instant};

const POLL: Duration = Duration::from_millis(200);

pub async fn until_ready(client: &Client, stack: &str, generation: u64, timeout: Duration) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let mut progress = Progress::new();
    // A follower may not have applied the deploy yet: an older generation, or no stack
    // at all before it was seen, means "not yet", not "failed".
    let mut seen = false;
    loop {
        let ps: PsResponse = client.get(&format!("/v1/ps?stack={}", super::q(stack))).await?;
        let stacks: Vec<roost_api::StackSummary> = client.get("/v1/stacks").await?;
        let now = stacks.iter().find(|s| s.name == stack).map(|s| s.generation);
        seen |= now == Some(generation);
        let behind = now.is_some_and(|g| g < generation) || (now.is_none() && !seen);
        if !behind && now != Some(generation) {
            progress.finish();
            let what = match now {
                None => "was removed".to_owned(),
                Some(g) => format!("changed to generation {g} (rolled back after a failed replica, or deployed again)"),
            };
            eprintln!("error: while waiting for generation {generation}, stack {stack} {what}");
            return Ok(ExitCode::FAILURE);
        }
        let by_service = group(&ps.replicas);
        for (service, rows) in &by_service {
            progress.show(service, &summary(rows));
        }
        let failed: Vec<_> = ps.replicas.iter().filter(|r| r.failed).collect();
        if !failed.is_empty() {
            progress.finish();
            for r in &failed {
                eprintln!(
                    "error: {}-{}-{}: {}",
                    r.stack,
                    r.service,
                    r.slot,
                    r.note.as_deref().unwrap_or("failed")
                );
            }
            return Ok(ExitCode::FAILURE);
        }
        let ready = !behind && ready(&ps.replicas);
        if ready {
            progress.finish();
            eprintln!("stack {stack} is ready ({:.1}s)", started.elapsed().as_secs_f64());
            return Ok(ExitCode::SUCCESS);
        }
        if started.elapsed() > timeout {
            progress.finish();
            for r in ps.replicas.iter().filter(|r| !r.ready) {
                eprintln!("error: {}-{}-{} not ready: {} {}", r.stack, r.service, r.slot, r.state, r.note.as_deref().unwrap_or(""));
            }
            anyhow::bail!("stack {stack} was not ready within {}s", timeout.as_secs());
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Every desired replica runs the deployed version and is ready (and there are rows).
fn ready(rows: &[ReplicaStatus]) -> bool {
    rows.iter().all(|r| r.desired && r.ready && r.up_to_date)
}

fn group(rows: &[ReplicaStatus]) -> BTreeMap<String, Vec<&ReplicaStatus>> {
    let mut m: BTreeMap<String, Vec<&ReplicaStatus>> = BTreeMap::new();
    for r in rows {
        m.entry(r.service.clone()).or_default().push(r);
    }
    m
}

fn summary(rows: &[&ReplicaStatus]) -> String {
    let desired: Vec<_> = rows.iter().filter(|r| r.desired).collect();
    let ready = desired.iter().filter(|r| r.ready).count();
    let mut text = format!("{ready}/{} ready", desired.len());
    if let Some(note) = rows.iter().find_map(|r| r.note.as_deref()) {
        text.push_str(&format!(" ({note})"));
    } else if let Some(r) = desired.iter().find(|r| !r.ready) {
        text.push_str(&format!(" ({}{})", r.state, if r.health == "none" { String::new() } else { format!(", {}", r.health) }));
    }
    text
}

/// Spinners on a terminal; one line per change otherwise (logs, CI, pipes).
struct Progress {
    bars: Option<(MultiProgress, BTreeMap<String, ProgressBar>)>,
    last: BTreeMap<String, String>,
}

impl Progress {
    fn new() -> Self {
        let bars = std::io::stderr().is_terminal().then(|| (MultiProgress::new(), BTreeMap::new()));
        Progress { bars, last: BTreeMap::new() }
    }

    fn show(&mut self, service: &str, text: &str) {
        if self.last.get(service).map(String::as_str) == Some(text) {
            return;
        }
        self.last.insert(service.to_owned(), text.to_owned());
        match &mut self.bars {
            Some((multi, bars)) => {
                let bar = bars.entry(service.to_owned()).or_insert_with(|| {
                    let b = multi.add(ProgressBar::new_spinner());
                    b.set_style(ProgressStyle::with_template("{spinner} {prefix:20} {msg}").expect("template"));
                    b.set_prefix(service.to_owned());
                    b.enable_steady_tick(Duration::from_millis(120));
                    b
                });
                bar.set_message(text.to_owned());
            }
            None => eprintln!("  {service}: {text}"),
        }
    }

    fn finish(&mut self) {
        if let Some((_, bars)) = &self.bars {
            for bar in bars.values() {
                bar.finish();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(ready: bool, up_to_date: bool) -> ReplicaStatus {
        serde_json::from_value(serde_json::json!({
            "stack": "s", "service": "app", "slot": 1, "node": "n", "state": "running", "health": "healthy",
            "up_to_date": up_to_date, "desired": true, "ready": ready, "failed": false
        }))
        .unwrap()
    }

    #[test]
    fn an_old_version_that_still_serves_is_not_ready() {
        assert!(!ready(&[row(true, false)]), "the old replica serves while the update waits its turn");
        assert!(!ready(&[row(true, true), row(false, true)]));
        assert!(ready(&[row(true, true)]));
    }
}
