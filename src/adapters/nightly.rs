//! `core::alloc::Allocator` (feature `nightly`).

use core::alloc::Layout;
use core::ptr::NonNull;

forward_allocator!(
    core::alloc::Allocator,
    core::alloc::AllocError,
    [C: crate::RawHeap],
    crate::Arena<C>
);
#[cfg(feature = "sync")]
forward_allocator!(
    core::alloc::Allocator,
    core::alloc::AllocError,
    [C: crate::RawHeap, R: crate::Lock],
    crate::SyncArena<C, R>
);
