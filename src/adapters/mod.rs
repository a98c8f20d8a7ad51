//! The only place foreign traits are implemented. Both `Allocator` traits
//! forward to the same inherent methods of [`Arena`](crate::Arena).

#[cfg(feature = "allocator-api2")]
mod allocator_api2;
#[cfg(feature = "nightly")]
mod nightly;
