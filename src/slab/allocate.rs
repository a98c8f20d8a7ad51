//! The allocation paths: the class of a layout, a slot of the active page
//! (inlined into the caller), and the cold paths that make the next page of
//! the ring active or take a page from the source.

use core::alloc::Layout;
use core::ptr::NonNull;

use super::Slab;
use super::active::{Class, ClassId};
use super::classes::last_byte;
use super::page::Page;
use crate::AllocError;
use crate::pages::PageSource;
use crate::raw_heap::dangling;

impl<S: PageSource, const N: usize> Slab<S, N> {
    /// The class of `layout`, if the slab serves it: the class exists and
    /// its slots are aligned enough. `allocate_in` and `deallocate_in` take
    /// this class.
    #[inline(always)]
    pub(crate) fn class_for(&self, layout: Layout) -> Option<ClassId> {
        if layout.align() > self.hot.max_align {
            return None;
        }
        let last = last_byte(layout);
        if last >= self.hot.limit {
            return None;
        }
        // SAFETY: `limit <= MAX_CLASS`.
        Some(unsafe { ClassId::of_last(last) })
    }

    /// The class `id`, to read.
    ///
    /// # Safety
    /// As for `class_mut`.
    #[inline(always)]
    pub(super) unsafe fn class_ref(&self, id: ClassId) -> &Class {
        debug_assert!(id.index() < N);
        // SAFETY: as for `class_mut`.
        unsafe {
            &*self
                .classes
                .as_ptr()
                .cast::<u64>()
                .add(id.words_in_array())
                .cast::<Class>()
        }
    }

    /// The class `id`.
    ///
    /// # Safety
    /// `id.index() < N`, as for a served class (`class_for` gives only
    /// those) and for `latest`.
    #[inline(always)]
    pub(super) unsafe fn class_mut(&mut self, id: ClassId) -> &mut Class {
        debug_assert!(id.index() < N);
        // SAFETY: `id.index() < N` (caller), and `id.words_in_array()` is
        // where `classes[id.index()]` starts: `Class`'s size is a multiple
        // of 8 and its alignment at least 8 (asserted in `active.rs`).
        unsafe {
            &mut *self
                .classes
                .as_mut_ptr()
                .cast::<u64>()
                .add(id.words_in_array())
                .cast::<Class>()
        }
    }

    /// Allocates a slot for `layout`; the returned slice is the whole slot,
    /// its class's size.
    ///
    /// The class is chosen from the size rounded up to the alignment (a
    /// 72-byte request aligned to 64 takes a 128-byte slot), which keeps every
    /// slot aligned without a per-object header. A zero-size layout gets a
    /// dangling pointer aligned to `layout.align()`.
    ///
    /// # Errors
    /// [`AllocError`] when the request is larger than
    /// [`max_class`](Self::max_class), or when the class has no free slot
    /// and the source no page; the slab is unchanged.
    ///
    /// # Time complexity
    /// O(1) (see the type's documentation).
    #[inline(always)]
    pub fn allocate(&mut self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
        match self.class_for(layout) {
            // SAFETY: `class_for` gives served classes.
            Some(class) => unsafe { self.allocate_in(class) },
            None => self.allocate_unserved(layout),
        }
    }

    #[cold]
    fn allocate_unserved(&mut self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
        if layout.size() == 0 {
            return Ok(dangling(layout));
        }
        self.counters.failures += 1;
        Err(AllocError)
    }

    /// Takes a slot of `class`.
    ///
    /// # Safety
    /// `class` is served (as `class_for` gives).
    #[inline(always)]
    pub(crate) unsafe fn allocate_in(
        &mut self,
        class: ClassId,
    ) -> Result<NonNull<[u8]>, AllocError> {
        let header_end = self.hot.header_end.get();
        // SAFETY: `class` is served (caller).
        let slots = unsafe { self.class_mut(class) };
        match slots.take(header_end) {
            Some(slot) => {
                let size = slots.size as usize;
                self.hot.latest = class;
                Ok(NonNull::slice_from_raw_parts(slot, size))
            }
            // SAFETY: `class` is served, and `take` found no slot.
            None => unsafe { self.allocate_from_next_page(class) },
        }
    }

    /// The active page of `class` is full, or there is none: makes the next
    /// page of the ring active if it has a free slot, or else takes a page;
    /// then allocates from the new active page.
    ///
    /// The full page stays where it is: the ring goes on from the next
    /// page, and the full page is now its last. So a page switch writes the
    /// full page's state to its header and reads the next one's, and moves
    /// no page.
    ///
    /// # Safety
    /// `class` is served, and its active page (if any) has no free slot.
    #[cold]
    #[inline(never)]
    unsafe fn allocate_from_next_page(
        &mut self,
        class: ClassId,
    ) -> Result<NonNull<[u8]>, AllocError> {
        let header_end = self.hot.header_end.get();
        // SAFETY: `class` is served (caller).
        let slots = unsafe { self.class_mut(class) };
        // The objects on the full active page (0 with none), and the
        // capacity of a page of the class.
        let (old_live, capacity) = match slots.active {
            // SAFETY: the active page is full (caller); the pages of the
            // ring are owned and initialised, and the next one's header is
            // current (the full page's too, written just before: when it is
            // alone, it is its own next and reads as full).
            Some(full) => unsafe {
                let capacity = slots.write_back_full(full);
                let next = full.header().next();
                if next.header().live() < capacity {
                    slots.activate(next, capacity);
                    // The next page has a free slot (its live count is
                    // below its capacity), and none is given back.
                    let slot = slots.take_free_or_uncarved(header_end).unwrap_unchecked();
                    let size = slots.size as usize;
                    self.hot.latest = class;
                    return Ok(NonNull::slice_from_raw_parts(slot, size));
                }
                // A full page holds its capacity.
                (capacity, capacity)
            },
            None => {
                // A parked class makes its first page active again if it
                // has a free slot (pages with one come first).
                if let Some(first) = slots.parked_first() {
                    // SAFETY: a parked class's pages are owned, initialised
                    // and have current headers; it holds no page state
                    // (`Class::park`), and the page has a free slot.
                    let capacity = unsafe {
                        let header = first.header();
                        if header.live() < header.capacity() {
                            slots.activate(first, 0);
                            let slot = slots.take_free_or_uncarved(header_end).unwrap_unchecked();
                            let size = slots.size as usize;
                            self.hot.latest = class;
                            return Ok(NonNull::slice_from_raw_parts(slot, size));
                        }
                        header.capacity()
                    };
                    (0, capacity)
                } else {
                    // A class with no page looks its capacity up (with the
                    // index's multiply).
                    // SAFETY: `class` is served (caller), so below `N`.
                    (0, unsafe { *self.capacities.get_unchecked(class.index()) }
                        as usize)
                }
            }
        };
        // SAFETY: `class` is served, and its active page (if any) is full,
        // with `old_live` objects, and written back.
        unsafe { self.allocate_from_new_page(class, old_live, capacity) }
    }

    /// Takes a page from the source for `class`, whose pages are all full,
    /// or else another class's spare, and allocates from it. The page goes
    /// into the ring right after the full active page, so that the ring
    /// goes on with the full pages from it.
    ///
    /// # Safety
    /// `class` is served, with `capacity` slots per page; its active page,
    /// if any, is full, with `old_live` objects (else `old_live` is 0), and
    /// its state written back (`write_back_full`); every other page of its
    /// ring is full.
    #[inline(always)]
    unsafe fn allocate_from_new_page(
        &mut self,
        class: ClassId,
        old_live: usize,
        capacity: usize,
    ) -> Result<NonNull<[u8]>, AllocError> {
        let Ok(start) = self.source.allocate_page() else {
            // SAFETY: forwarded from the caller.
            return unsafe { self.allocate_from_spare(class, old_live, capacity) };
        };
        // SAFETY: forwarded from the caller; the source handed us this
        // page, which nothing else uses.
        let slot = unsafe { self.start_page(class, old_live, capacity, start) };
        let c = &mut self.counters;
        c.pages += 1;
        c.peak_pages = c.peak_pages.max(c.pages);
        slot
    }

    /// As `allocate_from_new_page` once the source has no page left: takes
    /// another class's spare instead (which the slab's page count, and its
    /// peak, already count), or fails. Inlined into the page switch: a call
    /// of its own, with its prologue, cost the longest allocation six
    /// instructions.
    ///
    /// # Safety
    /// As for `allocate_from_new_page`.
    #[inline(always)]
    unsafe fn allocate_from_spare(
        &mut self,
        class: ClassId,
        old_live: usize,
        capacity: usize,
    ) -> Result<NonNull<[u8]>, AllocError> {
        let Some(start) = self.take_spare_inline() else {
            self.counters.failures += 1;
            return Err(AllocError);
        };
        // SAFETY: forwarded from the caller; `take_spare_inline` detached
        // the page, which nothing else uses.
        unsafe { self.start_page(class, old_live, capacity, start) }
    }

    /// Makes `start`, a page for `class` that nothing uses, the active page
    /// of `class`, and allocates from it. The page goes into the ring right
    /// after the full active page, so that the ring goes on with the full
    /// pages from it.
    ///
    /// # Safety
    /// As for `allocate_from_new_page`; `start` is a page from the source
    /// that the slab's page count counts and no class holds.
    #[inline(always)]
    unsafe fn start_page(
        &mut self,
        class: ClassId,
        old_live: usize,
        capacity: usize,
        start: NonNull<u8>,
    ) -> Result<NonNull<[u8]>, AllocError> {
        let slot_end = self.hot.slot_end;
        // SAFETY: `class` is served (caller).
        let slots = unsafe { self.class_mut(class) };
        slots.pages += 1;
        // SAFETY: the source (or `take_spare`) handed us this page, which
        // nothing else uses, `page_size` bytes aligned to `page_align`; a
        // served class fits at least one slot in it; the old active page is
        // full and written back (caller).
        let slot = unsafe {
            let page = Page::from_start(start);
            // After the full active page, or before a parked class's pages,
            // all full.
            let before = match slots.active {
                Some(full) => Some(full),
                None => slots.parked_first().map(|first| first.header().prev()),
            };
            page.init(class, capacity, before);
            slots.activate_fresh(page, old_live, slot_end)
        };
        let size = slots.size as usize;
        self.hot.latest = class;
        Ok(NonNull::slice_from_raw_parts(slot, size))
    }
}
