//! ACME HTTP-01 challenges, answered on the plain HTTP listener before routing.

use std::collections::HashMap;
use std::sync::{PoisonError, RwLock};

/// Where challenges are asked for.
pub(crate) const PREFIX: &str = "/.well-known/acme-challenge/";

/// Token → key authorization, filled by whoever runs the ACME order. Requests
/// for unknown tokens fall through to the routes, so an application's own
/// ACME client behind the proxy keeps working.
#[derive(Debug, Default)]
pub struct Challenges {
    map: RwLock<HashMap<String, String>>,
}

impl Challenges {
    /// Answers `token` with `key_authorization` from now on.
    pub fn set(&self, token: impl Into<String>, key_authorization: impl Into<String>) {
        self.map
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(token.into(), key_authorization.into());
    }

    /// Stops answering `token` (the order is done).
    pub fn remove(&self, token: &str) {
        self.map
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(token);
    }

    /// The key authorization for `token`, if one is set.
    pub fn get(&self, token: &str) -> Option<String> {
        self.map
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(token)
            .cloned()
    }
}
