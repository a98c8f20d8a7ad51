//! `Arena`: the single-thread wrapper that lets a core be used through `&self`.

use core::alloc::Layout;
use core::cell::UnsafeCell;
use core::ptr::NonNull;

use crate::{AllocError, CheckError, RawHeap, Stats};

/// A heap usable through a shared reference, by one thread.
///
/// `Arena<C>` implements `allocator_api2::alloc::Allocator` (and, with
/// feature `nightly`, `core::alloc::Allocator`), so `&Arena<C>` is an
/// allocator for `Vec::new_in`, `Box::new_in` or `hashbrown::HashMap::new_in`.
/// It is `!Sync` and costs nothing over the core: a plain cell, no lock, no
/// flag. It is `Send` when the core is, so a task can own its heap.
///
/// ```
/// use core::mem::MaybeUninit;
/// use allocator_api2::vec::Vec;
/// use rtarena::{Arena, Tlsf};
///
/// let mut pool = [MaybeUninit::uninit(); 16 * 1024];
/// let arena = Arena::new(Tlsf::new(&mut pool)?);
/// let mut v = Vec::new_in(&arena);
/// v.extend([1u32, 2, 3]);
/// assert_eq!(arena.stats().live(), 1);
/// # Ok::<(), rtarena::PoolError>(())
/// ```
///
/// A collection cannot outlive the arena it allocates from:
///
/// ```compile_fail
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
/// ```compile_fail
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

    /// Runs `f` on the core.
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

    /// The core's full integrity check (see [`RawHeap::check`]).
    ///
    /// # Errors
    /// The first broken invariant.
    ///
    /// # Time complexity
    /// O(blocks) for the TLSF.
    pub fn check(&self) -> Result<(), CheckError> {
        self.with(|c| c.check())
    }

    /// Allocates a block (the `Allocator::allocate` of both adapters).
    ///
    /// # Time complexity
    /// As the core's `allocate`: O(1) for every core of this crate.
    #[inline(always)]
    pub(crate) fn allocate(&self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
        self.with(|c| c.allocate(layout))
    }

    #[inline]
    pub(crate) fn allocate_zeroed(&self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
        let block = self.allocate(layout)?;
        // SAFETY: the block is ours and valid for its whole length.
        unsafe { block.cast::<u8>().write_bytes(0, block.len()) };
        Ok(block)
    }

    /// # Safety
    /// As `Allocator::deallocate`.
    #[inline(always)]
    pub(crate) unsafe fn deallocate(&self, ptr: NonNull<u8>, layout: Layout) {
        // SAFETY: forwarded contract.
        self.with(|c| unsafe { c.deallocate(ptr, layout) })
    }

    /// Grows in place when the core can, else allocates, copies and frees.
    /// On `Err` the old block is untouched and still owned by the caller.
    ///
    /// # Safety
    /// As `Allocator::grow`.
    #[inline]
    pub(crate) unsafe fn grow(
        &self,
        ptr: NonNull<u8>,
        old: Layout,
        new: Layout,
        zeroed: bool,
    ) -> Result<NonNull<[u8]>, AllocError> {
        // SAFETY: forwarded contract.
        let block = match self.with(|c| unsafe { c.grow_in_place(ptr, old, new) }) {
            Ok(block) => block,
            // SAFETY: forwarded contract.
            Err(AllocError) => unsafe { self.relocate(ptr, old, new)? },
        };
        if zeroed {
            // SAFETY: bytes from `old.size()` to the block's length are ours
            // and hold nothing the caller may read.
            unsafe {
                block
                    .cast::<u8>()
                    .add(old.size())
                    .write_bytes(0, block.len() - old.size())
            };
        }
        Ok(block)
    }

    /// Shrinks in place when the core can, else moves the block.
    ///
    /// # Safety
    /// As `Allocator::shrink`.
    #[inline]
    pub(crate) unsafe fn shrink(
        &self,
        ptr: NonNull<u8>,
        old: Layout,
        new: Layout,
    ) -> Result<NonNull<[u8]>, AllocError> {
        // SAFETY: forwarded contract.
        match self.with(|c| unsafe { c.shrink_in_place(ptr, old, new) }) {
            Ok(block) => Ok(block),
            // SAFETY: forwarded contract.
            Err(AllocError) => unsafe { self.relocate(ptr, old, new) },
        }
    }

    /// Moves a block to a new allocation for `new`, copying what both
    /// layouts hold; the old block is freed only once the new one exists.
    ///
    /// # Safety
    /// `ptr` is live with layout `old`.
    #[cold]
    unsafe fn relocate(
        &self,
        ptr: NonNull<u8>,
        old: Layout,
        new: Layout,
    ) -> Result<NonNull<[u8]>, AllocError> {
        let block = self.allocate(new)?;
        // SAFETY: two distinct live blocks, each valid for the bytes copied.
        unsafe {
            ptr.copy_to_nonoverlapping(block.cast(), old.size().min(new.size()));
            self.deallocate(ptr, old);
        }
        Ok(block)
    }
}

impl<C: core::fmt::Debug> core::fmt::Debug for Arena<C> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // SAFETY: a shared borrow for the duration of `fmt`; no arena method
        // runs meanwhile (formatting the core does not allocate from it).
        let core = unsafe { &*self.core.get() };
        f.debug_struct("Arena").field("core", core).finish()
    }
}
