//! A `Slab` over `PoolPages` (512 B to 4 KiB pages, a pool of any length
//! and alignment), against the shadow model, with a `trim` or a `reset`
//! halfway.

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
    let (extra, reset) = (input.layouts(63, 512, 64), input.byte() % 2 == 1);
    let ops = input.ops(4096, 4096);
    // Half the operations (the harness frees what they leave), a few
    // objects allocated, a `trim` (which must keep them) or a `reset` (which
    // frees them), then the other half.
    let (first, second) = ops.split_at(ops.len() / 2);
    let arena = Arena::new(slab);
    slab_harness().run(&arena, first);
    let mut slab = arena.into_inner();
    let held: Vec<_> = extra
        .into_iter()
        .filter_map(|layout| Some((slab.allocate(layout).ok()?, layout)))
        .collect();
    if !reset {
        let live = slab.stats().live();
        slab.trim();
        assert_eq!(slab.stats().live(), live);
        for (block, layout) in held {
            // SAFETY: allocated just above with `layout`, freed once.
            unsafe { slab.deallocate(block.cast(), layout) };
        }
    } else {
        slab.reset();
        let stats = slab.stats();
        assert_eq!((stats.capacity, stats.live()), (0, 0), "{stats:?}");
    }
    slab.check().unwrap();
    slab_harness().run(&Arena::new(slab), second);
});
