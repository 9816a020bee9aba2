//! Ingress routes, with no IO: which requests go to which service.
//!
//! - [`rule`]: the matching language (`Host(...)`, `PathPrefix(...)`, `&&`, `||`,
//!   parentheses, `!`), parsed from Traefik router rules or built from roost's own
//!   `x-roost` form, and matched against a request's host and path.
#![forbid(unsafe_code)]

pub mod rule;

pub use rule::Rule;
