//! Collections in an arena: allocator-api2's `Vec` and `Box`, and hashbrown's
//! `HashMap`, all through `&Arena<C>` as their allocator. Contents are
//! checked against std collections; running out of pool is an `Err` that
//! leaves every collection intact; dropping everything gives the pool back
//! as one free block.

#![cfg(feature = "allocator-api2")]

mod common;

use std::collections::HashMap as StdHashMap;
use std::mem::MaybeUninit;

use allocator_api2::boxed::Box;
use allocator_api2::collections::TryReserveErrorKind;
use allocator_api2::vec::Vec;
use common::{MIRI, PoolBuf, assert_one_free_block};
use hashbrown::HashMap;
use rtarena::raw::RawHeap;
use rtarena::{Arena, SmallTlsf, Tlsf};

/// Elements per collection.
const N: usize = if MIRI { 150 } else { 10_000 };

/// Fills, mutates and checks a `Vec`, a `Box`, a `HashMap` with `Vec`
/// values and a `Vec` of `Box`es, all in `arena`, against std models.
fn fill_mutate_check<C: RawHeap>(arena: &Arena<C>) {
    // Vec: push, mutate, retain, insert, remove, extend, sort.
    let mut v: Vec<u64, _> = Vec::new_in(arena);
    let mut model: std::vec::Vec<u64> = std::vec::Vec::new();
    for i in 0..N as u64 {
        v.push(i * 7919 % 1000);
        model.push(i * 7919 % 1000);
    }
    for (x, y) in v.iter_mut().zip(model.iter_mut()) {
        *x = *x * 3 + 1;
        *y = *y * 3 + 1;
    }
    v.retain(|x| x % 5 != 0);
    model.retain(|x| x % 5 != 0);
    v.insert(3, 42);
    model.insert(3, 42);
    assert_eq!(v.remove(10), model.remove(10));
    v.extend_from_slice(&[1, 2, 3]);
    model.extend_from_slice(&[1, 2, 3]);
    v.sort_unstable();
    model.sort_unstable();
    assert_eq!(&v[..], &model[..]);
    arena.check().unwrap();

    // Box: a value, an array, a boxed Vec (two levels in the same arena).
    let mut b = Box::new_in(0xDEAD_BEEF_u64, arena);
    *b += 1;
    let arr = Box::new_in([7u32; 64], arena);
    let mut boxed_vec = Box::new_in(Vec::<u8, _>::new_in(arena), arena);
    boxed_vec.extend((0..N).map(|i| i as u8));

    // HashMap with Vec values, both in the arena.
    let mut m = HashMap::new_in(arena);
    let mut mm = StdHashMap::new();
    for i in 0..N as u32 {
        let mut val = Vec::new_in(arena);
        val.extend((0..i % 17).map(|k| k * i));
        m.insert(i, val);
        mm.insert(
            i,
            (0..i % 17).map(|k| k * i).collect::<std::vec::Vec<u32>>(),
        );
    }
    for i in (0..N as u32).step_by(3) {
        m.remove(&i);
        mm.remove(&i);
    }
    for (k, val) in m.iter_mut() {
        val.push(*k);
    }
    for (k, val) in mm.iter_mut() {
        val.push(*k);
    }
    assert_eq!(m.len(), mm.len());
    for (k, val) in &mm {
        assert_eq!(&m[k][..], &val[..], "key {k}");
    }
    arena.check().unwrap();

    assert_eq!(*b, 0xDEAD_BEEF_u64 + 1);
    assert!(arr.iter().all(|&x| x == 7));
    assert!(boxed_vec.iter().enumerate().all(|(i, &x)| x == i as u8));

    // Many small boxes.
    let mut boxes: Vec<Box<u64, _>, _> = Vec::new_in(arena);
    for i in 0..N as u64 {
        boxes.push(Box::new_in(i, arena));
    }
    boxes.swap_remove(0);
    boxes.truncate(N / 2);
    assert!(
        boxes
            .iter()
            .skip(1)
            .enumerate()
            .all(|(i, b)| **b == i as u64 + 1)
    );
    assert!(arena.stats().live() > N as u64 / 2);
    arena.check().unwrap();
}

#[test]
fn collections_in_a_tlsf_arena() {
    let mut buf = PoolBuf::new(if MIRI { 128 << 10 } else { 4 << 20 });
    let arena = Arena::new(Tlsf::new(buf.slice()).unwrap());
    fill_mutate_check(&arena);
    assert_one_free_block(&arena.stats());
    arena.check().unwrap();
    assert!(arena.stats().peak_in_use > 0);
    assert_eq!(arena.stats().failures, 0);
}

#[test]
fn collections_in_a_small_tlsf_arena() {
    let mut buf = PoolBuf::new(64 << 10);
    let arena = Arena::new(SmallTlsf::new(buf.slice()).unwrap());
    {
        // Fewer elements: the pool is 64 KiB.
        let mut v = Vec::new_in(&arena);
        let mut m = HashMap::new_in(&arena);
        for i in 0..(if MIRI { 100 } else { 400 }) {
            v.push(i);
            m.insert(i, Box::new_in(i * 2, &arena));
        }
        assert!(v.iter().all(|i| *m[i] == i * 2));
        arena.check().unwrap();
    }
    assert_one_free_block(&arena.stats());
}

#[test]
fn an_arena_on_a_stack_array() {
    let mut pool = [MaybeUninit::<u8>::uninit(); 16 << 10];
    let arena = Arena::new(Tlsf::new(&mut pool).unwrap());
    let mut v = Vec::new_in(&arena);
    v.extend(0u16..1000);
    assert_eq!(v.iter().map(|&x| x as u32).sum::<u32>(), 999 * 1000 / 2);
    drop(v);
    assert_one_free_block(&arena.stats());
}

/// `try_reserve` past the pool is an `Err`; every collection keeps its
/// contents and stays usable, and the heap stays consistent.
#[test]
fn try_reserve_past_the_pool_fails_and_keeps_everything() {
    let mut buf = PoolBuf::new(64 << 10);
    let arena = Arena::new(SmallTlsf::new(buf.slice()).unwrap());
    let capacity = arena.stats().capacity;
    let mut v: Vec<u32, _> = Vec::new_in(&arena);
    v.extend(0..1000);
    let mut m = HashMap::new_in(&arena);
    for i in 0..200u32 {
        m.insert(i, i.wrapping_mul(2_654_435_761));
    }
    let mut b = Vec::new_in(&arena);
    b.extend([0x5Au8; 100]);
    let check_all = |v: &Vec<u32, _>, m: &HashMap<u32, u32, _, _>, b: &[u8]| {
        assert!(
            v.iter().enumerate().all(|(i, &x)| x == i as u32),
            "vec contents"
        );
        assert_eq!(m.len(), 200);
        assert!(
            (0..200u32).all(|i| m[&i] == i.wrapping_mul(2_654_435_761)),
            "map contents"
        );
        assert!(b.len() == 100 && b.iter().all(|&x| x == 0x5A), "bytes");
    };

    let before = arena.stats();
    let (v_ptr, v_cap) = (v.as_ptr(), v.capacity());
    let err = v.try_reserve(capacity).unwrap_err();
    assert!(
        matches!(err.kind(), TryReserveErrorKind::AllocError { .. }),
        "{err:?}"
    );
    let err = v.try_reserve_exact(capacity / 4).unwrap_err();
    assert!(
        matches!(err.kind(), TryReserveErrorKind::AllocError { .. }),
        "{err:?}"
    );
    // Past `isize::MAX` bytes: refused before the allocator is asked.
    let err = v.try_reserve(usize::MAX / 2).unwrap_err();
    assert!(
        matches!(err.kind(), TryReserveErrorKind::CapacityOverflow),
        "{err:?}"
    );
    assert_eq!(
        (v.as_ptr(), v.capacity()),
        (v_ptr, v_cap),
        "a failed reserve moved the vector"
    );
    let map_err = m.try_reserve(capacity).unwrap_err();
    assert!(
        matches!(map_err, hashbrown::TryReserveError::AllocError { .. }),
        "{map_err:?}"
    );
    let box_err = Box::<[u64; 16 << 10], _>::try_new_uninit_in(&arena);
    assert!(box_err.is_err());
    let small = Box::try_new_in([0u8; 1 << 10], &arena).map(|_| ());
    assert!(small.is_ok(), "a small box still fits");

    let after = arena.stats();
    assert_eq!(
        after.failures,
        before.failures + 4,
        "each refused reserve counts one failure"
    );
    assert_eq!(
        after.in_use, before.in_use,
        "failed reserves changed what is in use"
    );
    arena.check().unwrap();
    check_all(&v, &m, &b);

    // Still usable: grow each a little.
    v.extend(1000..1100);
    m.insert(1000, 1);
    m.remove(&1000);
    check_all(&v, &m, &b);
    arena.check().unwrap();

    drop((v, m, b));
    assert_one_free_block(&arena.stats());
}

/// Filling the pool through ordinary pushes until `try_reserve` fails: the
/// last successful state is intact.
#[test]
fn growing_until_the_pool_is_full() {
    let mut buf = PoolBuf::new(if MIRI { 8 << 10 } else { 64 << 10 });
    let arena = Arena::new(Tlsf::new(buf.slice()).unwrap());
    let mut v: Vec<u64, _> = Vec::new_in(&arena);
    let mut n = 0u64;
    while v.try_reserve(1).is_ok() {
        v.push(n);
        n += 1;
    }
    assert!(arena.stats().failures > 0);
    assert!(
        v.len() * 8 > arena.stats().capacity / 2,
        "{} elements in a pool of {:?}",
        v.len(),
        arena.stats()
    );
    assert!(v.iter().enumerate().all(|(i, &x)| x == i as u64));
    arena.check().unwrap();
    // try_reserve_exact also fails, and shrinking frees room again.
    assert!(v.try_reserve_exact(v.capacity()).is_err());
    v.truncate(10);
    v.shrink_to_fit();
    assert!(arena.stats().free > arena.stats().capacity / 2);
    assert_eq!(&v[..], &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    drop(v);
    assert_one_free_block(&arena.stats());
}

/// A vector alone in its pool grows through `Allocator::grow`, which the
/// TLSF serves in place: one allocation for its whole life, the buffer never
/// moves; `shrink_to_fit` gives the tail back in place too.
#[test]
fn a_lone_vector_grows_and_shrinks_in_place() {
    let mut buf = PoolBuf::new(if MIRI { 32 << 10 } else { 1 << 20 });
    let arena = Arena::new(Tlsf::new(buf.slice()).unwrap());
    let n: u32 = if MIRI { 4000 } else { 100_000 };
    let mut v: Vec<u32, _> = Vec::new_in(&arena);
    assert_eq!(
        arena.stats().allocations,
        0,
        "an empty vector allocates nothing"
    );
    v.push(0);
    let ptr = v.as_ptr();
    let mut grows = 0;
    let mut cap = v.capacity();
    for i in 1..n {
        v.push(i);
        if v.capacity() != cap {
            grows += 1;
            cap = v.capacity();
            assert_eq!(v.as_ptr(), ptr, "the vector moved at {i} elements");
        }
    }
    let s = arena.stats();
    assert!(grows >= 8, "only {grows} grows");
    assert_eq!(
        (s.allocations, s.deallocations, s.failures),
        (1, 0, 0),
        "every grow was in place: {s:?}"
    );
    assert!(v.iter().enumerate().all(|(i, &x)| x == i as u32));

    let in_use = s.in_use;
    v.truncate(100);
    v.shrink_to_fit();
    assert_eq!(v.as_ptr(), ptr, "shrink_to_fit moved the vector");
    assert!(
        arena.stats().in_use < in_use / 10,
        "the tail was not given back"
    );
    assert_eq!(arena.stats().allocations, 1);
    assert!(v.iter().enumerate().all(|(i, &x)| x == i as u32));
    arena.check().unwrap();
    drop(v);
    assert_one_free_block(&arena.stats());
}

/// Two vectors growing in turn get in each other's way: grows must move,
/// and contents survive the moves.
#[test]
fn interleaved_vectors_move_and_keep_contents() {
    let mut buf = PoolBuf::new(if MIRI { 32 << 10 } else { 1 << 20 });
    let arena = Arena::new(Tlsf::new(buf.slice()).unwrap());
    let n: u32 = if MIRI { 1000 } else { 50_000 };
    let mut a: Vec<u32, _> = Vec::new_in(&arena);
    let mut b: Vec<u8, _> = Vec::new_in(&arena);
    for i in 0..n {
        a.push(i);
        b.push(i as u8);
        b.push((i >> 8) as u8);
    }
    assert!(
        arena.stats().allocations > 2,
        "no grow moved: {:?}",
        arena.stats()
    );
    assert!(a.iter().enumerate().all(|(i, &x)| x == i as u32));
    assert!(
        b.chunks(2)
            .enumerate()
            .all(|(i, c)| c == [i as u8, (i >> 8) as u8])
    );
    arena.check().unwrap();
    drop((a, b));
    assert_one_free_block(&arena.stats());
}

/// Zero-sized element types and zero capacities never touch the heap.
#[test]
fn zero_sized_collections_allocate_nothing() {
    let mut buf = PoolBuf::new(4096);
    let arena = Arena::new(Tlsf::new(buf.slice()).unwrap());
    let mut units: Vec<(), _> = Vec::new_in(&arena);
    units.extend(std::iter::repeat_n((), if MIRI { 1000 } else { 1_000_000 }));
    let empty: Vec<u64, _> = Vec::with_capacity_in(0, &arena);
    let unit_box = Box::new_in((), &arena);
    let mut m: HashMap<u32, (), _, _> = HashMap::new_in(&arena);
    m.shrink_to_fit();
    assert_eq!(units.len(), if MIRI { 1000 } else { 1_000_000 });
    assert_eq!(arena.stats().allocations, 0);
    drop((units, empty, unit_box, m));
    assert_eq!(arena.stats().allocations, 0);
    assert_one_free_block(&arena.stats());
}

/// Collections in two arenas are accounted separately.
#[test]
fn two_arenas_account_separately() {
    let mut buf_a = PoolBuf::new(16 << 10);
    let mut buf_b = PoolBuf::new(16 << 10);
    let a = Arena::new(Tlsf::new(buf_a.slice()).unwrap());
    let b = Arena::new(SmallTlsf::new(buf_b.slice()).unwrap());
    let mut va = Vec::new_in(&a);
    let mut vb = Vec::new_in(&b);
    va.extend(0u8..100);
    vb.extend(0u64..500);
    assert!(a.stats().in_use >= 100 && a.stats().in_use < 1000);
    assert!(b.stats().in_use >= 4000);
    drop(vb);
    assert_one_free_block(&b.stats());
    assert_eq!(a.stats().live(), 1);
    drop(va);
    assert_one_free_block(&a.stats());
}

/// Regression: dropping a `Box` from an arena is sound under Miri. It once
/// was UB under both Stacked and Tree Borrows: `deallocate` reached the
/// block's header, and the next block's, through the pointer it was given,
/// whose provenance after `Box`'s retag covers only the boxed value (see
/// rust-lang/miri#2104). The core now rebuilds pointers from its pools' own.
#[test]
fn dropping_boxes_is_sound_under_miri() {
    let mut pool = [MaybeUninit::<u8>::uninit(); 4096];
    let arena = Arena::new(Tlsf::new(&mut pool).unwrap());
    let a = Box::new_in(1u32, &arena);
    let b = Box::new_in(2u32, &arena);
    drop(a);
    drop(b);
    assert_one_free_block(&arena.stats());
}

/// A `Box` turned into a `Vec` keeps a pointer that covers only the boxed
/// bytes; growing it in place must hand back a pointer valid for the whole
/// block, not that one (Miri catches the difference).
#[test]
fn growing_a_boxed_slice_in_place_returns_a_pointer_for_the_whole_block() {
    let mut pool = [MaybeUninit::uninit(); 4096];
    let arena = Arena::new(Tlsf::new(&mut pool).unwrap());
    let boxed = Box::new_in([7u8; 10], &arena);
    let mut v = boxed.into_vec();
    let before = v.as_ptr();
    v.reserve_exact(10);
    assert_eq!(
        v.as_ptr(),
        before,
        "a 20-byte grow fits the 32-byte block in place"
    );
    v.extend_from_slice(&[1; 10]);
    assert_eq!(v[..10], [7; 10]);
    assert_eq!(v[10..], [1; 10]);
}

/// A writer that allocates from the arena being formatted.
struct ArenaWriter<'a>(Vec<u8, &'a Arena<Tlsf<'a>>>);

impl core::fmt::Write for ArenaWriter<'_> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

/// `Debug` for an arena must not hold a borrow of the core while the
/// formatter, which may be user code allocating from that arena, runs.
#[test]
fn formatting_an_arena_into_a_string_from_the_same_arena() {
    use core::fmt::Write;
    let mut pool = [MaybeUninit::uninit(); 4096];
    let arena = Arena::new(Tlsf::new(&mut pool).unwrap());
    let mut out = ArenaWriter(Vec::new_in(&arena));
    write!(out, "{arena:?}").unwrap();
    let text = core::str::from_utf8(&out.0).unwrap();
    assert!(text.starts_with("Arena { stats: Stats {"), "{text}");
}
