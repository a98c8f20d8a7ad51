//! Memory efficiency: how much of a pool a heap fills before its first
//! failed request, as live requested bytes over the pool's size.
//!
//! Run with `cargo bench -p rtarena-bench --bench efficiency` (a few
//! seconds). Every heap gets a 1 MiB pool and the same requests: 70% of
//! 8–128 B, 25% of 129 B–4 KiB, 5% of 4–64 KiB, aligned to 8, from each of
//! 20 seeds. Two modes:
//!
//! - `fill`: allocate only, until a request fails;
//! - `churn`: before each request, with probability 0.4, free a live block
//!   chosen at random; stop at the first failed request.
//!
//! A request fails in a heap that cannot place it; a heap that packs
//! blocks tightly and keeps free memory in few large blocks fills more of
//! its pool. The cells give the mean over the seeds and, in parentheses,
//! the worst seed. Every heap sees the same sequence up to its first
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

const POOL: usize = 1 << 20;
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

/// Live requested bytes over `POOL` when the first request fails.
fn efficiency(heap: &mut impl Subject, mode: Mode, seed: u64) -> f64 {
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
    bytes as f64 / POOL as f64
}

/// Mean and worst efficiency of a heap over the seeds; `run` builds the
/// heap over the fresh pool it is given and returns `efficiency` of it.
fn measure(run: &impl Fn(&mut [MaybeUninit<u8>], Mode, u64) -> f64, mode: Mode) -> (f64, f64) {
    let runs: Vec<f64> = (0..SEEDS)
        .map(|seed| run(&mut vec![MaybeUninit::uninit(); POOL], mode, seed))
        .collect();
    let mean = runs.iter().sum::<f64>() / runs.len() as f64;
    (mean, runs.iter().copied().fold(f64::INFINITY, f64::min))
}

fn row(name: &str, run: impl Fn(&mut [MaybeUninit<u8>], Mode, u64) -> f64) {
    let cell = |(mean, worst): (f64, f64)| format!("{:.1}% ({:.1}%)", mean * 100.0, worst * 100.0);
    println!(
        "| {name} | {} | {} |",
        cell(measure(&run, Mode::Fill)),
        cell(measure(&run, Mode::Churn))
    );
}

fn main() {
    // `cargo test --benches` runs bench targets too: nothing to measure then.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    println!("| heap | fill: mean (worst) | churn: mean (worst) |");
    println!("|---|---:|---:|");
    row("rtarena Heap", |pool, mode, seed| {
        efficiency(&mut Heap::new(pool).unwrap(), mode, seed)
    });
    row("rtarena Tlsf", |pool, mode, seed| {
        efficiency(&mut Tlsf::new(pool).unwrap(), mode, seed)
    });
    row("rlsf", |pool, mode, seed| {
        let mut rlsf = Rlsf::new();
        rlsf.insert_free_block(pool);
        efficiency(&mut rlsf, mode, seed)
    });
    row("talc", |pool, mode, seed| {
        let mut talc = Talc::new(talc::source::Manual);
        // SAFETY: the pool outlives the heap, and nothing else touches it
        // meanwhile.
        unsafe { talc.claim(pool.as_mut_ptr().cast(), pool.len()) }.unwrap();
        efficiency(&mut talc, mode, seed)
    });
}
