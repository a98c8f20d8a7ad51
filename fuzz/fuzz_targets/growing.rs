//! A `GrowingTlsf`, or a `GrowingHeap` (slab classes in front of a growing
//! TLSF, with 512-byte or 4 KiB slab pages), that takes its pools from
//! `PoolPages` (512 B to 16 KiB pages) as it needs them, against the
//! shadow model.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rtarena::pages::PoolPages;
use rtarena::{Arena, GrowingHeap, GrowingTlsf};
use rtarena_fuzz::Input;
use rtarena_fuzz::common::{PoolBuf, slab_harness};

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let kind = input.byte();
    let page_size = 512 << (kind % 6);
    let mut buf = PoolBuf::new((256 << 10) + 64);
    let Some(pool) = input.pools(buf.slice(), 1, 0, 256 << 10).pop() else {
        return;
    };
    let Ok(pages) = PoolPages::new(pool, page_size) else {
        return;
    };
    let ops = input.ops(16 << 10, 4096);
    match kind / 6 % 3 {
        0 => slab_harness().run(&Arena::new(GrowingTlsf::new(pages)), &ops),
        1 => slab_harness().run(&Arena::new(GrowingHeap::<_, 512>::new(pages)), &ops),
        _ => slab_harness().run(&Arena::new(GrowingHeap::<_, 4096>::new(pages)), &ops),
    };
});
