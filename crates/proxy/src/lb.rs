//! Choosing a backend: least requests in flight, ties in rotation, and passive
//! outlier ejection from what requests see.
//!
//! Why least-in-flight rather than plain round robin: WebSockets and slow
//! requests hold a backend for a long time, and a backend that got slow (a busy
//! node) piles up requests; counting what is in flight steers new requests away
//! from both, and with equal counts (the common, idle case) the rotation makes it
//! plain round robin.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use crate::table::Entry;

/// When to eject a backend, and for how long.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ejection {
    /// Consecutive failed responses (502/503/504, reset, timeout) that eject.
    pub after_failures: u32,
    /// First ejection; doubles with each ejection without a success between.
    pub base: Duration,
    pub max: Duration,
}

#[derive(Debug, Default)]
struct Health {
    failures: u32,
    ejections: u32,
    until: Option<Instant>,
}

/// What the proxy learned about one backend address. Kept per address, not per
/// route, so a replica shared by two routes, or kept across a table swap, keeps
/// its record.
#[derive(Debug, Default)]
pub(crate) struct BackendState {
    in_flight: AtomicUsize,
    health: Mutex<Health>,
}

impl BackendState {
    fn health(&self) -> std::sync::MutexGuard<'_, Health> {
        // The lock guards plain counters; a panic elsewhere cannot leave them
        // inconsistent, so a poisoned lock is used as is.
        self.health.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn ejected(&self, now: Instant) -> bool {
        self.health().until.is_some_and(|t| t > now)
    }
}

/// Counts one request in flight on a backend until dropped (at the end of the
/// response body, or of a WebSocket).
#[derive(Debug)]
pub(crate) struct InFlight(Arc<BackendState>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

#[derive(Debug)]
pub(crate) struct Balancer {
    states: Mutex<HashMap<SocketAddr, Arc<BackendState>>>,
    ejection: Ejection,
}

impl Balancer {
    pub fn new(ejection: Ejection) -> Self {
        Balancer {
            states: Mutex::default(),
            ejection,
        }
    }

    fn state(&self, addr: SocketAddr) -> Arc<BackendState> {
        let mut states = self.states.lock().unwrap_or_else(PoisonError::into_inner);
        states.entry(addr).or_default().clone()
    }

    /// Forgets addresses no longer in any route, so the map does not grow with
    /// every replica that ever existed.
    pub fn retain(&self, keep: impl Iterator<Item = SocketAddr>) {
        let keep: std::collections::HashSet<_> = keep.collect();
        let mut states = self.states.lock().unwrap_or_else(PoisonError::into_inner);
        states.retain(|a, _| keep.contains(a));
    }

    /// A healthy backend of `entry` not in `tried`. Ejected backends are used only
    /// when every other healthy one is ejected too: a wrongly ejected pool (every
    /// replica briefly answered 503) must not turn into a certain 503.
    pub fn pick(
        &self,
        entry: &Entry,
        tried: &[SocketAddr],
        now: Instant,
    ) -> Option<(SocketAddr, InFlight)> {
        let candidates: Vec<(SocketAddr, Arc<BackendState>)> = entry
            .route
            .backends
            .iter()
            .filter(|b| b.healthy && !tried.contains(&b.addr))
            .map(|b| (b.addr, self.state(b.addr)))
            .collect();
        if candidates.is_empty() {
            return None;
        }
        let live: Vec<&(SocketAddr, Arc<BackendState>)> =
            candidates.iter().filter(|(_, s)| !s.ejected(now)).collect();
        let pool: Vec<&(SocketAddr, Arc<BackendState>)> = if live.is_empty() {
            candidates.iter().collect()
        } else {
            live
        };
        let start = entry.next.fetch_add(1, Ordering::Relaxed);
        let mut best: Option<(usize, &(SocketAddr, Arc<BackendState>))> = None;
        for i in 0..pool.len() {
            let c = pool[(start + i) % pool.len()];
            let load = c.1.in_flight.load(Ordering::Relaxed);
            if best.is_none_or(|(l, _)| load < l) {
                best = Some((load, c));
            }
        }
        let (_, (addr, state)) = best?;
        state.in_flight.fetch_add(1, Ordering::Relaxed);
        Some((*addr, InFlight(state.clone())))
    }

    /// Nothing listens there (or the node is gone): eject at once, so a dead
    /// node's replicas leave the pool after one failed connect.
    pub fn connect_failed(&self, addr: SocketAddr, now: Instant) {
        let state = self.state(addr);
        let mut h = state.health();
        self.eject(&mut h, now);
        tracing::debug!(%addr, ejections = h.ejections, "backend ejected: connect failed");
    }

    /// A gateway error, reset or timeout: ejects after a few in a row, since one
    /// such answer may be the application's own.
    pub fn failed(&self, addr: SocketAddr, now: Instant) {
        let state = self.state(addr);
        let mut h = state.health();
        h.failures += 1;
        if h.failures >= self.ejection.after_failures {
            self.eject(&mut h, now);
            tracing::debug!(%addr, ejections = h.ejections, "backend ejected: consecutive failures");
        }
    }

    pub fn succeeded(&self, addr: SocketAddr) {
        let state = self.state(addr);
        let mut h = state.health();
        *h = Health::default();
    }

    fn eject(&self, h: &mut Health, now: Instant) {
        let factor = 1u32 << h.ejections.min(16);
        let time = self
            .ejection
            .base
            .saturating_mul(factor)
            .min(self.ejection.max);
        h.until = Some(now + time);
        h.ejections = h.ejections.saturating_add(1);
        h.failures = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::{Backend, ProxyRoute};
    use roost_routes::Rule;

    fn entry(n: u16) -> Entry {
        let backends = (0..n)
            .map(|i| Backend {
                addr: ([127, 0, 0, 1], 1000 + i).into(),
                healthy: true,
            })
            .collect();
        let route = ProxyRoute {
            id: "s/a/r".into(),
            rule: Rule::Host(vec![]),
            http: true,
            https: true,
            backends,
        };
        Entry {
            route,
            next: AtomicUsize::new(0),
        }
    }

    fn balancer() -> Balancer {
        Balancer::new(Ejection {
            after_failures: 3,
            base: Duration::from_secs(5),
            max: Duration::from_secs(60),
        })
    }

    #[test]
    fn idle_backends_take_turns_and_busy_ones_are_avoided() {
        let (b, e, now) = (balancer(), entry(3), Instant::now());
        let picks: Vec<u16> = (0..6)
            .map(|_| b.pick(&e, &[], now).unwrap().0.port())
            .collect();
        assert_eq!(picks, [1000, 1001, 1002, 1000, 1001, 1002]);
        let busy = b.pick(&e, &[], now).unwrap();
        assert_eq!(busy.0.port(), 1000);
        let next: Vec<u16> = (0..4)
            .map(|_| b.pick(&e, &[], now).unwrap().0.port())
            .collect();
        assert!(!next.contains(&1000), "{next:?}");
    }

    #[test]
    fn ejection_grows_while_failing_and_a_success_clears_it() {
        let (b, e, now) = (balancer(), entry(2), Instant::now());
        let dead: SocketAddr = ([127, 0, 0, 1], 1000).into();
        b.connect_failed(dead, now);
        assert!((0..4).all(|_| b.pick(&e, &[], now).unwrap().0 != dead));
        let later = now + Duration::from_secs(6);
        assert!(!b.state(dead).ejected(later));
        b.connect_failed(dead, later);
        assert!(b.state(dead).ejected(later + Duration::from_secs(9)));
        b.succeeded(dead);
        assert!(!b.state(dead).ejected(later));
        for _ in 0..2 {
            b.failed(dead, now);
        }
        assert!(!b.state(dead).ejected(now));
        b.failed(dead, now);
        assert!(b.state(dead).ejected(now));
    }

    #[test]
    fn when_all_are_ejected_they_are_used_anyway_but_never_twice() {
        let (b, e, now) = (balancer(), entry(2), Instant::now());
        for p in [1000, 1001] {
            b.connect_failed(([127, 0, 0, 1], p).into(), now);
        }
        let (first, _g) = b.pick(&e, &[], now).unwrap();
        let (second, _g) = b.pick(&e, &[first], now).unwrap();
        assert_ne!(first, second);
        assert!(b.pick(&e, &[first, second], now).is_none());
    }
}
