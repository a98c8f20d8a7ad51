//! The real-program workload over rtarena: a TLSF that grows from OS pages
//! (2 MiB pages, one pool), behind a spin lock.

#[path = "../parse.rs"]
mod parse;

use rtarena::pages::OsPages;
use rtarena::{GrowingTlsf, SyncArena};

#[global_allocator]
static HEAP: SyncArena<GrowingTlsf<OsPages>, spin::Mutex<()>> =
    SyncArena::new(GrowingTlsf::new(OsPages::huge_static()));

fn main() {
    parse::main();
}
