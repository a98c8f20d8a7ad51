//! The slab's integrity check: walks every page of every class.

use core::ptr::NonNull;

use super::classes::CLASS_SIZES;
use super::page::{HEADER_SIZE, Page};
use super::{Slab, slots_per_page};
use crate::CheckError;
use crate::pages::PageSource;

pub(super) fn check<S: PageSource, const N: usize>(slab: &Slab<S, N>) -> Result<(), CheckError> {
    let mut total_pages = 0;
    for (class, slots) in slab.classes.iter().enumerate() {
        if class >= slab.served {
            if slab.class_pages[class] != 0 || slots.partial.is_some() || slots.full.is_some() {
                return Err(CheckError::new("an unserved class holds pages", class));
            }
            continue;
        }
        let mut walk = ClassWalk {
            slab,
            class,
            // Bounds every list walk, so that a cycle is reported, not looped.
            budget: slab.counters.pages,
            pages: 0,
            live: 0,
            empty: 0,
        };
        walk.list(slots.partial, false)?;
        walk.list(slots.full, true)?;
        if walk.pages != slab.class_pages[class] {
            return Err(CheckError::new("class page count is wrong", class));
        }
        if walk.live != slots.live {
            return Err(CheckError::new("class live count is wrong", class));
        }
        match slots.partial {
            // SAFETY: the list was just walked and verified.
            Some(first) if walk.empty == 1 && unsafe { first.header() }.live() != 0 => {
                return Err(CheckError::new(
                    "an empty page is not the first partial page",
                    class,
                ));
            }
            _ if walk.empty > 1 => {
                return Err(CheckError::new(
                    "a class holds more than one empty page",
                    class,
                ));
            }
            _ => {}
        }
        total_pages += walk.pages;
    }
    if total_pages != slab.counters.pages {
        return Err(CheckError::new("slab page count is wrong", total_pages));
    }
    if slab.counters.peak_pages < slab.counters.pages {
        return Err(CheckError::new(
            "peak pages below pages",
            slab.counters.peak_pages,
        ));
    }
    Ok(())
}

struct ClassWalk<'a, S: PageSource, const N: usize> {
    slab: &'a Slab<S, N>,
    class: usize,
    budget: usize,
    pages: usize,
    live: usize,
    empty: usize,
}

impl<S: PageSource, const N: usize> ClassWalk<'_, S, N> {
    fn list(&mut self, head: Option<Page>, full: bool) -> Result<(), CheckError> {
        let mut prev = None;
        let mut next = head;
        while let Some(page) = next {
            if self.budget == 0 {
                return Err(CheckError::new(
                    "page list has a cycle or stray page",
                    page.addr(),
                ));
            }
            self.budget -= 1;
            self.page(page, full)?;
            // SAFETY: `page` passed `self.page`, so it is an owned,
            // initialised page.
            let header = unsafe { page.header() };
            if header.prev() != prev {
                return Err(CheckError::new("page back link is wrong", page.addr()));
            }
            prev = Some(page);
            next = header.next();
        }
        Ok(())
    }

    fn page(&mut self, page: Page, full: bool) -> Result<(), CheckError> {
        let end = self.slab.slot_end;
        let addr = page.addr();
        if self.slab.source.page_containing(addr) != Some(page.start()) {
            return Err(CheckError::new("page is not one of the source's", addr));
        }
        // SAFETY: the slab's lists hold only its own pages (the source's
        // answer above is a consistency check, not the reason).
        let header = unsafe { page.header() };
        let size = CLASS_SIZES[self.class];
        let capacity = slots_per_page(end, self.class);
        if header.class() != self.class || header.capacity() != capacity {
            return Err(CheckError::new(
                "page header belongs to another class",
                addr,
            ));
        }
        let live = header.live();
        if (live == capacity) != full {
            return Err(CheckError::new(
                "page is on the wrong list for its fill",
                addr,
            ));
        }
        let lowest = end - capacity * size;
        let bump = header.bump();
        if bump < lowest || bump > end || (end - bump) % size != 0 {
            return Err(CheckError::new("page bump is off the slot grid", addr));
        }
        let uncarved = (bump - lowest) / size;
        let mut free = 0;
        let mut next = header.free();
        while let Some(slot) = next {
            let offset = (slot.as_ptr() as usize).wrapping_sub(addr);
            if free == capacity || offset < bump || offset >= end {
                return Err(CheckError::new(
                    "free slot outside the carved slots",
                    slot.as_ptr() as usize,
                ));
            }
            if (end - offset) % size != 0 || offset < HEADER_SIZE {
                return Err(CheckError::new(
                    "free slot off the slot grid",
                    slot.as_ptr() as usize,
                ));
            }
            free += 1;
            // SAFETY: the slot is a carved slot of this page (checked above)
            // on its free list, whose first word links to the next.
            next = unsafe { slot.cast::<Option<NonNull<u8>>>().read() };
        }
        if free + uncarved + live != capacity {
            return Err(CheckError::new(
                "free, uncarved and live slots do not add up",
                addr,
            ));
        }
        self.pages += 1;
        self.live += live;
        self.empty += usize::from(live == 0);
        Ok(())
    }
}
