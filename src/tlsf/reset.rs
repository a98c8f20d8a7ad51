//! Freeing everything at once: `reset`.

use super::{Counters, GenericTlsf};

impl<const FL: usize, const SL: usize> GenericTlsf<'_, FL, SL> {
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
