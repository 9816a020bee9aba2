//! Who the cluster port trusts, beyond "the cluster CA signed it".
//!
//! A certificate the cluster CA signed is valid for years, so a node removed with
//! `roost node rm` (or one that ran `roost leave`) would otherwise keep Raft access for
//! that long. The state records each member's certificate fingerprint when it joins
//! ([`NodeInfo::cert_sha256`](crate::state::NodeInfo::cert_sha256)); removing the node
//! moves that fingerprint to [`ClusterState::revoked_certs`], and the cluster port
//! treats a revoked certificate as no certificate at all.
//!
//! Revoking certificates rather than node ids lets a machine that left join again
//! under its own id: it gets a new certificate, and only the old one is refused.
//!
//! Join and CLI tokens are kept as hashes only (`join_secrets`, `cli_secrets`): each
//! `roost token` makes a new one and shows it once; the newest
//! [`LIVE_TOKENS`](crate::state::LIVE_TOKENS) stay valid until `--rotate`.
//!
//! These are pure functions of the replicated state, so every member decides alike.

use crate::state::{ClusterState, NodeInfo};
use crate::types::NodeId;

impl ClusterState {
    /// Whether the certificate with this fingerprint (see
    /// [`roost_pki::der_fingerprint`]) belongs to a removed node.
    pub fn is_revoked(&self, cert_sha256: &str) -> bool {
        self.revoked_certs.contains(cert_sha256)
    }

    /// Why a join asking for a certificate for `node_id` must be refused, if it must.
    ///
    /// An id that is a member now is refused: signing it would hand a second holder a
    /// certificate that the cluster port takes for that member (a copied data dir, or
    /// somebody with a join token impersonating a node).
    pub fn join_refusal(&self, node_id: NodeId) -> Option<String> {
        let member = self.nodes.get(&node_id)?;
        Some(format!(
            "node id {node_id:016x} is already a member of this cluster (node `{}` at {}): \
             a machine whose data dir was copied from it? Give the copy its own data dir, \
             or remove the old member first (`roost node rm {}`)",
            member.name, member.addr, member.name
        ))
    }
}

/// Why a join commit must be refused: the node it adds must be the node whose
/// certificate the caller presented, and that certificate must not be revoked.
///
/// `caller` is the node id in the client certificate of the connection the commit came
/// in on; `caller_cert` that certificate's fingerprint.
pub fn commit_refusal(state: &ClusterState, caller: NodeId, caller_cert: &str, node: &NodeInfo) -> Option<String> {
    if caller != node.id {
        return Some(format!(
            "a join commit for node id {:016x} came with the certificate of node id {caller:016x}: \
             a node can only add itself",
            node.id
        ));
    }
    if state.is_revoked(caller_cert) {
        return Some("this certificate was revoked when its node was removed: join again with a new token".into());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Command;

    fn node(id: NodeId, cert: &str) -> NodeInfo {
        NodeInfo {
            id,
            name: format!("h{id}"),
            addr: format!("10.0.0.{id}:7946"),
            labels: Default::default(),
            witness: false,
            resources: Default::default(),
            cert_sha256: Some(cert.into()),
        }
    }

    #[test]
    fn removing_a_node_revokes_its_certificate_and_only_that_one() {
        let mut state = ClusterState::default();
        state.apply(&Command::PutNode { node: node(1, "aa") });
        state.apply(&Command::PutNode { node: node(2, "bb") });
        assert!(!state.is_revoked("bb"));

        state.apply(&Command::RemoveNode { id: 2 });
        assert!(state.is_revoked("bb"));
        assert!(!state.is_revoked("aa"));

        // Node 2 joins again under its own id with a new certificate: allowed, and the
        // new certificate is not revoked while the old one stays revoked.
        assert_eq!(state.join_refusal(2), None);
        state.apply(&Command::PutNode { node: node(2, "cc") });
        assert!(!state.is_revoked("cc"));
        assert!(state.is_revoked("bb"));
    }

    #[test]
    fn a_node_from_before_fingerprints_is_removed_without_revoking_anything() {
        let mut state = ClusterState::default();
        state.apply(&Command::PutNode { node: NodeInfo { cert_sha256: None, ..node(3, "") } });
        state.apply(&Command::RemoveNode { id: 3 });
        assert!(state.revoked_certs.is_empty());
    }

    #[test]
    fn a_join_for_an_id_in_use_is_refused_naming_the_member() {
        let mut state = ClusterState::default();
        state.apply(&Command::PutNode { node: node(1, "aa") });
        let refusal = state.join_refusal(1).unwrap();
        assert!(refusal.contains("already a member") && refusal.contains("`h1` at 10.0.0.1:7946"), "{refusal}");
        assert_eq!(state.join_refusal(9), None);
    }

    #[test]
    fn tokens_are_added_up_to_a_limit_and_rotation_keeps_only_the_new_one() {
        let mut state = ClusterState::default();
        for i in 0..7 {
            state.apply(&Command::AddJoinSecret { hash: format!("h{i}") });
        }
        assert_eq!(state.join_secrets, ["h2", "h3", "h4", "h5", "h6"], "the newest LIVE_TOKENS stay");
        state.apply(&Command::AddJoinSecret { hash: "h3".into() });
        assert_eq!(state.join_secrets, ["h2", "h4", "h5", "h6", "h3"], "a repeated hash is kept once");
        state.apply(&Command::SetJoinSecrets { hashes: vec!["r".into()] });
        assert_eq!(state.join_secrets, ["r"]);
        state.apply(&Command::AddCliSecret { hash: "c".into() });
        assert_eq!((state.cli_secrets.as_slice(), state.join_secrets.as_slice()), (&["c".to_owned()][..], &["r".to_owned()][..]));
    }

    #[test]
    fn a_commit_is_bound_to_the_callers_certificate() {
        let mut state = ClusterState::default();
        state.apply(&Command::PutNode { node: node(1, "aa") });
        state.apply(&Command::PutNode { node: node(2, "bb") });
        state.apply(&Command::RemoveNode { id: 2 });

        assert_eq!(commit_refusal(&state, 5, "ee", &node(5, "ee")), None);
        let other = commit_refusal(&state, 5, "ee", &node(1, "ee")).unwrap();
        assert!(other.contains("can only add itself"), "{other}");
        let revoked = commit_refusal(&state, 2, "bb", &node(2, "bb")).unwrap();
        assert!(revoked.contains("revoked"), "{revoked}");
    }
}
