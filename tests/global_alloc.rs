//! A `SyncArena` over a `GrowingTlsf` as this test binary's
//! `#[global_allocator]` (so the test runs without libtest's harness, which
//! would allocate first): std collections, strings, sorting and threads all
//! allocate from it (`global_workload`). `global_alloc_heap` runs the same
//! over a `GrowingHeap`.
//!
//! Under Miri, which cannot map OS pages, the system allocator stays in place
//! and the binary does nothing.

mod global_workload;

use rtarena::pages::OsPages;
use rtarena::{GrowingTlsf, SyncArena};

/// A spin lock: a global allocator's lock must not allocate.
type Spin = spin::Mutex<()>;

#[cfg_attr(not(miri), global_allocator)]
static HEAP: SyncArena<GrowingTlsf<OsPages>, Spin> =
    SyncArena::new(GrowingTlsf::new(OsPages::huge_static()));

fn main() {
    if cfg!(miri) {
        return;
    }
    let after = global_workload::run(|| HEAP.stats(), || HEAP.check());
    println!("global_alloc: ok, {after:?}");
}
