//! `StaticPool`: RAM in a `static`, handed out once as a heap's pool.

use core::cell::UnsafeCell;
use core::mem::MaybeUninit;
use core::sync::atomic::AtomicBool;
#[cfg(target_has_atomic = "8")]
use core::sync::atomic::Ordering;

/// `N` bytes of RAM in a `static` (in `.bss`: no flash, no start-up copy),
/// handed out once, as `&'static mut`, to be a heap's pool: the `static mut
/// POOL: [u8; N]` of C firmware, with no `unsafe` in the user's code.
///
/// ```
/// use rtarena::{Arena, SmallTlsf, StaticPool};
///
/// static POOL: StaticPool<{ 16 * 1024 }> = StaticPool::new();
///
/// let arena = Arena::new(SmallTlsf::new(POOL.take().unwrap()).unwrap());
/// assert!(POOL.take().is_none(), "handed out once");
/// # let _ = arena;
/// ```
///
/// A heap over it lives as long as the program; put it in a `static` too
/// (`SyncArena::new(SmallTlsf::empty())`, given the pool at start-up with
/// `add_pool`), or keep it in a `main` that never returns.
///
/// `take` decides who gets the pool with an atomic swap; on a core without
/// one (Armv6-M, a Cortex-M0), with a critical section instead (feature
/// `critical-section`), and without that feature the type is not there.
#[cfg_attr(
    docsrs,
    doc(cfg(any(target_has_atomic = "8", feature = "critical-section")))
)]
pub struct StaticPool<const N: usize> {
    taken: AtomicBool,
    bytes: UnsafeCell<[MaybeUninit<u8>; N]>,
}

// SAFETY: the bytes are reached only through `take`, which hands out the one
// reference to them at most once (the swap, or the flag under a critical
// section, decides which caller gets it), so sharing a `&StaticPool` among
// threads or with an interrupt handler cannot make two references to them.
unsafe impl<const N: usize> Sync for StaticPool<N> {}

impl<const N: usize> StaticPool<N> {
    /// `N` bytes, not taken yet.
    pub const fn new() -> Self {
        StaticPool {
            taken: AtomicBool::new(false),
            bytes: UnsafeCell::new([MaybeUninit::uninit(); N]),
        }
    }

    /// The pool, the first time; `None` ever after.
    ///
    /// # Time complexity
    /// O(1): one atomic swap (or critical section).
    #[expect(clippy::mut_from_ref, reason = "the flag hands the `&mut` out once")]
    pub fn take(&'static self) -> Option<&'static mut [MaybeUninit<u8>]> {
        if self.was_taken() {
            return None;
        }
        // SAFETY: `was_taken` said `false` to this caller only, so no other
        // reference to the bytes exists or will ever be made; the static
        // lives for the whole program.
        Some(unsafe { &mut *self.bytes.get() })
    }

    /// Sets the flag, and says whether it was set already.
    #[cfg(target_has_atomic = "8")]
    fn was_taken(&self) -> bool {
        self.taken.swap(true, Ordering::Acquire)
    }

    /// Sets the flag, and says whether it was set already: a load and a
    /// store under a critical section, where there is no atomic swap.
    #[cfg(all(not(target_has_atomic = "8"), feature = "critical-section"))]
    fn was_taken(&self) -> bool {
        use core::sync::atomic::Ordering;
        critical_section::with(|_| {
            let taken = self.taken.load(Ordering::Relaxed);
            self.taken.store(true, Ordering::Relaxed);
            taken
        })
    }
}

impl<const N: usize> Default for StaticPool<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> core::fmt::Debug for StaticPool<N> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("StaticPool")
            .field("len", &N)
            .field("taken", &self.taken)
            .finish()
    }
}
