//! The integrity check: a full walk of every pool and every free list.

use super::GenericTlsf;
use super::block::Block;
use super::config::{GRANULE, MIN_BLOCK, WORD, list_of};
use crate::CheckError;

impl<const FL: usize, const SL: usize> GenericTlsf<'_, FL, SL> {
    /// Walks every pool and every free list and verifies every invariant:
    /// block sizes and bounds, headers' flags against their neighbours,
    /// footers, that no two free blocks touch, list links, that each free
    /// block is filed in the list its size maps to and each list holds only
    /// such blocks, the bitmaps, and the byte counters.
    ///
    /// # Errors
    /// The first violation found, with the address where it was found.
    ///
    /// # Time complexity
    /// O(blocks + lists).
    pub fn check(&self) -> Result<(), CheckError> {
        check(self)
    }
}

fn fail<T>(what: &'static str, block: Block) -> Result<T, CheckError> {
    Err(CheckError::new(what, block.ptr().as_ptr().addr()))
}

fn check<const FL: usize, const SL: usize>(
    tlsf: &GenericTlsf<'_, FL, SL>,
) -> Result<(), CheckError> {
    let (free_blocks, free_bytes, used_bytes) = walk_pools(tlsf)?;
    let listed = walk_lists(tlsf, free_blocks)?;
    let anywhere = CheckError::new;
    if listed != free_blocks {
        return Err(anywhere(
            "a free block is missing from the free lists, or a list holds a block twice",
            0,
        ));
    }
    let c = &tlsf.counters;
    if used_bytes != c.in_use {
        return Err(anywhere(
            "the in-use counter disagrees with the allocated blocks",
            0,
        ));
    }
    if free_bytes + used_bytes != c.capacity {
        return Err(anywhere("the blocks do not add up to the capacity", 0));
    }
    if c.peak < c.in_use {
        return Err(anywhere("the peak counter is below the in-use counter", 0));
    }
    if tlsf.first_pool != tlsf.pools.first() {
        return Err(anywhere(
            "the copy of the first pool's slot disagrees with the pool table",
            0,
        ));
    }
    Ok(())
}

/// Walks each pool block by block. Returns (free blocks, free bytes, used
/// bytes). Also checks that `last_freed` is `None` or a block's start.
fn walk_pools<const FL: usize, const SL: usize>(
    tlsf: &GenericTlsf<'_, FL, SL>,
) -> Result<(usize, usize, usize), CheckError> {
    let (mut free_blocks, mut free_bytes, mut used_bytes) = (0, 0, 0);
    let mut last_freed_seen = tlsf.last_freed.is_none();
    for (base, len) in tlsf.pools.iter() {
        if len > GenericTlsf::<FL, SL>::MAX_POOL {
            return fail(
                "a pool is larger than the configuration allows",
                Block::at(base),
            );
        }
        // SAFETY: the pool table holds our pools; each is one word, blocks,
        // and a one-word sentinel. Walking by block sizes stays inside the
        // pool because every size is checked against the sentinel's address
        // before it is followed.
        unsafe {
            let sentinel = Block::at(base.add(len - WORD));
            if !sentinel.is_used() || sentinel.size() != 0 {
                return fail("a pool's end sentinel is overwritten", sentinel);
            }
            let end = sentinel.ptr().as_ptr().addr();
            let mut block = Block::at(base.add(WORD));
            let mut prev_free = false;
            while block != sentinel {
                let addr = block.ptr().as_ptr().addr();
                let size = block.size();
                if size < MIN_BLOCK || size % GRANULE != 0 || size > end - addr {
                    return fail(
                        "a block's size is out of range (overwritten header?)",
                        block,
                    );
                }
                last_freed_seen |= tlsf.last_freed == Some(block);
                if block.is_prev_free() != prev_free {
                    return fail(
                        "a header's PREV_FREE flag disagrees with the block before it",
                        block,
                    );
                }
                if block.is_used() {
                    used_bytes += size;
                    prev_free = false;
                } else {
                    if prev_free {
                        return fail("two free blocks are adjacent (missed coalescing)", block);
                    }
                    if block.footer() != size {
                        return fail("a free block's footer disagrees with its header", block);
                    }
                    free_blocks += 1;
                    free_bytes += size;
                    prev_free = true;
                }
                block = block.offset(size);
            }
            if sentinel.is_prev_free() != prev_free {
                return fail(
                    "a sentinel's PREV_FREE flag disagrees with the pool's last block",
                    sentinel,
                );
            }
        }
    }
    if !last_freed_seen {
        return Err(CheckError::new(
            "the block the last free made is not a block's start",
            tlsf.last_freed.map_or(0, |b| b.ptr().as_ptr().addr()),
        ));
    }
    Ok((free_blocks, free_bytes, used_bytes))
}

/// Walks every free list; returns how many blocks they hold. Stops at
/// `free_blocks + 1` blocks so that a corrupted, cyclic list cannot hang it,
/// and follows no link that leaves the pools.
fn walk_lists<const FL: usize, const SL: usize>(
    tlsf: &GenericTlsf<'_, FL, SL>,
    free_blocks: usize,
) -> Result<usize, CheckError> {
    let sl_log2 = SL.trailing_zeros();
    let mut listed = 0;
    for fl in 0..FL {
        let map = tlsf.sl_bitmaps[fl];
        if (tlsf.fl_bitmap >> fl) & 1 != (map != 0) as usize {
            return Err(CheckError::new(
                "the first-level bitmap disagrees with a second-level bitmap",
                fl,
            ));
        }
        for sl in 0..SL {
            let head = tlsf.heads[fl][sl];
            if (map >> sl) & 1 != head.is_some() as u32 {
                return Err(CheckError::new(
                    "a second-level bitmap disagrees with its list",
                    fl * SL + sl,
                ));
            }
            let mut prev = None;
            let mut next = head;
            while let Some(block) = next {
                let addr = block.ptr().as_ptr().addr();
                if tlsf.pools.locate(addr).is_none() || (addr + WORD) % GRANULE != 0 {
                    return fail("a free-list link points outside the pools", block);
                }
                if listed == free_blocks {
                    return fail(
                        "the free lists hold more blocks than the pools (a cycle?)",
                        block,
                    );
                }
                // SAFETY: the link points inside one of our pools at a
                // block-aligned address (checked just above); reading its
                // header and links stays inside that pool.
                unsafe {
                    if block.is_used() {
                        return fail("an allocated block is in a free list", block);
                    }
                    let size = block.size();
                    if size < MIN_BLOCK {
                        return fail("a listed free block has a corrupt size", block);
                    }
                    if list_of(size, sl_log2, FL) != (fl, sl) {
                        return fail(
                            "a free block is filed in the wrong list for its size",
                            block,
                        );
                    }
                    if block.prev_free() != prev {
                        return fail("a free block's back link is wrong", block);
                    }
                    next = block.next_free();
                }
                listed += 1;
                prev = Some(block);
            }
        }
    }
    Ok(listed)
}
