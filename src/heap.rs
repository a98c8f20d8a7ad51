//! The hybrid core: slab classes for small requests, a TLSF for the rest,
//! both in one pool.
//!
//! The slab's page source is the TLSF itself: a slab page is a page-aligned
//! TLSF block. Whether a request is the slab's or the TLSF's depends only on
//! its size rounded up to its alignment, so `deallocate` tells them apart
//! from the `Layout` alone, and every size between a request and the length
//! it got back goes to the same side.

use core::alloc::Layout;
use core::mem::MaybeUninit;
use core::ptr::NonNull;

use crate::in_place::{by_value, uninit_field};
use crate::pages::{MAX_PAGE, MIN_PAGE, PageSource, check_page_size};
use crate::slab::Slab;
use crate::slab::classes::CLASSES;
use crate::tlsf::GenericTlsf;
use crate::{
    AllocError, CheckError, ClassStats, GRANULE, HEADER, MIN_BLOCK, Misuse, POOL_OVERHEAD,
    PoolError, RawHeap, Stats,
};

/// Slab classes in front of a TLSF, in one pool: the type to reach for when
/// a heap serves both small objects and large buffers.
///
/// Requests whose size, rounded up to their alignment, is at most
/// [`max_class`](Self::max_class), and whose alignment is at most
/// [`GRANULE`], take a slot of a size class (no header, no search); the
/// others take a TLSF block. Slab pages are page-aligned
/// TLSF blocks, taken when a class needs one and given back when they empty
/// (each class keeps one empty page), so the two sides share the pool's
/// memory as the load shifts.
///
/// ```
/// # #[cfg(feature = "allocator-api2")] {
/// use core::mem::MaybeUninit;
/// use rtarena::allocator_api2::{boxed::Box, vec::Vec};
/// use rtarena::{Arena, Heap};
///
/// let mut pool = [MaybeUninit::uninit(); 256 * 1024];
/// let arena = Arena::new(Heap::new(&mut pool).unwrap());
/// let small = Box::new_in([1u64; 4], &arena); // a 32-byte slab slot
/// let mut large: Vec<u8, _> = Vec::with_capacity_in(10_000, &arena); // a TLSF block
/// large.extend_from_slice(&[7; 10_000]);
/// assert_eq!(arena.stats().live(), 2);
/// # drop((small, large));
/// # }
/// ```
///
/// # Time complexity
///
/// `allocate`, `deallocate`, `grow_in_place` and `shrink_in_place` are O(1):
/// one class computation picks the side, then the slab's or the TLSF's O(1)
/// path runs (see [`Slab`] and [`GenericTlsf`]). `stats` is O(classes); `check` is
/// O(blocks + pages).
pub struct GenericHeap<'p, const FL: usize, const SL: usize, const N: usize = CLASSES> {
    slab: Slab<TlsfPages<'p, FL, SL>, N>,
}

/// The hybrid heap over a [`Tlsf`](crate::Tlsf) (pools up to 4 GiB). See
/// [`GenericHeap`] for the API.
pub type Heap<'p> = GenericHeap<'p, { crate::tlsf::DEFAULT_FL }, 16>;

/// The hybrid heap over a [`SmallTlsf`](crate::SmallTlsf), for
/// microcontroller pools of up to 64 KiB: its control block (the TLSF's
/// and the slab's classes) is 2,432 bytes on x86_64, 1,680 on Cortex-M and
/// 1,544 on i686 (asserted at compile time on those targets).
///
/// Its slab has room for the 16 smallest classes (up to 256 bytes): the
/// default page of a 64 KiB pool, 512 bytes, serves only those up to 112.
pub type SmallHeap<'p> = GenericHeap<'p, { crate::tlsf::config::fl_len(1 << 16) }, 8, 16>;

/// The TLSF as a page source, counting what its pages take from it so that
/// the heap's stats can show the pages' objects instead of whole pages.
struct TlsfPages<'p, const FL: usize, const SL: usize> {
    tlsf: GenericTlsf<'p, FL, SL>,
    /// A page's size and alignment.
    page: Layout,
    /// TLSF bytes (block sizes, headers included) held as slab pages.
    page_bytes: usize,
    page_allocations: u64,
    page_deallocations: u64,
    /// TLSF failures that were not the caller's: a page the slab could not
    /// get, a large block served on a retry after `trim`.
    hidden_failures: u64,
}

impl<'p, const FL: usize, const SL: usize> TlsfPages<'p, FL, SL> {
    /// Builds in `place` a source of pages of layout `page` from a TLSF over
    /// `pool`, the TLSF in place too (see `GenericTlsf::new_in_place`). On
    /// `Err`, `place` holds nothing that needs dropping.
    ///
    /// A pool that cannot hold a page wherever it lies is refused: the
    /// slab's requests would all fail. Two pages and a minimal block always
    /// hold one, whatever the pool's alignment (up to a page less a granule
    /// to reach a page boundary, and a gap before it is either nothing or a
    /// block of its own).
    fn new_in_place<'a>(
        place: &'a mut MaybeUninit<Self>,
        pool: &'p mut [MaybeUninit<u8>],
        page: Layout,
    ) -> Result<&'a mut Self, PoolError> {
        let pages = place.as_mut_ptr();
        // SAFETY: `pages` points to `place`, so the field is valid for reads
        // and writes and aligned; `&raw mut` names it without a reference to
        // uninitialised memory, and a `MaybeUninit` of it may be referenced.
        // It is reached only through this reference until `assume_init_mut`,
        // the other writes being to disjoint fields.
        let tlsf = unsafe { uninit_field(&raw mut (*pages).tlsf) };
        let usable = GenericTlsf::new_in_place(tlsf, pool)?.stats().capacity + POOL_OVERHEAD;
        let min = Self::min_pool(page.align());
        if usable < min {
            return Err(PoolError::TooSmall { usable, min });
        }
        // SAFETY: each write is to a field of `place` through `pages`, none
        // to the TLSF's.
        unsafe {
            (&raw mut (*pages).page).write(page);
            (&raw mut (*pages).page_bytes).write(0);
            (&raw mut (*pages).page_allocations).write(0);
            (&raw mut (*pages).page_deallocations).write(0);
            (&raw mut (*pages).hidden_failures).write(0);
        }
        // SAFETY: the TLSF (built by `new_in_place`, which returned `Ok`)
        // and the writes above initialise every field.
        Ok(unsafe { place.assume_init_mut() })
    }

    /// The smallest pool (usable bytes, as `PoolError::TooSmall` counts
    /// them) that holds a page of `page_size` bytes wherever it lies.
    const fn min_pool(page_size: usize) -> usize {
        2 * page_size + MIN_BLOCK + POOL_OVERHEAD
    }

    /// TLSF bytes of the page at `page`.
    fn block_bytes(&self, page: NonNull<u8>) -> usize {
        // SAFETY: `page` is a live TLSF block (a page handed out).
        unsafe { self.tlsf.usable_size(page) + HEADER }
    }
}

// SAFETY: a page is the payload of a TLSF block of `page_size` bytes, header
// included, aligned to `page_size` (a power of two from `MIN_PAGE` to
// `MAX_PAGE`, checked in `GenericHeap::with_page_size`): its first `page_size -
// GRANULE` bytes are the block's, disjoint from every other live block, in
// pools that outlive the source, and the next block's header word lies in the
// reserved tail. `page_containing` rebuilds the pointer from the pool's own
// provenance. Nothing here calls into the heap that owns the source.
unsafe impl<const FL: usize, const SL: usize> PageSource for TlsfPages<'_, FL, SL> {
    #[inline]
    fn page_size(&self) -> usize {
        self.page.align()
    }

    fn allocate_page(&mut self) -> Result<NonNull<u8>, AllocError> {
        match self.tlsf.allocate(self.page) {
            Ok(block) => {
                let page = block.cast::<u8>();
                self.page_bytes += self.block_bytes(page);
                self.page_allocations += 1;
                Ok(page)
            }
            Err(AllocError) => {
                self.hidden_failures += 1;
                Err(AllocError)
            }
        }
    }

    unsafe fn deallocate_page(&mut self, page: NonNull<u8>) {
        self.page_bytes -= self.block_bytes(page);
        self.page_deallocations += 1;
        // SAFETY: the page is a live block allocated with this layout.
        unsafe { self.tlsf.deallocate(page, self.page) };
    }

    #[inline(always)]
    fn page_containing(&self, addr: usize) -> Option<NonNull<u8>> {
        self.tlsf.pointer_to(addr & !(self.page.align() - 1))
    }

    /// The page's last word is the next TLSF block's header; keeping a whole
    /// granule keeps the slots' end granule-aligned (so the slab serves
    /// alignments up to the granule, and the TLSF the larger ones).
    fn reserved_tail(&self) -> usize {
        GRANULE
    }
}

impl<'p, const FL: usize, const SL: usize, const N: usize> GenericHeap<'p, FL, SL, N> {
    /// A heap over `pool`, which it borrows for as long as it lives, with
    /// pages of [`default_page_size`](Self::default_page_size) bytes.
    ///
    /// # Errors
    /// As for [`with_page_size`](Self::with_page_size).
    ///
    /// # Time complexity
    /// O(classes).
    pub fn new(pool: &'p mut [MaybeUninit<u8>]) -> Result<Self, PoolError> {
        let page_size = Self::default_page_size(pool.len());
        Self::with_page_size(pool, page_size)
    }

    /// The page size `new` picks for a pool of `len` bytes: a 256th of the
    /// pool, rounded down to a power of two, at least [`MIN_PAGE`] and at
    /// most [`MAX_DEFAULT_PAGE`](Self::MAX_DEFAULT_PAGE) (64 KiB). Small
    /// pools get small pages, so that the pages the classes hold (one or
    /// two each) take a small share of the pool; large pools get large
    /// pages, so that taking and giving back pages is rare.
    pub const fn default_page_size(len: usize) -> usize {
        let share = len / 256;
        if share < MIN_PAGE {
            MIN_PAGE
        } else if share >= Self::MAX_DEFAULT_PAGE {
            Self::MAX_DEFAULT_PAGE
        } else {
            1 << (usize::BITS - 1 - share.leading_zeros())
        }
    }

    /// Largest page [`default_page_size`](Self::default_page_size) picks.
    pub const MAX_DEFAULT_PAGE: usize = 64 << 10;

    /// Fewest slots a page of a served class holds: classes with fewer go
    /// to the TLSF, where a block costs one word, instead of taking and
    /// giving back a page every few objects.
    pub const MIN_SLOTS: usize = 4;

    /// A heap over `pool` with slab pages of `page_size` bytes; the slab
    /// serves the classes that fit at least [`MIN_SLOTS`](Self::MIN_SLOTS)
    /// slots in a page (up to 896 bytes with 4 KiB pages, 3584 bytes with
    /// 16 KiB pages, every class from 32 KiB pages up).
    ///
    /// # Errors
    /// [`PoolError::PageSize`] if `page_size` is not a power of two from
    /// [`MIN_PAGE`] to [`MAX_PAGE`]; [`PoolError::TooSmall`] if the pool
    /// cannot hold a page wherever it lies (two pages and
    /// [`MIN_BLOCK`](crate::MIN_BLOCK) of usable bytes always can): the
    /// slab's requests would all fail; otherwise as for
    /// [`GenericTlsf::new`].
    ///
    /// # Time complexity
    /// O(classes).
    pub fn with_page_size(
        pool: &'p mut [MaybeUninit<u8>],
        page_size: usize,
    ) -> Result<Self, PoolError> {
        // SAFETY: `with_page_size_in_place` initialises its place when it
        // returns `Ok`.
        unsafe { by_value(|place| Self::with_page_size_in_place(place, pool, page_size)) }
    }

    /// [`new`](Self::new), building the heap in `place` (a `static`, a
    /// task's memory) with no copy of it on the stack: the control block is
    /// kilobytes (see the crate documentation), and `new` followed by
    /// `Arena::new` puts several copies on the stack. Wrap the result as
    /// `Arena::new(heap)`: an [`Arena`](crate::Arena) over `&mut` the heap
    /// leaves the heap where it is.
    ///
    /// ```
    /// # #[cfg(feature = "allocator-api2")] {
    /// use core::mem::MaybeUninit;
    /// use rtarena::allocator_api2::vec::Vec;
    /// use rtarena::{Arena, SmallHeap};
    ///
    /// let mut pool = [MaybeUninit::uninit(); 8 * 1024];
    /// let mut place = MaybeUninit::uninit();
    /// let arena = Arena::new(SmallHeap::new_in_place(&mut place, &mut pool).unwrap());
    /// let mut v = Vec::new_in(&arena);
    /// v.extend([1u16, 2, 3]);
    /// assert_eq!(arena.stats().live(), 1);
    /// # }
    /// ```
    ///
    /// The value in `place` is not dropped unless the caller drops it
    /// ([`MaybeUninit::assume_init_drop`]). Forgetting it loses nothing: a
    /// heap's drop only gives the slab's pages back to its own TLSF, and
    /// the pool is the caller's again once the borrow ends. Building in a
    /// `place` that already holds a heap overwrites it without dropping it,
    /// which is forgetting it (a leak of nothing, as above), not undefined
    /// behaviour. On `Err`, `place` holds nothing that needs dropping.
    ///
    /// # Errors
    /// As for [`new`](Self::new).
    ///
    /// # Time complexity
    /// O(classes).
    pub fn new_in_place<'a>(
        place: &'a mut MaybeUninit<Self>,
        pool: &'p mut [MaybeUninit<u8>],
    ) -> Result<&'a mut Self, PoolError> {
        let page_size = Self::default_page_size(pool.len());
        Self::with_page_size_in_place(place, pool, page_size)
    }

    /// [`with_page_size`](Self::with_page_size), building the heap in
    /// `place` with no copy of it on the stack, as
    /// [`new_in_place`](Self::new_in_place) does (and with its drop rules).
    ///
    /// # Errors
    /// As for [`with_page_size`](Self::with_page_size).
    ///
    /// # Time complexity
    /// O(classes).
    pub fn with_page_size_in_place<'a>(
        place: &'a mut MaybeUninit<Self>,
        pool: &'p mut [MaybeUninit<u8>],
        page_size: usize,
    ) -> Result<&'a mut Self, PoolError> {
        check_page_size(page_size)?;
        // A page's TLSF block is `page_size` bytes from its header word, one
        // word before the page: pages then tile the pool with no gap, and
        // the next block's header takes the page's last word.
        let page = Layout::from_size_align(page_size - HEADER, page_size).map_err(|_| {
            PoolError::PageSize {
                size: page_size,
                min: MIN_PAGE,
                max: MAX_PAGE,
            }
        })?;
        let heap = place.as_mut_ptr();
        // SAFETY: `heap` points to `place`, so the field is valid for reads
        // and writes and aligned; `&raw mut` names it without a reference to
        // uninitialised memory, and a `MaybeUninit` of it may be referenced.
        // It is reached only through this reference until `assume_init_mut`
        // (the heap has no other field).
        let slab = unsafe { uninit_field(&raw mut (*heap).slab) };
        // SAFETY: `TlsfPages::new_in_place` initialises its place when it
        // returns `Ok`, returning a reference to it, and leaves nothing that
        // needs dropping on `Err`.
        unsafe {
            Slab::init(
                slab,
                |source| TlsfPages::new_in_place(source, pool, page),
                Self::MIN_SLOTS,
                usize::MAX,
            )
        }?;
        // SAFETY: the slab, the heap's one field, was just initialised.
        Ok(unsafe { place.assume_init_mut() })
    }

    /// Gives the heap another pool (for both sides); returns the bytes it
    /// adds to `capacity`.
    ///
    /// # Errors
    /// As for [`GenericTlsf::add_pool`]; the heap is unchanged.
    ///
    /// # Time complexity
    /// O(1).
    pub fn add_pool(&mut self, pool: &'p mut [MaybeUninit<u8>]) -> Result<usize, PoolError> {
        self.tlsf_mut().add_pool(pool)
    }

    /// Size of the slab's pages.
    pub fn page_size(&self) -> usize {
        self.slab.source().page.align()
    }

    /// The largest request (`Layout::size()` rounded up to its alignment)
    /// that takes a slab slot; larger ones take a TLSF block.
    pub fn max_class(&self) -> usize {
        self.slab.max_class()
    }

    /// Gives every slab class's empty spare page back to the TLSF; returns
    /// how many (see [`Slab::trim`]).
    ///
    /// # Time complexity
    /// O(classes).
    pub fn trim(&mut self) -> usize {
        self.slab.trim()
    }

    /// What slab class `class` holds; see [`Slab::class_stats`].
    ///
    /// # Time complexity
    /// O(1).
    pub fn class_stats(&self, class: usize) -> Option<ClassStats> {
        self.slab.class_stats(class)
    }

    fn tlsf(&self) -> &GenericTlsf<'p, FL, SL> {
        &self.slab.source().tlsf
    }

    fn tlsf_mut(&mut self) -> &mut GenericTlsf<'p, FL, SL> {
        &mut self.slab.source_mut().tlsf
    }

    /// Allocates a slab slot or a TLSF block for `layout`; the returned
    /// slice is the whole slot or usable block.
    ///
    /// # Errors
    /// [`AllocError`] when neither side can serve the request; the heap is
    /// unchanged, except that a class out of free slots may first give the
    /// other classes' empty spare pages back to the TLSF.
    ///
    /// # Time complexity
    /// O(1).
    #[inline(always)]
    pub fn allocate(&mut self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
        if let Some(class) = self.slab.class_for(layout) {
            // SAFETY: `class_for` gives served classes.
            unsafe { self.slab.allocate_in(class) }
        } else {
            self.tlsf_mut()
                .allocate(layout)
                .or_else(|AllocError| self.allocate_after_trim(layout))
        }
    }

    /// A large request found no free block: if slab classes hold empty
    /// spare pages, give them back to the TLSF and try once more.
    #[cold]
    fn allocate_after_trim(&mut self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
        if self.slab.trim() == 0 {
            return Err(AllocError);
        }
        let result = self.tlsf_mut().allocate(layout);
        // One call, one failure at most: the first attempt's does not count.
        self.slab.source_mut().hidden_failures += 1;
        result
    }

    /// Frees a slot or block.
    ///
    /// A free that breaks the contract in a way one test shows is refused,
    /// changing nothing but [`Stats::bad_frees`], and debug builds then
    /// panic at the caller's line: as [`Slab::deallocate`] says for small
    /// layouts and [`GenericTlsf::deallocate`] for large ones.
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
        Misuse::report_err(unsafe { self.free(ptr, layout) })
    }

    /// [`deallocate`](Self::deallocate), returning a refused misuse rather
    /// than reporting it.
    ///
    /// # Safety
    /// As for `deallocate`.
    #[inline(always)]
    unsafe fn free(&mut self, ptr: NonNull<u8>, layout: Layout) -> Result<(), Misuse> {
        // SAFETY: forwarded from the caller.
        if let Some(done) = unsafe { self.slab.deallocate_latest(ptr, layout) } {
            return done;
        }
        if let Some(class) = self.slab.class_for(layout) {
            // SAFETY: a layout the slab serves was allocated by the slab (every
            // size up to the returned length maps to the same class).
            unsafe { self.slab.deallocate_in(ptr, class, layout) }
        } else {
            // SAFETY: other layouts were allocated by the TLSF.
            unsafe { self.tlsf_mut().free(ptr, layout) }
        }
    }

    /// Whether `layout` is the slab's.
    #[inline(always)]
    fn in_slab(&self, layout: Layout) -> bool {
        self.slab.class_for(layout).is_some()
    }

    /// Resizes in place: within a slab slot when both layouts map to its
    /// class, within the TLSF when both are the TLSF's; `Err` (changing
    /// nothing) when the block would have to change sides or move.
    ///
    /// # Safety
    /// `ptr` is live in this heap with layout `old`; `grow` says whether
    /// `new.size() >= old.size()` (else `new.size() <= old.size()`).
    unsafe fn resize_in_place(
        &mut self,
        ptr: NonNull<u8>,
        old: Layout,
        new: Layout,
        grow: bool,
    ) -> Result<NonNull<[u8]>, AllocError> {
        // SAFETY: `ptr` lives on the side `old` maps to; the other side is
        // never asked about it.
        unsafe {
            match (self.in_slab(old), self.in_slab(new)) {
                (true, true) => self.slab.resize_in_place(ptr, old, new),
                (false, false) if grow => self.tlsf_mut().grow_in_place(ptr, old, new),
                (false, false) => self.tlsf_mut().shrink_in_place(ptr, old, new),
                _ => Err(AllocError),
            }
        }
    }

    /// A snapshot of the usage counters. Slab pages count as their live
    /// objects' slots (`in_use`) and free slots (`free`), so `in_use` is the
    /// bytes handed out by either side. `peak_in_use` is the TLSF's: the
    /// most pool bytes held at once by large blocks and whole slab pages.
    ///
    /// # Time complexity
    /// O(classes).
    pub fn stats(&self) -> Stats {
        let pages = self.slab.source();
        let tlsf = self.tlsf().stats();
        let slab = self.slab.stats();
        // Wrapping: `stats` never panics, whatever a broken contract did to
        // the counts (`check` reports that).
        let sum = |tlsf: u64, pages: u64, slab: u64| tlsf.wrapping_sub(pages).wrapping_add(slab);
        let in_use = tlsf
            .in_use
            .wrapping_sub(pages.page_bytes)
            .wrapping_add(slab.in_use);
        Stats {
            capacity: tlsf.capacity,
            in_use,
            peak_in_use: tlsf.peak_in_use,
            free: tlsf.capacity.wrapping_sub(in_use),
            largest_free: tlsf.largest_free.max(slab.largest_free),
            allocations: sum(tlsf.allocations, pages.page_allocations, slab.allocations),
            deallocations: sum(
                tlsf.deallocations,
                pages.page_deallocations,
                slab.deallocations,
            ),
            failures: sum(tlsf.failures, pages.hidden_failures, slab.failures),
            bad_frees: tlsf.bad_frees.wrapping_add(slab.bad_frees),
        }
    }

    /// Verifies every invariant of both sides (see [`GenericTlsf::check`] and
    /// [`Slab::check`]) and that the TLSF bytes held as pages match the
    /// pages the slab holds.
    ///
    /// # Errors
    /// The first violation found.
    ///
    /// # Time complexity
    /// O(blocks + pages + free slots).
    pub fn check(&self) -> Result<(), CheckError> {
        self.tlsf().check()?;
        self.slab.check()?;
        let pages = self.slab.source();
        let held = pages
            .page_allocations
            .wrapping_sub(pages.page_deallocations) as usize;
        if held
            .checked_mul(self.page_size())
            .is_none_or(|bytes| bytes > pages.page_bytes)
            || held != self.slab.stats().capacity / self.page_size()
        {
            return Err(CheckError::new(
                "slab pages and the TLSF disagree",
                pages.page_bytes,
            ));
        }
        Ok(())
    }
}

impl<const FL: usize, const SL: usize, const N: usize> core::fmt::Debug
    for GenericHeap<'_, FL, SL, N>
{
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Heap")
            .field("page_size", &self.page_size())
            .field("max_class", &self.max_class())
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

// SAFETY: each block comes from the slab or the TLSF, both `RawHeap`s over
// the heap's pools, and slab pages are live TLSF blocks, so slots and large
// blocks never overlap; deallocation and resizing go to the side that
// allocated, chosen by a rule that maps every size from the request to the
// returned length to the same side.
unsafe impl<const FL: usize, const SL: usize, const N: usize> RawHeap
    for GenericHeap<'_, FL, SL, N>
{
    #[inline(always)]
    fn allocate(&mut self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
        GenericHeap::allocate(self, layout)
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
        unsafe { self.resize_in_place(ptr, old, new, true) }
    }

    #[inline]
    unsafe fn shrink_in_place(
        &mut self,
        ptr: NonNull<u8>,
        old: Layout,
        new: Layout,
    ) -> Result<NonNull<[u8]>, AllocError> {
        // SAFETY: same contract.
        unsafe { self.resize_in_place(ptr, old, new, false) }
    }

    fn stats(&self) -> Stats {
        GenericHeap::stats(self)
    }

    fn check(&self) -> Result<(), CheckError> {
        GenericHeap::check(self)
    }

    fn class_stats(&self, class: usize) -> Option<ClassStats> {
        GenericHeap::class_stats(self, class)
    }
}
