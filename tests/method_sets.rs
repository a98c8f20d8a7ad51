//! The methods every core and both wrappers share, called the same way on
//! each: `usable_size` is the length `allocate` (or an in-place resize)
//! returned, and after `reset` the whole pool can be allocated again,
//! `check()` passes and `stats()` shows nothing live.
//!
//! The cores' tests call their inherent methods (no trait in scope, so a
//! core without one of them does not compile); the wrappers' tests run
//! every core through `Arena` and `SyncArena`.

mod common;

use std::alloc::Layout;

use common::{MIRI, PoolBuf};
use rtarena::Stats;

const PAGE: usize = 4096;
const POOL: usize = if MIRI { 32 * 1024 } else { 128 * 1024 };
/// A pool `SmallTlsf` and `SmallHeap` take (up to 64 KiB).
const SMALL: usize = if MIRI { 32 * 1024 } else { 60 * 1024 };

/// Layouts of every kind a core sees: slab classes, TLSF blocks, padded
/// payloads (alignments above the granule).
fn layouts() -> Vec<Layout> {
    let mut layouts = Vec::new();
    let sizes: &[usize] = if MIRI {
        &[1, 8, 24, 48, 100, 1000, 5000]
    } else {
        &[
            1, 7, 8, 9, 16, 24, 40, 64, 72, 100, 130, 256, 300, 500, 1000, 1800, 3000, 5000, 9000,
        ]
    };
    for &size in sizes {
        for align in [1, 8, 16, 64, 256] {
            layouts.push(Layout::from_size_align(size, align).unwrap());
        }
    }
    layouts
}

/// The sequence a fill repeats until its first failure: small and large
/// requests, so that a hybrid heap uses both sides.
const FILL: [(usize, usize); 5] = [(24, 8), (100, 8), (1000, 8), (8, 8), (300, 16)];

/// How a core's memory behaves across `reset`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    /// Over borrowed pools: the capacity never changes.
    Pool,
    /// A slab: its pages go back to the source, and its capacity (the
    /// pages it holds) is what it was when built.
    Pages,
    /// Takes pages as it needs them and keeps them: the capacity stays
    /// what the fill left.
    Growing,
}

impl Kind {
    /// Checks the capacity `reset` left (`after`) against the one when
    /// built and the one after a fill.
    fn check_capacity(self, fresh: usize, filled: usize, after: usize, name: &str) {
        match self {
            Kind::Pool => assert_eq!((filled, after), (fresh, fresh), "{name}"),
            Kind::Pages => assert_eq!(after, fresh, "{name}"),
            // A growing heap's page-table nodes leave with its blocks, and
            // their bytes count in the capacity again.
            Kind::Growing => assert!(after >= filled, "{name}: {after} < {filled}"),
        }
    }

    /// Checks the count of a fill after `reset` against the first one:
    /// the same, as the heap is what it was; a growing core keeps the
    /// pages it took, so it holds at least as much.
    fn check_refill(self, first: usize, again: usize, name: &str) {
        if self == Kind::Growing {
            assert!(again >= first, "{name}: {again} < {first}");
        } else {
            assert_eq!(again, first, "{name}");
        }
    }
}

/// What `reset` must leave: nothing live, the counters restarted.
fn assert_empty_after_reset(stats: Stats) {
    assert_eq!(stats.live(), 0, "{stats:?}");
    assert_eq!(stats.in_use, 0, "{stats:?}");
    assert_eq!(stats.free, stats.capacity, "{stats:?}");
    assert_eq!(
        (stats.allocations, stats.deallocations, stats.failures),
        (0, 0, 0),
        "{stats:?}"
    );
}

/// Each core through its own inherent methods.
mod cores {
    use super::*;
    use rtarena::pages::PoolPages;
    use rtarena::{GrowingHeap, GrowingTlsf, Heap, LargeTlsf, Slab, SmallHeap, SmallTlsf, Tlsf};

    /// Runs `$body` with `$core` bound to each core over a fresh pool, and
    /// `$kind` to its [`Kind`].
    macro_rules! for_each_core {
        (|$core:ident, $name:ident, $kind:ident| $body:block) => {{
            let mut buf = PoolBuf::with_align(POOL, PAGE);
            {
                let $name = "Tlsf";
                let $kind = Kind::Pool;
                let mut $core = Tlsf::new(buf.slice()).unwrap();
                $body
            }
            {
                let $name = "SmallTlsf";
                let $kind = Kind::Pool;
                let mut $core = SmallTlsf::new(&mut buf.slice()[..SMALL]).unwrap();
                $body
            }
            {
                let $name = "LargeTlsf";
                let $kind = Kind::Pool;
                let mut $core = LargeTlsf::new(buf.slice()).unwrap();
                $body
            }
            {
                let $name = "Heap";
                let $kind = Kind::Pool;
                let mut $core = Heap::new(buf.slice()).unwrap();
                $body
            }
            {
                let $name = "SmallHeap";
                let $kind = Kind::Pool;
                let mut $core = SmallHeap::new(&mut buf.slice()[..SMALL]).unwrap();
                $body
            }
            {
                let $name = "Slab";
                let $kind = Kind::Pages;
                let mut $core = Slab::new(PoolPages::new(buf.slice(), PAGE).unwrap()).unwrap();
                $body
            }
            {
                let $name = "GrowingTlsf";
                let $kind = Kind::Growing;
                let mut $core = GrowingTlsf::new(PoolPages::new(buf.slice(), PAGE).unwrap());
                $body
            }
            {
                let $name = "GrowingHeap";
                let $kind = Kind::Growing;
                let mut $core: GrowingHeap<_> =
                    GrowingHeap::new(PoolPages::new(buf.slice(), PAGE).unwrap());
                $body
            }
        }};
    }

    #[test]
    fn usable_size_is_the_allocated_length_on_every_core() {
        for_each_core!(|core, name, _kind| {
            let mut live = Vec::new();
            for layout in layouts() {
                let Ok(block) = core.allocate(layout) else {
                    continue;
                };
                let ptr = block.cast::<u8>();
                // SAFETY: live with `layout`, and with any size up to its
                // length (the `Allocator` fit rule).
                unsafe {
                    assert_eq!(
                        core.usable_size(ptr, layout),
                        block.len(),
                        "{name} {layout:?}"
                    );
                    let whole = Layout::from_size_align(block.len(), layout.align()).unwrap();
                    assert_eq!(
                        core.usable_size(ptr, whole),
                        block.len(),
                        "{name} {whole:?}"
                    );
                }
                live.push((ptr, layout, block.len()));
            }
            assert!(live.len() > 20, "{name}: only {} blocks", live.len());
            // In-place resizes: the new length is the usable size.
            for (ptr, layout, len) in &mut live {
                let bigger = Layout::from_size_align(*len + 1, layout.align()).unwrap();
                // SAFETY: live with `layout`; on `Ok`, live with `bigger`.
                if let Ok(grown) = unsafe { core.grow_in_place(*ptr, *layout, bigger) } {
                    assert_eq!(grown.cast::<u8>(), *ptr, "{name}");
                    (*layout, *len) = (bigger, grown.len());
                    // SAFETY: live with `bigger`.
                    assert_eq!(unsafe { core.usable_size(*ptr, bigger) }, *len, "{name}");
                }
                let smaller =
                    Layout::from_size_align(layout.size().div_ceil(2), layout.align()).unwrap();
                // SAFETY: live with `layout`; on `Ok`, live with `smaller`.
                if let Ok(shrunk) = unsafe { core.shrink_in_place(*ptr, *layout, smaller) } {
                    assert_eq!(shrunk.cast::<u8>(), *ptr, "{name}");
                    (*layout, *len) = (smaller, shrunk.len());
                    // SAFETY: live with `smaller`.
                    assert_eq!(unsafe { core.usable_size(*ptr, smaller) }, *len, "{name}");
                }
            }
            core.check().unwrap();
            // A zero-size block has no usable byte.
            let zero = Layout::from_size_align(0, 64).unwrap();
            let empty = core.allocate(zero).unwrap();
            // SAFETY: "live" with the zero-size layout.
            assert_eq!(unsafe { core.usable_size(empty.cast(), zero) }, 0, "{name}");
            for (ptr, layout, _) in live {
                // SAFETY: live with `layout`.
                unsafe { core.deallocate(ptr, layout) };
            }
            core.check().unwrap();
            assert_eq!(core.stats().live(), 0, "{name}");
        });
    }

    /// Allocates `FILL` round and round until the first failure; returns
    /// how many succeeded.
    macro_rules! fill {
        ($core:ident) => {{
            let mut count = 0usize;
            'fill: loop {
                for (size, align) in FILL {
                    let layout = Layout::from_size_align(size, align).unwrap();
                    if $core.allocate(layout).is_err() {
                        break 'fill;
                    }
                    count += 1;
                }
            }
            count
        }};
    }

    #[test]
    fn reset_frees_the_whole_pool_on_every_core() {
        for_each_core!(|core, name, kind| {
            let fresh = core.stats();
            let first = fill!(core);
            assert!(first > 20, "{name}: only {first} allocations");
            let filled = core.stats().capacity;
            core.reset();
            core.check().unwrap();
            let after = core.stats();
            assert_empty_after_reset(after);
            kind.check_capacity(fresh.capacity, filled, after.capacity, name);
            let second = fill!(core);
            kind.check_refill(first, second, name);
            core.reset();
            core.check().unwrap();
            assert_eq!(core.stats(), after, "{name}");
            assert_eq!(fill!(core), second, "{name}");
            core.reset();
            // With nothing live, a TLSF's one pool is one free block again.
            let stats = core.stats();
            if name.ends_with("Tlsf") {
                assert_eq!(stats.largest_free, stats.free, "{name} {stats:?}");
            }
        });
    }
}

/// Every core through both wrappers, generic over `RawHeap`.
#[cfg(feature = "sync")]
mod wrappers {
    use std::ptr::NonNull;

    use super::*;
    #[cfg(feature = "allocator-api2")]
    use allocator_api2::{boxed::Box, vec::Vec as AVec};
    use rtarena::GrowingTlsf;
    use rtarena::pages::PoolPages;
    use rtarena::raw::RawHeap;
    use rtarena::{Arena, GrowingHeap, Heap, Slab, SmallHeap, SmallTlsf, SyncArena, Tlsf};

    type Spin = spin::Mutex<()>;

    /// The arena methods both tests use, for either wrapper.
    trait Wrapper {
        fn allocate(&self, layout: Layout) -> Result<NonNull<[u8]>, rtarena::AllocError>;
        unsafe fn usable_size(&self, ptr: NonNull<u8>, layout: Layout) -> usize;
        unsafe fn grow(
            &self,
            ptr: NonNull<u8>,
            old: Layout,
            new: Layout,
        ) -> Result<NonNull<[u8]>, rtarena::AllocError>;
        unsafe fn deallocate(&self, ptr: NonNull<u8>, layout: Layout);
        fn reset(&mut self);
        fn stats(&self) -> Stats;
        fn check(&self) -> Result<(), rtarena::CheckError>;
    }

    macro_rules! wrapper {
        ($W:ty, [$($g:tt)*]) => {
            impl<$($g)*> Wrapper for $W {
                fn allocate(&self, layout: Layout) -> Result<NonNull<[u8]>, rtarena::AllocError> {
                    <$W>::allocate(self, layout)
                }
                unsafe fn usable_size(&self, ptr: NonNull<u8>, layout: Layout) -> usize {
                    // SAFETY: forwarded.
                    unsafe { <$W>::usable_size(self, ptr, layout) }
                }
                unsafe fn grow(
                    &self,
                    ptr: NonNull<u8>,
                    old: Layout,
                    new: Layout,
                ) -> Result<NonNull<[u8]>, rtarena::AllocError> {
                    // SAFETY: forwarded.
                    unsafe { <$W>::grow(self, ptr, old, new) }
                }
                unsafe fn deallocate(&self, ptr: NonNull<u8>, layout: Layout) {
                    // SAFETY: forwarded.
                    unsafe { <$W>::deallocate(self, ptr, layout) }
                }
                fn reset(&mut self) {
                    <$W>::reset(self)
                }
                fn stats(&self) -> Stats {
                    <$W>::stats(self)
                }
                fn check(&self) -> Result<(), rtarena::CheckError> {
                    <$W>::check(self)
                }
            }
        };
    }
    wrapper!(Arena<C>, [C: RawHeap]);
    wrapper!(SyncArena<C, Spin>, [C: RawHeap]);

    /// `usable_size` through the wrapper is the allocated length, also
    /// after a grow that may move the block.
    fn usable_sizes<W: Wrapper>(arena: &W, name: &str) {
        let mut live = Vec::new();
        for layout in layouts() {
            let Ok(block) = arena.allocate(layout) else {
                continue;
            };
            // SAFETY: live with `layout`.
            let usable = unsafe { arena.usable_size(block.cast(), layout) };
            assert_eq!(usable, block.len(), "{name} {layout:?}");
            live.push((block.cast::<u8>(), layout));
        }
        assert!(live.len() > 20, "{name}: only {} blocks", live.len());
        for (ptr, layout) in &mut live {
            let bigger = Layout::from_size_align(layout.size() * 3, layout.align()).unwrap();
            // SAFETY: live with `layout`; on `Ok`, the block is live with
            // `bigger` at the returned address.
            if let Ok(grown) = unsafe { arena.grow(*ptr, *layout, bigger) } {
                (*ptr, *layout) = (grown.cast(), bigger);
                // SAFETY: live with `bigger`.
                let usable = unsafe { arena.usable_size(*ptr, bigger) };
                assert_eq!(usable, grown.len(), "{name} {bigger:?}");
            }
        }
        arena.check().unwrap();
        for (ptr, layout) in live {
            // SAFETY: live with `layout`.
            unsafe { arena.deallocate(ptr, layout) };
        }
        assert_eq!(arena.stats().live(), 0, "{name}");
    }

    /// Allocates `FILL` round and round, freeing nothing, until the first
    /// failure; returns how many succeeded.
    fn fill<W: Wrapper>(arena: &W) -> usize {
        let mut count = 0usize;
        loop {
            for (size, align) in FILL {
                let layout = Layout::from_size_align(size, align).unwrap();
                if arena.allocate(layout).is_err() {
                    return count;
                }
                count += 1;
            }
        }
    }

    /// After `reset` through the wrapper, the whole pool can be allocated
    /// again, `check()` passes and `stats()` shows nothing live.
    fn resets<W: Wrapper>(mut arena: W, name: &str, kind: Kind) {
        let fresh = arena.stats();
        let first = fill(&arena);
        assert!(first > 20, "{name}: only {first} allocations");
        let filled = arena.stats().capacity;
        arena.reset();
        arena.check().unwrap();
        let after = arena.stats();
        assert_empty_after_reset(after);
        kind.check_capacity(fresh.capacity, filled, after.capacity, name);
        let second = fill(&arena);
        kind.check_refill(first, second, name);
        arena.reset();
        arena.check().unwrap();
        assert_eq!(arena.stats(), after, "{name}");
        assert_eq!(fill(&arena), second, "{name}");
    }

    /// Runs `$test(arena, name, kind)` for every core in both wrappers.
    macro_rules! for_each_wrapped_core {
        ($test:ident) => {{
            let mut buf = PoolBuf::with_align(POOL, PAGE);
            $test(
                Arena::new(Tlsf::new(buf.slice()).unwrap()),
                "Arena<Tlsf>",
                Kind::Pool,
            );
            $test(
                SyncArena::<_, Spin>::new(Tlsf::new(buf.slice()).unwrap()),
                "SyncArena<Tlsf>",
                Kind::Pool,
            );
            $test(
                Arena::new(SmallTlsf::new(&mut buf.slice()[..SMALL]).unwrap()),
                "Arena<SmallTlsf>",
                Kind::Pool,
            );
            $test(
                Arena::new(Heap::new(buf.slice()).unwrap()),
                "Arena<Heap>",
                Kind::Pool,
            );
            $test(
                SyncArena::<_, Spin>::new(Heap::new(buf.slice()).unwrap()),
                "SyncArena<Heap>",
                Kind::Pool,
            );
            $test(
                SyncArena::<_, Spin>::new(SmallHeap::new(&mut buf.slice()[..SMALL]).unwrap()),
                "SyncArena<SmallHeap>",
                Kind::Pool,
            );
            $test(
                Arena::new(Slab::new(PoolPages::new(buf.slice(), PAGE).unwrap()).unwrap()),
                "Arena<Slab>",
                Kind::Pages,
            );
            $test(
                SyncArena::<_, Spin>::new(
                    Slab::new(PoolPages::new(buf.slice(), PAGE).unwrap()).unwrap(),
                ),
                "SyncArena<Slab>",
                Kind::Pages,
            );
            $test(
                Arena::new(GrowingTlsf::new(PoolPages::new(buf.slice(), PAGE).unwrap())),
                "Arena<GrowingTlsf>",
                Kind::Growing,
            );
            $test(
                SyncArena::<_, Spin>::new(GrowingHeap::<_>::new(
                    PoolPages::new(buf.slice(), PAGE).unwrap(),
                )),
                "SyncArena<GrowingHeap>",
                Kind::Growing,
            );
            // A core built in place, held as `&mut`: `reset` goes through
            // the reference to the core.
            let mut place = std::mem::MaybeUninit::uninit();
            let heap = Heap::new_in_place(&mut place, buf.slice()).unwrap();
            $test(Arena::new(heap), "Arena<&mut Heap>", Kind::Pool);
        }};
    }

    #[test]
    fn usable_size_is_the_allocated_length_through_both_wrappers() {
        fn test<W: Wrapper>(arena: W, name: &str, _kind: Kind) {
            usable_sizes(&arena, name);
        }
        for_each_wrapped_core!(test);
    }

    #[test]
    fn reset_through_both_wrappers_frees_the_whole_pool() {
        for_each_wrapped_core!(resets);
    }

    /// Collections that were forgotten rather than dropped: `reset` takes
    /// their memory back, once no collection borrows the arena.
    #[cfg(feature = "allocator-api2")]
    #[test]
    fn reset_takes_back_forgotten_collections() {
        let mut buf = PoolBuf::with_align(POOL, PAGE);
        let mut arena = Arena::new(Heap::new(buf.slice()).unwrap());
        let capacity = arena.stats().capacity;
        for round in 0..4u32 {
            let mut v = AVec::new_in(&arena);
            v.extend(0..1000 * (round + 1));
            let b = Box::new_in([round; 10], &arena);
            assert_eq!(arena.stats().live(), 2);
            std::mem::forget((v, b));
            arena.reset();
            arena.check().unwrap();
            assert_empty_after_reset(arena.stats());
            assert_eq!(arena.stats().capacity, capacity);
        }
    }
}
