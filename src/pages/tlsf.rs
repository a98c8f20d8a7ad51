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

use core::alloc::Layout;
use core::mem::{MaybeUninit, align_of, size_of};
use core::ptr::NonNull;

use crate::in_place::uninit_field;
use crate::pages::PageSource;
use crate::tlsf::GenericTlsf;
use crate::tlsf::MAX_POOLS;
use crate::{AllocError, CheckError, GRANULE, HEADER, PoolError};

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

/// The TLSF as a page source, counting what its pages take from it so that
/// the heap's stats can show the pages' objects instead of whole pages.
pub(crate) struct TlsfPages<'p, const FL: usize, const SL: usize> {
    pub(crate) tlsf: GenericTlsf<'p, FL, SL>,
    /// A page's TLSF allocation: the page less the header word the TLSF
    /// puts before it, so that a page's block is `page_size` bytes and the
    /// next block's header takes the page's last word.
    page: Layout,
    page_shift: u32,
    /// The page table of each pool, by the TLSF's pool index.
    tables: [Option<PageTable>; MAX_POOLS],
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
// exclusively, like the TLSF's pools (which is `Send`), and only the source
// reaches them: moving it to another thread moves that access along.
unsafe impl<const FL: usize, const SL: usize> Send for TlsfPages<'_, FL, SL> {}

impl<'p, const FL: usize, const SL: usize> TlsfPages<'p, FL, SL> {
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
            (&raw mut (*pages).tables).write(tables);
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
        self.tables[self.tlsf.pool_count() - 1] = Some(table);
        Ok(added)
    }

    /// The table entry of the page that starts at `page`: its pool's
    /// table, the stretch, and the entry's value.
    fn entry_of(&self, page: NonNull<u8>) -> (PageTable, usize, usize) {
        let Some((index, _, offset)) = self.tlsf.pool_of(page.as_ptr().addr()) else {
            unreachable!("a page lies in a pool");
        };
        let Some(table) = self.tables[index] else {
            unreachable!("every pool has a page table");
        };
        let stretch = offset >> self.page_shift;
        (table, stretch, (offset & (self.page_size() - 1)) + 1)
    }

    /// Verifies that every pool has a page table and that the tables list
    /// `held` pages, as many as the slab holds. (The slab's check verifies
    /// that `page_containing` finds each of its pages, so together the
    /// tables list exactly the slab's pages.)
    pub(crate) fn check(&self, held: usize) -> Result<(), CheckError> {
        let mut listed = 0;
        for (index, (_, len)) in self.tlsf.pools().enumerate() {
            let Some(table) = self.tables[index] else {
                return Err(CheckError::new("a pool has no page table", index));
            };
            let stretches = len.div_ceil(self.page_size());
            // SAFETY: each stretch is of an offset in the pool.
            listed += (0..stretches)
                .filter(|&s| unsafe { table.get(s) } != 0)
                .count();
        }
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
// out of the pools): its first `page_size - GRANULE` bytes are the block's,
// disjoint from every other live block, in pools that outlive the source,
// and the next block's header word lies in the reserved tail.
// `page_containing` finds a page's start in its pool's table and rebuilds
// the pointer from the pool's own provenance; for an address in no page it
// returns `None`. Nothing here calls into the heap that owns the source.
unsafe impl<const FL: usize, const SL: usize> PageSource for TlsfPages<'_, FL, SL> {
    #[inline]
    fn page_size(&self) -> usize {
        1 << self.page_shift
    }

    fn page_align(&self) -> usize {
        GRANULE
    }

    fn allocate_page(&mut self) -> Result<NonNull<u8>, AllocError> {
        match self.tlsf.allocate(self.page) {
            Ok(block) => {
                let page = block.cast::<u8>();
                let (table, stretch, entry) = self.entry_of(page);
                // SAFETY: the stretch is of an offset in the table's pool.
                unsafe { table.set(stretch, entry) };
                // The block's usable bytes and the header before them.
                self.page_bytes += block.len() + HEADER;
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
        let (table, stretch, _) = self.entry_of(page);
        // SAFETY: as in `allocate_page`.
        unsafe { table.set(stretch, 0) };
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
        // SAFETY: `pool_of` gives the index of a pool, and every pool got a
        // table when it was added.
        let table = unsafe { self.tables.get_unchecked(index).unwrap_unchecked() };
        let stretch = offset >> self.page_shift;
        let stretch_start = stretch << self.page_shift;
        // SAFETY: the table covers its pool, which holds `offset`.
        let here = unsafe { table.get(stretch) };
        let start = if here != 0 && offset >= stretch_start + here - 1 {
            stretch_start + here - 1
        } else {
            // A page that starts in the stretch before reaches into this one.
            let before = match stretch.checked_sub(1) {
                // SAFETY: `stretch - 1` is in bounds as `stretch` is.
                Some(previous) => unsafe { table.get(previous) },
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
