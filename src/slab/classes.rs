//! The size classes: 8-byte steps up to 64 bytes, then four classes per
//! power of two, up to 4 KiB.
//!
//! | classes | sizes (bytes) | step |
//! |---|---|---|
//! | 0–7 | 8, 16, 24, 32, 40, 48, 56, 64 | 8 |
//! | 8–11 | 80, 96, 112, 128 | 16 |
//! | 12–15 | 160, 192, 224, 256 | 32 |
//! | 16–19 | 320, 384, 448, 512 | 64 |
//! | 20–23 | 640, 768, 896, 1024 | 128 |
//! | 24–27 | 1280, 1536, 1792, 2048 | 256 |
//! | 28–31 | 2560, 3072, 3584, 4096 | 512 |
//!
//! A request is rounded up to its alignment, then to its class. Above 64
//! bytes a class is at most a quarter bigger than the class below it, so a
//! request wastes less than 20% of its slot; up to 64 bytes requests that
//! are multiples of 8 (most Rust types of 8 bytes or more) waste nothing.
//! Every class is a multiple of every power of two up to a quarter of its
//! octave, which is what makes the alignment rounding enough: a size that
//! is a multiple of `2^p` either is a class size or falls in a class whose
//! step is a multiple of `2^p`.

use core::alloc::Layout;

/// Number of size classes.
pub const CLASSES: usize = 32;

/// Size in bytes of each class's slots.
pub const CLASS_SIZES: [usize; CLASSES] = {
    let mut sizes = [0; CLASSES];
    let mut class = 0;
    while class < CLASSES {
        sizes[class] = if class < 8 {
            (class + 1) * 8
        } else {
            // Class `4k - 20 + top` holds sizes up to `(top + 1) << (k - 2)`,
            // for octave `k` and the top three bits `top` in 4..=7.
            let k = class / 4 + 4;
            (class % 4 + 5) << (k - 2)
        };
        class += 1;
    }
    sizes
};

/// The largest class size: requests above it are never a slab's.
pub const MAX_CLASS: usize = CLASS_SIZES[CLASSES - 1];

/// The last byte index of a layout's slot: its size rounded up to its
/// alignment, less one, which is `(size - 1) | (align - 1)`. A zero size
/// wraps to `usize::MAX`, past every class.
#[inline(always)]
pub(crate) const fn last_byte(layout: Layout) -> usize {
    layout.size().wrapping_sub(1) | (layout.align() - 1)
}

/// The class whose slots hold `last + 1` bytes, computed: with `k =
/// max(log2 last, 5)`, the class is `4k - 20 + (last >> (k - 2))`, whose
/// last term is `last`'s top three bits (4..=7) above 64 and `last / 8`
/// below. `CLASSES` or more when no class is large enough.
///
/// The alignment rounding in `last_byte` is enough for alignment: a size
/// that is a multiple of `2^p` either is a class size (when `2^p` is at
/// least a quarter of its octave, all multiples of it in the octave are
/// classes) or falls in a class whose step is a multiple of `2^p`; slots
/// sit at multiples of their size from an end aligned to the slab's
/// `max_align`, so they are aligned to any power of two up to that which
/// divides the class size.
pub(crate) const fn class_by_formula(last: usize) -> usize {
    let k = (usize::BITS - 1 - (last | 32).leading_zeros()) as usize;
    4 * k - 20 + (last >> (k - 2))
}
