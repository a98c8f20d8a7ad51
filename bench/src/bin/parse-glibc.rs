//! The real-program workload over the system allocator (glibc's `malloc`
//! on Linux).

#[path = "../parse.rs"]
mod parse;

fn main() {
    parse::main();
}
