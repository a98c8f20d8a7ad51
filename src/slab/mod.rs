//! The slab core: size classes over pages from a [`PageSource`].
//!
//! Each class keeps its pages in a ring (a circular doubly linked list):
//! from its first page, the active one, the pages with a free slot, then
//! the full ones. A page that fills while active falls behind at once (the
//! next page becomes first, with no link written), and a full page that gets
//! a free slot moves second (first if the active page is full), so a freed
//! slot is reachable when the active page fills and no allocation ever
//! scans. The source finds an object's page from its
//! address (rounded down to the page size, for pages aligned to it), so an
//! object needs no header.
//!
//! Allocations take from the active page, and the class itself holds its
//! free slots and counts (`active.rs`), so allocating, and freeing an
//! object of the active page, touch the class and the slot only. Frees into
//! other pages go through their headers.
//!
//! A page that empties goes back to the source, except an active page: a
//! class keeps that one (its spare), or an alloc/free pair at a page
//! boundary would take and give back a page every time; but one class at
//! most keeps one at a time (`spare.rs`), so that the slab holds at most
//! one empty page and finds it without a scan.
//! A class whose active page goes back while it holds other pages parks:
//! it keeps them with no active page, and its next allocation (or a free
//! that unfills one) makes one active (`Class::park`).

// The module map: one job per file (ARCHITECTURE.md has the same table).
// This one holds the `Slab` type, its fields, and why it is `Send` and a
// `RawHeap`.
mod active; // `Class`, what the hot paths touch of a class; `ClassId`
mod allocate; // the class of a layout, and the allocation paths
mod check; // `check`, and what debug builds check of a free
pub mod classes; // the size classes, and `last_byte`
mod deallocate; // the free paths, and the refusals of a broken contract
mod init; // construction, by value or in place; what the page size fixes
mod lists; // a page's moves in its class's ring, the spare, the source
mod page; // the page header behind a `Page` pointer; the free-slot lists
mod reset; // `reset`, and the drop that runs it
mod resize; // in-place resizing, within a class
mod slot_bits; // which slots are handed out: a bitmap with `hardened`
mod spare; // `Spare`: the one class that may keep an empty page
mod stats; // `stats` and `class_stats`

#[cfg(test)]
mod tests;

use core::alloc::Layout;
use core::ptr::NonNull;

use self::active::{Class, ClassId};
use self::classes::CLASSES;
use self::slot_bits::HeaderEnd;
use self::spare::Spare;
use crate::pages::PageSource;
use crate::{AllocError, CheckError, ClassStats, Misuse, RawHeap, Stats};

/// Bytes at the start of each slab page that hold no slot, for pages whose
/// slots end at `slot_end` (the page size, less the tail the source keeps,
/// if any): the page's header, and with feature `hardened` its bitmap of
/// the slots handed out, one bit per 8 bytes (`slot_end / 64` bytes, 1.6%
/// of the page).
///
/// ```
/// let header = if cfg!(target_pointer_width = "64") { 40 } else { 28 };
/// let bitmap = if cfg!(feature = "hardened") { 4096 / 64 } else { 0 };
/// assert_eq!(rtarena::slab::page_header(4096), header + bitmap);
/// ```
///
/// # Time complexity
/// O(1).
pub const fn page_header(slot_end: usize) -> usize {
    slot_bits::header_end(slot_end)
}

/// A slab allocator: objects of up to [`max_class`](Self::max_class) bytes
/// in size classes (see [`classes`]), on pages taken from `S`.
///
/// `N` is how many classes, from the smallest, the slab has room for: all
/// of them by default. [`SmallHeap`](crate::SmallHeap), whose pages are too
/// small for the larger classes, keeps 16, which halves its control block.
///
/// ```
/// use core::alloc::Layout;
/// use core::mem::MaybeUninit;
/// use rtarena::pages::PoolPages;
/// use rtarena::Slab;
///
/// let mut pool = [MaybeUninit::uninit(); 16 * 1024];
/// let mut slab = Slab::new(PoolPages::new(&mut pool, 4096).unwrap()).unwrap();
/// let layout = Layout::new::<[u64; 3]>();
/// let object = slab.allocate(layout).unwrap();
/// assert_eq!(object.len(), 24);
/// // SAFETY: allocated just above with this layout.
/// unsafe { slab.deallocate(object.cast(), layout) };
/// assert_eq!(slab.stats().live(), 0);
/// ```
///
/// # Time complexity
///
/// `allocate`, `deallocate`, `grow_in_place`, `shrink_in_place` are O(1):
/// no loop runs over pages, objects or classes. Taking a page from the
/// source or giving one back happens inside them and is O(1) for every
/// source in this crate: an allocation takes at most one page (from the
/// source, or when it is out of pages another class's spare), a free gives
/// back at most one (its page, or the spare of the class it takes the
/// spare's place from). `trim` is O(1) too; `stats` is O(CLASSES); `check`, `reset`
/// and dropping the slab are O(pages + free slots).
///
/// # Memory cost
///
/// No per-object header: a slot is its class's size. Each page gives
/// [`page_header`] bytes to its header (and its bitmap with feature
/// `hardened`), plus the remainder of dividing the
/// rest by the class size. The slab holds at most one empty page: the
/// spare, kept by the class that emptied its active page last (see
/// `spare.rs`).
#[repr(C)]
pub struct Slab<S: PageSource, const N: usize = CLASSES> {
    // On 32-bit targets what the fast paths read of the slab itself comes
    // first, at offsets that a Cortex-M0 load encodes in its instruction
    // (up to 124 bytes), not after the classes, where each load would need
    // its offset built in a register first. A `ClassId` counts from the
    // slab's start (`CLASSES_AT`), so that a class is still one scaled
    // address from it. On 64-bit targets a class is a cache line, and a
    // slab's start one: there the fields come after the classes.
    #[cfg(not(target_pointer_width = "64"))]
    hot: Hot,
    classes: [Class; N],
    #[cfg(target_pointer_width = "64")]
    hot: Hot,
    // The rest in the order that keeps the control block sizes on 32-bit
    // targets (`src/sizes.rs`).
    source: S,
    /// Slots in a page of each class (`slots_per_page`), worked out once:
    /// a division is a library call on Armv6-M, too long for a page take.
    capacities: [u32; N],
    page_size: usize,
    counters: Counters,
}

/// What the fast paths read of the slab itself, besides the classes.
#[derive(Clone, Copy)]
#[repr(C)]
struct Hot {
    /// The class of the latest allocation (class 0 before the first):
    /// freeing that class's `last_taken` needs no class lookup (see
    /// `deallocate_latest`).
    latest: ClassId,
    /// The largest served class's size: a layout is served when its
    /// `last_byte` is below this (one comparison on the hot paths).
    limit: usize,
    /// The largest alignment slots have: the page size, or less when the
    /// source keeps a tail.
    max_align: usize,
    /// Offset in a page where its slots end: the page size, less the tail
    /// that the source keeps (`PageSource::reserved_tail`).
    slot_end: usize,
    /// Classes below this index are served; larger requests get `Err`.
    served: usize,
    /// The class that may keep an empty active page.
    spare: Spare,
    /// Offset in a page where slots may start (`page_header(slot_end)`).
    header_end: HeaderEnd,
}

#[derive(Clone, Copy, Default)]
struct Counters {
    pages: usize,
    peak_pages: usize,
    failures: u64,
    bad_frees: u64,
}

// SAFETY: a `Slab` owns its pages exclusively (taken from the source, which
// it owns); its raw pointers point only into those pages, so moving it to
// another thread moves that ownership along.
unsafe impl<S: PageSource + Send, const N: usize> Send for Slab<S, N> {}

impl<S: PageSource, const N: usize> core::fmt::Debug for Slab<S, N> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Slab")
            .field("page_size", &self.page_size)
            .field("max_class", &self.max_class())
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

// SAFETY: slots are carved from pages the slab owns (see `PageSource`), each
// slot belongs to one page and is handed out only while it is neither
// uncarved, on its page's (or its class's) free list, nor its class's
// given-back slot, so live objects never overlap; slots are aligned as asked (a
// served layout's class size is a multiple of its alignment, see
// `classes.rs`, and slots sit at multiples of it below a `slot_end` aligned
// to at least `max_align`); resizing never moves or touches a slot; the
// source never calls back into the slab (`PageSource`'s contract).
unsafe impl<S: PageSource, const N: usize> RawHeap for Slab<S, N> {
    #[inline(always)]
    fn allocate(&mut self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
        Slab::allocate(self, layout)
    }

    #[inline(always)]
    unsafe fn deallocate(&mut self, ptr: NonNull<u8>, layout: Layout) -> Result<(), Misuse> {
        // SAFETY: same contract.
        unsafe { self.free(ptr, layout) }
    }

    #[inline]
    unsafe fn grow_in_place(
        &mut self,
        ptr: NonNull<u8>,
        old: Layout,
        new: Layout,
    ) -> Result<NonNull<[u8]>, AllocError> {
        // SAFETY: same contract.
        unsafe { self.resize_in_place(ptr, old, new) }
    }

    #[inline]
    unsafe fn shrink_in_place(
        &mut self,
        ptr: NonNull<u8>,
        old: Layout,
        new: Layout,
    ) -> Result<NonNull<[u8]>, AllocError> {
        // SAFETY: same contract.
        unsafe { self.resize_in_place(ptr, old, new) }
    }

    #[inline]
    unsafe fn usable_size(&self, ptr: NonNull<u8>, layout: Layout) -> usize {
        // SAFETY: same contract.
        unsafe { Slab::usable_size(self, ptr, layout) }
    }

    fn reset(&mut self) {
        Slab::reset(self);
    }

    fn stats(&self) -> Stats {
        Slab::stats(self)
    }

    fn check(&self) -> Result<(), CheckError> {
        Slab::check(self)
    }

    fn class_stats(&self, class: usize) -> Option<ClassStats> {
        Slab::class_stats(self, class)
    }
}
