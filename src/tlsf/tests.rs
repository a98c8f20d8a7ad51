//! White-box tests of the size classes and the block layout. The black-box,
//! differential tests live in `tests/`.

use core::alloc::Layout;
use core::mem::MaybeUninit;
use std::vec;

use core::ptr::{self, NonNull};

use super::allocate::pad_for;
use super::block::{Block, PAD};
use super::config::{GRANULE, MIN_BLOCK, WORD, fl_len, list_at_least, list_of};
use super::{GenericTlsf, Tlsf};

/// Every block size from `MIN_BLOCK` up to `limit`, and a spread of larger
/// ones around powers of two up to `MAX_BLOCK`.
fn sizes<const FL: usize, const SL: usize>(limit: usize) -> impl Iterator<Item = usize> {
    let max = GenericTlsf::<FL, SL>::MAX_BLOCK;
    let small = (MIN_BLOCK..=limit.min(max)).step_by(GRANULE);
    let around_powers = (7..usize::BITS - 1)
        .map(|k| 1usize << k)
        .take_while(move |&p| p <= max)
        .flat_map(|p| {
            [
                p - 2 * GRANULE,
                p - GRANULE,
                p,
                p + GRANULE,
                p + 3 * GRANULE,
            ]
        })
        .filter(move |&s| s > limit && s <= max);
    small
        .chain(around_powers)
        .chain((limit < max).then_some(max))
}

fn check_mapping<const FL: usize, const SL: usize>() {
    let sl_log2 = SL.trailing_zeros();
    let mut last = (0, 0);
    for size in sizes::<FL, SL>(if cfg!(miri) { 512 } else { 1 << 14 }) {
        let (fl, sl) = list_of(size, sl_log2, FL);
        assert!(
            fl < FL && sl < SL,
            "size {size} maps outside the lists: ({fl}, {sl})"
        );
        assert!((fl, sl) >= last, "list_of is not monotonic at {size}");
        last = (fl, sl);
        // Every block filed in a list at or after `list_at_least(size)` has
        // at least `size` bytes: check against the smallest size of that list.
        let at_least = list_at_least(size, sl_log2, FL);
        assert!(at_least >= (fl, sl));
        if size > MIN_BLOCK {
            // No smaller block is filed at or after the rounded list...
            assert!(
                list_of(size - GRANULE, sl_log2, FL) < at_least,
                "size {size}: rounding too weak"
            );
        }
        // ...and the rounding skips less than one list's width.
        let slack = size + size / SL;
        if slack <= GenericTlsf::<FL, SL>::MAX_BLOCK {
            assert!(
                list_of(slack & !(GRANULE - 1), sl_log2, FL) >= at_least,
                "size {size}: rounding too coarse"
            );
        }
    }
}

#[test]
fn size_classes_are_monotonic_and_tight() {
    check_mapping::<{ super::DEFAULT_FL }, 16>();
    check_mapping::<{ fl_len(1 << 16) }, 8>();
    check_mapping::<{ fl_len(1 << 20) }, 32>();
    check_mapping::<3, 2>();
}

#[test]
fn head_of_the_exact_list_is_used_when_rounding_skips_it() {
    // Two used blocks around one free block of a size that is not at its
    // list's lower boundary; rounding up the request skips that list.
    let mut pool = vec![MaybeUninit::uninit(); 4096];
    let mut tlsf = Tlsf::new(&mut pool).unwrap();
    let size = 1000; // block of 1008 bytes: list [960, 1024) with SL = 16
    let layout = Layout::from_size_align(size, 8).unwrap();
    let a = tlsf.allocate(layout).unwrap();
    let b = tlsf.allocate(layout).unwrap();
    let rest = tlsf.stats().largest_free;
    let filler = tlsf
        .allocate(Layout::from_size_align(rest - GRANULE, 8).unwrap())
        .unwrap();
    assert_eq!(tlsf.stats().free, 0);
    // SAFETY: `a` is live with `layout`.
    unsafe { tlsf.deallocate(a.cast(), layout) };
    assert_eq!(tlsf.stats().free, 1008);
    assert!(
        tlsf.allocate(layout).is_ok(),
        "freed block not reused (TLSF trap)"
    );
    tlsf.check().unwrap();
    // SAFETY: both are live.
    unsafe {
        tlsf.deallocate(b.cast(), layout);
        tlsf.deallocate(
            filler.cast(),
            Layout::from_size_align(rest - GRANULE, 8).unwrap(),
        );
    }
}

/// Aligned payloads past their block's usual place (a pad) are found again
/// by every call that takes the pointer back: free, the in-place resizes
/// and `usable_size`.
#[test]
fn padded_payloads_are_found_again() {
    let mut pool = vec![MaybeUninit::uninit(); 64 * 1024];
    let mut tlsf = Tlsf::new(&mut pool).unwrap();
    let mut live = vec![];
    let mut padded = 0;
    for align_log2 in 3..13 {
        for size in [1, 8, 24, 100] {
            let layout = Layout::from_size_align(size, 1 << align_log2).unwrap();
            let ptr = tlsf.allocate(layout).unwrap();
            let addr = ptr.cast::<u8>().as_ptr().addr();
            assert_eq!(addr % layout.align(), 0);
            // SAFETY: live.
            let usable = unsafe { tlsf.usable_size(ptr.cast(), layout) };
            assert_eq!(usable, ptr.len(), "{layout:?}");
            let word = tlsf.block_of(ptr.cast()).map(|located| {
                // SAFETY: a word inside the pool.
                unsafe { located.header.cast::<usize>().read() }
            });
            padded += usize::from(word.is_some_and(|w| w & PAD != 0));
            tlsf.check().unwrap();
            live.push((ptr, layout));
        }
    }
    assert!(padded > 10, "only {padded} payloads were padded");
    for (ptr, layout) in &mut live {
        let bigger = Layout::from_size_align(layout.size() + 64, layout.align()).unwrap();
        // SAFETY: live with `layout`; on success it is live with `bigger`.
        if let Ok(grown) = unsafe { tlsf.grow_in_place(ptr.cast(), *layout, bigger) } {
            assert_eq!(grown.cast::<u8>(), ptr.cast::<u8>());
            (*ptr, *layout) = (grown, bigger);
        }
        tlsf.check().unwrap();
        let smaller = Layout::from_size_align(1, layout.align()).unwrap();
        // SAFETY: live with `layout`; on success it is live with `smaller`.
        if let Ok(shrunk) = unsafe { tlsf.shrink_in_place(ptr.cast(), *layout, smaller) } {
            assert_eq!(shrunk.cast::<u8>(), ptr.cast::<u8>());
            (*ptr, *layout) = (shrunk, smaller);
        }
        tlsf.check().unwrap();
    }
    for (ptr, layout) in live {
        // SAFETY: each is live with its layout.
        unsafe { tlsf.deallocate(ptr.cast(), layout) };
        tlsf.check().unwrap();
    }
    assert_eq!(tlsf.stats().bad_frees, 0);
    assert_eq!(tlsf.stats().largest_free, tlsf.stats().capacity);
}

/// `pad_for`'s mask of the block's address against the pad's definition:
/// the distance from the payload (a word after the block, which starts a
/// word past a granule boundary) to the next multiple of the alignment.
#[test]
fn pads_reach_the_next_aligned_payload() {
    for granules in 1..2048usize {
        let addr = granules * GRANULE + WORD;
        // SAFETY: not null; only the address is used.
        let block = Block::at(unsafe { NonNull::new_unchecked(ptr::without_provenance_mut(addr)) });
        for align in (0..13).map(|k| 1usize << k) {
            let want = if align <= GRANULE {
                0
            } else {
                (addr + WORD).wrapping_neg() & (align - 1)
            };
            assert_eq!(
                pad_for(block, align),
                want,
                "block {addr:#x}, align {align}"
            );
        }
    }
}
