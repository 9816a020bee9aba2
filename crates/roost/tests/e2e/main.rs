//! End-to-end tests of roost on one node: the real binary, agent and dockerd.
//!
//! Each test is one of the single-node issue's acceptance criteria.

mod cluster_port;
mod former_self;
mod harness;
mod https;
mod ingress;
mod lifecycle;
mod output;
mod rejects;
mod shutdown;
