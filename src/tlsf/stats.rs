//! What the heap reports: its usage counters and its free blocks.

use core::ptr::NonNull;

use super::GenericTlsf;
use crate::Stats;

impl<const FL: usize, const SL: usize> GenericTlsf<'_, FL, SL> {
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
            allocations: c.allocations(),
            deallocations: c.deallocations(),
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
}
