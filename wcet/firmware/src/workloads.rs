//! The operation sequences. Every workload runs on every core, the same
//! sequence for each (a sequence reacts only to its own failed requests).
//! The random and RTOS workloads are typical loads; each adversarial one
//! drives one named long path of the cores it names in `targets`.

use crate::cores::{Core, SLAB_PAGE};
use crate::measure::{Driver, SLOTS};
use rtarena::slab::page_header;

pub struct Workload {
    pub name: &'static str,
    /// The cores an adversarial workload aims at (comma-separated, as the
    /// harness names them); empty for the typical ones.
    pub targets: &'static str,
    /// The path it aims at.
    pub aim: &'static str,
}

/// Calls `$run!(workload, function)` for every workload, in report order.
macro_rules! for_each_workload {
    ($run:ident) => {
        $run!(RANDOM, random);
        $run!(RTOS, rtos);
        $run!(PAGE_TAKE_SPARE, page_take_spare);
        $run!(PAGE_TAKE_HOLES, page_take_holes);
        $run!(PAGE_GIVE_BACK, page_give_back);
        $run!(OUT_OF_PAGES, out_of_pages);
        $run!(CLASS_BOUNDARY, class_boundary);
        $run!(FALLBACK, fallback);
        $run!(COALESCE, coalesce);
        $run!(ALIGNED, aligned);
        $run!(SPARE_TAKEN, spare_taken);
        $run!(LARGE_TAKES_SPARE, large_takes_spare);
        $run!(ALIGNED_FALLBACK, aligned_fallback);
    };
}
pub(crate) use for_each_workload;

/// A xorshift generator: the same sequence on every core and CPU.
struct Rng(u32);

impl Rng {
    fn below(&mut self, n: u32) -> u32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 17;
        self.0 ^= self.0 << 5;
        ((u64::from(self.0) * u64::from(n)) >> 32) as u32
    }

    fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below((hi - lo + 1) as u32) as usize
    }
}

/// Allocates `size`-byte blocks until a request fails, into the free slots
/// from `first` on while they last; returns how many it got.
fn fill<C: Core>(d: &mut Driver<C>, first: usize, size: usize, align: usize) -> usize {
    let mut got = 0;
    for slot in first..SLOTS {
        if d.is_live(slot) {
            continue;
        }
        if !d.alloc(slot, size, align) {
            return got;
        }
        got += 1;
    }
    got
}

pub const RANDOM: Workload = Workload {
    name: "random",
    targets: "",
    aim: "",
};

/// 4000 operations over 64 slots: a free of the slot's block if it has one,
/// else an allocation of 1 B to 1 KiB (three in four at most 64 B), aligned
/// to 1 to 16.
pub fn random<C: Core>(d: &mut Driver<C>) {
    let mut rng = Rng(0x2545_f491);
    for _ in 0..4000 {
        let slot = rng.below(64) as usize;
        if d.is_live(slot) {
            d.free(slot);
        } else {
            let size = if rng.below(4) < 3 {
                rng.range(1, 64)
            } else {
                rng.range(65, 1024)
            };
            d.alloc(slot, size, 1 << rng.below(5));
        }
    }
    d.free_all();
}

pub const RTOS: Workload = Workload {
    name: "rtos",
    targets: "",
    aim: "",
};

/// An RTOS's mix: tasks send small fixed-size messages (16, 24 and 48 B)
/// through a queue of up to 32, a consumer frees the oldest, and four
/// long-lived buffers (128 B to 1 KiB) are now and then replaced.
pub fn rtos<C: Core>(d: &mut Driver<C>) {
    const QUEUE: usize = 32;
    const BUFFERS: usize = QUEUE;
    let mut rng = Rng(0x1234_5678);
    for buffer in 0..4 {
        d.alloc(BUFFERS + buffer, 256 << (buffer % 3), 8);
    }
    let (mut head, mut tail) = (0, 0);
    for step in 0..3000 {
        if tail - head == QUEUE || (tail > head && rng.below(3) == 0) {
            d.free(head % QUEUE);
            head += 1;
        } else {
            let size = [16, 24, 48][rng.below(3) as usize];
            d.alloc(tail % QUEUE, size, 4);
            tail += 1;
        }
        if step % 100 == 99 {
            let buffer = BUFFERS + rng.below(4) as usize;
            d.free(buffer);
            d.alloc(buffer, rng.range(128, 1024), 8);
        }
    }
    d.free_all();
}

pub const PAGE_TAKE_SPARE: Workload = Workload {
    name: "page-take-spare",
    targets: "SmallHeap",
    aim: "a page take after every class emptied a page (the last keeps it): 8 B objects until the pool is full",
};

pub fn page_take_spare<C: Core>(d: &mut Driver<C>) {
    for size in (8..=256).step_by(8) {
        d.alloc(0, size, 8);
        d.free(0);
    }
    fill(d, 0, 8, 8);
    d.free_all();
}

pub const PAGE_TAKE_HOLES: Workload = Workload {
    name: "page-take-holes",
    targets: "SmallHeap",
    aim: "a page take with the free memory in 584 B holes, none page-aligned",
};

pub fn page_take_holes<C: Core>(d: &mut Driver<C>) {
    let blocks = fill(d, 0, 584, 8);
    for slot in (0..blocks).step_by(2) {
        d.free(slot);
    }
    for size in [8, 16, 32, 64, 8] {
        fill(d, blocks, size, 8);
    }
    d.free_all();
}

pub const PAGE_GIVE_BACK: Workload = Workload {
    name: "page-give-back",
    targets: "SmallHeap,Slab",
    aim: "a free that empties a page while its class already holds an empty one: the page goes back",
};

/// Two pages' worth of objects of one class between large blocks, then
/// every object freed: the first page emptied stays as the class's spare
/// (the active one), the second goes back to the source (in the heap, a TLSF free that merges
/// with its neighbours).
pub fn page_give_back<C: Core>(d: &mut Driver<C>) {
    for size in [8, 24, 64, 112] {
        let per_page = (SLAB_PAGE - page_header(SLAB_PAGE)) / size;
        let objects = (2 * per_page + 1).min(SLOTS - 2);
        d.alloc(SLOTS - 2, 600, 8);
        for slot in 0..objects {
            d.alloc(slot, size, 8);
        }
        d.alloc(SLOTS - 1, 600, 8);
        for slot in 0..objects {
            d.free(slot);
        }
        d.free_all();
    }
}

pub const OUT_OF_PAGES: Workload = Workload {
    name: "out-of-pages",
    targets: "Slab,SmallHeap",
    aim: "out of pages after every class emptied a page (the last keeps it)",
};

pub fn out_of_pages<C: Core>(d: &mut Driver<C>) {
    for _round in 0..3 {
        for size in (8..=512).step_by(8) {
            d.alloc(0, size, 8);
            d.free(0);
        }
        fill(d, 0, 24, 8);
        d.free_all();
    }
}

pub const CLASS_BOUNDARY: Workload = Workload {
    name: "class-boundary",
    targets: "Slab,SmallHeap",
    aim: "a class switching pages: allocations and frees across full pages' boundaries",
};

pub fn class_boundary<C: Core>(d: &mut Driver<C>) {
    for size in [8, 32, 96, 200] {
        let per_page = (SLAB_PAGE - page_header(SLAB_PAGE)) / size;
        let pages = (SLOTS / per_page).min(3);
        for slot in 0..per_page * pages {
            d.alloc(slot, size, 8);
        }
        // Free one object of each full page, then the newest, and take
        // them again: each step crosses from one page to another.
        for round in 0..50 {
            let victim = (round % pages) * per_page + round % per_page;
            let last = per_page * pages - 1;
            if victim == last {
                continue;
            }
            d.free(victim);
            d.free(last);
            d.alloc(last, size, 8);
            d.alloc(victim, size, 8);
        }
        d.free_all();
    }
}

pub const FALLBACK: Workload = Workload {
    name: "fallback",
    targets: "SmallTlsf,Tlsf",
    aim: "the fallback search: the only fitting free blocks sit in the request's own list",
};

pub fn fallback<C: Core>(d: &mut Driver<C>) {
    for (size, align) in [(1000, 8), (1000, 64), (300, 8), (300, 32), (2000, 128)] {
        // Blocks of `size` between 16 B guards, then free the big ones:
        // each hole fits `size` exactly but lies below the list that
        // rounding up searches.
        let mut slot = 0;
        while slot + 1 < SLOTS && d.alloc(slot, size, 8) && d.alloc(slot + 1, 16, 8) {
            slot += 2;
        }
        for hole in (0..slot).step_by(2) {
            d.free(hole);
        }
        for hole in (0..slot).step_by(2) {
            d.alloc(hole, size, align);
        }
        d.free_all();
    }
}

pub const COALESCE: Workload = Workload {
    name: "coalesce",
    targets: "SmallTlsf,Tlsf",
    aim: "a free that merges on both sides, the neighbours in the middle of their lists",
};

pub fn coalesce<C: Core>(d: &mut Driver<C>) {
    let mut rng = Rng(0x0bad_cafe);
    for _round in 0..4 {
        let mut slot = 0;
        while slot < SLOTS && d.alloc(slot, rng.range(24, 400), 8) {
            slot += 1;
        }
        // Free the first and last of every three, then the middle ones:
        // each of those merges with both neighbours.
        for triple in (0..slot / 3).map(|t| 3 * t) {
            d.free(triple);
            d.free(triple + 2);
        }
        for triple in (0..slot / 3).map(|t| 3 * t) {
            d.free(triple + 1);
        }
        d.free_all();
    }
}

pub const ALIGNED: Workload = Workload {
    name: "aligned",
    targets: "SmallTlsf,Tlsf",
    aim: "aligned requests (16 B to 1 KiB) in a fragmented pool",
};

pub fn aligned<C: Core>(d: &mut Driver<C>) {
    let mut rng = Rng(0x600d_f00d);
    for _ in 0..2000 {
        let slot = rng.below(48) as usize;
        if d.is_live(slot) {
            d.free(slot);
        } else {
            d.alloc(slot, rng.range(1, 512), 16 << rng.below(7));
        }
    }
    d.free_all();
}

pub const SPARE_TAKEN: Workload = Workload {
    name: "spare-taken",
    targets: "Slab,SmallHeap",
    aim: "a free that empties the active page while another class keeps the spare",
};

/// One class keeps an empty page; another, with a full page behind its
/// active one, frees its active page's last object after a third class
/// allocated (so not through the latest allocation's shortcut): its page
/// goes back. Three times: the last object freed taken before the other,
/// taken last, or with the other given back.
pub fn spare_taken<C: Core>(d: &mut Driver<C>) {
    for size in [64, 96, 160, 200] {
        let per_page = (SLAB_PAGE - page_header(SLAB_PAGE)) / size;
        d.alloc(0, 16, 8);
        d.free(0);
        for slot in 1..=per_page {
            d.alloc(slot, size, 8);
        }
        let (a, b) = (per_page + 1, per_page + 2);
        for (variant, other) in [(0, SLOTS - 1), (1, SLOTS - 2), (2, SLOTS - 3)] {
            d.alloc(a, size, 8);
            d.alloc(b, size, 8);
            if variant == 2 {
                // Given back: freed right after it was taken.
                d.free(b);
            }
            d.alloc(other, 8, 8);
            if variant == 1 {
                d.free(a);
                d.free(b);
            } else {
                d.free(b);
                d.free(a);
            }
        }
        d.free_all();
    }
}

pub const LARGE_TAKES_SPARE: Workload = Workload {
    name: "large-takes-spare",
    targets: "SmallHeap",
    aim: "a large request that only the spare page, merged with the free blocks on both sides, can hold",
};

/// A class takes a page between two 200 B blocks, and the rest of the pool
/// is filled; the blocks are freed, and the page empties and stays as the
/// spare. A large request then finds no block: the spare goes back to the
/// TLSF, merges with both free blocks, and serves it. Also aligned, and a
/// request too large even for that, which fails once the spare went back.
pub fn large_takes_spare<C: Core>(d: &mut Driver<C>) {
    for (request, align) in [(800, 8), (700, 64), (600, 256), (4000, 8)] {
        d.alloc(0, 200, 8);
        d.alloc(1, 16, 8);
        d.alloc(2, 200, 8);
        for size in [600, 300, 160, 120] {
            fill(d, 3, size, 8);
        }
        d.free(0);
        d.free(2);
        d.free(1);
        d.alloc(0, request, align);
        d.free_all();
    }
}

pub const ALIGNED_FALLBACK: Workload = Workload {
    name: "aligned-fallback",
    targets: "SmallTlsf,Tlsf",
    aim: "an aligned request that only the fallback serves, from the only block of its level, with a pad and a tail filed in an empty level",
};

/// The pool is full but for one hole just too small for the rounded-up
/// aligned search (`2 * align - 16` bytes), and, in one variant, a 16 B
/// block freed after it: an `(align, align)` request then finds no list
/// and takes the hole through the fallback (the block the last free made,
/// or the head of the highest list below), with a pad before its payload
/// and a tail that goes to an empty level. The hole moves by an eighth of
/// the alignment from round to round, so that the pads cover the range.
pub fn aligned_fallback<C: Core>(d: &mut Driver<C>) {
    for align in [64, 128, 256, 512, 1024] {
        for eighth in 0..8 {
            for last_free_elsewhere in [false, true] {
                d.alloc(0, 8 + eighth * align / 8, 8);
                d.alloc(1, 2 * align - 16, 8);
                d.alloc(2, 16, 8);
                d.alloc(3, 16, 8);
                d.alloc(4, 16, 8);
                for size in [512, 64, 16] {
                    fill(d, 5, size, 8);
                }
                d.free(1);
                if last_free_elsewhere {
                    d.free(3);
                }
                d.alloc(1, align, align);
                d.free_all();
            }
        }
    }
}
