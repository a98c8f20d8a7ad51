//! The plumbing under the front types, for code that drives or writes a
//! core itself rather than through an [`Arena`](crate::Arena) or a
//! [`SyncArena`](crate::SyncArena):
//!
//! - [`RawHeap`], the trait every core implements (`Tlsf`, `Slab`, `Heap`
//!   and the others) and the wrappers are generic over; a core of your own
//!   implements it to get both wrappers and their `Allocator` impls;
//! - [`Misuse`], a broken contract that a core detected and refused
//!   (`RawHeap::deallocate` returns it; the front types report it);
//! - `CoreGuard` (feature `sync`), a `SyncArena`'s core under its lock,
//!   from the `unsafe` `SyncArena::lock`.

pub use crate::misuse::Misuse;
pub use crate::raw_heap::RawHeap;
#[cfg(feature = "sync")]
pub use crate::sync_arena::CoreGuard;
