//! A `GrowingTlsf` that takes its pools from `PoolPages` (512 B to 16 KiB
//! pages) as it needs them, against the shadow model.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rtarena::Arena;
use rtarena::pages::PoolPages;
use rtarena::tlsf::GrowingTlsf;
use rtarena_fuzz::Input;
use rtarena_fuzz::common::{PoolBuf, slab_harness};

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let page_size = 512 << (input.byte() % 6);
    let mut buf = PoolBuf::new((256 << 10) + 64);
    let Some(pool) = input.pools(buf.slice(), 1, 0, 256 << 10).pop() else {
        return;
    };
    let Ok(pages) = PoolPages::new(pool, page_size) else {
        return;
    };
    let ops = input.ops(16 << 10, 4096);
    slab_harness().run(&Arena::new(GrowingTlsf::new(pages)), &ops);
});
