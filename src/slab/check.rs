//! The slab's integrity check, which walks every page of every class; and
//! what debug builds check of a free beyond the release builds' tests.

#[cfg(debug_assertions)]
use core::alloc::Layout;
use core::ptr::NonNull;

use super::Slab;
use super::active::ClassId;
use super::classes::CLASS_SIZES;
use super::init::slots_per_page;
use super::page::{FreeSlots, Page};
use super::slot_bits;
use crate::CheckError;
#[cfg(debug_assertions)]
use crate::Misuse;
use crate::pages::PageSource;

impl<S: PageSource, const N: usize> Slab<S, N> {
    /// Walks every page of every class and verifies every invariant: each
    /// page's header against its list and class, the list links, each free
    /// list (slots inside the page, on slot boundaries, no cycle), that free
    /// plus uncarved plus live slots make the page's capacity, that no page
    /// is empty but the active page of the class the spare names, and the
    /// counters;
    /// with feature `hardened`, also that each page's bitmap marks exactly
    /// the carved slots that are not free as handed out.
    ///
    /// # Errors
    /// The first violation found, with the address where it was found.
    ///
    /// # Time complexity
    /// O(pages + free slots); O(pages + carved slots) with feature
    /// `hardened`.
    pub fn check(&self) -> Result<(), CheckError> {
        check(self)
    }
}

fn check<S: PageSource, const N: usize>(slab: &Slab<S, N>) -> Result<(), CheckError> {
    // `deallocate_latest` reads this class with no bounds check.
    if slab.hot.latest.index() >= slab.hot.served.max(1) {
        return Err(CheckError::new(
            "the latest allocation's class is not served",
            slab.hot.latest.index(),
        ));
    }
    if let Some(class) = slab.hot.spare.class() {
        if class.index() >= slab.hot.served {
            return Err(CheckError::new(
                "the spare is named for an unserved class",
                class.index(),
            ));
        }
        // `is_spare` reads the named class's active page with no `None`
        // test.
        if slab.classes[class.index()].active.is_none() {
            return Err(CheckError::new(
                "the spare is named for a class with no page",
                class.index(),
            ));
        }
    }
    let mut total_pages = 0;
    for (class, (slots, &capacity)) in slab.classes.iter().zip(&slab.capacities).enumerate() {
        if slots.size as usize != CLASS_SIZES[class] {
            return Err(CheckError::new("class slot size is wrong", class));
        }
        // The live count (from the low words, see `Class::off_active`) is
        // at most the allocation count, so that `stats` subtracts it from
        // that count with no wrap; the page walk below checks it further.
        if slots.give_backs < u64::from(slots.given_back)
            || slots.live() as u64 > slots.allocation_count()
        {
            return Err(CheckError::new("class counters are inconsistent", class));
        }
        if slots.given_back && slots.last_taken.is_none() {
            return Err(CheckError::new(
                "a slot is given back but none was taken",
                class,
            ));
        }
        // With no active page, `last_taken` holds a parked class's first
        // page (the walk below checks it), and only then has it pages.
        if slots.active.is_none()
            && (slots.free.is_some()
                || slots.given_back
                || slots.active_live() != 0
                || slots.bump != 0
                || slots.last_taken.is_some() != (slots.pages != 0))
        {
            return Err(CheckError::new(
                "a class without an active page has its state",
                class,
            ));
        }
        if class >= slab.hot.served {
            if slots.pages != 0 || slots.active.is_some() {
                return Err(CheckError::new("an unserved class holds pages", class));
            }
            continue;
        }
        // Only the named class may keep an empty page, so that finding
        // the spare needs no scan.
        if slots.active.is_some()
            && slots.active_live() == 0
            && !slab.hot.spare.is(ClassId::of_index(class))
        {
            return Err(CheckError::new(
                "an empty page is not named as the spare",
                class,
            ));
        }
        if capacity as usize != slots_per_page(slab.hot.slot_end, class) {
            return Err(CheckError::new("a class's slots per page are wrong", class));
        }
        let mut walk = ClassWalk {
            slab,
            class,
            // Bounds the ring walk, so that a ring that does not close is
            // reported, not looped.
            budget: slab.counters.pages,
            pages: 0,
            inactive_live: 0,
            full_seen: false,
        };
        if let Some(active) = slots.active {
            walk.ring(active, true)?;
        } else if let Some(first) = slots.last_taken {
            if slab.source.page_containing(first.as_ptr().addr()) != Some(first) {
                return Err(CheckError::new(
                    "a parked class's first page is not a page",
                    first.as_ptr().addr(),
                ));
            }
            // SAFETY: the source says `first` is the start of a page it
            // handed out (a consistency check, not the reason).
            walk.ring(unsafe { Page::from_start(first) }, false)?;
        }
        if walk.pages != slots.pages as usize {
            return Err(CheckError::new("class page count is wrong", class));
        }
        if walk.inactive_live != slots.inactive_live {
            return Err(CheckError::new("class live count is wrong", class));
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
    /// Live slots on pages other than the active one.
    inactive_live: usize,
    /// Whether a full page other than the active one came before.
    full_seen: bool,
}

impl<S: PageSource, const N: usize> ClassWalk<'_, S, N> {
    /// Walks the ring from `first`, the active page if `active` (else the
    /// first page of a parked class), until it closes.
    fn ring(&mut self, first: Page, active: bool) -> Result<(), CheckError> {
        let mut page = first;
        loop {
            if self.budget == 0 {
                return Err(CheckError::new(
                    "page ring does not close or has a stray page",
                    page.addr(),
                ));
            }
            self.budget -= 1;
            self.page(page, active && page == first)?;
            // SAFETY: `page` passed `self.page`, so it is an owned,
            // initialised page.
            let next = unsafe { page.header() }.next();
            if self.slab.source.page_containing(next.addr()) != Some(next.start()) {
                return Err(CheckError::new("page link is not a page", page.addr()));
            }
            // SAFETY: the source says `next` is a page it handed out; the
            // slab's links point only to its own pages (that answer is a
            // consistency check, not the reason).
            if unsafe { next.header() }.prev() != page {
                return Err(CheckError::new("page back link is wrong", next.addr()));
            }
            if next == first {
                return Ok(());
            }
            page = next;
        }
    }

    fn page(&mut self, page: Page, active: bool) -> Result<(), CheckError> {
        let end = self.slab.hot.slot_end;
        let addr = page.addr();
        if self.slab.source.page_containing(addr) != Some(page.start()) {
            return Err(CheckError::new("page is not one of the source's", addr));
        }
        // SAFETY: the slab's rings hold only its own pages (the source's
        // answer above is a consistency check, not the reason).
        let header = unsafe { page.header() };
        let size = CLASS_SIZES[self.class];
        let capacity = slots_per_page(end, self.class);
        if !header.is_of(ClassId::of_index(self.class)) || header.capacity() != capacity {
            return Err(CheckError::new(
                "page header belongs to another class",
                addr,
            ));
        }
        // SAFETY: checked above to be a page of this class.
        let state = unsafe { self.slab.page_state(self.class, page) };
        let live = state.live;
        // The active page may be empty (the spare) or full (until the next
        // allocation looks past it); every other page holds an object, and
        // those with a free slot come before the full ones.
        if !active {
            if live == 0 {
                return Err(CheckError::new("an empty page is not the active one", addr));
            }
            if live < capacity && self.full_seen {
                return Err(CheckError::new(
                    "a page with a free slot follows a full one",
                    addr,
                ));
            }
            self.full_seen |= live >= capacity;
        }
        let lowest = end - capacity * size;
        let bump = state.bump;
        if bump < lowest || bump > end || (end - bump) % size != 0 {
            return Err(CheckError::new("page bump is off the slot grid", addr));
        }
        let uncarved = (bump - lowest) / size;
        let on_grid = |slot: NonNull<u8>| {
            let offset = (slot.as_ptr() as usize).wrapping_sub(addr);
            if offset < bump || offset >= end {
                return Err(CheckError::new(
                    "free slot outside the carved slots",
                    slot.as_ptr() as usize,
                ));
            }
            if (end - offset) % size != 0 || offset < self.slab.hot.header_end.get() as usize {
                return Err(CheckError::new(
                    "free slot off the slot grid",
                    slot.as_ptr() as usize,
                ));
            }
            Ok(())
        };
        // The active page's last slot taken is live or given back, never on
        // the free list.
        let last_taken = self.slab.classes[self.class].last_taken.filter(|_| active);
        if let Some(slot) = last_taken {
            on_grid(slot)?;
        }
        let mut free = 0;
        if let Some(slot) = state.given_back {
            on_grid(slot)?;
            // SAFETY: a carved slot of this page (checked above).
            unsafe { slot_bits::check_slot(page, slot, true) }?;
            free += 1;
        }
        let mut next = state.free;
        while let Some(slot) = next {
            if free == capacity {
                return Err(CheckError::new(
                    "free list has a cycle",
                    slot.as_ptr() as usize,
                ));
            }
            on_grid(slot)?;
            if Some(slot) == last_taken {
                return Err(CheckError::new(
                    "the last slot taken is on the free list",
                    slot.as_ptr() as usize,
                ));
            }
            // SAFETY: a carved slot of this page (checked above).
            unsafe { slot_bits::check_slot(page, slot, false) }?;
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
        let handed_out = live + usize::from(state.given_back.is_some());
        // SAFETY: `bump` and `end` bound the page's carved slots (checked
        // above), of `size` bytes.
        unsafe { slot_bits::check_count(page, bump, end, size, handed_out) }?;
        self.pages += 1;
        if !active {
            self.inactive_live += live;
        }
        Ok(())
    }
}

impl<S: PageSource, const N: usize> Slab<S, N> {
    /// The free list, live count and bump of a page of `class`: the class's
    /// for its active page, the header's for the others.
    ///
    /// # Safety
    /// `page` is an owned, initialised page of `class`.
    unsafe fn page_state(&self, class: usize, page: Page) -> PageState {
        let slots = &self.classes[class];
        if slots.active == Some(page) {
            PageState {
                given_back: slots.given_back_slot(),
                free: slots.free,
                live: slots.active_live(),
                bump: slots.bump as usize,
            }
        } else {
            // SAFETY: forwarded from the caller.
            let header = unsafe { page.header() };
            PageState {
                given_back: None,
                free: header.free(),
                live: header.live(),
                bump: header.bump(),
            }
        }
    }

    /// What debug builds check of a free into `page` beyond the release
    /// checks: that the page is of `class` and the object on its slot grid
    /// (else a wrong layout, or a pointer into a slot), above its uncarved
    /// slots, and (without feature `hardened`, whose bitmap catches every
    /// double free) not among the 256 slots freed last on it.
    ///
    /// # Safety
    /// `page` is a page the source handed out, holding `ptr`.
    #[cfg(debug_assertions)]
    pub(super) unsafe fn debug_check(
        &self,
        page: Page,
        class: ClassId,
        ptr: NonNull<u8>,
        layout: Layout,
    ) -> Result<(), Misuse> {
        let addr = ptr.as_ptr().addr();
        let offset = addr - page.addr();
        // SAFETY: the source says the page is out; if the slab does not own
        // it the caller broke the contract and these checks are best effort.
        let own_class = unsafe { page.header() }.is_of(class);
        let class = class.index();
        if !own_class
            || offset >= self.hot.slot_end
            || (self.hot.slot_end - offset) % CLASS_SIZES[class] != 0
        {
            return Err(Misuse::WrongLayout { addr, layout });
        }
        // SAFETY: as above; the page is of `class`.
        let state = unsafe { self.page_state(class, page) };
        // SAFETY: `state.free` is the page's free list.
        if offset < state.bump || unsafe { slot_bits::recently_freed(state.free, ptr) } {
            return Err(Misuse::NotAllocated { addr });
        }
        Ok(())
    }
}

/// A page's free slots, live count and bump, wherever they are kept.
struct PageState {
    /// The class's given-back slot, for the active page.
    given_back: FreeSlots,
    free: FreeSlots,
    live: usize,
    bump: usize,
}
