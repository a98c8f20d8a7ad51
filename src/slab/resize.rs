//! In-place resizing: within the slot's class, never moving the object.

use core::alloc::Layout;
use core::ptr::NonNull;

use super::Slab;
use super::classes::CLASS_SIZES;
use super::page::Page;
use crate::AllocError;
use crate::pages::PageSource;

impl<S: PageSource, const N: usize> Slab<S, N> {
    /// Resizes an object in place: `Ok` when the new layout maps to the same
    /// class (the slot already holds it), else `Err`, changing nothing.
    ///
    /// # Safety
    /// `ptr` is live in this slab with layout `old` (as for `deallocate`).
    ///
    /// # Time complexity
    /// O(1).
    #[inline]
    pub unsafe fn resize_in_place(
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
