//! Which certificates the routes need and what the leader does about them: pure
//! functions of (stacks, replicated certificates and ACME settings, now), tested as
//! data. The IO is in [`super::certs`].
//!
//! - **One certificate per host name** (stored under the name itself, see
//!   `roost_cluster::ingress::cert_key`): one name whose DNS does not point here
//!   never holds back the others, and routes sharing a name share its certificate.
//! - A route with `tls: acme` naming a local host (`nas.lan`, an IP address) gets that
//!   name from the internal CA: no public CA would sign it.
//! - **ACME defaults to Let's Encrypt.** roost picks ACME by itself for public names
//!   (`Tls::default_for`), so, as with Caddy, HTTPS works without configuration. A
//!   resolver nobody configured (a Traefik `certresolver` name) uses the `default`
//!   resolver's settings and account, so one `roost acme set` covers every label.
//! - A certificate no route needs any more is kept (a stack taken down and up again
//!   must not cost another ACME order; CAs limit duplicates) but not renewed: it is
//!   dropped once it is due.

use roost_certs::{Issuer, StoredCert, LETS_ENCRYPT};
use roost_cluster::ingress::{AcmeResolver, AcmeSettings};
use roost_routes::route::{is_local, DEFAULT_RESOLVER};
use roost_routes::Tls;
use roost_spec::Stack;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

/// Where a host's certificate comes from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Want {
    Internal,
    Acme { resolver: String },
}

/// What the routes need: a [`Want`] per host name, and what cannot be served well.
#[derive(Debug, Default, PartialEq)]
pub struct Needs {
    pub hosts: BTreeMap<String, Want>,
    pub problems: Vec<String>,
}

/// The certificates the HTTPS routes of `stacks` need.
pub fn needed<'a>(stacks: impl IntoIterator<Item = &'a Stack>) -> Needs {
    let mut needs = Needs::default();
    for stack in stacks {
        for (service, spec) in &stack.services {
            for route in spec.routes.iter().filter(|r| r.entrypoints.https && r.tls != Tls::Off) {
                let hosts = route.rule.hosts();
                let at = format!("{}/{service} route {}", stack.name, route.name);
                if hosts.is_empty() {
                    needs.problems.push(format!("{at} is served on HTTPS but names no host: it gets the fallback certificate"));
                }
                for host in hosts {
                    let host = host.trim().trim_end_matches('.').to_ascii_lowercase();
                    let want = match &route.tls {
                        Tls::Acme { .. } if is_local(&host) || host.parse::<std::net::IpAddr>().is_ok() => {
                            needs.problems.push(format!("{at}: no public CA signs {host}, so it gets a certificate of the internal CA (`roost ca export`)"));
                            Want::Internal
                        }
                        Tls::Acme { resolver } => Want::Acme { resolver: resolver.clone() },
                        _ => Want::Internal,
                    };
                    let entry = needs.hosts.entry(host.clone()).or_insert_with(|| want.clone());
                    if *entry != want {
                        // One certificate per name: the publicly trusted one serves everybody.
                        needs.problems.push(format!("{at}: other routes want another certificate for {host}; ACME wins"));
                        *entry = (*entry).clone().max(want);
                    }
                }
            }
        }
    }
    needs
}

/// The settings a route's `resolver` uses, and the resolver name whose account it
/// orders with: its own when configured, else the `default` resolver's, else Let's
/// Encrypt's production CA.
pub fn effective(acme: &AcmeSettings, resolver: &str) -> (String, AcmeResolver) {
    if let Some(r) = acme.resolvers.get(resolver) {
        return (resolver.to_owned(), r.clone());
    }
    let default = acme.resolvers.get(DEFAULT_RESOLVER).cloned();
    let settings = default.unwrap_or_else(|| AcmeResolver { directory: LETS_ENCRYPT.into(), contact: vec![], root_ca_pem: None });
    (DEFAULT_RESOLVER.to_owned(), settings)
}

/// A note for each resolver routes name that `roost acme set` never configured, saying
/// which CA its certificates come from instead.
pub fn unconfigured(needs: &Needs, acme: &AcmeSettings) -> Vec<String> {
    let named: BTreeSet<&str> = needs
        .hosts
        .values()
        .filter_map(|w| match w {
            Want::Acme { resolver } => Some(resolver.as_str()),
            Want::Internal => None,
        })
        .collect();
    named
        .into_iter()
        .filter(|name| !acme.resolvers.contains_key(*name))
        .map(|name| {
            let (_, settings) = effective(acme, name);
            format!("ACME resolver `{name}` is not configured (`roost acme set --resolver {name}`): its certificates come from {}", settings.directory)
        })
        .collect()
}

/// Whether `cert` came from where `want` says (for ACME: the resolver's current
/// directory, so `roost acme set` to another CA replaces its certificates).
fn from_wanted_issuer(cert: &StoredCert, want: &Want, acme: &AcmeSettings) -> bool {
    match want {
        Want::Internal => cert.issuer == Issuer::Internal,
        Want::Acme { resolver } => {
            let (name, settings) = effective(acme, resolver);
            cert.issuer == Issuer::Acme { resolver: name, directory: settings.directory }
        }
    }
}

/// One thing the leader should do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Get a (new) certificate for `host`; the old one serves meanwhile.
    Issue { host: String, want: Want },
    /// Forget a certificate no route needs that is due for renewal.
    Drop { key: String },
}

/// What to do at `now` (Unix seconds): internal issues first (they take
/// milliseconds), then ACME orders, then drops.
pub fn plan(needs: &Needs, certs: &BTreeMap<String, StoredCert>, acme: &AcmeSettings, now: i64) -> Vec<Step> {
    let mut steps: Vec<Step> = needs
        .hosts
        .iter()
        .filter(|(host, want)| {
            !certs.get(*host).is_some_and(|c| c.covers(host) && !c.needs_renewal(now) && from_wanted_issuer(c, want, acme))
        })
        .map(|(host, want)| Step::Issue { host: host.clone(), want: want.clone() })
        .collect();
    steps.sort_by_key(|s| matches!(s, Step::Issue { want: Want::Acme { .. }, .. }));
    steps.extend(
        certs.iter().filter(|(key, c)| !needs.hosts.contains_key(*key) && c.needs_renewal(now)).map(|(key, _)| Step::Drop { key: key.clone() }),
    );
    steps
}

/// The first retry after a failure; doubled per further failure.
pub const RETRY_FIRST: Duration = Duration::from_secs(60);
/// The longest wait between attempts: a CA is never asked more than hourly for a name
/// that keeps failing (Let's Encrypt allows 5 failed validations per name and hour).
pub const RETRY_MAX: Duration = Duration::from_secs(3600);

/// Failures per key (a host, or an ACME account), and when the next attempt may be.
#[derive(Debug, Default)]
pub struct Backoff {
    failing: HashMap<String, (u32, Instant)>,
}

impl Backoff {
    pub fn ready(&self, key: &str, now: Instant) -> bool {
        self.failing.get(key).is_none_or(|(_, next)| now >= *next)
    }

    /// Records a failure; returns how long `key` now waits.
    pub fn failed(&mut self, key: &str, now: Instant) -> Duration {
        let failures = self.failing.get(key).map_or(0, |(n, _)| *n) + 1;
        let wait = RETRY_FIRST.saturating_mul(1 << (failures - 1).min(16)).min(RETRY_MAX);
        self.failing.insert(key.to_owned(), (failures, now + wait));
        wait
    }

    pub fn succeeded(&mut self, key: &str) {
        self.failing.remove(key);
    }

    /// Forgets every failure: the settings changed, so the next attempt may succeed.
    pub fn clear(&mut self) {
        self.failing.clear();
    }
}

#[cfg(test)]
#[path = "need_tests.rs"]
mod tests;
