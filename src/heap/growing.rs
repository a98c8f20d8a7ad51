//! `GrowingHeap`: the hybrid heap over pages it takes from a source as it
//! needs them, with a `const` constructor.

use core::alloc::Layout;
use core::ptr::NonNull;

use super::Hybrid;
use super::radix::RadixTables;
use super::tlsf_pages::{PageTables, TlsfPages};
use crate::pages::{MAX_PAGE, MIN_PAGE, PageSource};
use crate::slab::classes::CLASSES;
use crate::tlsf::{LargeTlsf, give_back_pools, release_free_pages};
use crate::{AllocError, CheckError, ClassStats, Misuse, RawHeap, Stats};

/// The first-level count of a [`LargeTlsf`], the growing heap's TLSF.
const LARGE_FL: usize = crate::tlsf::config::fl_len(isize::MAX as usize);

/// The hybrid heap (slab classes in front of a TLSF, as
/// [`Heap`](crate::Heap)) over pages it takes from `S` as it needs them:
/// the heap to reach for as a `#[global_allocator]` (inside a
/// [`SyncArena`](crate::SyncArena), over [`OsPages`](crate::pages)) or over
/// a `static` region ([`RegionPages`](crate::pages::RegionPages)), with the
/// slab's fast path for small objects.
///
/// Slab pages are `PAGE` bytes (4 KiB unless given: a power of two from
/// [`MIN_PAGE`] to [`MAX_PAGE`], checked at compile time); the slab serves
/// the classes up to [`Heap::LARGEST_CLASS`](crate::Heap::LARGEST_CLASS)
/// (1 KiB) that fit at least four slots in a page (up to 896 bytes with
/// 4 KiB pages), and as in `Heap` its
/// pages are blocks of the TLSF, taken when a class needs one and given
/// back when they empty (but for the one spare). Memory comes and
/// grows as in [`GrowingTlsf`](crate::GrowingTlsf), with the same
/// policy: when the TLSF has no block for a request (a large one, or a slab
/// page), the heap takes as many pages of the source as the request needs
/// and adds them to its TLSF, merged with the pool they continue when the
/// source's pages merge, so that a request of any size the source can give
/// is served. Pages are never given back to the source while the heap
/// lives ([`release_free_pages`](Self::release_free_pages) gives the memory
/// of free ones back when asked, [`grow`](Self::grow) takes them ahead of
/// need); dropping the heap gives them all back.
///
/// It keeps the promises `Heap` makes: a small request whose class can get
/// no page (not even after growing) takes a TLSF block, growing the TLSF
/// for the request alone if need be, and a large request the TLSF cannot
/// place first gives the slab's spare page back to it, then grows: a
/// request fails only when no free block could hold it and the source
/// cannot give the pages it needs. (Over a source whose pages do not merge,
/// a slab page must fit one source page with the TLSF's overhead, 64 bytes
/// and the tail: with `PAGE` as large as the source's pages, every small
/// request takes a TLSF block.)
///
/// ```
/// use core::alloc::Layout;
/// use core::mem::MaybeUninit;
/// use rtarena::GrowingHeap;
/// use rtarena::pages::PoolPages;
///
/// let mut pool = [MaybeUninit::uninit(); 128 * 1024];
/// let mut heap: GrowingHeap<_> = GrowingHeap::new(PoolPages::new(&mut pool, 4096).unwrap());
/// assert_eq!(heap.stats().capacity, 0);
/// let small = heap.allocate(Layout::new::<[u64; 4]>()).unwrap(); // a slab slot
/// let large = heap.allocate(Layout::new::<[u8; 50_000]>()).unwrap(); // a TLSF block
/// assert_eq!(heap.stats().live(), 2);
/// // SAFETY: allocated just above with these layouts.
/// unsafe {
///     heap.deallocate(small.cast(), Layout::new::<[u64; 4]>());
///     heap.deallocate(large.cast(), Layout::new::<[u8; 50_000]>());
/// }
/// heap.check().unwrap();
/// ```
///
/// # Page tables
///
/// A freed small object is found to be a slot or a TLSF block, and its page
/// found, through page tables, as in `Heap`; but this heap's pools grow at
/// run time, so its tables are radix trees, one per pool, whose 1 KiB nodes
/// are blocks of its own TLSF, made when a slab page first lands under them
/// and never moved (see ARCHITECTURE.md). They take about as much memory as
/// `Heap`'s (1 KiB per 256 stretches of `PAGE` bytes that ever held a page),
/// counted neither in `capacity` nor in `in_use`.
///
/// # Time complexity
///
/// `allocate`, `deallocate`, `grow_in_place` and `shrink_in_place` are
/// O(1), as `Heap`'s: one class computation picks the side, then the slab's
/// or the TLSF's O(1) path runs; finding a page through its pool's tree
/// reads at most 8 nodes on 64-bit targets, 3 on 32-bit ones (2 for a pool
/// of up to 128 MiB with 4 KiB pages, 3 up to 16 GiB). A page take that first lands under no node makes at most
/// that many nodes, each a TLSF allocation and a 1 KiB fill. The one
/// exception is growth: an allocation (or a page take, or a node) that
/// finds no free block takes pages from the source first, as
/// `GrowingTlsf` does, whose cost is the source's (for `OsPages`, system
/// calls). `stats` is O(classes); `check` is O(blocks + pages + free slots +
/// table nodes); `reset` is O(pages + free slots + FL * SL + pools);
/// dropping the heap is O(pages + source pages).
pub struct GrowingHeap<S: PageSource, const PAGE: usize = 4096> {
    /// Over pools that are pages of the source, which the tables own: no
    /// `'static` borrow escapes, and the pages outlive the TLSF (emptied
    /// first on drop, then given back).
    hybrid: Hybrid<'static, LARGE_FL, 16, CLASSES, RadixTables<S>>,
}

impl<S: PageSource, const PAGE: usize> GrowingHeap<S, PAGE> {
    /// A heap with no memory yet: the first allocation takes pages.
    /// `const`, so a `static` one can be a `#[global_allocator]` (inside a
    /// [`SyncArena`](crate::SyncArena), over `OsPages::huge_static()`).
    ///
    /// # Time complexity
    /// O(classes).
    pub const fn new(source: S) -> Self {
        const {
            assert!(
                PAGE.is_power_of_two() && PAGE >= MIN_PAGE && PAGE <= MAX_PAGE,
                "GrowingHeap's PAGE is a power of two from MIN_PAGE to MAX_PAGE"
            );
        }
        let tables = RadixTables::new(source, PAGE);
        let pages = TlsfPages::with_tables(LargeTlsf::empty(), tables, PAGE);
        GrowingHeap {
            hybrid: Hybrid::new_const(pages, PAGE),
        }
    }

    /// The page source.
    pub fn source(&self) -> &S {
        &self.hybrid.pages().tables.source
    }

    /// Size of the slab's pages: `PAGE`.
    pub const fn page_size(&self) -> usize {
        PAGE
    }

    /// The largest request (`Layout::size()` rounded up to its alignment)
    /// that takes a slab slot; larger ones take a TLSF block.
    pub fn max_class(&self) -> usize {
        self.hybrid.max_class()
    }

    /// Gives the slab's spare page back to the TLSF; returns how many pages
    /// went back, 0 or 1 (see [`Slab::trim`](crate::Slab::trim)). The TLSF keeps
    /// them: pages go back to the source only when the heap is dropped.
    ///
    /// # Time complexity
    /// O(1).
    pub fn trim(&mut self) -> usize {
        self.hybrid.trim()
    }

    /// Takes pages from the source now, as many as a request of `bytes`
    /// that found no free block would, and adds them to the TLSF; see
    /// [`GrowingTlsf::grow`](crate::GrowingTlsf::grow), whose
    /// policy and costs these are.
    ///
    /// # Errors
    /// [`AllocError`] when the source cannot give the pages; the heap is
    /// then unchanged.
    ///
    /// # Time complexity
    /// The page take of a growing allocation.
    pub fn grow(&mut self, bytes: usize) -> Result<(), AllocError> {
        let layout = Layout::from_size_align(bytes, 1).map_err(|_| AllocError)?;
        let pages = self.hybrid.pages_mut();
        pages.tables.grow(&mut pages.tlsf, layout)
    }

    /// Gives the slab's spare page back to the TLSF ([`trim`](Self::trim)),
    /// then the memory of every whole page of the source inside a free
    /// TLSF block back to the source; returns how many bytes went back.
    /// See [`GrowingTlsf::release_free_pages`](crate::GrowingTlsf::release_free_pages):
    /// the pages stay the heap's, and the heap never does this by itself.
    ///
    /// # Time complexity
    /// O(lists + free blocks), plus one `discard` for each free block
    /// that spans a whole page of the source.
    pub fn release_free_pages(&mut self) -> usize {
        self.trim();
        let pages = self.hybrid.pages_mut();
        // SAFETY: the TLSF's pools all came from the source through
        // `add_pages_for` (see `RadixTables::grow`), and go back only when
        // the heap drops.
        unsafe { release_free_pages(&pages.tlsf, &mut pages.tables.source) }
    }

    /// Frees every object at once: the slab gives its pages back, each
    /// pool becomes one free TLSF block again and the page tables forget
    /// their nodes (blocks of those pools); the counters restart. The heap
    /// keeps the pages it took. An [`Arena`](crate::Arena) has the same
    /// `reset`, on `&mut self`, which proves that no collection still
    /// borrows the arena.
    ///
    /// # Time complexity
    /// O(pages + free slots + FL * SL + pools).
    pub fn reset(&mut self) {
        self.hybrid.reset();
    }

    /// What slab class `class` holds; see [`Slab::class_stats`](crate::Slab::class_stats).
    ///
    /// # Time complexity
    /// O(1).
    pub fn class_stats(&self, class: usize) -> Option<ClassStats> {
        self.hybrid.class_stats(class)
    }

    /// Allocates a slab slot or a TLSF block for `layout`, taking pages
    /// from the source first if the TLSF has no block for it (or for the
    /// page a class needs); the returned slice is the whole slot or usable
    /// block.
    ///
    /// # Errors
    /// [`AllocError`] when no free block can hold the request and the
    /// source cannot give the pages it needs (for a source whose pages do
    /// not merge: when it does not fit one page), or they would be a new
    /// pool and the TLSF already has [`MAX_POOLS`](crate::tlsf::MAX_POOLS)
    /// pools. The heap is then unchanged, except that a class out of free
    /// slots may first take another class's empty spare page, and a large
    /// request first gives the spare page back to the TLSF.
    ///
    /// # Time complexity
    /// O(1), plus the page take when it grows (see the type's
    /// documentation).
    #[inline(always)]
    pub fn allocate(&mut self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
        self.hybrid.allocate(layout)
    }

    /// Frees a slot or block; misuse is refused and reported as by
    /// [`Heap::deallocate`](crate::GenericHeap::deallocate).
    ///
    /// # Safety
    /// `ptr` was returned by this heap for a layout with `layout.align()`
    /// and a size between the requested size and the returned length, and it
    /// has not been freed since.
    ///
    /// # Time complexity
    /// O(1).
    #[inline(always)]
    #[track_caller]
    pub unsafe fn deallocate(&mut self, ptr: NonNull<u8>, layout: Layout) {
        // SAFETY: forwarded from the caller.
        Misuse::report_err(unsafe { self.hybrid.free(ptr, layout) })
    }

    /// Grows a slot or block in place, as
    /// [`Heap::grow_in_place`](crate::GenericHeap::grow_in_place) does; it
    /// takes no pages (a grow that must move does, through its allocation).
    ///
    /// # Errors
    /// [`AllocError`] when the object cannot grow where it is; nothing
    /// changes.
    ///
    /// # Safety
    /// `ptr` is live in this heap with layout `old` (as for
    /// [`deallocate`](Self::deallocate)), and `new.size() >= old.size()`.
    ///
    /// # Time complexity
    /// O(1).
    #[inline]
    pub unsafe fn grow_in_place(
        &mut self,
        ptr: NonNull<u8>,
        old: Layout,
        new: Layout,
    ) -> Result<NonNull<[u8]>, AllocError> {
        // SAFETY: forwarded from the caller.
        unsafe { self.hybrid.resize_in_place(ptr, old, new, true) }
    }

    /// Shrinks a slot or block in place, as
    /// [`Heap::shrink_in_place`](crate::GenericHeap::shrink_in_place) does
    /// (a tail goes back to the TLSF, not to the source).
    ///
    /// # Errors
    /// [`AllocError`] when the object cannot stay where it is; nothing
    /// changes.
    ///
    /// # Safety
    /// `ptr` is live in this heap with layout `old`, and
    /// `new.size() <= old.size()`.
    ///
    /// # Time complexity
    /// O(1).
    #[inline]
    pub unsafe fn shrink_in_place(
        &mut self,
        ptr: NonNull<u8>,
        old: Layout,
        new: Layout,
    ) -> Result<NonNull<[u8]>, AllocError> {
        // SAFETY: forwarded from the caller.
        unsafe { self.hybrid.resize_in_place(ptr, old, new, false) }
    }

    /// Usable bytes of a live slot or block, found as
    /// [`Heap::usable_size`](crate::GenericHeap::usable_size) finds them.
    ///
    /// # Safety
    /// `ptr` is live in this heap with layout `layout` (as for
    /// [`deallocate`](Self::deallocate)).
    ///
    /// # Time complexity
    /// O(1): finding a page reads at most one node per level of its
    /// pool's tree (see the type's documentation).
    pub unsafe fn usable_size(&self, ptr: NonNull<u8>, layout: Layout) -> usize {
        // SAFETY: forwarded from the caller.
        unsafe { self.hybrid.usable_size(ptr, layout) }
    }

    /// A snapshot of the usage counters, as [`Heap::stats`](crate::GenericHeap::stats)
    /// gives them; `capacity` grows as pages are added, less the page
    /// tables' nodes.
    ///
    /// # Time complexity
    /// O(classes).
    pub fn stats(&self) -> Stats {
        self.hybrid.stats()
    }

    /// Verifies every invariant of both sides, that the TLSF bytes held as
    /// pages match the pages the slab holds, and that the page tables list
    /// exactly those pages in as many nodes as they made.
    ///
    /// # Errors
    /// The first violation found.
    ///
    /// # Time complexity
    /// O(blocks + pages + free slots + table nodes).
    pub fn check(&self) -> Result<(), CheckError> {
        self.hybrid.check()
    }
}

impl<S: PageSource, const PAGE: usize> Drop for GrowingHeap<S, PAGE> {
    /// Gives every page back to the source (O(pages + source pages)).
    fn drop(&mut self) {
        // The slab's pages go back to the TLSF while it has them: the slab's
        // own drop, which runs after this one, then finds none.
        self.hybrid.slab.reset();
        let pages = self.hybrid.pages_mut();
        pages.tables.forget_nodes();
        // SAFETY: every pool came from the source through the tables'
        // `grow` (`add_pages_for`), and no block outlives the heap.
        unsafe { give_back_pools(&mut pages.tlsf, &mut pages.tables.source) };
    }
}

impl<S: PageSource, const PAGE: usize> core::fmt::Debug for GrowingHeap<S, PAGE> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("GrowingHeap")
            .field("page_size", &PAGE)
            .field("max_class", &self.max_class())
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

// SAFETY: forwards to `Hybrid`, a `RawHeap`, which the heap holds; its
// blocks lie in pages of the source, which stay until the heap drops.
raw_heap_through_hybrid!(impl[S: PageSource, const PAGE: usize] GrowingHeap<S, PAGE>);
