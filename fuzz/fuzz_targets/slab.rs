//! A `Slab` over `PoolPages` (512 B to 4 KiB pages, a pool of any length
//! and alignment), against the shadow model.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rtarena::pages::PoolPages;
use rtarena::{Arena, Slab};
use rtarena_fuzz::Input;
use rtarena_fuzz::common::{PoolBuf, slab_harness};

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let page_size = 512 << (input.byte() % 4);
    let mut buf = PoolBuf::new((256 << 10) + 64);
    let Some(pool) = input.pools(buf.slice(), 1, 0, 256 << 10).pop() else {
        return;
    };
    let Ok(pages) = PoolPages::new(pool, page_size) else {
        return;
    };
    let Ok(slab) = Slab::new(pages) else {
        return;
    };
    let ops = input.ops(4096, 4096);
    let arena = Arena::new(slab);
    slab_harness().run(&arena, &ops);
    let mut slab = arena.into_inner();
    slab.trim();
    slab.check().unwrap();
});
