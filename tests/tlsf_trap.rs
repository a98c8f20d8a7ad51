//! Regression tests for the classic TLSF trap: a request is rounded up to the
//! next free-list boundary before the list search, so a block of exactly the
//! right size that sits in the list below the rounded size is skipped. If
//! that block is the only free space, freeing a block and allocating the same
//! layout again fails. rtarena promises it never does (DESIGN.md, "Rules that
//! make it real-time").
//!
//! Each case builds the situation on purpose: a pool filled with blocks of the
//! layout and then with filler (so nothing else is free), one block in the
//! middle freed, the same layout allocated again. The stats confirm that the
//! freed block is the only free space, and the list arithmetic confirms that
//! the normal search skips it, so the case really is the trap.

mod common;

use std::alloc::Layout;

use common::{MIRI, PoolBuf, round_up};
use rtarena::tlsf::config::{GRANULE, HEADER, MIN_BLOCK, POOL_OVERHEAD, fl_len};
use rtarena::{GenericTlsf, LargeTlsf, SmallTlsf, Stats, Tlsf};

/// First-level counts of the named configurations (checked below to name
/// the same types).
const DEFAULT_FL: usize = fl_len(if usize::BITS > 32 {
    1 << 32
} else {
    usize::MAX
});
const SMALL_FL: usize = fl_len(1 << 16);
const LARGE_FL: usize = fl_len(isize::MAX as usize);

#[test]
fn named_configurations_are_the_ones_tested() {
    let _: Tlsf = GenericTlsf::<DEFAULT_FL, 16>::empty();
    let _: SmallTlsf = GenericTlsf::<SMALL_FL, 8>::empty();
    let _: LargeTlsf = GenericTlsf::<LARGE_FL, 16>::empty();
}

/// The block size (header included) the TLSF uses for a request.
fn block_size(size: usize) -> usize {
    round_up(size + HEADER, GRANULE).max(MIN_BLOCK)
}

/// The size the normal (good-fit) search looks for: room for the block plus
/// any alignment gap.
fn search_size(layout: Layout) -> usize {
    let block = block_size(layout.size());
    if layout.align() > GRANULE {
        block + layout.align() - GRANULE
    } else {
        block
    }
}

/// The smallest list boundary at or above `size` with `sl` second-level
/// lists: a level of `2^top` to `2^(top+1) - 1` granules has `sl` lists,
/// each `2^(top - log2 sl)` granules wide (one granule at least, so small
/// levels have one list per size).
fn list_ceil(size: usize, sl: usize) -> usize {
    let granules = size.div_ceil(GRANULE);
    let top = usize::BITS - 1 - granules.leading_zeros();
    let step = 1usize << top.saturating_sub(sl.trailing_zeros());
    round_up(granules, step) * GRANULE
}

/// Every list boundary (block sizes) from the end of the linear range up to
/// `max`.
fn list_boundaries(sl: usize, max: usize) -> Vec<usize> {
    let mut out = Vec::new();
    let mut base = GRANULE * sl;
    while base <= max {
        let step = base / sl;
        out.extend((0..sl).map(|k| base + k * step).filter(|&b| b <= max));
        base *= 2;
    }
    out
}

/// Request sizes whose block sizes are just below, at and just above every
/// list boundary up to `max`.
fn around_boundaries(sl: usize, max: usize) -> Vec<usize> {
    let mut sizes: Vec<usize> = list_boundaries(sl, max)
        .into_iter()
        .flat_map(|b| [b - 2 * GRANULE, b - GRANULE, b, b + GRANULE])
        .filter(|&block| block >= MIN_BLOCK)
        .map(|block| block - HEADER)
        .chain([1, 7, 8, 9])
        .collect();
    sizes.sort_unstable();
    sizes.dedup();
    sizes
}

#[derive(Debug, Default)]
struct Counts {
    cases: usize,
    /// Cases where the freed block was the only free space and the normal
    /// search (rounded up) skips its list.
    traps: usize,
}

impl Counts {
    fn record(&mut self, trap: bool) {
        self.cases += 1;
        self.traps += trap as usize;
    }
}

/// Fills a pool with blocks of `layout`, then takes every remaining free
/// block whole, frees a block in the middle and allocates `layout` again.
/// Returns whether the case was the trap (see `Counts::traps`).
///
/// With `fill_gaps == false`, the filler step is skipped: the gaps that
/// aligned allocations leave stay free, so the freed block coalesces with
/// its gap; the reallocation must still succeed.
fn trap_in_the_middle<const FL: usize, const SL: usize>(
    buf: &mut PoolBuf,
    layout: Layout,
    fill_gaps: bool,
) -> bool {
    let bs = block_size(layout.size());
    let per_block = bs
        + if layout.align() > GRANULE {
            layout.align()
        } else {
            0
        };
    let pool_len = (4 * per_block + POOL_OVERHEAD).min(GenericTlsf::<FL, SL>::MAX_POOL);
    let what = format!("{layout:?}, SL {SL}, fill_gaps {fill_gaps}");
    let mut tlsf = GenericTlsf::<FL, SL>::new(&mut buf.slice()[..pool_len]).unwrap();

    let mut blocks = Vec::new();
    while let Ok(block) = tlsf.allocate(layout) {
        blocks.push(block.cast::<u8>());
        assert!(
            blocks.len() <= pool_len / bs,
            "{what}: more blocks than the pool can hold"
        );
    }
    assert!(
        blocks.len() >= 3,
        "{what}: only {} blocks fit",
        blocks.len()
    );
    if fill_gaps {
        // Take the remaining free blocks whole: allocating exactly the
        // listed largest block is itself the trap, for its size.
        let mut fillers = 0;
        loop {
            let largest = tlsf.stats().largest_free;
            if largest == 0 {
                break;
            }
            let filler = Layout::from_size_align(largest - HEADER, 1).unwrap();
            tlsf.allocate(filler).unwrap_or_else(|_| {
                panic!("{what}: the free block of {largest} bytes could not be taken whole")
            });
            fillers += 1;
            assert!(fillers <= 64, "{what}: filler does not converge");
        }
        assert_eq!(tlsf.stats().free, 0, "{what}: free space left");
    }

    let victim = blocks[blocks.len() / 2];
    let before = tlsf.stats();
    // SAFETY: `victim` was allocated with `layout` and is live.
    unsafe { tlsf.deallocate(victim, layout) };
    let freed = tlsf.stats();
    // The victim's whole block, with the pad before an aligned payload.
    let victim_block = before.in_use - freed.in_use;
    let most_pad = layout.align().max(GRANULE) - GRANULE;
    let trap = if fill_gaps {
        // Its neighbours are allocated: the freed block alone is free.
        assert_eq!(freed.free, victim_block, "{what}: {freed:?}");
        assert_eq!(
            freed.largest_free, victim_block,
            "{what}: the freed block is not the only free block"
        );
        assert!(
            victim_block >= bs && victim_block < bs + MIN_BLOCK + most_pad,
            "{what}"
        );
        // The normal search starts at the list boundary at or above the
        // search size; the freed block is below it.
        victim_block < list_ceil(search_size(layout), SL)
    } else {
        false
    };

    let again = tlsf
        .allocate(layout)
        .unwrap_or_else(|_| panic!("{what}: allocating the just-freed layout failed ({freed:?})"));
    let ptr = again.cast::<u8>();
    assert_eq!(ptr.as_ptr().addr() % layout.align(), 0, "{what}");
    assert!(again.len() >= layout.size(), "{what}");
    if fill_gaps {
        assert_eq!(
            ptr, victim,
            "{what}: the only free space is the freed block"
        );
        assert_eq!(
            tlsf.stats(),
            Stats {
                allocations: before.allocations + 1,
                deallocations: before.deallocations + 1,
                ..before
            }
        );
    } else {
        assert_eq!(tlsf.stats().failures, freed.failures, "{what}");
    }
    tlsf.check().unwrap_or_else(|e| panic!("{what}: {e}"));
    trap
}

/// A pool that is exactly one block of the layout's size: allocate it, free
/// it, allocate it again. The trap whenever that block size is not at a list
/// boundary.
fn trap_single_block<const FL: usize, const SL: usize>(buf: &mut PoolBuf, layout: Layout) -> bool {
    assert!(layout.align() <= GRANULE);
    let bs = block_size(layout.size());
    let mut tlsf = GenericTlsf::<FL, SL>::new(&mut buf.slice()[..bs + POOL_OVERHEAD]).unwrap();
    let s = tlsf.stats();
    assert_eq!((s.capacity, s.largest_free), (bs, bs));
    let first = tlsf.allocate(layout).expect("the pool's only block");
    assert_eq!(tlsf.stats().free, 0);
    // SAFETY: `first` is live with `layout`.
    unsafe { tlsf.deallocate(first.cast(), layout) };
    assert_eq!(tlsf.stats().largest_free, bs);
    let again = tlsf
        .allocate(layout)
        .unwrap_or_else(|_| panic!("{layout:?}: reallocating the only block failed"));
    assert_eq!(again.cast::<u8>(), first.cast::<u8>());
    assert_eq!(tlsf.stats().failures, 0);
    tlsf.check().unwrap();
    bs < list_ceil(bs, SL)
}

fn layout(size: usize, align: usize) -> Layout {
    Layout::from_size_align(size, align).unwrap()
}

/// Sizes 1 to `max`; under Miri a spread of them.
fn every_size(max: usize) -> impl Iterator<Item = usize> {
    (1..=max).step_by(if MIRI { 47 } else { 1 })
}

/// Runs the unaligned cases for one configuration; sizes up to `max_small`
/// one by one, then around list boundaries up to `max_block`.
fn unaligned_cases<const FL: usize, const SL: usize>(max_small: usize, max_block: usize) -> Counts {
    let mut buf = PoolBuf::new(4 * block_size(max_block) + 4096);
    let mut counts = Counts::default();
    let mut boundary_sizes = around_boundaries(SL, max_block);
    if MIRI {
        boundary_sizes = boundary_sizes.into_iter().step_by(9).collect();
    }
    for size in every_size(max_small).chain(boundary_sizes) {
        let bs = block_size(size);
        let at_boundary = bs == list_ceil(bs, SL);
        for align in [1, GRANULE] {
            let trap = trap_in_the_middle::<FL, SL>(&mut buf, layout(size, align), true);
            // Unless the block size is itself a boundary, the freed block is
            // skipped by the rounded-up search: the case is the trap.
            assert_eq!(
                trap, !at_boundary,
                "size {size} (block {bs}), SL {SL}: trap not constructed"
            );
            counts.record(trap);
        }
        let trap = trap_single_block::<FL, SL>(&mut buf, layout(size, 1));
        assert_eq!(
            trap, !at_boundary,
            "size {size}: single-block trap not constructed"
        );
        counts.record(trap);
    }
    counts
}

/// Aligned cases: every alignment from 16 to 4096, with and without the
/// gaps that alignment leaves filled.
fn aligned_cases<const FL: usize, const SL: usize>(max_size: usize) -> Counts {
    let mut sizes: Vec<usize> = vec![
        1,
        7,
        8,
        9,
        16,
        24,
        25,
        100,
        255,
        256,
        1000,
        1024,
        4000,
        4096,
        5000,
        16 << 10,
    ];
    sizes.extend(
        around_boundaries(SL, 16 << 10)
            .into_iter()
            .step_by(if MIRI { 24 } else { 3 }),
    );
    sizes.retain(|&s| s <= max_size);
    if MIRI {
        sizes = sizes.into_iter().step_by(2).collect();
    }
    let aligns: Vec<usize> = (4..=12)
        .map(|k| 1 << k)
        .step_by(if MIRI { 2 } else { 1 })
        .collect();
    let mut buf = PoolBuf::new(4 * (block_size(max_size) + 4096 + MIN_BLOCK) + 4096);
    let mut counts = Counts::default();
    for &size in &sizes {
        for &align in &aligns {
            let l = layout(size, align);
            let trap = trap_in_the_middle::<FL, SL>(&mut buf, l, true);
            // Up to the granule, as for unaligned layouts. Above it, the
            // freed block is the layout's block size plus the pad its
            // payload had, usually below the search size (which adds room
            // for the largest pad): the trap, unless the pad was large.
            let bs = block_size(size);
            if align <= GRANULE {
                assert_eq!(trap, bs != list_ceil(bs, SL), "{l:?}: trap not constructed");
            }
            counts.record(trap);
            trap_in_the_middle::<FL, SL>(&mut buf, l, false);
            counts.record(false);
        }
    }
    counts
}

#[test]
fn default_config_every_small_size_and_list_boundaries_to_1mib() {
    let max_block = if MIRI { 16 << 10 } else { 1 << 20 };
    let counts = unaligned_cases::<DEFAULT_FL, 16>(2048, max_block);
    println!("Tlsf, unaligned: {counts:?}");
    assert!(counts.traps * 2 > counts.cases, "{counts:?}");
}

#[test]
fn default_config_aligned() {
    let counts = aligned_cases::<DEFAULT_FL, 16>(16 << 10);
    println!("Tlsf, aligned: {counts:?}");
}

#[test]
fn small_config() {
    // Four blocks must fit a 64 KiB pool.
    let counts = unaligned_cases::<SMALL_FL, 8>(if MIRI { 512 } else { 2048 }, 12 << 10);
    println!("SmallTlsf, unaligned: {counts:?}");
    let counts = aligned_cases::<SMALL_FL, 8>(4096);
    println!("SmallTlsf, aligned: {counts:?}");
}

#[test]
fn large_config() {
    let max_block = if MIRI { 4 << 10 } else { 1 << 20 };
    let counts = unaligned_cases::<LARGE_FL, 16>(if MIRI { 256 } else { 1024 }, max_block);
    println!("LargeTlsf, unaligned: {counts:?}");
}

#[test]
fn custom_configs_coarse_and_fine() {
    const FINE: usize = fl_len(1 << 23);
    const COARSE: usize = fl_len(1 << 23);
    let max_block = if MIRI { 8 << 10 } else { 1 << 20 };
    let max_small = if MIRI { 256 } else { 2048 };
    let fine = unaligned_cases::<FINE, 32>(max_small, max_block);
    let coarse = unaligned_cases::<COARSE, 2>(max_small, max_block);
    println!("SL 32: {fine:?}, SL 2: {coarse:?}");
    if !MIRI {
        aligned_cases::<COARSE, 2>(4096);
    }
}

/// The same guarantee seen through the `Allocator` trait on an arena.
#[cfg(feature = "allocator-api2")]
#[test]
fn through_the_arena() {
    use allocator_api2::alloc::Allocator;
    use rtarena::Arena;

    let mut buf = PoolBuf::new(64 << 10);
    for size in (1..=2048).step_by(if MIRI { 97 } else { 1 }) {
        let l = layout(size, 8);
        let bs = block_size(size);
        let arena = Arena::new(Tlsf::new(&mut buf.slice()[..bs + POOL_OVERHEAD]).unwrap());
        let a = &arena;
        let first = Allocator::allocate(&a, l).unwrap();
        // SAFETY: `first` is live with `l`.
        unsafe { Allocator::deallocate(&a, first.cast(), l) };
        let again = Allocator::allocate(&a, l)
            .unwrap_or_else(|_| panic!("{l:?}: reallocation through the arena failed"));
        // SAFETY: `again` is live with `l`.
        unsafe { Allocator::deallocate(&a, again.cast(), l) };
        assert_eq!(arena.stats().failures, 0);
    }
}
