//! Building a heap and giving it pools: construction, `add_pool*`, the pool lookups.

use core::marker::PhantomData;
use core::mem::MaybeUninit;
use core::ptr::NonNull;

use super::block::{Block, SENTINEL_SIZE};
use super::config::{GRANULE, MIN_BLOCK, POOL_OVERHEAD, WORD};
use super::pools::{PoolTable, Slot};
use super::{Counters, GenericTlsf};
use crate::PoolError;
use crate::in_place::by_value;

impl<'p, const FL: usize, const SL: usize> GenericTlsf<'p, FL, SL> {
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
                peak: 0,
                in_use: 0,
                frees: 0,
                capacity: 0,
                allocations: 0,
                failures: 0,
                bad_frees: 0,
                #[cfg(all(target_pointer_width = "32", rtarena_soft_clz))]
                allocations_high: 0,
            },
            pools: PoolTable::new(),
            first_pool: Slot::EMPTY,
            last_freed: None,
            scratch: [0; 3],
            _pools: PhantomData,
        }
    }

    /// A heap over `pool`, which it borrows for as long as it lives.
    ///
    /// Up to `GRANULE - 1` bytes at each end of the pool go unused if the
    /// slice is not granule-aligned, and
    /// [`config::POOL_OVERHEAD`](super::config::POOL_OVERHEAD) bytes (one
    /// word before the first block, the one-word sentinel after the last)
    /// are the pool's own overhead.
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
    /// heap already has [`MAX_POOLS`](super::MAX_POOLS) pools; the heap is
    /// unchanged.
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

    pub(super) fn fits_pool(&self, usable: usize) -> Result<(), PoolError> {
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
    pub(super) unsafe fn init_pool(&mut self, start: NonNull<u8>, len: usize, mergeable: bool) {
        // SAFETY: forwarded.
        let size = unsafe { self.lay_out_pool(start, len) };
        self.pools.push(start, len, mergeable);
        self.first_pool = self.pools.first();
        self.counters.capacity += size;
    }

    /// Makes the `len` bytes at `start` one free block, filed in its list,
    /// and the sentinel after it; returns the block's size.
    ///
    /// # Safety
    /// As for `init_pool`; no block of the pool is in a list.
    pub(super) unsafe fn lay_out_pool(&mut self, start: NonNull<u8>, len: usize) -> usize {
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
        self.first_pool = self.pools.first();
        self.counters.capacity += len;
        true
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
}
