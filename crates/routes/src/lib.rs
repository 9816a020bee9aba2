//! Ingress routes, with no IO: which requests go to which service.
//!
//! - [`rule`]: the matching language (`Host(...)`, `PathPrefix(...)`, `&&`, `||`,
//!   parentheses, `!`), matched against a request's host and path; [`parse`] reads it
//!   from Traefik router rule text.
//! - [`route`]: a [`Route`] (rule, container port, TLS, listeners), as stored in the spec.
//! - [`service`]: [`from_service`] reads a service's routes from its Traefik labels
//!   (`traefik` module) and its `x-roost.routes` (`xroost` module), with findings
//!   the caller places in the Compose file.
//! - [`conflict`]: routes of different owners claiming the same requests.
#![forbid(unsafe_code)]

pub mod conflict;
pub mod parse;
pub mod route;
pub mod rule;
pub mod service;
mod traefik;
mod xroost;

pub use conflict::{conflicts, Claim, Conflict};
pub use parse::{parse, ParseError, Reason};
pub use route::{Entrypoints, Route, Tls};
pub use rule::Rule;
pub use service::{from_service, Finding, FromService, Seg, ServiceInput, Severity, Subject};
