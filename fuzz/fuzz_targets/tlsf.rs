//! `Tlsf` and `SmallTlsf` over one to three pools of any length and
//! alignment, against the shadow model; a failed allocation must find no
//! free gap in the model that the TLSF's fit bound says it would take.
//! Halfway, a `reset` frees every block at once.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rtarena::raw::RawHeap;
use rtarena::{Arena, SmallTlsf, Tlsf};
use rtarena_fuzz::Input;
use rtarena_fuzz::common::{Harness, PoolBuf, addresses, harness, tlsf_blocks};

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let small = input.byte() % 2 == 0;
    let count = 1 + usize::from(input.byte() % 3);
    let mut buf = PoolBuf::new(3 * (64 << 10) + 256);
    let pools = input.pools(buf.slice(), count, 1, 64 << 10);
    if small {
        run(SmallTlsf::empty(), pools, &mut input, harness::<8>());
    } else {
        run(Tlsf::empty(), pools, &mut input, harness::<16>());
    }
});

/// Gives `tlsf` the pools it accepts (a pool too small is refused, and
/// must change nothing), then runs the operations.
fn run<'p, C>(
    mut tlsf: C,
    pools: Vec<&'p mut [std::mem::MaybeUninit<u8>]>,
    input: &mut Input,
    fit: Harness,
) where
    C: RawHeap + AddPool<'p>,
{
    let mut ranges = Vec::new();
    for pool in pools {
        let range = tlsf_blocks(addresses(pool));
        let before = tlsf.stats();
        if tlsf.add(pool) {
            ranges.push(range);
        } else {
            assert_eq!(tlsf.stats(), before, "a refused pool changed the heap");
        }
    }
    let extra = input.layouts(15, 4096, 256);
    let ops = input.ops(16 << 10, 4096);
    // Half the operations (the harness frees what they leave), a few
    // blocks allocated, a reset that frees them, then the other half.
    let (first, second) = ops.split_at(ops.len() / 2);
    let harness = if ranges.is_empty() {
        Harness::default()
    } else {
        fit
    };
    let arena = Arena::new(tlsf);
    harness.run_with_pools(&arena, first, &ranges);
    let mut tlsf = arena.into_inner();
    let capacity = tlsf.stats().capacity;
    for layout in extra {
        let _ = tlsf.allocate(layout);
    }
    tlsf.reset_all();
    let stats = tlsf.stats();
    assert_eq!((stats.free, stats.live()), (capacity, 0), "{stats:?}");
    tlsf.check().unwrap();
    harness.run_with_pools(&Arena::new(tlsf), second, &ranges);
}

/// `add_pool` and `reset` of either configuration.
trait AddPool<'p> {
    fn add(&mut self, pool: &'p mut [std::mem::MaybeUninit<u8>]) -> bool;
    fn reset_all(&mut self);
}

impl<'p> AddPool<'p> for Tlsf<'p> {
    fn add(&mut self, pool: &'p mut [std::mem::MaybeUninit<u8>]) -> bool {
        self.add_pool(pool).is_ok()
    }

    fn reset_all(&mut self) {
        self.reset();
    }
}

impl<'p> AddPool<'p> for SmallTlsf<'p> {
    fn add(&mut self, pool: &'p mut [std::mem::MaybeUninit<u8>]) -> bool {
        self.add_pool(pool).is_ok()
    }

    fn reset_all(&mut self) {
        self.reset();
    }
}
