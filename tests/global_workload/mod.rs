//! The workload of the global-allocator tests (`global_alloc`,
//! `global_alloc_heap`): real allocation-heavy code, std collections,
//! strings, sorting, threads, large vectors and many small objects, all
//! from the binary's `#[global_allocator]`, whose stats and check it is
//! given.

use std::collections::{BTreeMap, HashMap};
use std::thread;

use rtarena::{CheckError, Stats};

/// Runs the workload, checking the heap's counters and integrity around it.
pub fn run(stats: impl Fn() -> Stats, check: impl Fn() -> Result<(), CheckError>) -> Stats {
    let before = stats();
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

    // Many small objects, freed out of order: boxes of every small size, a
    // tree of short strings.
    let mut boxes: Vec<Box<[u8]>> = (0..100_000)
        .map(|i| vec![i as u8; 1 + i % 200].into_boxed_slice())
        .collect();
    let tree: BTreeMap<u32, String> = (0..50_000u32)
        .map(|i| (i ^ 0x5555, i.to_string()))
        .collect();
    boxes.retain(|b| b.len() % 3 != 0);
    assert!(boxes.iter().all(|b| b.iter().all(|&x| x == b[0])));
    assert_eq!(tree[&(7 ^ 0x5555)], "7");

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

    check().unwrap();
    let live_during = stats().live();
    drop((words, numbers, sums, boxes, tree, big, mibs));
    let after = stats();
    assert!(after.allocations > before.allocations + 20_000, "{after:?}");
    assert!(after.live() < live_during, "{after:?}");
    assert_eq!(after.failures, 0, "{after:?}");
    check().unwrap();
    after
}
