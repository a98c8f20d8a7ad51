//! `GrowingTlsf`: a TLSF that takes new pools from a page source when it
//! runs out.

use core::alloc::Layout;
use core::ptr::NonNull;

use super::LargeTlsf;
use super::block::{FREE_FOOT, FREE_HEAD};
use super::config::{GRANULE, MIN_BLOCK, POOL_OVERHEAD};
use crate::pages::PageSource;
use crate::{AllocError, CheckError, Misuse, PoolError, RawHeap, Stats};

/// A TLSF over pages from `S`, taking more pages when an allocation finds no
/// free block.
///
/// The growth policy, in full: when `allocate` (or a moving grow) fails, the
/// heap takes from the source as many whole pages as the request needs
/// (its size and alignment, plus a pool's two words of overhead) and tries
/// once more. From a source whose pages merge
/// ([`PageSource::pages_merge`]: `PoolPages`, `RegionPages`, `OsPages`) it
/// takes them as one run of consecutive pages
/// ([`PageSource::allocate_pages`]) and adds the run as a pool, which
/// extends the pool it continues: so a request of any size the source can
/// give is served, and the heap stays one pool for as long as the source
/// hands out pages in order (`OsPages` starts a new pool only when a
/// reservation of address space fills; the heap holds at most
/// [`MAX_POOLS`](super::MAX_POOLS) pools). Other pages each stay a pool of
/// their own, so a request must then fit one page, and the heap holds at
/// most `MAX_POOLS` pages. If the pages cannot be added, they go back and
/// the heap is unchanged. Pages are never given back to the source while
/// the heap lives; freed blocks are reused,
/// [`release_free_pages`](Self::release_free_pages) gives the memory of
/// the whole pages inside free blocks back (to the OS, for `OsPages`) when
/// asked, [`grow`](Self::grow) takes pages ahead of need, and dropping the
/// heap gives every page back.
///
/// ```
/// use core::alloc::Layout;
/// use core::mem::MaybeUninit;
/// use rtarena::pages::PoolPages;
/// use rtarena::GrowingTlsf;
///
/// let mut pool = [MaybeUninit::uninit(); 64 * 1024];
/// let mut tlsf = GrowingTlsf::new(PoolPages::new(&mut pool, 4096).unwrap());
/// assert_eq!(tlsf.stats().capacity, 0);
/// let block = tlsf.allocate(Layout::new::<[u8; 10_000]>()).unwrap();
/// assert_eq!(tlsf.source().pages_in_use(), 3);
/// // SAFETY: allocated just above with this layout.
/// unsafe { tlsf.deallocate(block.cast(), Layout::new::<[u8; 10_000]>()) };
/// ```
///
/// # Time complexity
///
/// As [`Tlsf`](crate::Tlsf): `allocate`, `deallocate` and the in-place
/// resizes are O(1), with one exception: an allocation that grows the heap
/// also takes `ceil((size + max(align, GRANULE) + MIN_BLOCK + POOL_OVERHEAD)
/// / page_size)` pages from the source, one `allocate_pages` call (one
/// `allocate_page` for pages that do not merge), whose cost is the
/// source's: for `OsPages`, system calls (see its documentation); for a
/// source that keeps the default `allocate_pages`, one page take per page.
/// Adding the pages to the heap is O(1). A source that knows how many pages
/// it has left ([`PageSource::pages_left`]) lets a request it cannot meet
/// fail before any page is taken. Dropping the heap is O(pages).
pub struct GrowingTlsf<S: PageSource> {
    /// Pools that are whole pages of `source`, which this struct owns: no
    /// `&'static` borrow escapes, and the pages outlive the TLSF (dropped
    /// first, then given back).
    tlsf: LargeTlsf<'static>,
    source: S,
}

impl<S: PageSource> GrowingTlsf<S> {
    /// A heap with no memory yet: the first allocation takes pages. `const`,
    /// so a `static` one can be a `#[global_allocator]` (inside a
    /// [`SyncArena`](crate::SyncArena), over `OsPages::huge_static()`).
    ///
    /// # Time complexity
    /// O(1).
    pub const fn new(source: S) -> Self {
        GrowingTlsf {
            tlsf: LargeTlsf::empty(),
            source,
        }
    }

    /// The page source.
    pub fn source(&self) -> &S {
        &self.source
    }

    /// Allocates a block for `layout`, taking pages from the source first if
    /// no free block fits (see the type's documentation).
    ///
    /// # Errors
    /// [`AllocError`] when no free block fits and the source cannot give
    /// enough pages (for sources whose pages do not merge: when the request
    /// does not fit one page), or the pages would be a new pool and the heap
    /// already has [`MAX_POOLS`](super::MAX_POOLS) pools. The heap is then
    /// unchanged.
    ///
    /// # Time complexity
    /// O(1), plus the page take when it grows (see the type's
    /// documentation).
    #[inline]
    pub fn allocate(&mut self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
        match self.tlsf.allocate(layout) {
            Ok(block) => Ok(block),
            Err(AllocError) => self.grow_and_allocate(layout),
        }
    }

    #[cold]
    fn grow_and_allocate(&mut self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
        // SAFETY: every pool of the TLSF came from the source through
        // `add_pages_for`, and only `drop` gives them back.
        unsafe { add_pages_for(&mut self.tlsf, &mut self.source, layout) }?;
        let result = self.tlsf.allocate(layout);
        // One call, one failure at most: the first attempt's does not count.
        self.tlsf.counters.failures -= 1;
        result
    }

    /// Takes pages from the source now, as many as an allocation of
    /// `bytes` that found no free block would (see the type's
    /// documentation), and adds them: free memory grows by at least
    /// `bytes`, so that allocations up to that much in all take no page
    /// later (a request still needs one free block that holds it). With
    /// an [`OsPages`](crate::pages::OsPages) that is
    /// [`populated`](crate::pages::OsPages::populated) or
    /// [`locked`](crate::pages::OsPages::locked), that memory is backed
    /// now too: code with deadlines calls this before they start, and
    /// then takes neither system calls nor page faults.
    ///
    /// # Errors
    /// [`AllocError`] as for an allocation that grows the heap; the heap is
    /// then unchanged.
    ///
    /// # Time complexity
    /// The page take of a growing allocation (see the type's
    /// documentation).
    pub fn grow(&mut self, bytes: usize) -> Result<(), AllocError> {
        let layout = Layout::from_size_align(bytes, 1).map_err(|_| AllocError)?;
        // SAFETY: every pool of the TLSF came from the source through
        // `add_pages_for`, and only `drop` gives them back.
        unsafe { add_pages_for(&mut self.tlsf, &mut self.source, layout) }
    }

    /// Gives the memory of every whole page inside a free block back to
    /// the source ([`PageSource::discard`]: for `OsPages`, to the OS), and
    /// returns how many bytes went back. The pages stay the heap's: an
    /// allocation that reaches them again touches them, and the OS backs
    /// them anew then (a page fault per OS page). A heap never does this
    /// by itself: call it where a pause is fine, say after a phase that
    /// freed much.
    ///
    /// # Time complexity
    /// O(lists + free blocks), plus one `discard` for each free block
    /// that spans a whole page (for `OsPages`, a system call each).
    pub fn release_free_pages(&mut self) -> usize {
        // SAFETY: every pool of the TLSF came from the source through
        // `add_pages_for`, and only `drop` gives them back.
        unsafe { release_free_pages(&self.tlsf, &mut self.source) }
    }

    /// Frees a block; see [`GenericTlsf::deallocate`](super::GenericTlsf::deallocate).
    ///
    /// # Safety
    /// As for [`GenericTlsf::deallocate`](super::GenericTlsf::deallocate).
    ///
    /// # Time complexity
    /// O(1).
    #[inline]
    #[track_caller]
    pub unsafe fn deallocate(&mut self, ptr: NonNull<u8>, layout: Layout) {
        // SAFETY: forwarded.
        unsafe { self.tlsf.deallocate(ptr, layout) }
    }

    /// Grows a block in place; see
    /// [`GenericTlsf::grow_in_place`](super::GenericTlsf::grow_in_place).
    /// It takes no pages: a grow that must move does (through the wrapper's
    /// allocation).
    ///
    /// # Errors
    /// As for `GenericTlsf::grow_in_place`.
    ///
    /// # Safety
    /// As for `GenericTlsf::grow_in_place`.
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
        // SAFETY: forwarded.
        unsafe { self.tlsf.grow_in_place(ptr, old, new) }
    }

    /// Shrinks a block in place; see
    /// [`GenericTlsf::shrink_in_place`](super::GenericTlsf::shrink_in_place).
    /// The tail goes back to the TLSF, not to the source.
    ///
    /// # Errors
    /// As for `GenericTlsf::shrink_in_place`.
    ///
    /// # Safety
    /// As for `GenericTlsf::shrink_in_place`.
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
        // SAFETY: forwarded.
        unsafe { self.tlsf.shrink_in_place(ptr, old, new) }
    }

    /// Usable bytes of a live block; see
    /// [`GenericTlsf::usable_size`](super::GenericTlsf::usable_size).
    ///
    /// # Safety
    /// As for `GenericTlsf::usable_size`.
    ///
    /// # Time complexity
    /// O(1).
    pub unsafe fn usable_size(&self, ptr: NonNull<u8>, layout: Layout) -> usize {
        // SAFETY: forwarded.
        unsafe { self.tlsf.usable_size(ptr, layout) }
    }

    /// Frees every block at once: each pool becomes one free block again
    /// and the counters restart. The heap keeps the pages it took (they go
    /// back to the source when it drops).
    ///
    /// # Time complexity
    /// O(FL * SL + pools), as [`GenericTlsf::reset`](super::GenericTlsf::reset).
    pub fn reset(&mut self) {
        self.tlsf.reset();
    }

    /// The TLSF's counters; `capacity` grows as pages are added.
    ///
    /// # Time complexity
    /// O(1).
    pub fn stats(&self) -> Stats {
        self.tlsf.stats()
    }

    /// The TLSF's integrity check.
    ///
    /// # Errors
    /// The first violation found.
    ///
    /// # Time complexity
    /// O(blocks).
    pub fn check(&self) -> Result<(), CheckError> {
        self.tlsf.check()
    }
}

impl<S: PageSource> Drop for GrowingTlsf<S> {
    /// Gives every page back to the source (O(pages)).
    fn drop(&mut self) {
        // SAFETY: every pool came from the source through `add_pages_for`,
        // and no block outlives the heap.
        unsafe { give_back_pools(&mut self.tlsf, &mut self.source) };
    }
}

/// The growth policy of [`GrowingTlsf`], shared with the growing hybrid heap:
/// takes from `source` as many whole pages as a request for `layout` needs
/// and adds them to `tlsf` (see `GrowingTlsf`'s documentation).
///
/// # Errors
/// [`AllocError`] when the source cannot give the pages or they cannot be
/// added; `tlsf` and `source` are then unchanged.
///
/// # Safety
/// Every pool of `tlsf` is pages of `source` added by this function, and
/// they go back to it only through [`give_back_pools`] (a run that
/// continues a pool merges with it, so its pointer must cover the run).
#[cold]
pub(crate) unsafe fn add_pages_for<S: PageSource>(
    tlsf: &mut LargeTlsf<'static>,
    source: &mut S,
    layout: Layout,
) -> Result<(), AllocError> {
    let page_size = source.page_size();
    let need = layout
        .size()
        .checked_add(layout.align().max(GRANULE) + MIN_BLOCK + POOL_OVERHEAD)
        .ok_or(AllocError)?;
    let pages = need.div_ceil(page_size);
    if source.pages_merge() {
        if source.pages_left().is_some_and(|left| pages > left) {
            return Err(AllocError);
        }
        add_run(tlsf, source, pages)
    } else if pages > 1 {
        Err(AllocError)
    } else {
        add_page(tlsf, source)
    }
}

/// Takes a run of `count` pages from a source whose pages merge and adds
/// it as a pool, which extends the pool it continues, if any.
fn add_run<S: PageSource>(
    tlsf: &mut LargeTlsf<'static>,
    source: &mut S,
    count: usize,
) -> Result<(), AllocError> {
    let page_size = source.page_size();
    let len = count.checked_mul(page_size).ok_or(AllocError)?;
    let run = source.allocate_pages(count)?;
    // SAFETY: the run is the heap's until it goes back (`give_back_pools`),
    // so for as long as the `'static` TLSF can use it, since that TLSF never
    // leaves the heap that owns the source; it overlaps no pool; pages of a
    // source whose pages merge have no reserved tail, and the pointer of the
    // page a pool ends with covers the run that adjoins it. Pages are
    // multiples of the granule (at least `MIN_PAGE`, powers of two).
    let added = unsafe { tlsf.add_pool_raw(NonNull::slice_from_raw_parts(run, len)) };
    added.map(drop).map_err(|_: PoolError| {
        // SAFETY: the run was not added, so nothing uses its pages, and its
        // pointer covers all of them.
        unsafe { source.deallocate_pages(run, count) };
        AllocError
    })
}

/// Takes one page from a source whose pages do not merge and adds it as a
/// pool of its own.
fn add_page<S: PageSource>(
    tlsf: &mut LargeTlsf<'static>,
    source: &mut S,
) -> Result<(), AllocError> {
    let page = source.allocate_page()?;
    let len = (source.page_size() - source.reserved_tail()) & !(GRANULE - 1);
    tlsf.fits_pool(len)
        .map(|()| {
            // SAFETY: as in `add_run`; the pool is recorded as not
            // mergeable, so no block will span it and another page.
            unsafe { tlsf.init_pool(page, len, false) };
        })
        .map_err(|_: PoolError| {
            // SAFETY: the page was not added, so nothing uses it.
            unsafe { source.deallocate_page(page) };
            AllocError
        })
}

/// Gives the memory of every whole page of `source` inside a free block of
/// `tlsf` back to the source ([`PageSource::discard`]); returns how many
/// bytes went back. Each free block keeps its header and links and its
/// footer, the words the TLSF reads.
///
/// Nothing goes back from a source whose pages are aligned below their
/// size: there whole pages cannot be found by address alone.
///
/// # Safety
/// Every pool of `tlsf` lies in pages of `source` that are out.
///
/// # Time complexity
/// O(lists + free blocks), plus one `discard` for each free block that
/// spans a whole page.
pub(crate) unsafe fn release_free_pages<S: PageSource>(
    tlsf: &LargeTlsf<'static>,
    source: &mut S,
) -> usize {
    let page_size = source.page_size();
    if source.page_align() < page_size {
        return 0;
    }
    let mut released = 0;
    for (block, size) in tlsf.free_blocks() {
        let addr = block.as_ptr().addr();
        let first = (addr + FREE_HEAD).next_multiple_of(page_size);
        let end = (addr + size - FREE_FOOT) & !(page_size - 1);
        if end > first {
            // SAFETY: whole pages inside a free block, which nothing uses:
            // pages of the source that are out (the caller's), reached
            // through the pool's pointer.
            released += unsafe { source.discard(block.add(first - addr), end - first) };
        }
    }
    released
}

/// Empties `tlsf` and gives every page of its pools back to `source`
/// (O(pages)).
///
/// # Safety
/// Every pool of `tlsf` came from `source` through [`add_pages_for`], and no
/// block of `tlsf` is used any more.
pub(crate) unsafe fn give_back_pools<S: PageSource>(tlsf: &mut LargeTlsf<'static>, source: &mut S) {
    let page_size = source.page_size();
    let pools = tlsf.pools;
    *tlsf = LargeTlsf::empty();
    for (base, len) in pools.iter() {
        // A pool is one page less its tail, or merged whole pages.
        // SAFETY: every pool is a run of pages from the source (merges
        // extend a pool by whole pages, and a merged pool's pointer covers
        // them all); the TLSF that used them is gone, and nothing uses its
        // blocks (caller).
        unsafe { source.deallocate_pages(base, len.div_ceil(page_size)) };
    }
}

impl<S: PageSource> core::fmt::Debug for GrowingTlsf<S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("GrowingTlsf")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

// SAFETY: a `GrowingTlsf` owns its source and the pages it took; the raw
// pointers inside its TLSF point only into those pages.
unsafe impl<S: PageSource + Send> Send for GrowingTlsf<S> {}

// SAFETY: every block comes from the inner TLSF (a `RawHeap`) over pages
// that stay valid until the heap is dropped; growing only adds pools; the
// source never calls back into the heap (`PageSource`'s contract).
unsafe impl<S: PageSource> RawHeap for GrowingTlsf<S> {
    #[inline(always)]
    fn allocate(&mut self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
        GrowingTlsf::allocate(self, layout)
    }

    #[inline(always)]
    unsafe fn deallocate(&mut self, ptr: NonNull<u8>, layout: Layout) -> Result<(), Misuse> {
        // SAFETY: same contract.
        unsafe { self.tlsf.free(ptr, layout) }
    }

    #[inline]
    unsafe fn grow_in_place(
        &mut self,
        ptr: NonNull<u8>,
        old: Layout,
        new: Layout,
    ) -> Result<NonNull<[u8]>, AllocError> {
        // SAFETY: same contract.
        unsafe { self.tlsf.grow_in_place(ptr, old, new) }
    }

    #[inline]
    unsafe fn shrink_in_place(
        &mut self,
        ptr: NonNull<u8>,
        old: Layout,
        new: Layout,
    ) -> Result<NonNull<[u8]>, AllocError> {
        // SAFETY: same contract.
        unsafe { self.tlsf.shrink_in_place(ptr, old, new) }
    }

    #[inline]
    unsafe fn usable_size(&self, ptr: NonNull<u8>, layout: Layout) -> usize {
        // SAFETY: same contract.
        unsafe { self.tlsf.usable_size(ptr, layout) }
    }

    fn reset(&mut self) {
        GrowingTlsf::reset(self);
    }

    fn stats(&self) -> Stats {
        self.tlsf.stats()
    }

    fn check(&self) -> Result<(), CheckError> {
        self.tlsf.check()
    }
}
