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
//! octave, which is what makes the alignment rounding enough (see
//! [`class_of`]).

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

/// The class whose slots hold `size` bytes (`size` already rounded up to the
/// alignment); `CLASSES` or more when no class does, including for `size ==
/// 0`.
///
/// Branch-free: with `x = size - 1` and `k = max(log2 x, 5)`, the class is
/// `4k - 20 + (x >> (k - 2))`, whose last term is `x`'s top three bits
/// (4..=7) above 64 and `x / 8` below.
///
/// The alignment rounding is enough: a size that is a multiple of `2^p`
/// either is a class size (when `2^p` is at least a quarter of its octave,
/// all multiples of it in the octave are classes) or falls in a class whose
/// step is a multiple of `2^p`; slots sit at multiples of their size from a
/// page-aligned end, so they are aligned to any power of two that divides
/// the class size.
#[inline(always)]
pub(crate) const fn class_of(size: usize) -> usize {
    let x = size.wrapping_sub(1);
    let k = (usize::BITS - 1 - (x | 32).leading_zeros()) as usize;
    4 * k - 20 + (x >> (k - 2))
}
