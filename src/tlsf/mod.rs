//! The TLSF core: two-level segregated fit over user pools.
//!
//! Free blocks are filed in `FL x SL` doubly linked lists by size; two levels
//! of bitmaps say which lists are non-empty, so finding a list with a block
//! that fits is two `trailing_zeros`, whatever the number of blocks or pools.
//! Freed blocks coalesce at once with their free neighbours, found through
//! the block layout (a header word, and a footer in free blocks), so no two
//! free blocks are ever adjacent.

// The module map: one job per file (ARCHITECTURE.md has the same table).
// This one holds the `GenericTlsf` type, its fields, its named
// configurations, and why it is `Send` and a `RawHeap`.
mod allocate; // the allocation paths: fast, aligned, fallback; carving a block
mod block; // the block layout behind a `Block` pointer
mod check; // `check`: a walk of every pool and every list
pub mod config; // the size classes: size to list, and the configurations
mod deallocate; // the free paths: a freed block's lookup and test, coalescing
mod grow; // `GrowingTlsf`, and the growth policy the growing heap shares
mod init; // construction, by value or in place; `add_pool*`; the pool lookups
mod lists; // the free lists and their bitmaps
mod pools; // the pool table: where the pools are, an address to its pool
mod reset; // `reset`
mod resize; // in-place resizing, and `usable_size`
mod stats; // `stats`, and every free block

#[cfg(test)]
mod tests;

use core::alloc::Layout;
use core::marker::PhantomData;
use core::mem::MaybeUninit;
use core::ptr::NonNull;

use self::block::Block;
use self::config::{GRANULE, MIN_BLOCK, POOL_OVERHEAD, WORD, max_block};
pub use self::grow::GrowingTlsf;
pub(crate) use self::grow::{add_pages_for, give_back_pools, release_free_pages};
pub use self::pools::MAX_POOLS;
use self::pools::{PoolTable, Slot};
use crate::{AllocError, CheckError, Misuse, RawHeap, Stats};

/// The default TLSF: pools up to 4 GiB each (the whole address space on
/// 32-bit targets), 16 second-level lists. See [`GenericTlsf`] for the API.
///
/// ```
/// use core::mem::{MaybeUninit, size_of};
/// use rtarena::Tlsf;
///
/// let mut pool = [MaybeUninit::uninit(); 4096];
/// let tlsf = Tlsf::new(&mut pool).unwrap();
/// assert!(tlsf.stats().free > 4000);
/// ```
pub type Tlsf<'p> = GenericTlsf<'p, DEFAULT_FL, 16>;

pub(crate) const DEFAULT_FL: usize = config::fl_len(if usize::BITS > 32 {
    1 << 32
} else {
    usize::MAX
});

/// A TLSF for microcontroller-sized pools: each pool up to 64 KiB, 8
/// second-level lists. Its control block is under 1 KiB on 64-bit targets
/// (see the table in the crate documentation).
pub type SmallTlsf<'p> = GenericTlsf<'p, { config::fl_len(1 << 16) }, 8>;

/// A TLSF whose pools may span any size the address space allows, with 16
/// second-level lists.
pub type LargeTlsf<'p> = GenericTlsf<'p, { config::fl_len(isize::MAX as usize) }, 16>;

// The named configurations keep the promises their docs and the README make.
const _: () = assert!(SmallTlsf::MAX_POOL >= 1 << 16);
const _: () = assert!(Tlsf::MAX_POOL as u64 >= 1 << 32 || Tlsf::MAX_POOL >= isize::MAX as usize);
const _: () = assert!(LargeTlsf::MAX_BLOCK == isize::MAX as usize & !(GRANULE - 1));

/// A two-level segregated fit heap over one or more pools of memory that
/// live for `'p`, in any configuration.
///
/// `FL` and `SL` choose the size classes (see [`config`]): the largest block
/// is just under `GRANULE * SL * 2^(FL - 1)` bytes and a request is rounded
/// up by less than `1/SL` of its size when the heap looks for a list to take
/// a block from. The named configurations are [`Tlsf`] (pools up to 4 GiB),
/// [`SmallTlsf`] (pools up to 64 KiB, control block under 1 KiB) and
/// [`LargeTlsf`]; a custom one is `GenericTlsf<'p, { fl_len(max_pool) }, SL>`
/// (see [`config::fl_len`]).
///
/// # Time complexity
///
/// `allocate`, `deallocate`, `grow_in_place`, `shrink_in_place`, `stats` and
/// `add_pool` are O(1): no loop runs over blocks or lists, and finding the
/// pool of a freed pointer looks at no more than [`MAX_POOLS`] pools. `check`
/// is O(blocks); `reset` is O(FL * SL + pools).
///
/// # Worst case
///
/// Measured exactly, in instructions per call on an emulated Cortex-M4 and
/// Cortex-M0, for `SmallTlsf` and `Tlsf` on random and adversarial
/// workloads: the [worst-case table](crate#worst-case-on-cortex-m), which
/// CI checks: on the M4, at most 119 instructions per allocate for `Tlsf`
/// and 117 for `SmallTlsf`, 107 per free.
/// `python3 wcet/run.py` in the repository names the path behind each
/// maximum.
///
/// # Memory cost
///
/// An allocated block costs one machine word (its header) plus the rounding
/// of its size to [`GRANULE`]; the smallest block is [`MIN_BLOCK`] bytes. A
/// payload aligned above the granule may start up to `align - GRANULE`
/// bytes into its block, a pad the block keeps. Each
/// pool gives [`config::POOL_OVERHEAD`] bytes (two words) to
/// alignment and its end sentinel. The control block is
/// `size_of::<GenericTlsf<FL, SL>>()`: mostly `FL * SL` list heads of one word each.
///
/// # Building it without a copy on the stack
///
/// `new` returns the control block by value, and wrapping that in an
/// arena moves it again: copies a small stack may not hold. Two ways build
/// it where it stays. A `static` initialised in `const` context with
/// [`empty`](Self::empty) (say `static ARENA: SyncArena<Tlsf, _> =
/// SyncArena::new(Tlsf::empty())`, in `.bss`), given its pool at start-up
/// with [`add_pool`](Self::add_pool) through the arena's lock; or
/// [`new_in_place`](Self::new_in_place) into any `MaybeUninit`, wrapped as
/// an [`Arena`](crate::Arena) over the `&mut` it returns.
// The layout on 32-bit targets, `repr(C)`: the words every call touches
// within a load's reach of `self`, the list heads after them. Without it
// the heads come first (`FL * SL` words) and the rest lies beyond: each of
// those words needs its address built in a register, which Thumb code
// then spills. On Armv7-M a load reaches 4 KiB but a pair of words (a
// 64-bit counter) 1 KiB, and a load indexed by a register no offset at
// all: the second-level maps go first, at `self` itself. On Armv6-M and
// Armv8-M Baseline (`rtarena_soft_clz`) a load reaches 124 bytes: the
// scalars go first, the maps after them (Cortex-M4 and M0 allocate and
// free measured with `wcet/run.py`). On 64-bit targets the compiler's
// order stands.
#[cfg_attr(target_pointer_width = "32", repr(C))]
pub struct GenericTlsf<'p, const FL: usize, const SL: usize> {
    /// Bit `sl` of `sl_bitmaps[fl]` is set when `heads[fl][sl]` is `Some`
    /// (here or, on Armv6-M, further down: see the layout above).
    #[cfg(not(rtarena_soft_clz))]
    sl_bitmaps: [u32; FL],
    /// Bit `fl` is set when `sl_bitmaps[fl] != 0`.
    fl_bitmap: usize,
    /// The free block that the last free made (after merging), for the
    /// allocation fallback: `None`, or the start of a block, free or
    /// allocated since (a grow that merges it into the block before resets
    /// it, see `forget_if_merged`; a shrink sets it to the freed tail).
    last_freed: Option<Block>,
    counters: Counters,
    /// A copy of the first pool's slot in `pools`, within a pair load's
    /// reach of `self` however many the heads are: a free loads its
    /// bounds as a pair (Cortex-M4, `Tlsf`: one instruction less).
    first_pool: Slot,
    /// Bit `sl` of `sl_bitmaps[fl]` is set when `heads[fl][sl]` is `Some`.
    #[cfg(rtarena_soft_clz)]
    sl_bitmaps: [u32; FL],
    heads: [[Option<Block>; SL]; FL],
    /// Where the pools are, with pointers that carry their provenance.
    pools: PoolTable,
    /// Three words that stand in for a missing list neighbour (see
    /// `or_scratch`); never read.
    scratch: [usize; 3],
    _pools: PhantomData<&'p mut [MaybeUninit<u8>]>,
}

/// The usage counters. On 32-bit targets but Armv6-M, `repr(C)` and the
/// order keep the words a call updates side by side: an
/// allocation loads and stores `peak` and `in_use` as a pair, a free
/// `in_use` and `frees`. Elsewhere the declared order (which measured best
/// on x86-64) stands.
#[derive(Clone, Copy, Default)]
#[cfg_attr(all(target_pointer_width = "32", not(rtarena_soft_clz)), repr(C))]
struct Counters {
    capacity: usize,
    #[cfg(all(target_pointer_width = "32", not(rtarena_soft_clz)))]
    peak: usize,
    in_use: usize,
    /// The deallocations; where 32 bits, modulo 2^32 (see `FreeCount`).
    #[cfg(all(target_pointer_width = "32", not(rtarena_soft_clz)))]
    frees: FreeCount,
    #[cfg(not(all(target_pointer_width = "32", not(rtarena_soft_clz))))]
    peak: usize,
    /// The allocations; on Armv6-M modulo 2^32, with `allocations_high`
    /// counting the wraps (see `count_allocation`).
    allocations: AllocationCount,
    #[cfg(not(all(target_pointer_width = "32", not(rtarena_soft_clz))))]
    frees: FreeCount,
    failures: u64,
    bad_frees: u64,
    #[cfg(all(target_pointer_width = "32", rtarena_soft_clz))]
    allocations_high: u32,
}

/// The allocation count's low word. On Armv6-M and Armv8-M Baseline
/// (`rtarena_soft_clz`) the count is split in two words: an allocation
/// updates one, and the second only when the first wraps
/// (Cortex-M0: 3 instructions less). Elsewhere the split measured no
/// shorter.
#[cfg(all(target_pointer_width = "32", rtarena_soft_clz))]
type AllocationCount = u32;
#[cfg(not(all(target_pointer_width = "32", rtarena_soft_clz)))]
type AllocationCount = u64;

/// The deallocation count; on 32-bit targets modulo 2^32 (see
/// `deallocations`): the count itself is `allocations` less the live
/// blocks, and the live blocks, fewer than 2^32 (a block takes at least
/// `MIN_BLOCK` bytes of the address space), are `allocations - frees`
/// modulo 2^32. That spares a free the second word of a 64-bit count, or
/// the test for its low word's wrap (Cortex-M4: one instruction).
#[cfg(target_pointer_width = "32")]
type FreeCount = u32;
#[cfg(not(target_pointer_width = "32"))]
type FreeCount = u64;

impl Counters {
    /// Counts a free of `size` bytes.
    #[inline(always)]
    fn count_free(&mut self, size: usize) {
        self.in_use -= size;
        #[cfg(target_pointer_width = "32")]
        {
            self.frees = self.frees.wrapping_add(1);
        }
        #[cfg(not(target_pointer_width = "32"))]
        {
            self.frees += 1;
        }
    }

    /// Counts an allocation of `size` bytes.
    #[inline(always)]
    fn count_allocation(&mut self, size: usize) {
        self.in_use += size;
        self.peak = self.peak.max(self.in_use);
        #[cfg(all(target_pointer_width = "32", rtarena_soft_clz))]
        {
            self.allocations = self.allocations.wrapping_add(1);
            if self.allocations == 0 {
                self.carry_allocations();
            }
        }
        #[cfg(not(all(target_pointer_width = "32", rtarena_soft_clz)))]
        {
            self.allocations += 1;
        }
    }

    /// Takes back the count of an allocation (a grow that takes a new
    /// block for an old one counts it as the same).
    fn uncount_allocation(&mut self) {
        #[cfg(all(target_pointer_width = "32", rtarena_soft_clz))]
        {
            if self.allocations == 0 {
                self.allocations_high = self.allocations_high.wrapping_sub(1);
            }
            self.allocations = self.allocations.wrapping_sub(1);
        }
        #[cfg(not(all(target_pointer_width = "32", rtarena_soft_clz)))]
        {
            self.allocations -= 1;
        }
    }

    #[cfg(all(target_pointer_width = "32", rtarena_soft_clz))]
    #[cold]
    fn carry_allocations(&mut self) {
        self.allocations_high = self.allocations_high.wrapping_add(1);
    }

    /// Every allocation since the heap was built or reset.
    fn allocations(&self) -> u64 {
        #[cfg(all(target_pointer_width = "32", rtarena_soft_clz))]
        return (u64::from(self.allocations_high) << 32) | u64::from(self.allocations);
        #[cfg(not(all(target_pointer_width = "32", rtarena_soft_clz)))]
        return self.allocations;
    }

    /// Every deallocation since the heap was built or reset. Where `frees`
    /// is 32 bits: every allocation counted is a block handed out (a grow
    /// in place takes back the count of the block it extends) and every
    /// free counted one given back, so `allocations - deallocations` is
    /// the live blocks, fewer than 2^32, which the counts' low words give
    /// exactly.
    fn deallocations(&self) -> u64 {
        #[cfg(target_pointer_width = "32")]
        {
            let allocations = self.allocations();
            let live = (allocations as u32).wrapping_sub(self.frees);
            allocations - u64::from(live)
        }
        #[cfg(not(target_pointer_width = "32"))]
        return self.frees;
    }
}

// SAFETY: a `Tlsf` owns its pools exclusively (it holds them as
// `&'p mut [MaybeUninit<u8>]` or under `add_pool_raw`'s contract); the raw
// pointers inside it point only into those pools, so moving it to another
// thread moves that ownership along, as moving the `&mut` slices would.
unsafe impl<const FL: usize, const SL: usize> Send for GenericTlsf<'_, FL, SL> {}

impl<const FL: usize, const SL: usize> Default for GenericTlsf<'_, FL, SL> {
    fn default() -> Self {
        Self::empty()
    }
}

impl<const FL: usize, const SL: usize> core::fmt::Debug for GenericTlsf<'_, FL, SL> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Tlsf")
            .field("FL", &FL)
            .field("SL", &SL)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl<'p, const FL: usize, const SL: usize> GenericTlsf<'p, FL, SL> {
    const VALID: () = config::validate(FL, SL);
    const SL_LOG2: u32 = SL.trailing_zeros();

    /// Largest block this configuration can hold, header included.
    pub const MAX_BLOCK: usize = max_block(FL);
    /// Largest pool (after aligning its ends) that `add_pool` accepts.
    pub const MAX_POOL: usize = Self::MAX_BLOCK + POOL_OVERHEAD;
    /// Smallest pool (after aligning its ends) that `add_pool` accepts.
    pub const MIN_POOL: usize = MIN_BLOCK + POOL_OVERHEAD;
    /// Largest `Layout::size()` with alignment up to [`GRANULE`] that can ever
    /// succeed.
    pub const MAX_ALLOC: usize = Self::MAX_BLOCK - WORD;
}

// SAFETY: `Tlsf` upholds the `RawHeap` contract: blocks are carved from pools
// it owns for `'p`, never overlap (each byte is in exactly one block), are
// aligned as asked (`pad_for`, `take_padded`), and keep their place and contents until
// freed; the in-place resizes change nothing on `Err`.
unsafe impl<const FL: usize, const SL: usize> RawHeap for GenericTlsf<'_, FL, SL> {
    #[inline(always)]
    fn allocate(&mut self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
        GenericTlsf::allocate(self, layout)
    }

    #[inline(always)]
    unsafe fn deallocate(&mut self, ptr: NonNull<u8>, layout: Layout) -> Result<(), Misuse> {
        // SAFETY: same contract.
        unsafe { self.free(ptr, layout) }
    }

    #[inline]
    unsafe fn grow_in_place(
        &mut self,
        ptr: NonNull<u8>,
        old: Layout,
        new: Layout,
    ) -> Result<NonNull<[u8]>, AllocError> {
        // SAFETY: same contract.
        unsafe { GenericTlsf::grow_in_place(self, ptr, old, new) }
    }

    #[inline]
    unsafe fn shrink_in_place(
        &mut self,
        ptr: NonNull<u8>,
        old: Layout,
        new: Layout,
    ) -> Result<NonNull<[u8]>, AllocError> {
        // SAFETY: same contract.
        unsafe { GenericTlsf::shrink_in_place(self, ptr, old, new) }
    }

    #[inline]
    unsafe fn usable_size(&self, ptr: NonNull<u8>, layout: Layout) -> usize {
        // SAFETY: same contract.
        unsafe { GenericTlsf::usable_size(self, ptr, layout) }
    }

    fn reset(&mut self) {
        GenericTlsf::reset(self);
    }

    fn stats(&self) -> Stats {
        GenericTlsf::stats(self)
    }

    fn check(&self) -> Result<(), CheckError> {
        GenericTlsf::check(self)
    }
}
