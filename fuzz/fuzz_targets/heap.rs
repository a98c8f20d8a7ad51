//! `Heap` and `SmallHeap` (slab classes in front of a TLSF) over a pool of
//! any length and alignment, with the default page size or a chosen one,
//! against the shadow model. Halfway, a `reset` frees every object at once.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rtarena::{Arena, GenericHeap, Heap, PoolError, SmallHeap};
use rtarena_fuzz::Input;
use rtarena_fuzz::common::{PoolBuf, heap_harness};

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let kind = input.byte();
    let mut buf = PoolBuf::new((256 << 10) + 64);
    let max = if kind % 2 == 0 { 64 << 10 } else { 256 << 10 };
    let Some(pool) = input.pools(buf.slice(), 1, 0, max).pop() else {
        return;
    };
    let page_size = (kind & 0x80 != 0).then_some(512 << (kind / 2 % 4));
    if kind % 2 == 0 {
        run(
            build(pool, page_size, SmallHeap::new, SmallHeap::with_page_size),
            &mut input,
        );
    } else {
        run(
            build(pool, page_size, Heap::new, Heap::with_page_size),
            &mut input,
        );
    }
});

/// The heap over `pool`, with `page_size` if chosen.
fn build<'p, H>(
    pool: &'p mut [std::mem::MaybeUninit<u8>],
    page_size: Option<usize>,
    new: impl FnOnce(&'p mut [std::mem::MaybeUninit<u8>]) -> Result<H, PoolError>,
    with_page_size: impl FnOnce(&'p mut [std::mem::MaybeUninit<u8>], usize) -> Result<H, PoolError>,
) -> Result<H, PoolError> {
    match page_size {
        Some(size) => with_page_size(pool, size),
        None => new(pool),
    }
}

/// Half the operations (the harness frees what they leave), a few objects
/// allocated, a reset that frees them, then the other half.
fn run<const FL: usize, const SL: usize, const N: usize>(
    heap: Result<GenericHeap<'_, FL, SL, N>, PoolError>,
    input: &mut Input,
) {
    let Ok(heap) = heap else { return };
    let extra = input.layouts(15, 4096, 256);
    let ops = input.ops(16 << 10, 4096);
    let (first, second) = ops.split_at(ops.len() / 2);
    let arena = Arena::new(heap);
    heap_harness().run(&arena, first);
    let mut heap = arena.into_inner();
    let capacity = heap.stats().capacity;
    for layout in extra {
        let _ = heap.allocate(layout);
    }
    heap.reset();
    let stats = heap.stats();
    assert_eq!(
        (stats.capacity, stats.free, stats.live()),
        (capacity, capacity, 0),
        "{stats:?}"
    );
    heap.check().unwrap();
    heap_harness().run(&Arena::new(heap), second);
}
