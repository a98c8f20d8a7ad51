//! `Arena`: the single-thread wrapper that lets a core be used through `&self`.

use core::cell::UnsafeCell;

use crate::RawHeap;
use crate::compose;

/// A heap usable through a shared reference, by one thread.
///
/// `Arena<C>` implements `allocator_api2::alloc::Allocator` (and, with
/// feature `nightly`, `core::alloc::Allocator`), so `&Arena<C>` is an
/// allocator for `Vec::new_in`, `Box::new_in` or `hashbrown::HashMap::new_in`.
/// It is `!Sync` and costs nothing over the core: a plain cell, no lock, no
/// flag. It is `Send` when the core is, so a task can own its heap.
///
/// ```
/// # #[cfg(feature = "allocator-api2")] {
/// use core::mem::MaybeUninit;
/// use allocator_api2::vec::Vec;
/// use rtarena::{Arena, Tlsf};
///
/// let mut pool = [MaybeUninit::uninit(); 16 * 1024];
/// let arena = Arena::new(Tlsf::new(&mut pool).unwrap());
/// let mut v = Vec::new_in(&arena);
/// v.extend([1u32, 2, 3]);
/// assert_eq!(arena.stats().live(), 1);
/// # }
/// ```
///
/// A collection cannot outlive the arena it allocates from:
///
/// ```compile_fail,E0597
/// use core::mem::MaybeUninit;
/// use allocator_api2::vec::Vec;
/// use rtarena::{Arena, Tlsf};
///
/// let mut pool = [MaybeUninit::uninit(); 4096];
/// let v = {
///     let arena = Arena::new(Tlsf::new(&mut pool).unwrap());
///     let mut v = Vec::new_in(&arena);
///     v.push(1u8);
///     v
/// }; // error: `arena` dropped while still borrowed
/// ```
///
/// and an arena cannot outlive its pool:
///
/// ```compile_fail,E0597
/// use core::mem::MaybeUninit;
/// use rtarena::{Arena, Tlsf};
///
/// let arena = {
///     let mut pool = [MaybeUninit::uninit(); 4096];
///     Arena::new(Tlsf::new(&mut pool).unwrap())
/// }; // error: `pool` does not live long enough
/// # drop(arena);
/// ```
pub struct Arena<C> {
    core: UnsafeCell<C>,
}

impl<C> Arena<C> {
    /// Wraps a core. `const`, so an arena can be a `static`'s initializer
    /// part (in a `thread_local!`, say).
    ///
    /// The core moves into the arena: for a core built in place (such as
    /// [`Heap::new_in_place`](crate::GenericHeap::new_in_place)), wrap the
    /// `&mut` it returns, which leaves the core where it is.
    ///
    /// # Time complexity
    /// O(1).
    pub const fn new(core: C) -> Self {
        Arena {
            core: UnsafeCell::new(core),
        }
    }
}

impl<C: RawHeap> compose::WithCore for Arena<C> {
    type Core = C;

    #[inline(always)]
    fn with<R>(&self, f: impl FnOnce(&mut C) -> R) -> R {
        // SAFETY: `Arena` is `!Sync`, so only this thread can be here, and
        // no `&mut C` from an earlier call is alive: every call goes through
        // `with`, and the closures passed to it never call back into the
        // arena (they are the core's own methods and plain copies).
        f(unsafe { &mut *self.core.get() })
    }
}

compose::wrapper_methods!(
    Arena<C>,
    [C],
    [C: RawHeap],
    name: "Arena",
    new: "Arena::new",
    hot: inline(always),
    lock: "",
    unlocked: "",
);
