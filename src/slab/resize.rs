//! In-place resizing: within the slot's class, never moving the object;
//! and `usable_size`, the slot's class size.

use core::alloc::Layout;
use core::ptr::NonNull;

use super::Slab;
use super::classes::CLASS_SIZES;
use super::page::Page;
use crate::AllocError;
use crate::pages::PageSource;

impl<S: PageSource, const N: usize> Slab<S, N> {
    /// Grows an object in place: `Ok` when `new` maps to the object's
    /// class (the slot already holds it), with the whole slot; else `Err`,
    /// changing nothing.
    ///
    /// # Errors
    /// [`AllocError`] when `new` is of another class (or of none): the
    /// object must move.
    ///
    /// # Safety
    /// `ptr` is live in this slab with layout `old` (as for `deallocate`),
    /// and `new.size() >= old.size()`.
    ///
    /// # Time complexity
    /// O(1).
    #[inline]
    pub unsafe fn grow_in_place(
        &mut self,
        ptr: NonNull<u8>,
        old: Layout,
        new: Layout,
    ) -> Result<NonNull<[u8]>, AllocError> {
        // SAFETY: forwarded contract.
        unsafe { self.resize_in_place(ptr, old, new) }
    }

    /// Shrinks an object in place: `Ok` when `new` maps to the object's
    /// class, with the whole slot (a slot never gives a tail back); else
    /// `Err`, changing nothing.
    ///
    /// # Errors
    /// [`AllocError`] when `new` is of another class: the object must move.
    ///
    /// # Safety
    /// `ptr` is live in this slab with layout `old` (as for `deallocate`),
    /// and `new.size() <= old.size()`.
    ///
    /// # Time complexity
    /// O(1).
    #[inline]
    pub unsafe fn shrink_in_place(
        &mut self,
        ptr: NonNull<u8>,
        old: Layout,
        new: Layout,
    ) -> Result<NonNull<[u8]>, AllocError> {
        // SAFETY: forwarded contract.
        unsafe { self.resize_in_place(ptr, old, new) }
    }

    /// Usable bytes of a live object: its slot's size, the class of
    /// `layout` (what `allocate` returned as its length); 0 for a
    /// zero-size layout, and for a layout the slab does not serve (no
    /// object of it can be live). It reads no memory: the layout alone
    /// gives the class, which is why every core's `usable_size` takes it.
    ///
    /// # Safety
    /// `ptr` is live in this slab with layout `layout` (as for
    /// `deallocate`).
    ///
    /// # Time complexity
    /// O(1).
    #[inline]
    pub unsafe fn usable_size(&self, ptr: NonNull<u8>, layout: Layout) -> usize {
        let _ = ptr;
        match self.class_for(layout) {
            Some(class) => CLASS_SIZES[class.index()],
            None => 0,
        }
    }

    /// Resizes an object in place, either way: `Ok` when the new layout
    /// maps to the same class (the slot already holds it), else `Err`,
    /// changing nothing.
    ///
    /// # Safety
    /// `ptr` is live in this slab with layout `old` (as for `deallocate`).
    #[inline]
    pub(crate) unsafe fn resize_in_place(
        &mut self,
        ptr: NonNull<u8>,
        old: Layout,
        new: Layout,
    ) -> Result<NonNull<[u8]>, AllocError> {
        let class = match (self.class_for(old), self.class_for(new)) {
            (Some(old), Some(new)) if old == new => old,
            _ => return Err(AllocError),
        };
        let addr = ptr.as_ptr() as usize;
        // A pointer outside the pages must move, and the free that a moving
        // resize ends with refuses and reports it.
        let Some(start) = self.source.page_containing(addr) else {
            return Err(AllocError);
        };
        // SAFETY: `ptr` is a live object, so `start` is its page, owned by
        // the slab; the slot pointer takes the page's provenance, valid for
        // the whole slot (the caller's pointer may cover less).
        let slot = unsafe { Page::from_start(start).slot_at(addr) };
        Ok(NonNull::slice_from_raw_parts(
            slot,
            CLASS_SIZES[class.index()],
        ))
    }
}
