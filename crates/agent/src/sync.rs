//! Locks that do not poison.
//!
//! A std lock whose holder panicked is "poisoned": every later `lock().expect(..)`
//! panics too, so one panicking request handler would take every loop of the agent
//! down with it. The agent's critical sections only replace or insert whole values, so
//! the data behind a poisoned lock is consistent, and these accessors use it as is.
//! (A loop that panics still stops the agent: see `Background` in `lib.rs`.)

use std::sync::{Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// [`Mutex::lock`] without poisoning.
pub trait MutexExt<T: ?Sized> {
    fn locked(&self) -> MutexGuard<'_, T>;
}

impl<T: ?Sized> MutexExt<T> for Mutex<T> {
    fn locked(&self) -> MutexGuard<'_, T> {
        self.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// [`RwLock::read`] and [`RwLock::write`] without poisoning.
pub trait RwLockExt<T: ?Sized> {
    fn reading(&self) -> RwLockReadGuard<'_, T>;
    fn writing(&self) -> RwLockWriteGuard<'_, T>;
}

impl<T: ?Sized> RwLockExt<T> for RwLock<T> {
    fn reading(&self) -> RwLockReadGuard<'_, T> {
        self.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn writing(&self) -> RwLockWriteGuard<'_, T> {
        self.write().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lock_whose_holder_panicked_stays_usable() {
        let shared = std::sync::Arc::new((Mutex::new(1), RwLock::new(2)));
        let in_thread = shared.clone();
        let _ = std::thread::spawn(move || {
            let _m = in_thread.0.locked();
            let _w = in_thread.1.writing();
            panic!("a handler panics while holding both locks");
        })
        .join();
        assert!(shared.0.is_poisoned() && shared.1.is_poisoned());
        *shared.0.locked() += 1;
        *shared.1.writing() += 1;
        assert_eq!((*shared.0.locked(), *shared.1.reading()), (2, 3));
    }
}
