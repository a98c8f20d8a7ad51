//! Size classes of the TLSF: how a block size maps to a free list, and the
//! named configurations.
//!
//! A configuration is two numbers. `SL` second-level lists split every
//! power-of-two range of sizes into `SL` equal parts; `FL` first-level ranges
//! stack those up to the largest block. Sizes below `SL * GRANULE` are a
//! linear range of their own (first level 0), one list per granule.

use core::mem::size_of;

/// One machine word: the header of an allocated block.
pub(crate) const WORD: usize = size_of::<usize>();

/// Every block size and block address is a multiple of this.
pub const GRANULE: usize = WORD;

/// `log2(GRANULE)`.
pub(crate) const GRANULE_LOG2: u32 = GRANULE.trailing_zeros();

/// The smallest block: a size word, two free-list links and the footer that
/// lets the next block find this one when it is free.
pub const MIN_BLOCK: usize = 4 * WORD;

/// Number of first-level ranges a configuration with `sl` second-level lists
/// needs to accept pools of up to `max_pool` bytes.
///
/// Used to build the named configurations; also handy for a custom one:
/// `GenericTlsf<'p, { fl_len(1 << 20, 16) }, 16>` serves pools up to 1 MiB.
pub const fn fl_len(max_pool: usize, sl: usize) -> usize {
    assert!(sl.is_power_of_two(), "SL must be a power of two");
    // The largest block of such a pool is a little smaller than the pool.
    let granules = max_pool.saturating_sub(1) / GRANULE;
    let sl_log2 = sl.trailing_zeros();
    if granules < sl {
        return 1;
    }
    // Level `fl >= 1` holds sizes in granules in [sl << (fl - 1), sl << fl).
    let top = usize::BITS - 1 - granules.leading_zeros();
    (top - sl_log2 + 2) as usize
}

/// Largest block size (bytes) that a `(FL, SL)` configuration can file in a
/// list: one granule below `GRANULE * SL * 2^(FL-1)`.
pub(crate) const fn max_block(fl: usize, sl: usize) -> usize {
    let shift = GRANULE_LOG2 as usize + sl.trailing_zeros() as usize + fl - 1;
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
        max_block(fl, sl) >= MIN_BLOCK,
        "the configuration cannot hold even the smallest block"
    );
}

/// The free list `(fl, sl)` a block of `size` bytes belongs to.
///
/// `size` is a multiple of `GRANULE`, at least `MIN_BLOCK`.
#[inline(always)]
pub(crate) const fn list_of(size: usize, sl_log2: u32) -> (usize, usize) {
    let linear_end = GRANULE << sl_log2;
    if size < linear_end {
        (0, size >> GRANULE_LOG2)
    } else {
        let top = usize::BITS - 1 - size.leading_zeros();
        let fl = top - sl_log2 - GRANULE_LOG2 + 1;
        let sl = (size >> (top - sl_log2)) ^ (1 << sl_log2);
        (fl as usize, sl)
    }
}

/// The first list whose every block is at least `size` bytes: `size` rounded
/// up to the next list boundary, then mapped. The result may be past the last
/// level (`fl >= FL`); the caller treats that as "no such list".
#[inline(always)]
pub(crate) const fn list_at_least(size: usize, sl_log2: u32) -> (usize, usize) {
    let linear_end = GRANULE << sl_log2;
    if size < linear_end {
        (0, size >> GRANULE_LOG2)
    } else {
        let top = usize::BITS - 1 - size.leading_zeros();
        let step = 1usize << (top - sl_log2);
        // `size <= max_block < isize::MAX`, so this cannot overflow.
        list_of((size + step - 1) & !(step - 1), sl_log2)
    }
}
