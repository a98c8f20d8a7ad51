//! Shared test support: aligned pool buffers, random operation sequences,
//! and a differential driver that runs any `Arena<C>` against a shadow model.
//!
//! The driver is generic over the core (`C: RawHeap`): every core of the
//! crate gets the same checks by calling [`run_ops`] (or [`Harness::run`]).

#![allow(dead_code)]

use std::alloc::{self, Layout};
use std::mem::MaybeUninit;
use std::ops::Range;
use std::ptr::NonNull;

use proptest::prelude::*;
use rtarena::tlsf::config::{GRANULE, HEADER, MIN_BLOCK, POOL_OVERHEAD};

/// `true` when running under Miri: tests shrink their sizes and counts.
pub const MIRI: bool = cfg!(miri);

/// An owned, aligned, uninitialised byte buffer to carve pools from.
///
/// Allocated with `std::alloc` so that its alignment is known (pools and
/// alignment tests need predictable addresses) and so that raw pools can be
/// carved from one pointer (`add_pool_raw`).
pub struct PoolBuf {
    ptr: NonNull<u8>,
    layout: Layout,
}

impl PoolBuf {
    /// A buffer of `len` bytes aligned to 4096.
    pub fn new(len: usize) -> Self {
        Self::with_align(len, 4096)
    }

    /// A buffer of `len` bytes aligned to `align`.
    pub fn with_align(len: usize, align: usize) -> Self {
        let layout = Layout::from_size_align(len.max(1), align).expect("buffer layout");
        // SAFETY: the layout's size is non-zero.
        let ptr = unsafe { alloc::alloc(layout) };
        let ptr = NonNull::new(ptr).unwrap_or_else(|| alloc::handle_alloc_error(layout));
        PoolBuf { ptr, layout }
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.layout.size()
    }

    /// The whole buffer as a pool slice.
    pub fn slice(&mut self) -> &mut [MaybeUninit<u8>] {
        // SAFETY: the buffer is ours, `len` bytes long, and `&mut self`
        // makes this the only live reference to it.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr().cast(), self.len()) }
    }

    /// The buffer's base pointer, for carving raw pools (`add_pool_raw`).
    /// Every raw pool taken from it shares this one provenance.
    pub fn base(&mut self) -> NonNull<u8> {
        self.ptr
    }

    /// `len` bytes at `offset` as a raw pool.
    pub fn raw(&mut self, offset: usize, len: usize) -> NonNull<[u8]> {
        assert!(offset + len <= self.len(), "raw pool out of the buffer");
        // SAFETY: `offset <= len` of the buffer, so the pointer stays inside.
        let start = unsafe { self.ptr.add(offset) };
        NonNull::slice_from_raw_parts(start, len)
    }

    /// Address range of the buffer.
    pub fn range(&self) -> std::ops::Range<usize> {
        let start = self.ptr.as_ptr().addr();
        start..start + self.len()
    }
}

impl Drop for PoolBuf {
    fn drop(&mut self) {
        // SAFETY: allocated in `with_align` with this very layout.
        unsafe { alloc::dealloc(self.ptr.as_ptr(), self.layout) }
    }
}

/// Rounds `x` up to a multiple of `to` (a power of two).
pub const fn round_up(x: usize, to: usize) -> usize {
    (x + to - 1) & !(to - 1)
}

/// Length of the pattern table: a prime, so that blocks' patterns do not
/// line up with power-of-two sizes.
const TABLE_LEN: usize = if MIRI { 4093 } else { 65521 };

/// Pseudo-random bytes that patterns are cut from.
static TABLE: std::sync::LazyLock<Vec<u8>> = std::sync::LazyLock::new(|| {
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    (0..TABLE_LEN)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
});

/// Where block `id`'s pattern starts in the table.
fn table_start(id: u64) -> usize {
    (id.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 20) as usize % TABLE_LEN
}

/// The byte block `id` holds at offset `i`: distinct per block (each block
/// starts at its own place in a pseudo-random table), cheap to write and to
/// compare (`memcpy`, `memcmp`) even in debug builds.
pub fn pattern(id: u64, i: usize) -> u8 {
    TABLE[(table_start(id) + i) % TABLE_LEN]
}

/// Calls `f(offset, chunk)` for consecutive chunks of block `id`'s pattern
/// covering `0..len`; stops early if `f` returns `false`.
fn pattern_chunks(id: u64, len: usize, mut f: impl FnMut(usize, &[u8]) -> bool) {
    let table = &TABLE[..];
    let (mut at, mut done) = (table_start(id), 0);
    while done < len {
        let n = (len - done).min(TABLE_LEN - at);
        if !f(done, &table[at..at + n]) {
            return;
        }
        done += n;
        at = 0;
    }
}

/// Writes `pattern(id, _)` over `len` bytes at `ptr`.
///
/// # Safety
/// `ptr` is valid for writes of `len` bytes.
pub unsafe fn fill(ptr: NonNull<u8>, len: usize, id: u64) {
    // SAFETY: forwarded.
    let bytes = unsafe { std::slice::from_raw_parts_mut(ptr.as_ptr(), len) };
    pattern_chunks(id, len, |at, chunk| {
        bytes[at..at + chunk.len()].copy_from_slice(chunk);
        true
    });
}

/// Checks `pattern(id, _)` over bytes `0..len` at `ptr`; panics with the first
/// difference.
///
/// # Safety
/// `ptr` is valid for reads of `len` initialised bytes.
pub unsafe fn verify(ptr: NonNull<u8>, len: usize, id: u64, what: &str) {
    // SAFETY: forwarded.
    let bytes = unsafe { std::slice::from_raw_parts(ptr.as_ptr(), len) };
    pattern_chunks(id, len, |at, chunk| {
        let got = &bytes[at..at + chunk.len()];
        if got != chunk {
            let i = at + (0..chunk.len()).find(|&j| got[j] != chunk[j]).unwrap();
            panic!(
                "{what}: block #{id} at {ptr:p} lost its contents at offset {i} of {len}: {:#04x}, expected {:#04x}",
                bytes[i],
                pattern(id, i)
            );
        }
        true
    });
}

/// Checks that bytes `from..to` at `ptr` are zero.
///
/// # Safety
/// `ptr` is valid for reads of `to` initialised bytes.
pub unsafe fn verify_zero(ptr: NonNull<u8>, from: usize, to: usize, what: &str) {
    // SAFETY: forwarded.
    let bytes = unsafe { std::slice::from_raw_parts(ptr.as_ptr(), to) };
    if bytes[from..].iter().any(|&b| b != 0) {
        let i = (from..to).find(|&i| bytes[i] != 0).unwrap();
        panic!(
            "{what}: byte {i} of {ptr:p} (zeroed {from}..{to}) is {:#04x}",
            bytes[i]
        );
    }
}

// ---------------------------------------------------------------------------
// Random operation sequences.
// ---------------------------------------------------------------------------

/// One step of a differential run. Indices (`pick`) choose a live block
/// modulo the number of live blocks; with none live, the step is skipped.
#[derive(Clone, Debug)]
pub enum Op {
    /// `allocate` (or `allocate_zeroed`). With `use_excess`, the block is
    /// then used (and later freed) with its whole returned length, as the
    /// `Allocator` "fits" rule allows.
    Alloc {
        size: usize,
        align: usize,
        zeroed: bool,
        use_excess: bool,
    },
    /// `deallocate`.
    Free { pick: usize },
    /// `grow` (or `grow_zeroed`) by `extra` bytes, to alignment `align`.
    Grow {
        pick: usize,
        extra: usize,
        align: usize,
        zeroed: bool,
    },
    /// `shrink` to `size * keep / 255` bytes, alignment `align`.
    Shrink { pick: usize, keep: u8, align: usize },
    /// Verify the contents of every live block.
    VerifyAll,
}

/// Bounds for generated operations.
#[derive(Clone, Copy, Debug)]
pub struct OpParams {
    /// Largest size of an allocation (and of one growth step).
    pub max_size: usize,
    /// Largest alignment (a power of two).
    pub max_align: usize,
}

impl OpParams {
    /// Sizes up to 64 KiB (2 KiB under Miri), alignments up to 4096.
    pub const DEFAULT: OpParams = OpParams {
        max_size: if MIRI { 2048 } else { 64 << 10 },
        max_align: 4096,
    };
}

/// Sizes from 1 to `max`, skewed to small; now and then zero.
pub fn size_strategy(max: usize) -> BoxedStrategy<usize> {
    prop_oneof![
        1 => Just(0usize),
        40 => 1..=max.min(64),
        30 => 1..=max.min(1024),
        15 => 1..=max.min(8192),
        5 => 1..=max,
    ]
    .boxed()
}

/// Powers of two from 1 to `max`, skewed to the natural alignments.
pub fn align_strategy(max: usize) -> BoxedStrategy<usize> {
    let top = max.trailing_zeros();
    prop_oneof![
        12 => 0..=top.min(3),
        4 => 0..=top.min(6),
        1 => 0..=top,
    ]
    .prop_map(|log2| 1usize << log2)
    .boxed()
}

/// One random operation.
pub fn op_strategy(p: OpParams) -> BoxedStrategy<Op> {
    let size = || size_strategy(p.max_size);
    let align = || align_strategy(p.max_align);
    prop_oneof![
        40 => (size(), align(), prop::bool::weighted(0.2), prop::bool::weighted(0.2))
            .prop_map(|(size, align, zeroed, use_excess)| Op::Alloc { size, align, zeroed, use_excess }),
        25 => any::<usize>().prop_map(|pick| Op::Free { pick }),
        15 => (any::<usize>(), size(), align(), prop::bool::weighted(0.3))
            .prop_map(|(pick, extra, align, zeroed)| Op::Grow { pick, extra, align, zeroed }),
        12 => (any::<usize>(), any::<u8>(), align())
            .prop_map(|(pick, keep, align)| Op::Shrink { pick, keep, align }),
        1 => Just(Op::VerifyAll),
    ]
    .boxed()
}

/// A sequence of `len` random operations.
pub fn ops_strategy(
    p: OpParams,
    len: std::ops::RangeInclusive<usize>,
) -> impl Strategy<Value = Vec<Op>> {
    proptest::collection::vec(op_strategy(p), len)
}

/// A proptest configuration: `cases` cases, no failure file (Miri's
/// isolation forbids file IO; a failure prints its minimal input).
///
/// The seed is fixed unless `PROPTEST_RNG_SEED` is set (to a number; any
/// other value gets a random seed, with proptest's warning): the coverage
/// assertions (an allocation failed, the heap got full) hold for the fixed
/// seed, where a random one very rarely misses one of them and fails a run
/// that found nothing wrong. `PROPTEST_RNG_SEED=<n> cargo test` explores
/// other sequences.
pub fn proptest_config(cases: u32) -> ProptestConfig {
    let defaults = ProptestConfig::default();
    let rng_seed = if std::env::var_os("PROPTEST_RNG_SEED").is_some() {
        defaults.rng_seed
    } else {
        proptest::test_runner::RngSeed::Fixed(0x5eed_0005)
    };
    ProptestConfig {
        cases,
        failure_persistence: None,
        max_shrink_iters: if MIRI { 0 } else { 2048 },
        rng_algorithm: proptest::test_runner::RngAlgorithm::XorShift,
        rng_seed,
        ..defaults
    }
}

/// Runs `test` on `cases` values of `strategy`, panicking with the minimal
/// failing input if one fails.
pub fn run_cases<S: Strategy>(cases: u32, strategy: S, test: impl Fn(S::Value))
where
    S::Value: std::fmt::Debug,
{
    let mut runner = proptest::test_runner::TestRunner::new(proptest_config(cases));
    let result = runner.run(&strategy, |value| {
        test(value);
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

// ---------------------------------------------------------------------------
// The differential driver.
// ---------------------------------------------------------------------------

#[cfg(feature = "allocator-api2")]
#[allow(unused_imports)]
pub use self::driver::*;

#[cfg(feature = "allocator-api2")]
mod driver {
    use std::alloc::Layout;
    use std::collections::BTreeMap;
    use std::ops::Range;
    use std::ptr::NonNull;

    use std::cell::RefCell;
    use std::mem::MaybeUninit;

    use allocator_api2::alloc::Allocator;
    use rtarena::raw::RawHeap;
    use rtarena::tlsf::config::{GRANULE, HEADER};
    use rtarena::{Arena, Stats};

    use super::{Op, OpParams, PoolBuf, fill, ops_strategy, run_cases, verify, verify_zero};

    /// What a run did, for coverage assertions.
    #[derive(Clone, Copy, Debug, Default)]
    pub struct Tally {
        pub ops: u64,
        pub allocs: u64,
        pub zero_size: u64,
        pub frees: u64,
        pub grows: u64,
        pub grows_in_place: u64,
        pub shrinks: u64,
        pub shrinks_in_place: u64,
        /// Operations that returned `Err` (out of memory).
        pub failures: u64,
        /// Most blocks live at once.
        pub max_live: u64,
        /// Highest `in_use` over `capacity`, in percent.
        pub max_fill_percent: u64,
    }

    impl Tally {
        pub fn add(&mut self, o: &Tally) {
            self.ops += o.ops;
            self.allocs += o.allocs;
            self.zero_size += o.zero_size;
            self.frees += o.frees;
            self.grows += o.grows;
            self.grows_in_place += o.grows_in_place;
            self.shrinks += o.shrinks;
            self.shrinks_in_place += o.shrinks_in_place;
            self.failures += o.failures;
            self.max_live = self.max_live.max(o.max_live);
            self.max_fill_percent = self.max_fill_percent.max(o.max_fill_percent);
        }
    }

    /// A live block of the shadow model.
    #[derive(Clone, Copy, Debug)]
    struct Live {
        id: u64,
        ptr: NonNull<u8>,
        /// The layout the block is used with (what deallocate/grow get).
        layout: Layout,
        /// The length the allocator returned: the pattern covers it all.
        len: usize,
        /// The most bytes a TLSF may keep between the block's header and
        /// its header's usual place, the word before `ptr`: a payload
        /// aligned above the granule may start up to `align - GRANULE`
        /// bytes into its block (a pad the block keeps, in place resizes
        /// included), where `align` is that of the call that put it here.
        max_pad: usize,
    }

    impl Live {
        /// `max_pad` of a payload put in place by a call with `align`.
        fn max_pad(align: usize) -> usize {
            align.saturating_sub(GRANULE)
        }

        fn start(&self) -> usize {
            self.ptr.as_ptr().addr()
        }

        fn end(&self) -> usize {
            self.start() + self.len
        }
    }

    /// The shadow model: live blocks and their address ranges.
    #[derive(Default)]
    struct Model {
        live: Vec<Live>,
        /// Start address -> block, for blocks of non-zero length.
        ranges: BTreeMap<usize, Live>,
        next_id: u64,
    }

    impl Model {
        fn new_id(&mut self) -> u64 {
            self.next_id += 1;
            self.next_id
        }

        fn nonzero(&self) -> u64 {
            self.ranges.len() as u64
        }

        /// Records the range of a block, asserting it overlaps no other.
        fn claim(&mut self, b: &Live) {
            if b.len == 0 {
                return;
            }
            let (start, end) = (b.start(), b.end());
            if let Some((&s, o)) = self.ranges.range(..end).next_back() {
                assert!(
                    o.end() <= start || s >= end,
                    "block #{} {start:#x}..{end:#x} overlaps live block #{} {s:#x}..{:#x}",
                    b.id,
                    o.id,
                    o.end()
                );
            }
            self.ranges.insert(start, *b);
        }

        fn release(&mut self, b: &Live) {
            if b.len == 0 {
                return;
            }
            let removed = self.ranges.remove(&b.start());
            assert_eq!(removed.map(|r| r.id), Some(b.id), "model out of sync");
        }

        /// The largest free block that a TLSF whose blocks tile `pools`
        /// (see [`Harness::run_with_pools`]) must have, given the live
        /// blocks of the model: the heap's own `largest_free` is not taken
        /// on trust. Free blocks coalesce, so between two live blocks of a
        /// pool (or a live block and an end of the pool) lies one free
        /// block or none, from the end of the first (`ptr + len`, the
        /// length returned) to the header of the second: at `ptr - HEADER`,
        /// or up to `max_pad` bytes before it. The free block is at least
        /// the distance to the earliest place, and that is what counts.
        fn largest_gap(&self, pools: &[Range<usize>]) -> Gap {
            let mut largest = Gap::default();
            let mut blocks = 0;
            for (pool, span) in pools.iter().enumerate() {
                let (mut start, mut prev) = (span.start, None);
                for b in self.ranges.range(span.clone()).map(|(_, b)| b) {
                    let header = b.start() - HEADER;
                    assert!(
                        header >= start && b.end() <= span.end,
                        "block #{} {header:#x}..{:#x} (header included) is not in pool {pool} \
                         ({span:#x?}) after {start:#x}",
                        b.id,
                        b.end(),
                    );
                    let end = header.saturating_sub(b.max_pad).max(start);
                    let next = Some(b.id);
                    largest = largest.larger(Gap {
                        pool,
                        start,
                        end,
                        prev,
                        next,
                    });
                    (start, prev) = (b.end(), next);
                    blocks += 1;
                }
                let end = span.end;
                largest = largest.larger(Gap {
                    pool,
                    start,
                    end,
                    prev,
                    next: None,
                });
            }
            assert_eq!(blocks, self.ranges.len(), "live blocks outside every pool");
            largest
        }
    }

    /// Free memory between live blocks (see `Model::largest_gap`), with
    /// where it is for the report.
    #[derive(Clone, Copy, Debug, Default)]
    struct Gap {
        pool: usize,
        start: usize,
        end: usize,
        /// The live block before it; `None`: the pool's start.
        prev: Option<u64>,
        /// The live block after it; `None`: the pool's end.
        next: Option<u64>,
    }

    impl Gap {
        fn len(&self) -> usize {
            self.end - self.start
        }

        fn larger(self, other: Gap) -> Gap {
            if other.len() > self.len() {
                other
            } else {
                self
            }
        }
    }

    impl std::fmt::Display for Gap {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            let block = |id: Option<u64>, end| id.map_or(end, |id| format!("block #{id}"));
            write!(
                f,
                "{} bytes at {:#x}..{:#x} in pool {}, between {} and {}",
                self.len(),
                self.start,
                self.end,
                self.pool,
                block(self.prev, "the pool's start".into()),
                block(self.next, "the pool's end".into()),
            )
        }
    }

    /// The checks a run makes. `Harness::default()` is what every core
    /// must pass; a core with a good-fit guarantee can add `fit_bound`.
    #[derive(Clone, Copy, Debug)]
    pub struct Harness {
        /// For a layout, the size of a free block from which allocating it
        /// must succeed (a good-fit guarantee); `None`: any failure is
        /// accepted as long as it changes nothing. A failure is checked
        /// against the heap's own `largest_free` and against the largest
        /// free block the model leaves in the pools (see
        /// [`run_with_pools`](Harness::run_with_pools), which a bound needs).
        pub fit_bound: Option<fn(Layout) -> usize>,
        /// Verify every live block's contents every this many steps (and
        /// at the end); the touched block is verified at every step.
        pub verify_every: usize,
        /// Run `arena.check()` after every step (else only every
        /// `verify_every` steps).
        pub check_every_step: bool,
        /// The heap's capacity is its pool's and never changes. A slab's
        /// capacity is the pages it holds: it grows as it takes pages.
        pub fixed_capacity: bool,
        /// A failed allocation changes nothing but the failure count. A
        /// core with cached free memory (a slab's spare page) may first
        /// give it back, changing `capacity`, `free` and `largest_free`, but
        /// nothing live.
        pub exact_failures: bool,
    }

    impl Default for Harness {
        fn default() -> Self {
            Harness {
                fit_bound: None,
                verify_every: 32,
                check_every_step: true,
                fixed_capacity: true,
                exact_failures: true,
            }
        }
    }

    /// Runs `ops` on `arena` with the default checks, then frees every block
    /// and returns the final stats (in use: 0). See [`Harness::run`].
    pub fn run_ops<C: RawHeap>(arena: &Arena<C>, ops: &[Op]) -> (Stats, Tally) {
        Harness::default().run(arena, ops)
    }

    /// Asserts that a single-pool heap is one free block again.
    pub fn assert_one_free_block(stats: &Stats) {
        assert_eq!(stats.in_use, 0, "{stats:?}");
        assert_eq!(stats.live(), 0, "{stats:?}");
        assert_eq!(stats.free, stats.capacity, "{stats:?}");
        assert_eq!(
            stats.largest_free, stats.capacity,
            "the pool is not one free block again: {stats:?}"
        );
    }

    impl Harness {
        /// Drives `ops` through `allocator_api2::alloc::Allocator` on
        /// `&Arena<C>` against a shadow model, checking after every step
        /// that live blocks do not overlap, are aligned and long enough
        /// (and that `usable_size` gives the length returned),
        /// keep their contents, that zeroed memory is zero, that a failure
        /// changes nothing but `stats().failures`, that the counters agree
        /// with the model, and that `arena.check()` passes. Then frees every
        /// block, checks that nothing is in use, and returns the final stats.
        ///
        /// The arena must be fresh or empty (nothing live) on entry. A
        /// harness with a `fit_bound` needs [`run_with_pools`](Self::run_with_pools).
        pub fn run<C: RawHeap>(&self, arena: &Arena<C>, ops: &[Op]) -> (Stats, Tally) {
            self.run_with_pools(arena, ops, &[])
        }

        /// [`run`](Self::run) on a TLSF whose blocks tile `pools`: each the
        /// addresses from the header of a pool's first block to the end of
        /// its last (the pool less its alignment and overhead; together,
        /// the heap's capacity). With them a failure is checked against
        /// `fit_bound` from the model's side too: the free blocks that the
        /// live blocks leave in the pools (`Model::largest_gap`) must all
        /// be smaller than the bound, whatever the heap says of itself.
        /// Given if and only if `fit_bound` is.
        pub fn run_with_pools<C: RawHeap>(
            &self,
            arena: &Arena<C>,
            ops: &[Op],
            pools: &[Range<usize>],
        ) -> (Stats, Tally) {
            let start = arena.stats();
            assert_eq!(start.live(), 0, "run needs an arena with nothing live");
            assert_eq!(
                self.fit_bound.is_some(),
                !pools.is_empty(),
                "a fit bound is checked against the pools: give both or neither"
            );
            if !pools.is_empty() {
                let spans: usize = pools.iter().map(Range::len).sum();
                assert_eq!(
                    spans, start.capacity,
                    "the pools {pools:#x?} are not the heap's"
                );
            }
            arena.check().expect("check before the run");
            let mut run = Run {
                h: self,
                pools,
                arena,
                alloc: arena,
                m: Model::default(),
                t: Tally::default(),
                start,
                last: start,
            };
            for (step, op) in ops.iter().enumerate() {
                run.step(step, op);
                run.after_step(step, op);
            }
            run.verify_all("end of run");
            run.free_all();
            let end = arena.stats();
            arena.check().expect("check after freeing everything");
            assert_eq!(
                end.in_use, 0,
                "bytes still in use after freeing everything: {end:?}"
            );
            assert_eq!(
                end.live(),
                0,
                "blocks still live after freeing everything: {end:?}"
            );
            assert_eq!(end.free, end.capacity, "{end:?}");
            if self.fixed_capacity {
                assert_eq!(end.capacity, start.capacity, "capacity changed");
            }
            (end, run.t)
        }
    }

    struct Run<'a, C: RawHeap, A: Allocator> {
        h: &'a Harness,
        /// See [`Harness::run_with_pools`].
        pools: &'a [Range<usize>],
        arena: &'a Arena<C>,
        /// The allocator under test: `&Arena<C>`.
        alloc: A,
        m: Model,
        t: Tally,
        start: Stats,
        last: Stats,
    }

    impl<C: RawHeap, A: Allocator> Run<'_, C, A> {
        fn step(&mut self, step: usize, op: &Op) {
            self.t.ops += 1;
            match *op {
                Op::Alloc {
                    size,
                    align,
                    zeroed,
                    use_excess,
                } => self.alloc(step, size, align, zeroed, use_excess),
                Op::Free { pick } => {
                    if self.m.live.is_empty() {
                        return;
                    }
                    let b = self.m.live.swap_remove(pick % self.m.live.len());
                    // SAFETY: a live block holds its pattern over `len` bytes.
                    unsafe { verify(b.ptr, b.len, b.id, "before free") };
                    self.m.release(&b);
                    // SAFETY: `b` is live in this allocator with `b.layout`.
                    unsafe { self.alloc.deallocate(b.ptr, b.layout) };
                    self.t.frees += 1;
                }
                Op::Grow {
                    pick,
                    extra,
                    align,
                    zeroed,
                } => {
                    if self.m.live.is_empty() {
                        return;
                    }
                    let i = pick % self.m.live.len();
                    let old = self.m.live[i].layout;
                    let new = Layout::from_size_align(old.size() + extra, align).unwrap();
                    self.resize(
                        step,
                        i,
                        new,
                        if zeroed {
                            Resize::GrowZeroed
                        } else {
                            Resize::Grow
                        },
                    );
                }
                Op::Shrink { pick, keep, align } => {
                    if self.m.live.is_empty() {
                        return;
                    }
                    let i = pick % self.m.live.len();
                    let old = self.m.live[i].layout;
                    let new =
                        Layout::from_size_align(old.size() * keep as usize / 255, align).unwrap();
                    self.resize(step, i, new, Resize::Shrink);
                }
                Op::VerifyAll => self.verify_all("VerifyAll"),
            }
        }

        fn alloc(
            &mut self,
            step: usize,
            size: usize,
            align: usize,
            zeroed: bool,
            use_excess: bool,
        ) {
            let layout = Layout::from_size_align(size, align).unwrap();
            let before = self.arena.stats();
            let result = if zeroed {
                self.alloc.allocate_zeroed(layout)
            } else {
                self.alloc.allocate(layout)
            };
            let Ok(block) = result else {
                self.failed(step, layout, before);
                return;
            };
            let (ptr, len) = (block.cast::<u8>(), block.len());
            self.check_block(step, ptr, len, layout);
            if zeroed {
                // SAFETY: a fresh block of `len` bytes, initialised by the
                // allocator (zeroed).
                unsafe { verify_zero(ptr, 0, len, "allocate_zeroed") };
            }
            let id = self.m.new_id();
            let layout = if use_excess {
                Layout::from_size_align(len, align).unwrap()
            } else {
                layout
            };
            let b = Live {
                id,
                ptr,
                layout,
                len,
                max_pad: Live::max_pad(align),
            };
            self.m.claim(&b);
            // SAFETY: the block is ours for `len` bytes.
            unsafe { fill(ptr, len, id) };
            self.m.live.push(b);
            self.t.allocs += 1;
            if size == 0 {
                self.t.zero_size += 1;
            }
        }

        fn resize(&mut self, step: usize, i: usize, new: Layout, how: Resize) {
            let b = self.m.live[i];
            let old = b.layout;
            let before = self.arena.stats();
            // SAFETY: `b` is live with layout `old`; `new` is at least (grow)
            // or at most (shrink) as large as `old`.
            let result = unsafe {
                match how {
                    Resize::Grow => self.alloc.grow(b.ptr, old, new),
                    Resize::GrowZeroed => self.alloc.grow_zeroed(b.ptr, old, new),
                    Resize::Shrink => self.alloc.shrink(b.ptr, old, new),
                }
            };
            let Ok(block) = result else {
                self.failed(step, new, before);
                // The old block must be untouched, all of it.
                // SAFETY: still live, pattern over `len` bytes.
                unsafe { verify(b.ptr, b.len, b.id, "after a failed resize") };
                return;
            };
            let (ptr, len) = (block.cast::<u8>(), block.len());
            self.check_block(step, ptr, len, new);
            self.m.release(&b);
            let in_place = ptr == b.ptr;
            let moved = Live {
                id: b.id,
                ptr,
                layout: new,
                len,
                // An in-place resize keeps the pad.
                max_pad: if in_place {
                    b.max_pad
                } else {
                    Live::max_pad(new.align())
                },
            };
            self.m.claim(&moved);
            let kept = old.size().min(new.size());
            // SAFETY: the block is ours for `len >= kept` bytes, and its
            // first `kept` bytes were copied or kept by the allocator.
            unsafe { verify(ptr, kept, b.id, "after grow/shrink") };
            if let Resize::GrowZeroed = how {
                // SAFETY: bytes `old.size()..len` were zeroed by the allocator.
                unsafe { verify_zero(ptr, old.size(), len, "grow_zeroed") };
            }
            match how {
                Resize::Shrink => {
                    self.t.shrinks += 1;
                    self.t.shrinks_in_place += in_place as u64;
                }
                _ => {
                    self.t.grows += 1;
                    self.t.grows_in_place += in_place as u64;
                }
            }
            // SAFETY: the block is ours for `len` bytes.
            unsafe { fill(ptr, len, b.id) };
            self.m.live[i] = moved;
        }

        /// Checks a block the allocator just returned for `layout`.
        fn check_block(&self, step: usize, ptr: NonNull<u8>, len: usize, layout: Layout) {
            assert_eq!(
                ptr.as_ptr().addr() % layout.align(),
                0,
                "step {step}: {ptr:p} is not aligned for {layout:?}"
            );
            assert!(
                len >= layout.size(),
                "step {step}: {len} bytes returned for {layout:?}"
            );
            // SAFETY: the block was just returned for `layout`: live with it.
            let usable = unsafe { self.arena.usable_size(ptr, layout) };
            assert_eq!(
                usable, len,
                "step {step}: usable_size of {ptr:p} ({layout:?}) is not the length returned"
            );
        }

        /// An operation returned `Err`: nothing may have changed but the
        /// failure counter, and a good-fit core must have had no room.
        fn failed(&mut self, step: usize, layout: Layout, before: Stats) {
            let after = self.arena.stats();
            let expected = if self.h.exact_failures {
                Stats {
                    failures: before.failures + 1,
                    ..before
                }
            } else {
                Stats {
                    failures: before.failures + 1,
                    capacity: after.capacity,
                    free: after.free,
                    largest_free: after.largest_free,
                    ..before
                }
            };
            assert_eq!(
                after, expected,
                "step {step}: a failed allocation of {layout:?} changed the heap"
            );
            assert_ne!(
                layout.size(),
                0,
                "step {step}: a zero-size allocation failed"
            );
            if let Some(bound) = self.h.fit_bound {
                let bound = bound(layout);
                assert!(
                    before.largest_free < bound,
                    "step {step}: {layout:?} failed although a free block of {} bytes (>= {bound}) was listed",
                    before.largest_free
                );
                let gap = self.m.largest_gap(self.pools);
                assert!(
                    gap.len() < bound,
                    "step {step}: {layout:?} failed although the live blocks leave a free block \
                     of at least {gap} (bound {bound}; the heap lists {} as its largest)",
                    before.largest_free
                );
            }
            self.t.failures += 1;
            // Nothing else may have changed either.
            self.verify_all("after a failure");
        }

        fn after_step(&mut self, step: usize, op: &Op) {
            let every = self.h.verify_every.max(1);
            if self.h.check_every_step || step % every == 0 {
                if let Err(e) = self.arena.check() {
                    panic!("step {step} ({op:?}): {e}");
                }
            }
            if step % every == every - 1 {
                self.verify_all("periodic");
            }
            let s = self.arena.stats();
            let (start, last) = (&self.start, &self.last);
            if self.h.fixed_capacity {
                assert_eq!(s.capacity, start.capacity, "step {step}: capacity changed");
            }
            assert_eq!(s.in_use + s.free, s.capacity, "step {step}: {s:?}");
            assert!(s.peak_in_use >= s.in_use, "step {step}: {s:?}");
            assert!(
                s.peak_in_use >= last.peak_in_use,
                "step {step}: peak went down: {s:?}"
            );
            assert!(s.largest_free <= s.free, "step {step}: {s:?}");
            assert!(
                s.allocations >= last.allocations,
                "step {step}: allocations went down"
            );
            assert!(
                s.deallocations >= last.deallocations,
                "step {step}: deallocations went down"
            );
            assert_eq!(
                s.failures,
                start.failures + self.t.failures,
                "step {step}: failures miscounted"
            );
            assert_eq!(
                s.live(),
                self.m.nonzero(),
                "step {step} ({op:?}): live blocks miscounted: {s:?}"
            );
            let bytes: usize = self.m.live.iter().map(|b| b.len).sum();
            assert!(
                s.in_use >= bytes,
                "step {step}: in_use {} below the {bytes} bytes handed out",
                s.in_use
            );
            self.t.max_live = self.t.max_live.max(self.m.live.len() as u64);
            if let Some(percent) = (s.in_use * 100).checked_div(s.capacity) {
                self.t.max_fill_percent = self.t.max_fill_percent.max(percent as u64);
            }
            self.last = s;
        }

        fn verify_all(&self, what: &str) {
            for b in &self.m.live {
                // SAFETY: a live block holds its pattern over `len` bytes.
                unsafe { verify(b.ptr, b.len, b.id, what) };
            }
        }

        fn free_all(&mut self) {
            while let Some(b) = self.m.live.pop() {
                self.m.release(&b);
                // SAFETY: `b` is live with `b.layout`.
                unsafe { self.alloc.deallocate(b.ptr, b.layout) };
            }
        }
    }

    /// Runs `cases` random single-pool cases and returns their summed
    /// tally. Each case gets a pool of random length in `min..=max`, at a
    /// random offset (0 to 63 bytes, so its ends are not always aligned)
    /// into one reused buffer, and a random sequence of up to `ops`
    /// operations; `run` builds a heap over the pool, drives the operations
    /// (usually through [`Harness::run`]) and returns the tally.
    ///
    /// This is the entry point for a new core: only `run` is core-specific.
    pub fn single_pool_cases(
        cases: u32,
        min: usize,
        max: usize,
        ops: usize,
        params: OpParams,
        run: impl Fn(&mut [MaybeUninit<u8>], &[Op]) -> Tally,
    ) -> Tally {
        let buf = RefCell::new(PoolBuf::new(max + 64));
        let total = RefCell::new(Tally::default());
        let strategy = (0..64usize, min..=max, ops_strategy(params, ops / 2..=ops));
        run_cases(cases, strategy, |(offset, len, ops)| {
            let mut buf = buf.borrow_mut();
            let t = run(&mut buf.slice()[offset..offset + len], &ops);
            total.borrow_mut().add(&t);
        });
        total.into_inner()
    }

    #[derive(Clone, Copy)]
    enum Resize {
        Grow,
        GrowZeroed,
        Shrink,
    }
}

// The checks the TLSF, slab and heap runs share (the differential tests
// and the fuzz targets).

/// The TLSF's good-fit guarantee with `SL` second-level lists: if the head of
/// the highest non-empty list (`largest_free`) is at least the returned
/// value, an allocation of `layout` must succeed.
pub fn tlsf_fit_bound<const SL: usize>(layout: Layout) -> usize {
    let block = round_up(layout.size() + HEADER, GRANULE).max(MIN_BLOCK);
    let search = if layout.align() > GRANULE {
        block + layout.align() - GRANULE
    } else {
        block
    };
    list_ceil(search, SL)
}

/// The smallest free-list boundary at or above `size` (bytes, a multiple of
/// the granule): a level of `2^top` to `2^(top+1) - 1` granules has `SL`
/// lists, each `2^(top - log2 SL)` granules wide (one granule at least).
pub fn list_ceil(size: usize, sl: usize) -> usize {
    let granules = size.div_ceil(GRANULE);
    let top = usize::BITS - 1 - granules.leading_zeros();
    let step = 1usize << top.saturating_sub(sl.trailing_zeros());
    round_up(granules, step) * GRANULE
}

/// Where a TLSF's blocks lie in a pool given as the bytes `pool` (see
/// `Tlsf::new`): the pool's granule-aligned inside, less the word before
/// the first block and the one-word sentinel after the last (the two words
/// of `POOL_OVERHEAD`). What `Harness::run_with_pools` takes.
pub fn tlsf_blocks(pool: Range<usize>) -> Range<usize> {
    let word = POOL_OVERHEAD / 2;
    round_up(pool.start, GRANULE) + word..(pool.end & !(GRANULE - 1)) - word
}

/// The address range of a pool slice.
pub fn addresses(pool: &[MaybeUninit<u8>]) -> Range<usize> {
    let range = pool.as_ptr_range();
    range.start.addr()..range.end.addr()
}

/// The checks for a TLSF with `SL` second-level lists: every failure is
/// held to its fit bound.
#[cfg(feature = "allocator-api2")]
pub fn harness<const SL: usize>() -> Harness {
    Harness {
        fit_bound: Some(tlsf_fit_bound::<SL>),
        ..Harness::default()
    }
}

/// A slab's capacity is the pages it holds, and a failed allocation may first
/// take another class's spare page.
#[cfg(feature = "allocator-api2")]
pub fn slab_harness() -> Harness {
    Harness {
        fixed_capacity: false,
        exact_failures: false,
        ..Harness::default()
    }
}

/// The hybrid heap's capacity is its pool's, but a failed large allocation
/// first gives the slab's spare page back to the TLSF.
#[cfg(feature = "allocator-api2")]
pub fn heap_harness() -> Harness {
    Harness {
        exact_failures: false,
        ..Harness::default()
    }
}
