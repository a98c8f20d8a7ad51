//! The pool table: where each pool lies, and a pointer to it that carries
//! the pool's provenance.
//!
//! A pointer that a user gives back may be narrower than the block it points
//! into: a `Box` retags its pointer to the boxed value alone, so reading the
//! block header one word before it through that pointer is undefined
//! behaviour under the Rust memory model (Miri reports it, with Stacked and
//! Tree Borrows alike). So the heap never touches memory through a user's
//! pointer: it looks up the pool that holds the address and rebuilds the
//! pointer from the pool's own. A fixed table keeps that lookup O(1): the
//! first pool is one comparison, the others at most `MAX_POOLS - 1` more.

use core::ptr::NonNull;

use super::config::{GRANULE, GRANULE_LOG2, WORD};
use crate::PoolError;

/// How many separate pools a heap can have. Raw pools that merge with an
/// earlier one (see `GenericTlsf::add_pool_raw`) do not take a new slot.
pub const MAX_POOLS: usize = 8;

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Slot {
    /// The pool's first payload place, `GRANULE` past its start, with the
    /// pool's provenance; null in an empty slot. (Kept rather than the
    /// start: the lookup of a freed pointer's block, `block_at`, needs
    /// one subtraction and a comparison of a rotated operand.) A raw
    /// pointer, so that an empty table is all zeros: a `static` heap built
    /// with `GenericTlsf::empty` stays in `.bss`.
    payload: *mut u8,
    /// The pool's length in granules; 0 in an empty slot.
    granules: usize,
}

impl Slot {
    /// A slot with no pool: its length is 0, so no address lies in it, and
    /// the lookups test the first slot without testing for its presence.
    pub(crate) const EMPTY: Slot = Slot {
        payload: core::ptr::null_mut(),
        granules: 0,
    };

    /// The start of a pool this slot holds.
    fn base(self) -> NonNull<u8> {
        debug_assert!(!self.payload.is_null(), "an empty slot has no base");
        // SAFETY: only `push` fills a slot, `GRANULE` past a `NonNull`
        // pool start; the callers ask only slots that hold a pool (an
        // address lies in them).
        unsafe { NonNull::new_unchecked(self.payload.wrapping_sub(GRANULE)) }
    }

    const fn len(self) -> usize {
        self.granules << GRANULE_LOG2
    }

    fn start(self) -> usize {
        self.payload.addr().wrapping_sub(GRANULE)
    }

    /// The header of the block whose payload would be at `addr`, if this
    /// pool has room for one there (`addr` granule-aligned, past the
    /// pool's first word and header, and the header inside the pool), with
    /// the payload's distance from the pool's first payload place: how far
    /// before `addr` a block of it may start (see `Located`). One
    /// comparison: the payload's offset from the first payload place,
    /// rotated by the granule, is its index in granules when aligned, and
    /// above every pool's length in granules when not (its low bits move to
    /// the top), as it is when the address lies before the pool.
    #[inline(always)]
    pub(crate) fn block_at(self, addr: usize) -> Option<Located> {
        let reach = addr.wrapping_sub(self.payload.addr());
        (reach.rotate_right(GRANULE_LOG2) < self.granules).then(|| {
            // SAFETY: `reach` is a multiple of `GRANULE` at most the pool's
            // length minus `GRANULE`, so the header, `WORD` before the
            // payload at `addr`, is at most at `len - WORD` (the sentinel):
            // inside the pool.
            let header = unsafe { self.payload.add(reach).sub(WORD) };
            Located { header, reach }
        })
    }
}

/// Where a payload address lies in its pool.
#[derive(Clone, Copy)]
pub(crate) struct Located {
    /// The word before the payload, with the pool's provenance: the
    /// header of a block whose payload this is, or a pad word. Never null;
    /// a raw pointer, not a `NonNull`, so that an `Option<Located>` keeps
    /// a flag of its own, which the compiler can follow from the bounds
    /// test, rather than testing the pointer for null again.
    pub(crate) header: *mut u8,
    /// Bytes from the pool's first payload place to the payload: a block
    /// whose header lies up to this far before `header` is in the pool.
    pub(crate) reach: usize,
}

/// The pools of one heap, in the order they were added.
#[derive(Clone, Copy)]
pub(crate) struct PoolTable {
    /// The pools, then `Slot::EMPTY`s.
    slots: [Slot; MAX_POOLS],
    /// How many slots hold a pool (at most `MAX_POOLS`).
    count: u8,
    /// Bit `i` is set when pool `i` came through `add_pool_raw`, whose
    /// contract lets a later adjacent raw pool merge into it.
    mergeable: u8,
}

const _: () = assert!(
    MAX_POOLS <= u8::BITS as usize,
    "the mergeable flags must fit a byte"
);

impl PoolTable {
    pub(crate) const fn new() -> Self {
        PoolTable {
            slots: [Slot::EMPTY; MAX_POOLS],
            count: 0,
            mergeable: 0,
        }
    }

    /// Records a new pool of `len` bytes at `base`; `has_room` said yes.
    pub(crate) fn push(&mut self, base: NonNull<u8>, len: usize, mergeable: bool) {
        let index = usize::from(self.count);
        self.slots[index] = Slot {
            // A pool is at least `MIN_POOL` bytes: past `GRANULE`.
            payload: base.as_ptr().wrapping_add(GRANULE),
            granules: len >> GRANULE_LOG2,
        };
        self.mergeable |= u8::from(mergeable) << index;
        self.count += 1;
    }

    /// Checks that a pool can be recorded, before any byte of it is written.
    pub(crate) fn has_room(&self) -> Result<(), PoolError> {
        if usize::from(self.count) < MAX_POOLS {
            Ok(())
        } else {
            Err(PoolError::TooManyPools { max: MAX_POOLS })
        }
    }

    /// The mergeable pool that ends exactly at `addr`, as (index, base, len).
    pub(crate) fn ending_at(&self, addr: usize) -> Option<(usize, NonNull<u8>, usize)> {
        self.iter_slots()
            .enumerate()
            .find(|&(i, s)| self.mergeable & (1 << i) != 0 && s.start() + s.len() == addr)
            .map(|(i, s)| (i, s.base(), s.len()))
    }

    /// Grows pool `index` by `extra` bytes (a merged raw pool).
    pub(crate) fn extend(&mut self, index: usize, extra: usize) {
        self.slots[index].granules += extra >> GRANULE_LOG2;
    }

    /// The pool that holds `addr`, as (its index, its base, `addr`'s offset
    /// from the base), or `None` if no pool does.
    #[inline(always)]
    pub(crate) fn pool_of(&self, addr: usize) -> Option<(usize, NonNull<u8>, usize)> {
        let first = self.slots[0];
        let offset = addr.wrapping_sub(first.start());
        if offset < first.len() {
            return Some((0, first.base(), offset));
        }
        self.pool_of_others(addr)
    }

    #[cold]
    fn pool_of_others(&self, addr: usize) -> Option<(usize, NonNull<u8>, usize)> {
        self.iter_slots()
            .enumerate()
            .skip(1)
            .find_map(|(index, slot)| {
                let offset = addr.wrapping_sub(slot.start());
                (offset < slot.len()).then(|| (index, slot.base(), offset))
            })
    }

    /// The number of pools.
    pub(crate) fn len(&self) -> usize {
        usize::from(self.count)
    }

    /// A pointer to `addr` with the provenance of the pool that holds it, or
    /// `None` if no pool does.
    #[inline(always)]
    pub(crate) fn locate(&self, addr: usize) -> Option<NonNull<u8>> {
        let first = self.slots[0];
        let offset = addr.wrapping_sub(first.start());
        if offset < first.len() {
            // SAFETY: `offset` is inside the first pool.
            return Some(unsafe { first.base().add(offset) });
        }
        self.locate_in_others(addr)
    }

    /// The first pool's slot (`Slot::EMPTY` if none), which the heap
    /// keeps a copy of (see `GenericTlsf::first_pool`).
    pub(crate) fn first(&self) -> Slot {
        self.slots[0]
    }

    /// `Slot::block_at` in the pools after the first.
    #[inline(always)]
    pub(crate) fn locate_block_in_others(&self, addr: usize) -> Option<Located> {
        // The other pools inline, not in a cold call: a call site, even
        // one never taken, costs the longest free 3 instructions on
        // Cortex-M4 (registers kept across it), more than the loop's code.
        // Unchecked, the loop stays a loop rather than unrolled.
        // SAFETY: `count <= MAX_POOLS` (`has_room`).
        let pools = unsafe { self.slots.get_unchecked(..usize::from(self.count)) };
        pools.iter().skip(1).find_map(|slot| slot.block_at(addr))
    }

    #[cold]
    fn locate_in_others(&self, addr: usize) -> Option<NonNull<u8>> {
        self.iter_slots().skip(1).find_map(|slot| {
            let offset = addr.wrapping_sub(slot.start());
            // SAFETY: `offset` is inside this pool.
            (offset < slot.len()).then(|| unsafe { slot.base().add(offset) })
        })
    }

    /// Every pool as (base, len).
    pub(crate) fn iter(&self) -> impl Iterator<Item = (NonNull<u8>, usize)> + '_ {
        self.iter_slots().map(|s| (s.base(), s.len()))
    }

    fn iter_slots(&self) -> impl Iterator<Item = Slot> + '_ {
        self.slots[..usize::from(self.count)].iter().copied()
    }
}
