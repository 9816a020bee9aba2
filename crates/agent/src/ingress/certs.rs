//! The leader's certificate loop: every [`TICK`] while this node leads, it compares
//! what the routes need with the replicated certificates ([`need::plan`]) and
//! issues, renews and drops through Raft, so every node serves the result
//! ([`super::sync`]) and any new leader carries on where this one stopped.
//!
//! - Internal certificates are signed here at once (the CA is made and replicated on
//!   first need). ACME orders run one at a time in a task of their own, so a slow CA
//!   never delays an internal certificate, and never twice at once for one host.
//! - HTTP-01 answers go through Raft ([`RaftSink`]): whichever node the CA's
//!   request reaches answers it.
//! - A failure is logged with the host and the reason and retried after
//!   [`need::RETRY_FIRST`], doubling to [`need::RETRY_MAX`]; a failed account
//!   registration backs off the resolver as well, so many hosts never hammer the CA.
//!   `roost acme set` clears the backoff: the new settings deserve a try at once.

use super::need::{self, Backoff, Step, Want};
use crate::Agent;
use roost_certs::{async_trait, unix_now, AcmeAccount, AcmeConfig, ChallengeSink, IngressCa, SinkError, Timeouts};
use roost_cluster::ingress::{cert_key, AcmeSettings, IngressCommand};
use roost_cluster::types::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;

/// Cheap (a pure function over a few maps), and short enough that a certificate due
/// for renewal is seen within a second, even a 20-second test one.
const TICK: Duration = Duration::from_secs(1);

/// An ACME order's outcome: the host, and what failed (the account or the order).
type Outcome = (String, Result<(), Failure>);

#[derive(Debug)]
enum Failure {
    /// Registering or restoring the account of this resolver failed.
    Account(String, String),
    Order(String),
}

pub async fn run(agent: Arc<Agent>) {
    let mut backoff = Backoff::default();
    let mut order: Option<JoinHandle<Outcome>> = None;
    let mut problems = Vec::new();
    let mut resolvers = None;
    loop {
        tokio::time::sleep(TICK).await;
        if agent.cluster.node().metrics().current_leader != Some(agent.cluster.id) {
            if let Some(task) = order.take() {
                task.abort();
            }
            continue;
        }
        let state = agent.cluster.state();
        if resolvers.as_ref() != Some(&state.acme.resolvers) {
            backoff.clear();
            resolvers = Some(state.acme.resolvers.clone());
        }
        let needs = need::needed(state.stacks.values().map(|s| &s.spec));
        let notes = [needs.problems.clone(), need::unconfigured(&needs, &state.acme)].concat();
        if notes != problems {
            for p in &notes {
                tracing::warn!("ingress: {p}");
            }
            problems = notes;
        }
        if let Some(task) = order.take_if(|t| t.is_finished()) {
            match task.await {
                Ok((host, outcome)) => finished(&mut backoff, &host, outcome),
                Err(e) => tracing::error!("ingress: an ACME order task failed: {e}"),
            }
        }
        if order.is_none() {
            forget_stale_challenges(&agent, &state.challenges).await;
        }
        let now = Instant::now();
        for step in need::plan(&needs, &state.certs, &state.acme, unix_now()) {
            match step {
                Step::Issue { host, want: Want::Internal } if backoff.ready(&host, now) => {
                    if let Err(e) = issue_internal(&agent, &host).await {
                        let wait = backoff.failed(&host, now);
                        tracing::warn!("ingress: cannot make the internal certificate for {host}: {e}; next try in {}s", wait.as_secs());
                    }
                }
                Step::Issue { host, want: Want::Acme { resolver } } if order.is_none() && backoff.ready(&host, now) => {
                    let (account, _) = need::effective(&state.acme, &resolver);
                    if backoff.ready(&format!("account {account}"), now) {
                        let what = if state.certs.contains_key(&host) { "renewing" } else { "ordering" };
                        let directory = need::effective(&state.acme, &resolver).1.directory;
                        tracing::info!("ingress: {what} the certificate for {host} at {directory} (ACME resolver {resolver})");
                        order = Some(tokio::spawn(acme_order(agent.clone(), state.acme.clone(), host, resolver)));
                    }
                }
                Step::Drop { key } => {
                    tracing::info!("ingress: dropping the certificate for {key}: no route needs it and it is due for renewal");
                    write(&agent, IngressCommand::RemoveCert { key }).await;
                }
                Step::Issue { .. } => {}
            }
        }
    }
}

fn finished(backoff: &mut Backoff, host: &str, outcome: Result<(), Failure>) {
    let now = Instant::now();
    match outcome {
        Ok(()) => {
            backoff.succeeded(host);
            tracing::info!("ingress: got a certificate for {host}");
        }
        Err(Failure::Account(resolver, e)) => {
            let wait = backoff.failed(&format!("account {resolver}"), now).max(backoff.failed(host, now));
            tracing::warn!("ingress: no certificate for {host}: the ACME account of resolver {resolver}: {e}; next try in {}s", wait.as_secs());
        }
        Err(Failure::Order(e)) => {
            let wait = backoff.failed(host, now);
            tracing::warn!("ingress: no certificate for {host}: {e}; next try in {}s", wait.as_secs());
        }
    }
}

/// The certificate of the ingress CA, which is made and replicated first if the
/// cluster has none (the first one written wins, and the write answers which).
///
/// # Errors
/// The CA cannot be generated, or no quorum.
pub(crate) async fn ingress_ca_pem(agent: &Agent) -> anyhow::Result<String> {
    if let Some(ca) = agent.cluster.state().ingress_ca {
        return Ok(ca.cert_pem().to_owned());
    }
    let ca = IngressCa::generate()?;
    let written = agent.cluster.write(Command::Ingress(IngressCommand::SetCa { ca })).await?;
    written.ingress_ca_pem.ok_or_else(|| anyhow::anyhow!("the leader did not say which ingress CA is in effect"))
}

async fn issue_internal(agent: &Agent, host: &str) -> anyhow::Result<()> {
    if agent.cluster.state().ingress_ca.is_none() {
        ingress_ca_pem(agent).await?;
    }
    // Applied here before the write returned: this node leads.
    let ca = agent.cluster.state().ingress_ca.ok_or_else(|| anyhow::anyhow!("the ingress CA is not applied here yet"))?;
    let cert = ca.issue(&[host.to_owned()], unix_now())?;
    let key = cert_key(&cert.hosts);
    agent.cluster.write(Command::Ingress(IngressCommand::PutCert { key, cert })).await?;
    tracing::info!("ingress: issued an internal certificate for {host}");
    Ok(())
}

async fn acme_order(agent: Arc<Agent>, acme: AcmeSettings, host: String, resolver: String) -> Outcome {
    let outcome = order_inner(&agent, &acme, &host, &resolver).await;
    (host, outcome)
}

async fn order_inner(agent: &Arc<Agent>, acme: &AcmeSettings, host: &str, resolver: &str) -> Result<(), Failure> {
    let (name, settings) = need::effective(acme, resolver);
    let config = AcmeConfig {
        resolver: name.clone(),
        directory: settings.directory.clone(),
        extra_root_pem: settings.root_ca_pem.clone(),
        contact: settings.contact.clone(),
        timeouts: Timeouts::default(),
    };
    let account_failed = |e: String| Failure::Account(name.clone(), e);
    let account = match acme.accounts.get(&name).filter(|a| a.directory == config.directory) {
        Some(stored) => AcmeAccount::restore(&config, stored).await.map_err(|e| account_failed(e.to_string()))?,
        None => {
            let (account, stored) = AcmeAccount::create(&config).await.map_err(|e| account_failed(e.to_string()))?;
            let store = IngressCommand::SetAcmeAccount { name: name.clone(), account: stored };
            agent.cluster.write(Command::Ingress(store)).await.map_err(|e| account_failed(e.to_string()))?;
            account
        }
    };
    let sink = RaftSink { agent: agent.clone() };
    let cert = account.issue(&[host.to_owned()], &sink).await.map_err(|e| Failure::Order(e.to_string()))?;
    let key = cert_key(&cert.hosts);
    agent.cluster.write(Command::Ingress(IngressCommand::PutCert { key, cert })).await.map_err(|e| Failure::Order(e.to_string()))?;
    Ok(())
}

/// Answers left over from an order that did not finish (a leader that died or lost
/// its post mid-order): with no order under way, every replicated answer is stale.
async fn forget_stale_challenges(agent: &Agent, challenges: &std::collections::BTreeMap<String, String>) {
    for token in challenges.keys() {
        write(agent, IngressCommand::RemoveChallenge { token: token.clone() }).await;
    }
}

async fn write(agent: &Agent, command: IngressCommand) {
    if let Err(e) = agent.cluster.write(Command::Ingress(command)).await {
        tracing::warn!("ingress: cannot write a certificate change: {e}");
    }
}

/// Publishes HTTP-01 answers through Raft. `set` returns once every node can answer:
/// committed, replicated to every follower (at most [`REPLICATE_WAIT`] for ones
/// that lag or are down), and one sync period later.
struct RaftSink {
    agent: Arc<Agent>,
}

const REPLICATE_WAIT: Duration = Duration::from_secs(2);

#[async_trait]
impl ChallengeSink for RaftSink {
    async fn set(&self, token: &str, key_authorization: &str) -> Result<(), SinkError> {
        let set = IngressCommand::SetChallenge { token: token.to_owned(), key_authorization: key_authorization.to_owned() };
        self.agent.cluster.write(Command::Ingress(set)).await?;
        let node = self.agent.cluster.node();
        let written = node.metrics().last_applied.map_or(0, |l| l.index);
        let deadline = Instant::now() + REPLICATE_WAIT;
        while Instant::now() < deadline {
            let metrics = node.metrics();
            let everywhere = metrics.replication.as_ref().is_none_or(|followers| {
                followers.values().all(|matched| matched.is_some_and(|m| m.index >= written))
            });
            if everywhere {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::time::sleep(super::REFRESH + Duration::from_millis(50)).await;
        Ok(())
    }

    async fn remove(&self, token: &str) -> Result<(), SinkError> {
        let remove = IngressCommand::RemoveChallenge { token: token.to_owned() };
        self.agent.cluster.write(Command::Ingress(remove)).await?;
        Ok(())
    }
}
