//! rtarena's `Arena<Tlsf>` beside its peers, one criterion group per
//! workload, every peer in the same group so they are measured in one run.
//!
//! Peers, each called through its own native API:
//!
//! | id              | what                                                        |
//! |-----------------|-------------------------------------------------------------|
//! | `rtarena`       | `Arena<Tlsf>` through `allocator_api2::alloc::Allocator` on `&Arena` (the headline) |
//! | `rtarena-core`  | the raw `Tlsf` core: `Tlsf::allocate` / `Tlsf::deallocate` (shows the wrapper's cost) |
//! | `rtarena-heap`  | `Arena<Heap>` (slab classes in front of the TLSF, one pool), through `Allocator` on `&Arena` |
//! | `rtarena-slab`  | `Arena<Slab<PoolPages>>` with 16 KiB pages (classes up to 4 KiB), through `Allocator` on `&Arena`; only in workloads whose requests all fit a class |
//! | `rlsf`          | `rlsf::Tlsf<'_, u32, u16, 27, 16>`: `allocate` / `deallocate` / `reallocate` |
//! | `talc`          | `talc::base::Talc<Manual, DefaultBinning>`: `claim` / `allocate` / `deallocate` / `try_grow_in_place` |
//! | `linked_list`   | `linked_list_allocator::Heap`: `init` / `allocate_first_fit` / `deallocate` |
//! | `slabmalloc`    | `slabmalloc::ZoneAllocator`: `allocate` / `deallocate`, fed pages with `refill` / `refill_large` |
//! | `buddy`         | `buddy_system_allocator::Heap<32>`: `init` / `alloc` / `dealloc` |
//! | `system`        | glibc through `std::alloc::System` (`GlobalAlloc`)           |
//! | `mimalloc`      | `mimalloc::MiMalloc` (`GlobalAlloc`)                         |
//! | `bumpalo`       | `bumpalo::Bump::alloc_layout`: never frees, the speed limit  |
//!
//! The heaps over user memory (every rtarena core, rlsf, talc, linked_list, buddy) each
//! get a pool of [`POOL`] bytes; slabmalloc gets [`POOL`] bytes aligned to
//! 2 MiB, which it is fed from page by page ([`Pager`]); bumpalo gets one
//! chunk of the same size (`Bump::with_capacity`). Pools are made once per
//! peer and group, outside the timed loop. System and mimalloc use their own
//! process heaps.
//!
//! The workload drivers below are generic over the heap and take the
//! peer's native calls as closures, so after monomorphisation every peer runs
//! the same loop with its own API inlined into it (no trait of ours sits in
//! between). Run with `cargo bench -p rtarena-bench --bench tlsf`; summarise
//! with `python3 bench/benches/summarize.py` (paths from the repository
//! root).

use std::alloc::{GlobalAlloc, System};
use std::hint::black_box;
use std::mem::{self, MaybeUninit};
use std::ptr::NonNull;
use std::time::Duration;

use allocator_api2::alloc::{AllocError, Allocator, Layout};
use bumpalo::Bump;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use mimalloc::MiMalloc;
use rand::rngs::SmallRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rtarena::pages::PoolPages;
use rtarena::raw::RawHeap;
use rtarena::{Arena, Heap, Slab, Tlsf};
// slabmalloc's `Allocator` trait, for its methods only: the name is
// allocator-api2's here.
use slabmalloc::{AllocationError, Allocator as _, LargeObjectPage, ObjectPage, ZoneAllocator};

mod common;
use common::{POOL, Rlsf, SLAB_PAGE, Talc};

/// buddy_system_allocator's heap with free lists for blocks up to 2 GiB, the
/// order its documentation uses; orders above the pool's (64 MiB, order 26)
/// stay empty and are only scanned when nothing smaller is free.
type Buddy = buddy_system_allocator::Heap<32>;

/// slabmalloc finds a block's page by masking the block's address, so every
/// page must be aligned to its size: 4 KiB for an `ObjectPage`, 2 MiB for a
/// `LargeObjectPage`. Its pool is made of these 2 MiB frames.
#[repr(C, align(2097152))]
struct Frame([u8; size_of::<LargeObjectPage<'static>>()]);

// `align` takes only a literal, so check that it is the large page's size;
// base pages are cut from frames, so they must tile one.
const _: () = assert!(align_of::<Frame>() == size_of::<Frame>());
const _: () = assert!(size_of::<Frame>() % size_of::<ObjectPage<'static>>() == 0);

fn pool() -> Vec<MaybeUninit<u8>> {
    vec![MaybeUninit::uninit(); POOL]
}

fn nonnull(p: *mut u8) -> NonNull<u8> {
    NonNull::new(p).expect("allocation failed")
}

/// slabmalloc's pool: [`POOL`] bytes of zeroed 2 MiB frames.
fn frames() -> Box<[Frame]> {
    let n = POOL / size_of::<Frame>();
    let layout = Layout::array::<Frame>(n).unwrap();
    // SAFETY: the layout's size is nonzero.
    let p = unsafe { std::alloc::alloc_zeroed(layout) }.cast::<Frame>();
    if p.is_null() {
        std::alloc::handle_alloc_error(layout);
    }
    // SAFETY: `p` is a global-allocator block with the layout of `n` frames,
    // as a `Box<[Frame]>` of that length needs; all zeros is a valid
    // `Frame` (bytes).
    unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(p, n)) }
}

/// Hands slabmalloc's zone its pages from a pool of frames, as its examples'
/// pagers do from the system allocator: whole frames as large pages from the
/// front, and frames from the back cut into base pages, so both kinds stay
/// aligned with no gaps. Pages are never given back: the zone keeps its empty
/// pages for reuse.
struct Pager<'p> {
    frames: &'p mut [Frame],
    /// The rest of the frame being cut into base pages.
    base: &'p mut [u8],
}

impl<'p> Pager<'p> {
    fn large_page(&mut self) -> &'p mut LargeObjectPage<'p> {
        let (frame, rest) = mem::take(&mut self.frames)
            .split_first_mut()
            .expect("slabmalloc's pool is exhausted");
        self.frames = rest;
        // SAFETY: the frame is exclusively ours for 'p, 2 MiB long and
        // aligned, and all zeros, which is a valid `LargeObjectPage` (its
        // `Default`).
        unsafe { &mut *(frame as *mut Frame).cast::<LargeObjectPage<'p>>() }
    }

    fn page(&mut self) -> &'p mut ObjectPage<'p> {
        if self.base.is_empty() {
            let (frame, rest) = mem::take(&mut self.frames)
                .split_last_mut()
                .expect("slabmalloc's pool is exhausted");
            self.frames = rest;
            self.base = &mut frame.0;
        }
        let (page, rest) = mem::take(&mut self.base).split_at_mut(size_of::<ObjectPage<'p>>());
        self.base = rest;
        // SAFETY: the bytes are exclusively ours for 'p, 4 KiB long, aligned
        // to 4 KiB (cut at 4 KiB steps from a 2 MiB-aligned frame) and all
        // zeros, which is a valid `ObjectPage` (its `Default`).
        unsafe { &mut *page.as_mut_ptr().cast::<ObjectPage<'p>>() }
    }
}

/// slabmalloc's zone and the pager it is refilled from.
struct SlabMalloc<'p> {
    zone: ZoneAllocator<'p>,
    pager: Pager<'p>,
}

impl<'p> SlabMalloc<'p> {
    fn new(frames: &'p mut [Frame]) -> Self {
        SlabMalloc {
            zone: ZoneAllocator::new(),
            pager: Pager {
                frames,
                base: &mut [],
            },
        }
    }

    /// slabmalloc's own way to allocate (its `GlobalAlloc` example): when
    /// the size class has no room, refill it with a page of its kind and
    /// retry, which cannot fail then: an empty page serves any layout of its
    /// class at its start.
    fn allocate(&mut self, l: Layout) -> NonNull<u8> {
        match self.zone.allocate(l) {
            Ok(p) => return p,
            Err(AllocationError::OutOfMemory) => {}
            Err(e) => panic!("slabmalloc cannot allocate {l:?}: {e:?}"),
        }
        if l.size() <= ZoneAllocator::MAX_BASE_ALLOC_SIZE {
            let page = self.pager.page();
            // SAFETY: a fresh page, aligned and handed to nothing else.
            unsafe { self.zone.refill(l, page) }.unwrap();
        } else {
            let page = self.pager.large_page();
            // SAFETY: as above, a fresh large page.
            unsafe { self.zone.refill_large(l, page) }.unwrap();
        }
        self.zone.allocate(l).unwrap()
    }
}

// ---------------------------------------------------------------------------
// Peers: one function per peer builds its heap over a fresh pool and hands
// it, with its native calls as closures, to a workload.
// ---------------------------------------------------------------------------

/// The native calls of one peer, for the workload drivers. `free` is only
/// ever called by the drivers with a pointer the same heap's `alloc` returned
/// for the same layout, once; `end` runs at the end of every iteration (only
/// bumpalo does something there: `reset`).
trait Workload {
    /// The largest `Layout::size()` the workload asks for: the slab, which
    /// refuses requests above its largest class, runs only when it fits.
    fn largest_request(&self) -> usize;

    fn run<H>(
        &mut self,
        id: &str,
        heap: &mut H,
        alloc: impl FnMut(&mut H, Layout) -> NonNull<u8>,
        free: impl FnMut(&mut H, NonNull<u8>, Layout),
        end: impl FnMut(&mut H),
    );
}

fn no_end<H>(_: &mut H) {}

/// Runs `w` on an rtarena arena through allocator-api2's `Allocator` on
/// `&Arena`, as a collection would call it, then checks that everything was
/// given back and the heap is intact.
fn arena_peer<C: RawHeap>(w: &mut impl Workload, id: &str, arena: Arena<C>) {
    w.run(
        id,
        &mut &arena,
        |a, l| Allocator::allocate(&*a, l).unwrap().cast(),
        // SAFETY: the drivers pass back a live block of this arena with the
        // layout it was allocated for, once.
        |a, p, l| unsafe { Allocator::deallocate(&*a, p, l) },
        no_end,
    );
    assert_eq!(arena.stats().live(), 0);
    arena.check().unwrap();
}

/// Runs `w` once for every peer.
fn each_peer(w: &mut impl Workload) {
    {
        let mut pool = pool();
        arena_peer(w, "rtarena", Arena::new(Tlsf::new(&mut pool).unwrap()));
    }
    {
        let mut pool = pool();
        let mut core: Tlsf = Tlsf::new(&mut pool).unwrap();
        w.run(
            "rtarena-core",
            &mut core,
            |c, l| c.allocate(l).unwrap().cast(),
            // SAFETY: a live block of this core with the layout it was
            // allocated for, once.
            |c, p, l| unsafe { c.deallocate(p, l) },
            no_end,
        );
        assert_eq!(core.stats().live(), 0);
        core.check().unwrap();
    }
    {
        let mut pool = pool();
        arena_peer(w, "rtarena-heap", Arena::new(Heap::new(&mut pool).unwrap()));
    }
    {
        let mut pool = pool();
        let pages = PoolPages::new(&mut pool, SLAB_PAGE).unwrap();
        let slab = Slab::new(pages).unwrap();
        if w.largest_request() <= slab.max_class() {
            arena_peer(w, "rtarena-slab", Arena::new(slab));
        }
    }
    {
        let mut pool = pool();
        let mut rlsf = Rlsf::new();
        rlsf.insert_free_block(&mut pool);
        w.run(
            "rlsf",
            &mut rlsf,
            |t, l| t.allocate(l).unwrap(),
            // SAFETY: a live block of this rlsf heap, allocated with `l.align()`.
            |t, p, l| unsafe { t.deallocate(p, l.align()) },
            no_end,
        );
    }
    {
        let mut pool = pool();
        let mut talc = Talc::new(talc::source::Manual);
        // SAFETY: `pool` outlives `talc` (declared before it, so dropped
        // after it) and nothing else touches the pool meanwhile.
        unsafe { talc.claim(pool.as_mut_ptr().cast(), pool.len()) }.unwrap();
        w.run(
            "talc",
            &mut talc,
            // SAFETY: every layout of the workloads has a nonzero size.
            |t, l| unsafe { t.allocate(l) }.unwrap(),
            // SAFETY: a live block of this talc heap with its layout.
            |t, p, l| unsafe { t.deallocate(p.as_ptr(), l) },
            no_end,
        );
    }
    {
        let mut pool = pool();
        let mut heap = linked_list_allocator::Heap::empty();
        // SAFETY: `pool` is valid for `POOL` bytes, outlives `heap` and is
        // used by nothing else meanwhile.
        unsafe { heap.init(pool.as_mut_ptr().cast(), pool.len()) };
        w.run(
            "linked_list",
            &mut heap,
            |h, l| h.allocate_first_fit(l).unwrap(),
            // SAFETY: a live block of this heap with its layout.
            |h, p, l| unsafe { h.deallocate(p, l) },
            no_end,
        );
    }
    // Every size of pair, batch_shuffled and churn (at most 64 KiB) is within
    // `ZoneAllocator::MAX_ALLOC_SIZE` (128 KiB), so slabmalloc runs them all.
    {
        let mut frames = frames();
        let mut slab = SlabMalloc::new(&mut frames);
        w.run(
            "slabmalloc",
            &mut slab,
            SlabMalloc::allocate,
            |s, p, l| s.zone.deallocate(p, l).unwrap(),
            no_end,
        );
    }
    {
        let mut pool = pool();
        let mut buddy = Buddy::new();
        // SAFETY: `pool` is valid for `POOL` bytes, outlives `buddy` and is
        // used by nothing else meanwhile.
        unsafe { buddy.init(pool.as_mut_ptr() as usize, pool.len()) };
        w.run(
            "buddy",
            &mut buddy,
            |b, l| b.alloc(l).unwrap(),
            |b, p, l| b.dealloc(p, l),
            no_end,
        );
        assert_eq!(buddy.stats_alloc_actual(), 0);
    }
    w.run(
        "system",
        &mut System,
        // SAFETY: every layout of the workloads has a nonzero size.
        |s, l| nonnull(unsafe { s.alloc(l) }),
        // SAFETY: a live block of `System` with its layout.
        |s, p, l| unsafe { s.dealloc(p.as_ptr(), l) },
        no_end,
    );
    w.run(
        "mimalloc",
        &mut MiMalloc,
        // SAFETY: every layout of the workloads has a nonzero size.
        |m, l| nonnull(unsafe { m.alloc(l) }),
        // SAFETY: a live block of `MiMalloc` with its layout.
        |m, p, l| unsafe { m.dealloc(p.as_ptr(), l) },
        no_end,
    );
    // bumpalo never frees: `free` is a no-op and the whole iteration's memory
    // comes back with one `reset` at the end of the iteration, inside the
    // timed region (it is bumpalo's way to free, and O(1) with one chunk).
    // Each iteration thus starts from an empty bump, as the other heaps start
    // from an empty pool.
    w.run(
        "bumpalo",
        &mut Bump::with_capacity(POOL),
        |b, l| b.alloc_layout(l),
        |_, _, _| {},
        Bump::reset,
    );
}

// ---------------------------------------------------------------------------
// 1. pair: allocate and free one block, PAIRS times per iteration.
// ---------------------------------------------------------------------------

const PAIR_SIZES: [usize; 5] = [16, 64, 256, 1024, 4096];
/// Pairs per iteration: one iteration is long enough (tens of µs) that
/// criterion's timer and bumpalo's `reset` are noise, and short enough that
/// bumpalo's batch (at most 4 MiB) stays inside its one chunk. Criterion's
/// time per iteration divided by `PAIRS` is the time per pair; the group
/// declares `Throughput::Elements(PAIRS)`.
const PAIRS: u64 = 1000;

struct Pair<'a> {
    group: criterion::BenchmarkGroup<'a, criterion::measurement::WallTime>,
}

impl Workload for Pair<'_> {
    fn largest_request(&self) -> usize {
        PAIR_SIZES[PAIR_SIZES.len() - 1]
    }

    fn run<H>(
        &mut self,
        id: &str,
        heap: &mut H,
        mut alloc: impl FnMut(&mut H, Layout) -> NonNull<u8>,
        mut free: impl FnMut(&mut H, NonNull<u8>, Layout),
        mut end: impl FnMut(&mut H),
    ) {
        for size in PAIR_SIZES {
            let layout = Layout::from_size_align(size, 8).unwrap();
            self.group.bench_function(BenchmarkId::new(id, size), |b| {
                b.iter(|| {
                    for _ in 0..PAIRS {
                        // `black_box` on the layout keeps the compiler from
                        // hoisting the size-class computation out of the loop.
                        let l = black_box(layout);
                        let p = black_box(alloc(heap, l));
                        free(heap, p, l);
                    }
                    end(heap);
                });
            });
        }
    }
}

fn pair(c: &mut Criterion) {
    let mut group = c.benchmark_group("pair");
    group.throughput(Throughput::Elements(PAIRS));
    let mut w = Pair { group };
    each_peer(&mut w);
    w.group.finish();
}

// ---------------------------------------------------------------------------
// 2. batch_shuffled: BATCH blocks of 64 B, then freed in a shuffled order.
// ---------------------------------------------------------------------------

const BATCH: usize = 10_000;

struct BatchShuffled<'a> {
    group: criterion::BenchmarkGroup<'a, criterion::measurement::WallTime>,
    order: Vec<usize>,
    ptrs: Vec<NonNull<u8>>,
}

impl Workload for BatchShuffled<'_> {
    fn largest_request(&self) -> usize {
        64
    }

    fn run<H>(
        &mut self,
        id: &str,
        heap: &mut H,
        mut alloc: impl FnMut(&mut H, Layout) -> NonNull<u8>,
        mut free: impl FnMut(&mut H, NonNull<u8>, Layout),
        mut end: impl FnMut(&mut H),
    ) {
        let layout = Layout::from_size_align(64, 8).unwrap();
        let (order, ptrs) = (&self.order, &mut self.ptrs);
        self.group.bench_function(BenchmarkId::new(id, BATCH), |b| {
            b.iter(|| {
                // `ptrs` has room for BATCH pointers (reserved outside the
                // timed loop), so the pushes never reallocate.
                ptrs.clear();
                for _ in 0..BATCH {
                    let l = black_box(layout);
                    ptrs.push(black_box(alloc(heap, l)));
                }
                for &i in order {
                    free(heap, ptrs[i], black_box(layout));
                }
                end(heap);
            });
        });
    }
}

fn batch_shuffled(c: &mut Criterion) {
    let mut group = c.benchmark_group("batch_shuffled");
    // One element = one allocation and its free.
    group.throughput(Throughput::Elements(BATCH as u64));
    let mut order: Vec<usize> = (0..BATCH).collect();
    order.shuffle(&mut SmallRng::seed_from_u64(0x5eed_0001));
    let mut w = BatchShuffled {
        group,
        order,
        ptrs: Vec::with_capacity(BATCH),
    };
    each_peer(&mut w);
    w.group.finish();
}

// ---------------------------------------------------------------------------
// 3. churn: a precomputed random trace of allocations and frees.
// ---------------------------------------------------------------------------

/// Cap on live blocks.
const CHURN_CAP: usize = 4096;
/// Live blocks the trace ramps up to before churning: a warm, half-full heap.
const CHURN_RAMP: usize = CHURN_CAP / 2;
/// Random steps after the ramp.
const CHURN_STEPS: usize = 20_000;

#[derive(Clone, Copy)]
enum Op {
    Alloc(Layout),
    /// Free the live block at this index of the live list (`swap_remove`).
    Free(u32),
}

/// The churn trace, the same for every peer (fixed seed):
/// - sizes: ≈70% 8–128 B, 25% 129 B–4 KiB, 5% 4 KiB–64 KiB (uniform within
///   each band); alignment 8, except 2% of requests aligned to 64 and 0.5%
///   to 4096 (every peer takes a `Layout`, so each serves them natively);
/// - a ramp of `CHURN_RAMP` allocations, then `CHURN_STEPS` steps that
///   allocate with probability 0.5 while below `CHURN_CAP` live blocks (and
///   always when none is live) and otherwise free a uniformly chosen live
///   block; then every remaining block is freed (last first), so each
///   iteration ends with an empty heap and the next starts from the same
///   state. (Without the ramp, a fair coin from an empty heap would hover
///   around ~100 live blocks and never come near the cap.)
fn churn_trace() -> Vec<Op> {
    let mut rng = SmallRng::seed_from_u64(0x5eed_0003);
    let layout = |rng: &mut SmallRng| {
        let band: f64 = rng.random();
        let size = if band < 0.70 {
            rng.random_range(8..=128)
        } else if band < 0.95 {
            rng.random_range(129..=4096)
        } else {
            rng.random_range(4097..=65536)
        };
        let a: f64 = rng.random();
        let align = if a < 0.005 {
            4096
        } else if a < 0.025 {
            64
        } else {
            8
        };
        Layout::from_size_align(size, align).unwrap()
    };
    let mut ops = Vec::new();
    let mut live = 0usize;
    for _ in 0..CHURN_RAMP {
        ops.push(Op::Alloc(layout(&mut rng)));
        live += 1;
    }
    for _ in 0..CHURN_STEPS {
        if live == 0 || (live < CHURN_CAP && rng.random_bool(0.5)) {
            ops.push(Op::Alloc(layout(&mut rng)));
            live += 1;
        } else {
            ops.push(Op::Free(rng.random_range(0..live) as u32));
            live -= 1;
        }
    }
    while live > 0 {
        live -= 1;
        ops.push(Op::Free(live as u32));
    }
    // bumpalo keeps everything until its reset: it must all fit its chunk,
    // alignment padding included.
    let bumped: usize = ops
        .iter()
        .map(|op| match op {
            Op::Alloc(l) => l.size() + l.align(),
            Op::Free(_) => 0,
        })
        .sum();
    assert!(bumped < POOL, "churn trace needs {bumped} bytes of bump");
    ops
}

struct Churn<'a> {
    group: criterion::BenchmarkGroup<'a, criterion::measurement::WallTime>,
    trace: Vec<Op>,
    live: Vec<(NonNull<u8>, Layout)>,
}

impl Workload for Churn<'_> {
    fn largest_request(&self) -> usize {
        self.trace
            .iter()
            .map(|op| match op {
                Op::Alloc(l) => l.size(),
                Op::Free(_) => 0,
            })
            .max()
            .unwrap_or(0)
    }

    fn run<H>(
        &mut self,
        id: &str,
        heap: &mut H,
        mut alloc: impl FnMut(&mut H, Layout) -> NonNull<u8>,
        mut free: impl FnMut(&mut H, NonNull<u8>, Layout),
        mut end: impl FnMut(&mut H),
    ) {
        let (trace, live) = (&self.trace, &mut self.live);
        self.group
            .bench_function(BenchmarkId::new(id, "trace"), |b| {
                b.iter(|| {
                    // `live` has room for CHURN_CAP entries (reserved outside
                    // the timed loop) and ends every iteration empty.
                    for &op in trace {
                        match op {
                            Op::Alloc(l) => live.push((black_box(alloc(heap, l)), l)),
                            Op::Free(i) => {
                                let (p, l) = live.swap_remove(i as usize);
                                free(heap, p, l);
                            }
                        }
                    }
                    debug_assert!(live.is_empty());
                    end(heap);
                });
            });
    }
}

fn churn(c: &mut Criterion) {
    let mut group = c.benchmark_group("churn");
    let trace = churn_trace();
    // One element = one operation (an allocation or a free) of the trace.
    group.throughput(Throughput::Elements(trace.len() as u64));
    let mut w = Churn {
        group,
        trace,
        live: Vec::with_capacity(CHURN_CAP),
    };
    each_peer(&mut w);
    w.group.finish();
}

// ---------------------------------------------------------------------------
// 4. vec_push: push PUSHES u64 into an empty vector, growth included.
// ---------------------------------------------------------------------------

const PUSHES: usize = 10_000;

/// A push loop over a heap's native calls, growing exactly as
/// `allocator_api2::vec::Vec` (and std's `Vec`) grow a `Vec<u64>`: first 4
/// elements, then doubling. For the peers that are not an `Allocator` of the
/// right trait version; `grow` is the peer's own reallocation.
fn push_native<H>(
    heap: &mut H,
    mut alloc: impl FnMut(&mut H, Layout) -> NonNull<u8>,
    mut grow: impl FnMut(&mut H, NonNull<u8>, Layout, Layout) -> NonNull<u8>,
    mut free: impl FnMut(&mut H, NonNull<u8>, Layout),
) {
    let mut cap = 0usize;
    let mut ptr = NonNull::<u64>::dangling();
    for i in 0..PUSHES {
        if i == cap {
            let new_cap = if cap == 0 { 4 } else { cap * 2 };
            let new = Layout::array::<u64>(new_cap).unwrap();
            ptr = if cap == 0 {
                alloc(heap, new)
            } else {
                grow(heap, ptr.cast(), Layout::array::<u64>(cap).unwrap(), new)
            }
            .cast();
            cap = new_cap;
        }
        // SAFETY: `i < cap`, and the block holds `cap` u64s.
        unsafe { ptr.add(i).write(i as u64) };
    }
    black_box(ptr);
    free(heap, ptr.cast(), Layout::array::<u64>(cap).unwrap());
}

/// `allocator_api2::alloc::Allocator` over mimalloc's `GlobalAlloc`, only so
/// that an `allocator_api2::vec::Vec` can sit on mimalloc in `vec_push`
/// (std's `Vec` would use the global allocator, glibc here). `grow` is
/// mimalloc's `realloc`, as std's `Vec` gets glibc's `realloc` from `System`.
struct MiAlloc;

// SAFETY: every block comes from mimalloc with the requested layout (or is a
// dangling pointer for size 0, never passed to mimalloc), stays valid until
// freed, and `grow` keeps the contents (mimalloc's `realloc`).
unsafe impl Allocator for MiAlloc {
    fn allocate(&self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
        if layout.size() == 0 {
            let dangling = NonNull::new(layout.align() as *mut u8).ok_or(AllocError)?;
            return Ok(NonNull::slice_from_raw_parts(dangling, 0));
        }
        // SAFETY: the size is nonzero.
        let p = NonNull::new(unsafe { MiMalloc.alloc(layout) }).ok_or(AllocError)?;
        Ok(NonNull::slice_from_raw_parts(p, layout.size()))
    }

    unsafe fn deallocate(&self, ptr: NonNull<u8>, layout: Layout) {
        if layout.size() != 0 {
            // SAFETY: the caller passes a live block of ours with its layout.
            unsafe { MiMalloc.dealloc(ptr.as_ptr(), layout) }
        }
    }

    unsafe fn grow(
        &self,
        ptr: NonNull<u8>,
        old: Layout,
        new: Layout,
    ) -> Result<NonNull<[u8]>, AllocError> {
        if old.size() == 0 || old.align() != new.align() {
            let block = self.allocate(new)?;
            // SAFETY: `block` is fresh and at least `old.size()` long; the
            // caller passes a live block of ours with layout `old`.
            unsafe {
                ptr.copy_to_nonoverlapping(block.cast(), old.size());
                self.deallocate(ptr, old);
            }
            return Ok(block);
        }
        // SAFETY: a live mimalloc block with layout `old`, a nonzero new size.
        let p = NonNull::new(unsafe { MiMalloc.realloc(ptr.as_ptr(), old, new.size()) })
            .ok_or(AllocError)?;
        Ok(NonNull::slice_from_raw_parts(p, new.size()))
    }
}

fn vec_push(c: &mut Criterion) {
    let mut group = c.benchmark_group("vec_push");
    group.throughput(Throughput::Elements(PUSHES as u64));
    let id = |peer| BenchmarkId::new(peer, PUSHES);

    // Peers that implement allocator-api2 0.2's `Allocator`: the real
    // `allocator_api2::vec::Vec`, growing through the allocator's `grow`.
    {
        let mut pool = pool();
        let arena: Arena<Tlsf> = Arena::new(Tlsf::new(&mut pool).unwrap());
        group.bench_function(id("rtarena"), |b| {
            b.iter(|| {
                let mut v = allocator_api2::vec::Vec::new_in(&arena);
                for i in 0..PUSHES as u64 {
                    v.push(i);
                }
                black_box(&v);
            });
        });
    }
    {
        let mut pool = pool();
        let arena = Arena::new(Heap::new(&mut pool).unwrap());
        group.bench_function(id("rtarena-heap"), |b| {
            b.iter(|| {
                let mut v = allocator_api2::vec::Vec::new_in(&arena);
                for i in 0..PUSHES as u64 {
                    v.push(i);
                }
                black_box(&v);
            });
        });
    }
    {
        let mut bump = Bump::with_capacity(POOL);
        group.bench_function(id("bumpalo"), |b| {
            b.iter(|| {
                let mut v = allocator_api2::vec::Vec::new_in(&bump);
                for i in 0..PUSHES as u64 {
                    v.push(i);
                }
                black_box(&v);
                drop(v);
                // As in the other groups: bumpalo frees by a reset at the end
                // of the iteration (its chunk holds all ~256 KiB of growth).
                bump.reset();
            });
        });
    }
    // glibc: std's `Vec` on the global allocator, which is `System` here.
    group.bench_function(id("system"), |b| {
        b.iter(|| {
            let mut v = Vec::new();
            for i in 0..PUSHES as u64 {
                v.push(i);
            }
            black_box(&v);
        });
    });
    group.bench_function(id("mimalloc"), |b| {
        b.iter(|| {
            let mut v = allocator_api2::vec::Vec::new_in(MiAlloc);
            for i in 0..PUSHES as u64 {
                v.push(i);
            }
            black_box(&v);
        });
    });

    // Peers without an allocator-api2 0.2 `Allocator`: the same growth
    // through their native calls (`push_native`). `rtarena-core` is here too
    // to show what `Arena` plus `Vec` cost over the core; its grow is what
    // `Arena::grow` does: in place if it can, else allocate, copy, free.
    // linked_list_allocator 0.10, buddy_system_allocator 0.11's `Heap` and
    // slabmalloc 0.11's `ZoneAllocator` have no reallocation call at all, so
    // they sit this group out.
    {
        let mut pool = pool();
        let mut core: Tlsf = Tlsf::new(&mut pool).unwrap();
        group.bench_function(id("rtarena-core"), |b| {
            b.iter(|| {
                push_native(
                    &mut core,
                    |c, l| c.allocate(l).unwrap().cast(),
                    |c, p, old, new| {
                        // SAFETY: `p` is live in `c` with layout `old`, and
                        // `new` is larger with the same alignment.
                        if let Ok(block) = unsafe { c.grow_in_place(p, old, new) } {
                            return block.cast();
                        }
                        let block = c.allocate(new).unwrap().cast::<u8>();
                        // SAFETY: two distinct live blocks of `c`, each at
                        // least `old.size()` long; `p` is then freed once.
                        unsafe {
                            p.copy_to_nonoverlapping(block, old.size());
                            c.deallocate(p, old);
                        }
                        block
                    },
                    // SAFETY: the block `push_native` ends with, its layout.
                    |c, p, l| unsafe { c.deallocate(p, l) },
                );
            });
        });
    }
    {
        let mut pool = pool();
        let mut rlsf = Rlsf::new();
        rlsf.insert_free_block(&mut pool);
        group.bench_function(id("rlsf"), |b| {
            b.iter(|| {
                push_native(
                    &mut rlsf,
                    |t, l| t.allocate(l).unwrap(),
                    // SAFETY: `p` is live in `t`, allocated with `new.align()`.
                    |t, p, _, new| unsafe { t.reallocate(p, new) }.unwrap(),
                    // SAFETY: the block `push_native` ends with, its alignment.
                    |t, p, l| unsafe { t.deallocate(p, l.align()) },
                );
            });
        });
    }
    {
        let mut pool = pool();
        let mut talc = Talc::new(talc::source::Manual);
        // SAFETY: `pool` outlives `talc` and nothing else touches it.
        unsafe { talc.claim(pool.as_mut_ptr().cast(), pool.len()) }.unwrap();
        group.bench_function(id("talc"), |b| {
            b.iter(|| {
                push_native(
                    &mut talc,
                    // SAFETY: the layouts have nonzero sizes.
                    |t, l| unsafe { t.allocate(l) }.unwrap(),
                    // talc's own `Allocator::grow`, on its native calls:
                    // `try_grow_in_place`, else allocate, copy, free.
                    |t, p, old, new| {
                        // SAFETY: `p` is live in `t` with layout `old`, and
                        // `new.size() >= old.size()`.
                        if unsafe { t.try_grow_in_place(p.as_ptr(), old, new.size()) } {
                            return p;
                        }
                        // SAFETY: nonzero size.
                        let block = unsafe { t.allocate(new) }.unwrap();
                        // SAFETY: two distinct live blocks of `t`, each at
                        // least `old.size()` long; `p` is then freed once.
                        unsafe {
                            p.copy_to_nonoverlapping(block, old.size());
                            t.deallocate(p.as_ptr(), old);
                        }
                        block
                    },
                    // SAFETY: the block `push_native` ends with, its layout.
                    |t, p, l| unsafe { t.deallocate(p.as_ptr(), l) },
                );
            });
        });
    }
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(50)
}

criterion_group! {
    name = benches;
    config = config();
    targets = pair, batch_shuffled, churn, vec_push
}
criterion_main!(benches);
