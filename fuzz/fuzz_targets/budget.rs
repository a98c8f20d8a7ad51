//! Two heaps, a `Slab` and a `GrowingTlsf`, sharing one `PoolPages` through
//! `SharedPages`, each with a `Budget` of its own: the operations go to
//! either, each against its own shadow model, and neither heap may take
//! more pages than its budget.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rtarena::pages::{PoolPages, SharedPages};
use rtarena::{Arena, GrowingTlsf, Slab};
use rtarena_fuzz::Input;
use rtarena_fuzz::common::{PoolBuf, slab_harness};

type Spin = spin::Mutex<()>;

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let page_size = 512 << (input.byte() % 4);
    let (cap_a, cap_b) = (
        usize::from(input.byte() % 16),
        usize::from(input.byte() % 16),
    );
    let mut buf = PoolBuf::new((128 << 10) + 64);
    let Some(pool) = input.pools(buf.slice(), 1, 0, 128 << 10).pop() else {
        return;
    };
    let Ok(pages) = PoolPages::new(pool, page_size) else {
        return;
    };
    let shared: SharedPages<PoolPages, Spin> = SharedPages::new(pages);
    let Ok(slab) = Slab::new(shared.budget(cap_a)) else {
        return;
    };
    let slab = Arena::new(slab);
    let tlsf = Arena::new(GrowingTlsf::new(shared.budget(cap_b)));
    // Each heap runs its own operations, one after the other: the model
    // needs an arena with nothing live at the start of a run.
    let ops_a = input.ops(4096, 1024);
    slab_harness().run(&slab, &ops_a);
    let ops_b = input.ops(16 << 10, 4096);
    slab_harness().run(&tlsf, &ops_b);
    assert!(slab.stats().capacity <= cap_a * page_size);
    assert!(tlsf.stats().capacity <= cap_b * page_size);
});
