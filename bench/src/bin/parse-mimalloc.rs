//! The real-program workload over mimalloc.

#[path = "../parse.rs"]
mod parse;

#[global_allocator]
static HEAP: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    parse::main();
}
