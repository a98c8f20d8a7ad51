//! Which slots of a page are handed out, slot by slot: a bitmap with
//! feature `hardened`, nothing without.
//!
//! With the feature, a bitmap between a page's header and its slots holds
//! one bit per 8 bytes of the page (class sizes are multiples of 8): the
//! bit of a slot's first byte is set while the slot is handed out (live, or
//! its class's given-back slot). Every free tests and clears it, so that a
//! slot on a free list is never freed again, and never handed out twice. A
//! bit is found from the slot's offset in the page with shifts, not from a
//! slot index, which would take a division (a library call on Armv6-M).
//! The bitmap is written lazily, as the page is carved: a bitmap byte is
//! first written, whole, when the page's first slot whose bit it holds is
//! carved (see `Class::take_free_or_uncarved`), so a page take writes none
//! of it; a byte below the page's `bump` may be uninitialised, and is never
//! read.
//!
//! Without the feature there is no bitmap: `header_end` is the header's
//! size, the marks are no-ops, and `untake` is the one test release builds
//! make otherwise, that the slot is not first on its free list. The hot
//! paths call these functions unconditionally, and compile to what they
//! were before the feature existed.

use core::ptr::NonNull;

use super::page::{FreeSlots, HEADER_SIZE, Header, Page};
use crate::CheckError;

/// A bitmap byte holds the bits of `1 << BITMAP_SHIFT` bytes of the page.
#[cfg(feature = "hardened")]
const BITMAP_SHIFT: u32 = 6;

/// Bytes at the start of a page whose slots end at `slot_end` that hold no
/// slot: the header, and with feature `hardened` the bitmap, one bit per 8
/// bytes below `slot_end`.
pub(super) const fn header_end(slot_end: usize) -> usize {
    #[cfg(feature = "hardened")]
    {
        HEADER_SIZE + slot_end.div_ceil(1 << BITMAP_SHIFT)
    }
    #[cfg(not(feature = "hardened"))]
    {
        let _ = slot_end;
        HEADER_SIZE
    }
}

/// Where slots may start in the slab's pages, as `Hot` keeps it: a
/// constant without feature `hardened`, a 16-bit field with it (in the
/// room `Hot::spare` leaves, so that `Hot` keeps its size).
#[derive(Clone, Copy)]
pub(super) struct HeaderEnd {
    #[cfg(feature = "hardened")]
    end: u16,
}

impl HeaderEnd {
    /// Where slots may start in pages whose slots end at `slot_end`.
    pub(super) const fn new(slot_end: usize) -> Self {
        #[cfg(feature = "hardened")]
        {
            HeaderEnd {
                end: header_end(slot_end) as u16,
            }
        }
        #[cfg(not(feature = "hardened"))]
        {
            let _ = slot_end;
            HeaderEnd {}
        }
    }

    /// The offset, as `Class::bump`'s type.
    #[inline(always)]
    pub(super) fn get(self) -> u32 {
        #[cfg(feature = "hardened")]
        {
            u32::from(self.end)
        }
        #[cfg(not(feature = "hardened"))]
        {
            HEADER_SIZE as u32
        }
    }
}

/// The bitmap byte holding the bit of the slot at `offset` (below the
/// slab's slot end), and that bit's mask.
#[cfg(feature = "hardened")]
#[inline(always)]
fn bit(page: Page, offset: usize) -> (*mut u8, u8) {
    // The byte lies in the bitmap, between the header and
    // `header_end(slot_end)`, inside the page: `wrapping_add` keeps the
    // page's provenance, and only the callers' accesses need it in bounds.
    let byte = page
        .start()
        .as_ptr()
        .wrapping_add(HEADER_SIZE + (offset >> BITMAP_SHIFT));
    (byte, 1 << ((offset >> 3) & 7))
}

/// Marks `slot`, taken from the free list of `active`, a class's active
/// page, handed out. (`active` is an `Option`, the class's field, so that
/// only this build relies on it being `Some`.)
///
/// # Safety
/// `active` is `Some` page that the slab owns, and `slot` a carved slot of
/// it.
#[inline(always)]
pub(super) unsafe fn mark_taken(active: Option<Page>, slot: NonNull<u8>) {
    #[cfg(feature = "hardened")]
    {
        // SAFETY: `Some` (caller).
        let page = unsafe { active.unwrap_unchecked() };
        let (byte, mask) = bit(page, slot.as_ptr() as usize - page.addr());
        // SAFETY: the byte is in the page's bitmap, initialised (it holds
        // a carved slot's bit, and carving initialised it).
        unsafe { *byte |= mask };
    }
    #[cfg(not(feature = "hardened"))]
    let _ = (active, slot);
}

/// Marks the slot at `offset` in `page`, just carved below the lowest
/// carved slot, at `above` (the slot end when none is), handed out. Its
/// bitmap byte is written whole when it holds no other carved slot's bit
/// (then the bits of the slots below, not carved yet, start clear).
///
/// # Safety
/// `offset` is a slot's offset in `page`, which the slab owns, carved just
/// now; the page's bitmap bytes of the slots carved before are initialised.
#[inline(always)]
pub(super) unsafe fn mark_carved(page: Page, offset: usize, above: usize) {
    #[cfg(feature = "hardened")]
    {
        let (byte, mask) = bit(page, offset);
        if (offset ^ above) >> BITMAP_SHIFT != 0 {
            // SAFETY: the byte is in the page's bitmap.
            unsafe { byte.write(mask) };
        } else {
            // SAFETY: the byte is in the page's bitmap, initialised: it
            // holds the bit of the slot carved at `above`.
            unsafe { *byte |= mask };
        }
    }
    #[cfg(not(feature = "hardened"))]
    let _ = (page, offset, above);
}

/// Marks the slot at `offset`, the first carved of a fresh page, handed
/// out, writing its bitmap byte whole.
///
/// # Safety
/// `offset` is a slot's offset in `page`, which the slab owns.
#[inline(always)]
pub(super) unsafe fn mark_first(page: Page, offset: usize) {
    #[cfg(feature = "hardened")]
    {
        let (byte, mask) = bit(page, offset);
        // SAFETY: the byte is in the page's bitmap.
        unsafe { byte.write(mask) };
    }
    #[cfg(not(feature = "hardened"))]
    let _ = (page, offset);
}

/// Marks `slot`, a slot of `active`, a class's active page, no longer
/// handed out (both `Option`s, as for `mark_taken`).
///
/// # Safety
/// `active` and `slot` are `Some`, as for `mark_taken`.
#[inline(always)]
pub(super) unsafe fn mark_free(active: Option<Page>, slot: Option<NonNull<u8>>) {
    #[cfg(feature = "hardened")]
    {
        // SAFETY: `Some` (caller).
        let (page, slot) = unsafe { (active.unwrap_unchecked(), slot.unwrap_unchecked()) };
        let (byte, mask) = bit(page, slot.as_ptr() as usize - page.addr());
        // SAFETY: as for `mark_taken`.
        unsafe { *byte &= !mask };
    }
    #[cfg(not(feature = "hardened"))]
    let _ = (active, slot);
}

/// Whether `slot`, at `offset` in `page`, is handed out as far as this
/// build tests; if so, marks it no longer so. With feature `hardened` the
/// bitmap tells; without, the slot is taken to be handed out unless it is
/// `first_free`, first on the page's free list (one comparison).
///
/// # Safety
/// `offset` is at least the page's `bump`, and `slot` is `page`'s start
/// plus `offset`: a carved slot of `page`, which the slab owns (or, the
/// contract broken, a pointer off the slot grid, in a bitmap byte that
/// holds a carved slot's bit when its class is at most 64 bytes).
#[inline(always)]
pub(super) unsafe fn untake(
    page: Page,
    offset: usize,
    first_free: FreeSlots,
    slot: NonNull<u8>,
) -> bool {
    #[cfg(feature = "hardened")]
    {
        let _ = (first_free, slot);
        let (byte, mask) = bit(page, offset);
        // SAFETY: as for `mark_taken`.
        unsafe {
            let bits = *byte;
            if bits & mask == 0 {
                return false;
            }
            *byte = bits & !mask;
        }
        true
    }
    #[cfg(not(feature = "hardened"))]
    {
        let _ = (page, offset);
        first_free != Some(slot)
    }
}

/// What `untake_inactive` reads of the header of a page that is not its
/// class's active page, with the header's other fields: its first free
/// slot, or with feature `hardened` its `bump`.
#[cfg(not(feature = "hardened"))]
pub(super) type Probe = FreeSlots;
/// What `untake_inactive` reads of the header of a page that is not its
/// class's active page, with the header's other fields: its first free
/// slot, or with feature `hardened` its `bump`.
#[cfg(feature = "hardened")]
pub(super) type Probe = usize;

/// Reads `Probe` from a page's header.
#[inline(always)]
pub(super) fn probe(header: &Header) -> Probe {
    #[cfg(feature = "hardened")]
    {
        header.bump()
    }
    #[cfg(not(feature = "hardened"))]
    {
        header.free()
    }
}

/// `untake` for `slot`, in `page`, a page that is not its class's active
/// page, whose header gave `probe`: with feature `hardened`, a slot below
/// the page's `bump` (not carved) is not handed out, and its bitmap byte is
/// not read.
///
/// # Safety
/// `slot` is a slot of `page` (or, the contract broken, a pointer into it,
/// as for `untake`), a page the slab owns, initialised and not active, and
/// `probe` is from its header.
#[inline(always)]
pub(super) unsafe fn untake_inactive(page: Page, probe: Probe, slot: NonNull<u8>) -> bool {
    #[cfg(feature = "hardened")]
    {
        let offset = slot.as_ptr() as usize - page.addr();
        // SAFETY: at or above `bump`, the offset is a carved slot's, or off
        // the grid as `untake` allows.
        offset >= probe && unsafe { untake(page, offset, None, slot) }
    }
    #[cfg(not(feature = "hardened"))]
    {
        let _ = page;
        probe != Some(slot)
    }
}

/// What debug builds test of a free beyond `untake`: without feature
/// `hardened`, that `slot` is not among the 256 slots freed last on its
/// page (`first_free` is the page's free list); with it, whose bitmap
/// catches every double free, nothing.
///
/// # Safety
/// `first_free` is a free list.
#[cfg(debug_assertions)]
pub(super) unsafe fn recently_freed(first_free: FreeSlots, slot: NonNull<u8>) -> bool {
    #[cfg(feature = "hardened")]
    {
        let _ = (first_free, slot);
        false
    }
    #[cfg(not(feature = "hardened"))]
    // SAFETY: forwarded from the caller.
    unsafe {
        super::page::recently_freed(first_free, slot)
    }
}

/// For `check`: that `slot`, a carved slot of `page`, is marked handed out
/// when `handed_out` is true (the given-back slot) and not when it is
/// false (a slot on the free list). Always `Ok` without feature `hardened`.
///
/// # Safety
/// `slot` is a carved slot of `page`, which the slab owns.
pub(super) unsafe fn check_slot(
    page: Page,
    slot: NonNull<u8>,
    handed_out: bool,
) -> Result<(), CheckError> {
    #[cfg(feature = "hardened")]
    {
        let (byte, mask) = bit(page, slot.as_ptr() as usize - page.addr());
        // SAFETY: a carved slot's bitmap byte is initialised (caller).
        let taken = unsafe { *byte & mask != 0 };
        if taken != handed_out {
            let what = if handed_out {
                "the slot given back is not marked handed out"
            } else {
                "a free slot is marked handed out"
            };
            return Err(CheckError::new(what, slot.as_ptr() as usize));
        }
    }
    #[cfg(not(feature = "hardened"))]
    let _ = (page, slot, handed_out);
    Ok(())
}

/// For `check`: that the carved slots of `page` (of `size` bytes, from
/// `bump` to `end`) marked handed out number `handed_out`. With the free
/// slots' bits clear (`check_slot`), the bits set are then the live slots
/// and the given-back one exactly. Always `Ok` without feature `hardened`.
///
/// # Time complexity
/// O(carved slots) with feature `hardened`, else O(1).
///
/// # Safety
/// `bump` and `end` are the page's lowest carved slot's offset and slot
/// end, `size` its class's size, and the slab owns `page`.
pub(super) unsafe fn check_count(
    page: Page,
    bump: usize,
    end: usize,
    size: usize,
    handed_out: usize,
) -> Result<(), CheckError> {
    #[cfg(feature = "hardened")]
    {
        let taken = (bump..end)
            .step_by(size)
            .filter(|&offset| {
                let (byte, mask) = bit(page, offset);
                // SAFETY: a carved slot's bitmap byte is initialised.
                unsafe { *byte & mask != 0 }
            })
            .count();
        if taken != handed_out {
            return Err(CheckError::new(
                "the bitmap does not mark the live slots handed out",
                page.addr(),
            ));
        }
    }
    #[cfg(not(feature = "hardened"))]
    let _ = (page, bump, end, size, handed_out);
    Ok(())
}
