//! Cluster state replicated with Raft.
//!
//! Every agent is a member of a cluster, a one-node cluster until it joins another, so
//! there is one code path for one node and for seven. [`state`] is the replicated state
//! and its pure apply function; [`storage`] keeps the Raft log, vote and state machine
//! in redb; [`trust`] decides which certificates and joins the cluster port refuses; [`network`] carries Raft RPCs over a [`network::Transport`] the agent
//! provides (mutual TLS); [`node::ClusterNode`] is what the agent uses: write a command,
//! read state, change membership. [`ingress`] is the ingress's part of the state:
//! its CA, ACME settings and accounts, certificates and challenge answers.
#![forbid(unsafe_code)]

pub mod ingress;
pub mod state;
pub mod storage;
pub mod types;
pub mod network;
pub mod node;
pub mod trust;
pub mod volumes;
