//! The replicated cluster state and how a command changes it: pure, no IO.

use crate::types::{Command, CommandResponse, NodeId};
use roost_core::reconcile::SlotKey;
use roost_spec::Stack;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Where every replica slot runs, as the leader's scheduler decided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct PlacementState {
    #[serde(default, with = "pairs")]
    pub assignments: BTreeMap<SlotKey, NodeId>,
    /// Slots that fit on no node, with the reason.
    #[serde(default, with = "pairs")]
    pub unplaceable: BTreeMap<SlotKey, String>,
    /// Slots kept on the node that holds their local volume, with a note for `ps`.
    #[serde(default, with = "pairs")]
    pub volume_bound: BTreeMap<SlotKey, String>,
}

/// JSON object keys must be strings, so maps keyed by [`SlotKey`] travel as pairs.
mod pairs {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use std::collections::BTreeMap;

    pub fn serialize<K: Serialize, V: Serialize, S: Serializer>(
        m: &BTreeMap<K, V>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.collect_seq(m.iter())
    }

    pub fn deserialize<'de, K, V, D>(d: D) -> Result<BTreeMap<K, V>, D::Error>
    where
        K: Deserialize<'de> + Ord,
        V: Deserialize<'de>,
        D: Deserializer<'de>,
    {
        Ok(Vec::<(K, V)>::deserialize(d)?.into_iter().collect())
    }
}

/// A stack as stored, with the generation that counts its changes and the node it runs
/// on (until the scheduler assigns replicas one by one).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredStack {
    pub spec: Stack,
    pub generation: u64,
    #[serde(default)]
    pub node: NodeId,
    /// The version before the last change, for `roost rollback` (the whole stack).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<Stack>,
    /// Set when roost rolled this stack back by itself; no further automatic rollback
    /// happens until the next deploy, so a failing old version cannot flip-flop.
    #[serde(default)]
    pub auto_rolled_back: bool,
}

/// What the cluster knows about a member.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeInfo {
    pub id: NodeId,
    pub name: String,
    /// `host:port` other nodes reach it at.
    pub addr: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub witness: bool,
    #[serde(default)]
    pub resources: Resources,
    /// SHA-256 of the node's certificate (DER, hex), recorded when it joined, so that
    /// removing the node revokes exactly that certificate (see [`crate::trust`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_sha256: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Resources {
    pub cpus: u32,
    pub memory_bytes: u64,
    #[serde(default)]
    pub gpus: Vec<String>,
    #[serde(default)]
    pub devices: Vec<String>,
}

/// Everything Raft replicates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ClusterState {
    pub stacks: BTreeMap<String, StoredStack>,
    pub nodes: BTreeMap<NodeId, NodeInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca: Option<CaKeys>,
    /// Hashes ([`roost_pki::JoinToken::secret_hash`]) of the join-token secrets the
    /// cluster accepts, oldest first. Only hashes: a token is shown once, by the
    /// `roost token` that made it, and nothing on disk can be replayed as one.
    #[serde(default)]
    pub join_secrets: Vec<String>,
    /// Hashes of the secrets of tokens a remote CLI may use on the cluster port.
    #[serde(default)]
    pub cli_secrets: Vec<String>,
    #[serde(default)]
    pub placement: PlacementState,
    /// Nodes being drained: they get no replicas.
    #[serde(default)]
    pub draining: BTreeSet<NodeId>,
    /// Slots of services with `update_config` that a rolling update lets move to the
    /// new version now.
    #[serde(default)]
    pub rollout: BTreeSet<SlotKey>,
    /// Signs certificates for routes with `tls: internal` (see [`crate::ingress`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress_ca: Option<roost_certs::IngressCa>,
    #[serde(default)]
    pub acme: crate::ingress::AcmeSettings,
    /// Ingress certificates by [`crate::ingress::cert_key`].
    #[serde(default)]
    pub certs: BTreeMap<String, roost_certs::StoredCert>,
    /// ACME HTTP-01 answers of orders under way: token → key authorization.
    #[serde(default)]
    pub challenges: BTreeMap<String, String>,
    /// The cluster network's address of every service (`STACK/SERVICE`, see
    /// [`roost_net::addr`]), of the current and the previous version of each stack, so
    /// a rollback keeps them too. Kept by [`ClusterState::apply`] itself.
    #[serde(default)]
    pub service_addrs: BTreeMap<String, std::net::Ipv4Addr>,
    /// Certificates of removed nodes (SHA-256 of the DER, hex): the cluster port treats
    /// them as strangers although the cluster CA signed them (see [`crate::trust`]).
    #[serde(default)]
    pub revoked_certs: BTreeSet<String>,
    /// Replicated volumes: the repositories' password and who holds which snapshot.
    #[serde(default)]
    pub volumes: crate::volumes::VolumesState,
    /// `roost move STACK/SERVICE NODE` under way: the service's slots may go only to
    /// that node until they are all there, by `STACK/SERVICE`.
    #[serde(default)]
    pub moves: BTreeMap<String, NodeId>,
}

/// The cluster CA, replicated so any leader can sign joining nodes.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct CaKeys {
    pub cert_pem: String,
    pub key_pem: String,
}

impl std::fmt::Debug for CaKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CaKeys { .. }")
    }
}

impl ClusterState {
    /// Applies one command. Deterministic: every replica computes the same result.
    pub fn apply(&mut self, command: &Command) -> CommandResponse {
        let response = self.apply_command(command);
        // After a stack change; and once after an upgrade from a version without
        // service addresses, at whatever command comes first (every member applies the
        // same log, so they agree).
        let stacks_changed = matches!(
            command,
            Command::PutStack { .. } | Command::RemoveStack { .. } | Command::Rollback { .. }
        );
        if stacks_changed || self.service_without_address() {
            self.allocate_service_addrs();
        }
        response
    }

    fn service_without_address(&self) -> bool {
        self.stacks.values().any(|s| {
            s.spec.services.keys().any(|svc| {
                !self
                    .service_addrs
                    .contains_key(&roost_net::addr::key(&s.spec.name, svc))
            })
        })
    }

    /// Gives every service of every stack (current and previous version) an address,
    /// keeping the ones it has, and frees the rest.
    fn allocate_service_addrs(&mut self) {
        let wanted = self
            .stacks
            .values()
            .flat_map(|s| std::iter::once(&s.spec).chain(s.previous.as_ref()))
            .flat_map(|spec| {
                spec.services
                    .keys()
                    .map(|svc| roost_net::addr::key(&spec.name, svc))
            })
            .collect();
        self.service_addrs = roost_net::addr::allocate(&self.service_addrs, &wanted);
    }

    fn apply_command(&mut self, command: &Command) -> CommandResponse {
        match command {
            Command::PutStack { stack, node } => {
                let old = self.stacks.get(&stack.name);
                let (generation, previous) = match old {
                    Some(old) if old.spec == *stack && old.node == *node => {
                        (old.generation, old.previous.clone())
                    }
                    Some(old) => (old.generation + 1, Some(old.spec.clone())),
                    None => (1, None),
                };
                let stored = StoredStack {
                    spec: stack.clone(),
                    generation,
                    node: *node,
                    previous,
                    auto_rolled_back: false,
                };
                self.stacks.insert(stack.name.clone(), stored.clone());
                CommandResponse {
                    stack: Some(stored),
                    ..Default::default()
                }
            }
            Command::RemoveStack { name } => {
                let removed = self.stacks.remove(name);
                self.placement.assignments.retain(|k, _| k.stack != *name);
                self.placement.unplaceable.retain(|k, _| k.stack != *name);
                self.placement.volume_bound.retain(|k, _| k.stack != *name);
                CommandResponse {
                    stack: removed,
                    ..Default::default()
                }
                .with_removed()
            }
            Command::PutNode { node } => {
                self.nodes.insert(node.id, node.clone());
                CommandResponse::default()
            }
            Command::RemoveNode { id } => {
                let removed_node = self.nodes.remove(id);
                let removed = removed_node.is_some();
                if let Some(cert) = removed_node.and_then(|n| n.cert_sha256) {
                    self.revoked_certs.insert(cert);
                }
                self.draining.remove(id);
                for holders in self.volumes.held.values_mut() {
                    holders.remove(id);
                }
                CommandResponse {
                    removed,
                    ..Default::default()
                }
            }
            Command::SetCa { cert_pem, key_pem } => {
                // The first CA wins: a replayed or racing SetCa never swaps trust roots.
                if self.ca.is_none() {
                    self.ca = Some(CaKeys {
                        cert_pem: cert_pem.clone(),
                        key_pem: key_pem.clone(),
                    });
                }
                CommandResponse::default()
            }
            Command::SetJoinSecrets { hashes } => {
                self.join_secrets = hashes.clone();
                CommandResponse::default()
            }
            Command::Rollback { name, automatic } => {
                let Some(stored) = self.stacks.get_mut(name) else {
                    return CommandResponse::default();
                };
                let Some(previous) = stored.previous.take() else {
                    return CommandResponse::default();
                };
                let current = std::mem::replace(&mut stored.spec, previous);
                stored.previous = Some(current);
                stored.generation += 1;
                stored.auto_rolled_back = *automatic;
                CommandResponse {
                    stack: Some(stored.clone()),
                    ..Default::default()
                }
            }
            Command::SetPlacement { placement } => {
                self.placement = placement.clone();
                CommandResponse::default()
            }
            Command::SetRollout { slots } => {
                self.rollout = slots.iter().cloned().collect();
                CommandResponse::default()
            }
            Command::SetMove { service, node } => {
                match node {
                    Some(n) => self.moves.insert(service.clone(), *n),
                    None => self.moves.remove(service),
                };
                CommandResponse::default()
            }
            Command::SetDraining { node, draining } => {
                if *draining {
                    self.draining.insert(*node);
                } else {
                    self.draining.remove(node);
                }
                CommandResponse::default()
            }
            Command::SetCliSecrets { hashes } => {
                self.cli_secrets = hashes.clone();
                CommandResponse::default()
            }
            Command::AddJoinSecret { hash } => {
                keep_newest(&mut self.join_secrets, hash);
                CommandResponse::default()
            }
            Command::AddCliSecret { hash } => {
                keep_newest(&mut self.cli_secrets, hash);
                CommandResponse::default()
            }
            Command::Ingress(command) => crate::ingress::apply(self, command),
            Command::Volumes(command) => crate::volumes::apply(self, command),
        }
    }
}

/// How many tokens of each kind stay valid at once: each `roost token` makes a new one
/// (an earlier one cannot be shown again), and the oldest beyond this stops working.
pub const LIVE_TOKENS: usize = 5;

fn keep_newest(hashes: &mut Vec<String>, hash: &str) {
    hashes.retain(|h| h != hash);
    hashes.push(hash.to_owned());
    let excess = hashes.len().saturating_sub(LIVE_TOKENS);
    hashes.drain(..excess);
}

impl CommandResponse {
    fn with_removed(mut self) -> Self {
        self.removed = self.stack.is_some();
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generations_count_changes_and_the_first_ca_wins() {
        let mut s = ClusterState::default();
        let stack = Stack {
            name: "app".into(),
            ..Default::default()
        };
        let put = |node| Command::PutStack {
            stack: stack.clone(),
            node,
        };
        assert_eq!(s.apply(&put(1)).stack.unwrap().generation, 1);
        assert_eq!(s.apply(&put(1)).stack.unwrap().generation, 1);
        assert_eq!(
            s.apply(&put(2)).stack.unwrap().generation,
            2,
            "moving it is a change"
        );
        assert!(
            s.apply(&Command::RemoveStack { name: "app".into() })
                .removed
        );
        assert!(
            !s.apply(&Command::RemoveStack { name: "app".into() })
                .removed
        );

        assert!(
            s.service_addrs.is_empty(),
            "a removed stack frees its addresses"
        );

        s.apply(&Command::SetCa {
            cert_pem: "a".into(),
            key_pem: "k".into(),
        });
        s.apply(&Command::SetCa {
            cert_pem: "b".into(),
            key_pem: "k".into(),
        });
        assert_eq!(s.ca.as_ref().unwrap().cert_pem, "a");
    }

    #[test]
    fn services_get_addresses_that_survive_updates_and_rollback() {
        use roost_spec::Service;
        let mut s = ClusterState::default();
        let stack = |services: &[&str]| Stack {
            name: "app".into(),
            services: services
                .iter()
                .map(|n| (n.to_string(), Service::default()))
                .collect(),
            ..Default::default()
        };
        s.apply(&Command::PutStack {
            stack: stack(&["web", "db"]),
            node: 1,
        });
        let db = s.service_addrs["app/db"];
        // v2 drops db: it keeps its address while v1 is the rollback target.
        s.apply(&Command::PutStack {
            stack: stack(&["web", "cache"]),
            node: 1,
        });
        assert_eq!(s.service_addrs["app/db"], db);
        s.apply(&Command::Rollback {
            name: "app".into(),
            automatic: false,
        });
        assert_eq!(s.service_addrs["app/db"], db);
        assert_eq!(s.service_addrs.len(), 3);
    }

    #[test]
    fn state_from_before_service_addresses_gets_them_at_the_next_command() {
        let mut s = ClusterState::default();
        let stack = Stack {
            name: "old".into(),
            services: [("web".to_string(), roost_spec::Service::default())].into(),
            ..Default::default()
        };
        s.stacks.insert(
            "old".into(),
            StoredStack {
                spec: stack,
                generation: 1,
                node: 1,
                previous: None,
                auto_rolled_back: false,
            },
        );
        s.apply(&Command::SetDraining {
            node: 1,
            draining: false,
        });
        assert!(s.service_addrs.contains_key("old/web"));
    }
}
