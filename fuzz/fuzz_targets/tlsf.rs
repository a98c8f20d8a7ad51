//! `Tlsf` and `SmallTlsf` over one to three pools of any length and
//! alignment, against the shadow model; a failed allocation must find no
//! free gap in the model that the TLSF's fit bound says it would take.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rtarena::{Arena, RawHeap, SmallTlsf, Tlsf};
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
    let ops = input.ops(16 << 10, 4096);
    let arena = Arena::new(tlsf);
    if ranges.is_empty() {
        Harness::default().run(&arena, &ops);
    } else {
        fit.run_with_pools(&arena, &ops, &ranges);
    }
}

/// `add_pool` of either configuration.
trait AddPool<'p> {
    fn add(&mut self, pool: &'p mut [std::mem::MaybeUninit<u8>]) -> bool;
}

impl<'p> AddPool<'p> for Tlsf<'p> {
    fn add(&mut self, pool: &'p mut [std::mem::MaybeUninit<u8>]) -> bool {
        self.add_pool(pool).is_ok()
    }
}

impl<'p> AddPool<'p> for SmallTlsf<'p> {
    fn add(&mut self, pool: &'p mut [std::mem::MaybeUninit<u8>]) -> bool {
        self.add_pool(pool).is_ok()
    }
}
