//! In-place resizing (grow into the next block, shrink with a tail), `usable_size`.

use core::alloc::Layout;
use core::ptr::NonNull;

use super::GenericTlsf;
use super::allocate::{least_block, padded};
use super::block::{Block, PREV_FREE, USED};
use super::config::{MIN_BLOCK, WORD};
use crate::AllocError;

impl<const FL: usize, const SL: usize> GenericTlsf<'_, FL, SL> {
    /// What an in-place resize of `ptr` from `old` to `new` starts from:
    /// the block `ptr` and `old` name (as `deallocate` checks), its header
    /// word and pad, and the block size (header and pad included) that
    /// `new` needs there; `Err` when there is none: `old` of size 0, `ptr`
    /// not aligned to `new.align()`, or `new` larger than any block.
    #[inline(always)]
    fn resize_target(
        &self,
        ptr: NonNull<u8>,
        old: Layout,
        new: Layout,
    ) -> Result<(Block, usize, usize, usize), AllocError> {
        if old.size() == 0 || ptr.as_ptr().addr() % new.align() != 0 {
            return Err(AllocError);
        }
        let size = least_block(new.size());
        if size > Self::MAX_BLOCK {
            return Err(AllocError);
        }
        let Ok((block, header, pad)) = self.live_block(ptr, old) else {
            return Err(AllocError);
        };
        // The pad stays: the payload does not move.
        Ok((block, header, pad, size.saturating_add(pad)))
    }

    /// Grows a block in place to hold `new.size()` bytes, taking from the free
    /// block after it. Returns the block's new usable extent.
    ///
    /// # Errors
    /// [`AllocError`] (changing nothing) when the next block is not free or
    /// too small, or when `ptr` is not aligned to `new.align()`; also when
    /// `ptr` and `old` do not name an allocated block as `deallocate`
    /// checks (the free that a moving grow ends with then refuses and
    /// reports it).
    ///
    /// # Safety
    /// `ptr` is live in this heap with layout `old` (as for `deallocate`) and
    /// `new.size() >= old.size()`.
    ///
    /// # Time complexity
    /// O(1).
    pub unsafe fn grow_in_place(
        &mut self,
        ptr: NonNull<u8>,
        old: Layout,
        new: Layout,
    ) -> Result<NonNull<[u8]>, AllocError> {
        let (block, header, pad, size) = self.resize_target(ptr, old, new)?;
        // SAFETY: `ptr` is a live payload of this heap, `block` its header
        // and `pad` the distance between the two.
        unsafe {
            let current = header & !(USED | PREV_FREE);
            if size <= current {
                return Ok(padded(
                    NonNull::slice_from_raw_parts(block.payload(), current - WORD),
                    pad,
                ));
            }
            let next = block.offset(current);
            if next.is_used() {
                return Err(AllocError);
            }
            let total = current + next.size();
            if total < size {
                return Err(AllocError);
            }
            self.remove(next, next.size());
            self.forget_if_merged(next);
            self.counters.in_use -= current;
            self.counters.uncount_allocation();
            Ok(padded(
                self.take_sized(block, total, size, header & PREV_FREE),
                pad,
            ))
        }
    }

    /// Shrinks a block in place to `new.size()` bytes; the tail goes back to
    /// the heap when it can be a block of its own (merging with a free block
    /// after it). Returns the block's new usable extent.
    ///
    /// # Errors
    /// [`AllocError`] (changing nothing) when `ptr` is not aligned to
    /// `new.align()` or `new.size()` is zero: such a block must move. Also
    /// when `new.size()` needs a larger block than the current one (a shrink
    /// to a larger size, which breaks the contract), or when `ptr` and `old`
    /// do not name an allocated block as `deallocate` checks.
    ///
    /// # Safety
    /// `ptr` is live in this heap with layout `old`, and
    /// `new.size() <= old.size()`.
    ///
    /// # Time complexity
    /// O(1).
    pub unsafe fn shrink_in_place(
        &mut self,
        ptr: NonNull<u8>,
        old: Layout,
        new: Layout,
    ) -> Result<NonNull<[u8]>, AllocError> {
        if new.size() == 0 {
            return Err(AllocError);
        }
        let (block, header, pad, size) = self.resize_target(ptr, old, new)?;
        let current = header & !(USED | PREV_FREE);
        // A larger block than the current one: a shrink to a larger size.
        let Some(mut tail_size) = current.checked_sub(size) else {
            return Err(AllocError);
        };
        // SAFETY: `ptr` is a live payload of this heap, `block` its header
        // (`pad` bytes before), and `size` fits in it.
        unsafe {
            if tail_size < MIN_BLOCK {
                return Ok(padded(
                    NonNull::slice_from_raw_parts(block.payload(), current - WORD),
                    pad,
                ));
            }
            block.set_header(size | (header & (USED | PREV_FREE)));
            let tail = block.offset(size);
            self.counters.in_use -= tail_size;
            let next = tail.offset(tail_size);
            if !next.is_used() {
                let next_size = next.size();
                self.remove(next, next_size);
                tail_size += next_size;
            }
            tail.offset(tail_size).set_prev_free(true);
            self.file_free(tail, tail_size);
            // The tail is freed memory like any other (and it may have
            // swallowed `last_freed`).
            self.last_freed = Some(tail);
            Ok(padded(
                NonNull::slice_from_raw_parts(block.payload(), size - WORD),
                pad,
            ))
        }
    }

    /// Keeps `last_freed` a block's start when `block`, a free block, is
    /// merged into the allocated block before it by `grow_in_place`.
    #[inline(always)]
    fn forget_if_merged(&mut self, block: Block) {
        if self.last_freed == Some(block) {
            self.last_freed = None;
        }
    }

    /// Usable bytes of a live block: the length that `allocate` (or the
    /// in-place resize since) returned for it; 0 for a zero-size `layout`.
    /// The same call on every core and wrapper, which is why it takes the
    /// layout: a slab slot's size is its layout's class.
    ///
    /// A pointer and layout that break the contract in a way
    /// [`deallocate`](Self::deallocate) detects give 0, reading nothing
    /// outside the pools (what `deallocate` cannot tell apart, such as a
    /// pointer into a block after a word that reads as a header, is not
    /// detected here either).
    ///
    /// # Safety
    /// `ptr` is live in this heap with layout `layout` (as for
    /// `deallocate`).
    ///
    /// # Time complexity
    /// O(1).
    pub unsafe fn usable_size(&self, ptr: NonNull<u8>, layout: Layout) -> usize {
        if layout.size() == 0 {
            return 0;
        }
        match self.live_block(ptr, layout) {
            Ok((_, header, pad)) => (header & !(USED | PREV_FREE)).saturating_sub(WORD + pad),
            Err(_) => 0,
        }
    }
}
