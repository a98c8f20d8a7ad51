//! A class's active page: the page allocations take from, whose free list,
//! uncarved slots and live count the class holds itself.
//!
//! Keeping them in the class, not in the page's header, makes the hot paths
//! one pointer chase shorter: an allocation reads the class's free list head
//! and that slot's link, and a free of an object of the active page writes
//! the slot and the class, never the page's header. The header's copies of
//! those fields are stale while the page is active; `write_back_full`
//! writes them before another page becomes active (a page stops being
//! active only full, or empty, when its class loses it).
//!
//! The class is one cache line on 64-bit targets, and on every target a
//! class is found from a layout with one table load and a scaled address.

use core::mem::{align_of, size_of};
use core::ptr::NonNull;

use super::Hot;
use super::classes::{CLASSES, MAX_CLASS, class_by_formula};
use super::page::{FreeSlots, HEADER_SIZE, Page, pop_slot, push_slot};
use super::slot_bits;

/// A size class as the hot paths name it: where its [`Class`] starts in
/// the slab, in 8-byte words (its index times [`CLASS_WORDS`], plus
/// [`CLASSES_AT`]). Finding the class is then one scaled address from the
/// slab's, no multiply and no offset.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct ClassId(usize);

/// 8-byte words a [`Class`] takes.
pub(super) const CLASS_WORDS: usize = size_of::<Class>() / 8;

/// Where the slab's class array starts, in 8-byte words: after the hot
/// fields on 32-bit targets, first on 64-bit ones (see `Slab`); `Slab::init`
/// asserts it.
pub(super) const CLASSES_AT: usize = if cfg!(target_pointer_width = "64") {
    0
} else {
    size_of::<Hot>().next_multiple_of(align_of::<Class>()) / 8
};

const _: () = assert!(size_of::<Class>() % 8 == 0 && ClassId::MAX_WORDS <= u8::MAX as usize);
// `Class::size` fits 16 bits, and so does the header's end (with its
// bitmap), and the room test of `take` adds them without overflow.
const _: () = assert!(
    slot_bits::header_end(crate::pages::MAX_PAGE) <= u16::MAX as usize
        && HEADER_SIZE + MAX_CLASS <= u16::MAX as usize
);
#[cfg(target_pointer_width = "64")]
const _: () = assert!(size_of::<Class>() == 64);

/// `ClassId::index` divides by `CLASS_WORDS` as `words * INDEX_MULTIPLIER
/// >> INDEX_SHIFT`, exact for every class (asserted below).
const INDEX_SHIFT: u32 = 16;
const INDEX_MULTIPLIER: usize = (1 << INDEX_SHIFT) / CLASS_WORDS + 1;
/// Whether `words * INDEX_MULTIPLIER >> INDEX_SHIFT` is the index already,
/// `CLASSES_AT` falling in the fraction the shift drops (it does on the
/// 32-bit targets of this crate's measurements): the index then takes no
/// subtraction, and its constant no register (the page set-up after a
/// spare is taken looks up a capacity with it).
const INDEX_IGNORES_OFFSET: bool = {
    let mut index = 0;
    let mut exact = true;
    while index < CLASSES {
        let words = CLASSES_AT + index * CLASS_WORDS;
        exact &= (words * INDEX_MULTIPLIER) >> INDEX_SHIFT == index;
        index += 1;
    }
    exact
};
const _: () = {
    let mut index = 0;
    while index < CLASSES {
        assert!(ClassId::of_index(index).index() == index);
        index += 1;
    }
};

/// `ID_OF_EIGHTH[i]`: the class of slots of `8 * i + 1` to `8 * i + 8`
/// bytes. Class sizes are multiples of 8, so an eighth never straddles two
/// classes.
///
/// A `const`, not a `static`: each crate that inlines the hot paths gets its
/// own copy, addressed relative to its code. A `static` of this crate is
/// reached through the global offset table in a position-independent
/// binary, which costs one more load per lookup.
const ID_OF_EIGHTH: [u8; MAX_CLASS / 8] = {
    let mut table = [0; MAX_CLASS / 8];
    let mut i = 0;
    while i < table.len() {
        table[i] = ClassId::of_index(class_by_formula(8 * i)).0 as u8;
        i += 1;
    }
    table
};

impl ClassId {
    /// The class whose slots hold `last + 1` bytes: one table load.
    ///
    /// # Safety
    /// `last < MAX_CLASS`.
    #[inline(always)]
    pub(crate) unsafe fn of_last(last: usize) -> Self {
        debug_assert!(last < MAX_CLASS);
        // SAFETY: `last >> 3 < MAX_CLASS / 8`, the table's length (caller).
        ClassId(unsafe { *ID_OF_EIGHTH.get_unchecked(last >> 3) } as usize)
    }

    /// The largest class's `words`.
    pub(super) const MAX_WORDS: usize = CLASSES_AT + (CLASSES - 1) * CLASS_WORDS;

    /// The class whose `words` are `words` (as `ClassId::words` gave).
    pub(super) const fn of_words(words: u8) -> Self {
        debug_assert!(
            words as usize >= CLASSES_AT
                && words as usize <= Self::MAX_WORDS
                && (words as usize - CLASSES_AT) % CLASS_WORDS == 0
        );
        ClassId(words as usize)
    }

    /// The class at `index` (0 is the smallest); `index < CLASSES`.
    pub(super) const fn of_index(index: usize) -> Self {
        debug_assert!(index < CLASSES);
        ClassId(CLASSES_AT + index * CLASS_WORDS)
    }

    /// The class's index, 0 for the smallest: `(words - CLASSES_AT) /
    /// CLASS_WORDS`, the division as a
    /// multiply and a shift. `CLASS_WORDS` is 7 on some 32-bit targets, and
    /// Armv6-M, with no high-word multiply, would divide by 7 with a
    /// library call of some 40 instructions.
    #[inline(always)]
    pub(crate) const fn index(self) -> usize {
        if INDEX_IGNORES_OFFSET {
            (self.0 * INDEX_MULTIPLIER) >> INDEX_SHIFT
        } else {
            ((self.0 - CLASSES_AT) * INDEX_MULTIPLIER) >> INDEX_SHIFT
        }
    }

    /// Where the class starts in the slab, in 8-byte words.
    #[inline(always)]
    pub(super) const fn words(self) -> usize {
        self.0
    }

    /// Where the class starts in the slab's class array, in 8-byte words.
    /// (An address built from the array's with this folds to the slab's
    /// plus `words`, with no offset.)
    #[inline(always)]
    pub(super) const fn words_in_array(self) -> usize {
        self.0 - CLASSES_AT
    }
}

/// What allocate and free touch of one size class.
///
/// Allocations and frees each bump a counter of their own rather than one
/// live count: an alloc/free pair then carries no value from one memory
/// round trip to the next through a shared counter (the same reason as for
/// `given_back`, see `put`). A free that gives its slot back and the
/// allocation that takes it again (the pair of a temporary) update one
/// counter between them, `give_backs`: each counter update is a load and a
/// store, and such a pair is otherwise two stores of a flag and two loads.
/// A free on another page than the active one updates one counter of the
/// class (`inactive_live`, see `off_active`).
///
/// `repr(C)` keeps the field order, in which no two counters that one path
/// updates together are adjacent: LLVM would update such a pair with one
/// 16-byte vector load and store, and a 16-byte load right after an 8-byte
/// store to half of it (the other path's update) cannot take its value from
/// the store buffer, which stalls it until the store retires.
#[derive(Clone, Copy)]
#[cfg_attr(target_pointer_width = "64", repr(C, align(64)))]
#[cfg_attr(not(target_pointer_width = "64"), repr(C, align(8)))]
pub(super) struct Class {
    /// The active page's free slots.
    pub(super) free: FreeSlots,
    /// The slot most recently taken from the active page; `None` before the
    /// first and once the page stops being active. While the class is
    /// parked (see `park`), the start of its ring's first page instead:
    /// never a live object's address (the page's header lies there), so
    /// only a broken contract's free names it, which debug builds and
    /// feature `hardened` refuse (`deallocate_latest` tests for a parked
    /// class once the address matched).
    pub(super) last_taken: Option<NonNull<u8>>,
    /// Live objects on the class's pages other than the active one.
    pub(super) inactive_live: usize,
    /// The active page; `None` when the class has no page, or is parked
    /// (its active page went back to the source, or to another class as a
    /// spare, while it held others, see `park`). It is the first of the class's ring of pages (`lists.rs`),
    /// and the only one that may be empty (the class's spare) or full
    /// while first (until the next allocation looks for a free slot).
    pub(super) active: Option<Page>,
    /// Allocations (of those counted in `allocations`) that are off the
    /// active page's count: freed onto a free list, or live on another
    /// page; modulo 2^32, like the low 32 bits of `allocations` it is
    /// compared with. `allocations - off_active - given_back` objects are
    /// live on the active page. A free on another page moves an object
    /// from one kind to the other and leaves this count as it is, so that
    /// it updates one counter of the class, `inactive_live`.
    ///
    /// Why 32 bits, not a `u64`: the active page's live count is below the
    /// slots of a page (at most `MAX_PAGE / 8`), so the low 32 bits of the
    /// counts give it exactly, and a 32-bit target updates them with no
    /// carry (a free of the active page, a page switch); the exact total is
    /// `allocations`'. (And on 64-bit targets it leaves room for `pages` in
    /// the class's cache line.)
    pub(super) off_active: u32,
    /// Offset of the active page's lowest carved slot (the slot end when
    /// none is carved, the page's lowest slot once all are); 0 when there
    /// is no active page. The page has an uncarved slot when `bump - size`
    /// is at least the header's size: slots lie at `size` steps down from
    /// the slot end, and the lowest is the last of them above the header.
    pub(super) bump: u32,
    /// Pages the class holds (full, partial and its spare).
    pub(super) pages: u32,
    /// The class's slot size (at most 4096).
    pub(super) size: u16,
    /// Whether `last_taken` was freed right after it was taken and is free
    /// again, kept off `free` (see `put`). Within the first 32 bytes, where
    /// a Cortex-M0 byte load encodes its offset.
    pub(super) given_back: bool,
    /// Allocations of the class that took a slot from a free list or an
    /// uncarved one. (One that takes the given-back slot again is counted
    /// by that slot's free, in `give_backs`; and when a given-back slot
    /// goes onto a free list instead, the allocation that took it before
    /// leaves this count, see `unset_given_back`.)
    pub(super) allocations: u64,
    /// Frees of the class that gave their slot back (see `put`). All but
    /// the one still given back were followed by the allocation that took
    /// the slot again, or by `unset_given_back`.
    pub(super) give_backs: u64,
}

impl Class {
    /// A class of slots of `size` bytes with no page.
    pub(super) const fn new(size: usize) -> Self {
        Class {
            free: None,
            last_taken: None,
            inactive_live: 0,
            active: None,
            off_active: 0,
            bump: 0,
            pages: 0,
            size: size as u16,
            given_back: false,
            allocations: 0,
            give_backs: 0,
        }
    }

    /// Takes a slot from the active page: the one given back, else a freed
    /// one, else the next uncarved one; `None` when the page is full or
    /// there is none.
    ///
    /// `header_end` is where the slots may start in the slab's pages
    /// (`Hot::header_end`). A slot given back stays marked handed out; the
    /// others are marked so (see `slot_bits`).
    #[inline(always)]
    pub(super) fn take(&mut self, header_end: u32) -> Option<NonNull<u8>> {
        if self.given_back {
            self.given_back = false;
            // SAFETY: a slot is given back only while it is `last_taken`.
            return Some(unsafe { self.last_taken.unwrap_unchecked() });
        }
        self.take_free_or_uncarved(header_end)
    }

    /// Takes a slot of the active page from its free list, else the next
    /// uncarved one, as `take` does when no slot is given back; `None` when
    /// the page is full or there is none.
    #[inline(always)]
    pub(super) fn take_free_or_uncarved(&mut self, header_end: u32) -> Option<NonNull<u8>> {
        let slot = if let Some(slot) = self.free {
            // SAFETY: the class's free list holds free slots of the active
            // page, each linking to the next; a class has a free slot only
            // while it has an active page, which holds the slot.
            unsafe {
                self.free = pop_slot(slot);
                slot_bits::mark_taken(self.active, slot);
            }
            slot
        } else if self.has_uncarved(header_end) {
            let above = self.bump as usize;
            self.bump -= u32::from(self.size);
            let offset = self.bump as usize;
            // SAFETY: there are uncarved slots only while there is an active
            // page (`Class::new` and `forget_active` set `bump = 0`, and a
            // page's `bump` is at least its lowest slot's offset), and the
            // slot below `bump` lies in it, above its header (and bitmap);
            // the slots above it are carved (the page's first by
            // `activate_fresh`, and `recarve` puts `bump` back where it was
            // then).
            unsafe {
                let page = self.active.unwrap_unchecked();
                slot_bits::mark_carved(page, offset, above);
                page.start().add(offset)
            }
        } else {
            return None;
        };
        self.last_taken = Some(slot);
        self.allocations += 1;
        Some(slot)
    }

    /// Puts `slot` back: aside as given back when it is the slot taken
    /// last, else on the active page's free list.
    ///
    /// An object freed right after it was allocated (a temporary, an
    /// alloc/free loop) then costs a flag, set here and cleared by the next
    /// `take`, which returns `last_taken` again. No pointer goes from one
    /// side to the other through memory: through the list, the slot's way
    /// back would pass the list head through the slot's link word, two
    /// store-to-load forwards in a row, each a few cycles, on the path from
    /// one pair to the next. Only that case takes the shortcut, so that the
    /// branch on it stays predictable when frees come in random order; then
    /// the slot taken last is rarely the one freed.
    ///
    /// Returns `false`, changing nothing, when `slot` is free already (a
    /// double free) as far as the build tests: given back, or (see
    /// `slot_bits::untake`) with feature `hardened` not marked handed out,
    /// else first on the free list. The given-back slot stays marked
    /// handed out (the flag tells it is free); the others lose their mark.
    ///
    /// # Safety
    /// `slot` is a carved slot of the active page `page`, at `offset` from
    /// its start, with the page's provenance (live, unless this catches
    /// it).
    #[inline(always)]
    pub(super) unsafe fn put(&mut self, page: Page, offset: usize, slot: NonNull<u8>) -> bool {
        if self.last_taken == Some(slot) {
            if self.given_back {
                return false;
            }
            self.given_back = true;
            self.give_backs += 1;
        } else {
            // SAFETY: the slot is carved (caller).
            if !unsafe { slot_bits::untake(page, offset, self.free, slot) } {
                return false;
            }
            // SAFETY: forwarded; the slot is no longer in use.
            unsafe { push_slot(&mut self.free, slot) };
            self.off_active = self.off_active.wrapping_add(1);
        }
        true
    }

    /// Whether `slot`, at `offset` in the active page `page`, is free
    /// already, the tests of `put`: given back, or not handed out as
    /// `slot_bits::untake` tells, which, if it is, marks it no longer so.
    ///
    /// # Safety
    /// As for `put`.
    #[inline(always)]
    pub(super) unsafe fn freed_already(
        &mut self,
        page: Page,
        offset: usize,
        slot: NonNull<u8>,
    ) -> bool {
        (self.last_taken == Some(slot) && self.given_back)
            // SAFETY: forwarded from the caller.
            || !unsafe { slot_bits::untake(page, offset, self.free, slot) }
    }

    /// Frees the active page's last live object, which is not free already
    /// (`freed_already`, which unmarked it), and carves the page again (see `recarve`): the
    /// free counts as one onto the free list, whatever the slot.
    ///
    /// # Safety
    /// As for `recarve`, but for the one live object this frees.
    #[inline(always)]
    pub(super) unsafe fn put_last(&mut self, slot_end: usize) {
        debug_assert!(self.active_live() == 1);
        self.off_active = self.off_active.wrapping_add(1);
        // SAFETY: the page now holds no live object (caller).
        unsafe { self.recarve(slot_end) };
    }

    /// Frees `slot`, which is `last_taken`: sets it aside as given back.
    ///
    /// # Safety
    /// `slot` is `last_taken` and live.
    #[inline(always)]
    pub(super) unsafe fn give_back(&mut self, slot: NonNull<u8>) {
        debug_assert!(self.last_taken == Some(slot) && !self.given_back);
        self.given_back = true;
        self.give_backs += 1;
    }

    /// The slot given back, if any.
    pub(super) fn given_back_slot(&self) -> FreeSlots {
        self.last_taken.filter(|_| self.given_back)
    }

    /// Stops setting the given-back slot aside, and returns it, for the
    /// caller to put it on a free list or forget it with its page.
    ///
    /// Its free stays counted in `give_backs`, which counts the allocation
    /// that would have taken the slot again in advance; the allocation
    /// that took the slot before leaves `allocations` instead, which keeps
    /// both the allocation count and the active page's live count: one
    /// counter update.
    fn unset_given_back(&mut self) -> Option<NonNull<u8>> {
        if !self.given_back {
            return None;
        }
        self.given_back = false;
        self.allocations -= 1;
        // A slot is given back only while it is `last_taken`, a carved slot
        // of the active page.
        // SAFETY: the given-back slot is a carved slot of the active page,
        // which the slab owns; it is free now.
        unsafe { slot_bits::mark_free(self.active, self.last_taken) };
        self.last_taken
    }

    /// The active page just became empty: forgets its free slots, so that
    /// allocations carve it again from the top, in address order, rather
    /// than follow a free list that frees in random order shuffled across
    /// the page (each step of which may be a cache miss the next allocation
    /// waits on). Frees of the latest allocation's slot
    /// (`Slab::deallocate_latest`) do not test for this, to stay a flag: a
    /// page they empty keeps its free list.
    ///
    /// # Safety
    /// The class has an active page, with no live object on it, and
    /// `slot_end` is its slab's slot end.
    ///
    /// # Time complexity
    /// O(1).
    unsafe fn recarve(&mut self, slot_end: usize) {
        debug_assert!(self.active.is_some() && self.active_live() == 0);
        self.unset_given_back();
        self.last_taken = None;
        self.free = None;
        self.bump = slot_end as u32;
    }

    // The counts below wrap rather than panic: `stats` and `check` read
    // them whatever a broken contract did to the counters.

    /// Live objects of the class, on all its pages.
    pub(super) fn live(&self) -> usize {
        self.active_live().wrapping_add(self.inactive_live)
    }

    /// Successful allocations of the class so far.
    pub(super) fn allocation_count(&self) -> u64 {
        (self.allocations.wrapping_add(self.give_backs)).wrapping_sub(u64::from(self.given_back))
    }

    /// Live objects of the active page (0 when there is none).
    pub(super) fn active_live(&self) -> usize {
        // Every allocation and free counted in `give_backs` pair up, but
        // for the free of the slot given back now. The low 32 bits of
        // `allocations` are enough (see `off_active`).
        (self.allocations as u32)
            .wrapping_sub(self.off_active)
            .wrapping_sub(u32::from(self.given_back)) as usize
    }

    /// Whether the active page has a slot left; `header_end` is the
    /// slab's (`Hot::header_end`).
    #[inline(always)]
    pub(super) fn active_has_room(&self, header_end: u32) -> bool {
        self.given_back || self.free.is_some() || self.has_uncarved(header_end)
    }

    /// Whether the active page has a slot not carved yet (see `bump`):
    /// `header_end` is where slots may start in the slab's pages.
    #[inline(always)]
    fn has_uncarved(&self, header_end: u32) -> bool {
        self.bump >= header_end + u32::from(self.size)
    }

    /// Makes `page`, a page of the class's ring, the active page: its
    /// header's free list and bump move into the class, and its live
    /// objects from `inactive_live` to the active page's count, which held
    /// `old_live` objects of the page that was active before, whose state
    /// `write_back_full` wrote to its header (0 when there was none).
    ///
    /// # Safety
    /// `page` is an owned, initialised page of this class, other than the
    /// active one, with its header current; the class holds no free slot
    /// and none given back (as `write_back_full` and `forget_active` leave
    /// it), and its counters count `old_live` objects on the active page.
    #[inline(always)]
    pub(super) unsafe fn activate(&mut self, page: Page, old_live: usize) {
        debug_assert!(self.active_live() == old_live && self.active != Some(page));
        debug_assert!(!self.given_back && self.free.is_none());
        // SAFETY: forwarded from the caller.
        let header = unsafe { page.header() };
        self.active = Some(page);
        self.free = header.free();
        self.bump = header.bump() as u32;
        // One difference for both counters: the old page's objects join
        // `inactive_live` and the new page's leave it.
        let moved = old_live.wrapping_sub(header.live());
        self.inactive_live = self.inactive_live.wrapping_add(moved);
        self.off_active = self.off_active.wrapping_add(moved as u32);
    }

    /// Makes a fresh page, on which no slot is carved, the active page in
    /// place of one with `old_live` objects whose state `write_back_full` wrote
    /// (or of none, `old_live` 0), and takes its first slot.
    ///
    /// # Safety
    /// As for `activate`, except that `page`'s header need hold only its
    /// class, capacity and links; `slot_end` is its slab's slot end and at
    /// least one slot fits below it.
    #[inline(always)]
    pub(super) unsafe fn activate_fresh(
        &mut self,
        page: Page,
        old_live: usize,
        slot_end: usize,
    ) -> NonNull<u8> {
        // The class's free list is empty: its active page, if any, is full.
        debug_assert!(self.active_live() == old_live && !self.given_back && self.free.is_none());
        self.active = Some(page);
        self.bump = (slot_end - usize::from(self.size)) as u32;
        self.inactive_live = self.inactive_live.wrapping_add(old_live);
        // The new page's first allocation counts in `allocations` and on
        // the new page, so `off_active` gains the old page's objects only.
        self.off_active = self.off_active.wrapping_add(old_live as u32);
        // SAFETY: the slot just below the slot end lies in the page, above
        // its header (and bitmap) (caller); it is the first carved.
        let slot = unsafe {
            slot_bits::mark_first(page, self.bump as usize);
            page.start().add(self.bump as usize)
        };
        self.last_taken = Some(slot);
        self.allocations += 1;
        slot
    }

    /// Leaves the class with no active page, forgetting the state of the
    /// one it had, which is empty and leaves the class (its header is
    /// written again before anyone reads it); `active` and `last_taken`
    /// are for the caller to set (`Slab::detach_forgotten`: no page, or
    /// parked).
    ///
    /// # Safety
    /// The class has an active page, with no live object on it.
    pub(super) unsafe fn forget_active(&mut self) {
        debug_assert!(self.active.is_some() && self.active_live() == 0);
        self.unset_given_back();
        self.free = None;
        self.bump = 0;
    }

    /// As `forget_active`, for a page whose last live object is being
    /// freed as it leaves, but for `last_taken`, which the caller sets
    /// (`detach_forgotten`): the free and the given-back slot (if any) both
    /// leave the counts in one step, with no branch (this is on the
    /// longest free): `off_active` takes the low word of `allocations`,
    /// which leaves the active page no live object.
    ///
    /// # Safety
    /// The class has an active page, with one live object on it, whose
    /// slot is not free already.
    #[inline(always)]
    pub(super) unsafe fn forget_emptying_active(&mut self) {
        debug_assert!(self.active.is_some() && self.active_live() == 1);
        if self.given_back {
            // SAFETY: a slot is given back only while it is `last_taken`, a
            // carved slot of the active page.
            unsafe { slot_bits::mark_free(self.active, self.last_taken) };
        }
        // The allocation that took the given-back slot leaves the count, as
        // in `unset_given_back`.
        self.allocations -= u64::from(self.given_back);
        self.given_back = false;
        self.off_active = self.allocations as u32;
        self.free = None;
        self.bump = 0;
        // `last_taken` is for the caller to set: no page, or parked.
    }

    /// Parks the class, whose active page just left its ring (after
    /// `forget_active`): it keeps its other pages, from `first`, with no
    /// active page. Every page's header is then current, and the next
    /// allocation makes `first` active again if it has a free slot (pages
    /// with one come first), else puts a new page before it; a free that
    /// unfills a page makes that one active.
    ///
    /// Why park rather than make `first` active at once: a page given back
    /// from a class with other pages (a spare taken by another class, or
    /// pushed out, or a page emptied while another class keeps the spare)
    /// then costs no page switch, which is the longest branch of the free
    /// and of the allocation that do it; the class's next allocation pays
    /// for it, on the path that looks for a page anyway.
    ///
    /// # Safety
    /// `first` is an owned, initialised page of this class's ring, whose
    /// pages all hold an object and have current headers; the class has
    /// no active page state (as `forget_active` leaves it).
    #[inline(always)]
    pub(super) unsafe fn park(&mut self, first: Page) {
        debug_assert!(self.free.is_none() && !self.given_back && self.bump == 0);
        self.active = None;
        self.last_taken = Some(first.start());
    }

    /// The first page of the ring of a parked class (see `park`); `None`
    /// when the class has an active page or no page.
    #[inline(always)]
    pub(super) fn parked_first(&self) -> Option<Page> {
        if self.active.is_some() {
            return None;
        }
        // SAFETY: with no active page, `last_taken` is `None` or the start
        // of the ring's first page (`park`), an owned page.
        self.last_taken
            .map(|start| unsafe { Page::from_start(start) })
    }

    /// Makes `page`, which a free just left with one free slot after it
    /// was full, the active page in place of `full`, the active page and
    /// full: as `write_back_full` and `activate` do, with the counts known
    /// without reading them, both pages holding `capacity` slots: `full`'s
    /// `capacity` objects join `inactive_live` and `page`'s `capacity - 1`
    /// leave it.
    ///
    /// # Safety
    /// `full` is the active page, full; `page` another owned, initialised
    /// page of this class, with its header current and `capacity - 1`
    /// live objects.
    #[inline(always)]
    pub(super) unsafe fn switch_to_unfilled(&mut self, full: Page, page: Page, capacity: usize) {
        debug_assert!(self.active == Some(full) && self.active_live() == capacity);
        debug_assert!(!self.given_back && self.free.is_none());
        // SAFETY: forwarded from the caller; one header at a time.
        unsafe {
            let header = full.header();
            header.set_free(None);
            header.set_bump(self.bump as usize);
            header.set_live(capacity);
        }
        // SAFETY: forwarded from the caller.
        let header = unsafe { page.header() };
        debug_assert_eq!(header.live(), capacity - 1);
        self.active = Some(page);
        self.last_taken = None;
        self.free = header.free();
        self.bump = header.bump() as u32;
        self.inactive_live = self.inactive_live.wrapping_add(1);
        self.off_active = self.off_active.wrapping_add(1);
    }

    /// Writes the state of `page`, the active page and full, back to its
    /// header, before another page becomes active: a full page has no free
    /// slot, none given back (`take` found none), no uncarved slot and
    /// `capacity` live objects. Returns `capacity`.
    ///
    /// # Safety
    /// `page` is the active page, full.
    #[inline(always)]
    pub(super) unsafe fn write_back_full(&mut self, page: Page) -> usize {
        debug_assert!(self.active == Some(page) && !self.given_back && self.free.is_none());
        // SAFETY: forwarded from the caller.
        let header = unsafe { page.header() };
        let capacity = header.capacity();
        debug_assert_eq!(self.active_live(), capacity);
        header.set_free(None);
        header.set_bump(self.bump as usize);
        header.set_live(capacity);
        capacity
    }
}
