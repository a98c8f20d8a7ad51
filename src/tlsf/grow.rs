//! `GrowingTlsf`: a TLSF that takes new pools from a page source when it
//! runs out.

use core::alloc::Layout;
use core::ptr::NonNull;

use super::LargeTlsf;
use super::config::{GRANULE, MIN_BLOCK, POOL_OVERHEAD};
use crate::pages::PageSource;
use crate::{AllocError, CheckError, Misuse, PoolError, RawHeap, Stats};

/// A TLSF over pages from `S`, taking more pages when an allocation finds no
/// free block.
///
/// The growth policy, in full: when `allocate` (or a moving grow) fails, the
/// heap takes from the source as many whole pages as the request needs
/// (its size and alignment, plus a pool's two words of overhead), adds them
/// as pools, and tries once more. Pages that come from one allocation
/// ([`PageSource::pages_merge`], as with `PoolPages`) and follow each other
/// in memory merge into one pool, so a request larger than a page is served
/// from consecutive pages; other pages (`OsPages`) each stay a pool of their
/// own, so a request must then fit one page, and the heap holds at most
/// [`MAX_POOLS`](super::MAX_POOLS) of them. Pages are never given back while the heap lives
/// (a TLSF cannot tell when a whole page is free); dropping the heap gives
/// every page back.
///
/// ```
/// use core::alloc::Layout;
/// use core::mem::MaybeUninit;
/// use rtarena::pages::PoolPages;
/// use rtarena::tlsf::GrowingTlsf;
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
/// resizes are O(1). An allocation that grows the heap also takes
/// `ceil((size + max(align, GRANULE) + MIN_BLOCK + POOL_OVERHEAD) /
/// page_size)` pages from the source, a count bounded by the request, not by
/// the heap's contents; a source that knows how many pages it has left
/// ([`PageSource::pages_left`]) lets a request it cannot meet fail before
/// any page is taken. Dropping the heap is O(pages).
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
    /// enough pages (or, for sources whose pages do not merge, the request
    /// does not fit one page, or the heap already has [`MAX_POOLS`](super::MAX_POOLS) pools).
    /// Pages taken before the failure stay in the heap as free pools.
    ///
    /// # Time complexity
    /// O(1), plus the pages taken when it grows.
    #[inline]
    pub fn allocate(&mut self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
        match self.tlsf.allocate(layout) {
            Ok(block) => Ok(block),
            Err(AllocError) => self.grow_and_allocate(layout),
        }
    }

    #[cold]
    fn grow_and_allocate(&mut self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
        let page_size = self.source.page_size();
        let need = layout
            .size()
            .checked_add(layout.align().max(GRANULE) + MIN_BLOCK + POOL_OVERHEAD)
            .ok_or(AllocError)?;
        let pages = need.div_ceil(page_size);
        let too_many = if self.source.pages_merge() {
            self.source.pages_left().is_some_and(|left| pages > left)
        } else {
            pages > 1
        };
        if too_many {
            return Err(AllocError);
        }
        for _ in 0..pages {
            if self.add_page().is_err() {
                return Err(AllocError);
            }
        }
        let result = self.tlsf.allocate(layout);
        // One call, one failure at most: the first attempt's does not count.
        self.tlsf.counters.failures -= 1;
        result
    }

    /// Takes one page from the source and adds it as a pool (merged with
    /// the pool it continues, if the source allows).
    fn add_page(&mut self) -> Result<(), AllocError> {
        let page = self.source.allocate_page()?;
        // The usable part: all of it when pages merge (no tail then).
        let len = (self.source.page_size() - self.source.reserved_tail()) & !(GRANULE - 1);
        let region = NonNull::slice_from_raw_parts(page, len);
        let added = if self.source.pages_merge() {
            // SAFETY: the page is ours until we give it back (on drop), so
            // for as long as the `'static` TLSF can use it, since that TLSF
            // never leaves this struct; it overlaps no pool, and pages of a
            // source whose pages merge come from one allocation, so an
            // earlier page's pointer covers it.
            unsafe { self.tlsf.add_pool_raw(region).map(drop) }
        } else {
            self.tlsf.fits_pool(len).map(|()| {
                // SAFETY: as above; the pool is recorded as not mergeable, so
                // no block will span it and another page.
                unsafe { self.tlsf.init_pool(page, len, false) };
            })
        };
        added.map_err(|_: PoolError| {
            // SAFETY: the page was not added, so nothing uses it.
            unsafe { self.source.deallocate_page(page) };
            AllocError
        })
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
        let page_size = self.source.page_size();
        let pools = self.tlsf.pools;
        self.tlsf = LargeTlsf::empty();
        for (base, len) in pools.iter() {
            // A pool is one page less its tail, or merged whole pages.
            for offset in (0..len).step_by(page_size) {
                // SAFETY: every pool is a run of whole pages from the source
                // (merges extend a pool by whole pages); the TLSF that used
                // them is gone, and no block outlives the heap.
                unsafe { self.source.deallocate_page(base.add(offset)) };
            }
        }
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

    fn stats(&self) -> Stats {
        self.tlsf.stats()
    }

    fn check(&self) -> Result<(), CheckError> {
        self.tlsf.check()
    }
}
