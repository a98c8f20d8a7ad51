//! Regression tests for requests that were refused while the memory was
//! there (issue "No path slower than rlsf's worst, and no false
//! out-of-memory"), each built as the issue describes it.
//!
//! The TLSF's promise (see `GenericTlsf::allocate`): a request fails only
//! when every free block is smaller than its rounded-up size and neither
//! the block the last free made nor the first block of the highest
//! non-empty list below that size holds it; so freeing a block and
//! allocating the same layout right after always succeeds. The heap's: a
//! small request that no page can serve goes to the TLSF.

mod common;

use std::alloc::Layout;
use std::ptr::NonNull;

use common::PoolBuf;
use rtarena::{Heap, PoolError, Tlsf};

fn layout(size: usize, align: usize) -> Layout {
    Layout::from_size_align(size, align).unwrap()
}

/// A heap whose pool is filled with 584 B blocks, every other one freed
/// again, still serves a small request: its class cannot get a page (no
/// free stretch holds one), so the TLSF serves it from a hole.
#[test]
fn heap_small_request_with_half_the_pool_free() {
    let mut buf = PoolBuf::new(64 << 10);
    let mut heap = Heap::new(buf.slice()).unwrap();
    let big = layout(584, 8);
    let mut blocks = Vec::new();
    while let Ok(block) = heap.allocate(big) {
        blocks.push(block.cast::<u8>());
    }
    assert!(blocks.len() > 50, "{} blocks", blocks.len());
    for &ptr in blocks.iter().step_by(2) {
        // SAFETY: allocated above with `big`, freed once.
        unsafe { heap.deallocate(ptr, big) };
    }
    let stats = heap.stats();
    assert!(stats.free > 30 << 10, "{stats:?}");
    let small = heap.allocate(layout(8, 8));
    assert!(small.is_ok(), "8 B refused with {} B free", stats.free);
    heap.check().unwrap();
}

/// A heap refuses a pool too small for one of its pages instead of
/// accepting it and failing every small request; a pool that it accepts
/// serves small requests.
#[test]
fn heap_pool_smaller_than_a_page() {
    for len in [64, 600, 1000, 2000, 4000, 5000, 9000] {
        let mut buf = PoolBuf::new(len);
        match Heap::new(buf.slice()) {
            Err(PoolError::TooSmall { .. }) => {}
            Err(e) => panic!("pool of {len} B: unexpected {e:?}"),
            Ok(mut heap) => {
                assert!(
                    heap.allocate(layout(8, 8)).is_ok(),
                    "pool of {len} B accepted, but 8 B refused"
                );
            }
        }
    }
}

/// An aligned block freed last, merged into the free block before it
/// (which sits in its list behind another), is found again.
#[test]
fn tlsf_aligned_block_after_a_merge() {
    let mut buf = PoolBuf::new(16 << 10);
    let mut tlsf = Tlsf::new(buf.slice()).unwrap();
    let mut take = |size, align| {
        tlsf.allocate(layout(size, align))
            .map(NonNull::cast::<u8>)
            .ok()
    };
    let _a = take(4072, 8);
    let b = take(16, 4096);
    let n = take(2056, 8);
    let _c = take(2008, 8);
    let h = take(2056, 8);
    let _d = take(6104, 8);
    let (b, n, h) = (b.unwrap(), n.unwrap(), h.unwrap());
    // SAFETY: each was allocated above with this layout, and is freed once.
    unsafe {
        tlsf.deallocate(n, layout(2056, 8));
        tlsf.deallocate(h, layout(2056, 8));
        tlsf.deallocate(b, layout(16, 4096));
    }
    assert!(
        tlsf.allocate(layout(16, 4096)).is_ok(),
        "the place of the freed aligned block was not found: {:?}",
        tlsf.stats()
    );
    tlsf.check().unwrap();
}

/// Two 64-byte pools, one whose first payload is 32-aligned and one whose
/// is not, each one free block of the same list: an aligned block freed
/// and allocated again right after is found in its pool.
///
/// (Had the other pool's block been freed after it, the fallback would see
/// that block twice, as the last freed and as its list's head, and the
/// request would fail: finding a fitting block among a list's others is a
/// search of the list, which no O(1) bound allows. The promise is the
/// block freed last.)
#[test]
fn tlsf_aligned_block_across_pools() {
    let mut buf = PoolBuf::with_align(4096, 64);
    // A payload starts two words into its pool (the pool's first word, then
    // the block's header), so a pool that starts two words before a 32-byte
    // boundary has its first payload 32-aligned.
    let word = size_of::<usize>();
    let aligned_start = 64 - 2 * word;
    let other_start = aligned_start + 1024 + 2 * word;
    let base = buf.base();
    let mut tlsf = Tlsf::empty();
    // The aligned pool goes in last, so that its block heads the list and
    // the first aligned request finds it.
    for start in [other_start, aligned_start] {
        // SAFETY: disjoint 64-byte stretches of `buf`, which outlives `tlsf`.
        unsafe {
            let pool = NonNull::slice_from_raw_parts(base.add(start), 64);
            tlsf.add_pool_raw(pool).unwrap();
        }
    }
    let aligned = layout(37, 32);
    let plain = layout(37, 8);
    let a = tlsf.allocate(aligned).expect("aligned").cast::<u8>();
    let p = tlsf.allocate(plain).expect("plain").cast::<u8>();
    // SAFETY: each allocated above with its layout, freed once.
    unsafe {
        tlsf.deallocate(p, plain);
        tlsf.deallocate(a, aligned);
    }
    let stats = tlsf.stats();
    assert!(tlsf.allocate(aligned).is_ok(), "{stats:?}");
    tlsf.check().unwrap();
}
