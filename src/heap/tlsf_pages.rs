//! The hybrid heap's page source: slab pages are blocks of the heap's own
//! TLSF, taken with an ordinary allocation and found again through a table
//! per pool.
//!
//! Why pages are not page-aligned blocks found by masking an address: a
//! page-aligned allocation is a TLSF search for about twice a page (or a
//! scan of the lists below that), and it fails while the free memory lies in
//! blocks that could hold a page but not an aligned one, so a class could be
//! refused a page with half the pool free. An ordinary allocation is the
//! TLSF's fast path and succeeds whenever a free block can hold a page. The
//! slab in a heap serves alignments up to the granule only (larger ones go
//! to the TLSF), and every block is granule-aligned.
//!
//! The table of a pool has one entry per stretch of `page_size` bytes from
//! the pool's base: 0, or one more than the offset in the stretch at which a
//! page starts. Pages are `page_size` bytes long, so at most one starts in a
//! stretch, and the page that holds an address starts in the address's
//! stretch or in the one before: a lookup reads at most two entries. Each
//! table is carved off the front of its pool before the TLSF gets the rest:
//! four bytes per stretch, 0.8% of a pool with 512-byte pages, 0.1% with
//! 4 KiB pages.
//!
//! Where the tables live is the one thing the two hybrid heaps do
//! differently ([`PageTables`]): `Heap`'s are carved off its pools
//! ([`PoolTables`]); the growing heap's pools grow at run time, so its
//! tables are radix trees whose nodes are blocks of its own TLSF
//! (`heap/radix.rs`).

use core::alloc::Layout;
use core::mem::{MaybeUninit, align_of, size_of};
use core::ptr::NonNull;

use crate::in_place::uninit_field;
use crate::pages::PageSource;
use crate::tlsf::GenericTlsf;
use crate::tlsf::MAX_POOLS;
use crate::tlsf::config::{GRANULE, HEADER};
use crate::{AllocError, CheckError, PoolError};

/// Where a [`TlsfPages`] keeps its page tables (see the module's
/// documentation for what an entry says), and whether its TLSF can take
/// more memory.
///
/// # Safety
/// - `get` returns the value `set` last stored for the stretch of that
///   pool, or 0 if none was stored, or it was cleared or the tables were
///   reset since;
/// - `set` and `grow` only allocate from the TLSF (blocks they keep, or
///   never use again) and add pools to it; they never free a block they did
///   not allocate;
/// - nothing calls into the heap that owns the tables.
pub(crate) unsafe trait PageTables<'p, const FL: usize, const SL: usize> {
    /// The entry of stretch `stretch` of pool `pool`.
    ///
    /// # Safety
    /// `pool` is the index of a pool of the TLSF, and `stretch` the stretch
    /// of an offset in it.
    unsafe fn get(&self, pool: usize, stretch: usize) -> usize;

    /// Stores `value` (not 0) as the entry of `stretch` of `pool`, for the
    /// page at `page`, taking the memory the tables need for it from
    /// `tlsf`. `Err` when there is none: the entry is not stored.
    ///
    /// # Safety
    /// As for `get`; `page` lies in that stretch.
    unsafe fn set(
        &mut self,
        tlsf: &mut GenericTlsf<'p, FL, SL>,
        page: usize,
        pool: usize,
        stretch: usize,
        value: usize,
    ) -> Result<(), AllocError>;

    /// Clears the entry of `stretch` of `pool`, which `set` stored.
    ///
    /// # Safety
    /// As for `get`.
    unsafe fn clear(&mut self, pool: usize, stretch: usize);

    /// Adds memory to `tlsf` for a request for `layout` that found no free
    /// block; `Err` (nothing changed) when there is none to add.
    fn grow(
        &mut self,
        tlsf: &mut GenericTlsf<'p, FL, SL>,
        layout: Layout,
    ) -> Result<(), AllocError>;

    /// What the tables took from the TLSF, which the heap's counters leave
    /// out.
    fn cost(&self) -> TableCost;

    /// Forgets what the tables hold in the TLSF's blocks: the TLSF was just
    /// reset, and the slab had cleared every entry before.
    fn reset(&mut self);

    /// Counts the entries stored in the tables of `tlsf`'s pools, verifying
    /// the tables' own invariants on the way.
    fn check(&self, tlsf: &GenericTlsf<'p, FL, SL>, page_shift: u32) -> Result<usize, CheckError>;
}

/// The TLSF bytes (block sizes, headers included) and blocks that page
/// tables hold, and the TLSF failures their allocations caused.
#[derive(Clone, Copy, Default)]
pub(crate) struct TableCost {
    pub(crate) bytes: usize,
    pub(crate) blocks: u64,
    pub(crate) failures: u64,
}

impl TableCost {
    /// Nothing: tables outside the TLSF's blocks.
    pub(crate) const NONE: TableCost = TableCost {
        bytes: 0,
        blocks: 0,
        failures: 0,
    };
}

/// Where the slab's pages start in one pool (see the module's
/// documentation): an entry for each stretch of the pool, so its length
/// follows from the pool's.
#[derive(Clone, Copy)]
struct PageTable {
    entries: NonNull<u32>,
}

impl PageTable {
    /// Splits a table for the rest of `pool` off its front (and any bytes
    /// below address `page_size`, where a page must not lie); `None` if the
    /// pool is too small for that.
    fn carve(
        pool: &mut [MaybeUninit<u8>],
        page_size: usize,
    ) -> Option<(PageTable, &mut [MaybeUninit<u8>])> {
        let start = pool.as_ptr().addr();
        let skip = page_size.saturating_sub(start);
        let pad = start.wrapping_add(skip).wrapping_neg() % align_of::<u32>();
        // The rest is shorter than the pool, so this many entries cover it.
        let len = pool.len() / page_size + 1;
        let bytes = skip
            .checked_add(pad)?
            .checked_add(len.checked_mul(size_of::<u32>())?)?;
        if bytes > pool.len() {
            return None;
        }
        let (head, rest) = pool.split_at_mut(bytes);
        let entries = NonNull::from(&mut head[skip + pad..]).cast::<u32>();
        for i in 0..len {
            // SAFETY: entry `i` lies in `head`, which is `u32`-aligned there
            // (`pad`) and long enough; nothing else points into it.
            unsafe { entries.add(i).write(0) };
        }
        Some((PageTable { entries }, rest))
    }

    /// Entry `stretch`.
    ///
    /// # Safety
    /// `stretch` is the stretch of an offset in the table's pool.
    #[inline(always)]
    unsafe fn get(self, stretch: usize) -> usize {
        // SAFETY: the table has an entry for every stretch of its pool
        // (`carve` counts them for the whole slice the pool came from); it
        // is initialised, and only this source reaches it.
        unsafe { self.entries.add(stretch).read() as usize }
    }

    /// Sets entry `stretch`.
    ///
    /// # Safety
    /// As for `get`.
    unsafe fn set(self, stretch: usize, value: usize) {
        // SAFETY: as for `get`; an offset in a stretch is below
        // `MAX_PAGE`, so the value fits.
        unsafe { self.entries.add(stretch).write(value as u32) }
    }
}

/// The page tables of a heap with borrowed pools: one per pool, carved off
/// its front (see the module's documentation).
pub(crate) struct PoolTables {
    /// The page table of each pool, by the TLSF's pool index.
    tables: [Option<PageTable>; MAX_POOLS],
}

// SAFETY: each table is carved from a pool its heap borrows exclusively,
// and only that heap's source reaches it: moving the tables to another
// thread moves that access along.
unsafe impl Send for PoolTables {}

// SAFETY: `get` reads what `set` wrote into the pool's own table (one entry
// per stretch of its pool, zeroed by `carve`); nothing here allocates, frees
// or calls into the heap.
unsafe impl<'p, const FL: usize, const SL: usize> PageTables<'p, FL, SL> for PoolTables {
    #[inline(always)]
    unsafe fn get(&self, pool: usize, stretch: usize) -> usize {
        // SAFETY: `pool` is the index of a pool (caller), and every pool
        // got a table when it was added; the stretch is in it.
        unsafe {
            let table = self.tables.get_unchecked(pool).unwrap_unchecked();
            table.get(stretch)
        }
    }

    #[inline(always)]
    unsafe fn set(
        &mut self,
        _: &mut GenericTlsf<'p, FL, SL>,
        _: usize,
        pool: usize,
        stretch: usize,
        value: usize,
    ) -> Result<(), AllocError> {
        let Some(table) = self.tables[pool] else {
            unreachable!("every pool has a page table");
        };
        // SAFETY: the stretch is of an offset in the table's pool (caller).
        unsafe { table.set(stretch, value) };
        Ok(())
    }

    #[inline(always)]
    unsafe fn clear(&mut self, pool: usize, stretch: usize) {
        let Some(table) = self.tables[pool] else {
            unreachable!("every pool has a page table");
        };
        // SAFETY: as in `set`.
        unsafe { table.set(stretch, 0) };
    }

    /// Borrowed pools never grow.
    #[inline(always)]
    fn grow(&mut self, _: &mut GenericTlsf<'p, FL, SL>, _: Layout) -> Result<(), AllocError> {
        Err(AllocError)
    }

    #[inline(always)]
    fn cost(&self) -> TableCost {
        TableCost::NONE
    }

    /// The tables are the pools' own bytes, and every entry is 0 again.
    fn reset(&mut self) {}

    fn check(&self, tlsf: &GenericTlsf<'p, FL, SL>, page_shift: u32) -> Result<usize, CheckError> {
        let mut listed = 0;
        for (index, (_, len)) in tlsf.pools().enumerate() {
            let Some(table) = self.tables[index] else {
                return Err(CheckError::new("a pool has no page table", index));
            };
            let stretches = len.div_ceil(1 << page_shift);
            // SAFETY: each stretch is of an offset in the pool.
            listed += (0..stretches)
                .filter(|&s| unsafe { table.get(s) } != 0)
                .count();
        }
        Ok(listed)
    }
}

/// The TLSF as a page source, counting what its pages take from it so that
/// the heap's stats can show the pages' objects instead of whole pages.
pub(crate) struct TlsfPages<'p, const FL: usize, const SL: usize, T = PoolTables> {
    pub(crate) tlsf: GenericTlsf<'p, FL, SL>,
    /// A page's TLSF allocation: the page less the header word the TLSF
    /// puts before it, so that a page's block is `page_size` bytes and the
    /// next block's header takes the page's last word.
    page: Layout,
    page_shift: u32,
    /// Where the pages start, by pool and stretch.
    pub(crate) tables: T,
    /// TLSF bytes (block sizes, headers included) held as slab pages.
    pub(crate) page_bytes: usize,
    pub(crate) page_allocations: u64,
    pub(crate) page_deallocations: u64,
    /// TLSF failures that were not the caller's: a page the slab could not
    /// get, a retry of a request that already failed once.
    pub(crate) hidden_failures: u64,
    /// Slab failures that were not the caller's: a small request whose
    /// class could get no page, served by the TLSF.
    pub(crate) served_by_tlsf: u64,
}

// SAFETY: the page tables are carved from the pools the source borrows
// exclusively, like the TLSF's pools (which is `Send`), or are blocks of
// that TLSF, and only the source reaches them: moving it to another thread
// moves that access along.
unsafe impl<const FL: usize, const SL: usize, T: Send> Send for TlsfPages<'_, FL, SL, T> {}

impl<'p, const FL: usize, const SL: usize, T> TlsfPages<'p, FL, SL, T> {
    /// A source of pages of `page_size` bytes (a valid page size) from
    /// `tlsf`, with `tables`, in `const` context: for a TLSF that starts
    /// empty and grows.
    pub(crate) const fn with_tables(
        tlsf: GenericTlsf<'p, FL, SL>,
        tables: T,
        page_size: usize,
    ) -> Self {
        let Ok(page) = Layout::from_size_align(page_size - HEADER, GRANULE) else {
            panic!("a page is larger than a block header");
        };
        TlsfPages {
            tlsf,
            page,
            page_shift: page_size.trailing_zeros(),
            tables,
            page_bytes: 0,
            page_allocations: 0,
            page_deallocations: 0,
            hidden_failures: 0,
            served_by_tlsf: 0,
        }
    }
}

impl<'p, const FL: usize, const SL: usize> TlsfPages<'p, FL, SL, PoolTables> {
    /// The smallest pool (in bytes) that holds its page table, the TLSF's
    /// overhead and a page, wherever it lies at or above address
    /// `page_size` (bytes below it are left out of the pool).
    pub(crate) const fn min_pool(page_size: usize) -> usize {
        // Table: at most two entries and three bytes to align them; the
        // pool's ends: less than a granule each; `POOL_OVERHEAD`: two words.
        page_size + 2 * size_of::<u32>() + 3 + 2 * (GRANULE - 1) + 2 * HEADER
    }

    /// Builds in `place` a source of pages of `page_size` bytes (a valid
    /// page size) from a TLSF over `pool`, the TLSF in place too (see
    /// `GenericTlsf::new_in_place`). On `Err`, `place` holds nothing that
    /// needs dropping.
    ///
    /// A pool that cannot hold a page is refused: the slab's requests
    /// would all fail.
    pub(crate) fn new_in_place<'a>(
        place: &'a mut MaybeUninit<Self>,
        pool: &'p mut [MaybeUninit<u8>],
        page_size: usize,
    ) -> Result<&'a mut Self, PoolError> {
        let too_small = PoolError::TooSmall {
            usable: pool.len(),
            min: Self::min_pool(page_size),
        };
        if pool.len() < Self::min_pool(page_size) {
            return Err(too_small);
        }
        let (table, rest) = PageTable::carve(pool, page_size).ok_or(too_small)?;
        let pages = place.as_mut_ptr();
        // SAFETY: `pages` points to `place`, so the field is valid for reads
        // and writes and aligned; `&raw mut` names it without a reference to
        // uninitialised memory, and a `MaybeUninit` of it may be referenced.
        // It is reached only through this reference until `assume_init_mut`,
        // the other writes being to disjoint fields.
        let tlsf = unsafe { uninit_field(&raw mut (*pages).tlsf) };
        // A pool at low addresses gave them to the table's carve: the rest
        // may still be too small for a page.
        if GenericTlsf::new_in_place(tlsf, rest)?.stats().capacity < page_size {
            return Err(too_small);
        }
        let mut tables = [None; MAX_POOLS];
        tables[0] = Some(table);
        let page = Layout::from_size_align(page_size - HEADER, GRANULE).map_err(|_| too_small)?;
        // SAFETY: each write is to a field of `place` through `pages`, none
        // to the TLSF's.
        unsafe {
            (&raw mut (*pages).page).write(page);
            (&raw mut (*pages).page_shift).write(page_size.trailing_zeros());
            (&raw mut (*pages).tables).write(PoolTables { tables });
            (&raw mut (*pages).page_bytes).write(0);
            (&raw mut (*pages).page_allocations).write(0);
            (&raw mut (*pages).page_deallocations).write(0);
            (&raw mut (*pages).hidden_failures).write(0);
            (&raw mut (*pages).served_by_tlsf).write(0);
        }
        // SAFETY: the TLSF (built by `new_in_place`, which returned `Ok`)
        // and the writes above initialise every field.
        Ok(unsafe { place.assume_init_mut() })
    }

    /// Gives the TLSF another pool, less its page table; returns the bytes
    /// it adds to the TLSF's capacity.
    pub(crate) fn add_pool(&mut self, pool: &'p mut [MaybeUninit<u8>]) -> Result<usize, PoolError> {
        let usable = pool.len();
        // A table's bytes and the TLSF's smallest pool; the exact minimum
        // depends on where the pool lies.
        let min = GenericTlsf::<FL, SL>::MIN_POOL + 2 * size_of::<u32>() + 3;
        let (table, rest) =
            PageTable::carve(pool, self.page_size()).ok_or(PoolError::TooSmall { usable, min })?;
        let added = self.tlsf.add_pool(rest)?;
        self.tables.tables[self.tlsf.pool_count() - 1] = Some(table);
        Ok(added)
    }
}

impl<'p, const FL: usize, const SL: usize, T: PageTables<'p, FL, SL>> TlsfPages<'p, FL, SL, T> {
    /// The table entry of the page that starts at `page`: its pool's
    /// index, the stretch, and the entry's value.
    fn entry_of(&self, page: NonNull<u8>) -> (usize, usize, usize) {
        let Some((index, _, offset)) = self.tlsf.pool_of(page.as_ptr().addr()) else {
            unreachable!("a page lies in a pool");
        };
        let stretch = offset >> self.page_shift;
        (index, stretch, (offset & (self.page_size() - 1)) + 1)
    }

    /// Takes a page's block once more, after the tables added memory to the
    /// TLSF (a growing heap's); a second failure is not the caller's either.
    #[cold]
    fn allocate_page_after_growth(&mut self) -> Result<NonNull<[u8]>, AllocError> {
        self.tlsf
            .allocate(self.page)
            .inspect_err(|AllocError| self.hidden_failures += 1)
    }

    /// Verifies that the tables list `held` pages, as many as the slab
    /// holds. (The slab's check verifies that `page_containing` finds each
    /// of its pages, so together the tables list exactly the slab's pages.)
    pub(crate) fn check(&self, held: usize) -> Result<(), CheckError> {
        let listed = self.tables.check(&self.tlsf, self.page_shift)?;
        if listed != held {
            return Err(CheckError::new(
                "the page tables and the slab disagree",
                listed,
            ));
        }
        Ok(())
    }
}

// SAFETY: a page is the payload of a TLSF block of `page_size` bytes, header
// included, aligned to the granule like every block (`page_align`), at an
// address of at least `page_size` (`PageTable::carve` leaves lower addresses
// out of borrowed pools; a growing heap's tables refuse a page there): its
// first `page_size - GRANULE` bytes are the block's,
// disjoint from every other live block, in pools that outlive the source,
// and the next block's header word lies in the reserved tail.
// `page_containing` finds a page's start in its pool's table and rebuilds
// the pointer from the pool's own provenance; for an address in no page it
// returns `None`. Nothing here calls into the heap that owns the source.
unsafe impl<'p, const FL: usize, const SL: usize, T: PageTables<'p, FL, SL>> PageSource
    for TlsfPages<'p, FL, SL, T>
{
    #[inline]
    fn page_size(&self) -> usize {
        1 << self.page_shift
    }

    fn page_align(&self) -> usize {
        GRANULE
    }

    fn allocate_page(&mut self) -> Result<NonNull<u8>, AllocError> {
        let block = match self.tlsf.allocate(self.page) {
            Ok(block) => block,
            Err(AllocError) => {
                // Not the caller's failure. Borrowed pools cannot grow: the
                // page take fails here, with no call on its path.
                self.hidden_failures += 1;
                self.tables.grow(&mut self.tlsf, self.page)?;
                self.allocate_page_after_growth()?
            }
        };
        let page = block.cast::<u8>();
        let (pool, stretch, entry) = self.entry_of(page);
        // SAFETY: the stretch is of an offset in the pool, and the page
        // starts in it.
        let stored = unsafe {
            self.tables
                .set(&mut self.tlsf, page.as_ptr().addr(), pool, stretch, entry)
        };
        if stored.is_err() {
            // SAFETY: the block was just allocated, unpadded, and nothing
            // uses it.
            unsafe { self.tlsf.free_own(page) };
            self.page_deallocations += 1;
            self.page_allocations += 1;
            return Err(AllocError);
        }
        // The block's usable bytes and the header before them.
        self.page_bytes += block.len() + HEADER;
        self.page_allocations += 1;
        Ok(page)
    }

    unsafe fn deallocate_page(&mut self, page: NonNull<u8>) {
        let (pool, stretch, _) = self.entry_of(page);
        // SAFETY: as in `allocate_page`.
        unsafe { self.tables.clear(pool, stretch) };
        // SAFETY: the page is a live block allocated with the granule's
        // alignment, and its pointer came from the TLSF or from
        // `page_containing`, both with its pool's provenance.
        self.page_bytes -= unsafe { self.tlsf.free_own(page) };
        self.page_deallocations += 1;
    }

    /// Exact: `None` for every address in no page.
    #[inline(always)]
    fn page_containing(&self, addr: usize) -> Option<NonNull<u8>> {
        let (index, base, offset) = self.tlsf.pool_of(addr)?;
        let stretch = offset >> self.page_shift;
        let stretch_start = stretch << self.page_shift;
        // SAFETY: `pool_of` gives the index of a pool, which holds `offset`.
        let here = unsafe { self.tables.get(index, stretch) };
        let start = if here != 0 && offset >= stretch_start + here - 1 {
            stretch_start + here - 1
        } else {
            // A page that starts in the stretch before reaches into this one.
            let before = match stretch.checked_sub(1) {
                // SAFETY: `stretch - 1` is in the pool as `stretch` is.
                Some(previous) => unsafe { self.tables.get(index, previous) },
                None => 0,
            };
            let start = (stretch_start + before).wrapping_sub(self.page_size() + 1);
            if before == 0 || offset - start >= self.page_size() {
                return None;
            }
            start
        };
        // SAFETY: `start` is the offset of a page in this pool, so the
        // pointer stays in bounds of the pool's provenance.
        Some(unsafe { base.add(start) })
    }

    /// The page's last word is the next TLSF block's header; keeping a whole
    /// granule keeps the slots' end granule-aligned (so the slab serves
    /// alignments up to the granule, and the TLSF the larger ones).
    fn reserved_tail(&self) -> usize {
        GRANULE
    }
}
