//! rtarena as the program's `#[global_allocator]`: a `SyncArena` (behind a
//! spin lock) over a `GrowingHeap`, slab classes in front of a TLSF that
//! grows from 2 MiB OS pages. Everything std allocates, on every thread,
//! comes from it: small objects take slab slots, the rest TLSF blocks; the
//! program prints the arena's stats as it goes.
//!
//! `OsPages` cuts its pages in order from one reservation of address space,
//! so the pages merge into one pool and a request may be of any size.
//!
//! Run with `cargo run --release --features std --example global_alloc`.

use std::collections::HashMap;
use std::thread;

use rtarena::pages::OsPages;
use rtarena::{GrowingHeap, Stats, SyncArena};

/// A spin lock: a global allocator's lock must not allocate (a parking lot
/// that allocates its wait queues would call back into the allocator).
type Spin = spin::Mutex<()>;

#[global_allocator]
static HEAP: SyncArena<GrowingHeap<OsPages>, Spin> =
    SyncArena::new(GrowingHeap::new(OsPages::huge_static()));

fn main() {
    report("at the start of main (std's own setup)", &HEAP.stats());

    // A word count: a `String`-keyed map.
    let text = "the quick brown fox jumps over the lazy dog and the dog sleeps";
    let mut counts: HashMap<String, usize> = HashMap::new();
    for round in 0..2_000 {
        for word in text.split(' ') {
            *counts.entry(format!("{word}{}", round % 50)).or_default() += 1;
        }
    }
    report(&format!("{} words counted", counts.len()), &HEAP.stats());

    // Sorting 200,000 numbers (1.6 MB).
    let mut numbers: Vec<u64> = (0..200_000u64)
        .map(|i| i.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 40)
        .collect();
    numbers.sort_unstable();
    report("200,000 numbers sorted", &HEAP.stats());

    // Four threads, each building and joining strings.
    let lengths: Vec<usize> = (0..4)
        .map(|t| {
            thread::spawn(move || {
                let parts: Vec<String> = (0..20_000).map(|i| format!("{t}-{i}")).collect();
                parts.join(",").len()
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| h.join().expect("worker thread"))
        .collect();
    report(
        &format!("4 threads joined strings of {lengths:?} bytes"),
        &HEAP.stats(),
    );

    let slots: usize = (0..64)
        .filter_map(|class| HEAP.class_stats(class))
        .map(|class| class.live)
        .sum();
    println!("    of the live objects, {slots} are slab slots");

    drop((counts, numbers, lengths));
    let stats = HEAP.stats();
    report("after dropping it all", &stats);
    HEAP.check().expect("heap intact");
    // SAFETY: only reads the core.
    let pages = unsafe { HEAP.lock() }.source().pages_in_use();
    println!(
        "2 MiB pages taken from the OS: {pages}; failed allocations: {}",
        stats.failures
    );
}

fn report(what: &str, s: &Stats) {
    println!(
        "{what}:\n    {} allocations, {} frees, {} live; {} KiB in use, peak {} KiB, of {} KiB",
        s.allocations,
        s.deallocations,
        s.live(),
        s.in_use >> 10,
        s.peak_in_use >> 10,
        s.capacity >> 10
    );
}
