//! `SyncArena`: several threads on one heap, with content checks, behind a
//! spin lock and (feature `critical-section`) a critical section;
//! `GlobalAlloc`; a `static` arena built in `const` context.

#![cfg(all(feature = "sync", feature = "allocator-api2"))]

mod common;

use std::alloc::{GlobalAlloc, Layout};
use std::ptr::NonNull;

use allocator_api2::boxed::Box;
use allocator_api2::vec::Vec;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use rtarena::Lock;
use rtarena::{Heap, SyncArena};

use common::{MIRI, PoolBuf, fill, verify};

/// A spin lock, the dev-dependency lock for tests.
type Spin = spin::Mutex<()>;

const THREADS: usize = if MIRI { 2 } else { 4 };
const OPS: usize = if MIRI { 60 } else { 20_000 };

/// Each thread runs random allocations, frees, grows and shrinks through
/// the `Allocator` API, filling every block with its own pattern and
/// verifying it before every free and after every move; at the end it frees
/// everything. Then nothing may be live, and the heap must pass its check.
fn stress<R: Lock + Send + Sync>(arena: &SyncArena<Heap, R>) {
    use allocator_api2::alloc::Allocator;
    std::thread::scope(|scope| {
        for thread in 0..THREADS {
            scope.spawn(move || {
                let mut rng = SmallRng::seed_from_u64(thread as u64);
                let mut live: std::vec::Vec<(NonNull<u8>, Layout, u64)> = std::vec::Vec::new();
                for op in 0..OPS {
                    let id = ((thread as u64) << 32) | op as u64;
                    let pick = rng.random_range(0..100);
                    if pick < 50 || live.is_empty() {
                        let size = if rng.random_bool(0.9) {
                            rng.random_range(1..=256)
                        } else {
                            rng.random_range(257..=8192)
                        };
                        let layout =
                            Layout::from_size_align(size, 1 << rng.random_range(0..5)).unwrap();
                        if let Ok(block) = Allocator::allocate(&arena, layout) {
                            // SAFETY: a fresh block of at least `size` bytes.
                            unsafe { fill(block.cast(), size, id) };
                            live.push((block.cast(), layout, id));
                        }
                    } else if pick < 85 {
                        let (ptr, layout, id) = live.swap_remove(rng.random_range(0..live.len()));
                        // SAFETY: live with its pattern and layout.
                        unsafe {
                            verify(ptr, layout.size(), id, "before free");
                            Allocator::deallocate(&arena, ptr, layout);
                        }
                    } else {
                        let i = rng.random_range(0..live.len());
                        let (ptr, old, id) = live[i];
                        let size = rng.random_range(1..=2 * old.size() + 64);
                        let new = Layout::from_size_align(size, old.align()).unwrap();
                        // SAFETY: live with layout `old`.
                        let result = unsafe {
                            if size >= old.size() {
                                Allocator::grow(&arena, ptr, old, new)
                            } else {
                                Allocator::shrink(&arena, ptr, old, new)
                            }
                        };
                        if let Ok(block) = result {
                            // SAFETY: the kept bytes moved with the block,
                            // which is ours for at least `size` bytes.
                            unsafe {
                                verify(block.cast(), old.size().min(size), id, "after resize");
                                fill(block.cast(), size, id);
                            }
                            live[i] = (block.cast(), new, id);
                        } else {
                            // SAFETY: untouched by the failed resize.
                            unsafe { verify(ptr, old.size(), id, "after a failed resize") };
                        }
                    }
                }
                for (ptr, layout, id) in live {
                    // SAFETY: live with its pattern and layout.
                    unsafe {
                        verify(ptr, layout.size(), id, "at the end");
                        Allocator::deallocate(&arena, ptr, layout);
                    }
                }
            });
        }
    });
    let stats = arena.stats();
    assert_eq!((stats.live(), stats.in_use), (0, 0), "{stats:?}");
    arena.check().unwrap();
}

#[test]
fn threads_share_one_heap_behind_a_spin_lock() {
    let mut buf = PoolBuf::new(if MIRI { 64 << 10 } else { 1 << 20 });
    let arena: SyncArena<Heap, Spin> = SyncArena::new(Heap::new(buf.slice()).unwrap());
    stress(&arena);
    let stats = arena.stats();
    println!("{stats:?}");
    assert!(stats.allocations as usize > THREADS * OPS / 4, "{stats:?}");
}

/// The critical-section lock, with `critical-section`'s `std`
/// implementation standing in for a microcontroller's.
#[cfg(feature = "critical-section")]
#[test]
fn threads_share_one_heap_behind_a_critical_section() {
    let mut buf = PoolBuf::new(if MIRI { 64 << 10 } else { 1 << 20 });
    let arena: SyncArena<Heap, rtarena::CriticalSectionLock> =
        SyncArena::new(Heap::new(buf.slice()).unwrap());
    stress(&arena);
    assert!(arena.stats().allocations as usize > THREADS * OPS / 4);
}

#[test]
fn collections_on_each_thread() {
    let mut buf = PoolBuf::new(if MIRI { 64 << 10 } else { 1 << 20 });
    let arena: SyncArena<Heap, Spin> = SyncArena::new(Heap::new(buf.slice()).unwrap());
    let n = if MIRI { 20 } else { 2000 };
    std::thread::scope(|scope| {
        for thread in 0..THREADS as u32 {
            let arena = &arena;
            scope.spawn(move || {
                let mut map = hashbrown::HashMap::new_in(arena);
                let mut v: Vec<Box<u32, _>, _> = Vec::new_in(arena);
                for i in 0..n {
                    map.insert(i, thread * i);
                    v.push(Box::new_in(i, arena));
                }
                assert!((0..n).all(|i| map[&i] == thread * i && *v[i as usize] == i));
            });
        }
    });
    assert_eq!(arena.stats().live(), 0);
    arena.check().unwrap();
}

#[test]
fn global_alloc_returns_null_and_keeps_the_block_on_failure() {
    let mut buf = PoolBuf::new(16 << 10);
    let arena: SyncArena<Heap, Spin> = SyncArena::new(Heap::new(buf.slice()).unwrap());
    let layout = Layout::from_size_align(100, 8).unwrap();
    // SAFETY: `GlobalAlloc`'s contracts: nonzero sizes, live blocks, the
    // layouts they were allocated with.
    unsafe {
        let p = arena.alloc(layout);
        assert!(!p.is_null());
        fill(NonNull::new(p).unwrap(), 100, 1);
        assert!(
            arena.realloc(p, layout, 1 << 20).is_null(),
            "too big for the pool"
        );
        verify(NonNull::new(p).unwrap(), 100, 1, "after a failed realloc");
        let q = arena.realloc(p, layout, 3000);
        assert!(!q.is_null());
        verify(NonNull::new(q).unwrap(), 100, 1, "after realloc");
        let r = arena.realloc(q, Layout::from_size_align(3000, 8).unwrap(), 10);
        verify(NonNull::new(r).unwrap(), 10, 1, "after a shrinking realloc");
        arena.dealloc(r, Layout::from_size_align(10, 8).unwrap());
        assert!(
            arena
                .alloc(Layout::from_size_align(1 << 20, 8).unwrap())
                .is_null()
        );
        let z = arena.alloc_zeroed(layout);
        assert!(std::slice::from_raw_parts(z, 100).iter().all(|&b| b == 0));
        arena.dealloc(z, layout);
    }
    assert_eq!(arena.stats().live(), 0);
    arena.check().unwrap();
}

/// A `static` arena, built in `const` context as a `#[global_allocator]` is,
/// given its pool at start-up through `lock`.
#[test]
fn a_static_arena_gets_its_pool_at_start_up() {
    use std::mem::MaybeUninit;

    static ARENA: SyncArena<rtarena::Tlsf<'static>, Spin> = SyncArena::new(rtarena::Tlsf::empty());
    let layout = Layout::new::<[u64; 4]>();
    assert!(ARENA.allocate(layout).is_err(), "no pool yet");
    let pool = std::boxed::Box::leak(std::vec![MaybeUninit::uninit(); 16 << 10].into_boxed_slice());
    // SAFETY: adding a pool ends no block's life.
    unsafe { ARENA.lock() }.add_pool(pool).unwrap();
    let block = ARENA.allocate(layout).unwrap();
    // SAFETY: allocated just above with this layout.
    unsafe { ARENA.deallocate(block.cast(), layout) };
    assert_eq!(ARENA.stats().live(), 0);
}

/// Critical sections nest, so the lock itself must refuse a second `with`
/// from inside the first rather than hand out a second `&mut` core.
#[cfg(feature = "critical-section")]
#[test]
#[should_panic(expected = "taken again from inside itself")]
fn the_critical_section_lock_refuses_nesting() {
    let lock = <rtarena::CriticalSectionLock as Lock>::INIT;
    lock.with(|| lock.with(|| ()));
}
