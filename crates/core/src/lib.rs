//! The pure core of roost: no IO, no clocks, no async.
//!
//! [`reconcile::plan`] maps (desired state, observed state, now) to a list of
//! [`reconcile::Action`]s. Drivers observe the world into [`observed`] types and apply
//! the actions; the agent loops. Everything here is tested as data.
#![forbid(unsafe_code)]

pub mod handoff;
pub mod labels;
pub mod name_clash;
pub mod observed;
pub mod placement;
pub mod hash;
pub mod reconcile;
pub mod rollout;
pub mod status;
pub mod validate;
