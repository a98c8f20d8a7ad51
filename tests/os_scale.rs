//! A heap growing from OS pages at the scale of a program: a 1 GiB vector,
//! 300 live 1 MiB vectors and two million live 64-byte objects, in one
//! `Arena<GrowingTlsf<OsPages>>`, over base pages and over 2 MiB pages. Each
//! workload runs twice in a row in the same arena: the second run reuses
//! the memory the first freed, so the heap does not grow.
//!
//! The 1 GiB vector is touched once per 4 KiB, which makes it resident:
//! the workloads run one at a time (a lock), so the process peaks near
//! 1.2 GiB.
#![cfg(all(feature = "std", feature = "allocator-api2", unix, not(miri)))]

use std::sync::Mutex;

use allocator_api2::boxed::Box;
use allocator_api2::vec::Vec;
use rtarena::pages::OsPages;
use rtarena::{Arena, GrowingTlsf};

type OsArena = Arena<GrowingTlsf<OsPages>>;

/// A workload, by name.
type Workload = (&'static str, fn(&OsArena));

/// One large workload at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

const GIB: usize = 1 << 30;
const MIB: usize = 1 << 20;

/// A 1 GiB vector, reserved exactly, one byte written and read back per 4
/// KiB.
fn one_gib_vector(arena: &OsArena) {
    let mut v: Vec<u8, _> = Vec::new_in(arena);
    v.try_reserve_exact(GIB).expect("1 GiB from OS pages");
    let spare = v.spare_capacity_mut();
    for i in (0..GIB).step_by(4096) {
        spare[i].write((i >> 12) as u8);
    }
    for i in (0..GIB).step_by(4096) {
        // SAFETY: written just above.
        assert_eq!(unsafe { spare[i].assume_init() }, (i >> 12) as u8);
    }
}

/// 300 vectors of 1 MiB, all live at once, filled and checked.
fn many_mib_vectors(arena: &OsArena) {
    let vectors: std::vec::Vec<Vec<u8, _>> = (0..300)
        .map(|i| {
            let mut v = Vec::new_in(arena);
            v.resize(MIB, i as u8);
            v
        })
        .collect();
    for (i, v) in vectors.iter().enumerate() {
        assert!(v[0] == i as u8 && v[MIB - 1] == i as u8);
    }
}

/// Two million 64-byte objects, all live at once.
fn small_objects(arena: &OsArena) {
    let objects: std::vec::Vec<Box<[u64; 8], _>> = (0..2_000_000u64)
        .map(|i| Box::new_in([i; 8], arena))
        .collect();
    for (i, object) in objects.iter().enumerate().step_by(997) {
        assert_eq!(object[7], i as u64);
    }
}

/// Runs each workload twice in one arena over `pages`, checking that the
/// second run takes no page more and that the heap stays one pool. Smallest
/// first, so that each workload but the first grows the heap.
fn workloads_twice(pages: OsPages) {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let mut arena = Arena::new(GrowingTlsf::new(pages));
    let workloads: [Workload; 3] = [
        ("two million live 64 B objects", small_objects),
        ("300 live 1 MiB vectors", many_mib_vectors),
        ("a 1 GiB vector", one_gib_vector),
    ];
    for (name, workload) in workloads {
        workload(&arena);
        let first = arena.stats();
        workload(&arena);
        let second = arena.stats();
        assert_eq!(second.capacity, first.capacity, "{name}: the heap grew");
        assert_eq!(second.live(), 0, "{name}: {second:?}");
        // Everything freed is one block: the heap is one pool.
        assert_eq!(second.largest_free, second.free, "{name}: {second:?}");
        assert_eq!(second.failures, 0, "{name}: {second:?}");
        arena.check().unwrap();
        let pages = arena.get_mut().source().pages_in_use();
        eprintln!("{name}: {} MiB in {pages} pages", second.capacity >> 20);
    }
}

#[test]
fn base_pages_at_scale() {
    workloads_twice(OsPages::new().unwrap());
}

#[test]
fn huge_pages_at_scale() {
    workloads_twice(OsPages::huge().unwrap());
}
