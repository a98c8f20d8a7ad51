//! Cores built in place (`new_in_place` and its variants) and used through
//! an `Arena` over `&mut` the core, so that the core stays where it was
//! built: each gives the heap its by-value constructor gives, an error
//! leaves the place free for another try, a slab built in place gives its
//! pages back when the caller drops it, and a slab build that fails or
//! panics drops its source once.

#![cfg(feature = "allocator-api2")]

mod common;

use std::alloc::Layout;
use std::cell::Cell;
use std::fmt::Debug;
use std::mem::MaybeUninit;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr::NonNull;

use allocator_api2::boxed::Box;
use allocator_api2::vec::Vec;
use rtarena::pages::{PageSource, PoolPages};
use rtarena::raw::RawHeap;
use rtarena::{AllocError, Arena, Heap, PoolError, Slab, SmallHeap, SmallTlsf, Stats, Tlsf};

use common::PoolBuf;

const PAGE: usize = 4096;
const POOL: usize = 64 * 1024;

/// Uses `core` through an `Arena` over `&mut core`: small boxes and a
/// vector that grows by moving, contents checked, then all freed; then
/// over-aligned blocks. Returns the stats while the boxes and the vector
/// were live, and for each over-aligned block whether it was served, and
/// where in its pool (all pools are 4096-aligned).
fn exercise<C: RawHeap>(core: &mut C) -> (Stats, std::vec::Vec<Option<usize>>) {
    let arena = Arena::new(core);
    let boxes: std::vec::Vec<_> = (0..40u64).map(|i| Box::new_in(i, &arena)).collect();
    let mut bytes = Vec::new_in(&arena);
    for i in 0..300u32 {
        bytes.push(i as u8);
    }
    assert!(boxes.iter().zip(0..).all(|(b, i)| **b == i));
    assert!(bytes.iter().zip(0..).all(|(&b, i)| b == i as u8));
    arena.check().unwrap();
    let live = arena.stats();
    assert_eq!(live.live(), 41);
    drop((boxes, bytes));
    assert_eq!(arena.stats().live(), 0);
    arena.check().unwrap();
    // Alignments up to every page size the cores below use (512 and 1024
    // for the heaps, `PAGE` for the slabs), served or not.
    let layouts = [64, 512, 1024, PAGE].map(|align| Layout::from_size_align(align, align).unwrap());
    let blocks = layouts.map(|layout| arena.allocate(layout).ok());
    arena.check().unwrap();
    let placed = (blocks.iter().zip(&layouts))
        .map(|(block, layout)| {
            let addr = block.map(|block| block.cast::<u8>().as_ptr().addr());
            assert!(addr.is_none_or(|addr| addr % layout.align() == 0));
            addr.map(|addr| addr % PAGE)
        })
        .collect();
    for (block, layout) in blocks.into_iter().zip(layouts) {
        if let Some(block) = block {
            // SAFETY: allocated above with `layout`, not freed since.
            unsafe { arena.deallocate(block.cast(), layout) };
        }
    }
    assert_eq!(arena.stats().live(), 0);
    arena.check().unwrap();
    (live, placed)
}

/// Builds the same core by value and in place (over equal, equally aligned
/// pools) and checks that the two agree before, during and after use.
fn same<C: RawHeap + Debug>(mut by_value: C, in_place: &mut C) {
    assert_eq!(format!("{by_value:?}"), format!("{in_place:?}"));
    assert_eq!(by_value.stats(), in_place.stats());
    assert_eq!(exercise(&mut by_value), exercise(in_place));
    assert_eq!(by_value.stats(), in_place.stats());
    let classes = |core: &C| {
        (0..)
            .map_while(|c| core.class_stats(c))
            .collect::<std::vec::Vec<_>>()
    };
    assert_eq!(classes(&by_value), classes(in_place));
    // And through `&mut C`'s forwarding and an `Arena<&mut C>`.
    let forwarded = (0..)
        .map_while(|c| <&mut C as RawHeap>::class_stats(&in_place, c))
        .collect::<std::vec::Vec<_>>();
    assert_eq!(forwarded, classes(in_place));
    let arena = Arena::new(&mut *in_place);
    let through_arena = (0..)
        .map_while(|c| arena.class_stats(c))
        .collect::<std::vec::Vec<_>>();
    assert_eq!(through_arena, forwarded);
}

/// A `PoolPages` that counts the pages it has out and its own drops, and
/// may report a wrong page size (a contract violation a slab reports) or
/// panic when asked for its reserved tail.
struct Counted<'a> {
    pages: PoolPages<'a>,
    out: &'a Cell<usize>,
    drops: &'a Cell<usize>,
    page_size: usize,
    tail_panics: bool,
}

impl<'a> Counted<'a> {
    fn new(pages: PoolPages<'a>, out: &'a Cell<usize>, drops: &'a Cell<usize>) -> Self {
        let page_size = pages.page_size();
        Counted {
            pages,
            out,
            drops,
            page_size,
            tail_panics: false,
        }
    }
}

impl Drop for Counted<'_> {
    fn drop(&mut self) {
        self.drops.set(self.drops.get() + 1);
    }
}

// SAFETY: forwards to a `PoolPages` (the wrong page size is reported, never
// used: a slab rejects it before taking a page).
unsafe impl PageSource for Counted<'_> {
    fn page_size(&self) -> usize {
        self.page_size
    }

    fn reserved_tail(&self) -> usize {
        assert!(!self.tail_panics, "reserved_tail panics");
        self.pages.reserved_tail()
    }

    fn allocate_page(&mut self) -> Result<NonNull<u8>, AllocError> {
        let page = self.pages.allocate_page()?;
        self.out.set(self.out.get() + 1);
        Ok(page)
    }

    unsafe fn deallocate_page(&mut self, page: NonNull<u8>) {
        self.out.set(self.out.get() - 1);
        // SAFETY: forwarded from the caller.
        unsafe { self.pages.deallocate_page(page) }
    }

    fn page_containing(&self, addr: usize) -> Option<NonNull<u8>> {
        self.pages.page_containing(addr)
    }
}

#[test]
fn a_slab_built_in_place_is_the_slab_new_gives() {
    let (mut a, mut b) = (PoolBuf::new(16 * PAGE), PoolBuf::new(16 * PAGE));
    let by_value = Slab::new(PoolPages::new(a.slice(), PAGE).unwrap()).unwrap();
    let mut place = MaybeUninit::uninit();
    let in_place =
        Slab::new_in_place(&mut place, PoolPages::new(b.slice(), PAGE).unwrap()).unwrap();
    assert_eq!(in_place.max_class(), 1792);
    same(by_value, in_place);
    // SAFETY: built above, and nothing borrows it any more.
    unsafe { place.assume_init_drop() };
}

#[test]
fn a_slab_with_max_class_built_in_place_is_the_one_with_max_class_gives() {
    let (mut a, mut b) = (PoolBuf::new(16 * PAGE), PoolBuf::new(16 * PAGE));
    let by_value = Slab::with_max_class(PoolPages::new(a.slice(), PAGE).unwrap(), 512).unwrap();
    let mut place = MaybeUninit::uninit();
    let pages = PoolPages::new(b.slice(), PAGE).unwrap();
    let in_place = Slab::with_max_class_in_place(&mut place, pages, 512).unwrap();
    assert_eq!(in_place.max_class(), 512);
    same(by_value, in_place);
    // SAFETY: built above, and nothing borrows it any more.
    unsafe { place.assume_init_drop() };
}

#[test]
fn a_slab_built_in_place_gives_its_pages_back_when_dropped() {
    let mut buf = PoolBuf::new(16 * PAGE);
    let (out, drops) = (Cell::new(0), Cell::new(0));
    let source = Counted::new(PoolPages::new(buf.slice(), PAGE).unwrap(), &out, &drops);
    let mut place = MaybeUninit::uninit();
    let slab = Slab::new_in_place(&mut place, source).unwrap();
    let arena = Arena::new(slab);
    let small = (Box::new_in(1u8, &arena), Box::new_in(2u8, &arena));
    let large = Box::new_in([3u8; 1000], &arena);
    assert_eq!(out.get(), 2);
    // Leaked: the drop below gives the pages back all the same.
    std::mem::forget((small, large));
    assert_eq!(drops.get(), 0, "the place is never dropped by itself");
    // SAFETY: built above; the leaked boxes are never used again.
    unsafe { place.assume_init_drop() };
    assert_eq!((out.get(), drops.get()), (0, 1));
}

#[test]
fn a_slab_error_drops_the_source_and_leaves_the_place_reusable() {
    // The place's type holds the pools' borrow: each try takes a pool of
    // its own.
    let mut bufs: [_; 5] = std::array::from_fn(|_| PoolBuf::new(16 * PAGE));
    let [bufs @ .., good] = &mut bufs;
    let (out, drops) = (Cell::new(0), Cell::new(0));
    let mut place = MaybeUninit::uninit();
    for (size, buf) in [0, 1000, 256, 4 << 20].into_iter().zip(bufs) {
        let mut source = Counted::new(PoolPages::new(buf.slice(), PAGE).unwrap(), &out, &drops);
        source.page_size = size;
        assert!(matches!(
            Slab::new_in_place(&mut place, source),
            Err(PoolError::PageSize { size: s, .. }) if s == size
        ));
    }
    assert_eq!((out.get(), drops.get()), (0, 4));
    let source = Counted::new(PoolPages::new(good.slice(), PAGE).unwrap(), &out, &drops);
    let slab = Slab::new_in_place(&mut place, source).unwrap();
    exercise(slab);
    // SAFETY: built above, and nothing borrows it any more.
    unsafe { place.assume_init_drop() };
    assert_eq!((out.get(), drops.get()), (0, 5));
}

#[test]
fn a_slab_new_error_drops_the_source_once() {
    let mut buf = PoolBuf::new(16 * PAGE);
    let (out, drops) = (Cell::new(0), Cell::new(0));
    let mut source = Counted::new(PoolPages::new(buf.slice(), PAGE).unwrap(), &out, &drops);
    source.page_size = 1000;
    assert!(matches!(
        Slab::new(source),
        Err(PoolError::PageSize { size: 1000, .. })
    ));
    assert_eq!((out.get(), drops.get()), (0, 1));
}

#[test]
fn a_panic_while_building_a_slab_drops_the_source() {
    let (mut a, mut b) = (PoolBuf::new(16 * PAGE), PoolBuf::new(16 * PAGE));
    let (out, drops) = (Cell::new(0), Cell::new(0));
    let [mut a, mut b] = [a.slice(), b.slice()]
        .map(|pool| Counted::new(PoolPages::new(pool, PAGE).unwrap(), &out, &drops));
    a.tail_panics = true;
    b.tail_panics = true;
    let mut place = MaybeUninit::uninit();
    // `AssertUnwindSafe`: the counters are `Cell`s, read only after.
    let built = catch_unwind(AssertUnwindSafe(|| {
        Slab::new_in_place(&mut place, a).is_ok()
    }));
    assert!(built.is_err());
    assert_eq!((out.get(), drops.get()), (0, 1));
    assert!(catch_unwind(AssertUnwindSafe(|| Slab::new(b).is_ok())).is_err());
    assert_eq!((out.get(), drops.get()), (0, 2));
}

#[test]
fn a_heap_built_in_place_is_the_heap_new_gives() {
    let (mut a, mut b) = (PoolBuf::new(POOL), PoolBuf::new(POOL));
    let by_value = Heap::new(a.slice()).unwrap();
    let mut place = MaybeUninit::uninit();
    let in_place = Heap::new_in_place(&mut place, b.slice()).unwrap();
    assert_eq!(in_place.page_size(), by_value.page_size());
    assert_eq!(in_place.max_class(), by_value.max_class());
    same(by_value, in_place);
}

#[test]
fn a_small_heap_built_in_place_is_the_one_with_page_size_gives() {
    let (mut a, mut b) = (PoolBuf::new(POOL), PoolBuf::new(POOL));
    let by_value = SmallHeap::with_page_size(a.slice(), 1024).unwrap();
    let mut place = MaybeUninit::uninit();
    let in_place = SmallHeap::with_page_size_in_place(&mut place, b.slice(), 1024).unwrap();
    assert_eq!((in_place.page_size(), in_place.max_class()), (1024, 224));
    assert_eq!(in_place.max_class(), by_value.max_class());
    same(by_value, in_place);
}

#[test]
fn a_tlsf_built_in_place_is_the_tlsf_new_gives() {
    let (mut a, mut b) = (PoolBuf::new(POOL), PoolBuf::new(POOL));
    let mut place = MaybeUninit::uninit();
    let in_place = Tlsf::new_in_place(&mut place, b.slice()).unwrap();
    same(Tlsf::new(a.slice()).unwrap(), in_place);
}

#[test]
fn errors_leave_the_place_reusable() {
    // As above, each try takes a pool of its own.
    let mut bufs: [_; 7] = std::array::from_fn(|_| PoolBuf::new(POOL));
    let [tiny, bufs @ .., good, same_size] = &mut bufs;
    let mut place = MaybeUninit::uninit();
    assert!(matches!(
        SmallHeap::new_in_place(&mut place, &mut tiny.slice()[..8]),
        Err(PoolError::TooSmall { .. })
    ));
    for (size, buf) in [0, 1000, 256, 4 << 20].into_iter().zip(bufs) {
        assert!(matches!(
            SmallHeap::with_page_size_in_place(&mut place, buf.slice(), size),
            Err(PoolError::PageSize { size: s, .. }) if s == size
        ));
    }
    let heap = SmallHeap::new_in_place(&mut place, good.slice()).unwrap();
    same(SmallHeap::new(same_size.slice()).unwrap(), heap);

    let (mut tiny, mut good, mut same_size) =
        (PoolBuf::new(64), PoolBuf::new(POOL), PoolBuf::new(POOL));
    let mut place = MaybeUninit::uninit();
    assert!(matches!(
        SmallTlsf::new_in_place(&mut place, &mut tiny.slice()[..8]),
        Err(PoolError::TooSmall { .. })
    ));
    let tlsf = SmallTlsf::new_in_place(&mut place, good.slice()).unwrap();
    same(SmallTlsf::new(same_size.slice()).unwrap(), tlsf);
}

/// A `SyncArena` over `&mut` a heap built in place, shared by two threads.
#[cfg(feature = "sync")]
#[test]
fn a_sync_arena_over_a_heap_built_in_place() {
    use rtarena::SyncArena;

    let mut buf = PoolBuf::new(POOL);
    let mut place = MaybeUninit::uninit();
    let heap = Heap::new_in_place(&mut place, buf.slice()).unwrap();
    let arena: SyncArena<&mut Heap, spin::Mutex<()>> = SyncArena::new(heap);
    std::thread::scope(|s| {
        for t in 0..2u64 {
            let arena = &arena;
            s.spawn(move || {
                let boxes: std::vec::Vec<_> =
                    (0..20).map(|i| Box::new_in(t * 100 + i, arena)).collect();
                assert!(boxes.iter().zip(0..).all(|(b, i)| **b == t * 100 + i));
            });
        }
    });
    assert_eq!(arena.stats().allocations, 40);
    assert_eq!(arena.stats().live(), 0);
    arena.check().unwrap();
}
