//! A page's moves: between its class's partial and full lists, into and
//! out of the spares, and back to the source; and the list operations.

use core::ptr::NonNull;

use super::Slab;
use super::active::{Class, ClassId};
use super::page::Page;
use crate::pages::PageSource;

impl<S: PageSource, const N: usize> Slab<S, N> {
    /// Gives the spare pages (the empty pages that at most two classes
    /// keep) back to the source; returns how many. Call it to hand
    /// memory back early (say, at the end of a frame or request); an
    /// allocation that finds the source dry takes one spare by itself (see
    /// the type's documentation).
    ///
    /// # Time complexity
    /// O(1) (at most two pages).
    #[cold]
    pub fn trim(&mut self) -> usize {
        let mut released = 0;
        while self.release_spare() {
            released += 1;
        }
        released
    }

    /// Gives the most recent spare page back to the source; `false` if
    /// there is none. (The hybrid heap gives back one page at a time, and
    /// looks after each whether the request that found the TLSF full fits.)
    ///
    /// # Time complexity
    /// O(1).
    #[cold]
    pub(crate) fn release_spare(&mut self) -> bool {
        let Some(page) = self.take_spare() else {
            return false;
        };
        // SAFETY: `take_spare` detached the page, which came from the
        // source.
        unsafe { self.source.deallocate_page(page) };
        true
    }

    /// Takes the most recent spare page (a class's empty active page) out
    /// of its class, for the caller to give to a class that needs a page
    /// (the source has none left) or back to the source.
    #[cold]
    pub(super) fn take_spare(&mut self) -> Option<NonNull<u8>> {
        let classes = &self.classes;
        let class = self.spares.take(|c| is_spare(classes, c))?;
        // SAFETY: `is_spare` said the class has an active page.
        let page = unsafe { self.classes[class.index()].partial.unwrap_unchecked() };
        // SAFETY: the active page of `class`, empty.
        unsafe { self.detach_page(class.index(), page) };
        Some(page.start())
    }

    /// The active page of `class` just emptied: the class keeps it as its
    /// spare, listed in `spares`. One test when the class is the one that
    /// emptied its page last (a loop of temporaries at a page boundary).
    #[inline(always)]
    pub(super) fn keep_spare(&mut self, class: ClassId) {
        if !self.spares.is_latest(class) {
            self.list_spare(class);
        }
    }

    /// Lists `class` first in `spares`; the class it pushes out, if its page
    /// is still empty, gives it back to the source.
    #[cold]
    pub(super) fn list_spare(&mut self, class: ClassId) {
        let classes = &self.classes;
        if let Some(out) = self.spares.push(class, |c| is_spare(classes, c)) {
            // SAFETY: `push` returns a class whose active page (`is_spare`
            // says it has one) is empty.
            unsafe {
                let page = self.classes[out.index()].partial.unwrap_unchecked();
                self.release_page(out.index(), page);
            }
        }
    }

    /// Unlinks an empty page from `class`'s partial list and gives it back
    /// to the source.
    ///
    /// # Safety
    /// As for `detach_page`.
    unsafe fn release_page(&mut self, class: usize, page: Page) {
        // SAFETY: forwarded; the page, detached, came from the source.
        unsafe {
            self.detach_page(class, page);
            self.source.deallocate_page(page.start());
        }
    }

    /// Unlinks an empty page from `class`'s partial list and stops counting
    /// it; the caller gives it back or to another class. When it was the
    /// active page, the next partial page (if any) becomes active.
    ///
    /// # Safety
    /// `page` is an empty page of `class`, on its partial list.
    unsafe fn detach_page(&mut self, class: usize, page: Page) {
        let slots = &mut self.classes[class];
        // SAFETY: `page` is on `partial` (caller), and when first it is the
        // active page, empty; nothing uses it any more.
        unsafe {
            let active = slots.partial == Some(page);
            if active {
                slots.forget_active();
            }
            unlink(&mut slots.partial, page);
            if let (true, Some(next)) = (active, slots.partial) {
                slots.activate(next);
            }
        }
        self.class_pages[class].count -= 1;
        self.counters.pages -= 1;
    }

    /// A free left `page`, not the active page of `class`, with a free slot
    /// after it was full (`live == capacity` before the free), or empty
    /// (`live == 1`).
    ///
    /// # Safety
    /// `page` is a page of `class` other than its active one; `live` and
    /// `capacity` are its live count before the free and its capacity; the
    /// free is already recorded in its header and in `inactive_live`.
    #[cold]
    #[inline(never)]
    pub(super) unsafe fn page_unfilled_or_emptied(
        &mut self,
        class: usize,
        page: Page,
        live: usize,
        capacity: usize,
    ) {
        if live == capacity {
            // SAFETY: a page that was full is on the full list (only the
            // active page, which `page` is not, stays on `partial` full).
            unsafe { self.page_unfilled(class, page) };
        }
        // An emptied page goes back to the source unless it is the active
        // page (with one slot per page, `page_unfilled` just made it so),
        // which the class keeps as its spare.
        if live == 1 {
            if self.classes[class].partial == Some(page) {
                self.keep_spare(ClassId::of_index(class));
            } else {
                // SAFETY: an empty page of `class` other than the active
                // one; it was partial, or `page_unfilled` moved it there.
                unsafe { self.release_page(class, page) };
            }
        }
    }

    /// Moves a full `page` that just got a free slot to the partial list and
    /// makes it the active page, so that allocations fill the pages that
    /// are nearly full first and the emptier ones get a chance to empty
    /// (and go back to the source). The page it takes over from stays
    /// second, or goes to the full list if it has filled up; an empty active
    /// page (the spare) keeps its place and `page` goes second.
    ///
    /// # Safety
    /// `page` is a page of `class` on its full list, with a free slot now.
    #[cold]
    unsafe fn page_unfilled(&mut self, class: usize, page: Page) {
        let (slots, pages) = (&mut self.classes[class], &mut self.class_pages[class]);
        // SAFETY: a full page of `class` is on its `full` list; the active
        // page heads `partial`; list members are owned, initialised pages.
        unsafe {
            unlink(&mut pages.full, page);
            if let Some(active) = slots.partial {
                if slots.active_live() == 0 {
                    insert_after(active, page);
                    return;
                }
                let filled = !slots.active_has_room();
                slots.deactivate(active);
                if filled {
                    unlink(&mut slots.partial, active);
                    push_front(&mut pages.full, active);
                }
            }
            push_front(&mut slots.partial, page);
            slots.activate(page);
        }
    }
}

/// Whether `class` has an active page with no live object on it.
fn is_spare(classes: &[Class], class: ClassId) -> bool {
    let slots = &classes[class.index()];
    slots.partial.is_some() && slots.active_live() == 0
}

/// Puts `page` first on the list that starts at `head`.
///
/// # Safety
/// `page` is an owned page on no list; the list's pages are owned.
#[inline(always)]
pub(super) unsafe fn push_front(head: &mut Option<Page>, page: Page) {
    // SAFETY: the pages are owned and initialised (caller); one header
    // reference at a time.
    unsafe {
        let header = page.header();
        header.set_next(*head);
        header.set_prev(None);
        if let Some(old) = *head {
            old.header().set_prev(Some(page));
        }
    }
    *head = Some(page);
}

/// Puts `page` right after `before` on `before`'s list.
///
/// # Safety
/// `page` is an owned page on no list; `before` and its list's pages are
/// owned.
unsafe fn insert_after(before: Page, page: Page) {
    // SAFETY: the pages are owned and initialised (caller); one header
    // reference at a time.
    unsafe {
        let next = before.header().next();
        let header = page.header();
        header.set_next(next);
        header.set_prev(Some(before));
        if let Some(next) = next {
            next.header().set_prev(Some(page));
        }
        before.header().set_next(Some(page));
    }
}

/// Takes `page` off the list that starts at `head`.
///
/// # Safety
/// `page` is on that list; the list's pages are owned.
#[inline(always)]
pub(super) unsafe fn unlink(head: &mut Option<Page>, page: Page) {
    // SAFETY: the pages are owned and initialised (caller); one header
    // reference at a time.
    unsafe {
        let header = page.header();
        let (next, prev) = (header.next(), header.prev());
        match prev {
            Some(prev) => prev.header().set_next(next),
            None => *head = next,
        }
        if let Some(next) = next {
            next.header().set_prev(prev);
        }
    }
}
