// The README is the crate documentation; its examples use allocator-api2
// collections, so they are compiled (and tested) with that feature only.
#![cfg_attr(feature = "allocator-api2", doc = include_str!("../README.md"))]
#![cfg_attr(
    not(feature = "allocator-api2"),
    doc = "Real-time heaps over memory you own. Build with feature `allocator-api2` for the full documentation."
)]
#![no_std]
#![warn(missing_docs)]
#![cfg_attr(feature = "nightly", feature(allocator_api))]
// docs.rs builds with `--cfg docsrs` (Cargo.toml): each item gated on a
// feature or a platform then says which one it needs.
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(any(feature = "std", test))]
extern crate std;

mod adapters;
mod arena;
mod bits;
mod compose;
mod error;
mod heap;
mod in_place;
#[cfg(feature = "sync")]
mod lock;
mod misuse;
pub mod pages;
pub mod raw;
mod raw_heap;
// Other architectures assert no sizes; the module picks its table by
// pointer width and `u64` alignment.
#[cfg(any(target_arch = "x86_64", target_arch = "x86", target_arch = "arm"))]
mod sizes;
pub mod slab;
// Handing the pool out once needs an atomic swap or a critical section.
#[cfg(any(target_has_atomic = "8", feature = "critical-section"))]
mod static_pool;
mod stats;
#[cfg(feature = "sync")]
mod sync_arena;
pub mod tlsf;

// The front types: what a user chooses and names. The plumbing is in
// modules: `raw` (the core trait, misuse, the lock guard), `pages` (page
// sources), `tlsf` and `slab` (configuration constants and size classes).
pub use crate::arena::Arena;
pub use crate::error::{AllocError, CheckError, PoolError};
pub use crate::heap::{GenericHeap, GrowingHeap, Heap, SmallHeap};
#[cfg(feature = "critical-section")]
pub use crate::lock::CriticalSectionLock;
#[cfg(feature = "sync")]
pub use crate::lock::Lock;
pub use crate::slab::Slab;
#[cfg(any(target_has_atomic = "8", feature = "critical-section"))]
pub use crate::static_pool::StaticPool;
pub use crate::stats::{ClassStats, Stats};
#[cfg(feature = "sync")]
pub use crate::sync_arena::SyncArena;
pub use crate::tlsf::{GenericTlsf, GrowingTlsf, LargeTlsf, SmallTlsf, Tlsf};
#[cfg(feature = "sync")]
pub use lock_api;

#[cfg(feature = "allocator-api2")]
pub use allocator_api2;

// The crate's own code names the plumbing it uses everywhere at the root
// (from where it is defined, not through `raw`, which also shows a
// wrapper's `CoreGuard`: the cores depend on nothing above them).
pub(crate) use crate::misuse::Misuse;
pub(crate) use crate::raw_heap::RawHeap;
