//! Memory efficiency: how much of a pool a heap fills before its first
//! failed request, as live requested bytes over the pool's size.
//!
//! Run with `cargo bench -p rtarena-bench --bench efficiency` (about two
//! minutes). Every heap gets pools of 1 MiB to 256 MiB and the same
//! requests: 70% of 8–128 B, 25% of 129 B–4 KiB, 5% of 4–64 KiB, aligned
//! to 8, from each of 20 seeds. Two modes, a table each:
//!
//! - `fill`: allocate only, until a request fails;
//! - `churn`: before each request, with probability 0.4, free a live block
//!   chosen at random; stop at the first failed request.
//!
//! A request fails in a heap that cannot place it; a heap that packs
//! blocks tightly and keeps free memory in few large blocks fills more of
//! its pool. The cells give the mean over the seeds and, in parentheses,
//! the worst seed, for each pool size. Every heap sees the same sequence up to its first
//! failure, since the sequence depends only on the seed until then.

use std::hint::black_box;
use std::mem::MaybeUninit;
use std::ptr::NonNull;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use rtarena::{Heap, Tlsf};

#[allow(
    dead_code,
    reason = "the pool size and the slab's page are the timed benches'"
)]
mod common;
use common::{Rlsf, Talc};

/// The pool sizes: a small system's, and a large one's (the `Heap` picks
/// its page size from the pool's).
const POOLS: [usize; 5] = [1 << 20, 4 << 20, 16 << 20, 64 << 20, 256 << 20];
const SEEDS: u64 = 20;
/// Probability that a `churn` step frees a block before its request.
const FREE_FIRST: f64 = 0.4;

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Fill,
    Churn,
}

fn request(rng: &mut SmallRng) -> std::alloc::Layout {
    let band: f64 = rng.random();
    let size = if band < 0.70 {
        rng.random_range(8..=128)
    } else if band < 0.95 {
        rng.random_range(129..=4096)
    } else {
        rng.random_range(4097..=65536)
    };
    std::alloc::Layout::from_size_align(size, 8).unwrap()
}

/// A heap under test, through its native calls.
trait Subject {
    fn allocate(&mut self, layout: std::alloc::Layout) -> Option<NonNull<u8>>;
    /// # Safety
    /// `ptr` is live in this heap, allocated with `layout`.
    unsafe fn deallocate(&mut self, ptr: NonNull<u8>, layout: std::alloc::Layout);
}

impl Subject for Heap<'_> {
    fn allocate(&mut self, layout: std::alloc::Layout) -> Option<NonNull<u8>> {
        Heap::allocate(self, layout).ok().map(NonNull::cast)
    }
    unsafe fn deallocate(&mut self, ptr: NonNull<u8>, layout: std::alloc::Layout) {
        // SAFETY: the caller's contract.
        unsafe { Heap::deallocate(self, ptr, layout) }
    }
}

impl Subject for Tlsf<'_> {
    fn allocate(&mut self, layout: std::alloc::Layout) -> Option<NonNull<u8>> {
        Tlsf::allocate(self, layout).ok().map(NonNull::cast)
    }
    unsafe fn deallocate(&mut self, ptr: NonNull<u8>, layout: std::alloc::Layout) {
        // SAFETY: the caller's contract.
        unsafe { Tlsf::deallocate(self, ptr, layout) }
    }
}

impl Subject for Rlsf<'_> {
    fn allocate(&mut self, layout: std::alloc::Layout) -> Option<NonNull<u8>> {
        Rlsf::allocate(self, layout)
    }
    unsafe fn deallocate(&mut self, ptr: NonNull<u8>, layout: std::alloc::Layout) {
        // SAFETY: the caller's contract.
        unsafe { Rlsf::deallocate(self, ptr, layout.align()) }
    }
}

impl Subject for Talc {
    fn allocate(&mut self, layout: std::alloc::Layout) -> Option<NonNull<u8>> {
        // SAFETY: every request has a nonzero size.
        unsafe { Talc::allocate(self, layout) }
    }
    unsafe fn deallocate(&mut self, ptr: NonNull<u8>, layout: std::alloc::Layout) {
        // SAFETY: the caller's contract.
        unsafe { Talc::deallocate(self, ptr.as_ptr(), layout) }
    }
}

/// Live requested bytes over the pool's size, `pool`, when the first
/// request fails.
fn efficiency(heap: &mut impl Subject, mode: Mode, seed: u64, pool: usize) -> f64 {
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut live: Vec<(NonNull<u8>, std::alloc::Layout)> = Vec::new();
    let mut bytes = 0;
    loop {
        if mode == Mode::Churn && !live.is_empty() && rng.random_bool(FREE_FIRST) {
            let (ptr, layout) = live.swap_remove(rng.random_range(0..live.len()));
            // SAFETY: a live block of this heap, with its layout.
            unsafe { heap.deallocate(ptr, layout) };
            bytes -= layout.size();
            continue;
        }
        let layout = request(&mut rng);
        match heap.allocate(black_box(layout)) {
            Some(ptr) => {
                live.push((ptr, layout));
                bytes += layout.size();
            }
            None => break,
        }
    }
    for (ptr, layout) in live {
        // SAFETY: as above.
        unsafe { heap.deallocate(ptr, layout) };
    }
    bytes as f64 / pool as f64
}

/// How a row's heap runs: builds the heap over the fresh pool it is given
/// and returns `efficiency` of it.
type Run = fn(&mut [MaybeUninit<u8>], Mode, u64) -> f64;

/// Mean and worst efficiency of a heap over the seeds, in a pool of `pool`
/// bytes.
fn measure(run: Run, mode: Mode, pool: usize) -> (f64, f64) {
    let runs: Vec<f64> = (0..SEEDS)
        .map(|seed| run(&mut vec![MaybeUninit::uninit(); pool], mode, seed))
        .collect();
    let mean = runs.iter().sum::<f64>() / runs.len() as f64;
    (mean, runs.iter().copied().fold(f64::INFINITY, f64::min))
}

/// One mode's table: a row per heap, a column per pool size.
fn table(mode: Mode, rows: &[(&str, Run)]) {
    let sizes: Vec<String> = POOLS.iter().map(|p| format!("{} MiB", p >> 20)).collect();
    println!(
        "| {} | {} |",
        if mode == Mode::Fill { "fill" } else { "churn" },
        sizes.join(" | ")
    );
    println!("|---|{}", "---:|".repeat(POOLS.len()));
    for (name, run) in rows {
        let cells: Vec<String> = POOLS
            .iter()
            .map(|&pool| {
                let (mean, worst) = measure(*run, mode, pool);
                format!("{:.1}% ({:.1}%)", mean * 100.0, worst * 100.0)
            })
            .collect();
        println!("| {name} | {} |", cells.join(" | "));
    }
    println!();
}

fn main() {
    // `cargo test --benches` runs bench targets too: nothing to measure then.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let rows: [(&str, Run); 4] = [
        ("rtarena `Heap`", |pool, mode, seed| {
            let len = pool.len();
            efficiency(&mut Heap::new(pool).unwrap(), mode, seed, len)
        }),
        ("rtarena `Tlsf`", |pool, mode, seed| {
            let len = pool.len();
            efficiency(&mut Tlsf::new(pool).unwrap(), mode, seed, len)
        }),
        ("rlsf", |pool, mode, seed| {
            let len = pool.len();
            let mut rlsf = Rlsf::new();
            rlsf.insert_free_block(pool);
            efficiency(&mut rlsf, mode, seed, len)
        }),
        ("talc", |pool, mode, seed| {
            let len = pool.len();
            let mut talc = Talc::new(talc::source::Manual);
            // SAFETY: the pool outlives the heap, and nothing else touches
            // it meanwhile.
            unsafe { talc.claim(pool.as_mut_ptr().cast(), len) }.unwrap();
            efficiency(&mut talc, mode, seed, len)
        }),
    ];
    table(Mode::Fill, &rows);
    table(Mode::Churn, &rows);
}
