//! Targeted tests of the slab and the hybrid heap: page-source exhaustion,
//! pages going back, the spare page, class routing and resizing across the
//! slab/TLSF boundary, collections, and debug-build misuse checks.

#![cfg(feature = "allocator-api2")]

mod common;

use std::alloc::Layout;
use std::ptr::NonNull;

use allocator_api2::boxed::Box;
use allocator_api2::vec::Vec;
use rtarena::pages::{PageSource, PoolPages};
use rtarena::slab::classes::CLASS_SIZES;
use rtarena::tlsf::config::GRANULE;
use rtarena::{AllocError, Arena, Heap, PoolError, Slab, SmallHeap, Stats};

use common::{MIRI, PoolBuf, fill, verify};

const PAGE: usize = 4096;

fn layout(size: usize, align: usize) -> Layout {
    Layout::from_size_align(size, align).unwrap()
}

/// Fills `slab` with objects of `layout` until the source runs dry.
fn fill_up<S: PageSource>(slab: &mut Slab<S>, layout: Layout) -> std::vec::Vec<NonNull<u8>> {
    let mut objects = std::vec::Vec::new();
    while let Ok(object) = slab.allocate(layout) {
        // SAFETY: a fresh object of at least `layout.size()` bytes.
        unsafe { fill(object.cast(), layout.size(), objects.len() as u64) };
        objects.push(object.cast());
    }
    objects
}

#[test]
fn page_source_exhaustion_is_an_error_that_changes_nothing() {
    let mut buf = PoolBuf::with_align(8 * PAGE, PAGE);
    let pages = PoolPages::new(buf.slice(), PAGE).unwrap();
    assert_eq!(pages.pages(), 8);
    let mut slab = Slab::new(pages).unwrap();
    let small = layout(48, 8);
    let objects = fill_up(&mut slab, small);
    assert_eq!(
        objects.len(),
        8 * ((PAGE - rtarena::slab::page_header(PAGE)) / 48)
    );
    assert_eq!(slab.source().pages_in_use(), 8);

    let before = slab.stats();
    assert_eq!(slab.allocate(small), Err(AllocError));
    // Another class has no page either, and nothing live changed.
    assert_eq!(slab.allocate(layout(200, 8)), Err(AllocError));
    let after = slab.stats();
    assert_eq!(
        after,
        Stats {
            failures: before.failures + 2,
            ..before
        }
    );
    slab.check().unwrap();
    for (id, object) in objects.iter().enumerate() {
        // SAFETY: each object holds its pattern over 48 bytes.
        unsafe { verify(*object, 48, id as u64, "after exhaustion") };
    }

    // One free makes exactly that slot available again, without scanning.
    // SAFETY: live, allocated with `small`.
    unsafe { slab.deallocate(objects[100], small) };
    let again = slab.allocate(small).unwrap();
    assert_eq!(again.cast(), objects[100]);
    assert_eq!(slab.allocate(small), Err(AllocError));

    for object in objects {
        // SAFETY: live, allocated with `small` (`again` is `objects[100]`).
        unsafe { slab.deallocate(object, small) };
    }
    slab.check().unwrap();
    // Everything went back but the class's one spare page.
    assert_eq!(slab.source().pages_in_use(), 1);
    assert_eq!(slab.trim(), 1);
    assert_eq!(slab.source().pages_in_use(), 0);
    assert_eq!(slab.stats().live(), 0);
}

#[test]
fn a_class_out_of_pages_takes_the_other_classes_spare() {
    let mut buf = PoolBuf::with_align(4 * PAGE, PAGE);
    let mut slab = Slab::new(PoolPages::new(buf.slice(), PAGE).unwrap()).unwrap();
    // Three classes each take a page, then give their objects back: the
    // last keeps its page as the spare, each other's went back when the
    // next one took the spare over; three pages are still free in the pool.
    let layouts = [layout(16, 8), layout(64, 8), layout(256, 8)];
    for l in layouts {
        let object = slab.allocate(l).unwrap();
        // SAFETY: allocated just above.
        unsafe { slab.deallocate(object.cast(), l) };
    }
    assert_eq!(slab.source().pages_in_use(), 1);
    slab.check().unwrap();
    // A fourth class fills the free pages and then needs the spare.
    let big = layout(1024, 8);
    let objects = fill_up(&mut slab, big);
    let per_page = (PAGE - rtarena::slab::page_header(PAGE)) / 1024;
    assert_eq!(objects.len(), 4 * per_page);
    assert_eq!(slab.source().pages_in_use(), 4);
    slab.check().unwrap();
    for object in objects {
        // SAFETY: live, allocated with `big`.
        unsafe { slab.deallocate(object, big) };
    }
    slab.check().unwrap();
}

/// Class `l` takes a page and empties it again: it keeps it, as the spare.
fn keep_the_spare(slab: &mut Slab<PoolPages<'_>>, l: Layout) {
    let object = slab.allocate(l).unwrap();
    // SAFETY: allocated just above.
    unsafe { slab.deallocate(object.cast(), l) };
    assert_eq!(slab.source().pages_in_use(), 1, "the class keeps its page");
}

/// The pages `slab`'s class of `size` holds.
fn pages_of(slab: &Slab<PoolPages<'_>>, size: usize) -> usize {
    (0..)
        .map_while(|class| slab.class_stats(class))
        .find(|stats| stats.size == size)
        .unwrap()
        .pages
}

/// A class whose page the free of its latest allocation empties takes the
/// spare over: the page of the class that kept it goes back if still
/// empty, and stays if that class allocated from it since.
#[test]
fn an_emptied_page_takes_the_spare_over() {
    let mut buf = PoolBuf::with_align(8 * PAGE, PAGE);
    let mut slab = Slab::new(PoolPages::new(buf.slice(), PAGE).unwrap()).unwrap();
    let (a, c) = (layout(16, 8), layout(64, 8));
    keep_the_spare(&mut slab, a);
    let object = slab.allocate(c).unwrap();
    // SAFETY: allocated just above.
    unsafe { slab.deallocate(object.cast(), c) };
    assert_eq!((pages_of(&slab, 16), pages_of(&slab, 64)), (0, 1));
    assert_eq!(slab.source().pages_in_use(), 1, "`a`'s page went back");
    slab.check().unwrap();
    // `c`'s entry goes stale: its page holds an object again. `a` takes
    // the spare over and gives nothing back.
    let kept = slab.allocate(c).unwrap();
    let object = slab.allocate(a).unwrap();
    // SAFETY: allocated just above.
    unsafe { slab.deallocate(object.cast(), a) };
    assert_eq!((pages_of(&slab, 16), pages_of(&slab, 64)), (1, 1));
    slab.check().unwrap();
    // SAFETY: allocated above with `c`.
    unsafe { slab.deallocate(kept.cast(), c) };
    slab.check().unwrap();
}

/// A free that empties a page but is not of the latest allocation's slot
/// does not push another class's spare out: while another class keeps an
/// empty page, the page goes back itself, and the spare stays.
#[test]
fn a_page_emptied_out_of_order_goes_back_while_another_class_keeps_the_spare() {
    let mut buf = PoolBuf::with_align(8 * PAGE, PAGE);
    let mut slab = Slab::new(PoolPages::new(buf.slice(), PAGE).unwrap()).unwrap();
    let (a, c) = (layout(16, 8), layout(64, 8));
    keep_the_spare(&mut slab, a);
    let first = slab.allocate(c).unwrap().cast::<u8>();
    let second = slab.allocate(c).unwrap().cast::<u8>();
    assert_eq!(slab.source().pages_in_use(), 2);
    // SAFETY: allocated just above with `c`; `first` is freed last, and it
    // is not the latest allocation's slot.
    unsafe {
        slab.deallocate(second, c);
        slab.deallocate(first, c);
    }
    assert_eq!(slab.source().pages_in_use(), 1, "`c`'s page went back");
    assert_eq!((pages_of(&slab, 16), pages_of(&slab, 64)), (1, 0));
    slab.check().unwrap();
    // With the entry stale (`a` allocated since), the same free keeps the
    // page as the spare.
    let kept = slab.allocate(a).unwrap();
    let object = slab.allocate(c).unwrap().cast::<u8>();
    let latest = slab.allocate(c).unwrap().cast::<u8>();
    // SAFETY: allocated just above.
    unsafe {
        slab.deallocate(latest, c);
        slab.deallocate(object, c);
    }
    assert_eq!(pages_of(&slab, 64), 1, "`c` keeps its page");
    slab.check().unwrap();
    // `a`'s page empties out of order now, with `c` keeping the spare: it
    // goes back.
    // SAFETY: allocated above with `a`.
    unsafe { slab.deallocate(kept.cast(), a) };
    assert_eq!((pages_of(&slab, 16), pages_of(&slab, 64)), (0, 1));
    slab.check().unwrap();
}

/// A class whose empty active page another class takes while it holds
/// other pages parks: its other pages stay, a free into a full one makes
/// that page active, and its next allocation takes a free slot of its
/// pages, else a new page.
#[test]
fn a_class_whose_spare_is_taken_keeps_its_other_pages() {
    parked_class_takes_its_pages_again(true);
    parked_class_takes_its_pages_again(false);
}

fn parked_class_takes_its_pages_again(free_first: bool) {
    let mut buf = PoolBuf::with_align(5 * PAGE, PAGE);
    let mut slab = Slab::new(PoolPages::new(buf.slice(), PAGE).unwrap()).unwrap();
    let small = layout(64, 8);
    let per_page = (PAGE - rtarena::slab::page_header(PAGE)) / 64;
    let class_stats = |slab: &Slab<PoolPages<'_>>| {
        (0..)
            .map_while(|class| slab.class_stats(class))
            .find(|stats| stats.size == 64)
            .unwrap()
    };
    // Two full pages of `small` and a third, active, with one object.
    let mut objects: std::vec::Vec<_> = (0..2 * per_page)
        .map(|_| slab.allocate(small).unwrap().cast::<u8>())
        .collect();
    let last = slab.allocate(small).unwrap().cast::<u8>();
    // A free on the first page puts it second, with a free slot; the free
    // of the latest object empties the third, which the class keeps.
    let on_first = objects.swap_remove(0);
    // SAFETY: live objects, allocated with `small`.
    unsafe {
        slab.deallocate(on_first, small);
        slab.deallocate(last, small);
    }
    assert_eq!(slab.source().pages_in_use(), 3);
    // Another class takes the two free pages, then the spare: `small`
    // parks on its other two.
    let big = layout(1024, 8);
    let bigs = fill_up(&mut slab, big);
    assert_eq!(slab.source().pages_in_use(), 5);
    slab.check().unwrap();
    let stats = class_stats(&slab);
    assert_eq!((stats.pages, stats.live), (2, 2 * per_page - 1));
    let on_second = objects.swap_remove(per_page + 1);
    if free_first {
        // A free into the full page makes it active: the next allocation
        // takes that slot again, and the one after the first page's.
        // SAFETY: live, allocated with `small`.
        unsafe { slab.deallocate(on_second, small) };
        slab.check().unwrap();
        assert_eq!(slab.allocate(small).unwrap().cast::<u8>(), on_second);
        assert_eq!(slab.allocate(small).unwrap().cast::<u8>(), on_first);
    } else {
        // The next allocation makes the first page active again, for its
        // free slot; then a free into the full page makes that one active.
        assert_eq!(slab.allocate(small).unwrap().cast::<u8>(), on_first);
        slab.check().unwrap();
        // SAFETY: live, allocated with `small`.
        unsafe { slab.deallocate(on_second, small) };
        slab.check().unwrap();
        assert_eq!(slab.allocate(small).unwrap().cast::<u8>(), on_second);
    }
    objects.extend([on_second, on_first]);
    slab.check().unwrap();
    // The class is full and the source dry: the next allocation fails and
    // changes nothing.
    assert!(slab.allocate(small).is_err());
    slab.check().unwrap();
    for object in bigs {
        // SAFETY: live, allocated with `big`.
        unsafe { slab.deallocate(object, big) };
    }
    // Pages are free again: the class takes a new one.
    objects.push(slab.allocate(small).unwrap().cast::<u8>());
    assert_eq!(class_stats(&slab).pages, 3);
    slab.check().unwrap();
    for object in objects {
        // SAFETY: live, allocated with `small`.
        unsafe { slab.deallocate(object, small) };
        slab.check().unwrap();
    }
    assert_eq!(slab.stats().live(), 0);
}

#[test]
fn one_class_at_most_keeps_an_empty_page() {
    let mut buf = PoolBuf::with_align(8 * PAGE, PAGE);
    let mut slab = Slab::new(PoolPages::new(buf.slice(), PAGE).unwrap()).unwrap();
    for size in [16, 32, 64, 128, 256, 512] {
        let l = layout(size, 8);
        let object = slab.allocate(l).unwrap();
        // SAFETY: allocated just above.
        unsafe { slab.deallocate(object.cast(), l) };
        assert_eq!(slab.source().pages_in_use(), 1);
        assert_eq!(pages_of(&slab, size), 1, "the latest class keeps its page");
        slab.check().unwrap();
    }
    // Temporaries of the class that keeps its page cost no page.
    for _ in 0..100 {
        let l = layout(512, 8);
        let object = slab.allocate(l).unwrap();
        // SAFETY: allocated just above.
        unsafe { slab.deallocate(object.cast(), l) };
        assert_eq!(slab.source().pages_in_use(), 1);
    }
    // A class whose free empties a page other than its active one gives it
    // back at once, whatever the spare.
    let l = layout(1024, 8);
    let per_page = (PAGE - rtarena::slab::page_header(PAGE)) / 1024;
    let objects: std::vec::Vec<_> = (0..per_page + 1)
        .map(|_| slab.allocate(l).unwrap())
        .collect();
    assert_eq!(slab.source().pages_in_use(), 3);
    for object in &objects[..per_page] {
        // SAFETY: live, allocated with `l`.
        unsafe { slab.deallocate(object.cast(), l) };
    }
    assert_eq!(slab.source().pages_in_use(), 2);
    // SAFETY: live, allocated with `l`.
    unsafe { slab.deallocate(objects[per_page].cast(), l) };
    assert_eq!(slab.source().pages_in_use(), 1, "at most one empty page");
    slab.check().unwrap();
    assert_eq!(slab.trim(), 1);
    assert_eq!(slab.source().pages_in_use(), 0);
}

#[test]
fn a_page_boundary_alloc_free_loop_keeps_the_spare() {
    let mut buf = PoolBuf::with_align(4 * PAGE, PAGE);
    let mut slab = Slab::new(PoolPages::new(buf.slice(), PAGE).unwrap()).unwrap();
    let l = layout(512, 8);
    let per_page = (PAGE - rtarena::slab::page_header(PAGE)) / 512;
    let first: std::vec::Vec<_> = (0..per_page).map(|_| slab.allocate(l).unwrap()).collect();
    assert_eq!(slab.source().pages_in_use(), 1);
    for _ in 0..100 {
        let object = slab.allocate(l).unwrap();
        assert_eq!(slab.source().pages_in_use(), 2);
        // SAFETY: allocated just above.
        unsafe { slab.deallocate(object.cast(), l) };
        assert_eq!(slab.source().pages_in_use(), 2, "the emptied page is kept");
    }
    let stats = slab.stats();
    assert_eq!(stats.peak_in_use, 2 * PAGE);
    for object in first {
        // SAFETY: live, allocated with `l`.
        unsafe { slab.deallocate(object.cast(), l) };
    }
    // The first page empties too: only one spare per class stays.
    assert_eq!(slab.source().pages_in_use(), 1);
    slab.check().unwrap();
}

#[test]
fn a_slot_freed_right_after_it_was_taken_is_taken_next() {
    let mut buf = PoolBuf::with_align(4 * PAGE, PAGE);
    let mut slab = Slab::new(PoolPages::new(buf.slice(), PAGE).unwrap()).unwrap();
    let l = layout(48, 8);
    let take = |slab: &mut Slab<PoolPages>| slab.allocate(l).unwrap().cast::<u8>();
    let older: std::vec::Vec<_> = (0..10).map(|_| take(&mut slab)).collect();
    let free = |slab: &mut Slab<PoolPages>, object: NonNull<u8>| {
        // SAFETY: every object passed here is live, allocated with `l`.
        unsafe { slab.deallocate(object, l) };
        slab.check().unwrap();
    };
    // The shortcut: freed right after it was taken, taken next.
    let a = take(&mut slab);
    free(&mut slab, a);
    assert_eq!(take(&mut slab), a);
    // An older object goes to the page's list, and is taken next too (the
    // list is last in, first out), while `a` stays live.
    free(&mut slab, older[3]);
    assert_eq!(take(&mut slab), older[3]);
    // Both at once: `b` is given back, `a` goes on the list; the slot
    // given back is taken first.
    let b = take(&mut slab);
    free(&mut slab, b);
    free(&mut slab, a);
    assert_eq!((take(&mut slab), take(&mut slab)), (b, a));
    for object in [a, b].into_iter().chain(older) {
        free(&mut slab, object);
    }
    assert_eq!(slab.stats().live(), 0);
}

#[test]
fn the_latest_object_freed_is_taken_next_whatever_came_between() {
    let mut buf = PoolBuf::with_align(64 * PAGE, PAGE);
    let mut heap = Heap::new(buf.slice()).unwrap();
    let (small, other, large) = (layout(48, 8), layout(200, 8), layout(8000, 8));
    let take = |heap: &mut Heap, l: Layout| {
        let object = heap.allocate(l).unwrap().cast::<u8>();
        heap.check().unwrap();
        object
    };
    let free = |heap: &mut Heap, object: NonNull<u8>, l: Layout| {
        // SAFETY: every object passed here is live, allocated with `l`.
        unsafe { heap.deallocate(object, l) };
        heap.check().unwrap();
    };
    // Freed right after: given back without a class lookup, taken next.
    let a = take(&mut heap, small);
    free(&mut heap, a, small);
    assert_eq!(take(&mut heap, small), a);
    // A TLSF block in between is not the slab's latest allocation, so `a`
    // still is; the block's own free goes to the TLSF.
    let block = take(&mut heap, large);
    free(&mut heap, a, small);
    free(&mut heap, block, large);
    assert_eq!(take(&mut heap, small), a);
    // An allocation of another class in between: each class still gives
    // its own latest slot back.
    let b = take(&mut heap, other);
    free(&mut heap, b, other);
    free(&mut heap, a, small);
    assert_eq!((take(&mut heap, small), take(&mut heap, other)), (a, b));
    free(&mut heap, a, small);
    free(&mut heap, b, other);
    assert_eq!(heap.stats().live(), 0);
}

#[test]
fn a_page_that_stops_being_active_forgets_its_last_slot() {
    // A 512-byte page holds `per_page` one-byte objects: two pages fill,
    // and a free on the first makes it active again, as the second is full.
    let per_page = (512 - rtarena::slab::page_header(512)) / 8;
    let mut buf = PoolBuf::with_align(8 * 512, 512);
    let mut slab = Slab::new(PoolPages::new(buf.slice(), 512).unwrap()).unwrap();
    let byte = Layout::new::<u8>();
    let objects: std::vec::Vec<_> = (0..2 * per_page)
        .map(|_| slab.allocate(byte).unwrap().cast::<u8>())
        .collect();
    let latest = objects[2 * per_page - 1];
    let apart = objects[..per_page]
        .iter()
        .all(|o| o.as_ptr().addr() / 512 != latest.as_ptr().addr() / 512);
    assert!(apart, "the last object is on the second page");
    // SAFETY: live objects, allocated with `byte`.
    unsafe {
        slab.deallocate(objects[10], byte);
        slab.check().unwrap();
        // The latest object's page is no longer active: this free goes to
        // that page's header, not aside as given back.
        slab.deallocate(latest, byte);
        slab.check().unwrap();
    }
    assert_eq!(slab.allocate(byte).unwrap().cast::<u8>(), objects[10]);
    assert_eq!(slab.stats().live(), (2 * per_page - 1) as u64);
    slab.check().unwrap();
    for object in objects[..2 * per_page - 1].iter().copied() {
        // SAFETY: live (object 10 was taken again above).
        unsafe { slab.deallocate(object, byte) };
        slab.check().unwrap();
    }
    assert_eq!(slab.stats().live(), 0);
}

#[test]
fn an_active_page_emptied_in_any_order_is_carved_again_in_address_order() {
    let mut buf = PoolBuf::with_align(4 * PAGE, PAGE);
    let mut slab = Slab::new(PoolPages::new(buf.slice(), PAGE).unwrap()).unwrap();
    let l = layout(64, 8);
    let carve = |slab: &mut Slab<PoolPages>| -> std::vec::Vec<NonNull<u8>> {
        (0..20).map(|_| slab.allocate(l).unwrap().cast()).collect()
    };
    let first = carve(&mut slab);
    let mut objects = first.clone();
    // Two shuffled orders (7 is coprime with 20); the second frees the slot
    // taken last (19) first, so the page empties with it given back.
    for shift in [0, 19] {
        for i in 0..20 {
            // SAFETY: each object is live, allocated with `l`, freed once.
            unsafe { slab.deallocate(objects[(i * 7 + shift) % 20], l) };
            slab.check().unwrap();
        }
        assert_eq!(slab.stats().live(), 0);
        objects = carve(&mut slab);
        assert_eq!(objects, first, "carved again from the top");
    }
}

#[test]
fn stats_count_the_slot_given_back_and_taken_again() {
    let mut buf = PoolBuf::with_align(8 * 512, 512);
    let mut slab = Slab::new(PoolPages::new(buf.slice(), 512).unwrap()).unwrap();
    let byte = Layout::new::<u8>();
    let per_page = slab.class_stats(0).unwrap().slots_per_page;
    let counts = |slab: &Slab<PoolPages>| {
        slab.check().unwrap();
        let s = slab.stats();
        (s.allocations, s.deallocations)
    };
    for pair in 1..=100 {
        let object = slab.allocate(byte).unwrap().cast::<u8>();
        // SAFETY: live, allocated with `byte`.
        unsafe { slab.deallocate(object, byte) };
        assert_eq!(counts(&slab), (pair, pair));
    }
    // A full page, and two objects on a second.
    let objects: std::vec::Vec<_> = (0..per_page + 2)
        .map(|_| slab.allocate(byte).unwrap().cast::<u8>())
        .collect();
    let n = objects.len() as u64;
    assert_eq!(counts(&slab), (100 + n, 100));
    // SAFETY: live objects, allocated with `byte`.
    unsafe {
        // Given back: the second page's latest slot.
        slab.deallocate(objects[per_page + 1], byte);
        assert_eq!(counts(&slab), (100 + n, 101));
        // The first page, full, takes over as active: the second stops
        // being active with its slot still given back.
        slab.deallocate(objects[10], byte);
        assert_eq!(counts(&slab), (100 + n, 102));
    }
    for (i, object) in objects[..=per_page].iter().copied().enumerate() {
        if i != 10 {
            // SAFETY: live (all but 10 and the last, freed above).
            unsafe { slab.deallocate(object, byte) };
        }
    }
    assert_eq!(counts(&slab), (100 + n, 100 + n));
    let object = slab.allocate(byte).unwrap().cast::<u8>();
    // SAFETY: live, allocated with `byte`.
    unsafe { slab.deallocate(object, byte) };
    assert_eq!(counts(&slab), (101 + n, 101 + n));
}

#[test]
fn a_page_emptied_by_a_given_back_slot_of_another_class_is_carved_again() {
    // The free of `x` misses the latest-allocation lane (the latest class is
    // another), reaches `put` as the slot `x`'s class took last, and
    // empties the page with it given back.
    let mut buf = PoolBuf::with_align(4 * PAGE, PAGE);
    let mut slab = Slab::new(PoolPages::new(buf.slice(), PAGE).unwrap()).unwrap();
    let (small, other) = (layout(8, 8), layout(16, 8));
    let x = slab.allocate(small).unwrap().cast::<u8>();
    let y = slab.allocate(other).unwrap().cast::<u8>();
    slab.check().unwrap();
    // SAFETY: live, allocated with `small`.
    unsafe { slab.deallocate(x, small) };
    slab.check().unwrap();
    assert_eq!(slab.stats().live(), 1);
    assert_eq!(slab.allocate(small).unwrap().cast::<u8>(), x);
    slab.check().unwrap();
    // SAFETY: live, allocated with their layouts.
    unsafe {
        slab.deallocate(x, small);
        slab.deallocate(y, other);
    }
    slab.check().unwrap();
    assert_eq!(slab.stats().allocations, 3);
    assert_eq!(slab.stats().live(), 0);
}

#[test]
fn objects_freed_through_narrowed_pointers_on_every_kind_of_page() {
    // 512-byte pages of 59 one-byte objects (8-byte slots): 130 of them
    // fill two pages and start a third, so frees reach full pages, partial
    // ones and the active one.
    let mut buf = PoolBuf::with_align(8 * 512, 512);
    let mut slab = Slab::new(PoolPages::new(buf.slice(), 512).unwrap()).unwrap();
    let byte = Layout::new::<u8>();
    let narrowed = |object: NonNull<[u8]>| {
        // SAFETY: a live slot; the reference's provenance covers one byte,
        // as a `Box<u8>`'s would.
        NonNull::from(unsafe { &mut *object.cast::<u8>().as_ptr() })
    };
    let bytes: std::vec::Vec<_> = (0..130)
        .map(|_| narrowed(slab.allocate(byte).unwrap()))
        .collect();
    for &object in bytes.iter().step_by(2) {
        // SAFETY: live, allocated with `byte`.
        unsafe { slab.deallocate(object, byte) };
        slab.check().unwrap();
    }
    let words: std::vec::Vec<_> = (0..65)
        .map(|_| slab.allocate(Layout::new::<u64>()).unwrap())
        .collect();
    for word in &words {
        // SAFETY: a live 8-byte slot.
        unsafe { word.cast::<u64>().write(u64::MAX) };
    }
    for &object in bytes.iter().skip(1).step_by(2) {
        // SAFETY: live, allocated with `byte`.
        unsafe { slab.deallocate(object, byte) };
    }
    for &word in &words {
        // SAFETY: live, allocated with this layout.
        unsafe { slab.deallocate(narrowed(word), Layout::new::<u64>()) };
        slab.check().unwrap();
    }
    assert_eq!(slab.stats().live(), 0);
    assert_eq!(slab.trim(), 1);
    slab.check().unwrap();
}

#[test]
fn slots_are_aligned_to_any_alignment_their_layout_asks() {
    let mut buf = PoolBuf::with_align(64 * PAGE, PAGE);
    let mut slab = Slab::new(PoolPages::new(buf.slice(), PAGE).unwrap()).unwrap();
    let sizes = if MIRI { 1..=80 } else { 1..=1792 };
    for size in sizes.step_by(7) {
        for align in [1, 2, 8, 16, 32, 64, 128, 256, 512, 1024] {
            let l = layout(size, align);
            let Ok(object) = slab.allocate(l) else {
                assert!(l.pad_to_align().size() > slab.max_class(), "{l:?}");
                continue;
            };
            assert_eq!(object.cast::<u8>().as_ptr().addr() % align, 0, "{l:?}");
            assert!(object.len() >= size);
            // SAFETY: allocated just above with `l`.
            unsafe { slab.deallocate(object.cast(), l) };
        }
    }
    slab.check().unwrap();
    assert_eq!(slab.stats().live(), 0);
}

#[test]
fn requests_above_the_largest_class_are_refused() {
    let mut buf = PoolBuf::with_align(8 * PAGE, PAGE);
    let mut slab = Slab::new(PoolPages::new(buf.slice(), PAGE).unwrap()).unwrap();
    assert_eq!(slab.max_class(), 1792);
    assert!(slab.allocate(layout(1792, 8)).is_ok());
    assert_eq!(slab.allocate(layout(1793, 8)), Err(AllocError));
    assert_eq!(slab.allocate(layout(8, 4096)), Err(AllocError));
    assert_eq!(
        slab.allocate(layout(isize::MAX as usize - 7, 8)),
        Err(AllocError)
    );
    let zero = slab.allocate(layout(0, 64)).unwrap();
    assert_eq!(zero.len(), 0);
    assert_eq!(zero.cast::<u8>().as_ptr().addr() % 64, 0);
    assert_eq!(slab.stats().failures, 3);
}

#[test]
fn with_max_class_limits_the_classes() {
    let mut buf = PoolBuf::with_align(8 * PAGE, PAGE);
    let pages = PoolPages::new(buf.slice(), PAGE).unwrap();
    let slab = Slab::with_max_class(pages, 100).unwrap();
    assert_eq!(slab.max_class(), 96);
    let sizes: std::vec::Vec<usize> = (0..)
        .map_while(|c| slab.class_stats(c))
        .map(|c| c.size)
        .collect();
    assert_eq!(sizes, CLASS_SIZES[..10]);
}

#[test]
fn pages_of_one_slot_fill_and_empty() {
    // With every class up to 4 KiB allowed, 4 KiB pages hold one slot of
    // the 2 KiB to 3.5 KiB classes: every allocation takes a page and every
    // free fills or empties one.
    let mut buf = PoolBuf::with_align(8 * PAGE, PAGE);
    let pages = PoolPages::new(buf.slice(), PAGE).unwrap();
    let mut slab = Slab::with_max_class(pages, 4096).unwrap();
    let l = layout(3000, 8);
    let class = (0..)
        .map_while(|c| slab.class_stats(c))
        .find(|c| c.size >= 3000);
    assert_eq!(class.unwrap().slots_per_page, 1);
    for round in 0..3 {
        let mut objects = fill_up(&mut slab, l);
        assert_eq!(objects.len(), 8, "round {round}");
        slab.check().unwrap();
        // Out of order: middle, ends, the rest.
        objects.swap(0, 4);
        for object in objects {
            // SAFETY: live, allocated with `l`.
            unsafe { slab.deallocate(object, l) };
            slab.check().unwrap();
        }
        assert_eq!(slab.stats().live(), 0);
        assert!(slab.stats().capacity <= PAGE, "at most the spare is kept");
    }
    // A page unfilled while the active page is full: `b`'s page retires to
    // the full list and `a`'s, empty, becomes the spare.
    let a = slab.allocate(l).unwrap().cast::<u8>();
    let b = slab.allocate(l).unwrap().cast::<u8>();
    // SAFETY: live, allocated with `l`.
    unsafe { slab.deallocate(a, l) };
    slab.check().unwrap();
    assert_eq!((slab.stats().live(), slab.stats().capacity), (1, 2 * PAGE));
    // SAFETY: live, allocated with `l`.
    unsafe { slab.deallocate(b, l) };
    slab.check().unwrap();
    assert_eq!((slab.stats().live(), slab.stats().capacity), (0, PAGE));
}

#[test]
fn bad_page_sizes_are_pool_errors() {
    let mut buf = PoolBuf::new(8 * PAGE);
    for size in [0, 256, 1000, 3 << 20, 4 << 20] {
        assert!(matches!(
            PoolPages::new(buf.slice(), size),
            Err(PoolError::PageSize { .. })
        ));
        assert!(matches!(
            Heap::with_page_size(buf.slice(), size),
            Err(PoolError::PageSize { .. })
        ));
    }
    let mut tiny = PoolBuf::new(PAGE);
    assert!(matches!(
        PoolPages::new(&mut tiny.slice()[1..], PAGE),
        Err(PoolError::TooSmall { .. })
    ));
}

#[test]
fn class_stats_follow_the_objects() {
    let mut buf = PoolBuf::with_align(16 * PAGE, PAGE);
    let arena = Arena::new(Slab::new(PoolPages::new(buf.slice(), PAGE).unwrap()).unwrap());
    let boxes: std::vec::Vec<_> = (0..200u64).map(|i| Box::new_in(i, &arena)).collect();
    let strings: std::vec::Vec<_> = (0..10).map(|_| Box::new_in([0u8; 100], &arena)).collect();
    let stats = arena.stats();
    assert_eq!(stats.live(), 210);
    assert_eq!(stats.in_use, 200 * 8 + 10 * 112);
    let classes: std::vec::Vec<_> = (0..).map_while(|c| arena.class_stats(c)).collect();
    assert_eq!(classes.len(), 27);
    let eight = classes.iter().find(|c| c.size == 8).unwrap();
    assert_eq!((eight.live, eight.pages), (200, 1));
    let hundred = classes.iter().find(|c| c.size == 112).unwrap();
    assert_eq!((hundred.live, hundred.pages), (10, 1));
    drop((boxes, strings));
    assert_eq!(arena.stats().live(), 0);
    arena.check().unwrap();
}

#[test]
fn collections_on_a_slab_arena() {
    let mut buf = PoolBuf::with_align(64 * PAGE, PAGE);
    let arena = Arena::new(Slab::new(PoolPages::new(buf.slice(), PAGE).unwrap()).unwrap());
    let mut map = hashbrown::HashMap::new_in(&arena);
    // A table of 32 buckets still fits the largest class (1792 bytes).
    let n = 20;
    for i in 0..n {
        map.insert(i, Box::new_in([i; 4], &arena));
    }
    for i in 0..n {
        assert_eq!(*map[&i], [i; 4]);
    }
    let mut v: Vec<u32, _> = Vec::new_in(&arena);
    v.extend(0..200);
    assert!(v.try_reserve(100_000).is_err(), "beyond the largest class");
    assert_eq!(v.iter().sum::<u32>(), 199 * 200 / 2);
    drop((map, v));
    assert_eq!(arena.stats().live(), 0);
    arena.check().unwrap();
}

#[test]
fn heap_routes_by_size_and_resizes_across_the_boundary() {
    let mut buf = PoolBuf::new(if MIRI { 64 << 10 } else { 1 << 20 });
    let mut arena = Arena::new(Heap::with_page_size(buf.slice(), 4096).unwrap());
    let max = arena.get_mut().max_class();
    assert_eq!(max, 896);
    let mut v: Vec<u8, _> = Vec::new_in(&arena);
    // Grows through every slab class into the TLSF and back down.
    for i in 0..(4 * max) {
        v.push(i as u8);
    }
    assert!(v.capacity() > max);
    v.truncate(10);
    v.shrink_to_fit();
    assert!(v.capacity() < max);
    assert_eq!(v[..], (0..10).collect::<std::vec::Vec<u8>>()[..]);
    let big = Box::new_in([7u8; 5000], &arena);
    let small = Box::new_in(3u16, &arena);
    assert_eq!((big[4999], *small), (7, 3));
    drop((v, big, small));
    let stats = arena.stats();
    assert_eq!((stats.live(), stats.in_use), (0, 0), "{stats:?}");
    arena.check().unwrap();
}

#[test]
fn a_small_heap_serves_its_sixteen_classes_and_no_more() {
    let mut buf = PoolBuf::new(64 << 10);
    // 16 KiB pages would fit classes up to 3584 bytes; the small heap has
    // room for the 16 smallest only.
    let mut arena = Arena::new(SmallHeap::with_page_size(buf.slice(), 16 << 10).unwrap());
    assert_eq!(arena.get_mut().max_class(), 256);
    assert!(arena.class_stats(15).is_some() && arena.class_stats(16).is_none());
    let slot = Box::new_in([1u8; 256], &arena);
    let block = Box::new_in([2u8; 300], &arena);
    assert_eq!(arena.class_stats(15).unwrap().live, 1);
    assert_eq!((slot[255], block[299], arena.stats().live()), (1, 2, 2));
    drop((slot, block));
    arena.check().unwrap();
}

/// A heap whose pool cannot hold a page would fail every small request, so
/// it refuses the pool; one it accepts serves a small request wherever the
/// pool lies, from a slab page.
#[test]
fn a_heap_refuses_a_pool_that_cannot_hold_a_page() {
    const PAGE_512: usize = 512;
    let mut buf = PoolBuf::new(4 * PAGE_512);
    let Err(PoolError::TooSmall { min, .. }) =
        SmallHeap::with_page_size(&mut buf.slice()[..64], PAGE_512)
    else {
        panic!("a 64-byte pool was accepted");
    };
    // A page and a few dozen bytes: the page table, the TLSF's overhead and
    // the pool's alignment.
    assert!((PAGE_512..PAGE_512 + 64).contains(&min), "{min}");
    for len in [PAGE_512, min - 1] {
        let err = SmallHeap::with_page_size(&mut buf.slice()[..len], PAGE_512).unwrap_err();
        assert!(
            matches!(err, PoolError::TooSmall { .. }),
            "len {len}: {err:?}"
        );
    }
    let byte = Layout::new::<u8>();
    for offset in (0..PAGE_512).step_by(GRANULE) {
        let pool = &mut buf.slice()[offset..offset + min];
        let mut heap = SmallHeap::with_page_size(pool, PAGE_512).unwrap();
        assert!(heap.allocate(byte).is_ok(), "offset {offset}");
        assert_eq!(heap.class_stats(0).unwrap().live, 1, "offset {offset}");
        heap.check().unwrap();
    }
}

#[test]
fn heap_slab_and_tlsf_share_the_pool() {
    let len = if MIRI { 32 << 10 } else { 256 << 10 };
    let mut buf = PoolBuf::new(len);
    let arena = Arena::new(Heap::new(buf.slice()).unwrap());
    // Fill the pool with small objects, free them: the pages go back to the
    // TLSF (but the spare), and one large block can take nearly all of it.
    let small = layout(32, 8);
    let mut objects = std::vec::Vec::new();
    while let Ok(object) = arena.allocate(small) {
        objects.push(object.cast::<u8>());
    }
    assert!(objects.len() * 32 > len / 2, "{}", objects.len());
    for object in objects {
        // SAFETY: live, allocated with `small`.
        unsafe { arena.deallocate(object, small) };
    }
    let stats = arena.stats();
    assert_eq!(stats.in_use, 0);
    let large = layout(stats.largest_free - 64, 8);
    let block = arena
        .allocate(large)
        .expect("the pages came back to the TLSF");
    // SAFETY: allocated just above.
    unsafe { arena.deallocate(block.cast(), large) };
    arena.check().unwrap();
}

#[test]
fn heap_exhaustion_keeps_everything() {
    let mut buf = PoolBuf::new(if MIRI { 16 << 10 } else { 64 << 10 });
    let arena = Arena::new(Heap::new(buf.slice()).unwrap());
    let mut live = std::vec::Vec::new();
    let mut failed = std::vec::Vec::new();
    for (id, size) in [24usize, 2000, 100, 9000].iter().cycle().enumerate() {
        let l = layout(*size, 8);
        match arena.allocate(l) {
            Ok(block) => {
                // SAFETY: fresh block of `size` bytes.
                unsafe { fill(block.cast(), *size, id as u64) };
                live.push((block.cast::<u8>(), l, id as u64));
            }
            Err(AllocError) if failed.len() < 3 => failed.push(l),
            Err(AllocError) => break,
        }
    }
    // Asking again for what failed fails again and changes nothing live.
    let before = arena.stats();
    for l in &failed {
        assert_eq!(arena.allocate(*l), Err(AllocError));
    }
    let after = arena.stats();
    assert_eq!(after.live(), before.live());
    assert_eq!(after.in_use, before.in_use);
    assert_eq!(after.failures, before.failures + failed.len() as u64);
    arena.check().unwrap();
    for (ptr, l, id) in live {
        // SAFETY: still live with its pattern.
        unsafe {
            verify(ptr, l.size(), id, "after exhaustion");
            arena.deallocate(ptr, l);
        }
    }
    assert_eq!(arena.stats().live(), 0);
    arena.check().unwrap();
}

/// Allocates `size`-byte blocks until one fails, then frees every other:
/// the heap keeps half its memory free in holes of that size.
fn holes(arena: &Arena<Heap<'_>>, size: usize) -> std::vec::Vec<NonNull<u8>> {
    let l = layout(size, 8);
    let mut blocks = std::vec::Vec::new();
    while let Ok(block) = arena.allocate(l) {
        blocks.push(block.cast::<u8>());
    }
    let mut kept = std::vec::Vec::new();
    for (i, block) in blocks.into_iter().enumerate() {
        if i % 2 == 0 {
            // SAFETY: live, allocated with `l`.
            unsafe { arena.deallocate(block, l) };
        } else {
            kept.push(block);
        }
    }
    kept
}

/// A page of the heap is an ordinary TLSF block, not a page-aligned one: a
/// class gets a page from any hole that holds one (before, an 8-byte request
/// failed with half of this pool free in 584-byte holes).
#[test]
fn a_heap_takes_pages_from_holes_that_hold_one() {
    let mut buf = PoolBuf::new(64 << 10);
    let arena = Arena::new(Heap::new(buf.slice()).unwrap());
    let kept = holes(&arena, 584);
    assert!(arena.stats().free > 30_000, "{:?}", arena.stats());
    let small = arena.allocate(layout(8, 8)).unwrap();
    assert_eq!(arena.class_stats(0).unwrap().pages, 1);
    // SAFETY: live, allocated with that layout.
    unsafe { arena.deallocate(small.cast(), layout(8, 8)) };
    for block in kept {
        // SAFETY: live, allocated by `holes` with 584 bytes.
        unsafe { arena.deallocate(block, layout(584, 8)) };
    }
    assert_eq!(arena.stats().live(), 0);
    arena.check().unwrap();
}

/// A small request whose class can get no page (every hole is smaller
/// than a page) takes a TLSF block: it fails only when no block holds it.
/// Such a block is freed and resized as the TLSF's.
#[test]
fn a_small_request_with_no_page_takes_a_tlsf_block() {
    let mut buf = PoolBuf::new(if MIRI { 16 << 10 } else { 64 << 10 });
    let arena = Arena::new(Heap::new(buf.slice()).unwrap());
    let kept = holes(&arena, 300);
    let before = arena.stats();
    let small = layout(24, 8);
    let block = arena.allocate(small).unwrap();
    assert_eq!(
        arena.class_stats(2).unwrap().pages,
        0,
        "served by a slab page"
    );
    // SAFETY: a fresh block of at least 24 bytes.
    unsafe { fill(block.cast(), 24, 7) };
    let stats = arena.stats();
    assert_eq!(
        (stats.live(), stats.failures),
        (before.live() + 1, before.failures)
    );
    // SAFETY: live with its pattern; grown (in place or moved) and shrunk
    // back as the TLSF's, then freed with its layout.
    unsafe {
        let grown = arena.grow(block.cast(), small, layout(40, 8)).unwrap();
        verify(grown.cast(), 24, 7, "grown");
        let shrunk = arena.shrink(grown.cast(), layout(40, 8), small).unwrap();
        verify(shrunk.cast(), 24, 7, "shrunk");
        arena.deallocate(shrunk.cast(), small);
    }
    arena.check().unwrap();
    for block in kept {
        // SAFETY: live, allocated by `holes` with 300 bytes.
        unsafe { arena.deallocate(block, layout(300, 8)) };
    }
    let end = arena.stats();
    assert_eq!((end.live(), end.failures), (0, before.failures), "{end:?}");
    arena.check().unwrap();
}

/// A zero-size allocation's dangling pointer is its alignment; where pages
/// are not aligned to their size (a heap's) it may equal a live slot's
/// address. Freeing it must not free the slot.
#[test]
fn a_zero_size_free_at_a_slots_address_frees_nothing() {
    let mut buf = PoolBuf::new(64 << 10);
    let arena = Arena::new(Heap::new(buf.slice()).unwrap());
    let l = layout(16, 8);
    let slot = arena.allocate(l).unwrap().cast::<u8>();
    // SAFETY: as if `slot`'s address were a zero-size allocation's dangling
    // pointer (its alignment): a zero-size free is a no-op.
    unsafe { arena.deallocate(slot, layout(0, 8)) };
    let other = arena.allocate(l).unwrap().cast::<u8>();
    assert_ne!(slot, other);
    assert_eq!(arena.stats().live(), 2);
    // SAFETY: both live, with `l`.
    unsafe {
        arena.deallocate(slot, l);
        arena.deallocate(other, l);
    }
    arena.check().unwrap();
}

/// A large block shrunk in place to a small layout stays the TLSF's: freed
/// with the small layout, it goes back to the TLSF, not to a class.
#[test]
fn a_large_block_shrunk_to_a_small_layout_is_freed_as_the_tlsfs() {
    let mut buf = PoolBuf::new(64 << 10);
    let arena = Arena::new(Heap::new(buf.slice()).unwrap());
    let (large, small) = (layout(600, 8), layout(24, 8));
    let block = arena.allocate(large).unwrap().cast::<u8>();
    // SAFETY: a fresh block of 600 bytes, then shrunk and freed with the
    // layout it has.
    unsafe {
        fill(block, 24, 3);
        let shrunk = arena.shrink(block, large, small).unwrap().cast::<u8>();
        verify(shrunk, 24, 3, "shrunk");
        arena.deallocate(shrunk, small);
    }
    assert_eq!(arena.class_stats(2).unwrap().live, 0);
    assert_eq!(arena.stats().live(), 0);
    arena.check().unwrap();
}

/// A heap with a second pool serves from both, and finds the pages of
/// both (each pool has its page table).
#[test]
fn a_heap_serves_from_every_pool() {
    let len = if MIRI { 8 << 10 } else { 32 << 10 };
    let (mut a, mut b) = (PoolBuf::new(len), PoolBuf::new(len));
    let b_start = b.base().as_ptr().addr();
    let mut heap = Heap::with_page_size(a.slice(), 512).unwrap();
    heap.add_pool(b.slice()).unwrap();
    let arena = Arena::new(heap);
    let mut live = std::vec::Vec::new();
    for (id, size) in [24usize, 300, 8, 1000].iter().cycle().enumerate() {
        let l = layout(*size, 8);
        let Ok(block) = arena.allocate(l) else { break };
        // SAFETY: a fresh block of `size` bytes.
        unsafe { fill(block.cast(), *size, id as u64) };
        live.push((block.cast::<u8>(), l, id as u64));
    }
    let in_b = |p: &NonNull<u8>| (b_start..b_start + len).contains(&p.as_ptr().addr());
    assert!(
        live.iter().any(|(p, l, _)| l.size() == 8 && in_b(p)),
        "no slot in the second pool"
    );
    arena.check().unwrap();
    // Every other block first, then the rest: pages of both pools empty.
    let (odd, even): (std::vec::Vec<_>, std::vec::Vec<_>) =
        live.into_iter().enumerate().partition(|(i, _)| i % 2 == 1);
    for (_, (ptr, l, id)) in even.into_iter().chain(odd) {
        // SAFETY: live with its pattern and layout.
        unsafe {
            verify(ptr, l.size(), id, "before the free");
            arena.deallocate(ptr, l);
        }
    }
    assert_eq!(arena.stats().live(), 0);
    arena.check().unwrap();
}

/// When no block of the pool holds a page, a class takes another class's
/// empty page instead of failing.
#[test]
fn a_class_with_no_page_takes_another_classs_spare() {
    let mut buf = PoolBuf::new(16 << 10);
    let arena = Arena::new(SmallHeap::with_page_size(buf.slice(), 512).unwrap());
    // Class 0 (8 B) keeps an empty page once its one object is freed.
    let spare = arena.allocate(layout(8, 8)).unwrap().cast::<u8>();
    // SAFETY: live, allocated with that layout.
    unsafe { arena.deallocate(spare, layout(8, 8)) };
    assert_eq!(arena.class_stats(0).unwrap().pages, 1);
    // 48-byte objects until the pool is full: once no free block holds a
    // page, class 5 takes class 0's.
    let l = layout(48, 8);
    let mut objects = std::vec::Vec::new();
    while let Ok(object) = arena.allocate(l) {
        objects.push(object.cast::<u8>());
    }
    assert_eq!(arena.class_stats(0).unwrap().pages, 0);
    let stats = arena.stats();
    assert_eq!((stats.live(), stats.failures), (objects.len() as u64, 1));
    for object in objects {
        // SAFETY: live, allocated with `l`.
        unsafe { arena.deallocate(object, l) };
    }
    assert_eq!(arena.stats().live(), 0);
    arena.check().unwrap();
}

#[cfg(debug_assertions)]
mod misuse {
    use super::*;

    #[test]
    #[should_panic(expected = "double free")]
    fn double_free_panics() {
        let mut buf = PoolBuf::with_align(4 * PAGE, PAGE);
        let mut slab = Slab::new(PoolPages::new(buf.slice(), PAGE).unwrap()).unwrap();
        let l = layout(32, 8);
        let _keep = slab.allocate(l).unwrap();
        let object = slab.allocate(l).unwrap();
        // SAFETY: deliberately freed twice: the second free must panic.
        unsafe {
            slab.deallocate(object.cast(), l);
            slab.deallocate(object.cast(), l);
        }
    }

    #[test]
    #[should_panic(expected = "double free")]
    fn double_free_of_the_latest_heap_object_panics() {
        let mut buf = PoolBuf::with_align(16 * PAGE, PAGE);
        let mut heap = Heap::new(buf.slice()).unwrap();
        let l = layout(32, 8);
        let object = heap.allocate(l).unwrap();
        // SAFETY: deliberately freed twice: the second free must panic.
        unsafe {
            heap.deallocate(object.cast(), l);
            heap.deallocate(object.cast(), l);
        }
    }

    #[test]
    #[should_panic(expected = "wrong layout")]
    fn the_latest_heap_object_freed_as_a_large_block_panics() {
        let mut buf = PoolBuf::with_align(16 * PAGE, PAGE);
        let mut heap = Heap::new(buf.slice()).unwrap();
        let object = heap.allocate(layout(32, 8)).unwrap();
        // SAFETY: deliberately a layout of the TLSF's: must panic.
        unsafe { heap.deallocate(object.cast(), layout(8000, 8)) };
    }

    #[test]
    #[should_panic(expected = "wrong layout")]
    fn wrong_class_panics() {
        let mut buf = PoolBuf::with_align(4 * PAGE, PAGE);
        let mut slab = Slab::new(PoolPages::new(buf.slice(), PAGE).unwrap()).unwrap();
        let object = slab.allocate(layout(32, 8)).unwrap();
        // SAFETY: deliberately the wrong layout: must panic.
        unsafe { slab.deallocate(object.cast(), layout(200, 8)) };
    }

    #[test]
    #[should_panic(expected = "foreign pointer")]
    fn foreign_pointer_panics() {
        let mut buf = PoolBuf::with_align(4 * PAGE, PAGE);
        let mut slab = Slab::new(PoolPages::new(buf.slice(), PAGE).unwrap()).unwrap();
        let mut other = [0u64; 4];
        // SAFETY: deliberately foreign: must panic.
        unsafe { slab.deallocate(NonNull::from(&mut other).cast(), layout(32, 8)) };
    }

    #[test]
    #[should_panic(expected = "foreign pointer")]
    fn a_low_foreign_pointer_into_a_class_without_pages_panics() {
        // Address 8 is below the slot end: with no active page its offset
        // passes the range check that live objects rely on.
        let mut buf = PoolBuf::with_align(4 * PAGE, PAGE);
        let mut slab = Slab::new(PoolPages::new(buf.slice(), PAGE).unwrap()).unwrap();
        // SAFETY: deliberately foreign: must panic.
        unsafe { slab.deallocate(NonNull::<u64>::dangling().cast(), layout(32, 8)) };
    }
}

/// A page source that counts the pages it has out, to see what a heap
/// gives back when it is dropped.
struct Counting<'a, S> {
    inner: S,
    out: &'a std::cell::Cell<usize>,
}

// SAFETY: every call forwards to `inner`, which keeps the contract.
unsafe impl<S: PageSource> PageSource for Counting<'_, S> {
    fn page_size(&self) -> usize {
        self.inner.page_size()
    }

    fn allocate_page(&mut self) -> Result<NonNull<u8>, AllocError> {
        let page = self.inner.allocate_page()?;
        self.out.set(self.out.get() + 1);
        Ok(page)
    }

    unsafe fn deallocate_page(&mut self, page: NonNull<u8>) {
        self.out.set(self.out.get() - 1);
        // SAFETY: forwarded.
        unsafe { self.inner.deallocate_page(page) }
    }

    fn page_containing(&self, addr: usize) -> Option<NonNull<u8>> {
        self.inner.page_containing(addr)
    }

    fn pages_merge(&self) -> bool {
        self.inner.pages_merge()
    }
}

#[test]
fn dropping_a_slab_or_a_growing_tlsf_gives_every_page_back() {
    let mut buf = PoolBuf::with_align(32 * PAGE, PAGE);
    let out = std::cell::Cell::new(0);
    {
        let pages = PoolPages::new(buf.slice(), PAGE).unwrap();
        let arena = Arena::new(
            Slab::new(Counting {
                inner: pages,
                out: &out,
            })
            .unwrap(),
        );
        let boxes: std::vec::Vec<_> = (0..600u64).map(|i| Box::new_in(i, &arena)).collect();
        let strings: std::vec::Vec<_> = (0..20).map(|_| Box::new_in([1u8; 1000], &arena)).collect();
        assert!(out.get() >= 2 + 20 / 4);
        // Leaked on purpose (the std `Vec`s holding them are freed): dropping
        // the arena still gives their pages back.
        boxes.into_iter().for_each(std::mem::forget);
        strings.into_iter().for_each(std::mem::forget);
    }
    assert_eq!(out.get(), 0);
    {
        let pages = PoolPages::new(buf.slice(), PAGE).unwrap();
        let arena = Arena::new(rtarena::GrowingTlsf::new(Counting {
            inner: pages,
            out: &out,
        }));
        let mut v: Vec<u64, _> = Vec::new_in(&arena);
        v.extend(0..10_000);
        assert!(out.get() >= 10_000 * 8 / PAGE);
        assert_eq!(arena.stats().failures, 0, "growing is not a failure");
        let big = Box::new_in([7u8; 5 * PAGE], &arena);
        assert_eq!(big[5 * PAGE - 1], 7);
        std::mem::forget(v);
        std::mem::forget(big);
    }
    assert_eq!(out.get(), 0);
}

#[test]
fn a_growing_tlsf_fails_cleanly_when_the_source_is_dry() {
    let mut buf = PoolBuf::with_align(4 * PAGE, PAGE);
    let pages = PoolPages::new(buf.slice(), PAGE).unwrap();
    let mut tlsf = rtarena::GrowingTlsf::new(pages);
    let l = layout(3 * PAGE, 8);
    let block = tlsf.allocate(l).unwrap();
    let before = tlsf.stats();
    assert_eq!(tlsf.allocate(l), Err(AllocError));
    let after = tlsf.stats();
    assert_eq!(
        (after.in_use, after.failures),
        (before.in_use, before.failures + 1)
    );
    tlsf.check().unwrap();
    // SAFETY: allocated above with `l`.
    unsafe { tlsf.deallocate(block.cast(), l) };
    assert!(tlsf.allocate(l).is_ok(), "the freed pages serve it again");
}

#[test]
fn a_large_heap_request_takes_the_slabs_spare_page_back() {
    let mut buf = PoolBuf::new(64 << 10);
    let arena = Arena::new(Heap::with_page_size(buf.slice(), PAGE).unwrap());
    // Five classes each take a page and empty it: the last keeps its page
    // as the spare (each of the others went back when the next one took
    // the spare over).
    for size in [16, 32, 64, 128, 256] {
        let l = layout(size, 8);
        let object = arena.allocate(l).unwrap();
        // SAFETY: allocated just above.
        unsafe { arena.deallocate(object.cast(), l) };
    }
    let before = arena.stats();
    assert!(before.largest_free < 60 << 10, "{before:?}");
    let big = layout(60 << 10, 8);
    let block = arena
        .allocate(big)
        .expect("the spare page went back to the TLSF");
    assert_eq!(
        arena.stats().failures,
        before.failures,
        "served, so not a failure"
    );
    // SAFETY: allocated just above.
    unsafe { arena.deallocate(block.cast(), big) };
    arena.check().unwrap();
}

#[test]
fn a_large_heap_request_fails_only_once_the_spare_page_went_back() {
    let mut buf = PoolBuf::new(64 << 10);
    let mut heap = Heap::with_page_size(buf.slice(), PAGE).unwrap();
    // Two classes each hold a page with one live object.
    let small = [layout(16, 8), layout(32, 8)];
    let objects = small.map(|l| (heap.allocate(l).unwrap(), l));
    // Large blocks fill the rest of the pool, the largest first, until
    // even a block just above the slab's classes finds no room.
    let mut large = std::vec::Vec::new();
    let mut size = 16 << 10;
    while size > heap.max_class() {
        let l = layout(size, 8);
        match heap.allocate(l) {
            Ok(block) => large.push((block, l)),
            Err(AllocError) => size /= 2,
        }
    }
    // Both pages empty: the first class keeps its page as the spare until
    // the second, freeing its latest allocation, takes the spare over; the
    // first one's page goes back to the TLSF.
    for (object, l) in objects {
        // SAFETY: allocated above with `l`.
        unsafe { heap.deallocate(object.cast(), l) };
    }
    heap.check().unwrap();
    let failures = heap.stats().failures;
    // Requests that one page holds: the first takes the page the TLSF got
    // back, the second the spare, given back for it; the third finds no
    // room and fails, changing nothing.
    let one_page = layout(PAGE - rtarena::tlsf::config::HEADER, 8);
    let first = heap.allocate(one_page).expect("a free TLSF block");
    let second = heap.allocate(one_page).expect("the spare page went back");
    assert_eq!(heap.stats().failures, failures, "served, so not a failure");
    assert_eq!(heap.trim(), 0, "no spare page is left");
    let before = heap.stats();
    assert!(before.largest_free < one_page.size(), "{before:?}");
    assert_eq!(heap.allocate(one_page), Err(AllocError));
    assert_eq!(
        heap.stats(),
        rtarena::Stats {
            failures: before.failures + 1,
            ..before
        }
    );
    heap.check().unwrap();
    for (block, l) in [(first, one_page), (second, one_page)]
        .into_iter()
        .chain(large)
    {
        // SAFETY: allocated above with `l`.
        unsafe { heap.deallocate(block.cast(), l) };
    }
    heap.check().unwrap();
    assert_eq!(heap.stats().in_use, 0);
}

#[test]
fn a_large_heap_request_too_large_even_with_the_spare_page_fails_and_keeps_everything() {
    let mut buf = PoolBuf::new(64 << 10);
    let mut heap = Heap::with_page_size(buf.slice(), PAGE).unwrap();
    // A large block, a live object of one class, and a class that empties
    // its page, the last one taken (next to the pool's free tail), which
    // it keeps as the spare.
    let large = layout(8 << 10, 8);
    let block = heap.allocate(large).unwrap();
    let kept = layout(16, 8);
    let live = heap.allocate(kept).unwrap();
    let temporary = layout(64, 8);
    let object = heap.allocate(temporary).unwrap();
    // SAFETY: allocated above with `temporary`.
    unsafe { heap.deallocate(object.cast(), temporary) };
    // SAFETY: `live` was allocated with `kept`.
    unsafe { live.cast::<u8>().as_ptr().write_bytes(0xA5, kept.size()) };
    let before = heap.stats();
    // More than the whole pool: the spare goes back, and the request still
    // fails, with one failure counted and every live object where it was.
    let too_large = layout(before.capacity, 8);
    assert_eq!(heap.allocate(too_large), Err(AllocError));
    let after = heap.stats();
    assert_eq!(after.failures, before.failures + 1, "one call, one failure");
    assert_eq!(
        (after.allocations, after.deallocations, after.in_use),
        (before.allocations, before.deallocations, before.in_use),
        "{before:?} -> {after:?}"
    );
    assert!(after.free >= before.free, "{before:?} -> {after:?}");
    assert_eq!(heap.trim(), 0, "the spare page went back");
    heap.check().unwrap();
    // SAFETY: `live` is live with `kept`'s size.
    let bytes = unsafe { core::slice::from_raw_parts(live.cast::<u8>().as_ptr(), kept.size()) };
    assert!(bytes.iter().all(|&b| b == 0xA5));
    // The page went back to the TLSF and merged with the free tail.
    assert!(
        after.largest_free > before.largest_free,
        "{before:?} -> {after:?}"
    );
    // SAFETY: allocated above with their layouts.
    unsafe {
        heap.deallocate(block.cast(), large);
        heap.deallocate(live.cast(), kept);
    }
    heap.check().unwrap();
    assert_eq!(heap.stats().in_use, 0);
}

#[test]
fn a_growing_tlsf_refuses_what_its_source_cannot_give_before_taking_pages() {
    let mut buf = PoolBuf::with_align(8 * PAGE, PAGE);
    let pages = PoolPages::new(buf.slice(), PAGE).unwrap();
    let mut tlsf = rtarena::GrowingTlsf::new(pages);
    for size in [isize::MAX as usize / 2, 9 * PAGE] {
        assert_eq!(tlsf.allocate(layout(size, 8)), Err(AllocError));
        assert_eq!(tlsf.source().pages_in_use(), 0, "no page taken for {size}");
    }
    assert_eq!(tlsf.stats().failures, 2);
    assert!(tlsf.allocate(layout(7 * PAGE, 8)).is_ok());
}

#[test]
fn a_run_of_pages_that_fails_leaves_the_next_run_possible() {
    let mut buf = PoolBuf::with_align(4 * PAGE, PAGE);
    let mut pages = PoolPages::new(buf.slice(), PAGE).unwrap();
    // Five pages cannot be had: the four taken go back...
    assert_eq!(pages.allocate_pages(5), Err(AllocError));
    assert_eq!(pages.pages_in_use(), 0);
    // ...in an order that hands them out in address order again.
    let run = pages.allocate_pages(4).expect("four consecutive pages");
    for index in (0..4).rev() {
        // SAFETY: page `index` of the run just taken, unused.
        unsafe { pages.deallocate_page(run.add(index * PAGE)) };
    }
}

#[test]
fn a_heap_reset_frees_everything_at_once() {
    let mut buf = PoolBuf::new(64 << 10);
    let mut arena = Arena::new(Heap::with_page_size(buf.slice(), PAGE).unwrap());
    let fresh = arena.stats();
    let mut small = Vec::new_in(&arena);
    for i in 0..500u64 {
        small.push(Box::new_in(i, &arena));
    }
    let large: Vec<u8, _> = Vec::with_capacity_in(20_000, &arena);
    core::mem::forget((small, large));
    assert!(arena.stats().live() > 500);
    let heap = arena.get_mut();
    heap.reset();
    heap.check().unwrap();
    let stats = heap.stats();
    assert_eq!(stats.live(), 0);
    assert_eq!((stats.capacity, stats.free), (fresh.capacity, fresh.free));
    assert_eq!(
        stats.largest_free, fresh.largest_free,
        "one free block again"
    );
    // `largest_free` is a block's size, its header included.
    let all = layout(fresh.largest_free - rtarena::tlsf::config::HEADER, 8);
    let block = heap.allocate(all).expect("the whole pool is free again");
    // SAFETY: allocated just above.
    unsafe { heap.deallocate(block.cast(), all) };
    heap.check().unwrap();
}

/// `Heap::new` takes pages of the pool's square root (a power of two, 512 B
/// to 16 KiB), and a heap's slab serves classes up to `LARGEST_CLASS`
/// whatever its page size: larger requests take TLSF blocks.
#[test]
fn a_heaps_pages_follow_the_pool_and_its_classes_stop_at_1_kib() {
    let page = Heap::default_page_size;
    assert_eq!(
        [0, 16 << 10, 1 << 20, 3 << 20, 64 << 20, 1 << 30].map(page),
        [512, 512, 1024, 1024, 8192, 16 << 10]
    );
    assert_eq!(Heap::LARGEST_CLASS, 1024);
    let mut buf = PoolBuf::new(64 << 10);
    let mut heap = Heap::with_page_size(buf.slice(), 16 << 10).unwrap();
    assert_eq!(heap.max_class(), Heap::LARGEST_CLASS);
    let slab_pages = |heap: &Heap<'_>| {
        (0..)
            .map_while(|class| heap.class_stats(class))
            .map(|stats| stats.pages)
            .sum::<usize>()
    };
    for (size, pages) in [(1024, 1), (1025, 0)] {
        let object = heap.allocate(layout(size, 8)).unwrap();
        assert_eq!(slab_pages(&heap), pages, "{size} B");
        // SAFETY: allocated just above.
        unsafe { heap.deallocate(object.cast(), layout(size, 8)) };
        heap.trim();
        heap.check().unwrap();
    }
}
