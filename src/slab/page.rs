//! A slab page: a header at its start, slots packed against its end.
//!
//! Slots are carved from the page's end downwards (slot `i` is at
//! `slot_end - (i + 1) * size`, where `slot_end` is the page size unless the
//! source keeps a tail), so a slot is aligned to every power of two that
//! divides both its class size and `slot_end`, whatever the header's size. A fresh page is
//! carved lazily: `bump` marks the lowest slot handed out so far, and freed
//! slots go on the page's free list, linked through their first word.

use core::mem::size_of;
use core::ptr::NonNull;

/// The page header. `repr(C)` keeps the hot fields (`free`, `live`,
/// `capacity`) together at the start.
#[repr(C)]
pub(crate) struct Header {
    /// Freed slots, linked through their first word.
    free: Option<NonNull<u8>>,
    /// Slots handed out and not freed.
    live: u32,
    /// Slots the page holds.
    capacity: u32,
    /// Offset of the lowest slot carved so far.
    bump: u32,
    /// The page's class, for `check` and for debug checks of `deallocate`.
    class: u32,
    /// Neighbours in the class's list of partial (or of full) pages.
    next: Option<Page>,
    prev: Option<Page>,
}

/// Bytes at the start of a page that hold no slot.
pub(crate) const HEADER_SIZE: usize = size_of::<Header>();

/// A pointer to a page that is owned by a slab, with provenance over the whole
/// page. Its accessors are the only raw memory accesses of the slab.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Page(NonNull<Header>);

impl Page {
    /// # Safety
    /// `page` is the start of a page that the slab owns, valid for the whole
    /// page.
    #[inline(always)]
    pub(crate) unsafe fn from_start(page: NonNull<u8>) -> Self {
        Page(page.cast())
    }

    #[inline(always)]
    pub(crate) fn start(self) -> NonNull<u8> {
        self.0.cast()
    }

    #[inline(always)]
    pub(crate) fn addr(self) -> usize {
        self.0.as_ptr() as usize
    }

    /// Writes the header of a fresh, empty page of `capacity` slots.
    ///
    /// # Safety
    /// The page is owned by the slab, at least `slot_end` bytes, and no slot
    /// of it is live; `capacity` slots fit between the header and
    /// `slot_end`.
    #[inline]
    pub(crate) unsafe fn init(self, class: usize, capacity: usize, slot_end: usize) {
        // SAFETY: the header is at the start of the page, which is aligned to
        // its size (at least `MIN_PAGE`, more than the header's alignment).
        unsafe {
            self.0.write(Header {
                free: None,
                live: 0,
                capacity: capacity as u32,
                bump: slot_end as u32,
                class: class as u32,
                next: None,
                prev: None,
            })
        };
    }

    /// Takes a free slot of `size` bytes: the head of the free list, else
    /// the next uncarved slot.
    ///
    /// # Safety
    /// The page has a free slot (`live < capacity`), and `size` is its
    /// class's size.
    #[inline(always)]
    pub(crate) unsafe fn pop(self, size: usize) -> NonNull<u8> {
        // SAFETY: the header is valid (the page is owned and initialised);
        // a free-list slot's first word holds the next free slot; with no
        // freed slot, `live < capacity` means an uncarved slot is left below
        // `bump`, above the header.
        unsafe {
            let header = &mut *self.0.as_ptr();
            match header.free {
                Some(slot) => {
                    header.free = slot.cast::<Option<NonNull<u8>>>().read();
                    slot
                }
                None => {
                    header.bump -= size as u32;
                    self.start().add(header.bump as usize)
                }
            }
        }
    }

    /// Puts `slot` back on the free list.
    ///
    /// # Safety
    /// `slot` is a live slot of this page, derived from the page's pointer.
    #[inline(always)]
    pub(crate) unsafe fn push(self, slot: NonNull<u8>) {
        // SAFETY: slots are at least one word, aligned to a word (class
        // sizes are multiples of 8), and the slot is no longer in use.
        unsafe {
            let header = &mut *self.0.as_ptr();
            slot.cast::<Option<NonNull<u8>>>().write(header.free);
            header.free = Some(slot);
        }
    }

    /// The slot at `addr`, with the page's provenance.
    ///
    /// # Safety
    /// `addr` is inside the page.
    #[inline(always)]
    pub(crate) unsafe fn slot_at(self, addr: usize) -> NonNull<u8> {
        // SAFETY: `addr` is inside the page, so the offset keeps the pointer
        // in bounds of the page's provenance.
        unsafe { self.start().add(addr - self.addr()) }
    }

    /// Whether `slot` is among the last `DEBUG_FREE_WALK` slots freed in
    /// this page: a bounded walk of the free list, for debug builds to catch
    /// double frees.
    ///
    /// # Safety
    /// The page is owned and initialised.
    #[cfg(debug_assertions)]
    pub(crate) unsafe fn recently_freed(self, slot: NonNull<u8>) -> bool {
        const DEBUG_FREE_WALK: usize = 256;
        // SAFETY: free-list slots are free slots of this page whose first
        // word links to the next.
        unsafe {
            let mut next = (*self.0.as_ptr()).free;
            for _ in 0..DEBUG_FREE_WALK {
                match next {
                    Some(free) if free == slot => return true,
                    Some(free) => next = free.cast::<Option<NonNull<u8>>>().read(),
                    None => return false,
                }
            }
        }
        false
    }

    /// The header, for reading and updating its counters and links.
    ///
    /// # Safety
    /// The page is owned by the slab and initialised, and no other reference
    /// to its header is live.
    #[inline(always)]
    pub(crate) unsafe fn header<'a>(self) -> &'a mut Header {
        // SAFETY: forwarded from the caller.
        unsafe { &mut *self.0.as_ptr() }
    }
}

impl Header {
    #[inline(always)]
    pub(crate) fn live(&self) -> usize {
        self.live as usize
    }

    #[inline(always)]
    pub(crate) fn set_live(&mut self, live: usize) {
        self.live = live as u32;
    }

    #[inline(always)]
    pub(crate) fn capacity(&self) -> usize {
        self.capacity as usize
    }

    #[inline(always)]
    pub(crate) fn class(&self) -> usize {
        self.class as usize
    }

    #[inline(always)]
    pub(crate) fn bump(&self) -> usize {
        self.bump as usize
    }

    #[inline(always)]
    pub(crate) fn free(&self) -> Option<NonNull<u8>> {
        self.free
    }

    #[inline(always)]
    pub(crate) fn next(&self) -> Option<Page> {
        self.next
    }

    #[inline(always)]
    pub(crate) fn prev(&self) -> Option<Page> {
        self.prev
    }

    #[inline(always)]
    pub(crate) fn set_next(&mut self, next: Option<Page>) {
        self.next = next;
    }

    #[inline(always)]
    pub(crate) fn set_prev(&mut self, prev: Option<Page>) {
        self.prev = prev;
    }
}
