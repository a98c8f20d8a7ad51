//! Budgets: several slab heaps drawing pages from one shared pool, each up
//! to its cap; one at its cap gets `Err` while the others keep working; the
//! pages go back to the pool when the heaps are done.

#![cfg(all(feature = "sync", feature = "allocator-api2"))]

mod common;

use std::alloc::Layout;

use rtarena::pages::{PoolPages, SharedPages};
use rtarena::{AllocError, Arena, Slab};

use common::{MIRI, PoolBuf};

type Spin = spin::Mutex<()>;
const PAGE: usize = 4096;

#[test]
fn a_heap_at_its_cap_fails_while_the_others_work() {
    let mut buf = PoolBuf::with_align(32 * PAGE, PAGE);
    let mut shared: SharedPages<PoolPages, Spin> =
        SharedPages::new(PoolPages::new(buf.slice(), PAGE).unwrap());
    {
        let small = Arena::new(Slab::new(shared.budget(2)).unwrap());
        let large = Arena::new(Slab::new(shared.budget(16)).unwrap());
        let l = Layout::from_size_align(512, 8).unwrap();
        let mut held = Vec::new();
        let err = loop {
            match small.allocate(l) {
                Ok(block) => held.push(block.cast::<u8>()),
                Err(e) => break e,
            }
        };
        assert_eq!(err, AllocError);
        assert_eq!(
            held.len(),
            2 * ((PAGE - rtarena::slab::page_header(PAGE)) / 512)
        );
        assert_eq!(small.stats().failures, 1);
        // The other subsystem is untouched by its neighbour's exhaustion.
        let others: Vec<_> = (0..40).map(|_| large.allocate(l).unwrap()).collect();
        assert_eq!(large.stats().live(), 40);
        // Freeing in the capped heap lets it allocate again.
        // SAFETY: live, allocated with `l`.
        unsafe { small.deallocate(held.pop().unwrap(), l) };
        held.push(small.allocate(l).unwrap().cast());
        for block in held {
            // SAFETY: live, allocated with `l`.
            unsafe { small.deallocate(block, l) };
        }
        for block in others {
            // SAFETY: live, allocated with `l`.
            unsafe { large.deallocate(block.cast(), l) };
        }
        let (small, large) = (small.into_inner(), large.into_inner());
        assert_eq!(small.source().peak_pages(), 2);
        assert_eq!(small.source().refused(), 1);
        assert!(large.source().peak_pages() >= 40 / 7);
    }
    // Both heaps were dropped: every page is back in the shared pool.
    assert_eq!(shared.source().pages_in_use(), 0);
}

#[test]
fn budgets_move_to_threads() {
    let mut buf = PoolBuf::with_align(64 * PAGE, PAGE);
    let shared: SharedPages<PoolPages, Spin> =
        SharedPages::new(PoolPages::new(buf.slice(), PAGE).unwrap());
    let n = if MIRI { 20 } else { 2000 };
    std::thread::scope(|scope| {
        for task in 0..4u64 {
            let budget = shared.budget(8);
            scope.spawn(move || {
                let arena = Arena::new(Slab::new(budget).unwrap());
                // The boxes come from the task's heap; the list of them from
                // the global one (a slab serves objects up to its largest
                // class only).
                let mut v = Vec::new();
                let mut failures = 0;
                for i in 0..n {
                    let boxed = allocator_api2::boxed::Box::try_new_in([task; 8], &arena);
                    match boxed {
                        Ok(b) => v.push(b),
                        Err(_) => failures += 1,
                    }
                    if i % 3 == 0 {
                        v.pop();
                    }
                }
                assert!(v.iter().all(|b| **b == [task; 8]));
                assert_eq!(arena.stats().live(), v.len() as u64);
                // The task wants more than its 8 pages hold: it runs into
                // its cap, and only there.
                let per_page = (PAGE - rtarena::slab::page_header(PAGE)) / 64;
                assert!(v.len() <= 8 * per_page);
                assert!(failures == 0 || arena.stats().live() as usize >= 7 * per_page);
                drop(v);
                let slab = arena.into_inner();
                assert_eq!(slab.stats().live(), 0);
                assert!(slab.source().peak_pages() <= 8);
            });
        }
    });
}
