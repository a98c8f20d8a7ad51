//! What the wrappers share, written once: what they compose from a core's
//! in-place primitives (zeroing, and a grow or shrink that moves the block
//! when it cannot stay: allocate, copy, free; the copy runs outside `with`,
//! so a locking wrapper never holds its lock for it), and their common
//! methods with their documentation (`wrapper_methods!`), inherent methods
//! so that users need no trait in scope.

use core::alloc::Layout;
use core::ptr::NonNull;

use crate::{AllocError, Misuse, RawHeap};

/// A wrapper that can lend its core out for one call at a time.
pub(crate) trait WithCore {
    type Core: RawHeap;

    /// Runs `f` on the core, excluding every other `with`; `f` never calls
    /// back into the wrapper.
    fn with<T>(&self, f: impl FnOnce(&mut Self::Core) -> T) -> T;
}

/// `allocate`, with the whole block zeroed.
#[inline]
pub(crate) fn allocate_zeroed<W: WithCore>(
    w: &W,
    layout: Layout,
) -> Result<NonNull<[u8]>, AllocError> {
    let block = w.with(|c| c.allocate(layout))?;
    // SAFETY: the block is ours and valid for its whole length.
    unsafe { block.cast::<u8>().write_bytes(0, block.len()) };
    Ok(block)
}

/// Grows in place, else moves. A `new` smaller than `old` breaks the
/// `Allocator` contract: refused with `Err` and reported, before anything
/// is touched (a zeroing grow would zero from `old.size()` to the block's
/// end, past it).
///
/// # Safety
/// `ptr` is live in `w`'s core with layout `old`, and only the caller uses
/// it.
#[inline]
#[track_caller]
pub(crate) unsafe fn grow<W: WithCore>(
    w: &W,
    ptr: NonNull<u8>,
    old: Layout,
    new: Layout,
) -> Result<NonNull<[u8]>, AllocError> {
    if new.size() < old.size() {
        return wrong_direction(true, old, new);
    }
    // SAFETY: forwarded contract.
    match w.with(|c| unsafe { c.grow_in_place(ptr, old, new) }) {
        Ok(block) => Ok(block),
        // SAFETY: forwarded contract.
        Err(AllocError) => unsafe { relocate(w, ptr, old, new) },
    }
}

/// As `grow`, with the bytes past `old.size()` zeroed.
///
/// # Safety
/// As for `grow`.
#[inline]
#[track_caller]
pub(crate) unsafe fn grow_zeroed<W: WithCore>(
    w: &W,
    ptr: NonNull<u8>,
    old: Layout,
    new: Layout,
) -> Result<NonNull<[u8]>, AllocError> {
    // SAFETY: forwarded contract.
    let block = unsafe { grow(w, ptr, old, new)? };
    // SAFETY: the bytes from `old.size()` to the block's end are ours and
    // hold nothing the caller may read yet; `grow` returned a block of at
    // least `new.size() >= old.size()` bytes.
    unsafe {
        block
            .cast::<u8>()
            .add(old.size())
            .write_bytes(0, block.len() - old.size())
    };
    Ok(block)
}

/// Shrinks in place, else moves. A `new` larger than `old` breaks the
/// `Allocator` contract: refused with `Err` and reported, before anything
/// is touched.
///
/// # Safety
/// `ptr` is live in `w`'s core with layout `old`, and only the caller uses
/// it.
#[inline]
#[track_caller]
pub(crate) unsafe fn shrink<W: WithCore>(
    w: &W,
    ptr: NonNull<u8>,
    old: Layout,
    new: Layout,
) -> Result<NonNull<[u8]>, AllocError> {
    if new.size() > old.size() {
        return wrong_direction(false, old, new);
    }
    // SAFETY: forwarded contract.
    match w.with(|c| unsafe { c.shrink_in_place(ptr, old, new) }) {
        Ok(block) => Ok(block),
        // SAFETY: forwarded contract.
        Err(AllocError) => unsafe { relocate(w, ptr, old, new) },
    }
}

/// The core's in-place grow alone, refusing a `new` smaller than `old` as
/// `grow` does.
///
/// # Safety
/// `ptr` is live in `w`'s core with layout `old`.
#[inline]
#[track_caller]
pub(crate) unsafe fn grow_in_place<W: WithCore>(
    w: &W,
    ptr: NonNull<u8>,
    old: Layout,
    new: Layout,
) -> Result<NonNull<[u8]>, AllocError> {
    if new.size() < old.size() {
        return wrong_direction(true, old, new);
    }
    // SAFETY: forwarded contract, and `new` is at least `old`.
    w.with(|c| unsafe { c.grow_in_place(ptr, old, new) })
}

/// The core's in-place shrink alone, refusing a `new` larger than `old` as
/// `shrink` does.
///
/// # Safety
/// `ptr` is live in `w`'s core with layout `old`.
#[inline]
#[track_caller]
pub(crate) unsafe fn shrink_in_place<W: WithCore>(
    w: &W,
    ptr: NonNull<u8>,
    old: Layout,
    new: Layout,
) -> Result<NonNull<[u8]>, AllocError> {
    if new.size() > old.size() {
        return wrong_direction(false, old, new);
    }
    // SAFETY: forwarded contract, and `new` is at most `old`.
    w.with(|c| unsafe { c.shrink_in_place(ptr, old, new) })
}

/// A resize in the wrong direction: reported, and refused.
#[cold]
#[track_caller]
fn wrong_direction<T>(grow: bool, old: Layout, new: Layout) -> Result<T, AllocError> {
    Misuse::WrongDirection { grow, old, new }.report();
    Err(AllocError)
}

/// Moves a block to a new allocation for `new`, copying what both layouts
/// hold; the old block is freed only once the new one exists. A free the
/// core refuses (the caller's `ptr` was not live) is reported.
///
/// # Safety
/// `ptr` is live in `w`'s core with layout `old`, and only the caller uses
/// it.
#[cold]
#[track_caller]
unsafe fn relocate<W: WithCore>(
    w: &W,
    ptr: NonNull<u8>,
    old: Layout,
    new: Layout,
) -> Result<NonNull<[u8]>, AllocError> {
    let block = w.with(|c| c.allocate(new))?;
    // SAFETY: two live blocks that only this caller uses, each valid for
    // the bytes copied; then the old one is freed. A copy that may overlap:
    // with a `ptr` that is not live (a broken contract, which the free then
    // reports), the new block may be that very memory.
    let freed = unsafe {
        ptr.copy_to(block.cast(), old.size().min(new.size()));
        w.with(|c| c.deallocate(ptr, old))
    };
    Misuse::report_err(freed);
    Ok(block)
}

/// The methods both wrappers have, written once with their documentation:
/// `into_inner` and `get_mut`; `reset` and `usable_size`; the core's
/// counters and integrity check; the
/// allocator API as inherent methods (the `Allocator` impls in `adapters`
/// forward to them, and they serve builds without those traits); the
/// in-place grow and shrink alone; and `Debug`. Each wrapper writes its
/// own `new`, its `WithCore::with` and what only it has.
///
/// `$W<$C, ..>` is the wrapper type, `[$plain]` its impl generics with no
/// bound on the core and `[$bounded]` with `$C: RawHeap`; `name` its name,
/// for `Debug` and the doc examples, whose arena is `new(core)`; `hot` the
/// inline attribute of `allocate` and `deallocate`, which the wrappers
/// choose differently (`Arena`'s call is the core's; `SyncArena`'s adds a
/// lock); `lock` what a call costs beyond the core's, and `unlocked` how a
/// copy or zeroing runs, both for the docs.
macro_rules! wrapper_methods {
    (
        $W:ident<$C:ident $(, $P:ident)*>,
        [$($plain:tt)*],
        [$($bounded:tt)*],
        name: $name:literal,
        new: $new:literal,
        hot: $hot:meta,
        lock: $lock:literal,
        unlocked: $unlocked:literal $(,)?
    ) => {
        impl<$($plain)*> $W<$C $(, $P)*> {
            /// The core back, once no collection borrows the arena.
            pub fn into_inner(self) -> $C {
                self.core.into_inner()
            }

            /// The core, for its own API (`add_pool`, `trim`, its
            /// details): `&mut self` proves that no block is borrowed from
            /// the arena and that nothing else uses it.
            pub fn get_mut(&mut self) -> &mut $C {
                self.core.get_mut()
            }
        }

        impl<$($bounded)*> $W<$C $(, $P)*> {
            /// Frees every block at once: the core's `reset` (each TLSF pool
            /// one free block again, every slab page back to its source),
            /// the counters restarted.
            ///
            /// Safe because it takes `&mut self`: a collection or `Box` over
            /// the arena borrows it (`&arena` is its allocator), and so does
            /// a reference leaked from one, so none is alive here, and
            /// nothing can reach the freed memory through the arena's safe
            /// API (a collection that owns the arena, `Vec<T, Arena<C>>`,
            /// cannot reach `reset` at all). A pointer that
            /// [`allocate`](Self::allocate) returned is freed with the rest:
            /// reading or writing through it afterwards is undefined
            /// behaviour (the memory may be handed out again), and passing
            /// it to [`deallocate`](Self::deallocate) breaks that method's
            /// contract.
            ///
            /// ```
            /// # #[cfg(feature = "allocator-api2")] {
            /// # use core::mem::MaybeUninit;
            /// use rtarena::allocator_api2::vec::Vec;
            #[doc = concat!("use rtarena::{Heap, ", $name, "};")]
            ///
            /// let mut pool = [MaybeUninit::uninit(); 64 * 1024];
            #[doc = concat!("let mut arena = ", $new, "(Heap::new(&mut pool).unwrap());")]
            /// for frame in 0..3u32 {
            ///     let mut scratch = Vec::new_in(&arena);
            ///     scratch.extend(0..100 * frame);
            ///     core::mem::forget(scratch); // no free: `reset` takes it all back
            ///     arena.reset();
            ///     assert_eq!(arena.stats().live(), 0);
            /// }
            /// # }
            /// ```
            ///
            /// # Time complexity
            /// As the core's `reset`, with no lock taken: O(FL * SL +
            /// pools) for a TLSF, O(pages) for a slab, O(pages + free
            /// slots + FL * SL + pools) for a hybrid heap.
            pub fn reset(&mut self) {
                $crate::RawHeap::reset(self.core.get_mut());
            }

            /// Usable bytes of a live block: the length that
            /// [`allocate`](Self::allocate) (or the resize since) returned for
            /// it; 0 for a zero-size layout. Each core answers from what it
            /// knows: a TLSF from the block's header, a slab from the layout's
            /// class, a hybrid heap from whichever side holds the block.
            /// The bytes past the requested size are usable only through a
            /// pointer that covers the whole block (the one `allocate`
            /// returned), not through a narrower one such as a `Box`'s.
            ///
            /// ```
            /// use core::alloc::Layout;
            /// # use core::mem::MaybeUninit;
            #[doc = concat!("use rtarena::{Heap, ", $name, "};")]
            ///
            /// let mut pool = [MaybeUninit::uninit(); 64 * 1024];
            #[doc = concat!("let arena = ", $new, "(Heap::new(&mut pool).unwrap());")]
            /// let layout = Layout::new::<[u8; 20]>();
            /// let block = arena.allocate(layout).unwrap();
            /// // SAFETY: `block` is live with `layout` until it is freed below.
            /// unsafe {
            ///     assert_eq!(arena.usable_size(block.cast(), layout), block.len());
            ///     assert_eq!(block.len(), 24); // a 24-byte slab slot
            ///     arena.deallocate(block.cast(), layout);
            /// }
            /// ```
            ///
            /// # Safety
            /// `ptr` is live in this arena with layout `layout` (as for
            /// [`deallocate`](Self::deallocate)).
            ///
            /// # Time complexity
            #[doc = concat!("O(1)", $lock, ".")]
            pub unsafe fn usable_size(
                &self,
                ptr: core::ptr::NonNull<u8>,
                layout: core::alloc::Layout,
            ) -> usize {
                $crate::compose::WithCore::with(self, |c| {
                    // SAFETY: forwarded contract.
                    unsafe { c.usable_size(ptr, layout) }
                })
            }

            /// A snapshot of the core's counters.
            ///
            /// # Time complexity
            #[doc = concat!("As the core's `stats`", $lock, ".")]
            pub fn stats(&self) -> $crate::Stats {
                $crate::compose::WithCore::with(self, |c| c.stats())
            }

            /// What size class `class` of the core holds (see
            /// [`Slab::class_stats`](crate::Slab::class_stats)); `None` past the
            /// last class and for cores without classes.
            ///
            /// ```
            /// # #[cfg(feature = "allocator-api2")] {
            /// # use core::mem::MaybeUninit;
            /// use rtarena::allocator_api2::boxed::Box;
            #[doc = concat!("use rtarena::{Heap, ", $name, "};")]
            ///
            /// let mut pool = [MaybeUninit::uninit(); 64 * 1024];
            #[doc = concat!("let arena = ", $new, "(Heap::new(&mut pool).unwrap());")]
            /// let boxes: Vec<_> = (0..10u64).map(|i| Box::new_in(i, &arena)).collect();
            /// let eight = arena.class_stats(0).unwrap();
            /// assert_eq!((eight.size, eight.live, eight.pages), (8, 10, 1));
            /// # drop(boxes);
            /// # }
            /// ```
            ///
            /// # Time complexity
            #[doc = concat!("O(1)", $lock, ".")]
            pub fn class_stats(&self, class: usize) -> Option<$crate::ClassStats> {
                $crate::compose::WithCore::with(self, |c| c.class_stats(class))
            }

            /// The core's full integrity check (see
            /// [`RawHeap::check`](crate::raw::RawHeap::check)).
            ///
            /// # Errors
            /// The first broken invariant.
            ///
            /// # Time complexity
            #[doc = concat!(
                "O(blocks) for the TLSF, O(pages + free slots) for the slab",
                $lock,
                "."
            )]
            pub fn check(&self) -> Result<(), $crate::CheckError> {
                $crate::compose::WithCore::with(self, |c| c.check())
            }

            /// Allocates a block for `layout`; the returned slice is the whole
            /// usable block. The `Allocator` impls forward here; this inherent
            /// method is the trait-free API (for builds without
            /// `allocator-api2`).
            ///
            /// # Errors
            /// [`AllocError`](crate::AllocError) when no free block fits; the
            /// heap is unchanged.
            ///
            /// # Time complexity
            #[doc = concat!(
                "As the core's `allocate`, O(1) for every core of this crate",
                $lock,
                "."
            )]
            #[$hot]
            pub fn allocate(
                &self,
                layout: core::alloc::Layout,
            ) -> Result<core::ptr::NonNull<[u8]>, $crate::AllocError> {
                $crate::compose::WithCore::with(self, |c| c.allocate(layout))
            }

            #[doc = concat!(
                "As [`allocate`](Self::allocate), with the whole block zeroed",
                $unlocked,
                "."
            )]
            ///
            /// # Errors
            /// As `allocate`.
            ///
            /// # Time complexity
            /// As `allocate`, plus zeroing the block.
            #[inline]
            pub fn allocate_zeroed(
                &self,
                layout: core::alloc::Layout,
            ) -> Result<core::ptr::NonNull<[u8]>, $crate::AllocError> {
                $crate::compose::allocate_zeroed(self, layout)
            }

            /// Frees a block. A free the core refuses (see
            /// [`Misuse`](crate::raw::Misuse)) changes nothing but
            /// [`Stats::bad_frees`](crate::Stats::bad_frees); debug builds
            /// then panic at the caller's line.
            ///
            /// # Safety
            /// `ptr` was returned by this arena for a layout with
            /// `layout.align()` and a size between the requested size and the
            /// returned length (the `Allocator` "fits" rule), and has not been
            /// freed since (by `deallocate`, a grow or shrink that moved it,
            /// or [`reset`](Self::reset)).
            ///
            /// # Time complexity
            #[doc = concat!("O(1)", $lock, ".")]
            #[$hot]
            #[track_caller]
            pub unsafe fn deallocate(&self, ptr: core::ptr::NonNull<u8>, layout: core::alloc::Layout) {
                $crate::Misuse::report_err($crate::compose::WithCore::with(self, |c| {
                    // SAFETY: forwarded contract.
                    unsafe { c.deallocate(ptr, layout) }
                }))
            }

            #[doc = concat!(
                "Grows a block to `new`: in place when the core can, otherwise ",
                "by allocating, copying",
                $unlocked,
                " and freeing."
            )]
            ///
            /// # Errors
            /// [`AllocError`](crate::AllocError) when neither works; the old
            /// block is untouched and still the caller's. Also when
            /// `new.size() < old.size()`, which breaks the `Allocator`
            /// contract: nothing is touched, and debug builds panic at the
            /// caller's line.
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
                ptr: core::ptr::NonNull<u8>,
                old: core::alloc::Layout,
                new: core::alloc::Layout,
            ) -> Result<core::ptr::NonNull<[u8]>, $crate::AllocError> {
                // SAFETY: forwarded contract.
                unsafe { $crate::compose::grow(self, ptr, old, new) }
            }

            /// As [`grow`](Self::grow), with the bytes past `old.size()`
            /// zeroed.
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
                ptr: core::ptr::NonNull<u8>,
                old: core::alloc::Layout,
                new: core::alloc::Layout,
            ) -> Result<core::ptr::NonNull<[u8]>, $crate::AllocError> {
                // SAFETY: forwarded contract.
                unsafe { $crate::compose::grow_zeroed(self, ptr, old, new) }
            }

            /// Shrinks a block to `new`: in place when the core can (a TLSF
            /// gives the tail back), otherwise by moving it as
            /// [`grow`](Self::grow) does.
            ///
            /// # Errors
            /// [`AllocError`](crate::AllocError) when it must move and nothing
            /// fits; the old block is untouched. Also when
            /// `new.size() > old.size()`, which breaks the `Allocator`
            /// contract: nothing is touched, and debug builds panic at the
            /// caller's line.
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
                ptr: core::ptr::NonNull<u8>,
                old: core::alloc::Layout,
                new: core::alloc::Layout,
            ) -> Result<core::ptr::NonNull<[u8]>, $crate::AllocError> {
                // SAFETY: forwarded contract.
                unsafe { $crate::compose::shrink(self, ptr, old, new) }
            }

            /// Grows a block to `new` only if it can stay where it is: the
            /// core's in-place grow, with no fallback that moves it. A TLSF
            /// block grows into the free block after it; a slab slot holds
            /// any layout of its class.
            ///
            /// On `Ok` the block is the returned slice, at the same address
            /// (later calls take a layout that fits it, as for
            /// [`deallocate`](Self::deallocate)).
            ///
            /// ```
            /// # #[cfg(feature = "allocator-api2")] {
            /// use core::alloc::Layout;
            /// # use core::mem::MaybeUninit;
            #[doc = concat!("use rtarena::{Heap, ", $name, "};")]
            ///
            /// let mut pool = [MaybeUninit::uninit(); 64 * 1024];
            #[doc = concat!("let arena = ", $new, "(Heap::new(&mut pool).unwrap());")]
            /// let (old, new) = (Layout::new::<[u8; 20]>(), Layout::new::<[u8; 24]>());
            /// let block = arena.allocate(old).unwrap();
            /// // SAFETY: `block` was allocated just above with `old`; after the
            /// // grow it is live with `new`, and freed with it.
            /// unsafe {
            ///     // 20 and 24 bytes share a 24-byte slab slot.
            ///     let grown = arena.grow_in_place(block.cast(), old, new).unwrap();
            ///     assert_eq!(grown.cast::<u8>(), block.cast::<u8>());
            ///     arena.deallocate(grown.cast(), new);
            /// }
            /// # }
            /// ```
            ///
            /// # Errors
            /// [`AllocError`](crate::AllocError) when the block cannot grow
            /// where it is; nothing changes, and the block is still the
            /// caller's with layout `old`. Also when
            /// `new.size() < old.size()`: nothing is touched, and debug
            /// builds panic at the caller's line.
            ///
            /// # Safety
            /// `ptr` is live in this arena with layout `old` (as for
            /// [`deallocate`](Self::deallocate)).
            ///
            /// # Time complexity
            #[doc = concat!("O(1)", $lock, ".")]
            #[inline]
            #[track_caller]
            pub unsafe fn grow_in_place(
                &self,
                ptr: core::ptr::NonNull<u8>,
                old: core::alloc::Layout,
                new: core::alloc::Layout,
            ) -> Result<core::ptr::NonNull<[u8]>, $crate::AllocError> {
                // SAFETY: forwarded contract.
                unsafe { $crate::compose::grow_in_place(self, ptr, old, new) }
            }

            /// Shrinks a block to `new` only if it can stay where it is: the
            /// core's in-place shrink, with no fallback that moves it. A TLSF
            /// block gives back a tail large enough to be a block; a slab
            /// slot stays whole, and fails when `new` is of another class.
            ///
            /// On `Ok` the block is the returned slice, at the same address
            /// (later calls take a layout that fits it, as for
            /// [`deallocate`](Self::deallocate)).
            ///
            /// # Errors
            /// [`AllocError`](crate::AllocError) when the block cannot stay
            /// where it is (a stricter alignment, another slab class);
            /// nothing changes, and the block is still the caller's with
            /// layout `old`. Also when `new.size() > old.size()`: nothing is
            /// touched, and debug builds panic at the caller's line.
            ///
            /// # Safety
            /// `ptr` is live in this arena with layout `old`.
            ///
            /// # Time complexity
            #[doc = concat!("O(1)", $lock, ".")]
            #[inline]
            #[track_caller]
            pub unsafe fn shrink_in_place(
                &self,
                ptr: core::ptr::NonNull<u8>,
                old: core::alloc::Layout,
                new: core::alloc::Layout,
            ) -> Result<core::ptr::NonNull<[u8]>, $crate::AllocError> {
                // SAFETY: forwarded contract.
                unsafe { $crate::compose::shrink_in_place(self, ptr, old, new) }
            }
        }

        impl<$($bounded)*> core::fmt::Debug for $W<$C $(, $P)*> {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                // A snapshot, not a borrow of the core: the formatter may be
                // user code that allocates from this very arena.
                let stats = self.stats();
                f.debug_struct($name)
                    .field("stats", &stats)
                    .finish_non_exhaustive()
            }
        }
    };
}
pub(crate) use wrapper_methods;
