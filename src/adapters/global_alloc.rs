//! `GlobalAlloc` for `SyncArena`, so a `static` one can be the
//! `#[global_allocator]`.

use core::alloc::{GlobalAlloc, Layout};
use core::ptr::{self, NonNull};

use crate::{Lock, RawHeap, SyncArena};

// SAFETY: blocks come from a `RawHeap` (valid, aligned, disjoint, in place
// until freed) behind the arena's lock; failures return null and never
// unwind from the heap's own code except for the debug-build reports of a
// caller that already broke the contract; `realloc` keeps the contents up to the
// smaller size and leaves the old block intact when it returns null.
unsafe impl<C: RawHeap, R: Lock> GlobalAlloc for SyncArena<C, R> {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        self.allocate(layout)
            .map_or(ptr::null_mut(), |block| block.as_ptr().cast())
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        self.allocate_zeroed(layout)
            .map_or(ptr::null_mut(), |block| block.as_ptr().cast())
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if let Some(ptr) = NonNull::new(ptr) {
            // SAFETY: `GlobalAlloc::dealloc`'s contract: a live block of this
            // allocator with this layout.
            unsafe { self.deallocate(ptr, layout) }
        }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let (Some(old), Ok(new)) = (
            NonNull::new(ptr),
            Layout::from_size_align(new_size, layout.align()),
        ) else {
            return ptr::null_mut();
        };
        // SAFETY: `GlobalAlloc::realloc`'s contract: `ptr` is live with
        // `layout`; `new` has the same alignment and a nonzero size.
        let result = unsafe {
            if new_size >= layout.size() {
                self.grow(old, layout, new)
            } else {
                self.shrink(old, layout, new)
            }
        };
        result.map_or(ptr::null_mut(), |block| block.as_ptr().cast())
    }
}
