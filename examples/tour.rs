//! A tour of rtarena: a real-time TLSF heap over 64 KiB that *you* own,
//! used by ordinary collections through the `Allocator` trait, then the
//! hybrid `Heap` (slab classes in front of the TLSF).
//!
//! Run it with `cargo run --release --example tour`.

use core::mem::{MaybeUninit, size_of};

use allocator_api2::boxed::Box;
use allocator_api2::vec::Vec;
use hashbrown::HashMap;
use rtarena::{Arena, Heap, SmallHeap, SmallTlsf, Stats, Tlsf};

/// Size of the memory the heap manages.
const POOL_SIZE: usize = 64 * 1024;

fn main() -> Result<(), rtarena::PoolError> {
    // 1. The memory. Any `&mut [MaybeUninit<u8>]` will do: an array on the
    //    stack (as here), a `static`, a slice of a bigger buffer. The heap
    //    borrows it, so the borrow checker will not let the heap, or anything
    //    allocated from it, outlive the pool.
    let mut pool = [MaybeUninit::<u8>::uninit(); POOL_SIZE];

    // 2. The heap. `Tlsf::new` lays one free block over the pool (O(1)) and
    //    refuses a pool that is too small or too large with a `PoolError`.
    //    `Arena` lets it be used through `&arena` (single-thread, no lock).
    //    `Tlsf` is the default configuration (pools up to 4 GiB).
    let arena = Arena::new(Tlsf::new(&mut pool)?);

    println!(
        "rtarena tour: a TLSF heap over a {} KiB pool on the stack",
        POOL_SIZE / 1024
    );
    // The control block (bitmaps and free-list heads) lives in `Tlsf`
    // itself, not in the pool. `SmallTlsf` is the configuration for pools up
    // to 64 KiB, as on a microcontroller.
    println!(
        "control blocks: Tlsf {} bytes, SmallTlsf {} bytes, Heap {} bytes, SmallHeap {} bytes\n",
        size_of::<Tlsf>(),
        size_of::<SmallTlsf>(),
        size_of::<Heap>(),
        size_of::<SmallHeap>()
    );
    print_header();
    print_row("new heap", &arena.stats());

    // 3. Collections. `&Arena` is an `allocator_api2::alloc::Allocator`, so
    //    every `*_in` constructor takes it: allocator-api2's `Vec` and `Box`
    //    on stable Rust, and hashbrown's `HashMap`.
    let mut readings: Vec<u32, _> = Vec::new_in(&arena);
    readings.extend(0..1000);

    let mut squares = HashMap::new_in(&arena);
    for id in 0..100u32 {
        squares.insert(id, id * id);
    }

    let big = Box::new_in([0u64; 512], &arena); // 4 KiB in one block
    print_row("vec+map+box", &arena.stats());

    // Shrinking gives the tail back to the heap (in place: no copy).
    readings.truncate(100);
    readings.shrink_to_fit();
    print_row("shrunk vec", &arena.stats());

    // 4. Out of memory is an error, never a panic or an abort. Ask for 1 Mi
    //    more elements (4 MiB): the heap cannot, says so, and leaves both
    //    itself and the vector exactly as they were.
    match readings.try_reserve(1024 * 1024) {
        Ok(()) => unreachable!("a 64 KiB heap cannot hold 4 MiB"),
        Err(e) => println!("  -> readings.try_reserve(1 Mi) = Err(\"{e}\")"),
    }
    assert!(readings.iter().copied().eq(0..100));
    println!(
        "  -> readings intact: len {}, values 0..100",
        readings.len()
    );
    print_row("after OOM", &arena.stats());

    // 5. Everything goes back. Free blocks coalesce at once with their free
    //    neighbours, so the pool is one free block again.
    drop((readings, squares, big));
    let stats = arena.stats();
    print_row("all dropped", &stats);
    assert_eq!(stats.in_use, 0);
    assert_eq!(
        stats.largest_free, stats.capacity,
        "one free block spans the pool"
    );
    println!("\nlargest free block == capacity: the pool is one free block again");

    // 6. `check` walks every block and free list and verifies the heap's
    //    invariants: use it in tests and debug builds to catch corruption.
    match arena.check() {
        Ok(()) => println!("arena.check(): ok"),
        Err(e) => panic!("{e}"),
    }

    // 7. `Heap`: slab size classes in front of a TLSF, in one pool. A small
    //    request takes a slot of its size class (no header, no search); a
    //    large one a TLSF block; the slab's pages are TLSF blocks, so the two
    //    share the pool as the load shifts. The type to reach for first.
    let mut pool = [MaybeUninit::<u8>::uninit(); POOL_SIZE];
    let arena = Arena::new(Heap::new(&mut pool)?);
    let nodes: Vec<Box<[u64; 3], _>, _> = (0..200).map(|i| Box::new_in([i; 3], &arena)).collect();
    let frame = Box::new_in([0u8; 8192], &arena); // above every class: a TLSF block
    println!(
        "
Heap over another {} KiB pool: 200 boxed nodes and an 8 KiB frame",
        POOL_SIZE / 1024
    );
    print_header();
    print_row("nodes+frame", &arena.stats());
    for class in (0..).map_while(|c| arena.class_stats(c)) {
        if class.pages > 0 {
            println!(
                "  {:>4}-byte class: {:>3} objects on {} page(s) of {} slots",
                class.size, class.live, class.pages, class.slots_per_page
            );
        }
    }
    drop((nodes, frame));
    print_row("all dropped", &arena.stats());
    Ok(())
}

fn print_header() {
    println!(
        "{:<12} {:>8} {:>8} {:>8} {:>8} {:>8} {:>6} {:>6} {:>5}",
        "stats():", "capacity", "in use", "peak", "free", "largest", "allocs", "frees", "fails"
    );
}

fn print_row(label: &str, s: &Stats) {
    println!(
        "{:<12} {:>8} {:>8} {:>8} {:>8} {:>8} {:>6} {:>6} {:>5}",
        label,
        s.capacity,
        s.in_use,
        s.peak_in_use,
        s.free,
        s.largest_free,
        s.allocations,
        s.deallocations,
        s.failures
    );
}
