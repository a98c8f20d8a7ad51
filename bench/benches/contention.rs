//! Two threads allocating at once: one `SyncArena` shared behind a spin
//! lock, beside talc's lock wrapper (`TalcLock`, same spin lock), mimalloc
//! and glibc (thread-caching), and per-thread rtarena arenas (no sharing:
//! the figure a per-task heap gets).
//!
//! One element is one 64-byte allocate+free pair; each iteration runs
//! `PAIRS` pairs on each of `THREADS` threads, started together, and times
//! the slower thread. Run with
//! `cargo bench -p rtarena-bench --bench contention`; summarise with
//! `python3 bench/benches/summarize.py` (paths from the repository root).

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::mem::MaybeUninit;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use mimalloc::MiMalloc;
use rtarena::{Arena, Heap, SyncArena};

type Spin = spin::Mutex<()>;
type TalcLock = talc::sync::TalcLock<Spin, talc::source::Manual, talc::DefaultBinning>;

const THREADS: usize = 2;
const PAIRS: usize = 10_000;
const POOL: usize = 16 << 20;

/// Runs `work` on `THREADS` threads started together, each on its own
/// element of `states`, `iters` times; returns the summed time of the
/// slowest thread of each round.
fn rounds<T: Send>(iters: u64, states: &mut [T], work: impl Fn(&mut T) + Sync) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        let barrier = Barrier::new(states.len());
        let slowest = std::thread::scope(|scope| {
            let handles: Vec<_> = states
                .iter_mut()
                .map(|state| {
                    let (barrier, work) = (&barrier, &work);
                    scope.spawn(move || {
                        barrier.wait();
                        let start = Instant::now();
                        work(state);
                        start.elapsed()
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap())
                .max()
                .unwrap()
        });
        total += slowest;
    }
    total
}

/// Runs `work` on `THREADS` threads that share one allocator.
fn shared_rounds(iters: u64, work: impl Fn() + Sync) -> Duration {
    rounds(iters, &mut [(); THREADS], |()| work())
}

/// `PAIRS` allocate+free pairs of 64 bytes through `GlobalAlloc`.
fn pairs(heap: &impl GlobalAlloc) {
    let layout = Layout::from_size_align(64, 8).unwrap();
    for _ in 0..PAIRS {
        // SAFETY: a nonzero layout; the block is freed with it once.
        unsafe {
            let p = heap.alloc(black_box(layout));
            assert!(!p.is_null());
            heap.dealloc(black_box(p), layout);
        }
    }
}

fn contended_pair(c: &mut Criterion) {
    let mut group = c.benchmark_group("contended_pair");
    group.throughput(Throughput::Elements((THREADS * PAIRS) as u64));
    let id = |peer| BenchmarkId::new(peer, format!("{THREADS}x64B"));

    let mut pool = vec![MaybeUninit::<u8>::uninit(); POOL];
    let shared: SyncArena<Heap, Spin> = SyncArena::new(Heap::new(&mut pool).unwrap());
    group.bench_function(id("rtarena-sync"), |b| {
        b.iter_custom(|n| shared_rounds(n, || pairs(&shared)))
    });
    assert_eq!(shared.stats().live(), 0);

    let mut talc_pool = vec![MaybeUninit::<u8>::uninit(); POOL];
    let talc = TalcLock::new(talc::source::Manual);
    // SAFETY: the pool outlives `talc` and nothing else uses it.
    unsafe {
        talc.lock()
            .claim(talc_pool.as_mut_ptr().cast(), talc_pool.len())
    }
    .unwrap();
    group.bench_function(id("talc-lock"), |b| {
        b.iter_custom(|n| shared_rounds(n, || pairs(&talc)))
    });

    group.bench_function(id("mimalloc"), |b| {
        b.iter_custom(|n| shared_rounds(n, || pairs(&MiMalloc)))
    });
    group.bench_function(id("system"), |b| {
        b.iter_custom(|n| shared_rounds(n, || pairs(&System)))
    });

    // One heap per thread, no lock: what a per-task arena costs.
    let mut pools: Vec<_> = (0..THREADS)
        .map(|_| vec![MaybeUninit::<u8>::uninit(); POOL / THREADS])
        .collect();
    let mut arenas: Vec<_> = pools
        .iter_mut()
        .map(|pool| Arena::new(Heap::new(pool).unwrap()))
        .collect();
    group.bench_function(id("rtarena-per-thread"), |b| {
        b.iter_custom(|n| {
            rounds(n, &mut arenas, |arena| {
                let layout = Layout::from_size_align(64, 8).unwrap();
                for _ in 0..PAIRS {
                    let p = arena.allocate(black_box(layout)).unwrap();
                    // SAFETY: allocated just above with this layout.
                    unsafe { arena.deallocate(black_box(p.cast()), layout) };
                }
            })
        })
    });
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(30)
}

criterion_group! {
    name = benches;
    config = config();
    targets = contended_pair
}
criterion_main!(benches);
