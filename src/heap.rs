//! The hybrid core: slab classes for small requests, a TLSF for the rest,
//! both in one pool.
//!
//! The slab's page source is the TLSF itself (`TlsfPages`, in
//! `heap/tlsf_pages.rs`): a slab page is a TLSF block, found again through
//! a page table per pool.
//! Whether a request is the slab's depends on its size rounded up to its
//! alignment, and every size between a request and the length it got back
//! maps to the same side; a small request whose class can get no page is
//! served by the TLSF instead, so freeing and resizing a small layout ask the
//! page table whether the pointer lies in a slab page.
//!
//! The logic is `Hybrid`'s, over either kind of page tables: `GenericHeap`
//! over borrowed pools, `GrowingHeap` (`heap/growing.rs`) over pages it
//! takes from a source as it needs them.

/// `RawHeap` for a hybrid heap type, every method forwarded to its field
/// `hybrid` (written once for `GenericHeap` and `GrowingHeap`). Each use
/// says why its type keeps the trait's contract.
macro_rules! raw_heap_through_hybrid {
    (impl[$($generics:tt)*] $heap:ty) => {
        // SAFETY: the invocation's.
        unsafe impl<$($generics)*> RawHeap for $heap {
            #[inline(always)]
            fn allocate(&mut self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
                self.hybrid.allocate(layout)
            }

            #[inline(always)]
            unsafe fn deallocate(&mut self, ptr: NonNull<u8>, layout: Layout) -> Result<(), Misuse> {
                // SAFETY: same contract.
                unsafe { self.hybrid.free(ptr, layout) }
            }

            #[inline]
            unsafe fn grow_in_place(
                &mut self,
                ptr: NonNull<u8>,
                old: Layout,
                new: Layout,
            ) -> Result<NonNull<[u8]>, AllocError> {
                // SAFETY: same contract.
                unsafe { self.hybrid.resize_in_place(ptr, old, new, true) }
            }

            #[inline]
            unsafe fn shrink_in_place(
                &mut self,
                ptr: NonNull<u8>,
                old: Layout,
                new: Layout,
            ) -> Result<NonNull<[u8]>, AllocError> {
                // SAFETY: same contract.
                unsafe { self.hybrid.resize_in_place(ptr, old, new, false) }
            }

            #[inline]
            unsafe fn usable_size(&self, ptr: NonNull<u8>, layout: Layout) -> usize {
                // SAFETY: same contract.
                unsafe { self.hybrid.usable_size(ptr, layout) }
            }

            fn reset(&mut self) {
                self.hybrid.reset();
            }

            fn stats(&self) -> Stats {
                self.hybrid.stats()
            }

            fn check(&self) -> Result<(), CheckError> {
                self.hybrid.check()
            }

            fn class_stats(&self, class: usize) -> Option<ClassStats> {
                self.hybrid.class_stats(class)
            }
        }
    };
}

// The module map: one job per file (ARCHITECTURE.md has the same table).
// This one holds `GenericHeap`, the `Hybrid` logic both heaps share, and
// why they are `RawHeap`s.
mod growing; // `GrowingHeap`: the hybrid heap over pages from a source
mod radix; // the growing heap's page tables: a radix tree per pool
mod tlsf_pages; // the slab's page source: the heap's own TLSF and its tables

pub use self::growing::GrowingHeap;

use core::alloc::Layout;
use core::mem::MaybeUninit;
use core::ptr::NonNull;

use self::tlsf_pages::{PageTables, PoolTables, TlsfPages};
use crate::in_place::{by_value, uninit_field};
use crate::pages::{MIN_PAGE, PageSource, check_page_size};
use crate::slab::Slab;
use crate::slab::classes::CLASSES;
use crate::tlsf::GenericTlsf;
use crate::tlsf::config::GRANULE;
use crate::{AllocError, CheckError, ClassStats, Misuse, PoolError, RawHeap, Stats};

/// Slab classes in front of a TLSF, in one pool: the type to reach for when
/// a heap serves both small objects and large buffers.
///
/// Requests whose size, rounded up to their alignment, is at most
/// [`max_class`](Self::max_class), and whose alignment is at most
/// [`GRANULE`](crate::tlsf::config::GRANULE), take a slot of a size class
/// (no header, no search); the others take a TLSF block. Slab pages are TLSF blocks, taken when a class
/// needs one and given back when they empty (but for the spare, kept by the
/// class that emptied a page last), so the two sides share the pool's memory as the load shifts. A
/// small request whose class can get no page takes a TLSF block: a request
/// fails only when the TLSF could not hold it either.
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
///
/// # Worst case
///
/// Measured exactly for `SmallHeap` on an emulated Cortex-M4 and M0: the
/// [worst-case table](crate#worst-case-on-cortex-m), which CI checks. A
/// slot's allocate and free take a few dozen instructions; the longest
/// calls are those that take a page (a TLSF allocation and the page's
/// set-up), give one back (a TLSF free), or give the spare page back for a
/// large request.
pub struct GenericHeap<'p, const FL: usize, const SL: usize, const N: usize = CLASSES> {
    hybrid: Hybrid<'p, FL, SL, N, PoolTables>,
}

/// The hybrid heap's logic: a slab whose page source is the TLSF, with page
/// tables `T`.
pub(crate) struct Hybrid<'p, const FL: usize, const SL: usize, const N: usize, T>
where
    T: PageTables<'p, FL, SL>,
{
    slab: Slab<TlsfPages<'p, FL, SL, T>, N>,
}

/// The hybrid heap over a [`Tlsf`](crate::Tlsf) (pools up to 4 GiB). See
/// [`GenericHeap`] for the API.
pub type Heap<'p> = GenericHeap<'p, { crate::tlsf::DEFAULT_FL }, 16>;

/// The hybrid heap over a [`SmallTlsf`](crate::SmallTlsf), for
/// microcontroller pools of up to 64 KiB: its control block (the TLSF's
/// and the slab's classes) is 2,304 bytes on x86_64, 1,536 on Cortex-M and
/// 1,536 on i686 (asserted at compile time on those targets).
///
/// Its slab has room for the 16 smallest classes (up to 256 bytes): the
/// default page of a 64 KiB pool, 512 bytes, serves only those up to 112.
pub type SmallHeap<'p> = GenericHeap<'p, { crate::tlsf::config::fl_len(1 << 16) }, 8, 16>;

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

    /// The page size `new` picks for a pool of `len` bytes: the pool's
    /// square root, rounded down to a power of two, at least [`MIN_PAGE`]
    /// and at most [`MAX_DEFAULT_PAGE`](Self::MAX_DEFAULT_PAGE) (16 KiB):
    /// 1 KiB for a 1 MiB pool, 8 KiB for a 64 MiB one. The pages the
    /// classes hold (a partly used one or two each, and the spare) are
    /// memory that neither other classes nor the TLSF can use, so their
    /// share of the pool falls as the pool grows, while the pages grow
    /// too. With the [`LARGEST_CLASS`](Self::LARGEST_CLASS) limit, a `Heap`
    /// over a pool of 1 MiB to 256 MiB fills at least as much of it as
    /// rlsf does before its first failed request, within a tenth of a
    /// percent (BENCHMARKS.md, "Memory efficiency").
    pub const fn default_page_size(len: usize) -> usize {
        // Half the bits of the length's highest: its square root, rounded
        // down to a power of two.
        let root = match len.checked_ilog2() {
            Some(bits) => 1 << (bits / 2),
            None => 0,
        };
        if root < MIN_PAGE {
            MIN_PAGE
        } else if root >= Self::MAX_DEFAULT_PAGE {
            Self::MAX_DEFAULT_PAGE
        } else {
            root
        }
    }

    /// Largest page [`default_page_size`](Self::default_page_size) picks.
    pub const MAX_DEFAULT_PAGE: usize = 16 << 10;

    /// Largest slab class a heap serves, whatever its page size: larger
    /// requests take a TLSF block, which costs one word, where a larger
    /// class's slot rounds a request up by up to a fifth and its pages
    /// leave tails of up to a slot unused (BENCHMARKS.md, "Memory
    /// efficiency", has what larger classes cost).
    pub const LARGEST_CLASS: usize = LARGEST_CLASS;

    /// Fewest slots a page of a served class holds: classes with fewer go
    /// to the TLSF, where a block costs one word, instead of taking and
    /// giving back a page every few objects.
    pub const MIN_SLOTS: usize = MIN_SLOTS;

    /// A heap over `pool` with slab pages of `page_size` bytes; the slab
    /// serves the classes up to [`LARGEST_CLASS`](Self::LARGEST_CLASS)
    /// that fit at least [`MIN_SLOTS`](Self::MIN_SLOTS) slots in a page
    /// (up to 224 bytes with 1 KiB pages, 896 bytes with 4 KiB pages, 1 KiB
    /// from 8 KiB pages up).
    ///
    /// Every pool gives the heap's page table 4 bytes per `page_size`
    /// bytes of it (0.8% with 512-byte pages, 0.1% with 4 KiB pages).
    ///
    /// # Errors
    /// [`PoolError::PageSize`] if `page_size` is not a power of two from
    /// [`MIN_PAGE`] to [`MAX_PAGE`](crate::pages::MAX_PAGE); [`PoolError::TooSmall`] if the pool
    /// is shorter than a page and a few dozen bytes of overhead (a page,
    /// its page table, the TLSF's overhead and the alignment of the pool's
    /// ends): the slab's requests would all fail; otherwise as for
    /// [`GenericTlsf::new`].
    ///
    /// # Time complexity
    /// O(classes + pool size / page size) (the page table starts zeroed).
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
        let heap = place.as_mut_ptr();
        // SAFETY: `heap` points to `place`, so the field is valid for reads
        // and writes and aligned; `&raw mut` names it without a reference to
        // uninitialised memory, and a `MaybeUninit` of it may be referenced.
        // It is reached only through this reference until `assume_init_mut`
        // (the heap has no other field, nor has its one field).
        let slab = unsafe { uninit_field(&raw mut (*heap).hybrid.slab) };
        // SAFETY: `TlsfPages::new_in_place` initialises its place when it
        // returns `Ok`, returning a reference to it, and leaves nothing that
        // needs dropping on `Err`.
        unsafe {
            Slab::init(
                slab,
                |source| TlsfPages::new_in_place(source, pool, page_size),
                MIN_SLOTS,
                LARGEST_CLASS,
            )
        }?;
        // SAFETY: the slab, the heap's one field, was just initialised.
        Ok(unsafe { place.assume_init_mut() })
    }

    /// Gives the heap another pool (for both sides), less its page table
    /// (4 bytes per page-sized stretch); returns the bytes it adds to
    /// `capacity`.
    ///
    /// # Errors
    /// As for [`GenericTlsf::add_pool`], or [`PoolError::TooSmall`] when
    /// the pool cannot hold its page table; the heap is unchanged.
    ///
    /// # Time complexity
    /// O(pool size / page size) (the page table starts zeroed).
    pub fn add_pool(&mut self, pool: &'p mut [MaybeUninit<u8>]) -> Result<usize, PoolError> {
        self.hybrid.slab.source_mut().add_pool(pool)
    }

    /// Size of the slab's pages.
    pub fn page_size(&self) -> usize {
        self.hybrid.page_size()
    }

    /// The largest request (`Layout::size()` rounded up to its alignment)
    /// that takes a slab slot; larger ones take a TLSF block.
    pub fn max_class(&self) -> usize {
        self.hybrid.slab.max_class()
    }

    /// Gives the slab's spare page back to the TLSF; returns how many pages
    /// went back, 0 or 1 (see [`Slab::trim`]).
    ///
    /// # Time complexity
    /// O(1).
    pub fn trim(&mut self) -> usize {
        self.hybrid.slab.trim()
    }

    /// Frees every object at once: the slab gives its pages back (each
    /// clearing its page-table entry), then each pool becomes one free TLSF
    /// block again; the counters restart (capacity stays). An
    /// [`Arena`](crate::Arena) has the same `reset`, on `&mut self`, which
    /// proves that no collection still borrows the arena.
    ///
    /// # Time complexity
    /// O(pages + free slots + FL * SL + pools).
    pub fn reset(&mut self) {
        self.hybrid.reset();
    }

    /// What slab class `class` holds; see [`Slab::class_stats`].
    ///
    /// # Time complexity
    /// O(1).
    pub fn class_stats(&self, class: usize) -> Option<ClassStats> {
        self.hybrid.slab.class_stats(class)
    }

    /// Allocates a slab slot or a TLSF block for `layout`; the returned
    /// slice is the whole slot or usable block.
    ///
    /// A small request whose class has no free slot and can get no page
    /// takes a TLSF block: a request fails only when the TLSF cannot hold
    /// it either.
    ///
    /// # Errors
    /// [`AllocError`] when neither side can serve the request; the heap is
    /// unchanged, except that a class out of free slots may first take
    /// another class's empty spare page, and a large request the TLSF
    /// cannot place first gives the slab's spare page back to it.
    ///
    /// # Time complexity
    /// O(1).
    #[inline(always)]
    pub fn allocate(&mut self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
        self.hybrid.allocate(layout)
    }

    /// Frees a slot or block.
    ///
    /// A free that breaks the contract in a way one test shows is refused,
    /// changing nothing but [`Stats::bad_frees`], and debug builds then
    /// panic at the caller's line: as [`Slab::deallocate`] says for slots
    /// and [`GenericTlsf::deallocate`] for blocks.
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

    /// Grows a slot or block in place: a slot when `new` maps to its class
    /// (the slot already holds it), a TLSF block into the free block after
    /// it; the returned slice is the whole slot or usable block.
    ///
    /// # Errors
    /// [`AllocError`] when the object cannot grow where it is (another
    /// class, no room after the block); nothing changes.
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

    /// Shrinks a slot or block in place: a slot when `new` maps to its
    /// class (it stays whole), a TLSF block by giving its tail back when
    /// that can be a block of its own.
    ///
    /// # Errors
    /// [`AllocError`] when the object cannot stay where it is (another
    /// class, a stricter alignment, a TLSF block shrunk to size 0); nothing
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

    /// Usable bytes of a live slot or block: the length `allocate` (or the
    /// in-place resize since) returned. The object's side is found as
    /// `deallocate` finds it: a slot when `layout` is a class's and the
    /// address lies in a slab page (its class size), else a TLSF block
    /// (see [`GenericTlsf::usable_size`]). 0 for a zero-size layout.
    ///
    /// # Safety
    /// `ptr` is live in this heap with layout `layout` (as for
    /// [`deallocate`](Self::deallocate)).
    ///
    /// # Time complexity
    /// O(1).
    pub unsafe fn usable_size(&self, ptr: NonNull<u8>, layout: Layout) -> usize {
        // SAFETY: forwarded from the caller.
        unsafe { self.hybrid.usable_size(ptr, layout) }
    }

    /// A snapshot of the usage counters. Slab pages count as their live
    /// objects' slots (`in_use`) and free slots (`free`), so `in_use` is the
    /// bytes handed out by either side. `peak_in_use` is the TLSF's: the
    /// most pool bytes held at once by large blocks and whole slab pages.
    ///
    /// # Time complexity
    /// O(classes).
    pub fn stats(&self) -> Stats {
        self.hybrid.stats()
    }

    /// Verifies every invariant of both sides (see [`GenericTlsf::check`] and
    /// [`Slab::check`]), that the TLSF bytes held as pages match the pages
    /// the slab holds, and that the page tables list exactly those pages.
    ///
    /// # Errors
    /// The first violation found.
    ///
    /// # Time complexity
    /// O(blocks + pages + free slots).
    pub fn check(&self) -> Result<(), CheckError> {
        self.hybrid.check()
    }
}

/// Fewest slots a page of a served class holds, in either hybrid heap (see
/// [`GenericHeap::MIN_SLOTS`]).
const MIN_SLOTS: usize = 4;

/// Largest class either hybrid heap serves (see
/// [`GenericHeap::LARGEST_CLASS`]).
const LARGEST_CLASS: usize = 1024;

impl<'p, const FL: usize, const SL: usize, const N: usize, T: PageTables<'p, FL, SL>>
    Hybrid<'p, FL, SL, N, T>
{
    /// A hybrid heap whose slab takes its pages from `pages`, in `const`
    /// context (pages of `page_size` bytes, a valid page size).
    pub(crate) const fn new_const(pages: TlsfPages<'p, FL, SL, T>, page_size: usize) -> Self {
        Hybrid {
            slab: Slab::new_const(pages, page_size, GRANULE, GRANULE, MIN_SLOTS, LARGEST_CLASS),
        }
    }

    /// The slab's page source: the TLSF, its page tables and counters.
    pub(crate) fn pages(&self) -> &TlsfPages<'p, FL, SL, T> {
        self.slab.source()
    }

    /// As [`pages`](Self::pages), mutable.
    pub(crate) fn pages_mut(&mut self) -> &mut TlsfPages<'p, FL, SL, T> {
        self.slab.source_mut()
    }

    pub(crate) fn page_size(&self) -> usize {
        self.slab.source().page_size()
    }

    /// See [`GenericHeap::max_class`].
    pub(crate) fn max_class(&self) -> usize {
        self.slab.max_class()
    }

    /// See [`GenericHeap::trim`].
    pub(crate) fn trim(&mut self) -> usize {
        self.slab.trim()
    }

    /// See [`GenericHeap::class_stats`].
    pub(crate) fn class_stats(&self, class: usize) -> Option<ClassStats> {
        self.slab.class_stats(class)
    }

    /// See [`GenericHeap::reset`].
    pub(crate) fn reset(&mut self) {
        self.slab.reset();
        let pages = self.slab.source_mut();
        pages.tlsf.reset();
        pages.tables.reset();
        pages.page_allocations = 0;
        pages.page_deallocations = 0;
        pages.hidden_failures = 0;
        pages.served_by_tlsf = 0;
        debug_assert_eq!(pages.page_bytes, 0, "every page went back");
    }

    fn tlsf(&self) -> &GenericTlsf<'p, FL, SL> {
        &self.slab.source().tlsf
    }

    fn tlsf_mut(&mut self) -> &mut GenericTlsf<'p, FL, SL> {
        &mut self.slab.source_mut().tlsf
    }

    /// See [`GenericHeap::allocate`].
    #[inline(always)]
    pub(crate) fn allocate(&mut self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
        if let Some(class) = self.slab.class_for(layout) {
            // SAFETY: `class_for` gives served classes.
            unsafe { self.slab.allocate_in(class) }
                .or_else(|AllocError| self.allocate_small_in_tlsf(layout))
        } else {
            self.tlsf_mut()
                .allocate(layout)
                .or_else(|AllocError| self.allocate_large_again(layout))
        }
    }

    /// A small request's class could get no page: the TLSF serves it if it
    /// can. The slab has counted a failure the caller sees only if the TLSF
    /// fails too, and then the TLSF's own does not count.
    #[cold]
    fn allocate_small_in_tlsf(&mut self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
        let pages = self.slab.source_mut();
        let mut result = pages.tlsf.allocate(layout);
        // A growing heap's class may have found too few source pages for a
        // whole slab page where the request itself needs fewer: the tables
        // grow the TLSF for the request (borrowed pools never grow).
        if result.is_err() && pages.tables.grow(&mut pages.tlsf, layout).is_ok() {
            // The attempt before does not count.
            pages.hidden_failures += 1;
            result = pages.tlsf.allocate(layout);
        }
        match result {
            Ok(_) => pages.served_by_tlsf += 1,
            Err(AllocError) => pages.hidden_failures += 1,
        }
        result
    }

    /// A large request found no free block: give the slab's spare page, if
    /// any, back to the TLSF, and look at the free block it makes (merged
    /// with its free neighbours). That block is the only free memory the
    /// first search did not see, so looking at it alone fails exactly when
    /// a second full search would, at the cost of one header test. If it
    /// does not hold the request, have the page tables add memory to the
    /// TLSF (a growing heap's take pages from their source; borrowed pools
    /// never grow) and try a last time.
    #[cold]
    fn allocate_large_again(&mut self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
        if self.slab.release_spare() {
            let pages = self.slab.source_mut();
            if let Some(block) = pages.tlsf.allocate_in_last_freed(layout) {
                // One call, one failure at most: the first attempt's does
                // not count.
                pages.hidden_failures += 1;
                return Ok(block);
            }
        }
        let pages = self.slab.source_mut();
        pages.tables.grow(&mut pages.tlsf, layout)?;
        let result = pages.tlsf.allocate(layout);
        // As above: the attempt before does not count.
        pages.hidden_failures += 1;
        result
    }

    /// Frees a slot or block, returning a refused misuse rather than
    /// reporting it; see [`GenericHeap::deallocate`].
    ///
    /// # Safety
    /// As for `GenericHeap::deallocate`.
    #[inline(always)]
    pub(crate) unsafe fn free(&mut self, ptr: NonNull<u8>, layout: Layout) -> Result<(), Misuse> {
        // SAFETY: forwarded from the caller.
        if let Some(done) = unsafe { self.slab.deallocate_latest(ptr, layout) } {
            return done;
        }
        if let Some(class) = self.slab.class_for(layout) {
            // SAFETY: a small layout's object is a slot of its class (every
            // size up to the returned length maps to the same class) or, when
            // it lies in no slab page, a TLSF block; the page source finds
            // exactly the pages (`TlsfPages::page_containing`).
            if let Some(done) = unsafe { self.slab.deallocate_if_in_page(ptr, class, layout) } {
                return done;
            }
        }
        // SAFETY: the TLSF allocated every other object.
        unsafe { self.tlsf_mut().free(ptr, layout) }
    }

    /// Whether `ptr`, live in this heap with `layout`, is a slab slot.
    #[inline(always)]
    fn in_slab(&self, ptr: NonNull<u8>, layout: Layout) -> bool {
        self.slab.class_for(layout).is_some()
            && self
                .slab
                .source()
                .page_containing(ptr.as_ptr().addr())
                .is_some()
    }

    /// Resizes in place: within a slab slot when both layouts map to its
    /// class, within the TLSF when the block is the TLSF's (whatever the
    /// layouts: frees and resizes find a block's side by its address);
    /// `Err` (changing nothing) when the block would have to move.
    ///
    /// # Safety
    /// `ptr` is live in this heap with layout `old`; `grow` says whether
    /// `new.size() >= old.size()` (else `new.size() <= old.size()`).
    pub(crate) unsafe fn resize_in_place(
        &mut self,
        ptr: NonNull<u8>,
        old: Layout,
        new: Layout,
        grow: bool,
    ) -> Result<NonNull<[u8]>, AllocError> {
        let slot = self.in_slab(ptr, old);
        // SAFETY: `ptr` is a slot when `slot` says so and a TLSF block
        // otherwise; each side is asked only about its own.
        unsafe {
            if slot {
                self.slab.resize_in_place(ptr, old, new)
            } else if grow {
                self.tlsf_mut().grow_in_place(ptr, old, new)
            } else {
                self.tlsf_mut().shrink_in_place(ptr, old, new)
            }
        }
    }

    /// The usable bytes of a live slot or block, found as `resize_in_place`
    /// finds its side: the slot's class size, or the TLSF block's usable
    /// bytes; see [`GenericHeap::usable_size`].
    ///
    /// # Safety
    /// `ptr` is live in this heap with layout `layout`.
    #[inline]
    pub(crate) unsafe fn usable_size(&self, ptr: NonNull<u8>, layout: Layout) -> usize {
        // SAFETY: `ptr` is a slot when `in_slab` says so and a TLSF block
        // otherwise; each side is asked only about its own.
        unsafe {
            if self.in_slab(ptr, layout) {
                self.slab.usable_size(ptr, layout)
            } else {
                self.tlsf().usable_size(ptr, layout)
            }
        }
    }

    /// See [`GenericHeap::stats`]; the page tables' own blocks (a growing
    /// heap's) count neither in `capacity` nor in `in_use`.
    pub(crate) fn stats(&self) -> Stats {
        let pages = self.slab.source();
        let tables = pages.tables.cost();
        let tlsf = self.tlsf().stats();
        let slab = self.slab.stats();
        // Wrapping: `stats` never panics, whatever a broken contract did to
        // the counts (`check` reports that).
        let sum = |tlsf: u64, pages: u64, slab: u64| tlsf.wrapping_sub(pages).wrapping_add(slab);
        let capacity = tlsf.capacity.wrapping_sub(tables.bytes);
        let in_use = tlsf
            .in_use
            .wrapping_sub(pages.page_bytes)
            .wrapping_sub(tables.bytes)
            .wrapping_add(slab.in_use);
        Stats {
            capacity,
            in_use,
            peak_in_use: tlsf.peak_in_use,
            free: capacity.wrapping_sub(in_use),
            largest_free: tlsf.largest_free.max(slab.largest_free),
            allocations: sum(
                tlsf.allocations,
                pages.page_allocations.wrapping_add(tables.blocks),
                slab.allocations,
            ),
            deallocations: sum(
                tlsf.deallocations,
                pages.page_deallocations,
                slab.deallocations,
            ),
            failures: sum(
                tlsf.failures,
                pages.hidden_failures.wrapping_add(tables.failures),
                slab.failures,
            )
            .wrapping_sub(pages.served_by_tlsf),
            bad_frees: tlsf.bad_frees.wrapping_add(slab.bad_frees),
        }
    }

    /// See [`GenericHeap::check`].
    pub(crate) fn check(&self) -> Result<(), CheckError> {
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
        pages.check(held)
    }
}

// SAFETY: each block comes from the slab or the TLSF, both `RawHeap`s over
// the heap's pools, and slab pages (and page-table nodes) are live TLSF
// blocks, so slots and other blocks never overlap; deallocation and resizing
// go to the side that allocated: a slot when the layout is a class's and the
// address lies in a slab page (`TlsfPages::page_containing` returns `None`
// for every address outside the pages, `in_slab` and `free` rely on it), the
// TLSF otherwise. The heaps that hold a `Hybrid` forward to it.
unsafe impl<'p, const FL: usize, const SL: usize, const N: usize, T: PageTables<'p, FL, SL>> RawHeap
    for Hybrid<'p, FL, SL, N, T>
{
    #[inline(always)]
    fn allocate(&mut self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
        Hybrid::allocate(self, layout)
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

    #[inline]
    unsafe fn usable_size(&self, ptr: NonNull<u8>, layout: Layout) -> usize {
        // SAFETY: same contract.
        unsafe { Hybrid::usable_size(self, ptr, layout) }
    }

    fn reset(&mut self) {
        Hybrid::reset(self);
    }

    fn stats(&self) -> Stats {
        Hybrid::stats(self)
    }

    fn check(&self) -> Result<(), CheckError> {
        Hybrid::check(self)
    }

    fn class_stats(&self, class: usize) -> Option<ClassStats> {
        Hybrid::class_stats(self, class)
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

// SAFETY: forwards to `Hybrid`, a `RawHeap`, which the heap holds.
raw_heap_through_hybrid!(impl[const FL: usize, const SL: usize, const N: usize] GenericHeap<'_, FL, SL, N>);
