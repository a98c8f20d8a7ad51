//! The real-program workload over rtarena's hybrid heap: slab classes in
//! front of a TLSF, growing from OS pages (2 MiB pages, one pool), behind a
//! spin lock.

#[path = "../parse.rs"]
mod parse;

use rtarena::pages::OsPages;
use rtarena::{GrowingHeap, SyncArena};

#[global_allocator]
static HEAP: SyncArena<GrowingHeap<OsPages>, spin::Mutex<()>> =
    SyncArena::new(GrowingHeap::new(OsPages::huge_static()));

fn main() {
    parse::main();
}
