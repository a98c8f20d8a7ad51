//! A `SyncArena` over a `GrowingHeap` (slab classes in front of a TLSF that
//! grows from OS pages) as this test binary's `#[global_allocator]`: the
//! workload of `global_alloc` (`global_workload`), with small objects in
//! slab slots, then a look at the slab's classes.
//!
//! Under Miri, which cannot map OS pages, the system allocator stays in place
//! and the binary does nothing.

mod global_workload;

use rtarena::pages::OsPages;
use rtarena::{GrowingHeap, SyncArena};

/// A spin lock: a global allocator's lock must not allocate.
type Spin = spin::Mutex<()>;

#[cfg_attr(not(miri), global_allocator)]
static HEAP: SyncArena<GrowingHeap<OsPages>, Spin> =
    SyncArena::new(GrowingHeap::new(OsPages::huge_static()));

fn main() {
    if cfg!(miri) {
        return;
    }
    let after = global_workload::run(|| HEAP.stats(), || HEAP.check());
    // Small objects took slab slots: classes hold pages and served many.
    let pages: usize = (0..64)
        .filter_map(|c| HEAP.class_stats(c))
        .map(|c| c.pages)
        .sum();
    assert!(pages > 0, "the slab holds pages");
    let small = std::hint::black_box(Box::new([7u64; 4]));
    let slots: usize = (0..64)
        .filter_map(|c| HEAP.class_stats(c))
        .map(|c| c.live)
        .sum();
    assert!(slots > 0, "small objects live in slab slots");
    drop(small);
    HEAP.check().unwrap();
    println!("global_alloc_heap: ok, {after:?}");
}
