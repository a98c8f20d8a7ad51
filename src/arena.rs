//! `Arena`: the single-thread wrapper that lets a core be used through `&self`.

use core::alloc::Layout;
use core::cell::UnsafeCell;
use core::ptr::NonNull;

use crate::compose::{self, WithCore};
use crate::{AllocError, CheckError, ClassStats, Misuse, RawHeap, Stats};

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

    /// The core back, once no collection borrows the arena.
    pub fn into_inner(self) -> C {
        self.core.into_inner()
    }

    /// The core, for its own API (`Tlsf::reset`, `Tlsf::add_pool`, ...):
    /// `&mut self` proves that no block is borrowed from the arena.
    pub fn get_mut(&mut self) -> &mut C {
        self.core.get_mut()
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

impl<C: RawHeap> Arena<C> {
    /// A snapshot of the core's counters.
    ///
    /// # Time complexity
    /// O(1).
    pub fn stats(&self) -> Stats {
        self.with(|c| c.stats())
    }

    /// What size class `class` of the core holds (see
    /// [`Slab::class_stats`](crate::Slab::class_stats)); `None` past the
    /// last class and for cores without classes.
    ///
    /// ```
    /// # #[cfg(feature = "allocator-api2")] {
    /// # use core::mem::MaybeUninit;
    /// use rtarena::allocator_api2::boxed::Box;
    /// use rtarena::{Arena, Heap};
    ///
    /// let mut pool = [MaybeUninit::uninit(); 64 * 1024];
    /// let arena = Arena::new(Heap::new(&mut pool).unwrap());
    /// let boxes: Vec<_> = (0..10u64).map(|i| Box::new_in(i, &arena)).collect();
    /// let eight = arena.class_stats(0).unwrap();
    /// assert_eq!((eight.size, eight.live, eight.pages), (8, 10, 1));
    /// # drop(boxes);
    /// # }
    /// ```
    ///
    /// # Time complexity
    /// O(1).
    pub fn class_stats(&self, class: usize) -> Option<ClassStats> {
        self.with(|c| c.class_stats(class))
    }

    /// The core's full integrity check (see [`RawHeap::check`]).
    ///
    /// # Errors
    /// The first broken invariant.
    ///
    /// # Time complexity
    /// O(blocks) for the TLSF, O(pages + free slots) for the slab.
    pub fn check(&self) -> Result<(), CheckError> {
        self.with(|c| c.check())
    }

    /// Allocates a block for `layout`; the returned slice is the whole usable
    /// block. The `Allocator` impls forward here; this inherent method is
    /// the trait-free API (for builds without `allocator-api2`).
    ///
    /// # Errors
    /// [`AllocError`] when no free block fits; the heap is unchanged.
    ///
    /// # Time complexity
    /// As the core's `allocate`: O(1) for every core of this crate.
    #[inline(always)]
    pub fn allocate(&self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
        self.with(|c| c.allocate(layout))
    }

    /// As [`allocate`](Self::allocate), with the whole block zeroed.
    ///
    /// # Errors
    /// As `allocate`.
    ///
    /// # Time complexity
    /// O(1) plus zeroing the block.
    #[inline]
    pub fn allocate_zeroed(&self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
        compose::allocate_zeroed(self, layout)
    }

    /// Frees a block. A free the core refuses (see
    /// [`Misuse`](crate::Misuse)) changes nothing but
    /// [`Stats::bad_frees`]; debug builds then panic at the caller's line.
    ///
    /// # Safety
    /// `ptr` was returned by this arena for a layout with `layout.align()` and
    /// a size between the requested size and the returned length (the
    /// `Allocator` "fits" rule), and has not been freed since.
    ///
    /// # Time complexity
    /// O(1).
    #[inline(always)]
    #[track_caller]
    pub unsafe fn deallocate(&self, ptr: NonNull<u8>, layout: Layout) {
        // SAFETY: forwarded contract.
        Misuse::report_err(self.with(|c| unsafe { c.deallocate(ptr, layout) }))
    }

    /// Grows a block to `new`: in place when the memory after it is free,
    /// otherwise by allocating, copying and freeing.
    ///
    /// # Errors
    /// [`AllocError`] when neither works; the old block is untouched and
    /// still the caller's. Also when `new.size() < old.size()`, which
    /// breaks the `Allocator` contract: nothing is touched, and debug
    /// builds panic at the caller's line.
    ///
    /// # Safety
    /// `ptr` is live in this arena with layout `old` (as for
    /// [`deallocate`](Self::deallocate)).
    ///
    /// # Time complexity
    /// O(1) in place; O(1) plus the copy when it moves.
    #[inline]
    #[track_caller]
    pub unsafe fn grow(
        &self,
        ptr: NonNull<u8>,
        old: Layout,
        new: Layout,
    ) -> Result<NonNull<[u8]>, AllocError> {
        // SAFETY: forwarded contract.
        unsafe { compose::grow(self, ptr, old, new) }
    }

    /// As [`grow`](Self::grow), with the bytes past `old.size()` zeroed.
    ///
    /// # Errors
    /// As `grow`.
    ///
    /// # Safety
    /// As `grow`.
    ///
    /// # Time complexity
    /// As `grow`, plus zeroing the new bytes.
    #[inline]
    #[track_caller]
    pub unsafe fn grow_zeroed(
        &self,
        ptr: NonNull<u8>,
        old: Layout,
        new: Layout,
    ) -> Result<NonNull<[u8]>, AllocError> {
        // SAFETY: forwarded contract.
        unsafe { compose::grow_zeroed(self, ptr, old, new) }
    }

    /// Shrinks a block to `new`: in place when it stays aligned (the tail goes
    /// back to the heap), otherwise by moving it.
    ///
    /// # Errors
    /// [`AllocError`] when it must move and nothing fits; the old block is
    /// untouched. Also when `new.size() > old.size()`, which breaks the
    /// `Allocator` contract: nothing is touched, and debug builds panic at
    /// the caller's line.
    ///
    /// # Safety
    /// `ptr` is live in this arena with layout `old`.
    ///
    /// # Time complexity
    /// O(1) in place; O(1) plus the copy when it moves.
    #[inline]
    #[track_caller]
    pub unsafe fn shrink(
        &self,
        ptr: NonNull<u8>,
        old: Layout,
        new: Layout,
    ) -> Result<NonNull<[u8]>, AllocError> {
        // SAFETY: forwarded contract.
        unsafe { compose::shrink(self, ptr, old, new) }
    }
}

impl<C: RawHeap> core::fmt::Debug for Arena<C> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // A snapshot, not a borrow of the core: the formatter may be user
        // code that allocates from this very arena.
        let stats = self.stats();
        f.debug_struct("Arena")
            .field("stats", &stats)
            .finish_non_exhaustive()
    }
}
