//! Size classes of the TLSF: how a block size maps to a free list, and the
//! named configurations.
//!
//! A configuration is two numbers. First level `fl` holds the blocks of
//! `2^(fl+1)` to `2^(fl+2) - 1` granules, and `FL` levels stack up to the
//! largest block. Each level is split into `SL` second-level lists of equal
//! width; a low level with fewer than `SL` sizes in it has one list per size
//! and leaves the rest of its lists unused. That costs a few list heads but
//! makes the mapping from a size to its list five branch-free instructions
//! (a bit scan and a rotate), which matters because it runs two to four
//! times per allocate or free.

use core::hint::assert_unchecked;
use core::mem::size_of;
use core::num::NonZeroUsize;

use crate::bits::{highest_bit, highest_bit_below};

/// One machine word: the header of an allocated block.
pub(crate) const WORD: usize = size_of::<usize>();

/// Every block size is a multiple of this, and so is every payload address:
/// blocks start one word before a granule boundary, so the payload after
/// the one-word header is granule-aligned. Two words: 16 B on 64-bit targets
/// (the alignment `malloc` gives), 8 B on 32-bit ones (that of `u64`).
pub const GRANULE: usize = 2 * WORD;

/// Bytes before every payload: the one-word header of an allocated block,
/// its whole per-block overhead.
pub const HEADER: usize = WORD;

/// Bytes of each pool that no block can use: the word before the first block
/// (blocks start one word before a granule boundary) and the one-word
/// sentinel that closes the pool.
pub const POOL_OVERHEAD: usize = 2 * WORD;

/// `log2(GRANULE)`.
pub(crate) const GRANULE_LOG2: u32 = GRANULE.trailing_zeros();

/// The smallest block: a size word, two free-list links and the footer that
/// lets the next block find this one when it is free.
pub const MIN_BLOCK: usize = 4 * WORD;

/// Number of first levels a configuration needs to accept pools of up to
/// `max_pool` bytes.
///
/// Used to build the named configurations; also handy for a custom one:
/// `GenericTlsf<'p, { fl_len(1 << 20) }, 16>` serves pools up to 1 MiB.
pub const fn fl_len(max_pool: usize) -> usize {
    // The largest block of such a pool is a little smaller than the pool.
    let granules = max_pool.saturating_sub(1) / GRANULE;
    if granules < 4 {
        return 1;
    }
    (usize::BITS - 1 - granules.leading_zeros()) as usize
}

/// Largest block size (bytes) that a configuration with `fl` first levels
/// can file in a list: one granule below `GRANULE * 2^(fl + 1)`.
pub(crate) const fn max_block(fl: usize) -> usize {
    let shift = GRANULE_LOG2 as usize + fl + 1;
    if shift >= usize::BITS as usize - 1 {
        // The configuration covers more than the address space; no block
        // can be larger than `isize::MAX` anyway.
        return isize::MAX as usize & !(GRANULE - 1);
    }
    (1usize << shift) - GRANULE
}

/// Compile-time validation of a configuration, evaluated once per
/// instantiation of `GenericTlsf<FL, SL>`.
pub(crate) const fn validate(fl: usize, sl: usize) {
    assert!(sl.is_power_of_two(), "SL must be a power of two");
    assert!(
        sl >= 2 && sl <= 32,
        "SL must be in 2..=32 (one u32 bitmap per level)"
    );
    assert!(fl >= 1, "FL must be at least 1");
    assert!(
        fl <= usize::BITS as usize,
        "FL must fit the first-level bitmap (one usize)"
    );
    assert!(
        max_block(fl) >= MIN_BLOCK,
        "the configuration cannot hold even the smallest block"
    );
}

/// The free list `(fl, sl)` a block of `size` bytes belongs to.
///
/// `size` is a multiple of `GRANULE` (no flag bits), at least `MIN_BLOCK`
/// (two granules). The mapping works on the size in bytes, not in
/// granules: rotating the bytes by `GRANULE_LOG2` more than the granules
/// gives the same bits, and spares a shift. Below `SL` granules per level
/// the rotation turns into a left shift that moves the level's leading bit
/// out of the mask, so each size there gets a list of its own.
#[inline(always)]
pub(crate) const fn list_of(size: usize, sl_log2: u32, fl_len: usize) -> (usize, usize) {
    let top = top_bit(size, size_bits(fl_len));
    list_at_top(size, top, sl_log2)
}

/// The list of `size`, whose highest set bit is `top`. Where a shift
/// folds into the mask (a bit-field extract: not on Armv6-M, where this
/// measured 11 instructions longer a `SmallTlsf` free), the rotation is by
/// the level, `top - GRANULE_LOG2 - 1`, and the bits taken from further up
/// where `SL` is below `2^(GRANULE_LOG2 + 1)` (a `SmallTlsf`): the same
/// bits as a rotation by `top - sl_log2` (what the rotation moves to the
/// top is masked away), with one register for the level and the rotation
/// (Cortex-M4: one instruction less per list).
#[inline(always)]
const fn list_at_top(size: usize, top: u32, sl_log2: u32) -> (usize, usize) {
    let fl = top as usize - GRANULE_LOG2 as usize - 1;
    let sl = if !cfg!(rtarena_soft_clz) && sl_log2 <= GRANULE_LOG2 + 1 {
        (size.rotate_right(fl as u32) >> (GRANULE_LOG2 + 1 - sl_log2)) & ((1 << sl_log2) - 1)
    } else {
        size.rotate_right(top.wrapping_sub(sl_log2)) & ((1 << sl_log2) - 1)
    };
    (fl, sl)
}

/// The first list whose every block is at least `size` bytes: `size` rounded
/// up to the next list boundary, then mapped. The result may be past the last
/// level (`fl >= fl_len`); the caller treats that as "no such list".
#[inline(always)]
pub(crate) const fn list_at_least(size: usize, sl_log2: u32, fl_len: usize) -> (usize, usize) {
    let bits = size_bits(fl_len);
    // Where the bit scan relies on the bound (see `top_bit`), a size past
    // it finds no list, as it would past the last level.
    if cfg!(rtarena_soft_clz) && bits < usize::BITS && size >> bits != 0 {
        return (fl_len, 0);
    }
    let top = top_bit(size, bits);
    // One less than a list's width at this level in granules,
    // `2^(top - GRANULE_LOG2 - sl_log2) - 1`, and 0 below `SL` granules,
    // where each size has a list of its own: `top - GRANULE_LOG2 + 1` low
    // bits set, shifted right by `sl_log2 + 1`. A constant shifted by the
    // leading zeros (each shift by less than the word's width), no
    // saturating subtraction.
    let step_mask = (usize::MAX >> (sl_log2 + 1 + GRANULE_LOG2)) >> (usize::BITS - 1 - top);
    // `size < isize::MAX + GRANULE` (a `Layout`'s size with its header,
    // rounded), so this cannot overflow; the sum stays a multiple of the
    // granule, and below `2^(bits + 1)`.
    let size = size + (step_mask << GRANULE_LOG2);
    // The sum is below `2^(top + 2)`: its top bit is `top` or the next.
    // Without a bit-scan instruction a shift finds out for less than a
    // second scan (two shifts: `top + 1` may be the word's width).
    let top = if cfg!(rtarena_soft_clz) {
        top + ((size >> top) >> 1) as u32
    } else {
        top_bit(size, bits + 1)
    };
    list_at_top(size, top, sl_log2)
}

/// Bits of the largest block size with `fl_len` first levels: every block
/// size is below `2^size_bits(fl_len)`.
#[inline(always)]
const fn size_bits(fl_len: usize) -> u32 {
    let bits = GRANULE_LOG2 as usize + fl_len + 1;
    if bits > usize::BITS as usize {
        usize::BITS
    } else {
        bits as u32
    }
}

/// `floor(log2(size))` for a block's size, a multiple of the granule, at
/// least `MIN_BLOCK` and below `2^bits`. Telling the compiler that it is
/// not zero makes this one bit-scan instruction (see `bits`); without
/// one, the scan of the size in granules takes a byte table and a test
/// per byte the bound leaves (one for a `SmallTlsf`).
#[inline(always)]
const fn top_bit(size: usize, bits: u32) -> u32 {
    debug_assert!(size >= MIN_BLOCK);
    let top = if cfg!(rtarena_soft_clz) {
        let granules = size >> GRANULE_LOG2;
        let bits = bits.saturating_sub(GRANULE_LOG2);
        // SAFETY: every block is at least `MIN_BLOCK` bytes, two granules.
        highest_bit_below(unsafe { NonZeroUsize::new_unchecked(granules) }, bits) + GRANULE_LOG2
    } else {
        // SAFETY: every block is at least `MIN_BLOCK` bytes.
        highest_bit(unsafe { NonZeroUsize::new_unchecked(size) })
    };
    // Told, the compiler knows that a level computed from `top` does not
    // wrap below 0, and drops the test of it against `FL` where `FL`
    // covers every size the word can hold: a `Tlsf` on 32-bit targets. On
    // 64-bit ones no such test goes, and the hint measured 2 instructions
    // longer an allocate+free pair on x86-64 (callgrind).
    if usize::BITS == 32 {
        // SAFETY: as just said, `size >= MIN_BLOCK`.
        unsafe { assert_unchecked(top >= MIN_BLOCK.trailing_zeros()) };
    }
    top
}
