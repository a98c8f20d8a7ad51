//! Edge cases: zero-size and huge layouts, pool errors, raw pools and their
//! merging, `reset`, resizing across sizes, the wrappers' in-place resizes,
//! and the debug-build checks on `deallocate`.

mod common;

use std::alloc::Layout;
use std::ptr::NonNull;

use common::{MIRI, PoolBuf};
use rtarena::tlsf::MAX_POOLS;
use rtarena::tlsf::config::{GRANULE, HEADER, MIN_BLOCK, POOL_OVERHEAD, fl_len};
use rtarena::{GenericTlsf, LargeTlsf, PoolError, SmallTlsf, Stats, Tlsf};

fn layout(size: usize, align: usize) -> Layout {
    Layout::from_size_align(size, align).unwrap()
}

/// `stats` after one failed allocation and nothing else.
fn one_more_failure(s: Stats) -> Stats {
    Stats {
        failures: s.failures + 1,
        ..s
    }
}

// ---------------------------------------------------------------------------
// Zero-size layouts.
// ---------------------------------------------------------------------------

/// Alignments of zero-size layouts to try: every power of two to 4096, and
/// a few far larger (up to the largest a `Layout` allows).
fn zst_aligns() -> impl Iterator<Item = usize> {
    (0..=12)
        .chain([20, 40, usize::BITS - 1])
        .map(|k| 1usize << k)
}

#[test]
fn zero_size_layouts_get_aligned_dangling_pointers() {
    let mut buf = PoolBuf::new(4096);
    let range = buf.range();
    let mut tlsf = Tlsf::new(buf.slice()).unwrap();
    let a = tlsf.allocate(layout(100, 8)).unwrap();
    let before = tlsf.stats();
    for align in zst_aligns() {
        let l = layout(0, align);
        let block = tlsf.allocate(l).unwrap();
        let addr = block.cast::<u8>().as_ptr().addr();
        assert_eq!(block.len(), 0, "{l:?}");
        assert_eq!(addr % align, 0, "{l:?}");
        assert!(!range.contains(&addr), "{l:?}: a pool address");
        // SAFETY: a zero-size block of this heap; freeing it is a no-op.
        unsafe { tlsf.deallocate(block.cast(), l) };
        assert_eq!(
            tlsf.stats(),
            before,
            "{l:?}: a zero-size allocation touched the heap"
        );
    }
    // Deallocating any aligned dangling pointer with a zero-size layout is a
    // no-op, even twice.
    let l = layout(0, 64);
    let dangling = NonNull::new(std::ptr::without_provenance_mut::<u8>(64)).unwrap();
    // SAFETY: zero-size deallocations are no-ops.
    unsafe {
        tlsf.deallocate(dangling, l);
        tlsf.deallocate(dangling, l);
    }
    assert_eq!(tlsf.stats(), before);
    tlsf.check().unwrap();
    // SAFETY: `a` is live with this layout.
    unsafe { tlsf.deallocate(a.cast(), layout(100, 8)) };
}

#[test]
fn zero_size_layouts_on_a_heap_without_pools() {
    let mut tlsf = Tlsf::empty();
    for align in zst_aligns() {
        let block = tlsf
            .allocate(layout(0, align))
            .expect("zero-size allocations need no memory");
        assert_eq!(block.cast::<u8>().as_ptr().addr() % align, 0);
    }
    assert_eq!(tlsf.stats(), Stats::default());
    assert!(tlsf.allocate(layout(1, 1)).is_err());
    assert_eq!(
        tlsf.stats(),
        Stats {
            failures: 1,
            ..Stats::default()
        }
    );
    tlsf.check().unwrap();
}

// ---------------------------------------------------------------------------
// Huge layouts and alignments.
// ---------------------------------------------------------------------------

/// Layouts no heap of the tests can serve, many near `isize::MAX`, where
/// unchecked size arithmetic would wrap to a tiny block.
fn huge_layouts() -> Vec<Layout> {
    let max = isize::MAX as usize;
    let mut v = vec![
        layout(max, 1),
        layout(max - 1, 1),
        layout(max - 7, 8),
        layout(max - 8, 8),
        layout(max - 15, 8),
        layout(max - 16, 8),
        layout(max - 4095, 4096),
        layout(max - (1 << 20) + 1, 1 << 20),
        layout(max / 2 + 1, 1),
        layout(max / 2, 1 << 12),
        layout(1 << 40, 8),
        layout(1 << 32, 8),
        layout((1 << 32) - 64, 8),
        layout(1, 1 << 62),
        layout(4096, 1 << 62),
        layout(1, 1 << 40),
        layout((1 << 62) - 4096, 4096),
    ];
    // The largest sizes each alignment allows, where adding a header and
    // rounding up would wrap around if unchecked.
    for align in [1, 8, 16, 4096] {
        for back in 0..(2 * GRANULE + MIN_BLOCK) {
            v.push(layout(max - (align - 1) - back, align));
        }
    }
    v
}

/// Every huge layout fails, counts a failure, and leaves the heap usable.
fn huge_layouts_fail<const FL: usize, const SL: usize>(tlsf: &mut GenericTlsf<'_, FL, SL>) {
    let live = tlsf.allocate(layout(64, 8)).ok();
    for (i, l) in huge_layouts().into_iter().enumerate() {
        let before = tlsf.stats();
        assert!(tlsf.allocate(l).is_err(), "{l:?} succeeded");
        assert_eq!(tlsf.stats(), one_more_failure(before), "{l:?}");
        // The full check walks every list: under Miri, now and then.
        if !MIRI || i % 16 == 0 {
            tlsf.check().unwrap_or_else(|e| panic!("{l:?}: {e}"));
        }
    }
    tlsf.check().unwrap();
    if let Some(p) = live {
        // SAFETY: allocated above with this layout.
        unsafe { tlsf.deallocate(p.cast(), layout(64, 8)) };
        let p = tlsf
            .allocate(layout(1000, 64))
            .expect("the heap still works");
        // SAFETY: just allocated.
        unsafe { tlsf.deallocate(p.cast(), layout(1000, 64)) };
    }
    assert_eq!(tlsf.stats().in_use, 0);
}

#[test]
fn huge_layouts_fail_cleanly_in_every_configuration() {
    let mut buf = PoolBuf::new(16 << 10);
    huge_layouts_fail(&mut Tlsf::new(buf.slice()).unwrap());
    huge_layouts_fail(&mut SmallTlsf::new(buf.slice()).unwrap());
    huge_layouts_fail(&mut LargeTlsf::new(buf.slice()).unwrap());
    huge_layouts_fail(&mut GenericTlsf::<{ fl_len(1 << 14) }, 4>::new(buf.slice()).unwrap());
    huge_layouts_fail(&mut Tlsf::empty());
    huge_layouts_fail(&mut LargeTlsf::empty());
}

#[test]
fn largest_allocation_a_configuration_allows() {
    // SmallTlsf: one pool of MAX_POOL bytes is one block of MAX_BLOCK bytes,
    // which holds MAX_ALLOC bytes and not one more.
    let mut buf = PoolBuf::new(SmallTlsf::MAX_POOL);
    let mut tlsf = SmallTlsf::new(buf.slice()).unwrap();
    assert_eq!(tlsf.stats().capacity, SmallTlsf::MAX_BLOCK);
    assert_eq!(tlsf.stats().largest_free, SmallTlsf::MAX_BLOCK);
    assert!(tlsf.allocate(layout(SmallTlsf::MAX_ALLOC + 1, 1)).is_err());
    let all = layout(SmallTlsf::MAX_ALLOC, 1);
    let block = tlsf.allocate(all).expect("MAX_ALLOC fits the largest pool");
    assert_eq!(block.len(), SmallTlsf::MAX_ALLOC);
    assert_eq!(tlsf.stats().free, 0);
    tlsf.check().unwrap();
    // SAFETY: live with `all`.
    unsafe { tlsf.deallocate(block.cast(), all) };
    assert_eq!(tlsf.stats().largest_free, SmallTlsf::MAX_BLOCK);
}

/// A pool that contains no address aligned to 1 MiB (or 64 KiB): such
/// alignments must fail, not return a misaligned or out-of-pool block.
#[test]
fn alignments_larger_than_the_pool_fail() {
    let mut buf = PoolBuf::with_align(2 << 20, 2 << 20);
    // [base + 4 KiB, base + 36 KiB): no multiple of 64 KiB inside.
    let pool = &mut buf.slice()[4096..4096 + (32 << 10)];
    let mut tlsf = Tlsf::new(pool).unwrap();
    for l in [
        layout(1, 1 << 16),
        layout(8, 1 << 20),
        layout(4096, 1 << 20),
        layout(1, 1 << 30),
    ] {
        let before = tlsf.stats();
        assert!(tlsf.allocate(l).is_err(), "{l:?}");
        assert_eq!(tlsf.stats(), one_more_failure(before));
        tlsf.check().unwrap();
    }
    // Smaller alignments still work, up to one that a pool address meets.
    for align in (4..=14).map(|k| 1 << k) {
        let l = layout(100, align);
        let p = tlsf.allocate(l).unwrap_or_else(|_| panic!("{l:?}"));
        assert_eq!(p.cast::<u8>().as_ptr().addr() % align, 0);
        // SAFETY: just allocated.
        unsafe { tlsf.deallocate(p.cast(), l) };
    }
    tlsf.check().unwrap();
}

/// A pool that contains exactly one 64 KiB-aligned address with room: that
/// alignment succeeds there.
#[test]
fn a_large_alignment_the_pool_can_meet() {
    let mut buf = PoolBuf::with_align(256 << 10, 64 << 10);
    let pool = &mut buf.slice()[4096..(64 << 10) + 4096];
    let mut tlsf = Tlsf::new(pool).unwrap();
    let l = layout(1000, 64 << 10);
    let p = tlsf
        .allocate(l)
        .expect("the pool holds a 64 KiB-aligned address");
    assert_eq!(p.cast::<u8>().as_ptr().addr() % (64 << 10), 0);
    tlsf.check().unwrap();
    assert!(tlsf.allocate(l).is_err(), "there is only one such address");
    // SAFETY: live with `l`.
    unsafe { tlsf.deallocate(p.cast(), l) };
    assert_eq!(tlsf.stats().largest_free, tlsf.stats().capacity);
}

// ---------------------------------------------------------------------------
// Pool errors.
// ---------------------------------------------------------------------------

#[test]
fn tiny_pools_are_too_small() {
    let mut buf = PoolBuf::new(4096);
    for len in [
        0,
        1,
        7,
        8,
        31,
        32,
        33,
        Tlsf::MIN_POOL - GRANULE,
        Tlsf::MIN_POOL - 1,
    ] {
        let err = Tlsf::new(&mut buf.slice()[..len]).unwrap_err();
        assert_eq!(
            err,
            PoolError::TooSmall {
                usable: len & !(GRANULE - 1),
                min: Tlsf::MIN_POOL
            },
            "len {len}"
        );
        assert!(err.to_string().contains("too small"));
        let err = SmallTlsf::new(&mut buf.slice()[..len]).unwrap_err();
        assert!(matches!(err, PoolError::TooSmall { .. }), "len {len}");
    }
    // A pool that is just big enough is one minimal block.
    let tlsf = Tlsf::new(&mut buf.slice()[..Tlsf::MIN_POOL]).unwrap();
    assert_eq!(tlsf.stats().capacity, MIN_BLOCK);
    assert_eq!(tlsf.stats().largest_free, MIN_BLOCK);
    // A misaligned start loses the bytes before the first granule.
    let err = Tlsf::new(&mut buf.slice()[1..1 + Tlsf::MIN_POOL]).unwrap_err();
    assert_eq!(
        err,
        PoolError::TooSmall {
            usable: Tlsf::MIN_POOL - GRANULE,
            min: Tlsf::MIN_POOL
        }
    );
    let mut tlsf = Tlsf::new(&mut buf.slice()[1..Tlsf::MIN_POOL + GRANULE]).unwrap();
    assert_eq!(tlsf.stats().capacity, MIN_BLOCK);
    let p = tlsf
        .allocate(layout(MIN_BLOCK - HEADER, 8))
        .expect("the one block");
    assert_eq!(p.cast::<u8>().as_ptr().addr() % GRANULE, 0);
    tlsf.check().unwrap();
}

#[test]
fn oversized_pools_are_too_large() {
    // 128 KiB is more than a SmallTlsf pool may be.
    let mut buf = PoolBuf::new(128 << 10);
    let err = SmallTlsf::new(buf.slice()).unwrap_err();
    assert_eq!(
        err,
        PoolError::TooLarge {
            size: 128 << 10,
            max: SmallTlsf::MAX_POOL
        }
    );
    assert!(err.to_string().contains("too large"));
    let err = SmallTlsf::new(&mut buf.slice()[..SmallTlsf::MAX_POOL + GRANULE]).unwrap_err();
    assert_eq!(
        err,
        PoolError::TooLarge {
            size: SmallTlsf::MAX_POOL + GRANULE,
            max: SmallTlsf::MAX_POOL
        }
    );
    // Its documented limit, 64 KiB, and its exact maximum are accepted.
    const { assert!(SmallTlsf::MAX_POOL >= 64 << 10) };
    SmallTlsf::new(&mut buf.slice()[..64 << 10]).unwrap();
    SmallTlsf::new(&mut buf.slice()[..SmallTlsf::MAX_POOL]).unwrap();
    // A custom configuration for 4 KiB pools.
    type Tiny<'p> = GenericTlsf<'p, { fl_len(4096) }, 4>;
    const { assert!(Tiny::MAX_POOL >= 4096) };
    Tiny::new(&mut buf.slice()[..4096]).unwrap();
    let err = Tiny::new(&mut buf.slice()[..Tiny::MAX_POOL + GRANULE]).unwrap_err();
    assert_eq!(
        err,
        PoolError::TooLarge {
            size: Tiny::MAX_POOL + GRANULE,
            max: Tiny::MAX_POOL
        }
    );
}

#[test]
fn rejected_pools_leave_the_heap_unchanged() {
    let mut a = PoolBuf::new(8192);
    let mut b = PoolBuf::new(128 << 10);
    let mut tiny = PoolBuf::new(16);
    let mut tlsf = SmallTlsf::new(a.slice()).unwrap();
    let p = tlsf.allocate(layout(100, 8)).unwrap();
    let before = tlsf.stats();
    assert!(matches!(
        tlsf.add_pool(b.slice()),
        Err(PoolError::TooLarge { .. })
    ));
    assert!(matches!(
        tlsf.add_pool(tiny.slice()),
        Err(PoolError::TooSmall { .. })
    ));
    assert_eq!(tlsf.stats(), before);
    tlsf.check().unwrap();
    // SAFETY: live with this layout.
    unsafe { tlsf.deallocate(p.cast(), layout(100, 8)) };
}

#[test]
fn misaligned_raw_pools_are_refused() {
    let mut buf = PoolBuf::new(8192);
    let mut tlsf = Tlsf::empty();
    let misaligned = PoolError::Misaligned { align: GRANULE };
    // SAFETY: the raw pools are parts of `buf`, which outlives the heap,
    // carved from its one base pointer.
    unsafe {
        assert_eq!(tlsf.add_pool_raw(buf.raw(1, 1024)), Err(misaligned));
        assert_eq!(
            tlsf.add_pool_raw(buf.raw(GRANULE / 2, 1024)),
            Err(misaligned)
        );
        assert_eq!(tlsf.add_pool_raw(buf.raw(0, 1023)), Err(misaligned));
        assert_eq!(
            tlsf.add_pool_raw(buf.raw(0, 1024 + GRANULE / 2)),
            Err(misaligned)
        );
        assert_eq!(tlsf.add_pool_raw(buf.raw(3, 5)), Err(misaligned));
        assert_eq!(
            tlsf.stats(),
            Stats::default(),
            "a refused pool changed the heap"
        );
        assert_eq!(
            tlsf.add_pool_raw(buf.raw(0, 0)),
            Err(PoolError::TooSmall {
                usable: 0,
                min: Tlsf::MIN_POOL
            })
        );
        assert_eq!(
            tlsf.add_pool_raw(buf.raw(0, MIN_BLOCK)),
            Err(PoolError::TooSmall {
                usable: MIN_BLOCK,
                min: Tlsf::MIN_POOL
            })
        );
        assert_eq!(tlsf.stats(), Stats::default());
        tlsf.add_pool_raw(buf.raw(GRANULE, 1024)).unwrap();
    }
    assert_eq!(tlsf.stats().capacity, 1024 - POOL_OVERHEAD);
    assert!(
        PoolError::Misaligned { align: GRANULE }
            .to_string()
            .contains("misaligned")
    );
    tlsf.check().unwrap();
}

// ---------------------------------------------------------------------------
// Raw pools: merging and not merging.
// ---------------------------------------------------------------------------

#[test]
fn raw_pools_with_a_gap_stay_separate() {
    let mut buf = PoolBuf::new(16 << 10);
    let mut tlsf = Tlsf::empty();
    // SAFETY: disjoint parts of `buf`, which outlives the heap.
    unsafe {
        tlsf.add_pool_raw(buf.raw(0, 4096)).unwrap();
        // A granule after the first pool's end: a pool of its own.
        tlsf.add_pool_raw(buf.raw(4096 + GRANULE, 4096)).unwrap();
        // Right at the second pool's end: merged into it.
        tlsf.add_pool_raw(buf.raw(8192 + GRANULE, 4096)).unwrap();
    }
    let s = tlsf.stats();
    tlsf.check().unwrap();
    assert_eq!(s.capacity, 2 * (4096 - POOL_OVERHEAD) + 4096);
    assert_eq!(s.largest_free, 8192 - POOL_OVERHEAD);
    assert!(
        tlsf.allocate(layout(8192 - POOL_OVERHEAD - HEADER, 8))
            .is_ok()
    );
    assert!(
        tlsf.allocate(layout(4096 - POOL_OVERHEAD - HEADER, 8))
            .is_ok()
    );
    assert_eq!(tlsf.stats().free, 0);
    tlsf.check().unwrap();
}

#[test]
fn merging_stops_at_the_largest_pool() {
    // Two adjacent 40 KiB parts would make an 80 KiB pool, more than a
    // SmallTlsf pool may be: they stay two pools.
    let part = 40 << 10;
    let mut buf = PoolBuf::new(2 * part);
    let mut tlsf = SmallTlsf::empty();
    // SAFETY: disjoint parts of `buf`, carved from its base pointer.
    unsafe {
        tlsf.add_pool_raw(buf.raw(0, part)).unwrap();
        tlsf.add_pool_raw(buf.raw(part, part)).unwrap();
    }
    let s = tlsf.stats();
    assert_eq!(s.capacity, 2 * (part - POOL_OVERHEAD));
    assert_eq!(s.largest_free, part - POOL_OVERHEAD);
    tlsf.check().unwrap();
    let big = layout(part - POOL_OVERHEAD - HEADER, 8);
    let a = tlsf.allocate(big).unwrap();
    let b = tlsf.allocate(big).unwrap();
    assert!(tlsf.allocate(layout(1, 1)).is_err());
    // SAFETY: both live with `big`.
    unsafe {
        tlsf.deallocate(a.cast(), big);
        tlsf.deallocate(b.cast(), big);
    }
    tlsf.check().unwrap();
}

#[test]
fn merging_after_a_fully_used_pool() {
    // The old pool ends with an allocated block: the merge turns the old
    // sentinel and the new part into one free block.
    let mut buf = PoolBuf::new(8192);
    let mut tlsf = Tlsf::empty();
    // SAFETY: parts of `buf`, carved from its base pointer.
    unsafe { tlsf.add_pool_raw(buf.raw(0, 4096)).unwrap() };
    let whole = layout(4096 - POOL_OVERHEAD - HEADER, 8);
    let a = tlsf.allocate(whole).unwrap();
    assert_eq!(tlsf.stats().free, 0);
    // SAFETY: adjacent part of the same allocation.
    unsafe { tlsf.add_pool_raw(buf.raw(4096, 4096)).unwrap() };
    let s = tlsf.stats();
    assert_eq!(s.capacity, 8192 - POOL_OVERHEAD);
    assert_eq!(s.free, 4096);
    assert_eq!(s.largest_free, 4096);
    tlsf.check().unwrap();
    // SAFETY: live with `whole`.
    unsafe { tlsf.deallocate(a.cast(), whole) };
    assert_eq!(tlsf.stats().largest_free, 8192 - POOL_OVERHEAD);
    tlsf.check().unwrap();
    // A part too small to be a block on its own merges only into free space.
    let mut buf = PoolBuf::new(8192);
    let mut tlsf = Tlsf::empty();
    // SAFETY: parts of `buf`, carved from its base pointer.
    unsafe { tlsf.add_pool_raw(buf.raw(0, 4096)).unwrap() };
    // SAFETY: as above.
    let merged = unsafe { tlsf.add_pool_raw(buf.raw(4096, GRANULE)) };
    assert_eq!(merged, Ok(GRANULE));
    assert_eq!(tlsf.stats().largest_free, 4096 + GRANULE - POOL_OVERHEAD);
    let whole = layout(4096 + GRANULE - POOL_OVERHEAD - HEADER, 8);
    let _ = tlsf.allocate(whole).unwrap();
    // SAFETY: as above.
    let r = unsafe { tlsf.add_pool_raw(buf.raw(4096 + GRANULE, GRANULE)) };
    assert!(matches!(r, Err(PoolError::TooSmall { .. })), "{r:?}");
    tlsf.check().unwrap();
}

/// A heap keeps a fixed table of `MAX_POOLS` separate pools; one more is
/// refused and changes nothing.
#[test]
fn too_many_separate_pools_are_refused() {
    let mut bufs: Vec<PoolBuf> = (0..=MAX_POOLS).map(|_| PoolBuf::new(1024)).collect();
    let (last, first) = bufs.split_last_mut().unwrap();
    let mut tlsf = Tlsf::empty();
    for b in first.iter_mut() {
        tlsf.add_pool(b.slice()).unwrap();
    }
    let before = tlsf.stats();
    let err = tlsf.add_pool(last.slice()).unwrap_err();
    assert_eq!(err, PoolError::TooManyPools { max: MAX_POOLS });
    assert!(err.to_string().contains("too many pools"));
    assert_eq!(tlsf.stats(), before);
    tlsf.check().unwrap();
    // Every pool is in use: each serves one block of its whole capacity.
    for _ in 0..MAX_POOLS {
        tlsf.allocate(layout(1024 - POOL_OVERHEAD - HEADER, 8))
            .expect("one block per pool");
    }
    assert_eq!(tlsf.stats().free, 0);
    tlsf.check().unwrap();
}

/// A raw pool that merges into an earlier one takes no slot of the table,
/// and it merges with whichever raw pool it follows, not only the newest.
#[test]
fn merged_raw_pools_take_no_slot() {
    let mut raw = PoolBuf::new(16 << 10);
    let mut bufs: Vec<PoolBuf> = (0..MAX_POOLS - 2).map(|_| PoolBuf::new(1024)).collect();
    let mut tlsf = Tlsf::empty();
    // SAFETY: parts of `raw`, carved from its base pointer; `raw` outlives
    // the heap.
    unsafe {
        tlsf.add_pool_raw(raw.raw(0, 4096)).unwrap();
        tlsf.add_pool_raw(raw.raw(8192, 4096)).unwrap();
    }
    for b in bufs.iter_mut() {
        tlsf.add_pool(b.slice()).unwrap();
    }
    // The table is full; the part between the two raw pools follows the
    // first one (which is not the newest pool) and merges into it.
    // SAFETY: as above.
    unsafe {
        assert_eq!(tlsf.add_pool_raw(raw.raw(4096, 4096)), Ok(4096));
        assert_eq!(
            tlsf.add_pool_raw(raw.raw(12288 + GRANULE, 1024)),
            Err(PoolError::TooManyPools { max: MAX_POOLS })
        );
    }
    let s = tlsf.stats();
    let small = (MAX_POOLS - 2) * (1024 - POOL_OVERHEAD);
    assert_eq!(
        s.capacity,
        (8192 - POOL_OVERHEAD) + (4096 - POOL_OVERHEAD) + small
    );
    assert_eq!(s.largest_free, 8192 - POOL_OVERHEAD);
    tlsf.check().unwrap();
    let whole = layout(8192 - POOL_OVERHEAD - HEADER, 8);
    let p = tlsf
        .allocate(whole)
        .expect("one block across the merged parts");
    let addr = p.cast::<u8>().as_ptr().addr();
    assert!(raw.range().contains(&addr) && addr + p.len() <= raw.range().start + 8192);
    tlsf.check().unwrap();
}

// ---------------------------------------------------------------------------
// reset.
// ---------------------------------------------------------------------------

#[test]
fn reset_makes_the_heap_empty_again() {
    let mut a = PoolBuf::new(16 << 10);
    let mut b = PoolBuf::new(8 << 10);
    let mut raw = PoolBuf::new(8 << 10);
    let mut tlsf = Tlsf::new(a.slice()).unwrap();
    tlsf.add_pool(b.slice()).unwrap();
    // SAFETY: two adjacent parts of `raw`, which outlives the heap.
    unsafe {
        tlsf.add_pool_raw(raw.raw(0, 4096)).unwrap();
        tlsf.add_pool_raw(raw.raw(4096, 4096)).unwrap();
    }
    let fresh = tlsf.stats();
    let caps = [
        (16 << 10) - POOL_OVERHEAD,
        (8 << 10) - POOL_OVERHEAD,
        (8 << 10) - POOL_OVERHEAD,
    ];
    assert_eq!(fresh.capacity, caps.iter().sum::<usize>());
    for round in 0..3 {
        // Fill it with blocks of assorted sizes and alignments, some freed.
        let mut i = 0usize;
        while let Ok(p) = tlsf.allocate(layout(1 + i * 97 % 1500, 1 << (i % 8))) {
            if i % 3 == 0 {
                // SAFETY: just allocated with this layout.
                unsafe { tlsf.deallocate(p.cast(), layout(1 + i * 97 % 1500, 1 << (i % 8))) };
            }
            i += 1;
        }
        assert!(tlsf.stats().in_use > 0);
        tlsf.reset();
        let s = tlsf.stats();
        assert_eq!(
            s,
            Stats {
                largest_free: s.largest_free,
                ..fresh
            },
            "round {round}: counters not restarted"
        );
        assert_eq!(s.in_use, 0);
        assert_eq!(s.free, s.capacity);
        assert_eq!(s.largest_free, caps[0]);
        tlsf.check().unwrap();
        // Every pool is one free block again.
        for cap in caps {
            tlsf.allocate(layout(cap - HEADER, 8))
                .unwrap_or_else(|_| panic!("round {round}: pool of {cap}"));
        }
        assert_eq!(tlsf.stats().free, 0);
        tlsf.reset();
    }
    let mut empty = Tlsf::empty();
    empty.reset();
    assert_eq!(empty.stats(), Stats::default());
    empty.check().unwrap();
}

// ---------------------------------------------------------------------------
// Through the `Allocator` trait: resizing, zero sizes, huge requests.
// ---------------------------------------------------------------------------

#[cfg(feature = "allocator-api2")]
mod allocator {
    use std::ptr::NonNull;

    use allocator_api2::alloc::Allocator;
    use rtarena::tlsf::config::HEADER;
    use rtarena::{Arena, Stats, Tlsf};

    use super::{MIRI, layout, one_more_failure, zst_aligns};
    use crate::common::{PoolBuf, fill, verify, verify_zero};

    /// Sizes up and down across the granule, the minimum block, list
    /// boundaries and powers of two.
    fn size_ladder() -> Vec<usize> {
        let up = [
            1, 2, 7, 8, 9, 15, 16, 17, 23, 24, 25, 31, 32, 33, 100, 127, 128, 129, 255, 256, 1000,
            1024, 4095, 4096,
        ];
        let big: &[usize] = if MIRI {
            &[5000]
        } else {
            &[4097, 10_000, 65_536, 100_000]
        };
        up.iter().chain(big).copied().collect()
    }

    /// Makes the block after `[ptr, ptr + len)` allocated, so that the block
    /// cannot grow in place: takes every free block whole, keeps the one
    /// right after ours (shrunk to 8 bytes) and gives the rest back.
    fn wall_in(
        arena: &Arena<Tlsf<'_>>,
        ptr: NonNull<u8>,
        len: usize,
        walls: &mut Vec<NonNull<u8>>,
    ) {
        let a: &dyn Allocator = arena;
        let next_payload = ptr.as_ptr().addr() + len + HEADER;
        let mut fillers = Vec::new();
        while arena.stats().largest_free > 0 {
            let l = layout(arena.stats().largest_free - HEADER, 1);
            fillers.push((
                a.allocate(l)
                    .expect("taking a free block whole")
                    .cast::<u8>(),
                l,
            ));
        }
        for (f, l) in fillers {
            // SAFETY: each filler is live with `l`; 8 bytes is smaller.
            unsafe {
                if f.as_ptr().addr() == next_payload {
                    let wall = a.shrink(f, l, layout(8, 1)).unwrap();
                    assert_eq!(
                        wall.cast::<u8>(),
                        f,
                        "a shrink to a smaller alignment-1 size stays in place"
                    );
                    walls.push(f);
                } else {
                    a.deallocate(f, l);
                }
            }
        }
    }

    /// Walks one block up the ladder and back down, alignments cycling,
    /// checking its contents at each step. With `crowd`, the block after
    /// it is made allocated before each step, so that every grow that needs
    /// more room must move. Returns (steps, steps that kept the address).
    fn resize_ladder(crowd: bool) -> (usize, usize) {
        let mut buf = PoolBuf::new(if MIRI { 64 << 10 } else { 1 << 20 });
        let arena = Arena::new(Tlsf::new(buf.slice()).unwrap());
        let a: &dyn Allocator = &arena;
        let sizes = size_ladder();
        let aligns = [1, 8, 16, 2, 64, 8, 4096, 4];
        let mut cur = layout(0, 1);
        let mut ptr = NonNull::<u8>::dangling();
        let mut len = 0;
        let mut walls = Vec::new();
        let (mut steps, mut kept) = (0, 0);
        let path = sizes.iter().chain(sizes.iter().rev()).chain([&0]);
        for (i, &size) in path.enumerate() {
            let new = layout(size, aligns[i % aligns.len()]);
            if crowd && len > 0 {
                wall_in(&arena, ptr, len, &mut walls);
            }
            // SAFETY: `ptr` is live with `cur` (a zero-size dangling block at
            // first); grow when the size goes up, shrink when it goes down.
            let block = unsafe {
                if size >= cur.size() {
                    a.grow(ptr, cur, new)
                } else {
                    a.shrink(ptr, cur, new)
                }
            }
            .unwrap_or_else(|_| panic!("{cur:?} -> {new:?}"));
            let p = block.cast::<u8>();
            assert_eq!(p.as_ptr().addr() % new.align(), 0, "{new:?}");
            assert!(block.len() >= size);
            if crowd && size > len && len > 0 {
                assert_ne!(
                    p, ptr,
                    "{cur:?} -> {new:?}: grew in place into an allocated block"
                );
            }
            // SAFETY: the first min(old, new) bytes were kept; the block is
            // ours for `block.len()` bytes.
            unsafe {
                verify(p, cur.size().min(size), 1, "resize ladder");
                fill(p, block.len(), 1);
            }
            steps += 1;
            kept += (p == ptr) as usize;
            (ptr, len, cur) = (p, block.len(), new);
            arena.check().unwrap();
        }
        assert_eq!(len, 0, "ends at size 0");
        assert_eq!(arena.stats().live(), walls.len() as u64);
        for w in walls {
            // SAFETY: live with this layout.
            unsafe { a.deallocate(w, layout(8, 1)) };
        }
        crate::common::assert_one_free_block(&arena.stats());
        (steps, kept)
    }

    #[test]
    fn grow_and_shrink_across_sizes_keep_contents() {
        let (steps, kept) = resize_ladder(false);
        let (crowded_steps, crowded_kept) = resize_ladder(true);
        println!(
            "alone: {kept}/{steps} in place; crowded: {crowded_kept}/{crowded_steps} in place"
        );
        assert!(kept > steps / 2, "alone, most resizes should be in place");
        assert!(crowded_kept < kept, "crowded, grows must move");
    }

    #[test]
    fn shrink_to_zero_and_grow_from_zero() {
        let mut buf = PoolBuf::new(16 << 10);
        let arena = Arena::new(Tlsf::new(buf.slice()).unwrap());
        let a: &dyn Allocator = &arena;
        for align in [1, 8, 16, 4096] {
            let l = layout(100, align);
            let p = a.allocate(l).unwrap().cast::<u8>();
            // SAFETY: ours for 100 bytes.
            unsafe { fill(p, 100, 3) };
            let zero = layout(0, align);
            // SAFETY: `p` is live with `l`, `zero` is no larger.
            let z = unsafe { a.shrink(p, l, zero) }.expect("shrinking to zero cannot fail");
            assert_eq!(z.len(), 0);
            assert_eq!(z.cast::<u8>().as_ptr().addr() % align, 0);
            assert_eq!(arena.stats().in_use, 0, "a shrink to zero frees the block");
            assert_eq!(arena.stats().live(), 0);
            // SAFETY: `z` is the zero-size block; grow it.
            let g = unsafe { a.grow_zeroed(z.cast(), zero, layout(300, align)) }.unwrap();
            assert_eq!(g.cast::<u8>().as_ptr().addr() % align, 0);
            // SAFETY: zeroed, ours for `g.len()` bytes.
            unsafe { verify_zero(g.cast(), 0, g.len(), "grow_zeroed from zero") };
            // SAFETY: live with this layout.
            unsafe { a.deallocate(g.cast(), layout(300, align)) };
        }
        for align in zst_aligns() {
            let zero = layout(0, align);
            let z = a.allocate_zeroed(zero).unwrap();
            assert_eq!((z.len(), z.cast::<u8>().as_ptr().addr() % align), (0, 0));
            // SAFETY: zero-size block; grow to zero again, then free.
            unsafe {
                let same = a.grow(z.cast(), zero, zero).unwrap();
                a.deallocate(same.cast(), zero);
            }
        }
        crate::common::assert_one_free_block(&arena.stats());
        arena.check().unwrap();
    }

    #[test]
    fn huge_requests_through_the_allocator_fail_cleanly() {
        let mut buf = PoolBuf::new(16 << 10);
        let arena = Arena::new(Tlsf::new(buf.slice()).unwrap());
        let a: &dyn Allocator = &arena;
        let l = layout(64, 8);
        let p = a.allocate(l).unwrap().cast::<u8>();
        // SAFETY: ours for 64 bytes.
        unsafe { fill(p, 64, 9) };
        for huge in super::huge_layouts() {
            let before = arena.stats();
            assert!(a.allocate(huge).is_err(), "{huge:?}");
            assert!(a.allocate_zeroed(huge).is_err(), "{huge:?}");
            assert_eq!(arena.stats().failures, before.failures + 2);
            if huge.size() >= l.size() {
                let before = arena.stats();
                // SAFETY: `p` is live with `l`; `huge` is larger.
                assert!(unsafe { a.grow(p, l, huge) }.is_err(), "{huge:?}");
                // SAFETY: as above.
                assert!(unsafe { a.grow_zeroed(p, l, huge) }.is_err(), "{huge:?}");
                assert_eq!(
                    arena.stats(),
                    Stats {
                        failures: before.failures + 2,
                        ..before
                    },
                    "{huge:?}"
                );
                // SAFETY: the block is still ours, untouched.
                unsafe { verify(p, 64, 9, "after a failed huge grow") };
            }
            arena.check().unwrap();
        }
        // A shrink that must move (stricter alignment) and finds no room.
        let big = layout(12 << 10, 8);
        let q = a.allocate(big).unwrap().cast::<u8>();
        let before = arena.stats();
        // SAFETY: `q` is live with `big`; the new layout is smaller.
        let r = unsafe { a.shrink(q, big, layout(11 << 10, 8192)) };
        if r.is_err() {
            assert_eq!(arena.stats(), one_more_failure(before));
        } else {
            panic!(
                "no 8 KiB-aligned room for 11 KiB should exist in a 16 KiB pool next to 12 KiB in use"
            );
        }
        // SAFETY: both live.
        unsafe {
            a.deallocate(q, big);
            a.deallocate(p, l);
        }
        crate::common::assert_one_free_block(&arena.stats());
    }

    #[test]
    fn arena_allocator_basics() {
        let mut buf = PoolBuf::new(8 << 10);
        let arena = Arena::new(Tlsf::new(buf.slice()).unwrap());
        let a = &arena;
        let l = layout(1000, 32);
        let p = Allocator::allocate_zeroed(&a, l).unwrap();
        // SAFETY: zeroed, ours for `p.len()` bytes.
        unsafe { verify_zero(p.cast(), 0, p.len(), "allocate_zeroed") };
        assert_eq!(arena.stats().live(), 1);
        // `by_ref` and a copied reference reach the same heap.
        let b = Allocator::by_ref(&a);
        let c = *b;
        // SAFETY: live with `l`.
        unsafe { Allocator::deallocate(&c, p.cast(), l) };
        assert_eq!(arena.stats().live(), 0);
    }
}

// ---------------------------------------------------------------------------
// The wrappers' in-place grow and shrink: the core's, never a move.
// ---------------------------------------------------------------------------

/// A TLSF block grows into the free block after it, not past a live one,
/// and shrinks where it is; through any wrapper (`Arena`, `SyncArena`: the
/// methods are the same, not a shared trait).
macro_rules! tlsf_in_place_resizes {
    ($arena:expr) => {{
        let arena = $arena;
        let (small, large, huge) = (layout(100, 8), layout(400, 8), layout(4000, 8));
        let p = arena.allocate(small).unwrap().cast::<u8>();
        // SAFETY: `p` is live with `small`, then with the layout of each
        // resize that returned `Ok`; `wall` is live with `small`.
        unsafe {
            p.write_bytes(7, 100);
            let grown = arena.grow_in_place(p, small, large).unwrap();
            assert_eq!(grown.cast::<u8>(), p, "grown where it was");
            assert!(grown.len() >= 400);
            // The rest of the pool is one free block, right after `p`: the
            // next block comes from its start and walls `p` in.
            let wall = arena.allocate(small).unwrap().cast::<u8>();
            let before = arena.stats();
            assert!(arena.grow_in_place(p, large, huge).is_err());
            assert_eq!(arena.stats(), before, "a refused grow changes nothing");
            assert!((0..100).all(|i| p.add(i).read() == 7));
            let shrunk = arena.shrink_in_place(p, large, small).unwrap();
            assert_eq!(shrunk.cast::<u8>(), p, "shrunk where it was");
            assert!((0..100).all(|i| p.add(i).read() == 7));
            arena.deallocate(p, small);
            arena.deallocate(wall, small);
        }
        arena.check().unwrap();
        assert_eq!(arena.stats().live(), 0);
    }};
}

/// A slab slot holds every layout of its class, and no other: in place
/// within the class, `Err` (the slot unchanged) across classes.
macro_rules! slab_in_place_resizes {
    ($arena:expr) => {{
        let arena = $arena;
        let (l20, l24, l40) = (layout(20, 1), layout(24, 1), layout(40, 1));
        let p = arena.allocate(l20).unwrap().cast::<u8>();
        // SAFETY: `p` is live with `l20`, then with `l24` once grown.
        unsafe {
            let grown = arena.grow_in_place(p, l20, l24).unwrap();
            assert_eq!((grown.cast::<u8>(), grown.len()), (p, 24));
            assert!(arena.grow_in_place(p, l24, l40).is_err(), "another class");
            assert_eq!(arena.shrink_in_place(p, l24, l20).unwrap().cast::<u8>(), p);
            arena.deallocate(p, l24);
        }
        arena.check().unwrap();
        assert_eq!(arena.stats().live(), 0);
    }};
}

#[test]
fn in_place_resizes_through_an_arena() {
    let mut buf = PoolBuf::new(16 * 1024);
    tlsf_in_place_resizes!(rtarena::Arena::new(Tlsf::new(buf.slice()).unwrap()));
    let mut buf = PoolBuf::new(64 * 1024);
    slab_in_place_resizes!(rtarena::Arena::new(
        rtarena::Heap::new(buf.slice()).unwrap()
    ));
}

#[cfg(feature = "sync")]
#[test]
fn in_place_resizes_through_a_sync_arena() {
    type Spin = spin::Mutex<()>;
    let mut buf = PoolBuf::new(16 * 1024);
    tlsf_in_place_resizes!(rtarena::SyncArena::<_, Spin>::new(
        Tlsf::new(buf.slice()).unwrap()
    ));
    let mut buf = PoolBuf::new(64 * 1024);
    slab_in_place_resizes!(rtarena::SyncArena::<_, Spin>::new(
        rtarena::Heap::new(buf.slice()).unwrap()
    ));
}

// ---------------------------------------------------------------------------
// Debug-build checks on deallocate.
// ---------------------------------------------------------------------------

#[cfg(debug_assertions)]
#[test]
#[should_panic(expected = "double free")]
fn double_free_panics_in_debug_builds() {
    let mut buf = PoolBuf::new(4096);
    let mut tlsf = Tlsf::new(buf.slice()).unwrap();
    let l = layout(64, 8);
    let a = tlsf.allocate(l).unwrap().cast::<u8>();
    let b = tlsf.allocate(l).unwrap().cast::<u8>();
    let _c = tlsf.allocate(l).unwrap();
    // SAFETY: `b` is live. The second free is the error under test: the
    // debug check reads the header and panics before touching anything.
    unsafe {
        tlsf.deallocate(b, l);
        tlsf.deallocate(b, l);
    }
    let _ = a;
}

#[cfg(debug_assertions)]
#[test]
#[should_panic(expected = "foreign pointer")]
fn foreign_pointer_panics_in_debug_builds() {
    let mut buf_a = PoolBuf::new(4096);
    let mut buf_b = PoolBuf::new(4096);
    let mut a = Tlsf::new(buf_a.slice()).unwrap();
    let mut b = Tlsf::new(buf_b.slice()).unwrap();
    let l = layout(64, 8);
    let p = b.allocate(l).unwrap();
    // SAFETY: none: `p` belongs to `b`. The debug check panics on the
    // address before anything is read or written.
    unsafe { a.deallocate(p.cast(), l) };
}

#[cfg(debug_assertions)]
#[test]
#[should_panic(expected = "wrong layout")]
fn freeing_with_a_larger_layout_panics_in_debug_builds() {
    let mut buf = PoolBuf::new(4096);
    let mut tlsf = Tlsf::new(buf.slice()).unwrap();
    let p = tlsf.allocate(layout(64, 8)).unwrap();
    assert!(p.len() < 1000);
    // SAFETY: none: the layout is larger than the block. The debug check
    // panics before the block is touched.
    unsafe { tlsf.deallocate(p.cast(), layout(1000, 8)) };
}

#[cfg(debug_assertions)]
#[test]
#[should_panic(expected = "wrong layout")]
fn freeing_with_a_stricter_alignment_panics_in_debug_builds() {
    let mut buf = PoolBuf::new(4096);
    let mut tlsf = Tlsf::new(buf.slice()).unwrap();
    let l = layout(64, 8);
    // Find a block whose address is not 4096-aligned (the first one is,
    // payloads come after a header).
    let p = tlsf.allocate(l).unwrap().cast::<u8>();
    assert_ne!(p.as_ptr().addr() % 4096, 0);
    // SAFETY: none: wrong alignment. The debug check panics first.
    unsafe { tlsf.deallocate(p, layout(64, 4096)) };
}

/// Regression: a block that was coalesced into the free block before it
/// must still be caught when freed again (its old header word lies inside
/// the merged free block).
#[cfg(debug_assertions)]
#[test]
#[should_panic(expected = "double free")]
fn double_free_after_backward_coalescing_panics_in_debug_builds() {
    let mut buf = PoolBuf::new(4096);
    let mut tlsf = Tlsf::new(buf.slice()).unwrap();
    let l = layout(64, 8);
    let a = tlsf.allocate(l).unwrap().cast::<u8>();
    let b = tlsf.allocate(l).unwrap().cast::<u8>();
    // A large live block after `b`, so that the counters do not underflow
    // first (which would panic with another message).
    let _c = tlsf.allocate(layout(2000, 8)).unwrap();
    // SAFETY: `a` and `b` are live; `b` is then merged into `a`'s free
    // block. The third call is the double free under test.
    unsafe {
        tlsf.deallocate(a, l);
        tlsf.deallocate(b, l);
        tlsf.deallocate(b, l);
    }
}

// ---------------------------------------------------------------------------
// Regressions: bugs this suite found, fixed since.
// ---------------------------------------------------------------------------

/// `add_pool` and `add_pool_raw` return the bytes they add to `capacity`
/// (they once returned the pool's whole length, overhead included).
#[test]
fn add_pool_returns_the_capacity_it_adds() {
    let mut buf = PoolBuf::new(4096);
    let mut raw = PoolBuf::new(4096);
    let mut tlsf = Tlsf::empty();
    let added = tlsf.add_pool(buf.slice()).unwrap();
    assert_eq!(added, tlsf.stats().capacity, "add_pool");
    let before = tlsf.stats().capacity;
    // SAFETY: `raw` outlives the heap.
    let added = unsafe { tlsf.add_pool_raw(raw.raw(0, 4096)) }.unwrap();
    assert_eq!(added, tlsf.stats().capacity - before, "add_pool_raw");
}

/// Raw pool A, then slice pool S, then raw pool B adjacent to A: B must not
/// be merged into S. (It once was: the merge extended the newest pool, so
/// S's last free block ran past the end of S and the heap handed out memory
/// it was never given.) S is the first 4 KiB of a larger buffer so that,
/// should this regress, the stray writes natively land in memory the test
/// owns; Miri reports them as undefined behaviour.
#[test]
fn raw_pool_adjacent_to_an_older_raw_pool_does_not_extend_a_slice_pool() {
    let mut raw = PoolBuf::new(8192);
    let mut s_buf = PoolBuf::new(16 << 10);
    let s_range = s_buf.range().start..s_buf.range().start + 4096;
    let raw_range = raw.range();
    let mut tlsf = Tlsf::empty();
    // SAFETY: parts of `raw`, carved from its base pointer; `raw` outlives
    // the heap.
    unsafe { tlsf.add_pool_raw(raw.raw(0, 4096)).unwrap() };
    tlsf.add_pool(&mut s_buf.slice()[..4096]).unwrap();
    // SAFETY: as above; this part starts where the first raw pool ends.
    unsafe { tlsf.add_pool_raw(raw.raw(4096, 4096)).unwrap() };
    // No block may be larger than the largest memory range given...
    let s = tlsf.stats();
    assert!(
        s.largest_free <= 8192,
        "a free block of {} bytes in 4 KiB + 8 KiB of pools",
        s.largest_free
    );
    tlsf.check().unwrap();
    // ...and every block must lie inside memory the heap was given.
    let l = layout(1000, 8);
    while let Ok(block) = tlsf.allocate(l) {
        let (start, end) = (
            block.cast::<u8>().as_ptr().addr(),
            block.cast::<u8>().as_ptr().addr() + block.len(),
        );
        let inside = |r: &std::ops::Range<usize>| r.start <= start && end <= r.end;
        assert!(
            inside(&s_range) || inside(&raw_range),
            "block {start:#x}..{end:#x} is outside every pool"
        );
    }
}

/// Layouts whose sizes are near `isize::MAX`, at every alignment, fail on
/// every heap with the heap intact: no overflow, no list index out of
/// bounds (the allocation paths test no size bound of their own).
#[test]
fn layouts_near_isize_max_fail_cleanly_everywhere() {
    use rtarena::pages::PoolPages;
    use rtarena::raw::RawHeap;
    use rtarena::{GrowingHeap, GrowingTlsf, Heap, LargeTlsf, SmallTlsf, Tlsf};

    fn huge_layouts() -> Vec<Layout> {
        let max = isize::MAX as usize;
        let mut layouts = Vec::new();
        for shift in (0..usize::BITS - 1).step_by(if MIRI { 7 } else { 1 }) {
            let align = 1usize << shift;
            for size in [max - (align - 1), max / 2 + 1, max - 4096 - (align - 1)] {
                layouts.extend(Layout::from_size_align(size, align).ok());
            }
        }
        layouts
    }

    fn exercise<H: RawHeap>(mut heap: H) {
        let small = Layout::from_size_align(24, 8).unwrap();
        let mid = Layout::from_size_align(3000, 64).unwrap();
        let a = heap.allocate(small).unwrap();
        let b = heap.allocate(mid).unwrap();
        // SAFETY: allocated just above.
        unsafe { heap.deallocate(b.cast(), mid).unwrap() };
        for l in huge_layouts() {
            assert!(heap.allocate(l).is_err(), "{l:?}");
            // SAFETY: `a` is live with `small`, and `l` is larger.
            assert!(unsafe { heap.grow_in_place(a.cast(), small, l) }.is_err());
            heap.check().unwrap();
        }
        // SAFETY: allocated above.
        unsafe { heap.deallocate(a.cast(), small).unwrap() };
        heap.check().unwrap();
    }

    let mut buf = PoolBuf::new(64 << 10);
    exercise(SmallTlsf::new(&mut buf.slice()[..60 << 10]).unwrap());
    exercise(Tlsf::new(buf.slice()).unwrap());
    exercise(LargeTlsf::new(buf.slice()).unwrap());
    exercise(Heap::new(buf.slice()).unwrap());
    let mut buf = PoolBuf::with_align(128 << 10, 4096);
    exercise(GrowingHeap::<_>::new(
        PoolPages::new(buf.slice(), 4096).unwrap(),
    ));
    exercise(GrowingTlsf::new(PoolPages::new(buf.slice(), 4096).unwrap()));
}
