//! Bit scans on the hot paths: the index of a word's highest or lowest set
//! bit, for words known not to be zero.
//!
//! Most targets scan in one or two instructions. Armv6-M and Armv8-M
//! Baseline (`thumbv6m`, `thumbv8m.base`) have no count-leading-zeros
//! instruction: there `leading_zeros` and `trailing_zeros` are calls of
//! `__clzsi2`, about 30 instructions and a call each, several per
//! allocation. `build.rs` sets `rtarena_soft_clz` for those targets, and
//! the scans become inline: a de Bruijn multiply and a 32-entry table,
//! about 15 instructions for the highest bit and 6 for the lowest, and
//! for a word with a known bound (a TLSF block size, a bitmap) a 256-entry
//! byte table after one test per byte the bound leaves, about 6.

use core::num::NonZeroUsize;

/// Index of the highest set bit of `x`.
#[inline(always)]
pub(crate) const fn highest_bit(x: NonZeroUsize) -> u32 {
    #[cfg(not(rtarena_soft_clz))]
    {
        usize::BITS - 1 - x.leading_zeros()
    }
    #[cfg(rtarena_soft_clz)]
    {
        soft::highest_bit(x.get() as u32)
    }
}

/// Index of the highest set bit of `x`, where `x < 2^bits` is known from
/// the caller's configuration (a bound that does not hold gives a wrong
/// index, never a read out of bounds). The same as `highest_bit` where a
/// bit-scan instruction exists; without one, a byte table and a test per
/// range of bytes the bound leaves: no test at all for `bits <= 8`, one
/// for `bits <= 16`, two for 32. About 6 instructions for a `SmallTlsf`
/// size (in granules), against 15 for the de Bruijn scan.
#[inline(always)]
pub(crate) const fn highest_bit_below(x: NonZeroUsize, bits: u32) -> u32 {
    #[cfg(not(rtarena_soft_clz))]
    {
        let _ = bits;
        usize::BITS - 1 - x.leading_zeros()
    }
    #[cfg(rtarena_soft_clz)]
    {
        soft::highest_bit_below(x.get() as u32, bits)
    }
}

/// Index of the lowest set bit of `x`, which is not 0.
#[inline(always)]
pub(crate) const fn lowest_bit(x: usize) -> u32 {
    debug_assert!(x != 0);
    #[cfg(not(rtarena_soft_clz))]
    {
        x.trailing_zeros()
    }
    #[cfg(rtarena_soft_clz)]
    {
        soft::lowest_bit(x as u32)
    }
}

/// Index of the lowest set bit of `x`, which is not 0.
#[inline(always)]
pub(crate) const fn lowest_bit_u32(x: u32) -> u32 {
    debug_assert!(x != 0);
    #[cfg(not(rtarena_soft_clz))]
    {
        x.trailing_zeros()
    }
    #[cfg(rtarena_soft_clz)]
    {
        soft::lowest_bit(x)
    }
}

/// The scans without a bit-scan instruction, for 32-bit words. A de Bruijn
/// multiplier maps each of 32 words with one bit pattern (a single bit, or
/// all bits up to one) to a distinct top five bits; a table turns those
/// into the bit's index. The tables are built here from the multipliers,
/// and the build fails if a multiplier does not give 32 distinct slots.
#[cfg(any(rtarena_soft_clz, test))]
mod soft {
    const HIGH_MUL: u32 = 0x07C4_ACDD;
    const LOW_MUL: u32 = 0x077C_B531;
    /// `HIGH[(m * HIGH_MUL) >> 27] == i` for `m` the mask of bits `0..=i`.
    const HIGH: [u8; 32] = table(HIGH_MUL, true);
    /// `LOW[(b * LOW_MUL) >> 27] == i` for `b` the word of bit `i` alone.
    const LOW: [u8; 32] = table(LOW_MUL, false);

    const fn table(mul: u32, masks: bool) -> [u8; 32] {
        let mut table = [u8::MAX; 32];
        let mut i = 0;
        while i < 32 {
            let word = if masks { u32::MAX >> (31 - i) } else { 1 << i };
            let slot = (word.wrapping_mul(mul) >> 27) as usize;
            assert!(table[slot] == u8::MAX, "not a de Bruijn multiplier");
            table[slot] = i as u8;
            i += 1;
        }
        table
    }

    /// `BYTE[i]` is the index of the highest set bit of `i` (0 for 0).
    const BYTE: [u8; 256] = {
        let mut table = [0; 256];
        let mut i = 2;
        while i < 256 {
            table[i] = table[i / 2] + 1;
            i += 1;
        }
        table
    };

    /// The highest set bit of the byte at `shift`: the byte is masked, so
    /// a caller's wrong bound gives a wrong index, never a wild read.
    #[inline(always)]
    const fn byte(x: u32, shift: u32) -> u32 {
        shift + BYTE[((x >> shift) & 0xff) as usize] as u32
    }

    /// `x < 2^bits`, `x != 0`: a binary search over the bytes that the
    /// bound leaves (folded away where `bits` is a constant), then the
    /// byte's table entry.
    #[inline(always)]
    pub(super) const fn highest_bit_below(x: u32, bits: u32) -> u32 {
        if bits > 16 && x >> 16 != 0 {
            if bits > 24 && x >> 24 != 0 {
                byte(x, 24)
            } else {
                byte(x, 16)
            }
        } else if bits > 8 && x >> 8 != 0 {
            byte(x, 8)
        } else {
            byte(x, 0)
        }
    }

    /// Every bit below the highest set, then the mask's slot.
    #[inline(always)]
    pub(super) const fn highest_bit(mut x: u32) -> u32 {
        x |= x >> 1;
        x |= x >> 2;
        x |= x >> 4;
        x |= x >> 8;
        x |= x >> 16;
        HIGH[(x.wrapping_mul(HIGH_MUL) >> 27) as usize] as u32
    }

    /// The lowest set bit alone, then its slot.
    #[inline(always)]
    pub(super) const fn lowest_bit(x: u32) -> u32 {
        LOW[((x & x.wrapping_neg()).wrapping_mul(LOW_MUL) >> 27) as usize] as u32
    }

    #[test]
    fn the_scans_agree_with_the_instructions() {
        let mut x = 0x9e37_79b9_u32;
        // Arithmetic and in-bounds table reads: Miri adds little here, and
        // the full run took most of CI's Miri step.
        for _ in 0..if cfg!(miri) { 2_000 } else { 100_000 } {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            for word in [x, x >> (x % 32), 1 << (x % 32)] {
                if word != 0 {
                    assert_eq!(highest_bit(word), 31 - word.leading_zeros(), "{word:#x}");
                    assert_eq!(lowest_bit(word), word.trailing_zeros(), "{word:#x}");
                    let top = 31 - word.leading_zeros();
                    for bits in top + 1..=32 {
                        assert_eq!(highest_bit_below(word, bits), top, "{word:#x} {bits}");
                    }
                }
            }
        }
    }
}
