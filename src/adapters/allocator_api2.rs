//! `allocator_api2::alloc::Allocator`: the stable-Rust trait that
//! allocator-api2's collections and hashbrown take.

use core::alloc::Layout;
use core::ptr::NonNull;

use allocator_api2::alloc::AllocError;

forward_allocator!(
    allocator_api2::alloc::Allocator,
    AllocError,
    [C: crate::RawHeap],
    crate::Arena<C>
);
#[cfg(feature = "sync")]
forward_allocator!(
    allocator_api2::alloc::Allocator,
    AllocError,
    [C: crate::RawHeap, R: crate::Lock],
    crate::SyncArena<C, R>
);

impl From<crate::AllocError> for AllocError {
    fn from(_: crate::AllocError) -> Self {
        AllocError
    }
}
