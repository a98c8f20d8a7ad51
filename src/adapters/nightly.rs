//! `core::alloc::Allocator` (feature `nightly`).

use core::alloc::Layout;
use core::ptr::NonNull;

forward_allocator!(core::alloc::Allocator, core::alloc::AllocError);
