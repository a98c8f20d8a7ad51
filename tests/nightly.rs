//! std collections in an arena through `core::alloc::Allocator` (feature
//! `nightly`). Run with `cargo +nightly test --features nightly`.

#![cfg(feature = "nightly")]
#![feature(allocator_api)]

mod common;

use std::alloc::{Allocator, Layout};
use std::boxed::Box;
use std::collections::VecDeque;
use std::rc::Rc;
use std::vec::Vec;

use common::{MIRI, PoolBuf, fill, verify, verify_zero};
use rtarena::{Arena, SmallTlsf, Stats, Tlsf};

const N: usize = if MIRI { 200 } else { 10_000 };

/// The pool is one free block again (as `common::assert_one_free_block`,
/// which needs the allocator-api2 feature).
fn assert_empty(s: Stats) {
    assert_eq!((s.in_use, s.live()), (0, 0), "{s:?}");
    assert_eq!(s.largest_free, s.capacity, "{s:?}");
}

#[test]
fn std_vec_and_vecdeque_in_an_arena() {
    let mut buf = PoolBuf::new(if MIRI { 64 << 10 } else { 1 << 20 });
    let arena = Arena::new(Tlsf::new(buf.slice()).unwrap());
    {
        let mut v: Vec<u64, &Arena<_>> = Vec::new_in(&arena);
        v.extend(0..N as u64);
        v.retain(|x| x % 3 != 0);
        assert!(v.iter().all(|x| x % 3 != 0));
        assert_eq!(v.len(), N - N.div_ceil(3));
        let mut w = Vec::with_capacity_in(N, &arena);
        w.extend(0..N);
        assert!(w.iter().enumerate().all(|(i, &x)| x == i));

        let mut q = VecDeque::new_in(&arena);
        let mut model = VecDeque::new();
        for i in 0..N {
            if i % 3 == 0 {
                q.push_front(i);
                model.push_front(i);
            } else {
                q.push_back(i);
                model.push_back(i);
            }
        }
        while q.len() > 10 {
            assert_eq!(q.pop_back(), model.pop_back());
            assert_eq!(q.pop_front(), model.pop_front());
        }
        assert!(q.iter().eq(model.iter()));
        arena.check().unwrap();
        assert_eq!(arena.stats().live(), 3);
    }
    assert_empty(arena.stats());
    arena.check().unwrap();
}

/// `Box` and `Rc`: their pointers are retagged to the value, so the heap
/// must not reach block headers through them (Miri checks it).
#[test]
fn std_box_and_rc_in_an_arena() {
    let mut buf = PoolBuf::new(1 << 20);
    let arena = Arena::new(Tlsf::new(buf.slice()).unwrap());
    {
        let mut b = Box::new_in([1u32; 100], &arena);
        b[50] = 7;
        assert_eq!(b.iter().sum::<u32>(), 99 + 7);
        let mut inner = Vec::new_in(&arena);
        inner.extend(0..N);
        let nested = Box::new_in(inner, &arena);
        assert!(nested.iter().enumerate().all(|(i, &x)| x == i));
        let small = Box::new_in(5u8, &arena);
        assert_eq!(*small, 5);

        let rc = Rc::new_in(String::from("arena"), &arena);
        let rc2 = Rc::clone(&rc);
        assert_eq!(*rc2, "arena");
        assert_eq!(Rc::strong_count(&rc), 2);
        arena.check().unwrap();
        assert_eq!(arena.stats().live(), 5);
    }
    assert_empty(arena.stats());
    arena.check().unwrap();
}

#[test]
fn try_reserve_past_the_pool_is_an_error() {
    let mut buf = PoolBuf::new(64 << 10);
    let arena = Arena::new(SmallTlsf::new(buf.slice()).unwrap());
    let mut v: Vec<u32, _> = Vec::new_in(&arena);
    v.extend(0..1000);
    let mut q: VecDeque<u8, _> = VecDeque::new_in(&arena);
    q.extend([1, 2, 3]);
    let failures = arena.stats().failures;
    assert!(v.try_reserve(1 << 20).is_err());
    assert!(v.try_reserve_exact(1 << 16).is_err());
    assert!(q.try_reserve(1 << 20).is_err());
    assert!(Box::<[u8; 1 << 17], _>::try_new_uninit_in(&arena).is_err());
    assert_eq!(arena.stats().failures, failures + 4);
    assert!(v.iter().enumerate().all(|(i, &x)| x == i as u32));
    assert_eq!(q, [1, 2, 3]);
    arena.check().unwrap();
    drop((v, q));
    assert_empty(arena.stats());
}

#[test]
fn a_lone_std_vector_grows_in_place() {
    let mut buf = PoolBuf::new(if MIRI { 32 << 10 } else { 1 << 20 });
    let arena = Arena::new(Tlsf::new(buf.slice()).unwrap());
    let mut v: Vec<u32, _> = Vec::new_in(&arena);
    v.push(0);
    let ptr = v.as_ptr();
    for i in 1..(if MIRI { 4000 } else { 100_000 }) {
        v.push(i);
    }
    assert_eq!(v.as_ptr(), ptr);
    assert_eq!(arena.stats().allocations, 1, "{:?}", arena.stats());
    v.truncate(5);
    v.shrink_to_fit();
    assert_eq!(v.as_ptr(), ptr);
    assert_eq!(v, [0, 1, 2, 3, 4]);
    drop(v);
    assert_empty(arena.stats());
}

/// The raw `core::alloc::Allocator` methods on `&Arena`.
#[test]
fn core_allocator_methods() {
    let mut buf = PoolBuf::new(16 << 10);
    let arena = Arena::new(Tlsf::new(buf.slice()).unwrap());
    let a: &dyn Allocator = &arena;
    let l = Layout::from_size_align(100, 64).unwrap();
    let p = a.allocate_zeroed(l).unwrap();
    // SAFETY: a fresh zeroed block of `p.len()` bytes.
    unsafe { verify_zero(p.cast(), 0, p.len(), "allocate_zeroed") };
    // SAFETY: ours for 100 bytes.
    unsafe { fill(p.cast(), 100, 5) };
    let big = Layout::from_size_align(3000, 64).unwrap();
    // SAFETY: `p` is live with `l`; `big` is larger.
    let g = unsafe { a.grow_zeroed(p.cast(), l, big) }.unwrap();
    // SAFETY: the first 100 bytes were kept, the rest zeroed.
    unsafe {
        verify(g.cast(), 100, 5, "grow_zeroed");
        verify_zero(g.cast(), 100, g.len(), "grow_zeroed");
    }
    let small = Layout::from_size_align(10, 8).unwrap();
    // SAFETY: `g` is live with `big`; `small` is smaller.
    let s = unsafe { a.shrink(g.cast(), big, small) }.unwrap();
    // SAFETY: the first 10 bytes were kept.
    unsafe { verify(s.cast(), 10, 5, "shrink") };
    let huge = Layout::from_size_align(isize::MAX as usize - 7, 8).unwrap();
    assert!(a.allocate(huge).is_err());
    // SAFETY: `s` is live with `small`; `huge` is larger.
    assert!(unsafe { a.grow(s.cast(), small, huge) }.is_err());
    // SAFETY: live with `small`.
    unsafe { a.deallocate(s.cast(), small) };
    let zst = a
        .allocate(Layout::from_size_align(0, 4096).unwrap())
        .unwrap();
    assert_eq!(zst.cast::<u8>().as_ptr().addr() % 4096, 0);
    arena.check().unwrap();
    assert_empty(arena.stats());
}
