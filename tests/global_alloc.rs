//! A `SyncArena` as this test binary's `#[global_allocator]` (so the test
//! runs without libtest's harness, which would allocate first): std
//! collections, strings, sorting and threads all allocate from it.
//!
//! Under Miri, which cannot map OS pages, the system allocator stays in place
//! and the binary does nothing.

use std::collections::HashMap;
use std::thread;

use rtarena::SyncArena;
use rtarena::pages::OsPages;
use rtarena::tlsf::GrowingTlsf;

/// A spin lock: a global allocator's lock must not allocate.
type Spin = spin::Mutex<()>;

#[cfg_attr(not(miri), global_allocator)]
static HEAP: SyncArena<GrowingTlsf<OsPages>, Spin> =
    SyncArena::new(GrowingTlsf::new(OsPages::huge_static()));

fn main() {
    if cfg!(miri) {
        return;
    }
    let before = HEAP.stats();
    assert!(
        before.allocations > 0,
        "std allocated before main, from HEAP"
    );

    let mut words: HashMap<String, usize> = HashMap::new();
    for i in 0..20_000 {
        *words.entry(format!("word-{}", i % 5_000)).or_default() += i;
    }
    assert_eq!(words.len(), 5_000);
    assert_eq!(words["word-7"], (0..4).map(|k| 7 + k * 5_000).sum());

    let mut numbers: Vec<u64> = (0..200_000u64)
        .map(|i| i.wrapping_mul(0x9e37_79b9) % 1_000_003)
        .collect();
    numbers.sort_unstable();
    assert!(numbers.windows(2).all(|w| w[0] <= w[1]));

    let sums: Vec<u64> = (0..4u64)
        .map(|t| {
            thread::spawn(move || {
                (0..10_000)
                    .map(|i| format!("{t}:{i}").len() as u64)
                    .sum::<u64>()
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| h.join().unwrap())
        .collect();
    assert_eq!(sums.len(), 4);

    // Larger than a 2 MiB page, and more live pages than `MAX_POOLS`: the
    // pages merge into one pool.
    let big = vec![1u8; 3 << 20];
    let mibs: Vec<Vec<u8>> = (0..9).map(|i| vec![i; 1 << 20]).collect();
    assert!(big.iter().step_by(4096).all(|&b| b == 1));
    assert!(
        mibs.iter()
            .enumerate()
            .all(|(i, v)| v[v.len() - 1] == i as u8)
    );

    let live_during = HEAP.stats().live();
    drop((words, numbers, sums, big, mibs));
    let after = HEAP.stats();
    assert!(after.allocations > before.allocations + 20_000, "{after:?}");
    assert!(after.live() < live_during, "{after:?}");
    assert_eq!(after.failures, 0, "{after:?}");
    HEAP.check().unwrap();
    println!("global_alloc: ok, {after:?}");
}
