//! The TLSF core: two-level segregated fit over user pools.
//!
//! Free blocks are filed in `FL x SL` doubly linked lists by size; two levels
//! of bitmaps say which lists are non-empty, so finding a list with a block
//! that fits is two `trailing_zeros`, whatever the number of blocks or pools.
//! Freed blocks coalesce at once with their free neighbours, found through
//! the block layout (a header word, and a footer in free blocks), so no two
//! free blocks are ever adjacent.

mod block;
mod check;
pub mod config;
mod grow;
mod pools;

#[cfg(test)]
mod tests;

use core::alloc::Layout;
use core::hint::assert_unchecked;
use core::marker::PhantomData;
use core::mem::MaybeUninit;
use core::num::NonZeroUsize;
use core::ptr::NonNull;

use self::block::{Block, PAD, PREV_FREE, SENTINEL_SIZE, USED};
use self::config::{
    GRANULE, GRANULE_LOG2, MIN_BLOCK, POOL_OVERHEAD, WORD, list_at_least, list_of, max_block,
};
pub use self::grow::GrowingTlsf;
pub(crate) use self::grow::{add_pages_for, give_back_pools, release_free_pages};
pub use self::pools::MAX_POOLS;
use self::pools::{Located, PoolTable};
use crate::bits::{highest_bit, highest_bit_u32, lowest_bit, lowest_bit_u32};
use crate::in_place::by_value;
use crate::raw_heap::dangling;
use crate::{AllocError, CheckError, Misuse, PoolError, RawHeap, Stats};

/// The default TLSF: pools up to 4 GiB each (the whole address space on
/// 32-bit targets), 16 second-level lists. See [`GenericTlsf`] for the API.
///
/// ```
/// use core::mem::{MaybeUninit, size_of};
/// use rtarena::Tlsf;
///
/// let mut pool = [MaybeUninit::uninit(); 4096];
/// let tlsf = Tlsf::new(&mut pool).unwrap();
/// assert!(tlsf.stats().free > 4000);
/// ```
pub type Tlsf<'p> = GenericTlsf<'p, DEFAULT_FL, 16>;

pub(crate) const DEFAULT_FL: usize = config::fl_len(if usize::BITS > 32 {
    1 << 32
} else {
    usize::MAX
});

/// A TLSF for microcontroller-sized pools: each pool up to 64 KiB, 8
/// second-level lists. Its control block is under 1 KiB on 64-bit targets
/// (see the table in the crate documentation).
pub type SmallTlsf<'p> = GenericTlsf<'p, { config::fl_len(1 << 16) }, 8>;

/// A TLSF whose pools may span any size the address space allows, with 16
/// second-level lists.
pub type LargeTlsf<'p> = GenericTlsf<'p, { config::fl_len(isize::MAX as usize) }, 16>;

// The named configurations keep the promises their docs and the README make.
const _: () = assert!(SmallTlsf::MAX_POOL >= 1 << 16);
const _: () = assert!(Tlsf::MAX_POOL as u64 >= 1 << 32 || Tlsf::MAX_POOL >= isize::MAX as usize);
const _: () = assert!(LargeTlsf::MAX_BLOCK == isize::MAX as usize & !(GRANULE - 1));

/// A two-level segregated fit heap over one or more pools of memory that
/// live for `'p`, in any configuration.
///
/// `FL` and `SL` choose the size classes (see [`config`]): the largest block
/// is just under `GRANULE * SL * 2^(FL - 1)` bytes and a request is rounded
/// up by less than `1/SL` of its size when the heap looks for a list to take
/// a block from. The named configurations are [`Tlsf`] (pools up to 4 GiB),
/// [`SmallTlsf`] (pools up to 64 KiB, control block under 1 KiB) and
/// [`LargeTlsf`]; a custom one is `GenericTlsf<'p, { fl_len(max_pool) }, SL>`
/// (see [`config::fl_len`]).
///
/// # Time complexity
///
/// `allocate`, `deallocate`, `grow_in_place`, `shrink_in_place`, `stats` and
/// `add_pool` are O(1): no loop runs over blocks or lists, and finding the
/// pool of a freed pointer looks at no more than [`MAX_POOLS`] pools. `check`
/// is O(blocks); `reset` is O(FL * SL + pools).
///
/// # Memory cost
///
/// An allocated block costs one machine word (its header) plus the rounding
/// of its size to [`GRANULE`]; the smallest block is [`MIN_BLOCK`] bytes. A
/// payload aligned above the granule may start up to `align - GRANULE`
/// bytes into its block, a pad the block keeps. Each
/// pool gives [`config::POOL_OVERHEAD`] bytes (two words) to
/// alignment and its end sentinel. The control block is
/// `size_of::<GenericTlsf<FL, SL>>()`: mostly `FL * SL` list heads of one word each.
///
/// # Building it without a copy on the stack
///
/// `new` returns the control block by value, and wrapping that in an
/// arena moves it again: copies a small stack may not hold. Two ways build
/// it where it stays. A `static` initialised in `const` context with
/// [`empty`](Self::empty) (say `static ARENA: SyncArena<Tlsf, _> =
/// SyncArena::new(Tlsf::empty())`, in `.bss`), given its pool at start-up
/// with [`add_pool`](Self::add_pool) through the arena's lock; or
/// [`new_in_place`](Self::new_in_place) into any `MaybeUninit`, wrapped as
/// an [`Arena`](crate::Arena) over the `&mut` it returns.
pub struct GenericTlsf<'p, const FL: usize, const SL: usize> {
    /// Bit `fl` is set when `sl_bitmaps[fl] != 0`.
    fl_bitmap: usize,
    /// Bit `sl` of `sl_bitmaps[fl]` is set when `heads[fl][sl]` is `Some`.
    sl_bitmaps: [u32; FL],
    heads: [[Option<Block>; SL]; FL],
    counters: Counters,
    /// Where the pools are, with pointers that carry their provenance.
    pools: PoolTable,
    /// The free block that the last free made (after merging), for the
    /// allocation fallback: `None`, or the start of a block, free or
    /// allocated since (a grow that merges it into the block before resets
    /// it, see `forget_if_merged`; a shrink sets it to the freed tail).
    last_freed: Option<Block>,
    /// Three words that stand in for a missing list neighbour (see
    /// `or_scratch`); never read.
    scratch: [usize; 3],
    _pools: PhantomData<&'p mut [MaybeUninit<u8>]>,
}

#[derive(Clone, Copy, Default)]
struct Counters {
    capacity: usize,
    in_use: usize,
    peak: usize,
    allocations: u64,
    deallocations: u64,
    failures: u64,
    bad_frees: u64,
}

// SAFETY: a `Tlsf` owns its pools exclusively (it holds them as
// `&'p mut [MaybeUninit<u8>]` or under `add_pool_raw`'s contract); the raw
// pointers inside it point only into those pools, so moving it to another
// thread moves that ownership along, as moving the `&mut` slices would.
unsafe impl<const FL: usize, const SL: usize> Send for GenericTlsf<'_, FL, SL> {}

impl<const FL: usize, const SL: usize> Default for GenericTlsf<'_, FL, SL> {
    fn default() -> Self {
        Self::empty()
    }
}

impl<const FL: usize, const SL: usize> core::fmt::Debug for GenericTlsf<'_, FL, SL> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Tlsf")
            .field("FL", &FL)
            .field("SL", &SL)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl<'p, const FL: usize, const SL: usize> GenericTlsf<'p, FL, SL> {
    const VALID: () = config::validate(FL, SL);
    const SL_LOG2: u32 = SL.trailing_zeros();

    /// Largest block this configuration can hold, header included.
    pub const MAX_BLOCK: usize = max_block(FL);
    /// Largest pool (after aligning its ends) that `add_pool` accepts.
    pub const MAX_POOL: usize = Self::MAX_BLOCK + POOL_OVERHEAD;
    /// Smallest pool (after aligning its ends) that `add_pool` accepts.
    pub const MIN_POOL: usize = MIN_BLOCK + POOL_OVERHEAD;
    /// Largest `Layout::size()` with alignment up to [`GRANULE`] that can ever
    /// succeed.
    pub const MAX_ALLOC: usize = Self::MAX_BLOCK - WORD;

    /// A heap with no pool: every allocation fails until
    /// [`add_pool`](Self::add_pool) gives it memory. Usable in a `static`.
    ///
    /// # Time complexity
    /// O(1) (it zeroes the control block).
    pub const fn empty() -> Self {
        let () = Self::VALID;
        GenericTlsf {
            fl_bitmap: 0,
            sl_bitmaps: [0; FL],
            heads: [[None; SL]; FL],
            counters: Counters {
                capacity: 0,
                in_use: 0,
                peak: 0,
                allocations: 0,
                deallocations: 0,
                failures: 0,
                bad_frees: 0,
            },
            pools: PoolTable::new(),
            last_freed: None,
            scratch: [0; 3],
            _pools: PhantomData,
        }
    }

    /// A heap over `pool`, which it borrows for as long as it lives.
    ///
    /// Up to `GRANULE - 1` bytes at each end of the pool go unused if the
    /// slice is not granule-aligned, and [`config::POOL_OVERHEAD`]
    /// bytes (one word before the first block, the one-word sentinel after the
    /// last) are the pool's own overhead.
    ///
    /// ```
    /// use core::mem::{MaybeUninit, size_of};
    /// use rtarena::Tlsf;
    ///
    /// let mut pool = [MaybeUninit::uninit(); 4096];
    /// let tlsf = Tlsf::new(&mut pool).unwrap();
    /// assert!(tlsf.stats().free > 4000);
    /// ```
    ///
    /// # Errors
    /// [`PoolError::TooSmall`] or [`PoolError::TooLarge`] (see
    /// [`MIN_POOL`](Self::MIN_POOL), [`MAX_POOL`](Self::MAX_POOL)).
    ///
    /// # Time complexity
    /// O(1).
    pub fn new(pool: &'p mut [MaybeUninit<u8>]) -> Result<Self, PoolError> {
        // SAFETY: `new_in_place` initialises its place when it returns `Ok`.
        unsafe { by_value(|place| Self::new_in_place(place, pool)) }
    }

    /// [`new`](Self::new), building the heap in `place` with no copy of
    /// its control block on the stack (the heap's own use, inside
    /// [`GenericHeap`](crate::GenericHeap), is where it matters most).
    ///
    /// The empty control block is a constant, assigned to `place`: the
    /// compiler writes it straight into `place` (a copy from read-only
    /// data, or a zero fill), with no temporary on the stack, in debug
    /// builds too. A `GenericTlsf`
    /// needs no drop, so `place` may simply be forgotten; on `Err` it holds
    /// an empty heap.
    ///
    /// # Errors
    /// As for [`new`](Self::new).
    ///
    /// # Time complexity
    /// O(1).
    pub fn new_in_place<'a>(
        place: &'a mut MaybeUninit<Self>,
        pool: &'p mut [MaybeUninit<u8>],
    ) -> Result<&'a mut Self, PoolError> {
        *place = const { MaybeUninit::new(Self::empty()) };
        // SAFETY: initialised just above.
        let tlsf = unsafe { place.assume_init_mut() };
        tlsf.add_pool(pool)?;
        Ok(tlsf)
    }

    /// Gives the heap another pool; returns the bytes it adds to `capacity`.
    ///
    /// Pools given this way stay separate even when they are adjacent in
    /// memory: two `&mut` slices carry two provenances, and a block spanning
    /// both would be unsound to hand out. To grow a pool in place, carve both
    /// parts from one pointer and use [`add_pool_raw`](Self::add_pool_raw).
    ///
    /// # Errors
    /// As for [`new`](Self::new), and [`PoolError::TooManyPools`] when the
    /// heap already has [`MAX_POOLS`] pools; the heap is unchanged.
    ///
    /// # Time complexity
    /// O(1).
    pub fn add_pool(&mut self, pool: &'p mut [MaybeUninit<u8>]) -> Result<usize, PoolError> {
        let len = pool.len();
        let ptr = NonNull::from(pool).cast::<u8>();
        let pad = ptr.as_ptr().align_offset(GRANULE).min(len);
        let usable = (len - pad) & !(GRANULE - 1);
        self.fits_pool(usable)?;
        // SAFETY: `pad + usable <= len`, so the aligned range is inside the
        // slice, which is ours exclusively for `'p`.
        let start = unsafe { ptr.add(pad) };
        // SAFETY: `start` is granule-aligned and `usable` bytes from it are
        // in the pool; never merged (see above).
        unsafe { self.init_pool(start, usable, false) };
        Ok(usable - POOL_OVERHEAD)
    }

    /// Gives the heap a pool by raw pointer; returns the bytes it adds to
    /// `capacity`.
    ///
    /// If the pool starts exactly where an earlier raw pool ends, the two
    /// become one pool (the boundary sentinel turns into free space and the
    /// last free block of the old pool grows into the new one), provided the
    /// merged pool stays within [`MAX_POOL`](Self::MAX_POOL). A merge takes
    /// no new slot in the pool table. A part shorter than
    /// [`MIN_BLOCK`] merges only if the old pool ends in a
    /// free block it can extend.
    ///
    /// # Errors
    /// [`PoolError::Misaligned`] if the start or the length is not a multiple
    /// of [`GRANULE`]; otherwise as for [`add_pool`](Self::add_pool). The
    /// heap is unchanged.
    ///
    /// # Safety
    /// - `pool` is valid for reads and writes for `'p`, and nothing else
    ///   accesses it while the heap (or any block it handed out) lives; it
    ///   stays valid wherever the heap goes (the heap is `Send`: memory on a
    ///   thread's stack or in its thread-locals must outlive the heap even if
    ///   the heap moves to another thread);
    /// - it overlaps no pool of this heap or of any other heap;
    /// - if it starts where an earlier raw pool ends, the pointer that pool
    ///   was given with must also be valid for this one (both carved from one
    ///   allocation through one pointer), because blocks will span both.
    ///
    /// # Time complexity
    /// O(1).
    pub unsafe fn add_pool_raw(&mut self, pool: NonNull<[u8]>) -> Result<usize, PoolError> {
        let start = pool.cast::<u8>();
        let len = pool.len();
        if start.as_ptr().addr() % GRANULE != 0 || len % GRANULE != 0 {
            return Err(PoolError::Misaligned { align: GRANULE });
        }
        if let Some((index, base, old_len)) = self.pools.ending_at(start.as_ptr().addr()) {
            // SAFETY: the pool at `index` is a raw pool that ends where this
            // one starts, and its pointer covers this memory too (caller's
            // contract).
            if len > 0 && unsafe { self.try_merge(index, base, old_len, len) } {
                return Ok(len);
            }
        }
        self.fits_pool(len)?;
        // SAFETY: the caller gives us `len` bytes at `start`, granule-aligned.
        unsafe { self.init_pool(start, len, true) };
        Ok(len - POOL_OVERHEAD)
    }

    fn fits_pool(&self, usable: usize) -> Result<(), PoolError> {
        self.pools.has_room()?;
        if usable < Self::MIN_POOL {
            Err(PoolError::TooSmall {
                usable,
                min: Self::MIN_POOL,
            })
        } else if usable > Self::MAX_POOL {
            Err(PoolError::TooLarge {
                size: usable,
                max: Self::MAX_POOL,
            })
        } else {
            Ok(())
        }
    }

    /// Lays one free block and a sentinel over `len` bytes at `start` and
    /// records the pool.
    ///
    /// # Safety
    /// `start` and `len` are granule-aligned, the `len` bytes are ours for
    /// `'p`, and `fits_pool(len)` holds.
    unsafe fn init_pool(&mut self, start: NonNull<u8>, len: usize, mergeable: bool) {
        // SAFETY: forwarded.
        let size = unsafe { self.lay_out_pool(start, len) };
        self.pools.push(start, len, mergeable);
        self.counters.capacity += size;
    }

    /// Makes the `len` bytes at `start` one free block, filed in its list,
    /// and the sentinel after it; returns the block's size.
    ///
    /// # Safety
    /// As for `init_pool`; no block of the pool is in a list.
    unsafe fn lay_out_pool(&mut self, start: NonNull<u8>, len: usize) -> usize {
        let size = len - POOL_OVERHEAD;
        // SAFETY: `WORD + size + SENTINEL_SIZE == len`: the block and the
        // sentinel fit the pool.
        unsafe {
            let block = Block::at(start.add(WORD));
            block.offset(size).set_sentinel(true);
            self.file_free(block, size);
        }
        size
    }

    /// Writes the header and footer of a free block of `size` bytes, whose
    /// predecessor is allocated, and files it in its list.
    ///
    /// # Safety
    /// `size` bytes at `block` are ours, in no block that is in use or in a
    /// list, and `size` is a valid block size.
    #[inline(always)]
    unsafe fn file_free(&mut self, block: Block, size: usize) {
        // SAFETY: forwarded.
        unsafe {
            block.set_header(size);
            block.set_footer(size);
            self.insert(block, size);
        }
    }

    /// Extends pool `index` (`old_len` bytes at `base`) by the `len` bytes
    /// that follow it. Returns `false`, changing nothing, if the merged pool
    /// would be too big.
    ///
    /// # Safety
    /// The `len` bytes right after the pool are ours and reachable through
    /// `base`.
    #[cold]
    unsafe fn try_merge(
        &mut self,
        index: usize,
        base: NonNull<u8>,
        old_len: usize,
        len: usize,
    ) -> bool {
        if old_len.saturating_add(len) > Self::MAX_POOL {
            return false;
        }
        // SAFETY: the pool's sentinel is its last word; the new bytes follow
        // it and are reachable through `base`.
        unsafe {
            let sentinel = Block::at(base.add(old_len - SENTINEL_SIZE));
            let mut block = sentinel;
            let mut size = len;
            if sentinel.is_prev_free() {
                block = sentinel.prev_phys();
                let prev_size = block.size();
                self.remove(block, prev_size);
                size += prev_size;
            } else if size < MIN_BLOCK {
                return false;
            }
            block.offset(size).set_sentinel(true);
            self.file_free(block, size);
        }
        self.pools.extend(index, len);
        self.counters.capacity += len;
        true
    }

    /// Block size (header included) for a request of `size` bytes (see
    /// `least_block`); `None` if no block can be that large.
    #[inline(always)]
    const fn block_size(size: usize) -> Option<usize> {
        let size = least_block(size);
        if size > Self::MAX_BLOCK {
            None
        } else {
            Some(size)
        }
    }

    /// Allocates a block for `layout`; the returned slice is the whole usable
    /// block, which may be longer than `layout.size()`.
    ///
    /// A zero-size layout gets a dangling pointer aligned to `layout.align()`
    /// and costs nothing.
    ///
    /// # Errors
    /// [`AllocError`] when no free block can hold the layout (or the layout is
    /// larger than any block); the heap is unchanged.
    ///
    /// # Time complexity
    /// O(1). The common path is two bitmap scans and a list pop. When no
    /// list whose every block fits has a block, a cold fallback looks at
    /// two blocks, no more: the one the last free made, and the first
    /// block of the highest non-empty list below those. So a request fails
    /// only when every free block is smaller than its rounded-up size (the
    /// block size, plus `align - GRANULE` for an alignment
    /// above [`GRANULE`], rounded up to the next list boundary: by less
    /// than `1/SL`) and neither of those two blocks holds it; and freeing a
    /// block and allocating the same layout right after always succeeds.
    #[inline]
    pub fn allocate(&mut self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
        if layout.align() > GRANULE {
            return self.allocate_aligned(layout);
        }
        if layout.size() == 0 {
            return Ok(dangling(layout));
        }
        // No test against `MAX_BLOCK`: every block in the lists that
        // `find_list` searches from `list_at_least(size)` on is at least
        // `size` bytes (a size past the last level finds none), and the
        // fallback compares sizes.
        let size = least_block(layout.size());
        let (fl, sl) = list_at_least(size, Self::SL_LOG2);
        let Some((fl, sl)) = self.find_list(fl, sl) else {
            return self.allocate_fallback(size, GRANULE, (fl, sl));
        };
        // SAFETY: `find_list` returned a non-empty list whose blocks are all
        // at least `size` bytes.
        Ok(unsafe { self.take_head(fl, sl, size) })
    }

    #[inline(never)]
    fn allocate_aligned(&mut self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
        let align = layout.align();
        if layout.size() == 0 {
            return Ok(dangling(layout));
        }
        // No test against `MAX_BLOCK`, as in `allocate`.
        let size = least_block(layout.size());
        let search = aligned_search(size, align);
        let (fl, sl) = list_at_least(search, Self::SL_LOG2);
        let Some((fl, sl)) = self.find_list(fl, sl) else {
            return self.fallback(size, align, (fl, sl));
        };
        // SAFETY: the list is non-empty and all its blocks are at least
        // `search` bytes, enough for any pad plus `size`.
        unsafe {
            let block = self.pop(fl, sl);
            let pad = pad_for(block, align);
            Ok(self.take_padded(block, pad, size))
        }
    }

    /// The fallback of an unaligned request: out of line, so that the hot
    /// path stays small.
    #[cold]
    fn allocate_fallback(
        &mut self,
        size: usize,
        align: usize,
        end: (usize, usize),
    ) -> Result<NonNull<[u8]>, AllocError> {
        self.fallback(size, align, end)
    }

    /// The fallback when no list from `end` on has a block: the free block
    /// the last free made, then the head of the highest non-empty list
    /// below `end`, each taken if it holds `size` bytes `align`ed. Two
    /// blocks at most: O(1). Inlined in the aligned path (itself out of
    /// line), which a second call would lengthen.
    #[inline(always)]
    fn fallback(
        &mut self,
        size: usize,
        align: usize,
        end: (usize, usize),
    ) -> Result<NonNull<[u8]>, AllocError> {
        let Some(fit) = self.fallback_block(size, align, end) else {
            return self.fail();
        };
        // SAFETY: `fallback_block` found the fit.
        Ok(unsafe { self.take_fit(fit, size) })
    }

    /// The fallback's block, its list and the pad its payload needs: the
    /// block the last free made, else the head of the highest non-empty
    /// list below `end`, if it holds `size` bytes `align`ed.
    #[inline(always)]
    fn fallback_block(&self, size: usize, align: usize, end: (usize, usize)) -> Option<Fit> {
        if let Some(fit) = self.last_freed_fit(size, align) {
            return Some(fit);
        }
        let list = self.find_list_below(end)?;
        // SAFETY: `find_list_below` returns a non-empty list, whose head is
        // a free block.
        unsafe {
            let head = self.heads[list.0][list.1].unwrap_unchecked();
            let pad = pad_for(head, align);
            (pad + size <= head.size()).then_some((head, list, pad))
        }
    }

    /// The block the last free made, its list and the pad its payload
    /// needs, if it is still free and holds `size` bytes `align`ed.
    #[inline(always)]
    fn last_freed_fit(&self, size: usize, align: usize) -> Option<Fit> {
        let block = self.last_freed?;
        // SAFETY: `last_freed` is the start of a block (see the field).
        let header = unsafe { block.header() };
        let total = header & !PREV_FREE;
        let pad = pad_for(block, align);
        (header & USED == 0 && pad + size <= total)
            .then(|| (block, list_of(total, Self::SL_LOG2), pad))
    }

    /// Allocates `size` bytes from a free block that a search found.
    ///
    /// # Safety
    /// `fit` is a free block, filed in list `fit.1`, that holds `size`
    /// bytes after the pad `fit.2`, a multiple of the granule (`pad_for`).
    #[inline(always)]
    unsafe fn take_fit(&mut self, (block, (fl, sl), pad): Fit, size: usize) -> NonNull<[u8]> {
        // SAFETY: as `take_padded` requires, from the caller's.
        unsafe {
            self.remove_at(block, fl, sl);
            self.take_padded(block, pad, size)
        }
    }

    /// Allocates `layout` from the block the last free made, if it is free
    /// and holds it: for the hybrid heap, after a request failed and a
    /// spare page went back, where that block is the only free memory that
    /// a second search could find and the first did not. Counts no
    /// failure. A zero-size `layout` is the caller's to serve.
    ///
    /// # Time complexity
    /// O(1): one header test, then at most an unlink and a split.
    pub(crate) fn allocate_in_last_freed(&mut self, layout: Layout) -> Option<NonNull<[u8]>> {
        let size = least_block(layout.size());
        let fit = self.last_freed_fit(size, layout.align())?;
        // SAFETY: `last_freed_fit` found the fit.
        Some(unsafe { self.take_fit(fit, size) })
    }

    #[cold]
    fn fail<T>(&mut self) -> Result<T, AllocError> {
        self.counters.failures += 1;
        Err(AllocError)
    }

    /// The first non-empty list at or after `(fl, sl)` in size order.
    #[inline(always)]
    fn find_list(&self, fl: usize, sl: usize) -> Option<(usize, usize)> {
        if fl >= FL {
            return None;
        }
        // SAFETY: `fl < FL`.
        let sl_map = unsafe { *self.sl_bitmaps.get_unchecked(fl) } & (u32::MAX << sl);
        if sl_map != 0 {
            return Some((fl, lowest_bit_u32(sl_map) as usize));
        }
        // `fl + 1` may equal `usize::BITS`, hence the two shifts.
        let fl_map = self.fl_bitmap & ((usize::MAX << fl) << 1);
        if fl_map == 0 {
            return None;
        }
        let fl = lowest_bit(fl_map) as usize;
        // SAFETY: bits of `fl_bitmap` are only set below `FL`, each where
        // that level's map is not 0.
        let sl_map = unsafe { *self.sl_bitmaps.get_unchecked(fl) };
        Some((fl, lowest_bit_u32(sl_map) as usize))
    }

    /// The last non-empty list before `(fl, sl)` in size order (`fl` may be
    /// `FL` or more: then the highest non-empty list).
    #[inline(always)]
    fn find_list_below(&self, (fl, sl): (usize, usize)) -> Option<(usize, usize)> {
        let fl_map = if fl < FL {
            // SAFETY: `fl < FL`.
            let sl_map = unsafe { *self.sl_bitmaps.get_unchecked(fl) } & !(u32::MAX << sl);
            if sl_map != 0 {
                return Some((fl, highest_bit_u32(sl_map) as usize));
            }
            self.fl_bitmap & ((1 << fl) - 1)
        } else {
            self.fl_bitmap
        };
        let fl = highest_bit(NonZeroUsize::new(fl_map)?) as usize;
        // SAFETY: bits of `fl_bitmap` are only set below `FL`, each where
        // that level's map is not 0.
        let sl_map = unsafe { *self.sl_bitmaps.get_unchecked(fl) };
        Some((fl, highest_bit_u32(sl_map) as usize))
    }

    /// Unlinks and returns the head of a non-empty list.
    ///
    /// # Safety
    /// List `(fl, sl)` is non-empty (`fl < FL`, `sl < SL`).
    #[inline(always)]
    unsafe fn pop(&mut self, fl: usize, sl: usize) -> Block {
        // SAFETY: in bounds and non-empty, per the caller; the new head, a
        // free block, takes the back link.
        unsafe {
            let slot = self.heads.get_unchecked_mut(fl).get_unchecked_mut(sl);
            let block = slot.unwrap_unchecked();
            let next = block.next_free();
            *slot = next;
            match next {
                Some(next) => next.set_prev_free_link(None),
                None => self.clear_bit_if(true, fl, sl),
            }
            block
        }
    }

    /// Clears the bit of list `(fl, sl)` when `emptied`, without a branch:
    /// whether a list runs empty is data-dependent and mispredicts often.
    #[inline(always)]
    fn clear_bit_if(&mut self, emptied: bool, fl: usize, sl: usize) {
        // SAFETY: callers pass a list index, `fl < FL <= usize::BITS` and
        // `sl < SL <= 32` (`config::validate`). Telling the compiler spares
        // the masks that Rust's shifts by a variable otherwise get.
        unsafe { assert_unchecked(fl < FL && sl < SL) };
        // SAFETY: as just said, `fl < FL`.
        let map = unsafe { self.sl_bitmaps.get_unchecked_mut(fl) };
        *map &= !((emptied as u32) << sl);
        self.fl_bitmap &= !(((*map == 0) as usize) << fl);
    }

    /// `block`, or the scratch block when there is none: `insert_at` writes
    /// the old head's back link unconditionally, and when the list was empty
    /// the write lands in the scratch words. Whether a list is empty is
    /// hard to predict under mixed sizes; this trades that branch for a
    /// store to a line that is always in cache. (Unlinking keeps its
    /// branches: there the branch-free form measured slower.)
    #[inline(always)]
    fn or_scratch(&mut self, block: Option<Block>) -> Block {
        let scratch = Block::at(NonNull::from(&mut self.scratch).cast());
        block.unwrap_or(scratch)
    }

    /// Files a free block of `size` bytes at the head of its list.
    ///
    /// # Safety
    /// `block` is a free block of `size <= MAX_BLOCK` bytes, in no list.
    #[inline(always)]
    unsafe fn insert(&mut self, block: Block, size: usize) {
        let (fl, sl) = list_of(size, Self::SL_LOG2);
        // SAFETY: forwarded; `size <= MAX_BLOCK` maps to a list in bounds.
        unsafe { self.insert_at(block, fl, sl) }
    }

    /// Files a free block at the head of list `(fl, sl)`.
    ///
    /// # Safety
    /// `block` is a free block in no list, and `(fl, sl)` is its size's list.
    #[inline(always)]
    unsafe fn insert_at(&mut self, block: Block, fl: usize, sl: usize) {
        // SAFETY: the list index is in bounds (see `clear_bit_if`).
        unsafe { assert_unchecked(fl < FL && sl < SL) };
        // SAFETY: the list index is in bounds; `block` is free, so it has
        // room for its links, and so has the old head.
        unsafe {
            let slot = self.heads.get_unchecked_mut(fl).get_unchecked_mut(sl);
            let head = *slot;
            *slot = Some(block);
            block.set_next_free(head);
            block.set_prev_free_link(None);
            self.or_scratch(head).set_prev_free_link(Some(block));
            *self.sl_bitmaps.get_unchecked_mut(fl) |= 1 << sl;
        }
        self.fl_bitmap |= 1 << fl;
    }

    /// Puts free block `new` where free block `old` is in list `(fl, sl)`,
    /// without touching the bitmaps: the cheap case of a split or a merge
    /// that leaves the free block in the same size class.
    ///
    /// # Safety
    /// `old` is filed in list `(fl, sl)`; `new` is a free block in no list
    /// whose size maps to `(fl, sl)`. (`old`'s links are read before `new`'s
    /// are written, so the two blocks may even overlap.)
    #[inline(always)]
    unsafe fn replace(&mut self, old: Block, new: Block, fl: usize, sl: usize) {
        // SAFETY: `old` and its list neighbours are free blocks; `new` has
        // room for its links.
        unsafe {
            let next = old.next_free();
            let prev = old.prev_free();
            new.set_next_free(next);
            new.set_prev_free_link(prev);
            if let Some(next) = next {
                next.set_prev_free_link(Some(new));
            }
            match prev {
                Some(prev) => prev.set_next_free(Some(new)),
                None => *self.heads.get_unchecked_mut(fl).get_unchecked_mut(sl) = Some(new),
            }
        }
    }

    /// Unlinks a free block of `size` bytes from its list.
    ///
    /// # Safety
    /// `block` is a free block of `size` bytes filed in its list.
    #[inline(always)]
    unsafe fn remove(&mut self, block: Block, size: usize) {
        let (fl, sl) = list_of(size, Self::SL_LOG2);
        // SAFETY: forwarded.
        unsafe { self.remove_at(block, fl, sl) }
    }

    /// Unlinks a free block from list `(fl, sl)`.
    ///
    /// # Safety
    /// `block` is filed in list `(fl, sl)`.
    #[inline(always)]
    unsafe fn remove_at(&mut self, block: Block, fl: usize, sl: usize) {
        // SAFETY: `block` is in list `(fl, sl)`; its neighbours in the list
        // are free blocks, and the head slot is in bounds.
        unsafe {
            let next = block.next_free();
            let prev = block.prev_free();
            if let Some(next) = next {
                next.set_prev_free_link(prev);
            }
            match prev {
                Some(prev) => prev.set_next_free(next),
                None => {
                    *self.heads.get_unchecked_mut(fl).get_unchecked_mut(sl) = next;
                    self.clear_bit_if(next.is_none(), fl, sl);
                }
            }
        }
    }

    /// Allocates `size` bytes from the head of list `(fl, sl)`: the hot path.
    /// When the tail left over stays in the same list, it takes the head's
    /// place and the bitmaps are not touched.
    ///
    /// # Safety
    /// List `(fl, sl)` is non-empty and its blocks are at least `size` bytes;
    /// `size` is a valid block size.
    #[inline(always)]
    unsafe fn take_head(&mut self, fl: usize, sl: usize, size: usize) -> NonNull<[u8]> {
        // SAFETY: the list is non-empty, its head a free block of at least
        // `size` bytes; a tail of `rest >= MIN_BLOCK` bytes is a valid block,
        // and the block after the head has `PREV_FREE` set (the head is free).
        unsafe {
            let block = self
                .heads
                .get_unchecked(fl)
                .get_unchecked(sl)
                .unwrap_unchecked();
            let total = block.size();
            let rest = total - size;
            if rest < MIN_BLOCK {
                self.pop(fl, sl);
                return self.take_sized(block, total, size, 0);
            }
            let tail = block.offset(size);
            tail.set_header(rest);
            tail.set_footer(rest);
            let (tail_fl, tail_sl) = list_of(rest, Self::SL_LOG2);
            if (tail_fl, tail_sl) == (fl, sl) {
                self.replace(block, tail, fl, sl);
            } else {
                self.pop(fl, sl);
                self.insert_at(tail, tail_fl, tail_sl);
            }
            self.mark_used(block, size, 0)
        }
    }

    /// Allocates `size` bytes from `block` (unlinked, free) with the payload
    /// `pad` bytes past its usual place, so that it lands on an alignment.
    /// The pad stays in the block: the word before the payload says how
    /// long it is (`PAD`), and the block's header stays where it is. A pad
    /// is less than the alignment; splitting it off as a free block instead
    /// would cost a third list update on the allocation's longest path.
    ///
    /// # Safety
    /// As for `take_sized`, with `pad + size <= block.size()` and `pad` a
    /// multiple of the granule.
    #[inline(always)]
    unsafe fn take_padded(&mut self, block: Block, pad: usize, size: usize) -> NonNull<[u8]> {
        // SAFETY: the block is free and unlinked, and its predecessor is
        // allocated (no two free blocks touch); a nonzero pad leaves the
        // word before the payload inside the block.
        unsafe {
            let taken = self.take_sized(block, block.size(), pad + size, 0);
            if pad != 0 {
                block.offset(pad).set_header(pad | PAD);
            }
            padded(taken, pad)
        }
    }

    /// # Safety
    /// `block` heads `total >= size` bytes of unlinked free memory; `flags`
    /// is `PREV_FREE` if the block before it is free.
    #[inline(always)]
    unsafe fn take_sized(
        &mut self,
        block: Block,
        total: usize,
        size: usize,
        flags: usize,
    ) -> NonNull<[u8]> {
        let rest = total - size;
        // SAFETY: the block spans `total` bytes; a tail of `rest >=
        // MIN_BLOCK` bytes is a valid block, and the block after `total` has
        // `PREV_FREE` set already (it followed a free block).
        let size = unsafe {
            if rest >= MIN_BLOCK {
                self.file_free(block.offset(size), rest);
                size
            } else {
                block.offset(total).set_prev_free(false);
                total
            }
        };
        // SAFETY: `block` is now an allocated block of `size` bytes.
        unsafe { self.mark_used(block, size, flags) }
    }

    /// Writes an allocated block's header, counts it, returns its payload.
    ///
    /// # Safety
    /// `block` spans `size` bytes that are in no list; `flags` is
    /// `PREV_FREE` if the block before it is free.
    #[inline(always)]
    unsafe fn mark_used(&mut self, block: Block, size: usize, flags: usize) -> NonNull<[u8]> {
        // SAFETY: the caller hands us the block.
        unsafe { block.set_header(size | USED | flags) };
        let c = &mut self.counters;
        c.in_use += size;
        c.peak = c.peak.max(c.in_use);
        c.allocations += 1;
        // SAFETY: `block` is a block.
        NonNull::slice_from_raw_parts(unsafe { block.payload() }, size - WORD)
    }

    /// Frees a block returned by [`allocate`](Self::allocate) (or resized
    /// since), coalescing it with free neighbours.
    ///
    /// A free that breaks the contract in a way one test of the header
    /// shows is refused: the heap changes nothing but
    /// [`Stats::bad_frees`]; debug builds then panic with a message that
    /// names the caller's line (release builds go on). That is a pointer
    /// outside every pool, one not granule-aligned, and a header word
    /// before `ptr` that is not an allocated block's whose size the
    /// layout can name: a double free (until the memory is allocated
    /// again), a layout that does not fit, and a pointer into a block
    /// (unless the word before it happens to read as such a header, or as
    /// a pad word leading to one: then the heap is corrupted; a pointer a
    /// pad's length before a padded payload is such a case). Debug builds
    /// also refuse a pointer not
    /// aligned to `layout.align()`. A refused free never leads to a block
    /// being handed out twice.
    ///
    /// # Safety
    /// `ptr` was returned by this heap for a layout with `layout.align()` and
    /// a size between the requested size and the returned length, and has not
    /// been freed since. A zero-size `layout` makes this a no-op.
    ///
    /// # Time complexity
    /// O(1) (finding the pool compares the address with at most
    /// [`MAX_POOLS`] pool ranges).
    #[inline]
    #[track_caller]
    pub unsafe fn deallocate(&mut self, ptr: NonNull<u8>, layout: Layout) {
        // SAFETY: forwarded contract.
        Misuse::report_err(unsafe { self.free(ptr, layout) })
    }

    /// [`deallocate`](Self::deallocate), returning a refused misuse rather
    /// than reporting it.
    ///
    /// # Safety
    /// As for `deallocate`.
    #[inline(always)]
    pub(crate) unsafe fn free(&mut self, ptr: NonNull<u8>, layout: Layout) -> Result<(), Misuse> {
        if layout.size() == 0 {
            return Ok(());
        }
        let (block, header, _) = match self.live_block(ptr, layout) {
            Ok(live) => live,
            Err(misuse) => return Err(self.refuse(misuse)),
        };
        // SAFETY: `block` is the header of a live block of this heap (caller's
        // contract, and `live_block` saw an allocated block's header there),
        // reached through its pool's own pointer.
        unsafe { self.free_block(block, header) };
        Ok(())
    }

    /// Frees the block at `payload`, a payload this heap handed out (with
    /// no pad: aligned to the granule at most) through a pointer that
    /// carries its pool's provenance, with no lookup and no check; returns
    /// the block's size. For a heap's own blocks (the hybrid heap's pages).
    ///
    /// # Safety
    /// `payload` is the payload of a live block of this heap, allocated
    /// with an alignment of at most `GRANULE`, derived from the pointer
    /// this heap returned (or another with its pool's provenance).
    #[inline]
    pub(crate) unsafe fn free_own(&mut self, payload: NonNull<u8>) -> usize {
        // SAFETY: the header is the word before an unpadded payload, inside
        // the pool that `payload`'s provenance covers (caller).
        unsafe {
            let block = Block::at(payload.sub(WORD));
            let header = block.header();
            debug_assert!(
                header & USED != 0 && header & PAD == 0,
                "free_own: not an unpadded live block"
            );
            self.free_block(block, header);
            header & !(USED | PREV_FREE)
        }
    }

    /// Frees `block`, whose header word is `header`, merging it with its
    /// free neighbours.
    ///
    /// # Safety
    /// `block` is the header of a live block of this heap, reached through
    /// its pool's own pointer; `header` is its header word.
    #[inline(always)]
    unsafe fn free_block(&mut self, block: Block, header: usize) {
        // SAFETY: `block` is live (caller); its free neighbours are filed in
        // their lists.
        unsafe {
            let mut block = block;
            let mut size = header & !(USED | PREV_FREE);
            let c = &mut self.counters;
            c.in_use -= size;
            c.deallocations += 1;
            let next = block.offset(size);
            let next_header = next.header();
            if next_header & USED == 0 {
                let next_size = next_header & !PREV_FREE;
                let (next_fl, next_sl) = list_of(next_size, Self::SL_LOG2);
                size += next_size;
                if header & PREV_FREE == 0 {
                    // The common merge, with one free neighbour after: if the
                    // merged block stays in that neighbour's list, it simply
                    // takes the neighbour's place there, and no bitmap
                    // changes: an allocate+free pair of one size costs 30
                    // instructions less on x86-64 (callgrind).
                    block.set_header(size);
                    block.set_footer(size);
                    let (fl, sl) = list_of(size, Self::SL_LOG2);
                    if (fl, sl) == (next_fl, next_sl) {
                        self.replace(next, block, fl, sl);
                    } else {
                        self.remove_at(next, next_fl, next_sl);
                        self.insert_at(block, fl, sl);
                    }
                    self.last_freed = Some(block);
                    return;
                }
                self.remove_at(next, next_fl, next_sl);
            } else {
                // The block after stays allocated: it learns that this one
                // is free, from the header already read. (After a merge with
                // the next block, the block after that has `PREV_FREE`.)
                next.set_header(next_header | PREV_FREE);
            }
            if header & PREV_FREE != 0 {
                // The freed header ends up inside the merged block; mark it
                // free so that a second free of it is caught.
                block.set_header(PREV_FREE);
                block = block.prev_phys();
                let prev_size = block.size();
                self.remove(block, prev_size);
                size += prev_size;
            }
            self.file_free(block, size);
            self.last_freed = Some(block);
        }
    }

    /// Counts a refused free.
    #[cold]
    fn refuse(&mut self, misuse: Misuse) -> Misuse {
        self.counters.bad_frees += 1;
        misuse
    }

    /// The word before the payload `ptr` (its block's header, or a pad
    /// word), through the pool's own pointer (see `pools`), and how far
    /// before it a block may start; `None` if no pool holds `ptr` or it is
    /// not granule-aligned, as every payload is.
    #[inline(always)]
    fn block_of(&self, ptr: NonNull<u8>) -> Option<Located> {
        self.pools.locate_block(ptr.as_ptr().addr())
    }

    /// The header of the allocated block at `ptr`, its header word and the
    /// payload's pad (see `take_padded`), if a call with `layout` may name
    /// that block (see `fits`); else the misuse.
    ///
    /// Release builds test the header with one branch (two for a padded
    /// payload); debug builds also refuse a pointer not aligned to
    /// `layout.align()`.
    #[inline(always)]
    fn live_block(
        &self,
        ptr: NonNull<u8>,
        layout: Layout,
    ) -> Result<(Block, usize, usize), Misuse> {
        let addr = ptr.as_ptr().addr();
        let Some(located) = self.block_of(ptr) else {
            return Err(Misuse::Foreign { addr });
        };
        let (block, header, pad) = self.header_of(located, addr)?;
        if !fits(header, layout, pad) || (cfg!(debug_assertions) && addr % layout.align() != 0) {
            return Err(not_live(addr, header, layout));
        }
        Ok((block, header, pad))
    }

    /// The block of the payload at `addr`, whose preceding word `located`
    /// found: that word is the block's header, or a pad word (`PAD` and
    /// the pad's length) that leads to the header `pad` bytes before it,
    /// which must lie in the pool. Inlined: a cold call would cost an
    /// aligned free more than the pad does.
    #[inline(always)]
    fn header_of(&self, located: Located, addr: usize) -> Result<(Block, usize, usize), Misuse> {
        // SAFETY: `block_of` gives a pointer into a pool: not null.
        let block = Block::at(unsafe { NonNull::new_unchecked(located.header) });
        // SAFETY: `block_of` gives a word-aligned address inside a pool,
        // through the pool's pointer: a block's header (or a pad word) if
        // the caller kept the contract. (If not, it is still inside a pool,
        // but it may be bytes no one wrote; the contract rules that out.)
        let word = unsafe { block.header() };
        if word & PAD == 0 {
            return Ok((block, word, 0));
        }
        // A pad is a multiple of the granule; masking the word's low bits
        // (not only `PAD`) keeps the header found from it word-aligned
        // whatever the word holds, as after a misuse.
        let pad = word & !(GRANULE - 1);
        if pad > located.reach {
            return Err(Misuse::NotAllocated { addr });
        }
        // SAFETY: `pad <= reach` and `pad` is a multiple of the granule:
        // the header lies at or after the pool's first block header, inside
        // the pool, and word-aligned.
        unsafe {
            let block = Block::at(NonNull::new_unchecked(located.header.sub(pad)));
            Ok((block, block.header(), pad))
        }
    }

    /// Grows a block in place to hold `new.size()` bytes, taking from the free
    /// block after it. Returns the block's new usable extent.
    ///
    /// # Errors
    /// [`AllocError`] (changing nothing) when the next block is not free or
    /// too small, or when `ptr` is not aligned to `new.align()`; also when
    /// `ptr` and `old` do not name an allocated block as `deallocate`
    /// checks (the free that a moving grow ends with then refuses and
    /// reports it).
    ///
    /// # Safety
    /// `ptr` is live in this heap with layout `old` (as for `deallocate`) and
    /// `new.size() >= old.size()`.
    ///
    /// # Time complexity
    /// O(1).
    pub unsafe fn grow_in_place(
        &mut self,
        ptr: NonNull<u8>,
        old: Layout,
        new: Layout,
    ) -> Result<NonNull<[u8]>, AllocError> {
        if old.size() == 0 || ptr.as_ptr().addr() % new.align() != 0 {
            return Err(AllocError);
        }
        let Some(size) = Self::block_size(new.size()) else {
            return Err(AllocError);
        };
        let Ok((block, header, pad)) = self.live_block(ptr, old) else {
            return Err(AllocError);
        };
        // The pad stays: the payload does not move.
        let size = size.saturating_add(pad);
        // SAFETY: `ptr` is a live payload of this heap, `block` its header
        // and `pad` the distance between the two.
        unsafe {
            let current = header & !(USED | PREV_FREE);
            if size <= current {
                return Ok(padded(
                    NonNull::slice_from_raw_parts(block.payload(), current - WORD),
                    pad,
                ));
            }
            let next = block.offset(current);
            if next.is_used() {
                return Err(AllocError);
            }
            let total = current + next.size();
            if total < size {
                return Err(AllocError);
            }
            self.remove(next, next.size());
            self.forget_if_merged(next);
            self.counters.in_use -= current;
            self.counters.allocations -= 1;
            Ok(padded(
                self.take_sized(block, total, size, header & PREV_FREE),
                pad,
            ))
        }
    }

    /// Shrinks a block in place to `new.size()` bytes; the tail goes back to
    /// the heap when it can be a block of its own (merging with a free block
    /// after it). Returns the block's new usable extent.
    ///
    /// # Errors
    /// [`AllocError`] (changing nothing) when `ptr` is not aligned to
    /// `new.align()` or `new.size()` is zero: such a block must move. Also
    /// when `new.size()` needs a larger block than the current one (a shrink
    /// to a larger size, which breaks the contract), or when `ptr` and `old`
    /// do not name an allocated block as `deallocate` checks.
    ///
    /// # Safety
    /// `ptr` is live in this heap with layout `old`, and
    /// `new.size() <= old.size()`.
    ///
    /// # Time complexity
    /// O(1).
    pub unsafe fn shrink_in_place(
        &mut self,
        ptr: NonNull<u8>,
        old: Layout,
        new: Layout,
    ) -> Result<NonNull<[u8]>, AllocError> {
        if new.size() == 0 || old.size() == 0 || ptr.as_ptr().addr() % new.align() != 0 {
            return Err(AllocError);
        }
        let Some(size) = Self::block_size(new.size()) else {
            return Err(AllocError);
        };
        let Ok((block, header, pad)) = self.live_block(ptr, old) else {
            return Err(AllocError);
        };
        let size = size.saturating_add(pad);
        let current = header & !(USED | PREV_FREE);
        // A larger block than the current one: a shrink to a larger size.
        let Some(mut tail_size) = current.checked_sub(size) else {
            return Err(AllocError);
        };
        // SAFETY: `ptr` is a live payload of this heap, `block` its header
        // (`pad` bytes before), and `size` fits in it.
        unsafe {
            if tail_size < MIN_BLOCK {
                return Ok(padded(
                    NonNull::slice_from_raw_parts(block.payload(), current - WORD),
                    pad,
                ));
            }
            block.set_header(size | (header & (USED | PREV_FREE)));
            let tail = block.offset(size);
            self.counters.in_use -= tail_size;
            let next = tail.offset(tail_size);
            if !next.is_used() {
                let next_size = next.size();
                self.remove(next, next_size);
                tail_size += next_size;
            }
            tail.offset(tail_size).set_prev_free(true);
            self.file_free(tail, tail_size);
            // The tail is freed memory like any other (and it may have
            // swallowed `last_freed`).
            self.last_freed = Some(tail);
            Ok(padded(
                NonNull::slice_from_raw_parts(block.payload(), size - WORD),
                pad,
            ))
        }
    }

    /// Keeps `last_freed` a block's start when `block`, a free block, is
    /// merged into the allocated block before it by `grow_in_place`.
    #[inline(always)]
    fn forget_if_merged(&mut self, block: Block) {
        if self.last_freed == Some(block) {
            self.last_freed = None;
        }
    }

    /// Usable bytes of a live block: what `allocate` returned as its length.
    ///
    /// # Safety
    /// `ptr` is live in this heap (and not zero-size).
    ///
    /// # Time complexity
    /// O(1).
    pub unsafe fn usable_size(&self, ptr: NonNull<u8>) -> usize {
        let Some(located) = self.block_of(ptr) else {
            return 0;
        };
        match self.header_of(located, ptr.as_ptr().addr()) {
            Ok((_, header, pad)) => (header & !(USED | PREV_FREE)).saturating_sub(WORD + pad),
            Err(_) => 0,
        }
    }

    /// The pool that holds `addr`: its index (pools are numbered in the
    /// order they were added, from 0), its base with the pool's provenance,
    /// and `addr`'s offset from it; O(1), as `pointer_to`.
    #[inline(always)]
    pub(crate) fn pool_of(&self, addr: usize) -> Option<(usize, NonNull<u8>, usize)> {
        self.pools.pool_of(addr)
    }

    /// How many pools the heap has.
    pub(crate) fn pool_count(&self) -> usize {
        self.pools.len()
    }

    /// Every pool as (base, length), in the order they were added.
    pub(crate) fn pools(&self) -> impl Iterator<Item = (NonNull<u8>, usize)> + '_ {
        self.pools.iter()
    }

    /// A snapshot of the usage counters.
    ///
    /// # Time complexity
    /// O(1).
    pub fn stats(&self) -> Stats {
        let c = self.counters;
        Stats {
            capacity: c.capacity,
            in_use: c.in_use,
            peak_in_use: c.peak,
            free: c.capacity.wrapping_sub(c.in_use),
            largest_free: self.largest_free(),
            allocations: c.allocations,
            deallocations: c.deallocations,
            failures: c.failures,
            bad_frees: c.bad_frees,
        }
    }

    /// Every free block, as its start (with its pool's provenance) and
    /// its size, list by list.
    ///
    /// # Time complexity
    /// O(FL * SL + free blocks).
    pub(crate) fn free_blocks(&self) -> impl Iterator<Item = (NonNull<u8>, usize)> + '_ {
        self.heads
            .iter()
            .flatten()
            .flat_map(|&head| {
                // SAFETY: list members are free blocks, whose links name
                // the next member.
                core::iter::successors(head, |block| unsafe { block.next_free() })
            })
            // SAFETY: as above: a free block.
            .map(|block| (block.ptr(), unsafe { block.size() }))
    }

    /// The size of the head of the highest non-empty list; 0 when the
    /// bitmaps name no list in bounds (only a corrupted control block can,
    /// which `check` reports: `stats` never panics).
    fn largest_free(&self) -> usize {
        let fl = usize::BITS.wrapping_sub(1 + self.fl_bitmap.leading_zeros()) as usize;
        let Some(&sl_map) = self.sl_bitmaps.get(fl) else {
            return 0;
        };
        let sl = u32::BITS.wrapping_sub(1 + sl_map.leading_zeros()) as usize;
        let head = self.heads[fl].get(sl).copied().flatten();
        // SAFETY: list heads are free blocks of this heap.
        head.map_or(0, |head| unsafe { head.size() })
    }

    /// Walks every pool and every free list and verifies every invariant:
    /// block sizes and bounds, headers' flags against their neighbours,
    /// footers, that no two free blocks touch, list links, that each free
    /// block is filed in the list its size maps to and each list holds only
    /// such blocks, the bitmaps, and the byte counters.
    ///
    /// # Errors
    /// The first violation found, with the address where it was found.
    ///
    /// # Time complexity
    /// O(blocks + lists).
    pub fn check(&self) -> Result<(), CheckError> {
        check::check(self)
    }

    /// Frees every block at once: each pool becomes one free block again and
    /// the counters restart (capacity stays).
    ///
    /// # Time complexity
    /// O(FL * SL + pools): it clears every list head.
    pub fn reset(&mut self) {
        self.fl_bitmap = 0;
        self.sl_bitmaps = [0; FL];
        self.heads = [[None; SL]; FL];
        self.last_freed = None;
        self.counters = Counters {
            capacity: self.counters.capacity,
            ..Counters::default()
        };
        let pools = self.pools;
        for (base, len) in pools.iter() {
            // SAFETY: each recorded pool is ours and laid out by `init_pool`
            // (or grown by `try_merge`); the lists were just emptied.
            unsafe { self.lay_out_pool(base, len) };
        }
    }
}

// SAFETY: `Tlsf` upholds the `RawHeap` contract: blocks are carved from pools
// it owns for `'p`, never overlap (each byte is in exactly one block), are
// aligned as asked (`pad_for`, `take_padded`), and keep their place and contents until
// freed; the in-place resizes change nothing on `Err`.
unsafe impl<const FL: usize, const SL: usize> RawHeap for GenericTlsf<'_, FL, SL> {
    #[inline(always)]
    fn allocate(&mut self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
        GenericTlsf::allocate(self, layout)
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
        unsafe { GenericTlsf::grow_in_place(self, ptr, old, new) }
    }

    #[inline]
    unsafe fn shrink_in_place(
        &mut self,
        ptr: NonNull<u8>,
        old: Layout,
        new: Layout,
    ) -> Result<NonNull<[u8]>, AllocError> {
        // SAFETY: same contract.
        unsafe { GenericTlsf::shrink_in_place(self, ptr, old, new) }
    }

    fn stats(&self) -> Stats {
        GenericTlsf::stats(self)
    }

    fn check(&self) -> Result<(), CheckError> {
        GenericTlsf::check(self)
    }
}

/// A free block that holds a request: the block, the list it is filed in,
/// and the pad before the request's payload.
type Fit = (Block, (usize, usize), usize);

/// The smallest block (header included) for a request of `size` bytes:
/// rounded up to the granule, at least `MIN_BLOCK`. `size <= isize::MAX`
/// (a `Layout` guarantees it), so nothing overflows.
#[inline(always)]
const fn least_block(size: usize) -> usize {
    let size = (size + WORD + GRANULE - 1) & !(GRANULE - 1);
    if size < MIN_BLOCK { MIN_BLOCK } else { size }
}

/// Whether `header` is that of an allocated block that a call with
/// `layout` may name, its payload `pad` bytes past the usual place: `USED`
/// set, and a size at most `2 * MIN_BLOCK - 2 * GRANULE` above the request
/// with its header, rounded up to the granule, plus the pad. Every block
/// keeps to that: allocation and the in-place resizes give a request its
/// least block (that rounded size, at least `MIN_BLOCK`) and pad, plus a
/// tail too small to split off (less than `MIN_BLOCK`), and the
/// `Allocator` rule lets a caller name any size from the request to the
/// returned length, which maps to the same least block or to one larger
/// than the tail. The bound leaves out the `MIN_BLOCK` floor, which would
/// cost the test three instructions more, and so accepts one granule more
/// of slack for small requests. One subtraction, rotation and comparison:
/// `slack` is the size's excess, a multiple of the granule, when `USED` is
/// set, and odd when it is not; the rotation moves a bit below the granule
/// (that odd bit, or an overwritten header's) to the top, as it does a
/// negative excess.
#[inline(always)]
fn fits(header: usize, layout: Layout, pad: usize) -> bool {
    // `size <= isize::MAX` (a `Layout`'s), so the sum cannot overflow.
    let rounded = (layout.size() + WORD + GRANULE - 1) & !(GRANULE - 1);
    let slack = (header & !PREV_FREE).wrapping_sub(rounded.wrapping_add(pad) | USED);
    slack.rotate_right(GRANULE_LOG2) < (2 * MIN_BLOCK - GRANULE) / GRANULE
}

/// What a header that `fits` refused says of the call: cold, for the
/// report.
#[cold]
fn not_live(addr: usize, header: usize, layout: Layout) -> Misuse {
    if header & USED == 0 {
        Misuse::NotAllocated { addr }
    } else {
        Misuse::WrongLayout { addr, layout }
    }
}

/// A block size that holds `size` bytes `align`ed wherever the block
/// starts: room for the largest pad `pad_for` can ask. `size + align`
/// cannot overflow: a `Layout` keeps its size rounded up to its alignment
/// within `isize::MAX`.
#[inline]
const fn aligned_search(size: usize, align: usize) -> usize {
    size + align - GRANULE
}

/// Bytes from `block`'s usual payload place to the next `align`ed one: a
/// multiple of the granule below `align` (payloads are granule-aligned),
/// and 0 for an alignment up to the granule.
#[inline(always)]
fn pad_for(block: Block, align: usize) -> usize {
    let payload = block.ptr().as_ptr().addr() + WORD;
    payload.wrapping_neg() & (align - 1)
}

/// The part of a block's payload `taken` that starts `pad` bytes in.
///
/// # Safety
/// `pad` is less than `taken`'s length.
#[inline(always)]
unsafe fn padded(taken: NonNull<[u8]>, pad: usize) -> NonNull<[u8]> {
    // SAFETY: the caller's; the result is inside `taken`.
    unsafe { NonNull::slice_from_raw_parts(taken.cast::<u8>().add(pad), taken.len() - pad) }
}
