//! What the slab reports: its usage counters and each class's.

use super::Slab;
use super::classes::CLASS_SIZES;
use super::init::slots_per_page;
use super::page::Page;
use crate::pages::PageSource;
use crate::{ClassStats, Stats};

impl<S: PageSource, const N: usize> Slab<S, N> {
    /// Whether `class` has a free slot: in its active page, or in the next
    /// page of its ring, or a parked class's first (pages with a free slot
    /// come first).
    fn has_free_slot(&self, class: usize) -> bool {
        let slots = &self.classes[class];
        let has_room = |page: Page| {
            // SAFETY: the ring's pages are owned and initialised, and the
            // headers of all but the active page are current.
            let header = unsafe { page.header() };
            header.live() < header.capacity()
        };
        if let Some(first) = slots.parked_first() {
            return has_room(first);
        }
        slots.active_has_room(self.hot.header_end.get())
            || slots.active.is_some_and(|active| {
                // SAFETY: as above.
                let next = unsafe { active.header() }.next();
                next != active && has_room(next)
            })
    }

    /// A snapshot of the usage counters.
    ///
    /// `capacity` is the bytes of the pages the slab holds, `in_use` the
    /// bytes of the live objects' slots, and `peak_in_use` the most page
    /// bytes it has held at once: the memory it took from its source, which
    /// bounds the peak of `in_use`. `largest_free` is the largest class with
    /// a free slot.
    ///
    /// # Time complexity
    /// O(CLASSES).
    pub fn stats(&self) -> Stats {
        let c = self.counters;
        let mut in_use = 0;
        let mut live = 0;
        let mut allocations = 0;
        let mut largest_free = 0;
        for (class, slots) in self.classes[..self.hot.served].iter().enumerate() {
            let size = slots.size as usize;
            in_use = slots.live().wrapping_mul(size).wrapping_add(in_use);
            live = (slots.live() as u64).wrapping_add(live);
            allocations = slots.allocation_count().wrapping_add(allocations);
            if self.has_free_slot(class) {
                largest_free = size;
            }
        }
        // Wrapping arithmetic here and in the class counters: `stats` never
        // panics, whatever a broken contract did to the counts (`check`
        // reports that).
        let capacity = c.pages.wrapping_mul(self.page_size);
        Stats {
            capacity,
            in_use,
            peak_in_use: c.peak_pages.wrapping_mul(self.page_size),
            free: capacity.wrapping_sub(in_use),
            largest_free,
            allocations,
            deallocations: allocations.wrapping_sub(live),
            failures: c.failures,
            bad_frees: c.bad_frees,
        }
    }

    /// What size class `class` holds (0 is the smallest), or `None` past
    /// the last class served: `(0..).map_while(|c| slab.class_stats(c))`
    /// lists them all.
    ///
    /// # Time complexity
    /// O(1).
    pub fn class_stats(&self, class: usize) -> Option<ClassStats> {
        if class >= self.hot.served {
            return None;
        }
        Some(ClassStats {
            size: CLASS_SIZES[class],
            slots_per_page: slots_per_page(self.hot.slot_end, class),
            live: self.classes[class].live(),
            pages: self.classes[class].pages as usize,
        })
    }
}
