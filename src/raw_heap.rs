//! The one trait between the cores (algorithms on `&mut self`) and the
//! wrappers that give them interior mutability and the `Allocator` traits.

use core::alloc::Layout;
use core::ptr::{self, NonNull};

use crate::{AllocError, CheckError, ClassStats, Misuse, Stats};

/// A heap algorithm working on `&mut self`: no locks, no foreign traits.
///
/// [`Arena`](crate::Arena) turns any `RawHeap` into an `Allocator`; a core
/// implements only the in-place primitives, the wrappers compose the moving
/// grow and shrink from them. `&mut C` is a `RawHeap` when `C` is, so a
/// wrapper can hold a core that stays where it was built (see
/// [`Slab::new_in_place`](crate::Slab::new_in_place)).
///
/// # Safety
///
/// Implementors promise what the `Allocator` contract needs of them:
/// - `allocate` returns a block valid for reads and writes of the returned
///   length (at least `layout.size()`), aligned to `layout.align()`, that
///   overlaps no other live block and stays valid until it is deallocated or
///   the heap is dropped or reset (for `&mut C`, the heap is the referent
///   `C`, not the reference);
/// - `grow_in_place` and `shrink_in_place` keep the block's address and
///   contents, and on `Err` change nothing; on `Ok` the pointer they return
///   is valid for the whole returned length (the caller's pointer may cover
///   less, so it must not simply be handed back), and that length is what a
///   later `deallocate` layout has to fit;
/// - blocks stay valid when the core value itself is moved (`Box::new_in`
///   moves the allocator after allocating): no block may live inside the
///   core's own struct;
/// - `usable_size` of a live block is the length that `allocate` (or the
///   in-place resize since) returned for it, which a caller may rely on
///   as on that length (through a pointer that covers the block, such as
///   the one `allocate` returned);
/// - the core never calls back into the wrapper that holds it (`Arena`
///   lends it out as `&mut` for the duration of each call);
/// - a zero-size layout gets a dangling, aligned pointer, and deallocating
///   one is a no-op.
pub unsafe trait RawHeap {
    /// Allocates a block for `layout`, returning its address and usable size.
    fn allocate(&mut self, layout: Layout) -> Result<NonNull<[u8]>, AllocError>;

    /// Frees a block.
    ///
    /// # Errors
    /// A [`Misuse`] the heap detected and refused, changing nothing but
    /// its count ([`Stats::bad_frees`]); the caller reports it.
    ///
    /// # Safety
    /// `ptr` was returned by this heap for a layout with `layout.align()`, a
    /// size between the requested size and the returned length, and it has
    /// not been freed since. (What a heap detects when a caller breaks this
    /// is a safety net, not a licence: it does not catch every case.)
    unsafe fn deallocate(&mut self, ptr: NonNull<u8>, layout: Layout) -> Result<(), Misuse>;

    /// Resizes a block to at least `new.size()` bytes without moving it;
    /// `Err` when the neighbouring memory does not allow it (nothing changes).
    ///
    /// # Safety
    /// `ptr` is live in this heap with layout `old` (as for `deallocate`),
    /// and `new.size() >= old.size()`.
    unsafe fn grow_in_place(
        &mut self,
        ptr: NonNull<u8>,
        old: Layout,
        new: Layout,
    ) -> Result<NonNull<[u8]>, AllocError>;

    /// Shrinks a block to `new.size()` bytes without moving it, giving the
    /// tail back when it is big enough to be a block of its own; `Err` when
    /// the block cannot stay where it is (nothing changes).
    ///
    /// # Safety
    /// `ptr` is live in this heap with layout `old`, and
    /// `new.size() <= old.size()`.
    unsafe fn shrink_in_place(
        &mut self,
        ptr: NonNull<u8>,
        old: Layout,
        new: Layout,
    ) -> Result<NonNull<[u8]>, AllocError>;

    /// The usable length of a live block: what `allocate` (or the in-place
    /// resize since) returned as its length. 0 for a zero-size layout.
    ///
    /// # Safety
    /// `ptr` is live in this heap with layout `layout` (as for
    /// `deallocate`). (A heap may answer 0 when it can tell that the
    /// caller broke this, but it need not.)
    ///
    /// # Time complexity
    /// O(1) for every core of this crate.
    unsafe fn usable_size(&self, ptr: NonNull<u8>, layout: Layout) -> usize;

    /// Frees every block at once; the counters restart. `&mut self` is all
    /// it needs: a block handed out earlier is freed with the rest, and
    /// whoever holds its pointer must not use it again (a collection over
    /// a wrapper borrows the wrapper, so it cannot outlive the `&mut`).
    ///
    /// # Time complexity
    /// The core's: O(FL * SL + pools) for a TLSF, O(pages) for a slab,
    /// O(pages + free slots + FL * SL + pools) for a hybrid heap.
    fn reset(&mut self);

    /// A snapshot of the usage counters, in O(1).
    fn stats(&self) -> Stats;

    /// Walks the whole heap and verifies every invariant.
    fn check(&self) -> Result<(), CheckError>;

    /// What size class `class` holds, for a core with size classes; `None`
    /// past the last class, and for cores without classes.
    fn class_stats(&self, class: usize) -> Option<ClassStats> {
        let _ = class;
        None
    }
}

// SAFETY: every method forwards to `C`'s, which keeps the contract for the
// heap `C`. Blocks may die without the reference being dropped: once its
// lifetime `'a` ends, the owner may reset or drop `C`. The `Allocator`
// contract allows that, as a block need stay valid only for the shorter of
// its deallocation and the borrow-checker lifetime of the allocator type,
// and `Arena<&'a mut C>` (or a `SyncArena` over it) carries `'a`: no
// collection over it, nor a block it leaks, outlives `'a`. Until then the
// exclusive borrow keeps anything else from moving, dropping or resetting
// `C`. The blocks lie in the memory `C` manages, not in the reference, so
// moving the reference (as `Box::new_in` moves its allocator) moves no
// block. Forwarding calls nothing but `C`, so no call reaches the wrapper.
unsafe impl<C: RawHeap + ?Sized> RawHeap for &mut C {
    #[inline(always)]
    fn allocate(&mut self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
        C::allocate(self, layout)
    }

    #[inline(always)]
    unsafe fn deallocate(&mut self, ptr: NonNull<u8>, layout: Layout) -> Result<(), Misuse> {
        // SAFETY: same contract.
        unsafe { C::deallocate(self, ptr, layout) }
    }

    #[inline(always)]
    unsafe fn grow_in_place(
        &mut self,
        ptr: NonNull<u8>,
        old: Layout,
        new: Layout,
    ) -> Result<NonNull<[u8]>, AllocError> {
        // SAFETY: same contract.
        unsafe { C::grow_in_place(self, ptr, old, new) }
    }

    #[inline(always)]
    unsafe fn shrink_in_place(
        &mut self,
        ptr: NonNull<u8>,
        old: Layout,
        new: Layout,
    ) -> Result<NonNull<[u8]>, AllocError> {
        // SAFETY: same contract.
        unsafe { C::shrink_in_place(self, ptr, old, new) }
    }

    #[inline]
    unsafe fn usable_size(&self, ptr: NonNull<u8>, layout: Layout) -> usize {
        // SAFETY: same contract.
        unsafe { C::usable_size(self, ptr, layout) }
    }

    fn reset(&mut self) {
        C::reset(self);
    }

    #[inline(always)]
    fn stats(&self) -> Stats {
        C::stats(self)
    }

    fn check(&self) -> Result<(), CheckError> {
        C::check(self)
    }

    fn class_stats(&self, class: usize) -> Option<ClassStats> {
        C::class_stats(self, class)
    }
}

/// A non-null pointer aligned to `layout.align()` with no provenance: the
/// address of every zero-size allocation.
#[inline(always)]
pub(crate) fn dangling(layout: Layout) -> NonNull<[u8]> {
    let ptr = ptr::without_provenance_mut::<u8>(layout.align());
    // SAFETY: an alignment is never zero.
    let ptr = unsafe { NonNull::new_unchecked(ptr) };
    NonNull::slice_from_raw_parts(ptr, 0)
}
