//! Instructions per allocate+free pair, counted by callgrind. Unlike the
//! timed groups of `benches/tlsf.rs`, the counts do not depend on the
//! machine's noise: runs of the same build agree to within a fraction of an
//! instruction (the system allocators' counts move a little with the
//! environment).
//!
//! Run with `cargo bench -p rtarena-bench --bench instructions` (needs
//! `valgrind`). The binary runs itself under `valgrind --tool=callgrind`
//! twice per peer and size, with `SHORT` and `LONG` pairs; the difference,
//! over the difference in pairs, is one pair's instructions, with setup and
//! teardown cancelled out. The loop is the `pair` group's: `black_box` on
//! the layout and on the pointer, and bumpalo's `reset` after every 1,000
//! pairs, so the counts include those. The rtarena slab and heap counts are
//! of their fastest path, the free of the slot taken last and its
//! allocation again.
//!
//! `cargo bench` with a filter runs this only when the filter names it.

use std::alloc::GlobalAlloc;
use std::hint::black_box;
use std::mem::MaybeUninit;
use std::process::{Command, ExitCode};
use std::ptr::NonNull;

use allocator_api2::alloc::{Allocator, Layout};
use bumpalo::Bump;
use mimalloc::MiMalloc;
use rtarena::pages::PoolPages;
use rtarena::{Arena, Heap, Slab, Tlsf};

mod common;
use common::{POOL, Rlsf, SLAB_PAGE, Talc};

const PEERS: [&str; 7] = [
    "rtarena",
    "rtarena-heap",
    "rtarena-slab",
    "rlsf",
    "talc",
    "mimalloc",
    "bumpalo",
];
const SIZES: [usize; 5] = [16, 64, 256, 1024, 4096];
/// Pairs per round: bumpalo resets after each, as in the `pair` group.
const ROUND: usize = 1000;
const SHORT: usize = ROUND;
const LONG: usize = 11 * ROUND;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|a| a == "--child") {
        let peer = &args[at + 1];
        let size = args[at + 2].parse().expect("size");
        let pairs = args[at + 3].parse().expect("pairs");
        child(peer, size, pairs);
        return ExitCode::SUCCESS;
    }
    // `cargo test --benches` runs bench targets with no `--bench`: nothing
    // to count then. A filter (`cargo bench pair`) that does not name this
    // bench is for the others.
    let filters: Vec<&String> = args[1..].iter().filter(|a| !a.starts_with('-')).collect();
    let named = filters.iter().any(|f| "instructions".contains(f.as_str()));
    if !args.iter().any(|a| a == "--bench") || (!filters.is_empty() && !named) {
        return ExitCode::SUCCESS;
    }
    if Command::new("valgrind").arg("--version").output().is_err() {
        eprintln!("instructions: valgrind is not installed; nothing counted");
        return ExitCode::SUCCESS;
    }
    let me = std::env::current_exe().expect("own path");
    println!("Instructions per allocate+free pair (callgrind; align 8):\n");
    print!("| peer |");
    for size in SIZES {
        print!(" {size} B |");
    }
    println!("\n|---|{}", "---:|".repeat(SIZES.len()));
    for peer in PEERS {
        print!("| {peer} |");
        for size in SIZES {
            let count = |pairs: usize| instructions(&me, peer, size, pairs);
            let per_pair = (count(LONG) - count(SHORT)) as f64 / (LONG - SHORT) as f64;
            print!(" {per_pair:.1} |");
        }
        println!();
    }
    ExitCode::SUCCESS
}

/// Instructions of one run of this binary as a child doing `pairs` pairs.
fn instructions(me: &std::path::Path, peer: &str, size: usize, pairs: usize) -> u64 {
    let out = Command::new("valgrind")
        .args(["--tool=callgrind", "--callgrind-out-file=/dev/null"])
        .arg(me)
        .args(["--child", peer, &size.to_string(), &pairs.to_string()])
        .output()
        .expect("valgrind runs");
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{peer} {size}: child failed:\n{log}");
    // callgrind ends with "==PID== Collected : N".
    let line = log
        .lines()
        .find(|l| l.contains("Collected :"))
        .unwrap_or_else(|| panic!("no instruction count in callgrind's output:\n{log}"));
    let count = line.rsplit(':').next().unwrap().trim().replace(',', "");
    count.parse().expect("a count")
}

fn child(peer: &str, size: usize, pairs: usize) {
    let layout = Layout::from_size_align(size, 8).unwrap();
    let mut pool = vec![MaybeUninit::<u8>::uninit(); POOL];
    let rounds = pairs / ROUND;
    match peer {
        "rtarena" => arena_pairs(&Arena::new(Tlsf::new(&mut pool).unwrap()), layout, rounds),
        "rtarena-heap" => arena_pairs(&Arena::new(Heap::new(&mut pool).unwrap()), layout, rounds),
        "rtarena-slab" => {
            let pages = PoolPages::new(&mut pool, SLAB_PAGE).unwrap();
            arena_pairs(&Arena::new(Slab::new(pages).unwrap()), layout, rounds);
        }
        "rlsf" => {
            let mut rlsf = Rlsf::new();
            rlsf.insert_free_block(&mut pool);
            run(
                &mut rlsf,
                layout,
                rounds,
                |t, l| t.allocate(l).unwrap(),
                // SAFETY: a live block of this heap, allocated with `l.align()`.
                |t, p, l| unsafe { t.deallocate(p, l.align()) },
                |_| {},
            );
        }
        "talc" => {
            let mut talc = Talc::new(talc::source::Manual);
            // SAFETY: `pool` outlives `talc` and nothing else touches it.
            unsafe { talc.claim(pool.as_mut_ptr().cast(), pool.len()) }.unwrap();
            run(
                &mut talc,
                layout,
                rounds,
                // SAFETY: the layout has a nonzero size.
                |t, l| unsafe { t.allocate(l) }.unwrap(),
                // SAFETY: a live block of this heap with its layout.
                |t, p, l| unsafe { t.deallocate(p.as_ptr(), l) },
                |_| {},
            );
        }
        "mimalloc" => run(
            &mut MiMalloc,
            layout,
            rounds,
            // SAFETY: the layout has a nonzero size.
            |m, l| NonNull::new(unsafe { m.alloc(l) }).unwrap(),
            // SAFETY: a live block of `MiMalloc` with its layout.
            |m, p, l| unsafe { m.dealloc(p.as_ptr(), l) },
            |_| {},
        ),
        "bumpalo" => run(
            &mut Bump::with_capacity(POOL),
            layout,
            rounds,
            |b, l| b.alloc_layout(l),
            |_, _, _| {},
            Bump::reset,
        ),
        _ => panic!("unknown peer {peer}"),
    }
}

fn arena_pairs<A: Allocator>(arena: &A, layout: Layout, rounds: usize) {
    run(
        &mut &*arena,
        layout,
        rounds,
        |a, l| a.allocate(l).unwrap().cast(),
        // SAFETY: a live block of this arena with its layout.
        |a, p, l| unsafe { a.deallocate(p, l) },
        |_| {},
    );
}

/// `rounds` rounds of `ROUND` pairs, then `end`, as the `pair` group runs
/// them.
fn run<H>(
    heap: &mut H,
    layout: Layout,
    rounds: usize,
    mut alloc: impl FnMut(&mut H, Layout) -> NonNull<u8>,
    mut free: impl FnMut(&mut H, NonNull<u8>, Layout),
    mut end: impl FnMut(&mut H),
) {
    for _ in 0..rounds {
        for _ in 0..ROUND {
            let l = black_box(layout);
            let p = black_box(alloc(heap, l));
            free(heap, p, l);
        }
        end(heap);
    }
}
