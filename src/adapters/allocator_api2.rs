//! `allocator_api2::alloc::Allocator`: the stable-Rust trait that allocator-api2's collections and hashbrown take.

use core::alloc::Layout;
use core::ptr::NonNull;

use allocator_api2::alloc::{AllocError, Allocator};

use crate::{Arena, RawHeap};

// SAFETY: `Arena` forwards to a `RawHeap`, whose contract is the
// `Allocator` one: blocks are valid, aligned, disjoint and stay put until
// freed; grow and shrink keep the contents and, on `Err`, the old block.
// Moving the `Arena` itself moves only the core's control data, never a
// block (a `RawHeap` promise), so blocks outlive such moves.
unsafe impl<C: RawHeap> Allocator for Arena<C> {
    #[inline(always)]
    fn allocate(&self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
        Arena::allocate(self, layout).map_err(|_| AllocError)
    }

    #[inline]
    fn allocate_zeroed(&self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
        Arena::allocate_zeroed(self, layout).map_err(|_| AllocError)
    }

    #[inline(always)]
    unsafe fn deallocate(&self, ptr: NonNull<u8>, layout: Layout) {
        // SAFETY: the caller upholds `Allocator::deallocate`'s contract.
        unsafe { Arena::deallocate(self, ptr, layout) }
    }

    #[inline]
    unsafe fn grow(
        &self,
        ptr: NonNull<u8>,
        old: Layout,
        new: Layout,
    ) -> Result<NonNull<[u8]>, AllocError> {
        // SAFETY: the caller upholds `Allocator::grow`'s contract.
        unsafe { Arena::grow(self, ptr, old, new) }.map_err(|_| AllocError)
    }

    #[inline]
    unsafe fn grow_zeroed(
        &self,
        ptr: NonNull<u8>,
        old: Layout,
        new: Layout,
    ) -> Result<NonNull<[u8]>, AllocError> {
        // SAFETY: the caller upholds `Allocator::grow_zeroed`'s contract.
        unsafe { Arena::grow_zeroed(self, ptr, old, new) }.map_err(|_| AllocError)
    }

    #[inline]
    unsafe fn shrink(
        &self,
        ptr: NonNull<u8>,
        old: Layout,
        new: Layout,
    ) -> Result<NonNull<[u8]>, AllocError> {
        // SAFETY: the caller upholds `Allocator::shrink`'s contract.
        unsafe { Arena::shrink(self, ptr, old, new) }.map_err(|_| AllocError)
    }
}

impl From<crate::AllocError> for AllocError {
    fn from(_: crate::AllocError) -> Self {
        AllocError
    }
}
