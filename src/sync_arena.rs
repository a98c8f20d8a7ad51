//! `SyncArena`: a core behind a lock, shareable between threads.

use core::cell::UnsafeCell;
use core::marker::PhantomData;
use core::ops::{Deref, DerefMut};

use lock_api::RawMutex;

use crate::compose;
use crate::{Lock, RawHeap};

/// A heap core behind a lock: `Sync`, so one heap can serve several threads,
/// tasks or interrupt handlers. `R` is any [`lock_api::RawMutex`] (a spin
/// lock, a platform mutex, an RTOS mutex), or, with feature
/// `critical-section`, `CriticalSectionLock`, which interrupt handlers can
/// take without deadlocking against the code they interrupted (see
/// [`Lock`]).
///
/// It implements allocator-api2's `Allocator` (and, with feature `nightly`,
/// core's) like [`Arena`](crate::Arena), and `GlobalAlloc`, so a `static`
/// one can be the `#[global_allocator]`.
///
/// The lock is held only for the core's O(1) operations: a grow or shrink
/// that must move allocates under the lock, copies with the lock released,
/// then frees under the lock (`stats` and `check` hold it while they read
/// the core, `check` for its whole walk). A misuse the core detects (see
/// [`Misuse`](crate::raw::Misuse)) is reported once the lock is released; as
/// the `#[global_allocator]`, whose methods must not unwind, a debug
/// build's report aborts the process after its message.
///
/// # Re-entry
///
/// A call from inside another on the same context (an interrupt or signal
/// handler that allocates while the code it interrupted holds the lock)
/// is up to the lock. A `lock_api::RawMutex` knows no owner, and `no_std`
/// has no thread identity to record, so the arena cannot tell re-entry
/// from another thread holding the lock: the call waits for a lock that
/// its own context holds, and with a spin lock it spins forever.
/// `CriticalSectionLock` refuses re-entry with a panic (an abort through
/// `GlobalAlloc`), and keeps interrupt handlers out while it is held. The
/// heap itself never calls back into the arena while it holds the lock.
///
/// ```
/// use core::mem::MaybeUninit;
/// use rtarena::{Heap, SyncArena};
///
/// type Spin = spin::Mutex<()>; // any `lock_api::RawMutex`
/// let mut pool = [MaybeUninit::uninit(); 64 * 1024];
/// let arena: SyncArena<Heap, Spin> = SyncArena::new(Heap::new(&mut pool).unwrap());
/// let block = arena.allocate(core::alloc::Layout::new::<u64>()).unwrap();
/// // SAFETY: allocated just above with this layout.
/// unsafe { arena.deallocate(block.cast(), core::alloc::Layout::new::<u64>()) };
/// assert_eq!(arena.stats().live(), 0);
/// ```
///
/// # Time complexity
///
/// As the core's, plus taking and releasing the lock once per call (twice
/// for a moving grow or shrink).
pub struct SyncArena<C, R: Lock> {
    lock: R,
    core: UnsafeCell<C>,
}

// SAFETY: every access to the core goes through `with`, which holds the lock
// for its whole duration, so at most one thread uses the core at a time; the
// core moves between threads only as far as `C: Send` allows.
unsafe impl<C: Send, R: Lock + Sync> Sync for SyncArena<C, R> {}

// SAFETY: the arena owns its core and lock; sending it sends both.
unsafe impl<C: Send, R: Lock + Send> Send for SyncArena<C, R> {}

impl<C, R: Lock> SyncArena<C, R> {
    /// Wraps a core; `const`, so a `static` arena works (with a core whose
    /// constructor is `const`, such as [`GenericTlsf::empty`](crate::GenericTlsf::empty)).
    /// The core moves into the arena: for a core built in place (such as
    /// [`Heap::new_in_place`](crate::GenericHeap::new_in_place)), wrap the
    /// `&mut` it returns, which leaves the core where it is.
    ///
    /// # Time complexity
    /// O(1).
    pub const fn new(core: C) -> Self {
        SyncArena {
            lock: R::INIT,
            core: UnsafeCell::new(core),
        }
    }
}

impl<C: RawHeap, R: Lock> compose::WithCore for SyncArena<C, R> {
    type Core = C;

    #[inline(always)]
    fn with<T>(&self, f: impl FnOnce(&mut C) -> T) -> T {
        self.lock.with(|| {
            // SAFETY: the lock is held and excludes every other `with` (the
            // `Lock` contract; `CriticalSectionLock` refuses nesting), so no
            // other `&mut C` exists; the closures passed here are the core's
            // own methods, which never call back into the arena (`RawHeap`'s
            // contract).
            f(unsafe { &mut *self.core.get() })
        })
    }
}

compose::wrapper_methods!(
    SyncArena<C, R>,
    [C, R: Lock],
    [C: RawHeap, R: Lock],
    name: "SyncArena",
    new: "SyncArena::<_, spin::Mutex<()>>::new",
    hot: inline,
    lock: ", plus taking the lock",
    unlocked: " with the lock released",
);

impl<C, R: RawMutex> SyncArena<C, R> {
    /// Locks the arena and gives the core itself, for what the allocator
    /// API does not cover: adding a pool to a `static` arena at start-up,
    /// reading per-core details. Allocating through this arena on this
    /// thread while the guard lives deadlocks.
    ///
    /// # Safety
    ///
    /// While blocks of this arena are live, the caller must not end their
    /// life through the guard: no `reset`, no replacing or taking the core.
    /// When `C` is `&mut X`, the guard derefs to `&mut &mut X`, and
    /// replacing the core covers both re-pointing `*guard` to another `X`
    /// and replacing `**guard`. Growing the core (adding a pool) and reading
    /// it are fine.
    ///
    /// # Time complexity
    /// Taking the lock.
    pub unsafe fn lock(&self) -> CoreGuard<'_, C, R> {
        self.lock.lock();
        CoreGuard {
            arena: self,
            _marker: PhantomData,
        }
    }
}

/// The core of a locked [`SyncArena`]; the lock is released when this is
/// dropped. Not `Send` when the lock's guards must stay on their thread.
pub struct CoreGuard<'a, C, R: RawMutex> {
    arena: &'a SyncArena<C, R>,
    _marker: PhantomData<(&'a mut C, R::GuardMarker)>,
}

impl<C, R: RawMutex> Deref for CoreGuard<'_, C, R> {
    type Target = C;

    fn deref(&self) -> &C {
        // SAFETY: the guard holds the lock, so no other reference to the
        // core exists but the ones it lends out.
        unsafe { &*self.arena.core.get() }
    }
}

impl<C, R: RawMutex> DerefMut for CoreGuard<'_, C, R> {
    fn deref_mut(&mut self) -> &mut C {
        // SAFETY: as for `deref`, and `&mut self` makes this the only one.
        unsafe { &mut *self.arena.core.get() }
    }
}

impl<C, R: RawMutex> Drop for CoreGuard<'_, C, R> {
    fn drop(&mut self) {
        // SAFETY: the guard took the lock in `SyncArena::lock`, on this
        // thread (the guard is not `Send` for locks that require it), and
        // releases it once.
        unsafe { self.arena.lock.unlock() };
    }
}
