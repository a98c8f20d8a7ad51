//! A `SyncArena` over a `static` pool as this test binary's
//! `#[global_allocator]`, built entirely in `const` context (no libtest
//! harness: it would allocate before `main`). The pool's pages merge, so
//! requests larger than a page work too.
//!
//! Under Miri the system allocator stays global: Miri flags any global
//! allocator that writes into a block while std frees it from a function
//! that took the `Box` by value (`std::thread`'s start-up does), because it
//! models the allocator's write as an access through a foreign pointer while
//! the `Box` is protected; a compiled program treats the call as the
//! deallocation itself. There, the same heap is driven through `GlobalAlloc`
//! directly.

use std::cell::UnsafeCell;
use std::collections::HashMap;
use std::mem::MaybeUninit;
use std::ptr;
use std::thread;

use rtarena::pages::RegionPages;
use rtarena::{GrowingTlsf, SyncArena};

const POOL_SIZE: usize = if cfg!(miri) { 1 << 20 } else { 16 << 20 };

/// The heap's memory: a `static`, handed over by raw pointer.
struct Pool(UnsafeCell<[MaybeUninit<u8>; POOL_SIZE]>);
// SAFETY: only `HEAP` touches the pool, through its lock.
unsafe impl Sync for Pool {}
static POOL: Pool = Pool(UnsafeCell::new([MaybeUninit::uninit(); POOL_SIZE]));

#[cfg_attr(not(miri), global_allocator)]
static HEAP: SyncArena<GrowingTlsf<RegionPages>, spin::Mutex<()>> =
    SyncArena::new(GrowingTlsf::new(
        // SAFETY: `POOL` lives forever and nothing but `HEAP` uses it.
        unsafe {
            RegionPages::new(
                ptr::slice_from_raw_parts_mut(POOL.0.get().cast(), POOL_SIZE),
                64 << 10,
            )
        },
    ));

fn main() {
    if cfg!(miri) {
        return direct();
    }
    let scale = 100;
    let before = HEAP.stats();

    let mut words: HashMap<String, usize> = HashMap::new();
    for i in 0..100 * scale {
        *words
            .entry(format!("word-{}", i % (25 * scale)))
            .or_default() += i;
    }
    assert_eq!(words.len(), 25 * scale);

    // One block larger than a 64 KiB page: consecutive pages merged.
    let mut numbers: Vec<u64> = (0..(1000 * scale) as u64)
        .map(|i| i.wrapping_mul(0x9e37_79b9) % 1_000_003)
        .collect();
    numbers.sort_unstable();
    assert!(numbers.windows(2).all(|w| w[0] <= w[1]));

    let lengths: Vec<usize> = (0..2)
        .map(|t| {
            thread::spawn(move || {
                (0..50 * scale)
                    .map(|i| format!("{t}:{i}"))
                    .collect::<Vec<_>>()
                    .len()
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| h.join().unwrap())
        .collect();
    assert_eq!(lengths, [50 * scale; 2]);

    drop((words, numbers, lengths));
    let after = HEAP.stats();
    assert!(
        after.allocations > before.allocations + (100 * scale) as u64,
        "{after:?}"
    );
    assert_eq!(after.failures, 0, "{after:?}");
    HEAP.check().unwrap();
    println!("global_alloc_static: ok, {after:?}");
}

/// The heap through `GlobalAlloc` itself: a block larger than a page, a
/// growing `realloc`, frees.
fn direct() {
    use std::alloc::{GlobalAlloc, Layout};
    let layout = Layout::from_size_align(100 << 10, 16).unwrap();
    // SAFETY: nonzero layouts; each block is freed once, with its layout.
    unsafe {
        let p = HEAP.alloc(layout);
        assert!(!p.is_null());
        p.write_bytes(7, layout.size());
        let q = HEAP.realloc(p, layout, 300 << 10);
        assert!(!q.is_null() && *q.add(layout.size() - 1) == 7);
        HEAP.dealloc(q, Layout::from_size_align(300 << 10, 16).unwrap());
    }
    assert_eq!(HEAP.stats().live(), 0);
    HEAP.check().unwrap();
}
