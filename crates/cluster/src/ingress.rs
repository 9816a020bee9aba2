//! The ingress's replicated part: the ingress CA, ACME settings and accounts,
//! certificates and HTTP-01 answers, so every node serves the same certificate
//! and answers the CA's validation, and any new leader knows what to renew.
//!
//! The certificate types are `roost-certs`' plain serde data; nothing here
//! talks to a CA.

use crate::state::ClusterState;
use crate::types::{CommandResponse, Redacted};
use roost_certs::{IngressCa, StoredAccount, StoredCert};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How to reach one ACME resolver's CA (`roost acme set`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AcmeResolver {
    /// The directory URL (https).
    pub directory: String,
    /// Account contacts, `mailto:` URLs, for the CA's expiry notices.
    #[serde(default)]
    pub contact: Vec<String>,
    /// A PEM root to trust besides Mozilla's, for a private CA (pebble, step-ca).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_ca_pem: Option<String>,
}

/// ACME resolvers by the name routes use, and the account of each.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct AcmeSettings {
    #[serde(default)]
    pub resolvers: BTreeMap<String, AcmeResolver>,
    /// Secret: the account keys.
    #[serde(default)]
    pub accounts: BTreeMap<String, StoredAccount>,
}

/// A change to the ingress's replicated state.
///
/// `Debug` is hand-written (below) so private keys and ACME account credentials
/// never end up in logs, whatever the `roost-certs` types print.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum IngressCommand {
    /// Set the ingress CA; the first one wins.
    SetCa { ca: IngressCa },
    /// Configure a resolver with the account registered for it (`None`: the leader
    /// registers one when it first needs it). Replaces the resolver's old account,
    /// which belonged to the old settings.
    SetAcmeResolver { name: String, resolver: AcmeResolver, account: Option<StoredAccount> },
    /// Store the account the leader registered for a resolver.
    SetAcmeAccount { name: String, account: StoredAccount },
    /// Store (or replace) the certificate under `key` ([`cert_key`]).
    PutCert { key: String, cert: StoredCert },
    RemoveCert { key: String },
    /// Answer `GET /.well-known/acme-challenge/{token}` on every node.
    SetChallenge { token: String, key_authorization: String },
    RemoveChallenge { token: String },
}

/// A [`StoredAccount`] as `Debug` shows it: without its credentials.
struct AccountDebug<'a>(&'a StoredAccount);

impl std::fmt::Debug for AccountDebug<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredAccount")
            .field("resolver", &self.0.resolver)
            .field("directory", &self.0.directory)
            .field("credentials", &Redacted)
            .finish()
    }
}

/// A [`StoredCert`] as `Debug` shows it: without its private key (and chain).
struct CertDebug<'a>(&'a StoredCert);

impl std::fmt::Debug for CertDebug<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredCert")
            .field("hosts", &self.0.hosts)
            .field("not_before", &self.0.not_before)
            .field("not_after", &self.0.not_after)
            .field("issuer", &self.0.issuer)
            .field("key_pem", &Redacted)
            .finish_non_exhaustive()
    }
}

// Hand-written: see the type's documentation.
impl std::fmt::Debug for IngressCommand {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IngressCommand::SetCa { ca: _ } => f.debug_struct("SetCa").field("ca", &Redacted).finish(),
            IngressCommand::SetAcmeResolver { name, resolver, account } => f
                .debug_struct("SetAcmeResolver")
                .field("name", name)
                .field("resolver", resolver)
                .field("account", &account.as_ref().map(AccountDebug))
                .finish(),
            IngressCommand::SetAcmeAccount { name, account } => {
                f.debug_struct("SetAcmeAccount").field("name", name).field("account", &AccountDebug(account)).finish()
            }
            IngressCommand::PutCert { key, cert } => f.debug_struct("PutCert").field("key", key).field("cert", &CertDebug(cert)).finish(),
            IngressCommand::RemoveCert { key } => f.debug_struct("RemoveCert").field("key", key).finish(),
            IngressCommand::SetChallenge { token, key_authorization } => {
                f.debug_struct("SetChallenge").field("token", token).field("key_authorization", key_authorization).finish()
            }
            IngressCommand::RemoveChallenge { token } => f.debug_struct("RemoveChallenge").field("token", token).finish(),
        }
    }
}

/// The key a certificate is stored under: its hosts, sorted, joined by `,`.
pub fn cert_key(hosts: &[String]) -> String {
    let mut hosts: Vec<&str> = hosts.iter().map(String::as_str).collect();
    hosts.sort_unstable();
    hosts.dedup();
    hosts.join(",")
}

pub(crate) fn apply(state: &mut ClusterState, command: &IngressCommand) -> CommandResponse {
    let mut response = CommandResponse::default();
    match command {
        IngressCommand::SetCa { ca } => {
            // The first CA wins: people trust it in their browsers, so a racing
            // second one (two leaders in a row) must never replace it.
            let ca = state.ingress_ca.get_or_insert_with(|| ca.clone());
            response.ingress_ca_pem = Some(ca.cert_pem().to_owned());
        }
        IngressCommand::SetAcmeResolver { name, resolver, account } => {
            state.acme.resolvers.insert(name.clone(), resolver.clone());
            match account {
                Some(a) => state.acme.accounts.insert(name.clone(), a.clone()),
                None => state.acme.accounts.remove(name),
            };
        }
        IngressCommand::SetAcmeAccount { name, account } => {
            // A registration that raced `roost acme set` belongs to the old directory.
            let current = state.acme.resolvers.get(name).is_none_or(|r| r.directory == account.directory);
            if current {
                state.acme.accounts.insert(name.clone(), account.clone());
            }
        }
        IngressCommand::PutCert { key, cert } => {
            state.certs.insert(key.clone(), cert.clone());
        }
        IngressCommand::RemoveCert { key } => response.removed = state.certs.remove(key).is_some(),
        IngressCommand::SetChallenge { token, key_authorization } => {
            state.challenges.insert(token.clone(), key_authorization.clone());
        }
        IngressCommand::RemoveChallenge { token } => response.removed = state.challenges.remove(token).is_some(),
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Command;

    fn account(directory: &str) -> StoredAccount {
        StoredAccount { resolver: "default".into(), directory: directory.into(), credentials: "{}".into() }
    }

    fn resolver(directory: &str) -> AcmeResolver {
        AcmeResolver { directory: directory.into(), contact: vec![], root_ca_pem: None }
    }

    #[test]
    fn the_first_ingress_ca_wins_and_both_writers_learn_which() {
        let mut s = ClusterState::default();
        let (a, b) = (IngressCa::generate().unwrap(), IngressCa::generate().unwrap());
        let first = s.apply(&Command::Ingress(IngressCommand::SetCa { ca: a.clone() }));
        let second = s.apply(&Command::Ingress(IngressCommand::SetCa { ca: b }));
        assert_eq!(s.ingress_ca, Some(a.clone()));
        assert_eq!(first.ingress_ca_pem.as_deref(), Some(a.cert_pem()));
        assert_eq!(second.ingress_ca_pem.as_deref(), Some(a.cert_pem()));
    }

    #[test]
    fn a_new_resolver_setting_replaces_its_account_and_a_stale_registration_is_ignored() {
        let mut s = ClusterState::default();
        let set = |s: &mut ClusterState, dir: &str, acc: Option<StoredAccount>| {
            s.apply(&Command::Ingress(IngressCommand::SetAcmeResolver { name: "default".into(), resolver: resolver(dir), account: acc }))
        };
        set(&mut s, "https://a/dir", Some(account("https://a/dir")));
        assert!(s.acme.accounts.contains_key("default"));
        set(&mut s, "https://b/dir", None);
        assert!(s.acme.accounts.is_empty(), "the old directory's account is gone");
        let stale = IngressCommand::SetAcmeAccount { name: "default".into(), account: account("https://a/dir") };
        s.apply(&Command::Ingress(stale));
        assert!(s.acme.accounts.is_empty(), "an account of the old directory is not stored");
        let fresh = IngressCommand::SetAcmeAccount { name: "default".into(), account: account("https://b/dir") };
        s.apply(&Command::Ingress(fresh));
        assert_eq!(s.acme.accounts["default"].directory, "https://b/dir");
        // An unconfigured resolver (Let's Encrypt by default) keeps what it registered.
        s.apply(&Command::Ingress(IngressCommand::SetAcmeAccount { name: "le".into(), account: account("https://le/dir") }));
        assert!(s.acme.accounts.contains_key("le"));
    }

    #[test]
    fn challenges_and_certificates_come_and_go() {
        let mut s = ClusterState::default();
        let set = IngressCommand::SetChallenge { token: "t".into(), key_authorization: "t.k".into() };
        s.apply(&Command::Ingress(set));
        assert_eq!(s.challenges["t"], "t.k");
        assert!(s.apply(&Command::Ingress(IngressCommand::RemoveChallenge { token: "t".into() })).removed);
        assert!(!s.apply(&Command::Ingress(IngressCommand::RemoveChallenge { token: "t".into() })).removed);

        let ca = IngressCa::generate().unwrap();
        let cert = ca.issue(&["app.lan".into()], roost_certs::unix_now()).unwrap();
        let key = cert_key(&cert.hosts);
        s.apply(&Command::Ingress(IngressCommand::PutCert { key: key.clone(), cert: cert.clone() }));
        assert_eq!(s.certs[&key], cert);
        assert!(s.apply(&Command::Ingress(IngressCommand::RemoveCert { key })).removed);
    }

    #[test]
    fn keys_are_sorted_unique_hosts() {
        assert_eq!(cert_key(&["b.lan".into(), "a.lan".into(), "b.lan".into()]), "a.lan,b.lan");
        assert_eq!(cert_key(&["app.lan".into()]), "app.lan");
    }

    #[test]
    fn commands_round_trip_through_json_and_old_state_still_loads() {
        let set = IngressCommand::SetAcmeResolver { name: "le".into(), resolver: resolver("https://a/dir"), account: Some(account("https://a/dir")) };
        for command in [Command::Ingress(IngressCommand::RemoveCert { key: "a.lan".into() }), Command::Ingress(set)] {
            let json = serde_json::to_string(&command).unwrap();
            assert_eq!(serde_json::from_str::<Command>(&json).unwrap(), command, "{json}");
        }
        // A snapshot written before the ingress fields existed.
        let old: ClusterState = serde_json::from_str(r#"{"stacks":{},"nodes":{}}"#).unwrap();
        assert!(old.ingress_ca.is_none() && old.certs.is_empty() && old.challenges.is_empty());
        assert_eq!(old.acme, AcmeSettings::default());
    }
}
