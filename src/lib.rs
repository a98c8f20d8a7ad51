#![doc = include_str!("../README.md")]
#![no_std]
#![warn(missing_docs)]
#![cfg_attr(feature = "nightly", feature(allocator_api))]

#[cfg(any(feature = "std", test))]
extern crate std;

mod adapters;
mod arena;
mod error;
mod raw_heap;
mod stats;
pub mod tlsf;

pub use crate::arena::Arena;
pub use crate::error::{AllocError, CheckError, PoolError};
pub use crate::raw_heap::RawHeap;
pub use crate::stats::Stats;
pub use crate::tlsf::config::{GRANULE, HEADER, MIN_BLOCK, POOL_OVERHEAD};
pub use crate::tlsf::{GenericTlsf, LargeTlsf, SmallTlsf, Tlsf};

#[cfg(feature = "allocator-api2")]
pub use allocator_api2;
