//! A slab page: a header at its start, slots packed against its end.
//!
//! Slots are carved from the page's end downwards (slot `i` is at
//! `slot_end - (i + 1) * size`, where `slot_end` is the page size unless the
//! source keeps a tail), so a slot is aligned to every power of two that
//! divides both its class size and `slot_end`, whatever the header's size. A fresh page is
//! carved lazily: `bump` marks the lowest slot handed out so far, and freed
//! slots go on the page's free list, linked through their first word.
//! With feature `hardened`, a bitmap of the slots handed out lies between
//! the header and the slots (`slot_bits.rs`).

use core::mem::size_of;
use core::ptr::NonNull;

use super::active::ClassId;

/// The page header. `repr(C)` keeps the hot fields (`free`, `live`,
/// `capacity`) together at the start.
#[repr(C)]
pub(crate) struct Header {
    /// Freed slots. This and `live` and `bump` are stale while the page is
    /// its class's active page, whose class holds them (see `active.rs`).
    free: FreeSlots,
    /// Slots handed out and not freed.
    live: u32,
    /// Slots the page holds.
    capacity: u32,
    /// Offset of the lowest slot carved so far.
    bump: u32,
    /// The page's class (its `ClassId::words`, which a free compares with
    /// the class of its layout as it has it), for the refusal of a wrong
    /// layout and for `check`.
    class: u32,
    /// Neighbours in the class's ring of pages (itself when alone).
    next: Page,
    prev: Page,
}

/// A list of free slots, linked through their first word.
pub(crate) type FreeSlots = Option<NonNull<u8>>;

/// Puts `slot` first on `list`.
///
/// # Safety
/// `slot` is a free slot of a page, derived from the page's pointer, and
/// `list` holds free slots of that page.
#[inline(always)]
pub(crate) unsafe fn push_slot(list: &mut FreeSlots, slot: NonNull<u8>) {
    // SAFETY: slots are at least one word, aligned to a word (class sizes
    // are multiples of 8), and the slot is no longer in use.
    unsafe { slot.cast::<FreeSlots>().write(*list) };
    *list = Some(slot);
}

/// The slot after `slot` on its free list.
///
/// # Safety
/// `slot` is on a free list.
#[inline(always)]
pub(crate) unsafe fn pop_slot(slot: NonNull<u8>) -> FreeSlots {
    // SAFETY: a free slot's first word links to the next free slot.
    unsafe { slot.cast::<FreeSlots>().read() }
}

/// Whether `slot` is among the first `DEBUG_FREE_WALK` slots of `list`
/// (the most recently freed): a bounded walk, for debug builds to catch
/// double frees.
///
/// # Safety
/// `list` is a free list.
#[cfg(all(debug_assertions, not(feature = "hardened")))]
pub(crate) unsafe fn recently_freed(list: FreeSlots, slot: NonNull<u8>) -> bool {
    const DEBUG_FREE_WALK: usize = 256;
    let mut next = list;
    for _ in 0..DEBUG_FREE_WALK {
        match next {
            Some(free) if free == slot => return true,
            // SAFETY: `free` is on the free list.
            Some(free) => next = unsafe { pop_slot(free) },
            None => return false,
        }
    }
    false
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

    /// Writes the header of a fresh page of `capacity` slots that becomes
    /// its class's active page at once: its class, capacity and links, in
    /// a ring right after `before`, or alone. Its free list, live count and
    /// bump are the class's while it is active (see `active.rs`), and
    /// written to the header when it stops being active, before anything
    /// reads them.
    ///
    /// # Safety
    /// The page is owned by the slab, and no slot of it is live; `before`
    /// and its ring's pages are owned and initialised.
    #[inline(always)]
    pub(crate) unsafe fn init(self, class: ClassId, capacity: usize, before: Option<Page>) {
        let header = self.0.as_ptr();
        let (next, prev) = match before {
            // SAFETY: `before` is an initialised page (caller).
            Some(before) => (unsafe { before.header() }.next(), before),
            None => (self, self),
        };
        // SAFETY: the header is at the start of the page, which is aligned to
        // the source's `page_align`: at least the granule, which is at least
        // the header's alignment; fields are written through the raw
        // pointer, with no reference to the uninitialised header.
        unsafe {
            (&raw mut (*header).capacity).write(capacity as u32);
            (&raw mut (*header).class).write(class.words() as u32);
            (&raw mut (*header).next).write(next);
            (&raw mut (*header).prev).write(prev);
        }
        if before.is_some() {
            // SAFETY: `next` and `prev` are initialised pages of the ring
            // (caller); one header reference at a time.
            unsafe {
                next.header().set_prev(self);
                prev.header().set_next(self);
            }
        }
    }

    /// Puts `slot` back on the page's free list.
    ///
    /// # Safety
    /// `slot` is a live slot of this page, derived from the page's pointer,
    /// and the page is not its class's active page.
    #[inline(always)]
    pub(crate) unsafe fn push(self, slot: NonNull<u8>) {
        // SAFETY: the header is valid (the page is owned and initialised);
        // the slot is forwarded from the caller.
        unsafe { push_slot(&mut (*self.0.as_ptr()).free, slot) }
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

    /// Whether the page is of `class`: one comparison, with no conversion
    /// of either side.
    #[inline(always)]
    pub(crate) fn is_of(&self, class: ClassId) -> bool {
        self.class as usize == class.words()
    }

    #[inline(always)]
    pub(crate) fn bump(&self) -> usize {
        self.bump as usize
    }

    #[inline(always)]
    pub(crate) fn free(&self) -> FreeSlots {
        self.free
    }

    #[inline(always)]
    pub(crate) fn set_free(&mut self, free: FreeSlots) {
        self.free = free;
    }

    #[inline(always)]
    pub(crate) fn set_bump(&mut self, bump: usize) {
        self.bump = bump as u32;
    }

    #[inline(always)]
    pub(crate) fn next(&self) -> Page {
        self.next
    }

    #[inline(always)]
    pub(crate) fn prev(&self) -> Page {
        self.prev
    }

    #[inline(always)]
    pub(crate) fn set_next(&mut self, next: Page) {
        self.next = next;
    }

    #[inline(always)]
    pub(crate) fn set_prev(&mut self, prev: Page) {
        self.prev = prev;
    }
}
