//! `Heap` and `SmallHeap` (slab classes in front of a TLSF) over a pool of
//! any length and alignment, with the default page size or a chosen one,
//! against the shadow model.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rtarena::{Arena, Heap, SmallHeap};
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
    let page_size = 512 << (kind / 2 % 4);
    let chosen = kind & 0x80 != 0;
    let ops_max = 16 << 10;
    if kind % 2 == 0 {
        let heap = if chosen {
            SmallHeap::with_page_size(pool, page_size)
        } else {
            SmallHeap::new(pool)
        };
        let Ok(heap) = heap else { return };
        let ops = input.ops(ops_max, 4096);
        heap_harness().run(&Arena::new(heap), &ops);
    } else {
        let heap = if chosen {
            Heap::with_page_size(pool, page_size)
        } else {
            Heap::new(pool)
        };
        let Ok(heap) = heap else { return };
        let ops = input.ops(ops_max, 4096);
        heap_harness().run(&Arena::new(heap), &ops);
    }
});
