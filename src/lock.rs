//! Locks, for what several threads or interrupt handlers share: any
//! `lock_api::RawMutex`, or (feature `critical-section`) a critical section.
//!
//! Below every layer and depending on none: `SyncArena` (a wrapper) holds
//! a lock around its core, and `SharedPages` (memory) around its page
//! source, each for one O(1) call at a time.

use lock_api::RawMutex;

/// A way to run a closure with exclusive access to what the lock guards: a
/// `SyncArena`'s core, a `SharedPages`' source.
///
/// Implemented for every [`lock_api::RawMutex`] (spin locks, platform and
/// RTOS mutexes) and, with feature `critical-section`, for
/// `CriticalSectionLock`. A critical section is not a `RawMutex` here on
/// purpose: a `RawMutex` may be unlocked in any order relative to other
/// locks, while critical sections must be left in the reverse order they were
/// entered; a closure scope guarantees that.
///
/// # Safety
///
/// `with` runs `f` with every other `with` call on the same lock, on any
/// thread or interrupt handler, excluded: never two at once.
pub unsafe trait Lock {
    /// An unlocked lock, for `const` construction.
    const INIT: Self;

    /// Runs `f` with the lock held; releases it even if `f` panics.
    fn with<T>(&self, f: impl FnOnce() -> T) -> T;
}

// SAFETY: `lock` excludes every other holder until the guard's `unlock`,
// which runs when `with` returns or unwinds.
unsafe impl<R: RawMutex> Lock for R {
    #[allow(clippy::declare_interior_mutable_const)] // a value to copy, as `RawMutex::INIT` is.
    const INIT: Self = R::INIT;

    #[inline(always)]
    fn with<T>(&self, f: impl FnOnce() -> T) -> T {
        /// Releases the lock when dropped, so that a panic in `f` (a
        /// debug-build report of a broken contract) does not leave it held.
        struct Unlock<'a, R: RawMutex>(&'a R);
        impl<R: RawMutex> Drop for Unlock<'_, R> {
            #[inline(always)]
            fn drop(&mut self) {
                // SAFETY: the lock was taken just before this guard was made,
                // in this context, and is released once.
                unsafe { self.0.unlock() };
            }
        }
        self.lock();
        let _unlock = Unlock(self);
        f()
    }
}

/// A lock that is a [`critical_section`] critical section: on a single-core
/// microcontroller, interrupts are off while it is held, so an interrupt
/// handler never preempts a holder and can allocate itself without the
/// deadlock a spin lock would give. `SyncArena` holds it for one O(1) core
/// call at a time, `SharedPages` for one page taken or given back.
///
/// The platform provides the critical-section implementation (for example
/// `cortex-m`'s `critical-section-single-core` feature, or
/// `critical-section`'s `std` feature on a host).
///
/// Critical sections nest, so a second `with` from inside the first (which
/// only a broken contract can cause, such as a panic raised inside the heap
/// while it is the global allocator, whose message allocates) would not be
/// excluded: the lock remembers that it is held and panics instead
/// (through `GlobalAlloc`, which must not unwind, the process aborts after
/// the message).
#[cfg(feature = "critical-section")]
#[derive(Debug, Default)]
pub struct CriticalSectionLock {
    /// Whether a `with` is running; only touched inside a critical section.
    held: core::cell::Cell<bool>,
}

// SAFETY: `held` is only read and written inside a critical section, which
// excludes every other context that could touch it.
#[cfg(feature = "critical-section")]
unsafe impl Sync for CriticalSectionLock {}

// SAFETY: `critical_section::with` excludes every other context (threads,
// interrupt handlers) for the closure's duration, and `held` refuses a
// nested `with` in the same context: never two at once.
#[cfg(feature = "critical-section")]
unsafe impl Lock for CriticalSectionLock {
    #[allow(clippy::declare_interior_mutable_const)] // a value to copy, as `RawMutex::INIT` is.
    const INIT: Self = CriticalSectionLock {
        held: core::cell::Cell::new(false),
    };

    #[inline]
    fn with<T>(&self, f: impl FnOnce() -> T) -> T {
        /// Clears `held` when the closure returns or unwinds.
        struct Release<'a>(&'a core::cell::Cell<bool>);
        impl Drop for Release<'_> {
            fn drop(&mut self) {
                self.0.set(false);
            }
        }
        critical_section::with(|_| {
            assert!(
                !self.held.replace(true),
                "rtarena: CriticalSectionLock taken again from inside itself"
            );
            let _release = Release(&self.held);
            f()
        })
    }
}
