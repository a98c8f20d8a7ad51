//! The only place foreign traits are implemented. Both `Allocator` traits
//! have the same methods, so one macro writes both impls, each forwarding to
//! the same inherent methods of [`Arena`](crate::Arena).

/// `unsafe impl $Allocator for Arena<C>`, with `$AllocError` its error type.
/// The invoking module imports `Layout` and `NonNull`.
#[cfg(any(feature = "allocator-api2", feature = "nightly"))]
macro_rules! forward_allocator {
    ($Allocator:path, $AllocError:path) => {
        // SAFETY: `Arena` forwards to a `RawHeap`, whose contract is the
        // `Allocator` one: blocks are valid, aligned, disjoint and stay put
        // until freed; grow and shrink keep the contents and, on `Err`, the
        // old block. Moving the `Arena` itself moves only the core's control
        // data, never a block (a `RawHeap` promise), so blocks outlive such
        // moves.
        unsafe impl<C: $crate::RawHeap> $Allocator for $crate::Arena<C> {
            #[inline(always)]
            fn allocate(&self, layout: Layout) -> Result<NonNull<[u8]>, $AllocError> {
                $crate::Arena::allocate(self, layout).map_err(|_| $AllocError)
            }

            #[inline]
            fn allocate_zeroed(&self, layout: Layout) -> Result<NonNull<[u8]>, $AllocError> {
                $crate::Arena::allocate_zeroed(self, layout).map_err(|_| $AllocError)
            }

            #[inline(always)]
            unsafe fn deallocate(&self, ptr: NonNull<u8>, layout: Layout) {
                // SAFETY: the caller upholds `Allocator::deallocate`'s contract.
                unsafe { $crate::Arena::deallocate(self, ptr, layout) }
            }

            #[inline]
            unsafe fn grow(
                &self,
                ptr: NonNull<u8>,
                old: Layout,
                new: Layout,
            ) -> Result<NonNull<[u8]>, $AllocError> {
                // SAFETY: the caller upholds `Allocator::grow`'s contract.
                unsafe { $crate::Arena::grow(self, ptr, old, new) }.map_err(|_| $AllocError)
            }

            #[inline]
            unsafe fn grow_zeroed(
                &self,
                ptr: NonNull<u8>,
                old: Layout,
                new: Layout,
            ) -> Result<NonNull<[u8]>, $AllocError> {
                // SAFETY: the caller upholds `Allocator::grow_zeroed`'s contract.
                unsafe { $crate::Arena::grow_zeroed(self, ptr, old, new) }.map_err(|_| $AllocError)
            }

            #[inline]
            unsafe fn shrink(
                &self,
                ptr: NonNull<u8>,
                old: Layout,
                new: Layout,
            ) -> Result<NonNull<[u8]>, $AllocError> {
                // SAFETY: the caller upholds `Allocator::shrink`'s contract.
                unsafe { $crate::Arena::shrink(self, ptr, old, new) }.map_err(|_| $AllocError)
            }
        }
    };
}

#[cfg(feature = "allocator-api2")]
mod allocator_api2;
#[cfg(feature = "nightly")]
mod nightly;
