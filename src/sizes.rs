//! The control blocks' sizes, asserted exactly on the targets the README's
//! tables (search "control block, x86_64") give them for. The README
//! mirrors this file: a change that alters a size fails the build on that
//! target until both say the new number.
//!
//! Three target families differ: x86_64; i686 (`target_arch = "x86"`), where
//! a `u64` is 4-byte aligned; 32-bit ARM (`target_arch = "arm"`: thumbv6m,
//! thumbv7em), where a `u64` is 8-byte aligned, so the structs with `u64`
//! counters pad to more than on i686. Other targets assert nothing.

use core::mem::size_of;

use crate::pages::PoolPages;
use crate::{Heap, LargeTlsf, Slab, SmallHeap, SmallTlsf, Tlsf};

/// `assert_sizes! { Type => bytes, ... }`: one compile-time assertion per
/// type that its size is exactly `bytes`.
macro_rules! assert_sizes {
    ($($ty:ty => $bytes:expr),* $(,)?) => {
        $(const _: () = assert!(
            size_of::<$ty>() == $bytes,
            concat!(
                "size_of::<", stringify!($ty), ">() changed: update src/sizes.rs ",
                "and the control block sizes in README.md"
            )
        );)*
    };
}

#[cfg(target_arch = "x86_64")]
assert_sizes! {
    Slab<PoolPages> => 2688,
    Heap => 6464,
    SmallHeap => 2368,
    SmallTlsf => 968,
    Tlsf => 3784,
    LargeTlsf => 7872,
}

#[cfg(target_arch = "x86")]
assert_sizes! {
    Slab<PoolPages> => 1864,
    Heap => 3896,
    SmallHeap => 1528,
    SmallTlsf => 552,
    Tlsf => 2024,
    LargeTlsf => 1956,
}

#[cfg(target_arch = "arm")]
assert_sizes! {
    Slab<PoolPages> => 2120,
    Heap => 4160,
    SmallHeap => 1664,
    SmallTlsf => 560,
    Tlsf => 2032,
    LargeTlsf => 1960,
}
