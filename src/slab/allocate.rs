//! The allocation paths: the class of a layout, a slot of the active page
//! (inlined into the caller), and the cold paths that make the next partial
//! page active or take a page from the source.

use core::alloc::Layout;
use core::ptr::NonNull;

use super::Slab;
use super::active::{Class, ClassId};
use super::classes::last_byte;
use super::lists::{push_front, unlink};
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
        if layout.align() > self.max_align {
            return None;
        }
        let last = last_byte(layout);
        if last >= self.limit {
            return None;
        }
        // SAFETY: `limit <= MAX_CLASS`.
        Some(unsafe { ClassId::of_last(last) })
    }

    /// The class `id`.
    ///
    /// # Safety
    /// `id.index() < N`, as for a served class (`class_for` gives only
    /// those) and for `latest`.
    #[inline(always)]
    pub(super) unsafe fn class_mut(&mut self, id: ClassId) -> &mut Class {
        debug_assert!(id.index() < N);
        // SAFETY: `id.index() < N` (caller), and `id.words()` is
        // where `classes[id.index()]` starts: `Class`'s size is a multiple
        // of 8 and its alignment at least 8 (asserted in `active.rs`).
        unsafe {
            &mut *self
                .classes
                .as_mut_ptr()
                .cast::<u64>()
                .add(id.words())
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
        // SAFETY: `class` is served (caller).
        let slots = unsafe { self.class_mut(class) };
        match slots.take() {
            Some(slot) => {
                let size = slots.size as usize;
                self.latest = class;
                Ok(NonNull::slice_from_raw_parts(slot, size))
            }
            None => self.allocate_from_next_page(class.index()),
        }
    }

    /// The active page of `class` is full, or there is none: retires it to
    /// the full list, makes the next partial page active, or else takes a
    /// page from the source; then allocates from the new active page.
    #[cold]
    #[inline(never)]
    fn allocate_from_next_page(&mut self, class: usize) -> Result<NonNull<[u8]>, AllocError> {
        let (slots, pages) = (&mut self.classes[class], &mut self.class_pages[class]);
        if let Some(full) = slots.partial {
            // SAFETY: the active page heads `partial` and has no free slot
            // (`take` found none); list members are owned pages; `class <
            // served` (the caller's, from a served `ClassId`).
            unsafe {
                slots.deactivate(full);
                unlink(&mut slots.partial, full);
                push_front(&mut pages.full, full);
                if let Some(next) = slots.partial {
                    slots.activate(next);
                    return self.allocate_in(ClassId::of_index(class));
                }
            }
        }
        self.allocate_from_new_page(class)
    }

    /// Takes a page from the source for `class`, which has no partial page,
    /// and allocates from it.
    fn allocate_from_new_page(&mut self, class: usize) -> Result<NonNull<[u8]>, AllocError> {
        let start = match self.source.allocate_page() {
            Ok(start) => start,
            Err(AllocError) => match self.take_spare() {
                Some(start) => start,
                None => {
                    self.counters.failures += 1;
                    return Err(AllocError);
                }
            },
        };
        let capacity = self.class_pages[class].capacity as usize;
        let slots = &mut self.classes[class];
        // SAFETY: the source handed us this page, `page_size` bytes aligned
        // to `page_align`; `class < served`, so at least one slot fits. The
        // class has no partial page, so the new page becomes its active one.
        unsafe {
            let page = Page::from_start(start);
            page.init(class, capacity, self.slot_end);
            push_front(&mut slots.partial, page);
            slots.activate(page);
        }
        self.class_pages[class].count += 1;
        let c = &mut self.counters;
        c.pages += 1;
        c.peak_pages = c.peak_pages.max(c.pages);
        // SAFETY: `class < served` (the caller checked it), and the active
        // page has a free slot.
        unsafe { self.allocate_in(ClassId::of_index(class)) }
    }
}
