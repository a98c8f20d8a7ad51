//! Differential tests: random allocate / deallocate / grow / shrink sequences
//! through `allocator_api2::alloc::Allocator` on `&Arena<C>`, checked step by
//! step against a shadow model (see `common::Harness::run`).
//!
//! The driver is generic over the core; this file runs it against the TLSF
//! configurations and pool set-ups.

#![cfg(feature = "allocator-api2")]

mod common;

use std::alloc::Layout;
use std::cell::RefCell;

use allocator_api2::alloc::Allocator;
use proptest::prelude::*;
use rtarena::pages::PoolPages;
use rtarena::tlsf::config::{GRANULE, HEADER, POOL_OVERHEAD, fl_len};
use rtarena::{
    Arena, GenericTlsf, GrowingTlsf, Heap, LargeTlsf, Slab, SmallHeap, SmallTlsf, Stats, Tlsf,
};

use common::{
    MIRI, Op, OpParams, PoolBuf, Tally, addresses, assert_one_free_block, harness, heap_harness,
    ops_strategy, run_cases, run_ops, single_pool_cases, slab_harness, tlsf_blocks,
};

/// Cases per test, and operations per case.
const CASES: u32 = if MIRI { 4 } else { 256 };
const OPS: usize = if MIRI { 40 } else { 300 };

/// Largest pool for the default configuration (random sizes below it).
const POOL: usize = if MIRI { 16 << 10 } else { 512 << 10 };

/// Coverage that a native run must reach, so that a harmless-looking
/// strategy change cannot silently stop exercising a path.
fn assert_coverage(name: &str, t: &Tally) {
    assert_coverage_filled(name, t, 75);
}

/// As `assert_coverage`, with the fill (`in_use` over `capacity`) that the
/// heap must reach at least once. A slab's capacity is its pages, which
/// random sizes spread over many classes leave partly empty.
fn assert_coverage_filled(name: &str, t: &Tally, min_fill_percent: u64) {
    println!("{name}: {t:?}");
    if MIRI {
        return;
    }
    assert!(t.allocs > 1000, "{name}: {t:?}");
    assert!(t.frees > 1000, "{name}: {t:?}");
    assert!(t.zero_size > 0, "{name}: {t:?}");
    assert!(
        t.grows_in_place > 0 && t.grows > t.grows_in_place,
        "{name}: in-place and moving grows: {t:?}"
    );
    assert!(
        t.shrinks_in_place > 0 && t.shrinks > t.shrinks_in_place,
        "{name}: in-place and moving shrinks: {t:?}"
    );
    assert!(t.failures > 0, "{name}: no allocation ever failed: {t:?}");
    assert!(
        t.max_fill_percent >= min_fill_percent,
        "{name}: the heap never got full: {t:?}"
    );
}

#[test]
fn tlsf_default_config() {
    let t = single_pool_cases(
        CASES,
        POOL / 8,
        POOL,
        OPS,
        OpParams::DEFAULT,
        |pool, ops| {
            let pools = [tlsf_blocks(addresses(pool))];
            let arena = Arena::new(Tlsf::new(pool).unwrap());
            let (end, t) = harness::<16>().run_with_pools(&arena, ops, &pools);
            assert_one_free_block(&end);
            t
        },
    );
    assert_coverage("Tlsf", &t);
}

#[test]
fn small_tlsf() {
    let max = if MIRI { 8 << 10 } else { 64 << 10 };
    assert!(max <= SmallTlsf::MAX_POOL);
    let params = OpParams {
        max_size: if MIRI { 1024 } else { 16 << 10 },
        ..OpParams::DEFAULT
    };
    let t = single_pool_cases(CASES, max / 4, max, OPS, params, |pool, ops| {
        let pools = [tlsf_blocks(addresses(pool))];
        let arena = Arena::new(SmallTlsf::new(pool).unwrap());
        let (end, t) = harness::<8>().run_with_pools(&arena, ops, &pools);
        assert_one_free_block(&end);
        t
    });
    assert_coverage("SmallTlsf", &t);
}

#[test]
fn large_tlsf() {
    let t = single_pool_cases(
        CASES / 2,
        POOL / 8,
        POOL,
        OPS,
        OpParams::DEFAULT,
        |pool, ops| {
            let pools = [tlsf_blocks(addresses(pool))];
            let arena = Arena::new(LargeTlsf::new(pool).unwrap());
            let (end, t) = harness::<16>().run_with_pools(&arena, ops, &pools);
            assert_one_free_block(&end);
            t
        },
    );
    println!("LargeTlsf: {t:?}");
}

/// A coarse custom configuration (4 second-level lists, 1 MiB pools): the
/// list rounding is large, so the fallback search is exercised a lot.
#[test]
fn coarse_custom_config() {
    type Coarse<'p> = GenericTlsf<'p, { fl_len(1 << 20) }, 4>;
    let t = single_pool_cases(
        CASES / 2,
        POOL / 8,
        POOL,
        OPS,
        OpParams::DEFAULT,
        |pool, ops| {
            let pools = [tlsf_blocks(addresses(pool))];
            let arena = Arena::new(Coarse::new(pool).unwrap());
            let (end, t) = harness::<4>().run_with_pools(&arena, ops, &pools);
            assert_one_free_block(&end);
            t
        },
    );
    println!("GenericTlsf<_, 4>: {t:?}");
}

/// The default checks alone (no good-fit oracle), as a new core would first
/// run them.
#[test]
fn generic_run_ops() {
    let t = single_pool_cases(
        CASES / 4,
        POOL / 8,
        POOL,
        OPS,
        OpParams::DEFAULT,
        |pool, ops| {
            let arena = Arena::new(Tlsf::new(pool).unwrap());
            let (end, t) = run_ops(&arena, ops);
            assert_one_free_block(&end);
            t
        },
    );
    println!("run_ops: {t:?}");
}

/// Several separate pools (`add_pool`, each its own allocation): blocks never
/// span two pools, and each pool is one free block again at the end.
#[test]
fn tlsf_several_pools() {
    let unit = if MIRI { 4 << 10 } else { 32 << 10 };
    let sizes = [unit, 3 * unit, unit / 2, 2 * unit];
    let bufs = RefCell::new(sizes.map(PoolBuf::new));
    let total = RefCell::new(Tally::default());
    run_cases(
        CASES,
        ops_strategy(OpParams::DEFAULT, OPS / 2..=OPS),
        |ops| {
            let mut bufs = bufs.borrow_mut();
            let ranges: Vec<_> = bufs.iter().map(PoolBuf::range).collect();
            let mut tlsf = Tlsf::empty();
            let mut caps = Vec::new();
            for buf in bufs.iter_mut() {
                let before = tlsf.stats().capacity;
                tlsf.add_pool(buf.slice()).unwrap();
                caps.push(tlsf.stats().capacity - before);
            }
            let arena = Arena::new(tlsf);
            let pools: Vec<_> = ranges.iter().cloned().map(tlsf_blocks).collect();
            let (end, t) = harness::<16>().run_with_pools(&arena, &ops, &pools);
            assert_eq!(end.largest_free, *caps.iter().max().unwrap(), "{end:?}");
            assert_each_pool_is_one_free_block(&arena, &caps, &ranges);
            total.borrow_mut().add(&t);
        },
    );
    assert_coverage("Tlsf, several pools", &total.borrow());
}

/// Allocates every pool's whole capacity as one block (largest first): only
/// possible if each pool is a single free block. Then frees them.
fn assert_each_pool_is_one_free_block<C: rtarena::raw::RawHeap>(
    arena: &Arena<C>,
    caps: &[usize],
    ranges: &[std::ops::Range<usize>],
) {
    let mut sorted = caps.to_vec();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    let mut blocks = Vec::new();
    for &cap in &sorted {
        let layout = Layout::from_size_align(cap - HEADER, GRANULE).unwrap();
        let block = Allocator::allocate(&arena, layout).unwrap_or_else(|_| {
            panic!(
                "a pool of {cap} bytes is not one free block: {:?}",
                arena.stats()
            )
        });
        let addr = block.cast::<u8>().as_ptr().addr();
        assert!(
            ranges
                .iter()
                .any(|r| r.contains(&addr) && r.contains(&(addr + block.len() - 1)))
        );
        blocks.push((block.cast::<u8>(), layout));
    }
    assert_eq!(arena.stats().free, 0);
    arena.check().unwrap();
    for (ptr, layout) in blocks {
        // SAFETY: allocated just above with this layout.
        unsafe { Allocator::deallocate(&arena, ptr, layout) };
    }
    assert_eq!(arena.stats().in_use, 0);
}

/// Raw pools carved from ONE allocation, added in address order with
/// `add_pool_raw`: each starts where the previous ended, so they merge into
/// one pool, and blocks may span the old boundaries.
#[test]
fn tlsf_adjacent_raw_pools_merge() {
    let unit = if MIRI { 2 << 10 } else { 32 << 10 };
    let buf = RefCell::new(PoolBuf::new(20 * unit));
    // Part lengths in granules: 1 to 4 units each, 2 to 5 parts.
    let parts = prop::collection::vec((unit / GRANULE)..=(4 * unit / GRANULE), 2..=5);
    let total = RefCell::new(Tally::default());
    run_cases(
        CASES,
        (parts, ops_strategy(OpParams::DEFAULT, OPS / 2..=OPS)),
        |(parts, ops)| {
            let mut buf = buf.borrow_mut();
            let mut tlsf = Tlsf::empty();
            let mut offset = 0;
            let mut expected_capacity = 0;
            for (i, granules) in parts.iter().enumerate() {
                let len = granules * GRANULE;
                // SAFETY: the parts are disjoint pieces of `buf`, all carved from
                // its one base pointer, and `buf` outlives the heap.
                unsafe { tlsf.add_pool_raw(buf.raw(offset, len)).unwrap() };
                let s = tlsf.stats();
                if i == 0 {
                    expected_capacity = s.capacity;
                } else {
                    // A merge adds the whole part: the old sentinel's bytes
                    // become free space and no new sentinel is needed.
                    expected_capacity += len;
                }
                assert_eq!(s.capacity, expected_capacity, "part {i} did not merge");
                assert_eq!(
                    s.largest_free, s.capacity,
                    "part {i}: the pool is not one free block"
                );
                tlsf.check().unwrap();
                offset += len;
            }
            let arena = Arena::new(tlsf);
            // A block as large as the whole merged pool spans every old boundary.
            let all = Layout::from_size_align(arena.stats().capacity - HEADER, GRANULE).unwrap();
            let block =
                Allocator::allocate(&&arena, all).expect("a block spanning the merged parts");
            let ptr = block.cast::<u8>();
            // SAFETY: the block is ours for `block.len()` bytes; under Miri this
            // also proves that its provenance covers every part.
            unsafe {
                common::fill(ptr, block.len(), 7);
                common::verify(ptr, block.len(), 7, "spanning block");
                Allocator::deallocate(&&arena, ptr, all);
            }
            // The parts merged: one pool.
            let pool = buf.range().start..buf.range().start + offset;
            let (end, t) = harness::<16>().run_with_pools(&arena, &ops, &[tlsf_blocks(pool)]);
            assert_one_free_block(&end);
            total.borrow_mut().add(&t);
        },
    );
    assert_coverage("Tlsf, merged raw pools", &total.borrow());
}

/// The final stats of a run are those of an empty heap, and the counters
/// add up: every allocation was freed.
#[test]
fn counters_balance_after_a_run() {
    let mut buf = PoolBuf::new(POOL);
    let pools = [tlsf_blocks(buf.range())];
    let arena = Arena::new(Tlsf::new(buf.slice()).unwrap());
    let ops: Vec<Op> = (0..OPS)
        .map(|i| match i % 4 {
            0 | 1 => Op::Alloc {
                size: 1 + i * 37 % 3000,
                align: 1 << (i % 7),
                zeroed: i % 3 == 0,
                use_excess: i % 5 == 0,
            },
            2 => Op::Grow {
                pick: i,
                extra: i * 11 % 500,
                align: 8,
                zeroed: i % 2 == 0,
            },
            _ => Op::Free { pick: i * 7 },
        })
        .collect();
    let (end, t) = harness::<16>().run_with_pools(&arena, &ops, &pools);
    assert_eq!(end.allocations, end.deallocations);
    assert!(end.peak_in_use > 0);
    assert_eq!(end.failures, t.failures);
    assert_one_free_block(&end);
    let _: Stats = end;
}

/// The harness must not be vacuous: a core that breaks the contract in a
/// small way is caught. Each case wraps the TLSF in a deliberately broken
/// core and expects the run (with the TLSF's fit bound) to panic.
mod the_harness_catches_broken_cores {
    use std::alloc::Layout;
    use std::panic::{AssertUnwindSafe, catch_unwind};
    use std::ptr::NonNull;

    use rtarena::raw::{Misuse, RawHeap};
    use rtarena::tlsf::config::{GRANULE, HEADER};
    use rtarena::{AllocError, Arena, CheckError, Stats, Tlsf};

    use crate::common::{Op, PoolBuf};
    use crate::{harness, tlsf_blocks};

    #[derive(Clone, Copy, PartialEq, Eq, Debug)]
    enum Bug {
        /// `allocate` claims one granule more than the block has.
        LongerThanTheBlock,
        /// `shrink_in_place` scribbles over the block's first byte.
        ShrinkCorrupts,
        /// `deallocate` does nothing.
        Leaks,
        /// A failed allocation is not counted.
        UncountedFailure,
        /// `allocate` ignores alignments above the granule.
        IgnoresAlignment,
        /// `allocate` refuses (and counts) every request over `HIDDEN`
        /// bytes, and `stats` lists no free block over `HIDDEN`: a false
        /// out-of-memory that the heap's own report covers up.
        HidesRoom,
    }

    /// See `Bug::HidesRoom`.
    const HIDDEN: usize = 1024;

    struct Broken<'p> {
        inner: Tlsf<'p>,
        bug: Bug,
        /// Requests refused by `Bug::HidesRoom`.
        refused: u64,
    }

    // SAFETY: none, deliberately: this core breaks the contract in the way
    // `bug` says, always within its own pool, for the harness to notice.
    unsafe impl RawHeap for Broken<'_> {
        fn allocate(&mut self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
            if self.bug == Bug::HidesRoom && layout.size() > HIDDEN {
                self.refused += 1;
                return Err(AllocError);
            }
            let layout = match self.bug {
                Bug::IgnoresAlignment if layout.align() > GRANULE => {
                    Layout::from_size_align(layout.size(), GRANULE).unwrap()
                }
                _ => layout,
            };
            let block = self.inner.allocate(layout)?;
            if self.bug == Bug::LongerThanTheBlock {
                // The bytes after a block are the next block's header or the
                // pool's sentinel: still inside the pool.
                return Ok(NonNull::slice_from_raw_parts(
                    block.cast(),
                    block.len() + HEADER,
                ));
            }
            Ok(block)
        }

        unsafe fn deallocate(&mut self, ptr: NonNull<u8>, layout: Layout) -> Result<(), Misuse> {
            if self.bug == Bug::Leaks {
                return Ok(());
            }
            // SAFETY: forwarded contract.
            unsafe { RawHeap::deallocate(&mut self.inner, ptr, layout) }
        }

        unsafe fn grow_in_place(
            &mut self,
            ptr: NonNull<u8>,
            old: Layout,
            new: Layout,
        ) -> Result<NonNull<[u8]>, AllocError> {
            // SAFETY: forwarded contract.
            unsafe { self.inner.grow_in_place(ptr, old, new) }
        }

        unsafe fn shrink_in_place(
            &mut self,
            ptr: NonNull<u8>,
            old: Layout,
            new: Layout,
        ) -> Result<NonNull<[u8]>, AllocError> {
            // SAFETY: forwarded contract.
            let block = unsafe { self.inner.shrink_in_place(ptr, old, new)? };
            if self.bug == Bug::ShrinkCorrupts && new.size() > 0 {
                // SAFETY: the block is live and at least one byte long.
                unsafe { ptr.write(ptr.read() ^ 0xFF) };
            }
            Ok(block)
        }

        unsafe fn usable_size(&self, ptr: NonNull<u8>, layout: Layout) -> usize {
            // SAFETY: forwarded contract.
            let usable = unsafe { self.inner.usable_size(ptr, layout) };
            // The same lie as `allocate`'s, for the harness to catch
            // through the overlap it makes.
            if self.bug == Bug::LongerThanTheBlock {
                return usable + HEADER;
            }
            usable
        }

        fn reset(&mut self) {
            self.inner.reset();
            self.refused = 0;
        }

        fn stats(&self) -> Stats {
            let mut s = self.inner.stats();
            match self.bug {
                Bug::UncountedFailure => s.failures = 0,
                Bug::HidesRoom => {
                    s.failures += self.refused;
                    s.largest_free = s.largest_free.min(HIDDEN);
                }
                _ => {}
            }
            s
        }

        fn check(&self) -> Result<(), CheckError> {
            self.inner.check()
        }
    }

    fn ops() -> Vec<Op> {
        let mut ops = Vec::new();
        for i in 0..40 {
            let size = 1 + i * 53 % 700;
            ops.push(Op::Alloc {
                size,
                align: 1 << (i % 7),
                zeroed: false,
                use_excess: false,
            });
            ops.push(Op::Shrink {
                pick: i,
                keep: 100,
                align: 1,
            });
            if i % 3 == 0 {
                ops.push(Op::Free { pick: i * 7 });
            }
        }
        // Fits easily (tens of KiB are free): only `HidesRoom` refuses it.
        ops.push(Op::Alloc {
            size: 4 * HIDDEN,
            align: 8,
            zeroed: false,
            use_excess: false,
        });
        // Past the pool: fails.
        ops.push(Op::Alloc {
            size: 1 << 20,
            align: 8,
            zeroed: false,
            use_excess: false,
        });
        ops
    }

    fn run(bug: Option<Bug>) -> bool {
        let mut buf = PoolBuf::new(64 << 10);
        let pools = [tlsf_blocks(buf.range())];
        let harness = harness::<16>();
        let result = catch_unwind(AssertUnwindSafe(|| {
            let inner = Tlsf::new(buf.slice()).unwrap();
            let arena = Arena::new(Broken {
                inner,
                bug: bug.unwrap_or(Bug::Leaks),
                refused: 0,
            });
            if bug.is_none() {
                // No bug: a well-behaved core (through the same wrapper).
                let arena = Arena::new(arena.into_inner().inner);
                harness.run_with_pools(&arena, &ops(), &pools);
            } else {
                harness.run_with_pools(&arena, &ops(), &pools);
            }
        }));
        result.is_err()
    }

    #[test]
    fn a_correct_core_passes() {
        assert!(!run(None));
    }

    #[test]
    fn every_broken_core_is_caught() {
        for bug in [
            Bug::LongerThanTheBlock,
            Bug::ShrinkCorrupts,
            Bug::Leaks,
            Bug::UncountedFailure,
            Bug::IgnoresAlignment,
            Bug::HidesRoom,
        ] {
            assert!(run(Some(bug)), "{bug:?} was not caught");
        }
    }
}

// ---------------------------------------------------------------------------
// The slab and the hybrid heap: the same generic run.
// ---------------------------------------------------------------------------

/// Slab sizes: up to a little over the largest class of a 4 KiB page, so
/// that some requests are refused.
const SLAB_PARAMS: OpParams = OpParams {
    max_size: 2048,
    max_align: 4096,
};

/// After a run, the slab holds at most one spare page (the empty page of
/// the class that emptied its page last), and `trim` gives it back.
fn slab_over_pages(page_size: usize, pool: &mut [std::mem::MaybeUninit<u8>], ops: &[Op]) -> Tally {
    let pages = PoolPages::new(pool, page_size).unwrap();
    let mut arena = Arena::new(Slab::new(pages).unwrap());
    let (end, t) = slab_harness().run(&arena, ops);
    let slab = arena.get_mut();
    let classes: Vec<_> = (0..).map_while(|c| slab.class_stats(c)).collect();
    assert!(end.capacity <= page_size, "{end:?}");
    assert!(classes.iter().all(|c| c.live == 0 && c.pages <= 1));
    assert_eq!(slab.trim() * page_size, end.capacity);
    assert_eq!(slab.stats().capacity, 0);
    assert_eq!(slab.source().pages_in_use(), 0);
    slab.check().unwrap();
    t
}

#[test]
fn slab_4k_pages() {
    // At least 3 pages (the pool's start is rounded up to a page).
    let (min, max) = if MIRI {
        (4 << 12, 8 << 12)
    } else {
        (POOL / 8, POOL / 2)
    };
    let t = single_pool_cases(CASES, min, max, OPS, SLAB_PARAMS, |pool, ops| {
        slab_over_pages(4096, pool, ops)
    });
    assert_coverage_filled("Slab, 4 KiB pages", &t, 40);
}

/// Microcontroller-sized pages: classes up to 224 bytes.
#[test]
fn slab_512_byte_pages() {
    let params = OpParams {
        max_size: 256,
        max_align: 256,
    };
    let max = if MIRI { 8 << 10 } else { 64 << 10 };
    let t = single_pool_cases(CASES, max / 8, max, OPS, params, |pool, ops| {
        slab_over_pages(512, pool, ops)
    });
    assert_coverage_filled("Slab, 512-byte pages", &t, 40);
}

/// The hybrid heap over one pool: after a run and a trim, the pool is one
/// free TLSF block again.
#[test]
fn heap_default_pages() {
    let t = single_pool_cases(
        CASES,
        POOL / 8,
        POOL,
        OPS,
        OpParams::DEFAULT,
        |pool, ops| {
            let mut arena = Arena::new(Heap::new(pool).unwrap());
            heap_harness().run(&arena, ops);
            arena.get_mut().trim();
            let (end, t) = heap_harness().run(&arena, ops);
            arena.get_mut().trim();
            assert_eq!(end.live(), 0);
            assert_one_free_block(&arena.stats());
            t
        },
    );
    assert_coverage("Heap", &t);
}

/// `SmallHeap` over a microcontroller-sized pool with 512-byte pages, where
/// slab pages and large blocks compete for the same memory.
#[test]
fn heap_small_pool() {
    let max = if MIRI { 16 << 10 } else { 64 << 10 };
    let params = OpParams {
        max_size: if MIRI { 1024 } else { 8192 },
        ..OpParams::DEFAULT
    };
    let t = single_pool_cases(CASES, max / 4, max, OPS, params, |pool, ops| {
        let mut arena = Arena::new(SmallHeap::new(pool).unwrap());
        assert_eq!(arena.get_mut().page_size(), 512);
        let (_, t) = heap_harness().run(&arena, ops);
        arena.get_mut().trim();
        assert_one_free_block(&arena.stats());
        t
    });
    assert_coverage("Heap, 512-byte pages", &t);
}

/// A TLSF that grows from pool pages (which merge into one pool as they
/// come): the generic run, with capacity growing as pages are taken.
#[test]
fn growing_tlsf_over_pool_pages() {
    // At least two pages (the pool's start is rounded up to a page).
    let t = single_pool_cases(
        CASES,
        (POOL / 8).max(3 * 4096),
        POOL.max(4 * 4096),
        OPS,
        OpParams::DEFAULT,
        |pool, ops| {
            let pages = PoolPages::new(pool, 4096).unwrap();
            let total = pages.pages();
            let arena = Arena::new(GrowingTlsf::new(pages));
            let (end, t) = slab_harness().run(&arena, ops);
            let tlsf = arena.into_inner();
            assert_eq!(
                end.capacity,
                tlsf.source().pages_in_use() * 4096 - POOL_OVERHEAD,
                "the pages merged into one pool"
            );
            assert!(tlsf.source().pages_in_use() <= total);
            t
        },
    );
    assert_coverage("GrowingTlsf", &t);
}
