//! The free lists and their bitmaps: finding, filing, unlinking, replacing.

use core::hint::assert_unchecked;
use core::num::NonZeroUsize;
use core::ptr::NonNull;

use super::GenericTlsf;
use super::block::Block;
use super::config::{GRANULE_LOG2, list_of};
use crate::bits::{highest_bit_below, lowest_bit, lowest_bit_u32};

/// Whether the list updates branch on a list running empty (or being
/// empty) rather than compute masks from a flag and write a scratch link:
/// fewer instructions on every path, so on most targets. On Armv6-M and
/// Armv8-M Baseline (`rtarena_soft_clz`, the targets with no bit-scan
/// instruction and eight low registers) the branches cost spills instead:
/// measured with `wcet/run.py`, the branch-free forms are shorter there.
pub(super) const BRANCHES: bool = !cfg!(rtarena_soft_clz);

/// Where `find_list` found no list at or after the one it was asked: in
/// level `fl` (`FL` or more if past the last level), whose map it loaded
/// (`sl_map`, 0 past the last level). The last non-empty list before it
/// is found from there (`find_list_below`), without loading the map again
/// or testing the level against `FL`.
#[derive(Clone, Copy)]
pub(super) struct Below {
    fl: usize,
    sl_map: u32,
}

impl<const FL: usize, const SL: usize> GenericTlsf<'_, FL, SL> {
    /// Writes the header and footer of a free block of `size` bytes, whose
    /// predecessor is allocated, and files it in its list.
    ///
    /// # Safety
    /// `size` bytes at `block` are ours, in no block that is in use or in a
    /// list, and `size` is a valid block size.
    #[inline(always)]
    pub(super) unsafe fn file_free(&mut self, block: Block, size: usize) {
        // SAFETY: forwarded.
        unsafe { self.file_free_in(block, size, None) }
    }

    /// `file_free`, setting a level bit in `levels` (see `levels_copy`)
    /// rather than in `fl_bitmap` when it is given.
    ///
    /// # Safety
    /// As for `file_free`.
    #[inline(always)]
    pub(super) unsafe fn file_free_in(
        &mut self,
        block: Block,
        size: usize,
        levels: Option<&mut usize>,
    ) {
        // SAFETY: forwarded.
        unsafe {
            block.set_header(size);
            block.set_footer(size);
            self.insert_in(block, size, levels);
        }
    }

    /// The first non-empty list at or after `(fl, sl)` in size order;
    /// else where the search for the last one before it starts (see
    /// `Below`).
    #[inline(always)]
    pub(super) fn find_list(&self, fl: usize, sl: usize) -> Result<(usize, usize), Below> {
        if fl >= FL {
            return Err(Below { fl, sl_map: 0 });
        }
        // SAFETY: `fl < FL`.
        let level_map = unsafe { *self.sl_bitmaps.get_unchecked(fl) };
        let sl_map = level_map & (u32::MAX << sl);
        if sl_map != 0 {
            return Ok((fl, lowest_bit_u32(sl_map) as usize));
        }
        // `fl + 1` may equal `usize::BITS`, hence the two shifts.
        let fl_map = self.fl_bitmap & ((usize::MAX << fl) << 1);
        if fl_map == 0 {
            return Err(Below {
                fl,
                sl_map: level_map,
            });
        }
        // SAFETY: bits of `fl_bitmap` are only set below `FL`, each where
        // that level's map is not 0.
        Ok(unsafe { self.first_list_of(lowest_bit(fl_map) as usize) })
    }

    /// The first list of level `fl`, which has one.
    ///
    /// # Safety
    /// `fl < FL`, and the level's map is not 0.
    #[inline(always)]
    unsafe fn first_list_of(&self, fl: usize) -> (usize, usize) {
        // SAFETY: `fl < FL` (caller).
        let sl_map = unsafe { *self.sl_bitmaps.get_unchecked(fl) };
        (fl, lowest_bit_u32(sl_map) as usize)
    }

    /// `find_list` for the aligned path: where the levels do not cover
    /// every size (a `SmallTlsf`), the level's bit in `fl_bitmap` is
    /// tested before its map is loaded. A set bit proves the level exists,
    /// which spares `find_list`'s test of it against `FL`, and no bit at or
    /// above the level is the fallback's longest path, found with one load
    /// and one shift (Cortex-M4: 9 instructions fewer there, 2 more where
    /// the level holds the list). Where the levels cover every size the
    /// compiler drops that test anyway, and `find_list`'s order is shorter.
    #[inline(always)]
    pub(super) fn find_list_by_levels(
        &self,
        fl: usize,
        sl: usize,
    ) -> Result<(usize, usize), Below> {
        if GRANULE_LOG2 as usize + FL + 1 >= usize::BITS as usize {
            return self.find_list(fl, sl);
        }
        // SAFETY: `fl` is a level `list_at_least` computed from a size's
        // top bit, below `usize::BITS - GRANULE_LOG2 - 1`, or `FL` past the
        // last level, itself below that here.
        unsafe { assert_unchecked(fl < usize::BITS as usize) };
        let levels = self.fl_bitmap >> fl;
        if levels == 0 {
            return Err(Below { fl, sl_map: 0 });
        }
        let fl = if levels & 1 != 0 {
            // SAFETY: bits of `fl_bitmap` are only set below `FL`.
            let level_map = unsafe { *self.sl_bitmaps.get_unchecked(fl) };
            let sl_map = level_map & (u32::MAX << sl);
            if sl_map != 0 {
                return Ok((fl, lowest_bit_u32(sl_map) as usize));
            }
            let above = levels >> 1;
            if above == 0 {
                return Err(Below {
                    fl,
                    sl_map: level_map,
                });
            }
            fl + 1 + lowest_bit(above) as usize
        } else {
            fl + lowest_bit(levels) as usize
        };
        // SAFETY: as above, and that level's map is not 0.
        Ok(unsafe { self.first_list_of(fl) })
    }

    /// The last non-empty list before the list where `find_list` failed.
    /// No list from there on has a block, so level `below.fl`'s map (0 if
    /// the level does not exist) has bits only below that list and needs
    /// no mask; if it is 0, `fl_bitmap` has no bit at or above the level
    /// and needs none either.
    #[inline(always)]
    pub(super) fn find_list_below(&self, below: Below) -> Option<(usize, usize)> {
        if below.sl_map != 0 {
            return Some((below.fl, Self::highest_list(below.sl_map)));
        }
        // Bits of `fl_bitmap` are only set below `FL`.
        let fl = highest_bit_below(NonZeroUsize::new(self.fl_bitmap)?, FL as u32) as usize;
        // SAFETY: as just said, each where that level's map is not 0.
        let sl_map = unsafe { *self.sl_bitmaps.get_unchecked(fl) };
        Some((fl, Self::highest_list(sl_map)))
    }

    /// The highest list of a non-zero second-level map (bits only below
    /// `SL`).
    #[inline(always)]
    fn highest_list(sl_map: u32) -> usize {
        // SAFETY: the caller's map is not 0.
        let map = unsafe { NonZeroUsize::new_unchecked(sl_map as usize) };
        highest_bit_below(map, SL as u32) as usize
    }

    /// Unlinks and returns the head of a non-empty list.
    ///
    /// # Safety
    /// List `(fl, sl)` is non-empty (`fl < FL`, `sl < SL`).
    #[inline(always)]
    pub(super) unsafe fn pop(&mut self, fl: usize, sl: usize) -> Block {
        // SAFETY: forwarded.
        unsafe { self.pop_in(fl, sl, None) }
    }

    /// `pop`, clearing a level bit in `levels` (see `levels_copy`) rather
    /// than in `fl_bitmap` when it is given.
    ///
    /// # Safety
    /// As for `pop`.
    #[inline(always)]
    pub(super) unsafe fn pop_in(
        &mut self,
        fl: usize,
        sl: usize,
        levels: Option<&mut usize>,
    ) -> Block {
        // SAFETY: in bounds and non-empty, per the caller; the new head, a
        // free block, takes the back link.
        unsafe {
            let slot = self.heads.get_unchecked_mut(fl).get_unchecked_mut(sl);
            let block = slot.unwrap_unchecked();
            let next = block.next_free();
            *slot = next;
            match next {
                Some(next) => next.set_prev_free_link(None),
                None => self.clear_bit_in(fl, sl, levels),
            }
            block
        }
    }

    /// Clears the bit of list `(fl, sl)`, which just ran empty, and its
    /// level's bit if that was the level's last list: in `levels` if given
    /// (a copy of `fl_bitmap` that the caller stores back), else in
    /// `fl_bitmap`.
    #[inline(always)]
    fn clear_bit_in(&mut self, fl: usize, sl: usize, levels: Option<&mut usize>) {
        if BRANCHES {
            // SAFETY: as for `clear_bit_if`.
            unsafe { assert_unchecked(fl < FL && sl < SL) };
            // SAFETY: as just said, `fl < FL`.
            let map = unsafe { self.sl_bitmaps.get_unchecked_mut(fl) };
            *map &= !(1 << sl);
            if *map == 0 {
                *levels.unwrap_or(&mut self.fl_bitmap) &= !(1 << fl);
            }
        } else {
            self.clear_bit_if(true, fl, sl, levels);
        }
    }

    /// Clears the bit of list `(fl, sl)` when `emptied`, without a branch:
    /// whether a list runs empty is data-dependent and mispredicts often.
    #[inline(always)]
    fn clear_bit_if(&mut self, emptied: bool, fl: usize, sl: usize, levels: Option<&mut usize>) {
        // SAFETY: callers pass a list index, `fl < FL <= usize::BITS` and
        // `sl < SL <= 32` (`config::validate`). Telling the compiler spares
        // the masks that Rust's shifts by a variable otherwise get.
        unsafe { assert_unchecked(fl < FL && sl < SL) };
        // SAFETY: as just said, `fl < FL`.
        let map = unsafe { self.sl_bitmaps.get_unchecked_mut(fl) };
        *map &= !((emptied as u32) << sl);
        *levels.unwrap_or(&mut self.fl_bitmap) &= !(((*map == 0) as usize) << fl);
    }

    /// `block`, or the scratch block when there is none: `insert_at` writes
    /// the old head's back link unconditionally, and when the list was empty
    /// the write lands in the scratch words. Whether a list is empty is
    /// hard to predict under mixed sizes; this trades that branch for a
    /// store to a line that is always in cache. (Unlinking keeps its
    /// branches: there the branch-free form measured slower.)
    #[inline(always)]
    fn or_scratch(&mut self, block: Option<Block>) -> Block {
        let scratch = Block::at(NonNull::from(&mut self.scratch).cast());
        block.unwrap_or(scratch)
    }

    /// `insert`, setting the level's bit in `levels` if given (see
    /// `clear_bit_in`).
    ///
    /// # Safety
    /// As for `insert`.
    #[inline(always)]
    pub(super) unsafe fn insert_in(
        &mut self,
        block: Block,
        size: usize,
        levels: Option<&mut usize>,
    ) {
        let (fl, sl) = list_of(size, Self::SL_LOG2, FL);
        // SAFETY: forwarded; `size <= MAX_BLOCK` maps to a list in bounds.
        unsafe { self.link(block, fl, sl, levels) }
    }

    /// Files a free block at the head of list `(fl, sl)`.
    ///
    /// # Safety
    /// `block` is a free block in no list, and `(fl, sl)` is its size's list.
    #[inline(always)]
    pub(super) unsafe fn insert_at(&mut self, block: Block, fl: usize, sl: usize) {
        // SAFETY: forwarded.
        unsafe { self.link(block, fl, sl, None) }
    }

    /// `insert_at`, setting the level's bit in `levels` if given (see
    /// `clear_bit_in`).
    ///
    /// # Safety
    /// As for `insert_at`.
    #[inline(always)]
    unsafe fn link(&mut self, block: Block, fl: usize, sl: usize, levels: Option<&mut usize>) {
        // SAFETY: the list index is in bounds (see `clear_bit_if`).
        unsafe { assert_unchecked(fl < FL && sl < SL) };
        // SAFETY: the list index is in bounds; `block` is free, so it has
        // room for its links, and so has the old head.
        unsafe {
            let slot = self.heads.get_unchecked_mut(fl).get_unchecked_mut(sl);
            let head = *slot;
            *slot = Some(block);
            block.set_next_free(head);
            block.set_prev_free_link(None);
            if !BRANCHES {
                self.or_scratch(head).set_prev_free_link(Some(block));
            } else if let Some(head) = head {
                // A non-empty list has its bits set already.
                head.set_prev_free_link(Some(block));
                return;
            }
            *self.sl_bitmaps.get_unchecked_mut(fl) |= 1 << sl;
        }
        *levels.unwrap_or(&mut self.fl_bitmap) |= 1 << fl;
    }

    /// Puts free block `new` where free block `old` is in list `(fl, sl)`,
    /// without touching the bitmaps: the cheap case of a split or a merge
    /// that leaves the free block in the same size class.
    ///
    /// # Safety
    /// `old` is filed in list `(fl, sl)`; `new` is a free block in no list
    /// whose size maps to `(fl, sl)`. (`old`'s links are read before `new`'s
    /// are written, so the two blocks may even overlap.)
    #[inline(always)]
    pub(super) unsafe fn replace(&mut self, old: Block, new: Block, fl: usize, sl: usize) {
        // SAFETY: `old` and its list neighbours are free blocks; `new` has
        // room for its links.
        unsafe {
            let next = old.next_free();
            let prev = old.prev_free();
            new.set_next_free(next);
            new.set_prev_free_link(prev);
            if let Some(next) = next {
                next.set_prev_free_link(Some(new));
            }
            match prev {
                Some(prev) => prev.set_next_free(Some(new)),
                None => *self.heads.get_unchecked_mut(fl).get_unchecked_mut(sl) = Some(new),
            }
        }
    }

    /// Unlinks a free block of `size` bytes from its list.
    ///
    /// # Safety
    /// `block` is a free block of `size` bytes filed in its list.
    #[inline(always)]
    pub(super) unsafe fn remove(&mut self, block: Block, size: usize) {
        // SAFETY: forwarded. The list is needed only when `block` heads it:
        // mapping the size there spares the other unlinks its instructions.
        unsafe { self.remove_in(block, size, None) }
    }

    /// `remove`, clearing the level's bit in `levels` if given (see
    /// `clear_bit_in`).
    ///
    /// # Safety
    /// As for `remove`.
    #[inline(always)]
    pub(super) unsafe fn remove_in(
        &mut self,
        block: Block,
        size: usize,
        levels: Option<&mut usize>,
    ) {
        // SAFETY: forwarded.
        unsafe { self.unlink(block, || list_of(size, Self::SL_LOG2, FL), levels) }
    }

    /// Unlinks a free block from list `(fl, sl)`.
    ///
    /// # Safety
    /// `block` is filed in list `(fl, sl)`.
    #[inline(always)]
    pub(super) unsafe fn remove_at(&mut self, block: Block, fl: usize, sl: usize) {
        // SAFETY: forwarded.
        unsafe { self.remove_at_in(block, fl, sl, None) }
    }

    /// `remove_at`, clearing a level bit in `levels` (see `levels_copy`)
    /// rather than in `fl_bitmap` when it is given.
    ///
    /// # Safety
    /// As for `remove_at`.
    #[inline(always)]
    pub(super) unsafe fn remove_at_in(
        &mut self,
        block: Block,
        fl: usize,
        sl: usize,
        levels: Option<&mut usize>,
    ) {
        // SAFETY: forwarded.
        unsafe { self.unlink(block, || (fl, sl), levels) }
    }

    /// Unlinks a free block from its list, which `list` names; called only
    /// when the block heads it.
    ///
    /// # Safety
    /// `block` is filed in list `list()`.
    #[inline(always)]
    unsafe fn unlink(
        &mut self,
        block: Block,
        list: impl FnOnce() -> (usize, usize),
        levels: Option<&mut usize>,
    ) {
        // SAFETY: `block` is in list `(fl, sl)`; its neighbours in the list
        // are free blocks, and the head slot is in bounds.
        unsafe {
            let next = block.next_free();
            let prev = block.prev_free();
            if !BRANCHES {
                if let Some(next) = next {
                    next.set_prev_free_link(prev);
                }
            }
            match prev {
                Some(prev) => {
                    prev.set_next_free(next);
                    if BRANCHES {
                        if let Some(next) = next {
                            next.set_prev_free_link(Some(prev));
                        }
                    }
                }
                None => {
                    let (fl, sl) = list();
                    *self.heads.get_unchecked_mut(fl).get_unchecked_mut(sl) = next;
                    if !BRANCHES {
                        self.clear_bit_if(next.is_none(), fl, sl, levels);
                    } else {
                        // The head's test comes first, and the test of a
                        // list running empty after it, on its own path.
                        match next {
                            Some(next) => next.set_prev_free_link(None),
                            None => self.clear_bit_in(fl, sl, levels),
                        }
                    }
                }
            }
        }
    }
}

/// `levels`, a copy of `fl_bitmap` that a path making two or three list
/// updates passes to each (the free's merge with both neighbours, the
/// allocation's fallback), loaded and stored once, where the list updates
/// branch; else none, and they update `fl_bitmap` itself.
#[inline(always)]
pub(super) fn levels_copy(levels: &mut usize) -> Option<&mut usize> {
    if BRANCHES { Some(levels) } else { None }
}
