//! The control blocks' sizes, asserted exactly on the targets the README's
//! tables (search "control block, x86_64") give them for. The README
//! mirrors this file: a change that alters a size fails the build on that
//! target until both say the new number.
//!
//! On the architectures `lib.rs` compiles this for, the sizes depend on two
//! things: the pointer width and the alignment of a `u64` (the counters).
//! Three pairs have a table: 64-bit pointers and 8-byte `u64` (x86_64),
//! 32-bit pointers and 4-byte `u64` (i686), 32-bit pointers and 8-byte
//! `u64` (32-bit ARM: thumbv6m, thumbv7em), where the structs with `u64`
//! counters pad to more than on i686. The pair picks the table, not the
//! architecture: `i686-pc-windows-msvc` aligns a `u64` to 8 and
//! `x86_64-unknown-linux-gnux32` has 32-bit pointers, so both follow the
//! ARM table. Other pairs, and the architectures `lib.rs` leaves out,
//! assert nothing.

use core::mem::{align_of, size_of};

use crate::pages::PoolPages;
use crate::{GrowingHeap, Heap, LargeTlsf, Slab, SmallHeap, SmallTlsf, Tlsf};

/// This target's (pointer bytes, `u64` alignment), which picks the table.
#[allow(
    dead_code,
    reason = "read by the assertions below, which Rust 1.85's lint does not count"
)]
const TARGET: (usize, usize) = (size_of::<usize>(), align_of::<u64>());

/// `assert_sizes! { (pointer, align); Type => bytes, ... }`: on a target
/// whose [`TARGET`] is `(pointer, align)`, one compile-time assertion per
/// type that its size is exactly `bytes`; elsewhere nothing.
macro_rules! assert_sizes {
    (($pointer:literal, $align:literal); $($ty:ty => $bytes:expr),* $(,)?) => {
        $(const _: () = assert!(
            !matches!(TARGET, ($pointer, $align)) || size_of::<$ty>() == $bytes,
            concat!(
                "size_of::<", stringify!($ty), ">() changed: update src/sizes.rs ",
                "and the control block sizes in README.md"
            )
        );)*
    };
}

// x86_64.
assert_sizes! {
    (8, 8);
    Slab<PoolPages> => 2368,
    Heap => 6208,
    GrowingHeap<PoolPages> => 10496,
    SmallHeap => 2304,
    SmallTlsf => 1000,
    Tlsf => 3816,
    LargeTlsf => 7904,
}

// i686.
assert_sizes! {
    (4, 4);
    Slab<PoolPages> => 1744,
    Heap => 3840,
    GrowingHeap<PoolPages> => 3856,
    SmallHeap => 1536,
    SmallTlsf => 568,
    Tlsf => 2040,
    LargeTlsf => 1972,
}

// 32-bit ARM (and i686-pc-windows-msvc, x86_64-unknown-linux-gnux32).
assert_sizes! {
    (4, 8);
    Slab<PoolPages> => 1744,
    Heap => 3840,
    GrowingHeap<PoolPages> => 3864,
    SmallHeap => 1536,
    SmallTlsf => 568,
    Tlsf => 2040,
    LargeTlsf => 1976,
}
