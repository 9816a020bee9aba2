#![forbid(unsafe_code)]
//! roost's Docker Engine driver: a thin layer over [bollard].
//!
//! - [`config`] maps the normalized [`roost_spec::Stack`] to Docker API bodies; it is
//!   pure and snapshot-tested, so the mapping can be reviewed as data.
//! - [`status`] turns container list rows into [`roost_core::observed`] values.
//! - [`Driver`] does the IO, one engine call per step, with errors mapped to
//!   [`DriverError`] variants the agent can act on.

pub mod config;
mod driver;
mod error;
mod volume_ops;
pub mod status;

pub use config::{container_config, extra_networks, network_config, volume_config};
pub use driver::{ContainerEvent, Driver};
pub use error::{address_pools_exhausted, port_in_use, DriverError};

/// The bollard version this driver is built on, for callers that use its models
/// (e.g. the body [`container_config`] returns).
pub use bollard;
