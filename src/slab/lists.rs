//! A page's moves: in its class's ring, into and out of the spare, and
//! back to the source; and the ring operations.
//!
//! A class's pages form a ring, a circular doubly linked list through their
//! headers, whose first page is the class's active page (`Class::active`),
//! or, for a parked class, the page `Class::parked_first` names. From it
//! come the pages with a free slot, then the full pages: the active page
//! may be anything (empty when it is the class's spare, full until the
//! next allocation looks past it); every other page holds a live object,
//! and a page with a free slot never follows a full one.
//!
//! Why a ring and not a list of pages with a free slot and a list of full
//! ones: when the active page fills, the ring already has it in its place,
//! the last, once the next page is first; the switch reads the next page's
//! header and moves no page. Two lists took an unlink and a push, eight
//! link updates, on the longest allocation.

use core::ptr::NonNull;

use super::Slab;
use super::active::ClassId;
use super::page::Page;
use crate::pages::PageSource;

impl<S: PageSource, const N: usize> Slab<S, N> {
    /// Gives the spare page (the empty page that one class at most
    /// keeps) back to the source; returns how many pages went back (0 or
    /// 1). Call it to hand memory back early (say, at the end of a frame or
    /// request); an allocation that finds the source dry takes the spare by
    /// itself (see the type's documentation).
    ///
    /// # Time complexity
    /// O(1).
    #[cold]
    pub fn trim(&mut self) -> usize {
        usize::from(self.release_spare())
    }

    /// Gives the spare page back to the source; `false` if there is none.
    ///
    /// # Time complexity
    /// O(1).
    #[cold]
    pub(crate) fn release_spare(&mut self) -> bool {
        let Some(page) = self.take_spare() else {
            return false;
        };
        self.counters.pages -= 1;
        // SAFETY: `take_spare` detached the page, which came from the
        // source.
        unsafe { self.source.deallocate_page(page) };
        true
    }

    /// Takes the spare page (a class's empty active page) out of its
    /// class, for the caller to give to a class that needs a page
    /// (the source has none left) or back to the source. The slab's page
    /// count still counts it: the caller gives it to a class, or takes it
    /// off that count.
    #[cold]
    fn take_spare(&mut self) -> Option<NonNull<u8>> {
        self.take_spare_inline()
    }

    /// `take_spare`, inlined into the allocation that finds the source dry.
    #[inline(always)]
    pub(super) fn take_spare_inline(&mut self) -> Option<NonNull<u8>> {
        let mut spare = self.hot.spare;
        // SAFETY: the spare names only served classes.
        let class = spare.take(|c| unsafe { self.is_spare(c) });
        self.hot.spare = spare;
        let class = class?;
        // SAFETY: the class is named, so it has an active page, which
        // `is_spare` says is empty; the spare names only served classes.
        Some(unsafe { self.detach_active(class) }.start())
    }

    /// Whether `class`, the named class, has no live object on its active
    /// page. (The named class has an active page: a class loses its active
    /// page only when `detach_active` takes it, which clears the name
    /// first; `check` verifies it.)
    ///
    /// # Safety
    /// `class.index() < N`.
    #[inline(always)]
    unsafe fn is_spare(&self, class: ClassId) -> bool {
        // SAFETY: forwarded from the caller.
        let slots = unsafe { self.class_ref(class) };
        debug_assert!(slots.active.is_some());
        slots.active_live() == 0
    }

    /// The active page of `class` just emptied: the class keeps it as the
    /// spare. One test when the class is the one that emptied its page
    /// last (a loop of temporaries at a page boundary).
    #[inline(always)]
    pub(super) fn keep_spare(&mut self, class: ClassId) {
        if !self.hot.spare.is(class) {
            self.name_spare(class);
        }
    }

    /// Names `class` for the spare; the class named before, if its page is
    /// still empty, gives it back to the source.
    #[cold]
    pub(super) fn name_spare(&mut self, class: ClassId) {
        let mut spare = self.hot.spare;
        // SAFETY: the spare names only served classes, and `class` is one.
        let out = spare.name(class, |c| unsafe { self.is_spare(c) });
        self.hot.spare = spare;
        if let Some(out) = out {
            self.counters.pages -= 1;
            // SAFETY: `name` returns the class named before, served, whose
            // active page (the named class has one) is empty; detached, the
            // page came from the source.
            unsafe {
                let page = self.detach_active(out);
                self.source.deallocate_page(page.start());
            }
        }
    }

    /// Takes the active page of `class`, empty, out of its ring and out of
    /// the class's page count; the class parks on the rest of its ring, if
    /// any (see `Class::park`). The caller gives the page back (and takes
    /// it off the slab's page count) or to another class.
    ///
    /// # Safety
    /// `class` is served, and its active page exists and is empty.
    #[inline(always)]
    unsafe fn detach_active(&mut self, class: ClassId) -> Page {
        // SAFETY: `class` is served (caller), its active page empty.
        unsafe {
            self.class_mut(class).forget_active();
            self.detach_forgotten(class)
        }
    }

    /// `detach_active` once the class forgot its active page's state
    /// (`Class::forget_active` or `forget_emptying_active`, but for
    /// `active`, which still names the page, and `last_taken`, which this
    /// sets).
    ///
    /// # Safety
    /// `class` is served, and its active page exists, is empty, and its
    /// state is forgotten.
    #[inline(always)]
    unsafe fn detach_forgotten(&mut self, class: ClassId) -> Page {
        // SAFETY: `class` is served (caller).
        let slots = unsafe { self.class_mut(class) };
        slots.pages -= 1;
        // SAFETY: the class has an active page, empty (caller), whose ring
        // holds owned, initialised pages; every other page holds an object
        // and has its header current.
        unsafe {
            let page = slots.active.unwrap_unchecked();
            let next = page.header().next();
            if next == page {
                slots.active = None;
                slots.last_taken = None;
            } else {
                unlink(page);
                slots.park(next);
            }
            page
        }
    }

    /// The active page of `class` has one live object left, which
    /// `put_active` is freeing: the class keeps the page as the spare if it
    /// is named for it already, or if no other class keeps an empty page
    /// (the entry is free or stale); else the page goes back to the source
    /// and the class parks on its other pages, if any. Out of line, it
    /// leaves the inline free fewer registers to save.
    ///
    /// Why not push the other class's spare out, as a free of the latest
    /// allocation's slot does (`name_spare`): that reads and detaches
    /// another class's page, which after this free's own checks would take
    /// it past its bound; this class's state is at hand. A loop of single
    /// temporaries at a page boundary empties its page through
    /// `deallocate_latest`, which names it; one whose objects are freed in
    /// another order than taken may find the spare taken and give its page
    /// back each time, but only while another class keeps an empty page.
    ///
    /// # Safety
    /// `class` is served; its active page's last live object is being
    /// freed (it is not free already) and `slot_end` is this slab's.
    #[cold]
    #[inline(never)]
    pub(super) unsafe fn active_page_emptied(&mut self, class: ClassId, slot_end: usize) {
        let mut spare = self.hot.spare;
        // SAFETY: the spare names only served classes.
        let named = spare.is(class) || spare.name_if_free(class, |c| unsafe { self.is_spare(c) });
        self.hot.spare = spare;
        // SAFETY: `class` is served (caller).
        let slots = unsafe { self.class_mut(class) };
        if named {
            // SAFETY: the page's last object is being freed (caller).
            unsafe { slots.put_last(slot_end) };
            return;
        }
        // SAFETY: the page's last object is being freed (caller).
        unsafe { slots.forget_emptying_active() };
        self.counters.pages -= 1;
        // SAFETY: the class is served, its active page empty now, its
        // state forgotten, and not named; detached, the page came from
        // the source.
        unsafe {
            let page = self.detach_forgotten(class);
            self.source.deallocate_page(page.start());
        }
    }

    /// A free left `page`, not the active page of `class`, with a free slot
    /// after it was full (`live`, its objects before the free, is its
    /// capacity), or empty (`live` is 1).
    ///
    /// # Safety
    /// `page` is a page of `class` other than its active one, whose free
    /// just made it one of those; the free is recorded in its header and
    /// in `inactive_live`.
    #[cold]
    #[inline(never)]
    pub(super) unsafe fn page_unfilled_or_emptied(
        &mut self,
        class: ClassId,
        page: Page,
        live: usize,
    ) {
        if live != 1 {
            // SAFETY: forwarded from the caller; the page was full (a page
            // of one slot, `with_max_class`, always has `live == 1`).
            unsafe { self.page_unfilled(class, page, live) };
            return;
        }
        // A page of one slot was full and is empty: its header tells, and
        // its own cold path keeps this one's registers few.
        // SAFETY: the page is owned and not active, so its header is
        // current (caller).
        if unsafe { page.header() }.capacity() == 1 {
            // SAFETY: forwarded from the caller.
            unsafe { self.page_of_one_slot_freed(class, page) };
            return;
        }
        // An emptied page goes back to the source: it is not the active
        // page.
        // SAFETY: an empty page of `class` other than the active one, which
        // came from the source.
        unsafe { self.release_page(class, page) };
    }

    /// A page of one slot (`with_max_class`), not the active page of
    /// `class`, was full and a free just emptied it: `page_unfilled` makes
    /// it the active page (or puts it second behind an empty active page);
    /// then the class keeps it as its spare if it is active, else it goes
    /// back to the source.
    ///
    /// # Safety
    /// As for `page_unfilled_or_emptied`, with `live == 1`.
    #[cold]
    #[inline(never)]
    unsafe fn page_of_one_slot_freed(&mut self, class: ClassId, page: Page) {
        // SAFETY: forwarded from the caller; the page was full, with its
        // one slot.
        unsafe { self.page_unfilled(class, page, 1) };
        // SAFETY: `class` is served (the caller's page is of it).
        if unsafe { self.class_mut(class) }.active == Some(page) {
            self.keep_spare(class);
        } else {
            // SAFETY: an empty page of `class` other than the active one,
            // which came from the source.
            unsafe { self.release_page(class, page) };
        }
    }

    /// Takes an empty page, not its class's active one, out of the ring of
    /// `class` and gives it back to the source.
    ///
    /// # Safety
    /// `page` is an empty page of `class` other than its active one.
    #[inline(always)]
    unsafe fn release_page(&mut self, class: ClassId, page: Page) {
        // SAFETY: `class` is served (the caller's page is of it).
        let slots = unsafe { self.class_mut(class) };
        slots.pages -= 1;
        // A parked class's first page moves on (`last_taken` holds it, and
        // is never another page's start).
        if slots.last_taken == Some(page.start()) {
            // SAFETY: the page is in the ring of `class` (caller), whose
            // other pages hold an object each.
            unsafe {
                let next = page.header().next();
                if next == page {
                    slots.last_taken = None;
                } else {
                    slots.park(next);
                }
            }
        }
        // SAFETY: the page is in the ring of `class` (caller); nothing uses
        // it once out of it, and it came from the source.
        unsafe {
            unlink(page);
            self.source.deallocate_page(page.start());
        }
        self.counters.pages -= 1;
    }

    /// Puts a full `page` that just got a free slot second in its ring,
    /// right after the active page, so that it is the next page
    /// allocations take from; it becomes the active page at once if the
    /// active page is full (which then goes last).
    ///
    /// Why not active at once whatever the active page holds: the switch
    /// writes the active page's state back to its header and, with a slot
    /// given back, puts that slot on the page's free list, on the longest
    /// branch of a free. Second, the page is the next one filled all the
    /// same, before emptier pages.
    ///
    /// # Safety
    /// `page` is a page of `class` other than its active one, full before
    /// the free it just got, with `capacity` slots.
    #[inline(always)]
    unsafe fn page_unfilled(&mut self, class: ClassId, page: Page, capacity: usize) {
        let header_end = self.hot.header_end.get();
        // SAFETY: `class` is served (the caller's page is of it).
        let slots = unsafe { self.class_mut(class) };
        // SAFETY: the class holds `page`, so it has an active page or is
        // parked (a class with pages and no active page is parked); the
        // ring's pages are owned and initialised, and `page`'s header is
        // current; a full active page has no slot given back or free and
        // `capacity` live objects.
        unsafe {
            let Some(active) = slots.active else {
                // A parked class: the page becomes active, first in its
                // ring (before the first, unless it is the first).
                let first = slots.parked_first().unwrap_unchecked();
                if first != page {
                    unlink(page);
                    insert_after(first.header().prev(), page);
                }
                slots.last_taken = None;
                slots.activate(page, 0);
                return;
            };
            unlink(page);
            insert_after(active, page);
            if !slots.active_has_room(header_end) {
                slots.switch_to_unfilled(active, page, capacity);
            }
        }
    }
}

/// Puts `page` in a ring right after `before`.
///
/// # Safety
/// `page` is an owned page in no ring (or alone in its own); `before` and
/// its ring's pages are owned.
#[inline(always)]
pub(super) unsafe fn insert_after(before: Page, page: Page) {
    // SAFETY: the pages are owned and initialised (caller); one header
    // reference at a time.
    unsafe {
        let next = before.header().next();
        let header = page.header();
        header.set_next(next);
        header.set_prev(before);
        next.header().set_prev(page);
        before.header().set_next(page);
    }
}

/// Takes `page` out of its ring (which it leaves with stale links).
///
/// # Safety
/// `page` is in a ring of owned pages.
#[inline(always)]
pub(super) unsafe fn unlink(page: Page) {
    // SAFETY: the pages are owned and initialised (caller); one header
    // reference at a time.
    unsafe {
        let header = page.header();
        let (next, prev) = (header.next(), header.prev());
        prev.header().set_next(next);
        next.header().set_prev(prev);
    }
}
