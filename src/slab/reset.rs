//! Freeing everything at once: `reset`, and the drop that runs it.

use super::active::Class;
use super::spares::Spares;
use super::{ClassPages, Counters, Slab};
use crate::pages::PageSource;

impl<S: PageSource, const N: usize> Slab<S, N> {
    /// Frees every object at once and gives every page back to the source;
    /// the counters restart.
    ///
    /// # Time complexity
    /// O(pages).
    pub fn reset(&mut self) {
        for class in 0..self.served {
            let slots = &mut self.classes[class];
            let partial = slots.partial;
            *slots = Class::new(slots.size as usize);
            let pages = &mut self.class_pages[class];
            let pages = ClassPages {
                full: pages.full.take(),
                count: core::mem::take(&mut pages.count),
                capacity: pages.capacity,
            };
            for head in [partial, pages.full] {
                let mut next = head;
                while let Some(page) = next {
                    // SAFETY: list members are owned pages; reading the link
                    // before giving the page back.
                    unsafe {
                        next = page.header().next();
                        self.source.deallocate_page(page.start());
                    }
                }
            }
        }
        self.spares = Spares::new();
        self.counters = Counters::default();
    }
}

impl<S: PageSource, const N: usize> Drop for Slab<S, N> {
    /// Gives every page back to the source (O(pages)).
    fn drop(&mut self) {
        self.reset();
    }
}
