//! Calls that break a heap's contract: what each build does.
//!
//! Release builds refuse what a free's one test shows, counting it in
//! `Stats::bad_frees`, and never hand out a block twice after it; the
//! tests under `cfg(not(debug_assertions))` run with
//! `cargo test --release --test misuse`. Debug builds stop with an rtarena
//! message at the caller's line. Resizes in the wrong direction return
//! `Err` in release builds. `stats()` and `check()` never panic, and
//! `GlobalAlloc` never unwinds.
//!
//! None of these misuses makes the heap touch memory outside its pools or
//! through the caller's pointer, so the tests run under Miri too.

#![cfg(feature = "allocator-api2")]

mod common;

use std::alloc::Layout;

use rtarena::pages::PoolPages;
use rtarena::{Arena, Heap, Slab, Tlsf};

use common::PoolBuf;

const PAGE: usize = 4096;

fn layout(size: usize, align: usize) -> Layout {
    Layout::from_size_align(size, align).unwrap()
}

/// Frees a pointer into a live block (a misuse) whose preceding word, the
/// user's own data, reads as a pad word of odd length: `PAD` (bit 2) and
/// bit 0 set. The heap must refuse it without reading a header at an
/// unaligned address (Miri checks that).
fn free_after_an_odd_pad_word(tlsf: &mut Tlsf) {
    let block = tlsf.allocate(layout(256, 8)).unwrap().cast::<u8>();
    let word = std::mem::size_of::<usize>();
    let interior = 2 * rtarena::tlsf::config::GRANULE;
    // SAFETY: inside the block's 256 bytes: the user's own data.
    unsafe {
        block
            .add(interior - word)
            .cast::<usize>()
            .write(4 | 1 | rtarena::tlsf::config::GRANULE);
    }
    // SAFETY: none: a pointer this heap never returned, the misuse under
    // test.
    unsafe { tlsf.deallocate(block.add(interior), layout(8, 8)) };
}

// ---------------------------------------------------------------------------
// Release builds: refused, counted, nothing handed out twice.
// ---------------------------------------------------------------------------

/// Parks the 64-byte class of `slab` (its active page went back while it
/// holds another, full page), still the class of the latest allocation,
/// and returns the start of its full page: a pointer no free may name.
fn park_the_latest_class(slab: &mut Slab<PoolPages<'_>>) -> std::ptr::NonNull<u8> {
    // Another class keeps the spare page.
    let object = slab.allocate(layout(16, 8)).unwrap().cast::<u8>();
    // SAFETY: allocated just above.
    unsafe { slab.deallocate(object, layout(16, 8)) };
    let l = layout(64, 8);
    let class = (0..).find(|&c| slab.class_stats(c).unwrap().size == 64);
    let per_page = slab.class_stats(class.unwrap()).unwrap().slots_per_page;
    let objects: Vec<_> = (0..per_page + 2)
        .map(|_| slab.allocate(l).unwrap().cast::<u8>())
        .collect();
    // SAFETY: the last two objects, on the second page, are live. Freed
    // out of order, they empty the page while another class keeps the
    // spare: it goes back, and the class parks on its first page.
    unsafe {
        slab.deallocate(objects[per_page + 1], l);
        slab.deallocate(objects[per_page], l);
    }
    slab.check().unwrap();
    std::ptr::NonNull::new(objects[0].as_ptr().map_addr(|a| a & !(PAGE - 1))).unwrap()
}

#[cfg(not(debug_assertions))]
mod release {
    use std::collections::HashSet;
    use std::ptr::NonNull;

    use super::*;

    /// Allocates `n` blocks of `l` and asserts that no two share an
    /// address: no block is handed out twice.
    fn distinct<F: FnMut(Layout) -> NonNull<u8>>(n: usize, l: Layout, mut allocate: F) {
        let blocks: HashSet<_> = (0..n).map(|_| allocate(l)).collect();
        assert_eq!(blocks.len(), n, "a block was handed out twice");
    }

    #[test]
    fn an_interior_pointer_after_a_word_that_reads_as_an_odd_pad_is_refused() {
        let mut buf = PoolBuf::new(4096);
        let mut tlsf = Tlsf::new(buf.slice()).unwrap();
        free_after_an_odd_pad_word(&mut tlsf);
        assert_eq!(tlsf.stats().bad_frees, 1);
        tlsf.check().unwrap();
    }

    /// A parked class's first page (its marker's, while the class is the
    /// latest allocation's): with the bitmap, a free of its start is
    /// refused, not taken for the slot taken last, and no slot lands on
    /// the page's header. (Without it, a release build does not promise to
    /// catch a pointer off the slot grid.)
    #[cfg(feature = "hardened")]
    #[test]
    fn a_free_of_a_parked_class_s_page_start_is_refused() {
        let mut buf = PoolBuf::with_align(6 * PAGE, PAGE);
        let mut slab = Slab::new(PoolPages::new(buf.slice(), PAGE).unwrap()).unwrap();
        let start = park_the_latest_class(&mut slab);
        let l = layout(64, 8);
        // SAFETY: none: a page's start, the misuse under test.
        unsafe { slab.deallocate(start, l) };
        assert_eq!(slab.stats().bad_frees, 1);
        slab.check().unwrap();
        let object = slab.allocate(l).unwrap().cast::<u8>();
        assert_ne!(object, start);
        slab.check().unwrap();
    }

    #[test]
    fn a_tlsf_double_free_is_refused() {
        let mut buf = PoolBuf::new(4096);
        let mut tlsf = Tlsf::new(buf.slice()).unwrap();
        let l = layout(64, 8);
        let _a = tlsf.allocate(l).unwrap();
        let b = tlsf.allocate(l).unwrap().cast::<u8>();
        let _c = tlsf.allocate(l).unwrap();
        // SAFETY: `b` is live; the second free is the misuse under test.
        unsafe {
            tlsf.deallocate(b, l);
            tlsf.deallocate(b, l);
        }
        let stats = tlsf.stats();
        assert_eq!((stats.bad_frees, stats.live()), (1, 2));
        tlsf.check().unwrap();
        distinct(3, l, |l| tlsf.allocate(l).unwrap().cast());
        tlsf.check().unwrap();
    }

    #[test]
    fn a_double_free_after_backward_coalescing_is_refused() {
        let mut buf = PoolBuf::new(4096);
        let mut tlsf = Tlsf::new(buf.slice()).unwrap();
        let l = layout(64, 8);
        let a = tlsf.allocate(l).unwrap().cast::<u8>();
        let b = tlsf.allocate(l).unwrap().cast::<u8>();
        let _c = tlsf.allocate(layout(2000, 8)).unwrap();
        // SAFETY: `a` and `b` are live; `b` then merges into `a`'s free
        // block, and its second free is the misuse under test.
        unsafe {
            tlsf.deallocate(a, l);
            tlsf.deallocate(b, l);
            tlsf.deallocate(b, l);
        }
        assert_eq!(tlsf.stats().bad_frees, 1);
        tlsf.check().unwrap();
        distinct(2, l, |l| tlsf.allocate(l).unwrap().cast());
    }

    #[test]
    fn interior_pointers_are_refused() {
        let mut buf = PoolBuf::new(4096);
        let mut tlsf = Tlsf::new(buf.slice()).unwrap();
        let l = layout(256, 8);
        let block = tlsf.allocate(l).unwrap();
        let _after = tlsf.allocate(l).unwrap();
        let p = block.cast::<u8>();
        for fill in [0x00, 0xff, 0x41] {
            // SAFETY: the block is live and 256 bytes long.
            unsafe { p.write_bytes(fill, 256) };
            for offset in [1, 8, 16, 32, 100, 240] {
                // SAFETY: none: a pointer into the block, the misuse under
                // test.
                unsafe { tlsf.deallocate(p.add(offset), l) };
            }
        }
        assert_eq!(tlsf.stats().bad_frees, 18);
        assert_eq!(tlsf.stats().live(), 2);
        tlsf.check().unwrap();
        // SAFETY: live with `l`.
        unsafe { tlsf.deallocate(p, l) };
        tlsf.check().unwrap();
    }

    #[test]
    fn foreign_pointers_and_wrong_layouts_are_refused() {
        let mut buf = PoolBuf::new(4096);
        let mut tlsf = Tlsf::new(buf.slice()).unwrap();
        let p = tlsf.allocate(layout(64, 8)).unwrap().cast::<u8>();
        let mut other = [0u64; 8];
        // SAFETY: none: a foreign pointer, then a layout far larger than
        // the block; both are the misuse under test.
        unsafe {
            tlsf.deallocate(NonNull::from(&mut other).cast(), layout(64, 8));
            tlsf.deallocate(p, layout(1000, 8));
        }
        assert_eq!((tlsf.stats().bad_frees, tlsf.stats().live()), (2, 1));
        tlsf.check().unwrap();
    }

    #[test]
    fn a_heap_large_block_double_free_is_refused() {
        let mut buf = PoolBuf::with_align(64 * PAGE, PAGE);
        let mut heap = Heap::new(buf.slice()).unwrap();
        let l = layout(20_000, 8);
        let _keep = heap.allocate(l).unwrap();
        let p = heap.allocate(l).unwrap().cast::<u8>();
        // SAFETY: `p` is live; the second free is the misuse under test.
        unsafe {
            heap.deallocate(p, l);
            heap.deallocate(p, l);
        }
        assert_eq!((heap.stats().bad_frees, heap.stats().live()), (1, 1));
        heap.check().unwrap();
        distinct(2, l, |l| heap.allocate(l).unwrap().cast());
    }

    #[test]
    fn slab_double_frees_the_free_shows_are_refused() {
        let mut buf = PoolBuf::with_align(8 * PAGE, PAGE);
        let mut slab = Slab::new(PoolPages::new(buf.slice(), PAGE).unwrap()).unwrap();
        let l = layout(32, 8);
        // 126 slots a page (fewer with feature `hardened`): two full
        // pages, the third active.
        let objects: Vec<_> = (0..300)
            .map(|_| slab.allocate(l).unwrap().cast::<u8>())
            .collect();
        let before = slab.stats();
        // SAFETY: each object is live before its first free; each second
        // free is the misuse under test: of the latest allocation (given
        // back), of the slot first on the active page's free list, and of
        // the slot first on an inactive page's (`objects[0]`'s page became
        // active when it got a free slot, then `objects[130]`'s did).
        unsafe {
            for p in [objects[299], objects[298]] {
                slab.deallocate(p, l);
                slab.deallocate(p, l);
            }
            slab.deallocate(objects[0], l);
            slab.deallocate(objects[130], l);
            slab.deallocate(objects[0], l);
        }
        let stats = slab.stats();
        assert_eq!(stats.bad_frees, 3);
        assert_eq!(stats.live(), before.live() - 4);
        assert_eq!(stats.deallocations, before.deallocations + 4);
        slab.check().unwrap();
        distinct(8, l, |l| slab.allocate(l).unwrap().cast());
        slab.check().unwrap();
    }

    /// The bitmap refuses every double free, not only those the free
    /// shows at once.
    #[cfg(feature = "hardened")]
    #[test]
    fn slab_double_frees_of_slots_freed_earlier_are_refused() {
        let mut buf = PoolBuf::with_align(8 * PAGE, PAGE);
        let mut slab = Slab::new(PoolPages::new(buf.slice(), PAGE).unwrap()).unwrap();
        let l = layout(32, 8);
        let class = (0..).find(|&c| slab.class_stats(c).unwrap().size == 32);
        let per_page = slab.class_stats(class.unwrap()).unwrap().slots_per_page;
        // Two full pages, the third active and partly carved.
        let objects: Vec<_> = (0..2 * per_page + 50)
            .map(|_| slab.allocate(l).unwrap().cast::<u8>())
            .collect();
        let (first, second, third) = (0, per_page, 2 * per_page);
        let before = slab.stats();
        // SAFETY: each object is live before its first free; the second
        // frees, each with other frees of its page in between, and the
        // free of a slot below the third page's lowest carved one, are the
        // misuses under test.
        unsafe {
            // On the active page.
            for i in [third + 10, third + 11, third + 12] {
                slab.deallocate(objects[i], l);
            }
            slab.deallocate(objects[third + 10], l);
            // The first page becomes active, then the second; the first
            // and the third, partly carved, are inactive.
            slab.deallocate(objects[first], l);
            slab.deallocate(objects[second], l);
            slab.deallocate(objects[second + 1], l);
            slab.deallocate(objects[second], l);
            for i in [first + 1, first + 2] {
                slab.deallocate(objects[i], l);
            }
            slab.deallocate(objects[first], l);
            slab.deallocate(objects[first + 1], l);
            slab.deallocate(objects[third + 11], l);
            // Not carved yet, on an inactive page.
            let lowest = objects[third + 49];
            slab.deallocate(NonNull::new(lowest.as_ptr().wrapping_sub(32)).unwrap(), l);
        }
        let stats = slab.stats();
        assert_eq!(stats.bad_frees, 6);
        assert_eq!(stats.live(), before.live() - 8);
        assert_eq!(stats.deallocations, before.deallocations + 8);
        slab.check().unwrap();
        distinct(4 * per_page, l, |l| slab.allocate(l).unwrap().cast());
        slab.check().unwrap();
    }

    /// A `Heap`'s slab keeps the bitmap too.
    #[cfg(feature = "hardened")]
    #[test]
    fn a_heap_slab_double_free_of_a_slot_freed_earlier_is_refused() {
        let mut buf = PoolBuf::with_align(64 * PAGE, PAGE);
        let mut heap = Heap::new(buf.slice()).unwrap();
        let l = layout(32, 8);
        let objects: Vec<_> = (0..100)
            .map(|_| heap.allocate(l).unwrap().cast::<u8>())
            .collect();
        // SAFETY: each object is live before its first free; the second
        // free of `objects[10]`, with other frees in between, is the misuse
        // under test.
        unsafe {
            for i in [10, 11, 12] {
                heap.deallocate(objects[i], l);
            }
            heap.deallocate(objects[10], l);
        }
        assert_eq!((heap.stats().bad_frees, heap.stats().live()), (1, 97));
        heap.check().unwrap();
        distinct(200, l, |l| heap.allocate(l).unwrap().cast());
        heap.check().unwrap();
    }

    #[test]
    fn a_slab_free_into_a_page_given_back_is_refused() {
        let mut buf = PoolBuf::with_align(8 * PAGE, PAGE);
        let mut slab = Slab::new(PoolPages::new(buf.slice(), PAGE).unwrap()).unwrap();
        let l = layout(1024, 8);
        // Three slots a page: the first page fills, the second is active.
        let objects: Vec<_> = (0..4)
            .map(|_| slab.allocate(l).unwrap().cast::<u8>())
            .collect();
        // SAFETY: the first two frees are of live objects: the first page
        // becomes active, and the second, emptied, goes back to the
        // source. The third is the misuse under test.
        unsafe {
            slab.deallocate(objects[0], l);
            slab.deallocate(objects[3], l);
            slab.deallocate(objects[3], l);
        }
        assert_eq!((slab.stats().bad_frees, slab.stats().live()), (1, 2));
        slab.check().unwrap();
        distinct(6, l, |l| slab.allocate(l).unwrap().cast());
    }

    #[test]
    fn resizes_in_the_wrong_direction_fail() {
        let mut buf = PoolBuf::new(16 * 1024);
        let arena = Arena::new(Tlsf::new(buf.slice()).unwrap());
        let old = layout(100, 8);
        let p = arena.allocate(old).unwrap().cast::<u8>();
        // SAFETY: live with `old`; each resize breaks the direction rule,
        // the misuse under test, and must fail changing nothing.
        unsafe {
            p.write_bytes(7, 100);
            assert!(arena.shrink(p, old, layout(300, 8)).is_err());
            assert!(arena.grow(p, old, layout(10, 8)).is_err());
            assert!(arena.grow_zeroed(p, old, layout(10, 64)).is_err());
            assert!(arena.grow_in_place(p, old, layout(10, 8)).is_err());
            assert!(arena.shrink_in_place(p, old, layout(300, 8)).is_err());
            assert!((0..100).all(|i| p.add(i).read() == 7));
            arena.deallocate(p, old);
        }
        arena.check().unwrap();
        assert_eq!(arena.stats().live(), 0);
    }

    #[test]
    fn the_cores_shrink_to_a_larger_size_fails() {
        let mut buf = PoolBuf::new(4096);
        let mut tlsf = Tlsf::new(buf.slice()).unwrap();
        let old = layout(100, 8);
        let p = tlsf.allocate(old).unwrap().cast::<u8>();
        // SAFETY: live with `old`; the shrink to a larger size is the
        // misuse under test.
        unsafe {
            assert!(tlsf.shrink_in_place(p, old, layout(1000, 8)).is_err());
            tlsf.deallocate(p, old);
        }
        tlsf.check().unwrap();
        assert_eq!(tlsf.stats().live(), 0);
    }
}

// ---------------------------------------------------------------------------
// Debug builds: an rtarena message, at the caller's line, with its layout.
// ---------------------------------------------------------------------------

#[cfg(debug_assertions)]
mod debug {
    use std::sync::Mutex;
    use std::thread::{self, ThreadId};

    use super::*;

    #[test]
    #[should_panic(expected = "rtarena: ")]
    fn a_heap_large_block_double_free_panics() {
        let mut buf = PoolBuf::with_align(64 * PAGE, PAGE);
        let mut heap = Heap::new(buf.slice()).unwrap();
        let l = layout(20_000, 8);
        let p = heap.allocate(l).unwrap().cast::<u8>();
        // SAFETY: `p` is live; the second free is the misuse under test.
        unsafe {
            heap.deallocate(p, l);
            heap.deallocate(p, l);
        }
    }

    #[test]
    #[should_panic(expected = "not an allocated block")]
    fn an_interior_pointer_panics() {
        let mut buf = PoolBuf::new(4096);
        let mut tlsf = Tlsf::new(buf.slice()).unwrap();
        let p = tlsf.allocate(layout(256, 8)).unwrap().cast::<u8>();
        // SAFETY: none: a pointer into the block, the misuse under test.
        unsafe {
            p.write_bytes(0, 256);
            tlsf.deallocate(p.add(64), layout(256, 8));
        }
    }

    #[test]
    #[should_panic(expected = "not an allocated block")]
    fn a_free_of_a_parked_class_s_page_start_panics() {
        let mut buf = PoolBuf::with_align(6 * PAGE, PAGE);
        let mut slab = Slab::new(PoolPages::new(buf.slice(), PAGE).unwrap()).unwrap();
        let start = park_the_latest_class(&mut slab);
        // SAFETY: none: a page's start, the misuse under test.
        unsafe { slab.deallocate(start, layout(64, 8)) };
    }

    /// The word before the pointer reads as a pad of odd length: the
    /// header it leads to is still read word-aligned (Miri checks it),
    /// and the free is refused.
    #[test]
    #[should_panic(expected = "rtarena: ")]
    fn an_interior_pointer_after_a_word_that_reads_as_an_odd_pad_panics() {
        let mut buf = PoolBuf::new(4096);
        free_after_an_odd_pad_word(&mut Tlsf::new(buf.slice()).unwrap());
    }

    /// A double free of a slot freed long before (more frees of its page
    /// since than the debug walk of the free list looks at, without the
    /// bitmap).
    #[cfg(feature = "hardened")]
    #[test]
    #[should_panic(expected = "rtarena: ")]
    fn a_slab_double_free_of_a_slot_freed_long_before_panics() {
        let mut buf = PoolBuf::with_align(4 * PAGE, PAGE);
        let mut slab = Slab::new(PoolPages::new(buf.slice(), PAGE).unwrap()).unwrap();
        let l = layout(8, 8);
        let objects: Vec<_> = (0..400)
            .map(|_| slab.allocate(l).unwrap().cast::<u8>())
            .collect();
        // SAFETY: each object is live before its first free; the second
        // free of `objects[0]` is the misuse under test.
        unsafe {
            for &object in &objects[..399] {
                slab.deallocate(object, l);
            }
            slab.deallocate(objects[0], l);
        }
    }

    /// The slab names the caller's layout, not its class's.
    #[test]
    #[should_panic(expected = "Layout { size: 200, align: 8")]
    fn a_slab_wrong_layout_shows_the_callers_layout() {
        let mut buf = PoolBuf::with_align(4 * PAGE, PAGE);
        let mut slab = Slab::new(PoolPages::new(buf.slice(), PAGE).unwrap()).unwrap();
        let object = slab.allocate(layout(32, 8)).unwrap();
        let _latest = slab.allocate(layout(32, 8)).unwrap();
        // SAFETY: none: the wrong layout, the misuse under test.
        unsafe { slab.deallocate(object.cast(), layout(200, 8)) };
    }

    #[test]
    #[should_panic(expected = "wrong direction")]
    fn a_shrink_to_a_larger_size_panics() {
        let mut buf = PoolBuf::new(4096);
        let arena = Arena::new(Tlsf::new(buf.slice()).unwrap());
        let old = layout(100, 8);
        let p = arena.allocate(old).unwrap().cast::<u8>();
        // SAFETY: live with `old`; the larger size is the misuse under test.
        let _ = unsafe { arena.shrink(p, old, layout(300, 8)) };
    }

    #[test]
    #[should_panic(expected = "wrong direction")]
    fn a_zeroing_grow_to_a_smaller_size_panics() {
        let mut buf = PoolBuf::new(4096);
        let arena = Arena::new(Tlsf::new(buf.slice()).unwrap());
        let old = layout(100, 8);
        let p = arena.allocate(old).unwrap().cast::<u8>();
        // SAFETY: live with `old`; the smaller size is the misuse under test.
        let _ = unsafe { arena.grow_zeroed(p, old, layout(10, 64)) };
    }

    #[test]
    #[should_panic(expected = "wrong direction")]
    fn an_in_place_shrink_to_a_larger_size_panics() {
        let mut buf = PoolBuf::new(4096);
        let arena = Arena::new(Tlsf::new(buf.slice()).unwrap());
        let old = layout(100, 8);
        let p = arena.allocate(old).unwrap().cast::<u8>();
        // SAFETY: live with `old`; the larger size is the misuse under test.
        let _ = unsafe { arena.shrink_in_place(p, old, layout(300, 8)) };
    }

    #[test]
    #[should_panic(expected = "wrong direction")]
    fn an_in_place_grow_to_a_smaller_size_panics() {
        let mut buf = PoolBuf::new(4096);
        let arena = Arena::new(Tlsf::new(buf.slice()).unwrap());
        let old = layout(100, 8);
        let p = arena.allocate(old).unwrap().cast::<u8>();
        // SAFETY: live with `old`; the smaller size is the misuse under test.
        let _ = unsafe { arena.grow_in_place(p, old, layout(10, 8)) };
    }

    /// Where each panic of this binary came from, by thread: tests run in
    /// parallel, and the panic hook is global.
    static PANICS: Mutex<Vec<(ThreadId, String, u32)>> = Mutex::new(Vec::new());

    /// Runs `misuse` and returns the file and line its panic names.
    fn panic_location(misuse: impl FnOnce()) -> (String, u32) {
        std::panic::set_hook(std::boxed::Box::new(|info| {
            if let Some(at) = info.location() {
                eprintln!("{info}");
                let entry = (thread::current().id(), at.file().to_owned(), at.line());
                PANICS.lock().unwrap_or_else(|e| e.into_inner()).push(entry);
            }
        }));
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(misuse));
        assert!(caught.is_err(), "the misuse did not panic");
        let me = thread::current().id();
        let panics = PANICS.lock().unwrap_or_else(|e| e.into_inner());
        let (_, file, line) = panics.iter().rev().find(|p| p.0 == me).unwrap();
        (file.clone(), *line)
    }

    /// Each public entry point reports at its caller's line: the cores',
    /// the wrapper's, and the `Allocator` trait's.
    #[test]
    fn panics_point_at_the_callers_line() {
        let l = layout(64, 8);
        let mut buf = PoolBuf::with_align(64 * PAGE, PAGE);
        let mut heap = Heap::new(buf.slice()).unwrap();
        let p = heap.allocate(l).unwrap().cast::<u8>();
        // SAFETY: `p` is live, then freed twice: the misuse under test.
        unsafe { heap.deallocate(p, l) };
        let line = line!() + 2;
        // SAFETY: none: `p` was freed, the misuse under test.
        let at = panic_location(|| unsafe { heap.deallocate(p, l) });
        assert_eq!(at, (file!().to_owned(), line));

        let mut buf = PoolBuf::new(16 * 1024);
        let arena = Arena::new(Tlsf::new(buf.slice()).unwrap());
        let p = arena.allocate(l).unwrap().cast::<u8>();
        // SAFETY: as above.
        unsafe { arena.deallocate(p, l) };
        let line = line!() + 2;
        // SAFETY: none: `p` was freed, the misuse under test.
        let at = panic_location(|| unsafe { arena.deallocate(p, l) });
        assert_eq!(at, (file!().to_owned(), line));
        let line = line!() + 2;
        // SAFETY: none: `p` was freed, and the size is larger.
        let at = panic_location(|| unsafe { _ = arena.shrink(p, l, layout(200, 8)) });
        assert_eq!(at, (file!().to_owned(), line));
        let line = line!() + 2;
        // SAFETY: none: `p` was freed, and the size is smaller.
        let at = panic_location(|| unsafe { _ = arena.grow_in_place(p, l, layout(8, 8)) });
        assert_eq!(at, (file!().to_owned(), line));
        let line = line!() + 3;
        // SAFETY: none: `p` was freed, the misuse under test.
        let at = panic_location(|| unsafe {
            allocator_api2::alloc::Allocator::deallocate(&arena, p, l)
        });
        assert_eq!(at, (file!().to_owned(), line));
        let _ = std::panic::take_hook();
    }
}

// ---------------------------------------------------------------------------
// Both builds: `stats()` and `check()` never panic.
// ---------------------------------------------------------------------------

/// An overwritten header (a stray write through a pointer the test keeps
/// into the raw pool): `check()` names it and `stats()` still answers.
#[test]
fn stats_and_check_answer_on_a_corrupted_heap() {
    let mut buf = PoolBuf::new(8192);
    let pool = buf.raw(0, 8192).cast::<u8>();
    let mut tlsf = Tlsf::empty();
    // SAFETY: the buffer outlives the heap, and only the heap and this
    // test's writes below (through the same pointer) touch it.
    unsafe { tlsf.add_pool_raw(buf.raw(0, 8192)).unwrap() };
    let a = tlsf.allocate(layout(64, 8)).unwrap().cast::<u8>();
    let header_offset = a.as_ptr().addr() - pool.as_ptr().addr() - size_of::<usize>();
    for garbage in [usize::MAX, usize::MAX & !3, 1 << (usize::BITS - 2) | 1, 0] {
        // SAFETY: the word before `a` is its header, inside the raw pool
        // this test may write; the write is the corruption under test.
        unsafe { pool.add(header_offset).cast::<usize>().write(garbage) };
        assert!(tlsf.check().is_err());
        let _ = tlsf.stats();
    }
}

// ---------------------------------------------------------------------------
// `GlobalAlloc` never unwinds.
// ---------------------------------------------------------------------------

/// A debug build's report in `GlobalAlloc::dealloc` aborts the process
/// after its message, rather than unwind out of a function that must not.
/// The test runs itself again as a child that commits the misuse.
#[cfg(all(debug_assertions, unix, not(miri)))]
#[test]
fn global_alloc_aborts_instead_of_unwinding() {
    use std::alloc::GlobalAlloc;
    use std::os::unix::process::ExitStatusExt;
    use std::process::Command;

    const CHILD: &str = "RTARENA_MISUSE_CHILD";
    const NAME: &str = "global_alloc_aborts_instead_of_unwinding";
    if std::env::var_os(CHILD).is_some() {
        let mut buf = PoolBuf::new(16 * 1024);
        let arena: rtarena::SyncArena<Tlsf, spin::Mutex<()>> =
            rtarena::SyncArena::new(Tlsf::new(buf.slice()).unwrap());
        let l = layout(64, 8);
        // SAFETY: `p` is live, then freed twice: the misuse under test.
        unsafe {
            let p = arena.alloc(l);
            arena.dealloc(p, l);
            arena.dealloc(p, l);
        }
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let out = Command::new(exe)
        .args(["--exact", NAME, "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    const SIGABRT: i32 = 6;
    assert_eq!(out.status.signal(), Some(SIGABRT), "{stderr}");
    assert!(stderr.contains("rtarena: "), "{stderr}");
    assert!(stderr.contains("not an allocated block"), "{stderr}");
    assert!(stderr.contains("must not unwind"), "{stderr}");
}
