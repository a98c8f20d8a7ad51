//! Usage counters every core keeps up to date in O(1).

/// A snapshot of a heap's usage. Byte counts are block sizes, headers
/// included, so `in_use + free == capacity` always holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Bytes the heap manages: all pools, less their sentinels and alignment.
    pub capacity: usize,
    /// Bytes in allocated blocks.
    pub in_use: usize,
    /// Highest `in_use` seen since the heap was made or reset.
    pub peak_in_use: usize,
    /// Bytes in free blocks.
    pub free: usize,
    /// Size of a free block that the next allocation can take whole: the head
    /// of the highest non-empty free list. The largest free block is at most
    /// one list's width (a `1/SL` fraction) bigger.
    pub largest_free: usize,
    /// Successful allocations (a grow that moves counts as one more).
    pub allocations: u64,
    /// Deallocations (a grow that moves counts as one more).
    pub deallocations: u64,
    /// Allocations and grows that returned `Err`.
    pub failures: u64,
    /// Frees the heap refused because they broke its contract (see
    /// [`Misuse`](crate::raw::Misuse)): a double free, a foreign pointer or a
    /// pointer into a block, a layout that does not fit the block. Release
    /// builds count them and go on; debug builds stop at the first.
    pub bad_frees: u64,
}

impl Stats {
    /// Allocations not yet freed (0 if the counters say fewer
    /// allocations than frees, which only a corrupted heap can).
    pub const fn live(&self) -> u64 {
        self.allocations.saturating_sub(self.deallocations)
    }
}

/// What one size class holds, from `class_stats` of a core with size classes ([`Slab`](crate::Slab), [`Heap`](crate::Heap)) or of its [`Arena`](crate::Arena).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClassStats {
    /// Size of the class's slots, in bytes.
    pub size: usize,
    /// Slots per page.
    pub slots_per_page: usize,
    /// Objects allocated and not freed.
    pub live: usize,
    /// Pages the class holds (full, with a free slot, and its spare if it
    /// keeps one).
    pub pages: usize,
}
