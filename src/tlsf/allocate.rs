//! The allocation paths: fast, aligned (with a pad), fallback; carving a block.

use core::alloc::Layout;
use core::ptr::NonNull;

use super::GenericTlsf;
use super::block::{Block, PAD, PREV_FREE, USED};
use super::config::{GRANULE, MIN_BLOCK, WORD, list_at_least, list_of};
use super::lists::{BRANCHES, Below, levels_copy};
use crate::AllocError;
use crate::raw_heap::dangling;

impl<const FL: usize, const SL: usize> GenericTlsf<'_, FL, SL> {
    /// Allocates a block for `layout`; the returned slice is the whole usable
    /// block, which may be longer than `layout.size()`.
    ///
    /// A zero-size layout gets a dangling pointer aligned to `layout.align()`
    /// and costs nothing.
    ///
    /// # Errors
    /// [`AllocError`] when no free block can hold the layout (or the layout is
    /// larger than any block); the heap is unchanged.
    ///
    /// # Time complexity
    /// O(1). The common path is two bitmap scans and a list pop. When no
    /// list whose every block fits has a block, a cold fallback looks at
    /// two blocks, no more: the one the last free made, and the first
    /// block of the highest non-empty list below those. So a request fails
    /// only when every free block is smaller than its rounded-up size (the
    /// block size, plus `align - GRANULE` for an alignment
    /// above [`GRANULE`], rounded up to the next list boundary: by less
    /// than `1/SL`) and neither of those two blocks holds it; and freeing a
    /// block and allocating the same layout right after always succeeds.
    #[inline(always)]
    pub fn allocate(&mut self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
        if layout.align() > GRANULE {
            return self.allocate_aligned(layout);
        }
        self.allocate_unaligned(layout)
    }

    /// `allocate` for an alignment up to the granule: out of line, so that
    /// an aligned request branches to its path before this one saves the
    /// registers it needs.
    #[inline(never)]
    fn allocate_unaligned(&mut self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
        if layout.size() == 0 {
            return Ok(dangling(layout));
        }
        // No test against `MAX_BLOCK`: every block in the lists that
        // `find_list` searches from `list_at_least(size)` on is at least
        // `size` bytes (a size past the last level finds none), and the
        // fallback compares sizes.
        let size = least_block(layout.size());
        let (fl, sl) = list_at_least(size, Self::SL_LOG2, FL);
        let (fl, sl) = match self.find_list(fl, sl) {
            Ok(list) => list,
            Err(below) => return self.allocate_fallback(size, below),
        };
        // SAFETY: `find_list` returned a non-empty list whose blocks are all
        // at least `size` bytes.
        Ok(unsafe { self.take_head(fl, sl, size) })
    }

    #[inline(never)]
    fn allocate_aligned(&mut self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
        let align = layout.align();
        if layout.size() == 0 {
            return Ok(zero_size(layout));
        }
        // No test against `MAX_BLOCK`, as in `allocate`.
        let size = least_block(layout.size());
        let search = aligned_search(size, align);
        let (fl, sl) = list_at_least(search, Self::SL_LOG2, FL);
        let (fl, sl) = match self.find_list_by_levels(fl, sl) {
            Ok(list) => list,
            Err(below) => return self.fallback(size, align, below),
        };
        // SAFETY: the list is non-empty and all its blocks are at least
        // `search` bytes, enough for any pad plus `size`.
        unsafe {
            let block = self.pop(fl, sl);
            let pad = pad_for(block, align);
            Ok(self.take_padded(block, block.size(), pad, size))
        }
    }

    /// The fallback of an unaligned request: out of line, so that the hot
    /// path stays small.
    #[cold]
    fn allocate_fallback(
        &mut self,
        size: usize,
        below: Below,
    ) -> Result<NonNull<[u8]>, AllocError> {
        self.fallback(size, GRANULE, below)
    }

    /// The fallback when no list from the one `find_list` was asked on has
    /// a block (`below`): the free block the last free made, then the head
    /// of the highest non-empty list below that one, each taken if it
    /// holds `size` bytes `align`ed. Two blocks at most: O(1). Inlined in
    /// the aligned path (itself out of line), which a second call would
    /// lengthen.
    #[inline(always)]
    fn fallback(
        &mut self,
        size: usize,
        align: usize,
        below: Below,
    ) -> Result<NonNull<[u8]>, AllocError> {
        // SAFETY: `last_freed_fit` finds a free block filed in the list it
        // names; `find_list_below` returns a non-empty list, whose head is
        // a free block, and taken from the head it is popped, which needs
        // no test of a link before it. Either holds `pad + size` bytes.
        unsafe {
            // The longest allocations unlink the only block of a level,
            // and file the tail in an empty level. Where the list updates
            // branch, both update one copy of `fl_bitmap`, loaded and
            // stored once.
            let mut levels = self.fl_bitmap;
            let fit = if let Some(fit) = self.last_freed_fit(size, align) {
                let (fl, sl) = fit.list;
                self.remove_at_in(fit.block, fl, sl, levels_copy(&mut levels));
                fit
            } else {
                let Some((fl, sl)) = self.find_list_below(below) else {
                    return self.fail();
                };
                let block = self
                    .heads
                    .get_unchecked(fl)
                    .get_unchecked(sl)
                    .unwrap_unchecked();
                let header = block.header();
                let pad = pad_for(block, align);
                if !holds(header, pad + size) {
                    return self.fail();
                }
                let total = header & !PREV_FREE;
                self.pop_in(fl, sl, levels_copy(&mut levels));
                Fit {
                    block,
                    list: (fl, sl),
                    total,
                    pad,
                }
            };
            let taken = self.take_padded_in(
                fit.block,
                fit.total,
                fit.pad,
                size,
                levels_copy(&mut levels),
            );
            if BRANCHES {
                self.fl_bitmap = levels;
            }
            Ok(taken)
        }
    }

    /// The block the last free made, its list and the pad its payload
    /// needs, if it is still free and holds `size` bytes `align`ed.
    #[inline(always)]
    fn last_freed_fit(&self, size: usize, align: usize) -> Option<Fit> {
        let block = self.last_freed?;
        // SAFETY: `last_freed` is the start of a block (see the field).
        let header = unsafe { block.header() };
        let pad = pad_for(block, align);
        (header & USED == 0 && holds(header, pad + size)).then(|| {
            let total = header & !PREV_FREE;
            Fit {
                block,
                list: list_of(total, Self::SL_LOG2, FL),
                total,
                pad,
            }
        })
    }

    /// Allocates `size` bytes from a free block that a search found.
    ///
    /// # Safety
    /// `fit` is right (see `Fit`) and holds `size` bytes after its pad.
    #[inline(always)]
    unsafe fn take_fit(&mut self, fit: Fit, size: usize) -> NonNull<[u8]> {
        // SAFETY: as `take_padded` requires, from the caller's.
        unsafe {
            let (fl, sl) = fit.list;
            self.remove_at(fit.block, fl, sl);
            self.take_padded(fit.block, fit.total, fit.pad, size)
        }
    }

    /// Allocates `layout` from the block the last free made, if it is free
    /// and holds it: for the hybrid heap, after a request failed and a
    /// spare page went back, where that block is the only free memory that
    /// a second search could find and the first did not. Counts no
    /// failure. A zero-size `layout` is the caller's to serve.
    ///
    /// # Time complexity
    /// O(1): one header test, then at most an unlink and a split.
    pub(crate) fn allocate_in_last_freed(&mut self, layout: Layout) -> Option<NonNull<[u8]>> {
        let size = least_block(layout.size());
        let fit = self.last_freed_fit(size, layout.align())?;
        // SAFETY: `last_freed_fit` found the fit.
        Some(unsafe { self.take_fit(fit, size) })
    }

    #[cold]
    fn fail<T>(&mut self) -> Result<T, AllocError> {
        self.counters.failures += 1;
        Err(AllocError)
    }

    /// Allocates `size` bytes from the head of list `(fl, sl)`: the hot path.
    /// When the tail left over stays in the same list, it takes the head's
    /// place and the bitmaps are not touched.
    ///
    /// # Safety
    /// List `(fl, sl)` is non-empty and its blocks are at least `size` bytes;
    /// `size` is a valid block size.
    #[inline(always)]
    unsafe fn take_head(&mut self, fl: usize, sl: usize, size: usize) -> NonNull<[u8]> {
        // SAFETY: the list is non-empty, its head a free block of at least
        // `size` bytes; a tail of `rest >= MIN_BLOCK` bytes is a valid block,
        // and the block after the head has `PREV_FREE` set (the head is free).
        unsafe {
            let block = self
                .heads
                .get_unchecked(fl)
                .get_unchecked(sl)
                .unwrap_unchecked();
            let total = block.size();
            let rest = total - size;
            if rest < MIN_BLOCK {
                self.pop(fl, sl);
                return self.take_sized(block, total, size, 0);
            }
            let tail = block.offset(size);
            tail.set_header(rest);
            tail.set_footer(rest);
            let (tail_fl, tail_sl) = list_of(rest, Self::SL_LOG2, FL);
            if (tail_fl, tail_sl) == (fl, sl) {
                self.replace(block, tail, fl, sl);
            } else {
                self.pop(fl, sl);
                self.insert_at(tail, tail_fl, tail_sl);
            }
            self.mark_used(block, size, 0)
        }
    }

    /// Allocates `size` bytes from `block` (unlinked, free) with the payload
    /// `pad` bytes past its usual place, so that it lands on an alignment.
    /// The pad stays in the block: the word before the payload says how
    /// long it is (`PAD`), and the block's header stays where it is. A pad
    /// is less than the alignment; splitting it off as a free block instead
    /// would cost a third list update on the allocation's longest path.
    ///
    /// # Safety
    /// As for `take_sized`, with `total` the block's size, `pad + size <=
    /// total` and `pad` a multiple of the granule.
    #[inline(always)]
    unsafe fn take_padded(
        &mut self,
        block: Block,
        total: usize,
        pad: usize,
        size: usize,
    ) -> NonNull<[u8]> {
        // SAFETY: the caller's contract.
        unsafe { self.take_padded_in(block, total, pad, size, None) }
    }

    /// `take_padded`, filing the tail's level bit in `levels` (see
    /// `levels_copy`) rather than in `fl_bitmap` when it is given.
    ///
    /// # Safety
    /// As for `take_padded`.
    #[inline(always)]
    unsafe fn take_padded_in(
        &mut self,
        block: Block,
        total: usize,
        pad: usize,
        size: usize,
        levels: Option<&mut usize>,
    ) -> NonNull<[u8]> {
        // SAFETY: the block is free and unlinked, and its predecessor is
        // allocated (no two free blocks touch); the word before the payload
        // is inside the block, and before the tail that `take_sized` files.
        // Written first, without a test: with no pad it is the header,
        // which `take_sized` then writes over. The payload, `pad + WORD`
        // bytes in, and its length are inside the block taken.
        unsafe {
            let pad_word = pad | PAD;
            block.offset(pad).set_header(pad_word);
            let taken = self.take_sized_in(block, total, pad + size, 0, levels);
            // The payload is `pad + WORD` bytes into the block: where the
            // flag is the word's size (32-bit targets), that is the pad
            // word just written, already in a register, and the payload and
            // its length take one instruction each rather than two.
            let offset = if PAD == WORD { pad_word } else { pad + WORD };
            let len = taken.len() + WORD - offset;
            NonNull::slice_from_raw_parts(block.ptr().add(offset), len)
        }
    }

    /// # Safety
    /// `block` heads `total >= size` bytes of unlinked free memory; `flags`
    /// is `PREV_FREE` if the block before it is free.
    #[inline(always)]
    pub(super) unsafe fn take_sized(
        &mut self,
        block: Block,
        total: usize,
        size: usize,
        flags: usize,
    ) -> NonNull<[u8]> {
        // SAFETY: the caller's contract.
        unsafe { self.take_sized_in(block, total, size, flags, None) }
    }

    /// `take_sized`, filing the tail's level bit in `levels` (see
    /// `levels_copy`) rather than in `fl_bitmap` when it is given.
    ///
    /// # Safety
    /// As for `take_sized`.
    #[inline(always)]
    unsafe fn take_sized_in(
        &mut self,
        block: Block,
        total: usize,
        size: usize,
        flags: usize,
        levels: Option<&mut usize>,
    ) -> NonNull<[u8]> {
        let rest = total - size;
        // SAFETY: the block spans `total` bytes; a tail of `rest >=
        // MIN_BLOCK` bytes is a valid block, and the block after `total` has
        // `PREV_FREE` set already (it followed a free block).
        let size = unsafe {
            if rest >= MIN_BLOCK {
                self.file_free_in(block.offset(size), rest, levels);
                size
            } else {
                block.offset(total).set_prev_free(false);
                total
            }
        };
        // SAFETY: `block` is now an allocated block of `size` bytes.
        unsafe { self.mark_used(block, size, flags) }
    }

    /// Writes an allocated block's header, counts it, returns its payload.
    ///
    /// # Safety
    /// `block` spans `size` bytes that are in no list; `flags` is
    /// `PREV_FREE` if the block before it is free.
    #[inline(always)]
    unsafe fn mark_used(&mut self, block: Block, size: usize, flags: usize) -> NonNull<[u8]> {
        // SAFETY: the caller hands us the block.
        unsafe { block.set_header(size | USED | flags) };
        self.counters.count_allocation(size);
        // SAFETY: `block` is a block.
        NonNull::slice_from_raw_parts(unsafe { block.payload() }, size - WORD)
    }
}

/// A free block that holds a request: the block, the list it is filed in,
/// its size (read once, for both the test and the split), and the pad
/// before the request's payload (a multiple of the granule, `pad_for`).
#[derive(Clone, Copy)]
struct Fit {
    block: Block,
    list: (usize, usize),
    total: usize,
    pad: usize,
}

/// The smallest block (header included) for a request of `size` bytes:
/// rounded up to the granule, at least `MIN_BLOCK`. `size <= isize::MAX`
/// (a `Layout` guarantees it), so nothing overflows.
#[inline(always)]
pub(super) const fn least_block(size: usize) -> usize {
    let size = (size + WORD + GRANULE - 1) & !(GRANULE - 1);
    if size < MIN_BLOCK { MIN_BLOCK } else { size }
}

/// A block size that holds `size` bytes `align`ed wherever the block
/// starts: room for the largest pad `pad_for` can ask. `size + align`
/// cannot overflow: a `Layout` keeps its size rounded up to its alignment
/// within `isize::MAX`.
#[inline]
const fn aligned_search(size: usize, align: usize) -> usize {
    size + align - GRANULE
}

/// Whether the free block whose header is `header` holds `bytes`, a
/// multiple of the granule. The header is the block's size (a multiple of
/// the granule too) plus at most `PREV_FREE`, less than a granule: compared
/// with `bytes` it tests as the size, and the size needs no mask until the
/// block is taken (on Armv6-M the mask is a constant in a register).
#[inline(always)]
fn holds(header: usize, bytes: usize) -> bool {
    bytes <= header
}

/// Bytes from `block`'s usual payload place to the next `align`ed one: a
/// multiple of the granule below `align` (payloads are granule-aligned),
/// and 0 for an alignment up to the granule.
#[inline(always)]
pub(super) fn pad_for(block: Block, align: usize) -> usize {
    if align <= GRANULE {
        return 0;
    }
    // `-payload & (align - 1)`, with the payload one word after the block:
    // a block starts `WORD` bytes past a granule boundary, so `!block` is
    // `-payload` plus `WORD - 1` below the granule, which the mask drops.
    // The mask is `aligned_search`'s addend, already in a register, and
    // no constant is needed (Armv6-M spilled one).
    (align - GRANULE) & !block.ptr().as_ptr().addr()
}

/// `dangling`, out of line: so that the aligned path's test of a zero
/// size is a branch, not a return ahead of its register saves.
#[cold]
#[inline(never)]
fn zero_size(layout: Layout) -> NonNull<[u8]> {
    dangling(layout)
}

/// The part of a block's payload `taken` that starts `pad` bytes in.
///
/// # Safety
/// `pad` is less than `taken`'s length.
#[inline(always)]
pub(super) unsafe fn padded(taken: NonNull<[u8]>, pad: usize) -> NonNull<[u8]> {
    // SAFETY: the caller's; the result is inside `taken`.
    unsafe { NonNull::slice_from_raw_parts(taken.cast::<u8>().add(pad), taken.len() - pad) }
}
