//! The cluster network, pure: how containers of one stack reach each other by name
//! wherever the scheduler put them.
//!
//! Every service gets a stable **service address** from a cluster range
//! ([`addr::RANGE`], recorded in Raft, the same on every node). A container's DNS
//! queries for names Docker's embedded DNS does not know (a service with no replica on
//! this node) reach the agent ([`dns`]), which answers the service address when the
//! asking container shares a network with that service. Connections to a service
//! address are steered by the node's firewall to the agent ([`rules`]), which forwards
//! them to a healthy replica: on its own node directly, on another node through a
//! mutual-TLS tunnel between agents ([`tunnel`]), so traffic between nodes is always
//! encrypted. Which replica, and what each network may reach, are data here
//! ([`steer`], [`backends`]); the agent only carries them out.
//!
//! Nothing here does IO.
#![forbid(unsafe_code)]

pub mod addr;
pub mod backends;
pub mod dns;
pub mod rules;
pub mod steer;
pub mod tunnel;
pub mod wire;

pub use addr::{Subnet, DNS_ADDR, RANGE};
pub use steer::{LocalNetwork, Steering};
