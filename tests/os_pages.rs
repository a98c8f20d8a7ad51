//! `OsPages`: pages mapped from the OS, base and huge, their reserve, the
//! page cap and `page_containing`.
#![cfg(all(feature = "std", unix, not(miri)))]

use std::alloc::Layout;
use std::ptr::NonNull;

use rtarena::AllocError;
use rtarena::pages::{MAX_PAGE, OsPages, PageKind, PageSource};

/// Writes a pattern over the whole page and reads it back.
fn fill_and_check(page: NonNull<u8>, size: usize, seed: u8) {
    let pattern = |i: usize| (i % 251) as u8 ^ seed;
    // SAFETY: the page is `size` bytes the caller holds out of its source.
    let bytes = unsafe { std::slice::from_raw_parts_mut(page.as_ptr(), size) };
    for (i, b) in bytes.iter_mut().enumerate() {
        *b = pattern(i);
    }
    assert!(bytes.iter().enumerate().all(|(i, &b)| b == pattern(i)));
}

/// Takes `n` pages and checks each is aligned, whole and disjoint from the
/// others (distinct, aligned starts of equal size).
fn take(pages: &mut OsPages, n: usize) -> Vec<NonNull<u8>> {
    let size = pages.page_size();
    let taken: Vec<_> = (0..n).map(|_| pages.allocate_page().unwrap()).collect();
    for (i, &page) in taken.iter().enumerate() {
        assert_eq!(page.as_ptr() as usize % size, 0, "page {page:p} misaligned");
        fill_and_check(page, size, i as u8);
    }
    let mut starts: Vec<_> = taken.iter().map(|p| p.as_ptr() as usize).collect();
    starts.sort_unstable();
    starts.dedup();
    assert_eq!(starts.len(), n, "a page was handed out twice");
    taken
}

fn give_back(pages: &mut OsPages, taken: impl IntoIterator<Item = NonNull<u8>>) {
    for page in taken {
        // SAFETY: every page came from `pages` and is given back once.
        unsafe { pages.deallocate_page(page) };
    }
}

#[test]
fn base_pages_are_os_pages() {
    let mut pages = OsPages::new().unwrap();
    assert_eq!(pages.page_size(), rustix::param::page_size());
    let taken = take(&mut pages, 8);
    assert_eq!(pages.pages_in_use(), 8);
    assert_eq!(pages.total_mapped(PageKind::Base), 8);
    assert_eq!(pages.total_mapped(PageKind::HugeTlb), 0);
    assert_eq!(pages.total_mapped(PageKind::TransparentHuge), 0);
    give_back(&mut pages, taken);
    assert_eq!(pages.pages_in_use(), 0);
}

#[test]
fn reserve_keeps_up_to_its_bound() {
    for reserve in [0, 1, 3] {
        let mut pages = OsPages::new().unwrap().with_reserve(reserve);
        let mut taken = take(&mut pages, 6);
        for freed in 1..=4 {
            give_back(&mut pages, taken.pop());
            assert_eq!(pages.pages_in_use(), 6 - freed);
            assert_eq!(pages.pages_mapped(), 6 - freed + freed.min(reserve));
        }
        // The reserve is used before anything new is mapped.
        let mapped = pages.total_mapped(PageKind::Base);
        taken.extend(take(&mut pages, reserve.min(4)));
        assert_eq!(pages.total_mapped(PageKind::Base), mapped);
        assert_eq!(pages.pages_mapped(), pages.pages_in_use());
        give_back(&mut pages, taken);
    }
}

#[test]
fn reserve_default_and_shrinking() {
    let mut pages = OsPages::new().unwrap();
    let taken = take(&mut pages, 4);
    give_back(&mut pages, taken);
    assert_eq!(pages.pages_mapped(), OsPages::DEFAULT_RESERVE);

    let mut pages = pages.with_reserve(4);
    let taken = take(&mut pages, 4);
    give_back(&mut pages, taken);
    assert_eq!(pages.pages_mapped(), 4);
    let pages = pages.with_reserve(1);
    assert_eq!(pages.pages_mapped(), 1);
}

#[test]
fn page_cap_fails_and_recovers() {
    let mut pages = OsPages::new().unwrap().with_max_pages(3);
    let mut taken = take(&mut pages, 3);
    assert_eq!(pages.allocate_page(), Err(AllocError));
    assert_eq!(pages.pages_in_use(), 3);

    give_back(&mut pages, taken.pop());
    taken.extend(take(&mut pages, 1));
    assert_eq!(pages.allocate_page(), Err(AllocError));
    give_back(&mut pages, taken);
}

#[test]
fn page_containing_gives_the_page_start() {
    for mut pages in [OsPages::new().unwrap(), OsPages::huge().unwrap()] {
        let size = pages.page_size();
        let taken = take(&mut pages, 2);
        for &page in &taken {
            for offset in [0, 1, 8, size / 2, size - 1] {
                let addr = page.as_ptr() as usize + offset;
                let found = pages.page_containing(addr).unwrap();
                assert_eq!(found, page);
                // The pointer covers the whole page.
                fill_and_check(found, size, offset as u8);
            }
        }
        give_back(&mut pages, taken);
    }
}

/// Huge pages whether or not the machine has a hugetlb pool: a page that
/// the pool cannot give falls back to an aligned mapping, and the counters
/// say which kind each page was.
#[test]
fn huge_pages_fall_back_and_report_their_kind() {
    let mut pages = OsPages::huge().unwrap().with_reserve(0);
    assert_eq!(pages.page_size(), MAX_PAGE);
    let taken = take(&mut pages, 3);
    let kinds = [PageKind::Base, PageKind::HugeTlb, PageKind::TransparentHuge];
    let total: usize = kinds.iter().map(|&k| pages.total_mapped(k)).sum();
    assert_eq!(total, 3);
    eprintln!(
        "huge pages: {:?}",
        kinds.map(|k| (k, pages.total_mapped(k)))
    );
    if !cfg!(target_os = "linux") {
        assert_eq!(pages.total_mapped(PageKind::Base), 3);
    }
    if cfg!(target_os = "linux") && !hugetlb_configured() {
        // No hugetlb page to be had: every page fell back.
        assert_eq!(pages.total_mapped(PageKind::HugeTlb), 0);
    }
    give_back(&mut pages, taken);
    assert_eq!(pages.pages_mapped(), 0);
}

/// Whether Linux may hand out 2 MiB hugetlb pages at all: its pool or its
/// overcommit is not zero. (How many are free now would race with the other
/// tests.)
fn hugetlb_configured() -> bool {
    let dir = "/sys/kernel/mm/hugepages/hugepages-2048kB";
    ["nr_hugepages", "nr_overcommit_hugepages"]
        .iter()
        .any(|f| std::fs::read_to_string(format!("{dir}/{f}")).is_ok_and(|n| n.trim() != "0"))
}

#[test]
fn dropping_with_a_reserve_and_sending() {
    fn is_send<T: Send>(_: &T) {}
    let mut pages = OsPages::huge().unwrap().with_reserve(2);
    is_send(&pages);
    let taken = take(&mut pages, 3);
    give_back(&mut pages, taken);
    assert_eq!(pages.pages_mapped(), 2);
    std::thread::spawn(move || drop(pages)).join().unwrap();
}

/// A TLSF growing from OS pages: consecutive pages merge into one pool, so
/// the heap grows past `MAX_POOLS` pages, and a request larger than a page
/// takes a run of pages.
#[test]
fn a_growing_tlsf_over_os_pages_is_one_pool() {
    use rtarena::GrowingTlsf;
    use rtarena::tlsf::MAX_POOLS;
    let pages = OsPages::new().unwrap();
    let page = pages.page_size();
    let mut tlsf = GrowingTlsf::new(pages);
    let half = Layout::from_size_align(page / 2, 8).unwrap();
    let mut blocks = Vec::new();
    for _ in 0..4 * MAX_POOLS {
        blocks.push((tlsf.allocate(half).unwrap(), half));
    }
    assert!(tlsf.source().pages_in_use() > MAX_POOLS);
    let large = Layout::from_size_align(10 * page, 4096).unwrap();
    let before = tlsf.source().pages_in_use();
    blocks.push((tlsf.allocate(large).unwrap(), large));
    assert!(tlsf.source().pages_in_use() - before <= 12);
    let capacity = tlsf.stats().capacity;
    assert_eq!(capacity, tlsf.source().pages_in_use() * page - 16);
    tlsf.check().unwrap();
    for (block, layout) in blocks {
        // SAFETY: allocated above with `layout`.
        unsafe { tlsf.deallocate(block.cast(), layout) };
    }
    assert_eq!(tlsf.stats().live(), 0);
    // Freed memory is one free block again: the large block fits without a
    // page more.
    let block = tlsf.allocate(large).unwrap();
    assert_eq!(tlsf.stats().capacity, capacity);
    // SAFETY: allocated just above with `large`.
    unsafe { tlsf.deallocate(block.cast(), large) };
}

/// A cap on the pages: a request beyond it fails before any page is taken,
/// the heap intact, and one within it still succeeds.
#[test]
fn a_growing_tlsf_stops_at_the_page_cap() {
    use rtarena::GrowingTlsf;
    let pages = OsPages::new().unwrap().with_max_pages(8);
    let page = pages.page_size();
    let mut tlsf = GrowingTlsf::new(pages);
    let too_big = Layout::from_size_align(8 * page, 8).unwrap();
    assert_eq!(tlsf.allocate(too_big), Err(AllocError));
    assert_eq!(tlsf.source().pages_in_use(), 0);
    let fits = Layout::from_size_align(7 * page, 8).unwrap();
    let block = tlsf.allocate(fits).unwrap();
    assert_eq!(tlsf.allocate(fits), Err(AllocError));
    tlsf.check().unwrap();
    // SAFETY: allocated above with `fits`.
    unsafe { tlsf.deallocate(block.cast(), fits) };
}

/// Pages given back past the reserve are handed out again (from their
/// range's stack of released pages) before any fresh page, and read as
/// zeros on Linux (their memory went back to the OS).
#[test]
fn released_pages_are_reused_first() {
    let mut pages = OsPages::new().unwrap().with_reserve(0);
    let size = pages.page_size();
    let taken = take(&mut pages, 5);
    let mapped = pages.total_mapped(PageKind::Base);
    give_back(&mut pages, taken.iter().copied());
    assert_eq!(pages.pages_mapped(), 0);
    let again = take(&mut pages, 5);
    assert_eq!(pages.total_mapped(PageKind::Base), mapped);
    let (mut a, mut b): (Vec<_>, Vec<_>) = (taken.clone(), again.clone());
    a.sort_unstable();
    b.sort_unstable();
    assert_eq!(a, b);
    give_back(&mut pages, again);
    if cfg!(target_os = "linux") {
        let page = pages.allocate_page().unwrap();
        // SAFETY: the page is `size` bytes out of `pages`.
        let bytes = unsafe { std::slice::from_raw_parts(page.as_ptr(), size) };
        assert!(bytes.iter().all(|&b| b == 0));
        give_back(&mut pages, [page]);
    }
}

/// A slab on OS pages: after everything is freed and the slab trimmed, the
/// source has no page out and keeps only its reserve mapped.
#[test]
fn a_slab_gives_os_pages_back_down_to_the_reserve() {
    use rtarena::Slab;
    let mut slab = Slab::new(OsPages::new().unwrap().with_reserve(2)).unwrap();
    let layouts = [16, 100, 500].map(|size| Layout::from_size_align(size, 8).unwrap());
    let mut objects = Vec::new();
    for i in 0..3000 {
        let layout = layouts[i % 3];
        objects.push((slab.allocate(layout).unwrap(), layout));
    }
    let held = slab.source().pages_in_use();
    assert!(held >= 3000 / 3 * 500 / slab.source().page_size(), "{held}");
    for (object, layout) in objects {
        // SAFETY: allocated above with `layout`.
        unsafe { slab.deallocate(object.cast(), layout) };
    }
    slab.check().unwrap();
    assert_eq!(slab.source().pages_in_use(), 1, "one class keeps the spare");
    assert_eq!(slab.trim(), 1);
    assert_eq!(slab.source().pages_in_use(), 0);
    assert_eq!(slab.source().pages_mapped(), 2, "the reserve");
}

/// Held by the tests that measure the process's resident memory, which
/// would see each other's.
#[cfg(target_os = "linux")]
static RESIDENT: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// A field of `/proc/self/status`, in bytes (Linux).
#[cfg(target_os = "linux")]
fn status_bytes(field: &str) -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"));
    let kib: usize = line.trim().trim_end_matches("kB").trim().parse().unwrap();
    kib << 10
}

#[cfg(target_os = "linux")]
#[test]
fn a_growing_tlsf_gives_its_free_pages_back_when_asked() {
    use rtarena::GrowingTlsf;
    const LEN: usize = 128 << 20;
    let _alone = RESIDENT.lock().unwrap();
    let mut tlsf = GrowingTlsf::new(OsPages::new().unwrap());
    let layout = Layout::from_size_align(LEN, 8).unwrap();
    for round in 0..2 {
        let block = tlsf.allocate(layout).unwrap().cast::<u8>();
        // SAFETY: the block holds `LEN` bytes.
        unsafe { block.as_ptr().write_bytes(round + 1, LEN) };
        let touched = status_bytes("VmRSS:");
        // SAFETY: allocated above with `layout`.
        unsafe { tlsf.deallocate(block, layout) };
        assert!(
            status_bytes("VmRSS:") + (8 << 20) > touched,
            "a free alone gives nothing back"
        );
        let released = tlsf.release_free_pages();
        assert!(released >= LEN - (2 << 20), "released {released} of {LEN}");
        let after = status_bytes("VmRSS:");
        assert!(
            touched - after >= LEN - (24 << 20),
            "resident {touched} -> {after} bytes"
        );
        assert_eq!(tlsf.release_free_pages(), released, "the same pages again");
        tlsf.check().unwrap();
    }
    assert_eq!(tlsf.stats().in_use, 0);
}

#[cfg(target_os = "linux")]
#[test]
fn a_populated_source_backs_the_pages_a_heap_grows_by() {
    use rtarena::GrowingTlsf;
    const LEN: usize = 96 << 20;
    let _alone = RESIDENT.lock().unwrap();
    let mut tlsf = GrowingTlsf::new(OsPages::new().unwrap().populated());
    let before = status_bytes("VmRSS:");
    tlsf.grow(LEN).unwrap();
    let after = status_bytes("VmRSS:");
    assert!(
        after - before >= LEN - (16 << 20),
        "resident {before} -> {after} bytes"
    );
    assert!(tlsf.stats().capacity >= LEN);
    // The memory grown by serves a request of that size with no page more.
    let pages = tlsf.source().pages_in_use();
    let layout = Layout::from_size_align(LEN, 8).unwrap();
    let block = tlsf.allocate(layout).unwrap();
    assert_eq!(tlsf.source().pages_in_use(), pages);
    // SAFETY: allocated just above with `layout`.
    unsafe { tlsf.deallocate(block.cast(), layout) };
    assert_eq!(tlsf.stats().failures, 0);
}

#[cfg(target_os = "linux")]
#[test]
fn a_locked_source_locks_its_pages_or_takes_none() {
    let _alone = RESIDENT.lock().unwrap();
    let mut pages = OsPages::new().unwrap().locked();
    let size = pages.page_size();
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap();
    let limit: usize = limits
        .lines()
        .find(|line| line.starts_with("Max locked memory"))
        .and_then(|line| line.split_whitespace().nth(3)?.parse().ok())
        .unwrap_or(64 << 20);
    // A run within the limit is locked; one past it is locked only if the
    // process may lock beyond its limit (`CAP_IPC_LOCK`), else refused
    // with no page out.
    for count in [4, limit.min(64 << 20) / size + 1] {
        let locked = status_bytes("VmLck:");
        match pages.allocate_pages(count) {
            Ok(run) => {
                assert!(status_bytes("VmLck:") >= locked + count * size);
                for index in (0..count).rev() {
                    // SAFETY: page `index` of the run just taken.
                    unsafe { pages.deallocate_page(run.add(index * size)) };
                }
            }
            Err(AllocError) => {
                assert!(
                    count * size > limit,
                    "{count} pages refused under the limit"
                );
                assert_eq!(pages.pages_in_use(), 0);
            }
        }
    }
}

#[cfg(target_os = "linux")]
#[test]
fn a_growing_heap_gives_its_free_pages_back_when_asked() {
    const LEN: usize = 96 << 20;
    let _alone = RESIDENT.lock().unwrap();
    let mut heap: rtarena::GrowingHeap<_> = rtarena::GrowingHeap::new(OsPages::new().unwrap());
    heap.grow(LEN).unwrap();
    let small = Layout::new::<[u64; 4]>();
    let large = Layout::from_size_align(LEN / 2, 8).unwrap();
    let objects: Vec<_> = (0..100_000)
        .map(|_| heap.allocate(small).unwrap())
        .collect();
    let block = heap.allocate(large).unwrap().cast::<u8>();
    // SAFETY: the block holds `LEN / 2` bytes.
    unsafe { block.as_ptr().write_bytes(7, LEN / 2) };
    let touched = status_bytes("VmRSS:");
    // SAFETY: allocated above with these layouts.
    unsafe {
        heap.deallocate(block, large);
        for object in objects {
            heap.deallocate(object.cast(), small);
        }
    }
    let released = heap.release_free_pages();
    assert!(released >= LEN / 2, "released {released}");
    let after = status_bytes("VmRSS:");
    assert!(
        touched - after >= LEN / 2 - (16 << 20),
        "resident {touched} -> {after} bytes"
    );
    heap.check().unwrap();
    assert_eq!(heap.stats().in_use, 0);
    // The memory serves again.
    let block = heap.allocate(large).unwrap();
    // SAFETY: allocated just above.
    unsafe { heap.deallocate(block.cast(), large) };
}

/// Free 2 MiB hugetlb pages in the system (`HugePages_Free`; 0 where there
/// is no such line).
#[cfg(target_os = "linux")]
fn hugetlb_free() -> usize {
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    meminfo
        .lines()
        .find_map(|line| line.strip_prefix("HugePages_Free:"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

/// Where the administrator reserved hugetlb pages (`vm.nr_hugepages`; CI
/// reserves some when it may), `OsPages::huge` hands them out, a heap over
/// them works, and their memory stays when given back or released (a
/// hugetlb page whose memory went back might not be had again).
#[cfg(target_os = "linux")]
#[test]
fn hugetlb_pages_when_the_system_has_them() {
    use rtarena::GrowingTlsf;
    let _alone = RESIDENT.lock().unwrap();
    if hugetlb_free() < 16 {
        eprintln!("fewer than 16 free hugetlb pages: the hugetlb path is not exercised");
        return;
    }
    let mut pages = OsPages::huge().unwrap();
    let run = pages.allocate_pages(4).unwrap();
    assert_eq!(pages.total_mapped(PageKind::HugeTlb), 4);
    for index in 0..4 {
        // SAFETY: page `index` of the run just taken.
        fill_and_check(unsafe { run.add(index * MAX_PAGE) }, MAX_PAGE, index as u8);
    }
    // SAFETY: the run's pages, each given back once.
    let run_pages = (0..4)
        .rev()
        .map(|index| unsafe { run.add(index * MAX_PAGE) });
    give_back(&mut pages, run_pages);

    let mut tlsf = GrowingTlsf::new(OsPages::huge().unwrap());
    let layout = Layout::from_size_align(6 << 20, 8).unwrap();
    for round in 0..2 {
        let block = tlsf.allocate(layout).unwrap().cast::<u8>();
        fill_and_check(block, 6 << 20, round);
        // SAFETY: allocated just above with `layout`.
        unsafe { tlsf.deallocate(block, layout) };
        assert_eq!(
            tlsf.release_free_pages(),
            0,
            "hugetlb pages keep their memory"
        );
    }
    assert!(tlsf.source().total_mapped(PageKind::HugeTlb) >= 4);
    tlsf.check().unwrap();
}

/// A run given back at once: its last pages fill the reserve, the others
/// give their memory back in one call and are reused first, in address
/// order, with their memory zeroed (Linux).
#[test]
fn a_run_given_back_at_once_is_reused_in_order() {
    let mut pages = OsPages::new().unwrap().with_reserve(2);
    let size = pages.page_size();
    let run = pages.allocate_pages(16).unwrap();
    for index in 0..16 {
        // SAFETY: page `index` of the run just taken.
        fill_and_check(unsafe { run.add(index * size) }, size, index as u8);
    }
    let mapped = pages.total_mapped(PageKind::Base);
    // SAFETY: the run's 16 pages, given back once, unused.
    unsafe { pages.deallocate_pages(run, 16) };
    assert_eq!((pages.pages_in_use(), pages.pages_mapped()), (0, 2));
    // The reserve first (its two pages, the run's last), then the released
    // pages in address order, then fresh ones: no page mapped anew.
    let again: Vec<_> = (0..16).map(|_| pages.allocate_page().unwrap()).collect();
    assert_eq!(pages.total_mapped(PageKind::Base), mapped);
    let addr = |index: usize| run.as_ptr() as usize + index * size;
    let mut reserved: Vec<_> = again[..2].iter().map(|p| p.as_ptr() as usize).collect();
    reserved.sort_unstable();
    assert_eq!(reserved, [addr(14), addr(15)]);
    for (index, page) in again[2..].iter().enumerate() {
        assert_eq!(page.as_ptr() as usize, addr(index), "released page {index}");
        if cfg!(target_os = "linux") {
            // SAFETY: the page is `size` bytes out of `pages`.
            let bytes = unsafe { std::slice::from_raw_parts(page.as_ptr(), size) };
            assert!(bytes.iter().all(|&b| b == 0), "its memory went back");
        }
    }
    give_back(&mut pages, again);
}
