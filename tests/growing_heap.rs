//! `GrowingHeap` over pool pages: differential runs against the shadow
//! model (contents, no overlap, alignment, `check()` after every step),
//! growth, reset, the promises of `Heap` (no false out-of-memory), and
//! failures only when the source is out of pages and no block holds the
//! request. Runs under Miri (`--test growing_heap`).

#![cfg(feature = "allocator-api2")]

mod common;

use std::alloc::Layout;
use std::cell::Cell;
use std::mem::MaybeUninit;
use std::ptr::NonNull;

use rtarena::pages::{PageSource, PoolPages};
use rtarena::tlsf::config::{GRANULE, POOL_OVERHEAD};
use rtarena::{AllocError, Arena, GrowingHeap};

use common::{MIRI, OpParams, PoolBuf, Tally, single_pool_cases, slab_harness};

/// Cases per test, and operations per case.
const CASES: u32 = if MIRI { 3 } else { 128 };
const OPS: usize = if MIRI { 40 } else { 300 };

/// Largest pool (random sizes below it).
const POOL: usize = if MIRI { 24 << 10 } else { 512 << 10 };

/// A page source that counts the pages out of it, so that a test can see
/// them all come back when the heap drops.
struct Counted<'c, S> {
    inner: S,
    out: &'c Cell<usize>,
}

// SAFETY: every method forwards to `inner`, a page source; counting changes
// nothing it returns.
unsafe impl<S: PageSource> PageSource for Counted<'_, S> {
    fn page_size(&self) -> usize {
        self.inner.page_size()
    }

    fn page_align(&self) -> usize {
        self.inner.page_align()
    }

    fn allocate_page(&mut self) -> Result<NonNull<u8>, AllocError> {
        let page = self.inner.allocate_page()?;
        self.out.set(self.out.get() + 1);
        Ok(page)
    }

    fn allocate_pages(&mut self, count: usize) -> Result<NonNull<u8>, AllocError> {
        let run = self.inner.allocate_pages(count)?;
        self.out.set(self.out.get() + count);
        Ok(run)
    }

    unsafe fn deallocate_page(&mut self, page: NonNull<u8>) {
        self.out.set(self.out.get() - 1);
        // SAFETY: forwarded.
        unsafe { self.inner.deallocate_page(page) }
    }

    fn page_containing(&self, addr: usize) -> Option<NonNull<u8>> {
        self.inner.page_containing(addr)
    }

    fn reserved_tail(&self) -> usize {
        self.inner.reserved_tail()
    }

    fn pages_left(&self) -> Option<usize> {
        self.inner.pages_left()
    }

    fn pages_merge(&self) -> bool {
        self.inner.pages_merge()
    }
}

/// The generic run over a heap that starts empty and grows from pool pages
/// (which merge into one pool as they come), twice, with a reset between:
/// the second run takes no new page for what the first already held, and
/// dropping the heap gives every page back.
fn grow_run_reset<const PAGE: usize>(
    pool: &mut [MaybeUninit<u8>],
    ops: &[common::Op],
    source_page: usize,
) -> Tally {
    let out = Cell::new(0);
    let pages = PoolPages::new(pool, source_page).unwrap();
    let total = pages.pages();
    let source = Counted {
        inner: pages,
        out: &out,
    };
    let mut arena = Arena::new(GrowingHeap::<_, PAGE>::new(source));
    assert_eq!(arena.stats().capacity, 0);
    let (_, mut t) = slab_harness().run(&arena, ops);
    let held = out.get();
    assert!(held <= total);
    arena.get_mut().reset();
    arena.check().unwrap();
    let after_reset = arena.stats();
    assert_eq!(after_reset.live(), 0, "{after_reset:?}");
    assert_eq!(after_reset.in_use, 0, "{after_reset:?}");
    if held > 0 {
        // One pool, as the pages merged; a reset keeps it.
        assert_eq!(after_reset.capacity, held * source_page - POOL_OVERHEAD);
        assert_eq!(after_reset.largest_free, after_reset.capacity);
    }
    let (end, t2) = slab_harness().run(&arena, ops);
    t.add(&t2);
    assert_eq!(end.live(), 0);
    assert!(
        out.get() == held || held == total || out.get() <= total,
        "the replay took pages past the source"
    );
    drop(arena);
    assert_eq!(out.get(), 0, "dropping the heap gives every page back");
    t
}

fn assert_exercised(name: &str, t: &Tally) {
    println!("{name}: {t:?}");
    if MIRI {
        return;
    }
    assert!(t.allocs > 1000 && t.frees > 1000, "{name}: {t:?}");
    assert!(
        t.grows_in_place > 0 && t.shrinks_in_place > 0,
        "{name}: {t:?}"
    );
    assert!(t.failures > 0, "{name}: no allocation ever failed: {t:?}");
}

#[test]
fn differential_4k_pages() {
    let t = single_pool_cases(
        CASES,
        (POOL / 8).max(3 * 4096),
        POOL.max(4 * 4096),
        OPS,
        OpParams::DEFAULT,
        |pool, ops| grow_run_reset::<4096>(pool, ops, 4096),
    );
    assert_exercised("GrowingHeap, 4 KiB pages", &t);
}

/// Microcontroller-sized: 512-byte slab pages, the source's pages too,
/// where pages, tables and large blocks compete for little memory.
#[test]
fn differential_512_byte_pages() {
    let max = if MIRI { 16 << 10 } else { 64 << 10 };
    let params = OpParams {
        max_size: if MIRI { 1024 } else { 8192 },
        ..OpParams::DEFAULT
    };
    let t = single_pool_cases(CASES, max / 4, max, OPS, params, |pool, ops| {
        grow_run_reset::<512>(pool, ops, 512)
    });
    assert_exercised("GrowingHeap, 512-byte pages", &t);
}

/// Slab pages larger than the source's: a page take grows by a run of
/// several source pages.
#[test]
fn differential_slab_pages_span_source_pages() {
    let max = if MIRI { 24 << 10 } else { 256 << 10 };
    let t = single_pool_cases(CASES, max / 2, max, OPS, OpParams::DEFAULT, |pool, ops| {
        grow_run_reset::<8192>(pool, ops, 1024)
    });
    assert_exercised("GrowingHeap, 8 KiB pages over 1 KiB", &t);
}

/// Small objects and large blocks, many live at once; every failure comes
/// when the source is out of pages and no free block holds the request.
#[test]
fn fails_only_when_the_source_is_out() {
    let len = if MIRI { 64 << 10 } else { 1 << 20 };
    let mut buf = PoolBuf::new(len);
    let pages = PoolPages::new(buf.slice(), 4096).unwrap();
    let mut heap: GrowingHeap<_> = GrowingHeap::new(pages);
    let mut live = Vec::new();
    let mut failures = 0;
    let sizes = [8usize, 24, 100, 700, 3000, 20_000, 64, 16];
    for i in 0..if MIRI { 300 } else { 5000 } {
        let size = sizes[i % sizes.len()];
        let layout = Layout::from_size_align(size, 8).unwrap();
        match heap.allocate(layout) {
            Ok(block) => {
                // SAFETY: the block is ours, at least `size` bytes.
                unsafe { block.cast::<u8>().write_bytes(i as u8, size) };
                live.push((block.cast::<u8>(), layout, i as u8));
            }
            Err(AllocError) => {
                failures += 1;
                let stats = heap.stats();
                let left = heap.source().pages_left().unwrap();
                let need = size + GRANULE + rtarena::tlsf::config::MIN_BLOCK + POOL_OVERHEAD;
                assert!(
                    left * 4096 < need,
                    "a failure with {left} pages left for {size} bytes"
                );
                assert!(stats.largest_free < size + 2 * GRANULE, "{stats:?}");
                // Free a third, so that the run goes on.
                for (ptr, layout, tag) in live.drain(..live.len() / 3) {
                    // SAFETY: allocated above with this layout, freed once.
                    unsafe {
                        assert_eq!(ptr.read(), tag);
                        heap.deallocate(ptr, layout);
                    }
                }
            }
        }
        if i % 64 == 0 {
            heap.check().unwrap();
        }
    }
    assert!(failures > 0, "the source never ran out");
    for (ptr, layout, tag) in live {
        // SAFETY: as above.
        unsafe {
            assert_eq!(ptr.read(), tag);
            heap.deallocate(ptr, layout);
        }
    }
    heap.check().unwrap();
    assert_eq!(heap.stats().live(), 0);
}

/// A small request whose class can get no page (the source is out, and no
/// free block holds a page) is served by the TLSF, from a hole smaller than
/// a page; freeing it finds it the TLSF's.
#[test]
fn small_request_without_a_page_takes_a_tlsf_block() {
    let mut buf = PoolBuf::new(64 << 10);
    let pages = PoolPages::new(buf.slice(), 4096).unwrap();
    let mut heap: GrowingHeap<_> = GrowingHeap::new(pages);
    // Large blocks until the source is out, then one more in what is left.
    let big = Layout::from_size_align(2000, 8).unwrap();
    let mut blocks = Vec::new();
    while let Ok(block) = heap.allocate(big) {
        blocks.push(block.cast::<u8>());
    }
    assert_eq!(heap.source().pages_left(), Some(0));
    // Holes of 2000 bytes, none of which holds a 4 KiB page.
    for block in blocks.iter().step_by(2) {
        // SAFETY: allocated above with `big`.
        unsafe { heap.deallocate(*block, big) };
    }
    heap.check().unwrap();
    let small = Layout::new::<[u64; 4]>();
    let classes_before: u64 = (0..64)
        .filter_map(|c| heap.class_stats(c))
        .map(|c| c.pages as u64)
        .sum();
    let object = heap.allocate(small).expect("no false out-of-memory");
    let classes_after: u64 = (0..64)
        .filter_map(|c| heap.class_stats(c))
        .map(|c| c.pages as u64)
        .sum();
    assert_eq!(classes_before, classes_after, "no page was taken");
    heap.check().unwrap();
    // SAFETY: allocated just above.
    unsafe { heap.deallocate(object.cast(), small) };
    for block in blocks.iter().skip(1).step_by(2) {
        // SAFETY: allocated above with `big`, not freed yet.
        unsafe { heap.deallocate(*block, big) };
    }
    heap.check().unwrap();
    assert_eq!(heap.stats().live(), 0);
}

/// A request larger than any page is served from a run of pages, and the
/// runs merge: one pool, as large as the pages taken.
#[test]
fn any_size_from_merged_runs() {
    let len = if MIRI { 96 << 10 } else { 4 << 20 };
    let mut buf = PoolBuf::new(len);
    let pages = PoolPages::new(buf.slice(), 4096).unwrap();
    let total = pages.pages();
    let mut heap: GrowingHeap<_> = GrowingHeap::new(pages);
    let sizes = if MIRI {
        [10_000, 30_000, 5, 40_000]
    } else {
        [100_000, 1 << 20, 5, 2 << 20]
    };
    let mut live = Vec::new();
    for size in sizes {
        let layout = Layout::from_size_align(size, 64).unwrap();
        let block = heap.allocate(layout).unwrap();
        assert_eq!(block.cast::<u8>().as_ptr() as usize % 64, 0);
        // SAFETY: ours, `size` bytes.
        unsafe { block.cast::<u8>().write_bytes(0xa5, size) };
        live.push((block, layout));
        heap.check().unwrap();
    }
    let in_use = heap.source().pages_in_use();
    assert!(in_use <= total);
    for (block, layout) in live {
        // SAFETY: allocated above with this layout.
        unsafe { heap.deallocate(block.cast(), layout) };
    }
    heap.trim();
    heap.check().unwrap();
    let stats = heap.stats();
    assert_eq!(stats.live(), 0, "{stats:?}");
    assert_eq!(
        heap.source().pages_in_use(),
        in_use,
        "no page went back early"
    );
}

/// Many small objects of every class the slab serves: their pages come from
/// the growing TLSF, their tables' nodes too, and they all free.
#[test]
fn many_small_objects() {
    let len = if MIRI { 256 << 10 } else { 32 << 20 };
    let count = if MIRI { 400 } else { 60_000 };
    let mut buf = PoolBuf::new(len);
    let pages = PoolPages::new(buf.slice(), 4096).unwrap();
    let mut heap: GrowingHeap<_> = GrowingHeap::new(pages);
    let max = heap.max_class();
    assert_eq!(max, 896);
    let mut live = Vec::with_capacity(count);
    for i in 0..count {
        // One in four up to the largest class, the others up to 128 bytes.
        let size = 1 + (i * 37) % if i % 4 == 0 { max } else { 128 };
        let layout = Layout::from_size_align(size, 1).unwrap();
        let object = heap.allocate(layout).unwrap().cast::<u8>();
        // SAFETY: ours.
        unsafe { object.write(i as u8) };
        live.push((object, layout, i as u8));
    }
    heap.check().unwrap();
    let full = heap.stats();
    assert_eq!(full.live(), count as u64);
    assert_eq!(full.failures, 0);
    // Free in an order unlike the allocations': pages empty in the middle.
    live.sort_by_key(|(ptr, _, _)| (ptr.as_ptr() as usize).rotate_left(7));
    for (ptr, layout, tag) in live {
        // SAFETY: allocated above with this layout.
        unsafe {
            assert_eq!(ptr.read(), tag);
            heap.deallocate(ptr, layout);
        }
    }
    heap.check().unwrap();
    assert_eq!(heap.stats().live(), 0);
    assert_eq!(heap.stats().in_use, 0);
}

/// The constructor is `const`: a heap in a `static` (behind a lock, as a
/// global allocator would be) over a `static` region.
#[test]
fn const_constructor_over_a_static_region() {
    use std::cell::UnsafeCell;

    use rtarena::SyncArena;
    use rtarena::pages::RegionPages;

    const LEN: usize = 64 << 10;
    struct Pool(UnsafeCell<[MaybeUninit<u8>; LEN]>);
    // SAFETY: only the heap below touches the pool, through its lock.
    unsafe impl Sync for Pool {}
    static POOL: Pool = Pool(UnsafeCell::new([MaybeUninit::uninit(); LEN]));
    // SAFETY: `POOL` lives forever and nothing but `HEAP` uses it.
    static HEAP: SyncArena<GrowingHeap<RegionPages, 1024>, spin::Mutex<()>> =
        SyncArena::new(GrowingHeap::new(unsafe {
            RegionPages::new(
                std::ptr::slice_from_raw_parts_mut(POOL.0.get().cast(), LEN),
                1024,
            )
        }));

    assert_eq!(HEAP.stats().capacity, 0);
    let small = Layout::new::<[u32; 5]>();
    let large = Layout::new::<[u8; 20_000]>();
    let a = HEAP.allocate(small).unwrap();
    let b = HEAP.allocate(large).unwrap();
    HEAP.check().unwrap();
    assert_eq!(HEAP.stats().live(), 2);
    let slots: usize = (0..64)
        .filter_map(|c| HEAP.class_stats(c))
        .map(|c| c.live)
        .sum();
    assert_eq!(slots, 1, "the small one is a slab slot");
    // SAFETY: allocated just above with these layouts.
    unsafe {
        HEAP.deallocate(a.cast(), small);
        HEAP.deallocate(b.cast(), large);
    }
    HEAP.check().unwrap();
    assert_eq!(HEAP.stats().live(), 0);
}

/// Page tables of several levels: a large block first, so that slab pages
/// land far into the pool (the tree gets taller, with no node yet), then,
/// once it is freed, pages at the pool's start (a new path from the top).
#[test]
fn page_tables_of_several_levels() {
    // 512-byte pages: a leaf covers 128 KiB, two levels 16 MiB.
    let big_len = if MIRI { 1 << 20 } else { 20 << 20 };
    let mut buf = PoolBuf::new(big_len + (2 << 20));
    let pages = PoolPages::new(buf.slice(), 4096).unwrap();
    let mut heap: GrowingHeap<_, 512> = GrowingHeap::new(pages);
    let big = Layout::from_size_align(big_len, 16).unwrap();
    let block = heap.allocate(big).unwrap();
    let small = Layout::new::<[u64; 2]>();
    let count = if MIRI { 100 } else { 5_000 };
    let mut objects: Vec<_> = (0..count)
        .map(|_| heap.allocate(small).unwrap().cast::<u8>())
        .collect();
    assert!(objects[0].as_ptr() as usize > block.cast::<u8>().as_ptr() as usize);
    heap.check().unwrap();
    // SAFETY: allocated above with `big`.
    unsafe { heap.deallocate(block.cast(), big) };
    // Another class, whose pages now take the freed block's front.
    let other = Layout::new::<[u64; 5]>();
    objects.extend((0..count).map(|_| heap.allocate(other).unwrap().cast::<u8>()));
    heap.check().unwrap();
    let (firsts, seconds) = objects.split_at(count);
    for (&ptr, layout) in firsts
        .iter()
        .zip([small].iter().cycle())
        .chain(seconds.iter().zip([other].iter().cycle()))
    {
        // SAFETY: allocated above with this layout.
        unsafe { heap.deallocate(ptr, *layout) };
    }
    heap.check().unwrap();
    assert_eq!(heap.stats().live(), 0);
}

/// A source that forwards to `PoolPages` but keeps the defaults: its pages
/// do not merge, and runs are taken a page at a time.
struct NoMerge<'p>(PoolPages<'p>);

// SAFETY: forwards to a `PoolPages`, whose contract holds; not saying that
// pages merge only asks less of it.
unsafe impl PageSource for NoMerge<'_> {
    fn page_size(&self) -> usize {
        self.0.page_size()
    }
    fn allocate_page(&mut self) -> Result<NonNull<u8>, AllocError> {
        self.0.allocate_page()
    }
    unsafe fn deallocate_page(&mut self, page: NonNull<u8>) {
        // SAFETY: forwarded.
        unsafe { self.0.deallocate_page(page) }
    }
    fn page_containing(&self, addr: usize) -> Option<NonNull<u8>> {
        self.0.page_containing(addr)
    }
    fn pages_left(&self) -> Option<usize> {
        self.0.pages_left()
    }
}

/// A small request whose class can get no page grows the TLSF for itself:
/// over a source whose pages do not merge, a slab page as large as a
/// source page never fits one, yet 8 bytes are served.
#[test]
fn a_small_request_grows_the_heap_where_its_class_cannot() {
    let mut buf = PoolBuf::with_align(64 << 10, 4096);
    let pages = NoMerge(PoolPages::new(buf.slice(), 4096).unwrap());
    let mut heap: GrowingHeap<_, 4096> = GrowingHeap::new(pages);
    let small = Layout::new::<u64>();
    let block = heap.allocate(small).expect("one source page holds 8 bytes");
    assert_eq!(heap.stats().failures, 0);
    // SAFETY: allocated just above.
    unsafe { heap.deallocate(block.cast(), small) };
    heap.check().unwrap();
}

/// The same over merging pages: with one source page left and the TLSF
/// full, a slab page (a block and the pool's overhead: two source pages)
/// cannot be had, but the page left holds a small request.
#[test]
fn a_small_request_takes_the_last_source_page() {
    let mut buf = PoolBuf::with_align(16 * 4096, 4096);
    let mut heap: GrowingHeap<_, 4096> =
        GrowingHeap::new(PoolPages::new(buf.slice(), 4096).unwrap());
    let total = heap.source().pages_left().unwrap();
    heap.grow((total - 1) * 4096 - POOL_OVERHEAD - 4 * GRANULE)
        .unwrap();
    assert_eq!(heap.source().pages_left(), Some(1));
    let fill =
        Layout::from_size_align(heap.stats().largest_free - rtarena::tlsf::config::HEADER, 8)
            .unwrap();
    let filled = heap.allocate(fill).unwrap();
    assert_eq!(heap.source().pages_left(), Some(1), "no growth yet");
    let small = Layout::new::<u64>();
    let block = heap
        .allocate(small)
        .expect("the last source page holds 8 bytes");
    assert_eq!(heap.stats().failures, 0);
    // SAFETY: allocated above with these layouts.
    unsafe {
        heap.deallocate(block.cast(), small);
        heap.deallocate(filled.cast(), fill);
    }
    heap.check().unwrap();
}
