//! Freeing everything at once: `reset`, and the drop that runs it.

use super::active::Class;
use super::spare::Spare;
use super::{Counters, Slab};
use crate::pages::PageSource;

impl<S: PageSource, const N: usize> Slab<S, N> {
    /// Frees every object at once and gives every page back to the source;
    /// the counters restart.
    ///
    /// # Time complexity
    /// O(pages).
    pub fn reset(&mut self) {
        for class in 0..self.hot.served {
            let slots = &mut self.classes[class];
            let first = slots.active.or(slots.parked_first());
            *slots = Class::new(slots.size as usize);
            let Some(first) = first else {
                continue;
            };
            let mut page = first;
            loop {
                // SAFETY: the ring's pages are owned; reading the link
                // before giving the page back.
                let next = unsafe { page.header() }.next();
                // SAFETY: a page of the slab, from the source, given back
                // once: the ring holds it once.
                unsafe { self.source.deallocate_page(page.start()) };
                if next == first {
                    break;
                }
                page = next;
            }
        }
        self.hot.spare = Spare::new();
        self.counters = Counters::default();
    }
}

impl<S: PageSource, const N: usize> Drop for Slab<S, N> {
    /// Gives every page back to the source (O(pages)).
    fn drop(&mut self) {
        self.reset();
    }
}
