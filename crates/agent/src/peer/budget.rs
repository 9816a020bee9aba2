//! How many cluster-port connections a stranger may hold.
//!
//! A connection that has not proved membership (still in its TLS handshake, or a
//! certificate-less client: a joiner, a remote CLI) counts against its source address
//! and against a total, for as long as it lives. Over either limit a new connection is
//! closed at once, before it costs a handshake. Members' connections are released from
//! the budget once their certificate checked out, so a flood from one address can
//! neither starve the agent of file descriptors nor lock members out.

use crate::sync::MutexExt as _;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// Unproven connections one source address may hold.
pub const PER_SOURCE: usize = 64;
/// Unproven connections all sources together may hold.
pub const TOTAL: usize = 1024;

/// The shared count of unproven connections.
#[derive(Debug)]
pub struct Budget {
    per_source: usize,
    total: usize,
    held: Mutex<Held>,
}

#[derive(Debug, Default)]
struct Held {
    by_source: HashMap<IpAddr, usize>,
    total: usize,
}

/// Why a connection was closed at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Its source address holds `PER_SOURCE` unproven connections already.
    Source,
    /// All sources together hold `TOTAL`.
    Total,
}

/// One unproven connection's place in the budget; dropping it (or [`Slot::release`])
/// gives the place back.
#[derive(Debug)]
pub struct Slot {
    budget: Option<Arc<Budget>>,
    source: IpAddr,
}

impl Budget {
    pub fn new(per_source: usize, total: usize) -> Arc<Budget> {
        Arc::new(Budget { per_source, total, held: Mutex::default() })
    }

    /// Takes a place for a new connection from `source`.
    ///
    /// # Errors
    /// [`Refused`] when the source or the total is at its limit.
    pub fn admit(self: &Arc<Self>, source: IpAddr) -> Result<Slot, Refused> {
        // The counts stay consistent whatever panicked while holding the lock (only
        // additions and subtractions happen under it), so a poisoned lock is used as is.
        let mut held = self.held.locked();
        if held.total >= self.total {
            return Err(Refused::Total);
        }
        let count = held.by_source.entry(source).or_default();
        if *count >= self.per_source {
            return Err(Refused::Source);
        }
        *count += 1;
        held.total += 1;
        Ok(Slot { budget: Some(self.clone()), source })
    }

    fn give_back(&self, source: IpAddr) {
        let mut held = self.held.locked();
        held.total = held.total.saturating_sub(1);
        if let Some(count) = held.by_source.get_mut(&source) {
            *count -= 1;
            if *count == 0 {
                held.by_source.remove(&source);
            }
        }
    }

    /// Unproven connections held now (tests, metrics).
    pub fn held(&self) -> usize {
        self.held.locked().total
    }
}

impl Slot {
    /// Gives the place back now: the connection proved membership.
    pub fn release(mut self) {
        if let Some(budget) = self.budget.take() {
            budget.give_back(self.source);
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some(budget) = self.budget.take() {
            budget.give_back(self.source);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn one_source_cannot_take_more_than_its_share_nor_lock_out_others() {
        let budget = Budget::new(2, 3);
        let a1 = budget.admit(ip("10.0.0.9")).unwrap();
        let _a2 = budget.admit(ip("10.0.0.9")).unwrap();
        assert_eq!(budget.admit(ip("10.0.0.9")).unwrap_err(), Refused::Source);
        let _b1 = budget.admit(ip("10.0.0.2")).unwrap();
        assert_eq!(budget.admit(ip("10.0.0.3")).unwrap_err(), Refused::Total);

        drop(a1);
        assert_eq!(budget.held(), 2);
        let _c1 = budget.admit(ip("10.0.0.3")).unwrap();
    }

    #[test]
    fn a_released_slot_is_given_back_once() {
        let budget = Budget::new(1, 10);
        let slot = budget.admit(ip("::1")).unwrap();
        slot.release();
        assert_eq!(budget.held(), 0);
        let _again = budget.admit(ip("::1")).unwrap();
        assert_eq!(budget.held(), 1);
    }
}
