//! The free paths: a freed pointer's block and its test, coalescing.

use core::alloc::Layout;
use core::ptr::NonNull;

use super::GenericTlsf;
use super::block::{Block, PAD, PREV_FREE, USED};
use super::config::{GRANULE, GRANULE_LOG2, MIN_BLOCK, WORD, list_of};
use super::lists::{BRANCHES, levels_copy};
use super::pools::Located;
use crate::Misuse;

impl<const FL: usize, const SL: usize> GenericTlsf<'_, FL, SL> {
    /// Frees a block returned by [`allocate`](Self::allocate) (or resized
    /// since), coalescing it with free neighbours.
    ///
    /// A free that breaks the contract in a way one test of the header
    /// shows is refused: the heap changes nothing but
    /// [`Stats::bad_frees`](crate::Stats::bad_frees); debug builds then
    /// panic with a message that names the caller's line (release builds
    /// go on). That is a pointer
    /// outside every pool, one not granule-aligned, and a header word
    /// before `ptr` that is not an allocated block's whose size the
    /// layout can name: a double free (until the memory is allocated
    /// again), a layout that does not fit, and a pointer into a block
    /// (unless the word before it happens to read as such a header, or as
    /// a pad word leading to one: then the heap is corrupted; a pointer a
    /// pad's length before a padded payload is such a case). Debug builds
    /// also refuse a pointer not
    /// aligned to `layout.align()`. A refused free never leads to a block
    /// being handed out twice.
    ///
    /// # Safety
    /// `ptr` was returned by this heap for a layout with `layout.align()` and
    /// a size between the requested size and the returned length, and has not
    /// been freed since. A zero-size `layout` makes this a no-op.
    ///
    /// # Time complexity
    /// O(1) (finding the pool compares the address with at most
    /// [`MAX_POOLS`](super::MAX_POOLS) pool ranges).
    #[inline]
    #[track_caller]
    pub unsafe fn deallocate(&mut self, ptr: NonNull<u8>, layout: Layout) {
        // SAFETY: forwarded contract.
        Misuse::report_err(unsafe { self.free(ptr, layout) })
    }

    /// [`deallocate`](Self::deallocate), returning a refused misuse rather
    /// than reporting it.
    ///
    /// # Safety
    /// As for `deallocate`.
    #[inline(always)]
    pub(crate) unsafe fn free(&mut self, ptr: NonNull<u8>, layout: Layout) -> Result<(), Misuse> {
        let addr = ptr.as_ptr().addr();
        let Some(located) = self.block_of(ptr) else {
            if layout.size() == 0 {
                return Ok(());
            }
            return Err(self.refuse(Misuse::Foreign { addr }));
        };
        if layout.size() == 0 {
            return Ok(());
        }
        let (block, header, _) = match self.live_header(located, addr, layout) {
            Ok(live) => live,
            Err(misuse) => return Err(self.refuse(misuse)),
        };
        // SAFETY: `block` is the header of a live block of this heap (caller's
        // contract, and `live_header` saw an allocated block's header there),
        // reached through its pool's own pointer.
        unsafe { self.free_block(block, header) };
        Ok(())
    }

    /// Frees the block at `payload`, a payload this heap handed out (with
    /// no pad: aligned to the granule at most) through a pointer that
    /// carries its pool's provenance, with no lookup and no check; returns
    /// the block's size. For a heap's own blocks (the hybrid heap's pages).
    ///
    /// # Safety
    /// `payload` is the payload of a live block of this heap, allocated
    /// with an alignment of at most `GRANULE`, derived from the pointer
    /// this heap returned (or another with its pool's provenance).
    #[inline]
    pub(crate) unsafe fn free_own(&mut self, payload: NonNull<u8>) -> usize {
        // SAFETY: the header is the word before an unpadded payload, inside
        // the pool that `payload`'s provenance covers (caller).
        unsafe {
            let block = Block::at(payload.sub(WORD));
            let header = block.header();
            debug_assert!(
                header & USED != 0 && header & PAD == 0,
                "free_own: not an unpadded live block"
            );
            self.free_block(block, header);
            header & !(USED | PREV_FREE)
        }
    }

    /// Frees `block`, whose header word is `header`, merging it with its
    /// free neighbours.
    ///
    /// # Safety
    /// `block` is the header of a live block of this heap, reached through
    /// its pool's own pointer; `header` is its header word.
    #[inline(always)]
    unsafe fn free_block(&mut self, block: Block, header: usize) {
        // SAFETY: `block` is live (caller); its free neighbours are filed in
        // their lists.
        unsafe {
            let mut block = block;
            let mut size = header & !(USED | PREV_FREE);
            self.counters.count_free(size);
            let next = block.offset(size);
            let next_header = next.header();
            if next_header & USED == 0 {
                // A free block's header is its size: its predecessor, this
                // block, is allocated, so it has no `PREV_FREE`.
                let next_size = next_header;
                debug_assert!(next_size & PREV_FREE == 0);
                size += next_size;
                if header & PREV_FREE == 0 {
                    // The common merge, with one free neighbour after: if the
                    // merged block stays in that neighbour's list, it simply
                    // takes the neighbour's place there, and no bitmap
                    // changes: an allocate+free pair of one size costs 30
                    // instructions less on x86-64 (callgrind).
                    block.set_header(size);
                    block.set_footer(size);
                    let (next_fl, next_sl) = list_of(next_size, Self::SL_LOG2, FL);
                    let (fl, sl) = list_of(size, Self::SL_LOG2, FL);
                    if (fl, sl) == (next_fl, next_sl) {
                        self.replace(next, block, fl, sl);
                    } else {
                        self.remove_at(next, next_fl, next_sl);
                        self.insert_at(block, fl, sl);
                    }
                    self.last_freed = Some(block);
                    return;
                }
                // The merge with both neighbours, the longest free: where
                // the list updates branch (see `lists::BRANCHES`; on the
                // others the extra register costs more than it spares), the
                // level bits of its two unlinks and its filing are updated
                // in one copy of `fl_bitmap`, loaded and stored once.
                let mut levels = self.fl_bitmap;
                self.remove_in(next, next_size, levels_copy(&mut levels));
                let prev = self.prev_to_merge(block);
                let prev_size = prev.size_before;
                size += prev_size;
                // The footer first: the merged block's end is then not
                // kept in a register across the unlink.
                prev.block.set_footer(size);
                self.remove_in(prev.block, prev_size, levels_copy(&mut levels));
                prev.block.set_header(size);
                self.insert_in(prev.block, size, levels_copy(&mut levels));
                if BRANCHES {
                    self.fl_bitmap = levels;
                }
                self.last_freed = Some(prev.block);
                return;
            }
            // The block after stays allocated: it learns that this one is
            // free, from the header already read.
            next.set_header(next_header | PREV_FREE);
            if header & PREV_FREE != 0 {
                let prev = self.prev_to_merge(block);
                self.remove(prev.block, prev.size_before);
                block = prev.block;
                size += prev.size_before;
            }
            self.file_free(block, size);
            self.last_freed = Some(block);
        }
    }

    /// The free block before `block`, whose header `block`'s
    /// `PREV_FREE` marked, and its size (its footer). `block`'s header,
    /// which ends up inside the merged block, is marked free (any size has
    /// `USED` and `PAD` clear) so that a second free of it is caught.
    ///
    /// # Safety
    /// `block` is a live block with `PREV_FREE` set.
    #[inline(always)]
    unsafe fn prev_to_merge(&mut self, block: Block) -> PrevFree {
        // SAFETY: as the caller says.
        unsafe {
            let size_before = block.prev_size();
            block.set_header(size_before);
            PrevFree {
                block: block.offset_back(size_before),
                size_before,
            }
        }
    }

    /// Counts a refused free.
    #[cold]
    fn refuse(&mut self, misuse: Misuse) -> Misuse {
        self.counters.bad_frees += 1;
        misuse
    }

    /// The word before the payload `ptr` (its block's header, or a pad
    /// word), through the pool's own pointer (see `pools`), and how far
    /// before it a block may start; `None` if no pool holds `ptr` or it is
    /// not granule-aligned, as every payload is.
    #[inline(always)]
    pub(super) fn block_of(&self, ptr: NonNull<u8>) -> Option<Located> {
        let addr = ptr.as_ptr().addr();
        if let Some(located) = self.first_pool.block_at(addr) {
            return Some(located);
        }
        self.pools.locate_block_in_others(addr)
    }

    /// The header of the allocated block at `ptr`, its header word and the
    /// payload's pad (see `take_padded`), if a call with `layout` may name
    /// that block (see `fits`); else the misuse.
    ///
    /// Release builds test the header with one branch (two for a padded
    /// payload); debug builds also refuse a pointer not aligned to
    /// `layout.align()`.
    #[inline(always)]
    pub(super) fn live_block(
        &self,
        ptr: NonNull<u8>,
        layout: Layout,
    ) -> Result<(Block, usize, usize), Misuse> {
        let addr = ptr.as_ptr().addr();
        let Some(located) = self.block_of(ptr) else {
            return Err(Misuse::Foreign { addr });
        };
        self.live_header(located, addr, layout)
    }

    /// `live_block` for the payload at `addr`, which `block_of` located:
    /// the word before it is the block's header, or a pad word (`PAD` and
    /// the pad's length) that leads to the header `pad` bytes before it,
    /// which must lie in the pool. Inlined: a cold call would cost an
    /// aligned free more than the pad does. Each of the two paths tests
    /// its own header (see `fits`), so that the unpadded one computes no
    /// pad.
    #[inline(always)]
    fn live_header(
        &self,
        located: Located,
        addr: usize,
        layout: Layout,
    ) -> Result<(Block, usize, usize), Misuse> {
        // SAFETY: `block_of` gives a pointer into a pool: not null.
        let block = Block::at(unsafe { NonNull::new_unchecked(located.header) });
        // SAFETY: `block_of` gives a word-aligned address inside a pool,
        // through the pool's pointer: a block's header (or a pad word) if
        // the caller kept the contract. (If not, it is still inside a pool,
        // but it may be bytes no one wrote; the contract rules that out.)
        let word = unsafe { block.header() };
        if word & PAD == 0 {
            if !fits_unpadded(word, layout)
                || (cfg!(debug_assertions) && addr % layout.align() != 0)
            {
                return Err(not_live(addr, word, layout));
            }
            return Ok((block, word, 0));
        }
        // A pad is a multiple of the granule; masking the word's low bits
        // (not only `PAD`) keeps the header found from it word-aligned
        // whatever the word holds, as after a misuse.
        let pad = word & !(GRANULE - 1);
        if pad > located.reach {
            return Err(Misuse::NotAllocated { addr });
        }
        // SAFETY: `pad <= reach` and `pad` is a multiple of the granule:
        // the header lies at or after the pool's first block header, inside
        // the pool, and word-aligned.
        unsafe {
            let block = Block::at(NonNull::new_unchecked(located.header.sub(pad)));
            live(block, block.header(), pad, addr, layout)
        }
    }
}

/// `(block, header, pad)` if `header`, `block`'s, is that of an allocated
/// block that a call with `layout` may name, its payload (at `addr`) `pad`
/// bytes past the usual place (see `fits`); else the misuse. Debug builds
/// also refuse a pointer not aligned to `layout.align()`.
#[inline(always)]
fn live(
    block: Block,
    header: usize,
    pad: usize,
    addr: usize,
    layout: Layout,
) -> Result<(Block, usize, usize), Misuse> {
    if !fits(header.wrapping_sub(pad), layout)
        || (cfg!(debug_assertions) && addr % layout.align() != 0)
    {
        return Err(not_live(addr, header, layout));
    }
    Ok((block, header, pad))
}

/// The free block before a freed one (see `prev_to_merge`).
struct PrevFree {
    block: Block,
    size_before: usize,
}

/// Whether a block's header word, less the pad its payload sits past the
/// usual place (`header_less_pad`; the header itself without a pad), is
/// that of an allocated block that a call with `layout` may name: `USED`
/// set, and a size at most `2 * MIN_BLOCK - 2 * GRANULE` above the request
/// with its header, rounded up to the granule, plus the pad. Every block
/// keeps to that: allocation and the in-place resizes give a request its
/// least block (that rounded size, at least `MIN_BLOCK`) and pad, plus a
/// tail too small to split off (less than `MIN_BLOCK`), and the
/// `Allocator` rule lets a caller name any size from the request to the
/// returned length, which maps to the same least block or to one larger
/// than the tail. The bound leaves out the `MIN_BLOCK` floor, which would
/// cost the test three instructions more, and so accepts one granule more
/// of slack for small requests. One subtraction, rotation and comparison:
/// `slack` is the size's excess, a multiple of the granule, when `USED` is
/// set, and odd when it is not; the rotation moves a bit below the granule
/// (that odd bit, or an overwritten header's) to the top, as it does a
/// negative excess.
#[inline(always)]
fn fits(header_less_pad: usize, layout: Layout) -> bool {
    // `size <= isize::MAX` (a `Layout`'s), so the sum cannot overflow.
    let rounded = (layout.size() + WORD + GRANULE - 1) & !(GRANULE - 1);
    let slack = (header_less_pad & !PREV_FREE).wrapping_sub(rounded | USED);
    slack.rotate_right(GRANULE_LOG2) < (2 * MIN_BLOCK - GRANULE) / GRANULE
}

/// `fits` for a header with `PAD` clear, as `live_header` found the
/// header of an unpadded payload. Where `PAD` is then the only bit between
/// the flags and the granule (a granule of 8 bytes: 32-bit targets), one
/// rotation by a bit spares clearing `PREV_FREE`, with exactly the same
/// outcome: with `USED` set, `slack` is the excess plus `PREV_FREE`, even,
/// and halved it stays below the bound exactly when the excess is below
/// `2 * MIN_BLOCK - GRANULE` (the halved flag adds at most 1 to a multiple
/// of 4); with `USED` clear, `slack` is odd and the rotation moves that bit
/// to the top, as it does a negative excess's sign.
#[inline(always)]
fn fits_unpadded(header: usize, layout: Layout) -> bool {
    debug_assert!(header & PAD == 0);
    if GRANULE != 2 * PAD {
        return fits(header, layout);
    }
    // `size <= isize::MAX` (a `Layout`'s), so the sum cannot overflow.
    let rounded = (layout.size() + WORD + GRANULE - 1) & !(GRANULE - 1);
    let slack = header.wrapping_sub(rounded | USED);
    slack.rotate_right(1) < (2 * MIN_BLOCK - GRANULE) / 2
}

/// What a header that `fits` refused says of the call: cold, for the
/// report.
#[cold]
fn not_live(addr: usize, header: usize, layout: Layout) -> Misuse {
    if header & USED == 0 {
        Misuse::NotAllocated { addr }
    } else {
        Misuse::WrongLayout { addr, layout }
    }
}
