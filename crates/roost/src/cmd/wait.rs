//! `up --wait`: poll the agent's replica status and show progress per service until
//! every replica is ready, one has failed, or time runs out.

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use roost_api::client::Client;
use roost_api::{PsResponse, ReplicaStatus};
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::{Duration, Instant};

const POLL: Duration = Duration::from_millis(200);

pub async fn until_ready(client: &Client, stack: &str, timeout: Duration) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let mut progress = Progress::new();
    loop {
        let ps: PsResponse = client.get(&format!("/v1/ps?stack={}", super::q(stack))).await?;
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
        let ready = ps.replicas.iter().all(|r| r.desired && r.ready);
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
