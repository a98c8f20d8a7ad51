//! The only place foreign traits are implemented. Both `Allocator` traits
//! have the same methods, so one macro writes both impls for both wrappers,
//! each forwarding to the wrapper's inherent methods of the same names.

/// `unsafe impl<$generics> $Allocator for $Wrapper`, with `$AllocError` the
/// trait's error type; the wrapper has inherent `allocate`,
/// `allocate_zeroed`, `deallocate`, `grow`, `grow_zeroed` and `shrink` with
/// the trait's contracts. The invoking module imports `Layout` and
/// `NonNull`.
#[cfg(any(feature = "allocator-api2", feature = "nightly"))]
macro_rules! forward_allocator {
    ($Allocator:path, $AllocError:path, [$($generics:tt)*], $Wrapper:ty) => {
        // SAFETY: the wrapper forwards to a `RawHeap`, whose contract is the
        // `Allocator` one: blocks are valid, aligned, disjoint and stay put
        // until freed; grow and shrink keep the contents and, on `Err`, the
        // old block. Moving the wrapper itself moves only the core's control
        // data, never a block (a `RawHeap` promise), so blocks outlive such
        // moves.
        unsafe impl<$($generics)*> $Allocator for $Wrapper {
            #[inline(always)]
            fn allocate(&self, layout: Layout) -> Result<NonNull<[u8]>, $AllocError> {
                <$Wrapper>::allocate(self, layout).map_err(|_| $AllocError)
            }

            #[inline]
            fn allocate_zeroed(&self, layout: Layout) -> Result<NonNull<[u8]>, $AllocError> {
                <$Wrapper>::allocate_zeroed(self, layout).map_err(|_| $AllocError)
            }

            #[inline(always)]
            #[track_caller]
            unsafe fn deallocate(&self, ptr: NonNull<u8>, layout: Layout) {
                // SAFETY: the caller upholds `Allocator::deallocate`'s contract.
                unsafe { <$Wrapper>::deallocate(self, ptr, layout) }
            }

            #[inline]
            #[track_caller]
            unsafe fn grow(
                &self,
                ptr: NonNull<u8>,
                old: Layout,
                new: Layout,
            ) -> Result<NonNull<[u8]>, $AllocError> {
                // SAFETY: the caller upholds `Allocator::grow`'s contract.
                unsafe { <$Wrapper>::grow(self, ptr, old, new) }.map_err(|_| $AllocError)
            }

            #[inline]
            #[track_caller]
            unsafe fn grow_zeroed(
                &self,
                ptr: NonNull<u8>,
                old: Layout,
                new: Layout,
            ) -> Result<NonNull<[u8]>, $AllocError> {
                // SAFETY: the caller upholds `Allocator::grow_zeroed`'s contract.
                unsafe { <$Wrapper>::grow_zeroed(self, ptr, old, new) }.map_err(|_| $AllocError)
            }

            #[inline]
            #[track_caller]
            unsafe fn shrink(
                &self,
                ptr: NonNull<u8>,
                old: Layout,
                new: Layout,
            ) -> Result<NonNull<[u8]>, $AllocError> {
                // SAFETY: the caller upholds `Allocator::shrink`'s contract.
                unsafe { <$Wrapper>::shrink(self, ptr, old, new) }.map_err(|_| $AllocError)
            }
        }
    };
}

#[cfg(feature = "allocator-api2")]
mod allocator_api2;
#[cfg(feature = "sync")]
mod global_alloc;
#[cfg(feature = "nightly")]
mod nightly;
