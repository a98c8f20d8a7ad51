//! Block layout: the words the TLSF keeps inside the pool.
//!
//! ```text
//!  allocated block              free block                    pool end
//! +-------------------+        +-------------------+         +-------------------+
//! | size | flags      |        | size | flags      |         | 0 | USED | flags  |  sentinel
//! +-------------------+        +-------------------+         +-------------------+
//! | payload ...       |        | next free         |
//! |                   |        | prev free         |
//! |                   |        | ...               |
//! |                   |        | size (footer)     |
//! +-------------------+        +-------------------+
//! ```
//!
//! An allocated block costs one word; its payload starts right after it
//! (or, aligned above the granule, a pad further on: the word before such
//! a payload holds the pad's length and `PAD`). A
//! free block also holds its free-list links and, in its last word, a copy of
//! its size, so that the block after it can find its start when the two
//! coalesce. `PREV_FREE` in a header says that this footer is valid.
//!
//! A block starts one word before a granule boundary, so its payload is
//! granule-aligned; a pool therefore begins with one unused word.
//!
//! Each pool ends with a sentinel: a zero-size, always-used header, so that
//! the last block never coalesces past the end.

use core::ptr::NonNull;

use super::config::WORD;

/// Header flag: the block is allocated.
pub(crate) const USED: usize = 0b01;
/// Header flag: the block physically before this one is free (its footer is valid).
pub(crate) const PREV_FREE: usize = 0b10;
const FLAGS: usize = USED | PREV_FREE;
/// Marks the word before an aligned payload that does not start its block
/// (see `GenericTlsf::take_padded`): the word holds the payload's distance
/// from its block's first payload place, plus this bit. Block sizes are
/// multiples of the granule (8 bytes at least), so no header has it.
pub(crate) const PAD: usize = 0b100;
const _: () = assert!(PAD < super::config::GRANULE && PAD & FLAGS == 0);

/// Bytes at the start of a free block that hold its header and links, and
/// at its end that hold its footer: the rest of it holds nothing the heap
/// needs.
pub(crate) const FREE_HEAD: usize = 3 * WORD;
pub(crate) const FREE_FOOT: usize = WORD;

/// Bytes a sentinel takes at the end of a pool.
pub(crate) const SENTINEL_SIZE: usize = WORD;

// The published pool overhead is the word before the first block plus this.
const _: () = assert!(super::config::POOL_OVERHEAD == WORD + SENTINEL_SIZE);

/// A pointer to a block header inside a pool.
///
/// All accessors are `unsafe`: the caller promises that the pointer is a
/// block (or sentinel) header of a pool that this TLSF manages, and that the
/// block is in the state the accessor expects (free-list links and footer
/// exist only in free blocks).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(transparent)]
pub(crate) struct Block(NonNull<u8>);

impl Block {
    /// Wraps the header address `ptr`.
    #[inline(always)]
    pub(crate) const fn at(ptr: NonNull<u8>) -> Self {
        Block(ptr)
    }

    /// The header address.
    #[inline(always)]
    pub(crate) const fn ptr(self) -> NonNull<u8> {
        self.0
    }

    /// The address of word `i` of the block.
    ///
    /// # Safety
    /// Word `i` lies inside the block's pool.
    #[inline(always)]
    unsafe fn word(self, i: usize) -> NonNull<usize> {
        // SAFETY: the caller keeps word `i` inside the pool, so the offset
        // stays in the pool's allocation.
        unsafe { self.0.add(i * WORD).cast() }
    }

    /// The block whose header is `offset` bytes after this one.
    ///
    /// # Safety
    /// The result lies inside the same pool.
    #[inline(always)]
    pub(crate) unsafe fn offset(self, offset: usize) -> Block {
        // SAFETY: guaranteed in-pool by the caller.
        Block(unsafe { self.0.add(offset) })
    }

    /// The usual payload address of an allocated block (before any pad),
    /// with the pool's provenance.
    ///
    /// # Safety
    /// `self` is a block header (not a sentinel).
    #[inline(always)]
    pub(crate) unsafe fn payload(self) -> NonNull<u8> {
        // SAFETY: every block is at least `MIN_BLOCK` bytes, so the payload
        // address is inside the block.
        unsafe { self.0.add(WORD) }
    }

    /// The raw header word (size and flags).
    ///
    /// # Safety
    /// `self` is a block or sentinel header.
    #[inline(always)]
    pub(crate) unsafe fn header(self) -> usize {
        // SAFETY: the caller guarantees a header lives here; headers are
        // word-aligned because pools and sizes are granule-aligned.
        unsafe { self.0.cast::<usize>().read() }
    }

    /// # Safety
    /// `self` is a block or sentinel header.
    #[inline(always)]
    pub(crate) unsafe fn set_header(self, header: usize) {
        // SAFETY: as for `header`.
        unsafe { self.0.cast::<usize>().write(header) }
    }

    /// Block size in bytes, header included; 0 for a sentinel.
    ///
    /// # Safety
    /// `self` is a block or sentinel header.
    #[inline(always)]
    pub(crate) unsafe fn size(self) -> usize {
        // SAFETY: forwarded.
        unsafe { self.header() & !FLAGS }
    }

    /// # Safety
    /// `self` is a block or sentinel header.
    #[inline(always)]
    pub(crate) unsafe fn is_used(self) -> bool {
        // SAFETY: forwarded.
        unsafe { self.header() & USED != 0 }
    }

    /// # Safety
    /// `self` is a block or sentinel header.
    #[inline(always)]
    pub(crate) unsafe fn is_prev_free(self) -> bool {
        // SAFETY: forwarded.
        unsafe { self.header() & PREV_FREE != 0 }
    }

    /// Sets or clears `PREV_FREE`, keeping the rest of the header.
    ///
    /// # Safety
    /// `self` is a block or sentinel header.
    #[inline(always)]
    pub(crate) unsafe fn set_prev_free(self, prev_free: bool) {
        // SAFETY: forwarded.
        unsafe {
            let h = self.header() & !PREV_FREE;
            self.set_header(h | if prev_free { PREV_FREE } else { 0 });
        }
    }

    /// The free block right before this one, found through its footer.
    ///
    /// # Safety
    /// `self` is a block or sentinel header with `PREV_FREE` set.
    #[inline(always)]
    pub(crate) unsafe fn prev_phys(self) -> Block {
        // SAFETY: with `PREV_FREE` set, the word before this header is the
        // footer of a free block that starts `footer` bytes earlier.
        unsafe {
            let footer = self.0.sub(WORD).cast::<usize>().read();
            Block(self.0.sub(footer))
        }
    }

    /// The size of the free block right before this one: its footer.
    ///
    /// # Safety
    /// `self` is a block or sentinel header with `PREV_FREE` set.
    #[inline(always)]
    pub(crate) unsafe fn prev_size(self) -> usize {
        // SAFETY: with `PREV_FREE` set, the word before this header is the
        // footer of a free block.
        unsafe { self.0.sub(WORD).cast::<usize>().read() }
    }

    /// The block whose header is `offset` bytes before this one.
    ///
    /// # Safety
    /// The result lies inside the same pool.
    #[inline(always)]
    pub(crate) unsafe fn offset_back(self, offset: usize) -> Block {
        // SAFETY: guaranteed in-pool by the caller.
        Block(unsafe { self.0.sub(offset) })
    }

    /// Writes the footer (a copy of the size) of a free block.
    ///
    /// # Safety
    /// `self` is a free block of `size` bytes.
    #[inline(always)]
    pub(crate) unsafe fn set_footer(self, size: usize) {
        // SAFETY: the last word of the block is inside the block.
        unsafe { self.0.add(size - WORD).cast::<usize>().write(size) }
    }

    /// The footer of a free block, for the integrity check.
    ///
    /// # Safety
    /// `self` is a free block.
    pub(crate) unsafe fn footer(self) -> usize {
        // SAFETY: as for `set_footer`.
        unsafe { self.0.add(self.size() - WORD).cast::<usize>().read() }
    }

    /// # Safety
    /// `self` is a free block.
    #[inline(always)]
    pub(crate) unsafe fn next_free(self) -> Option<Block> {
        // SAFETY: word 1 of a free block is its `next` link, a pointer that
        // was stored with its provenance by `set_next_free`.
        unsafe { self.word(1).cast::<Option<Block>>().read() }
    }

    /// # Safety
    /// `self` is a free block.
    #[inline(always)]
    pub(crate) unsafe fn prev_free(self) -> Option<Block> {
        // SAFETY: word 2 of a free block is its `prev` link.
        unsafe { self.word(2).cast::<Option<Block>>().read() }
    }

    /// # Safety
    /// `self` is a free block (or is being made one).
    #[inline(always)]
    pub(crate) unsafe fn set_next_free(self, next: Option<Block>) {
        // SAFETY: word 1 is inside every block (blocks are >= 4 words).
        unsafe { self.word(1).cast::<Option<Block>>().write(next) }
    }

    /// # Safety
    /// `self` is a free block (or is being made one).
    #[inline(always)]
    pub(crate) unsafe fn set_prev_free_link(self, prev: Option<Block>) {
        // SAFETY: word 2 is inside every block.
        unsafe { self.word(2).cast::<Option<Block>>().write(prev) }
    }

    /// Writes a sentinel here.
    ///
    /// # Safety
    /// `SENTINEL_SIZE` bytes from `self` are inside the pool.
    pub(crate) unsafe fn set_sentinel(self, prev_free: bool) {
        // SAFETY: the caller reserved the word.
        unsafe { self.set_header(USED | if prev_free { PREV_FREE } else { 0 }) }
    }
}
