//! The free paths: the latest allocation's slot (no class lookup), an
//! object of its class's active page (the class alone), and an object of
//! another page (its header); and the one-test refusals of a broken
//! contract, counted in `bad_frees`.

use core::alloc::Layout;
use core::ptr::NonNull;

use super::Slab;
use super::active::ClassId;
use super::page::Page;
use super::slot_bits;
use crate::Misuse;
use crate::pages::PageSource;

impl<S: PageSource, const N: usize> Slab<S, N> {
    /// Frees an object.
    ///
    /// # Safety
    /// `ptr` was returned by this slab's `allocate` (or resized in place) for
    /// a layout with `layout.align()` and a size between the requested size
    /// and the returned length, and it has not been freed since. A zero-size
    /// `layout` with the dangling pointer a zero-size allocation returned
    /// makes this a no-op.
    ///
    /// A free that breaks the contract in a way one test shows is refused:
    /// the slab changes nothing but [`Stats::bad_frees`](crate::Stats::bad_frees); debug builds
    /// then panic with a message that names the caller's line (release
    /// builds go on). That is a layout the slab serves no class for, a
    /// pointer the source knows is none of its pages (a `PoolPages` pool, a
    /// `Heap`'s pools; `OsPages` cannot tell), a layout of another class
    /// than the object's page (unless the object is the latest allocation,
    /// which the slab frees rightly whatever the layout), and a double free
    /// of the slot the class took last, of the slot freed last on its page,
    /// of a slot not carved yet, or into a page that went back to the
    /// source.
    ///
    /// Double frees of other slots depend on the build. By default, a
    /// double free of a slot freed earlier, with other frees of its page in
    /// between, is not caught in release builds: it puts the slot on its
    /// free list twice, and the slot is then handed out twice; debug builds
    /// catch it when the slot is among the 256 freed last on the page. With
    /// feature `hardened`, every page keeps a bit per slot, set while the
    /// slot is handed out, which every free tests and clears: every double
    /// free, and every free of a slot not handed out, is refused
    /// ([`Misuse::NotAllocated`]), and no
    /// slot is ever handed out twice, in every build; at the cost of a few
    /// instructions on each allocate and free (BENCHMARKS.md) and
    /// [`page_header`](crate::slab::page_header)'s bytes of each page.
    ///
    /// Not caught in either: an address below the page size (a dangling
    /// pointer) when its class has no active page. Debug builds also catch
    /// a pointer off the slot grid, and that address.
    ///
    /// # Time complexity
    /// O(1).
    #[inline(always)]
    #[track_caller]
    pub unsafe fn deallocate(&mut self, ptr: NonNull<u8>, layout: Layout) {
        // SAFETY: forwarded from the caller.
        Misuse::report_err(unsafe { self.free(ptr, layout) })
    }

    /// [`deallocate`](Self::deallocate), returning a refused misuse rather
    /// than reporting it.
    ///
    /// # Safety
    /// As for `deallocate`.
    #[inline(always)]
    pub(crate) unsafe fn free(&mut self, ptr: NonNull<u8>, layout: Layout) -> Result<(), Misuse> {
        // SAFETY: forwarded from the caller.
        if let Some(done) = unsafe { self.deallocate_latest(ptr, layout) } {
            return done;
        }
        let Some(class) = self.class_for(layout) else {
            // Only zero-size layouts get here from a caller that keeps the
            // contract.
            if layout.size() != 0 {
                let addr = ptr.as_ptr().addr();
                return Err(self.refuse(Misuse::WrongLayout { addr, layout }));
            }
            return Ok(());
        };
        // SAFETY: `ptr` is live in this slab with a layout of `class`
        // (caller).
        unsafe { self.deallocate_in(ptr, class, layout) }
    }

    /// Counts a refused free.
    #[cold]
    fn refuse(&mut self, misuse: Misuse) -> Misuse {
        self.counters.bad_frees += 1;
        misuse
    }

    /// Frees `ptr` if it is the slot the latest allocation took from its
    /// class, still on that class's active page: sets it aside as given
    /// back, with no class lookup. Returns the free's outcome if `ptr` is
    /// that slot (refused if it is given back already: a double free).
    ///
    /// An object freed right after it was allocated (a temporary, a scratch
    /// buffer) is the common case this serves: the free then costs a
    /// comparison and a flag, where the class lookup alone is several
    /// dependent instructions. Any other free pays one load and one
    /// comparison here.
    ///
    /// # Safety
    /// `ptr` is a live object of this slab's owner (this slab, or for a
    /// `Heap` the slab or the TLSF) allocated for `layout`, or the dangling
    /// pointer of a zero-size allocation.
    #[inline(always)]
    pub(crate) unsafe fn deallocate_latest(
        &mut self,
        ptr: NonNull<u8>,
        layout: Layout,
    ) -> Option<Result<(), Misuse>> {
        let latest = self.hot.latest;
        // SAFETY: `latest` is `of_index(0)` (and `N > 0`) or a class
        // `allocate_in` served.
        let slots = unsafe { self.class_mut(latest) };
        // `last_taken` is a slot of the class's active page, no slot, or a
        // parked class's first page's start, where no live object lies
        // (its header does), and no other live object of the owner
        // shares a slot's address (a `Heap`'s slab pages are live TLSF
        // blocks), so a live object there is that slot's, of this class. A
        // zero-size allocation's dangling pointer (its alignment, a power of
        // two) may equal a slot's address where pages are not aligned to
        // their size: the size tells it apart, tested only once the address
        // matched.
        if slots.last_taken != Some(ptr) || layout.size() == 0 {
            return None;
        }
        let addr = ptr.as_ptr().addr();
        // Only a pointer off the slot grid (a page's start) matches a
        // parked class's `last_taken`: refused where the build promises to
        // catch those, at no cost to the default build's fast path.
        if slots.given_back
            || ((cfg!(debug_assertions) || cfg!(feature = "hardened")) && slots.active.is_none())
        {
            return Some(Err(self.refuse(Misuse::NotAllocated { addr })));
        }
        #[cfg(debug_assertions)]
        if self.class_for(layout) != Some(latest) {
            return Some(Err(self.refuse(Misuse::WrongLayout { addr, layout })));
        }
        // A class named for the spare already stays named: the page of a
        // temporary that empties it again and again costs one test.
        let named = self.hot.spare.is(latest);
        // SAFETY: `latest` is below `N` (as above).
        let slots = unsafe { self.class_mut(latest) };
        // SAFETY: `ptr` is `last_taken`, and not given back, so live.
        unsafe { slots.give_back(ptr) };
        if !named && slots.active_live() == 0 {
            self.name_spare(latest);
        }
        Some(Ok(()))
    }

    /// Frees an object of `class`, the class `class_for` gives its layout.
    /// (Every size from the request to the slot's length maps to the
    /// slot's class, so the layout names it.) The layout only serves the
    /// checks' reports.
    ///
    /// # Safety
    /// `ptr` is a live object of this slab, allocated for `layout`, whose
    /// class is `class`.
    #[inline(always)]
    pub(crate) unsafe fn deallocate_in(
        &mut self,
        ptr: NonNull<u8>,
        class: ClassId,
        layout: Layout,
    ) -> Result<(), Misuse> {
        debug_assert_eq!(self.class_for(layout), Some(class));
        let addr = ptr.as_ptr() as usize;
        // SAFETY: `class` is served (the layout's, and the caller's object
        // has it).
        let active = unsafe { self.class_mut(class) }.active;
        #[cfg(debug_assertions)]
        if active.is_none() {
            // A foreign pointer below the slot end would pass the range
            // check below; the checks of `deallocate_elsewhere` name it.
            // SAFETY: forwarded from the caller; with no active page, `ptr`
            // is not in one.
            return unsafe { self.deallocate_elsewhere(class, ptr, layout) };
        }
        // With no active page the offset is the address itself. A live
        // object lies in a page the source handed out, at an address of at
        // least the page size (`PageSource`'s contract), above the slot
        // end: the range check fails and no `None` test is needed.
        let offset = addr.wrapping_sub(active.map_or(0, Page::addr));
        if offset < self.hot.slot_end {
            // SAFETY: the offset is below the slot end, so there is an
            // active page (see above: `ptr` is live, by the caller's
            // contract).
            let active = unsafe { active.unwrap_unchecked() };
            // SAFETY: `ptr` is a live object of `class` in its active page,
            // `offset` bytes from its start.
            return unsafe { self.put_active(class, active, offset, ptr, layout) };
        }
        // SAFETY: forwarded from the caller; `class` is the layout's, and
        // `ptr` is not in its active page (checked just above).
        unsafe { self.deallocate_elsewhere(class, ptr, layout) }
    }

    /// Frees `ptr` as an object of `class` if it lies in one of the slab's
    /// pages, as `deallocate_in` does; `None`, doing nothing, if it lies in
    /// none (the hybrid heap's TLSF serves a small request whose class can
    /// get no page).
    ///
    /// # Safety
    /// As for `deallocate_in`, except that `ptr` may also be a live block
    /// of something else that lies in no page of this slab; and the
    /// source's `page_containing` returns `None` for every address in no
    /// page it has out.
    #[inline(always)]
    pub(crate) unsafe fn deallocate_if_in_page(
        &mut self,
        ptr: NonNull<u8>,
        class: ClassId,
        layout: Layout,
    ) -> Option<Result<(), Misuse>> {
        debug_assert_eq!(self.class_for(layout), Some(class));
        let addr = ptr.as_ptr() as usize;
        // SAFETY: `class` is served (the layout's).
        if let Some(active) = unsafe { self.class_mut(class) }.active {
            let offset = addr.wrapping_sub(active.addr());
            if offset < self.hot.slot_end {
                // SAFETY: `ptr` lies in the active page of `class`, so it is
                // a live object of it (caller).
                return Some(unsafe { self.put_active(class, active, offset, ptr, layout) });
            }
        }
        let start = self.source.page_containing(addr)?;
        // SAFETY: `addr` is in a page the source handed out (the lookup is
        // exact, caller), so `ptr` is a live object of this slab, of
        // `class`, not in its active page; `start` carries the page's
        // provenance.
        Some(unsafe { self.deallocate_on_page(class, Page::from_start(start), ptr, layout) })
    }

    /// Frees the object at `offset` in `active`, the active page of
    /// `class`; refused, changing nothing, when one test shows its slot is
    /// free already.
    ///
    /// # Safety
    /// `ptr` is a live object of `class`, allocated for `layout`, at
    /// `offset` from the start of the class's active page `active`.
    #[inline(always)]
    unsafe fn put_active(
        &mut self,
        class: ClassId,
        active: Page,
        offset: usize,
        ptr: NonNull<u8>,
        layout: Layout,
    ) -> Result<(), Misuse> {
        #[cfg(debug_assertions)]
        // SAFETY: the active page holds `ptr`.
        if let Err(misuse) = unsafe { self.debug_check(active, class, ptr, layout) } {
            return Err(self.refuse(misuse));
        }
        #[cfg(not(debug_assertions))]
        let _ = layout;
        let slot_end = self.hot.slot_end;
        // SAFETY: `class` is served.
        let slots = unsafe { self.class_mut(class) };
        // SAFETY: `ptr` is a live object of this slab (caller) inside the
        // active page, whose pointer gives the slot the page's provenance.
        let slot = unsafe { active.start().add(offset) };
        // A slot below `bump` is not carved yet: never handed out, or
        // freed before the page was carved again (a double free).
        let freed_already = if offset < slots.bump as usize {
            true
        } else if slots.active_live() == 1 {
            // The page's last object: the page is carved again at once,
            // with no detour through the given-back slot or the free list.
            // SAFETY: the slot is carved (at or above `bump`).
            if !unsafe { slots.freed_already(active, offset, slot) } {
                // SAFETY: `class` is served; the slot is the active page's
                // last live object (tested just above), and `slot_end` is
                // this slab's.
                unsafe { self.active_page_emptied(class, slot_end) };
                return Ok(());
            }
            true
        } else {
            // SAFETY: as above, and the slot is carved; `put` refuses it
            // if it is free already.
            !unsafe { slots.put(active, offset, slot) }
        };
        if freed_already {
            let addr = ptr.as_ptr().addr();
            return Err(self.refuse(Misuse::NotAllocated { addr }));
        }
        Ok(())
    }

    /// Frees an object that is not on its class's active page.
    ///
    /// # Safety
    /// As for `deallocate_in`, and `ptr` is not in its class's active page
    /// (whose header is stale).
    #[inline(always)]
    unsafe fn deallocate_elsewhere(
        &mut self,
        class: ClassId,
        ptr: NonNull<u8>,
        layout: Layout,
    ) -> Result<(), Misuse> {
        let addr = ptr.as_ptr() as usize;
        let Some(start) = self.source.page_containing(addr) else {
            return Err(self.refuse(Misuse::Foreign { addr }));
        };
        // SAFETY: `addr` is in a page the source handed out (the slab's),
        // of this class and not its active page (caller's contract); `start`
        // carries the page's provenance.
        unsafe { self.deallocate_on_page(class, Page::from_start(start), ptr, layout) }
    }

    /// Frees `ptr`, which lies in `page`, a page of the slab other than the
    /// active page of `class`.
    ///
    /// # Safety
    /// As for `deallocate_in`, and `ptr` lies in `page` (which carries the
    /// page's provenance), not the active page of `class`, so its header is
    /// current.
    #[inline(always)]
    unsafe fn deallocate_on_page(
        &mut self,
        class: ClassId,
        page: Page,
        ptr: NonNull<u8>,
        layout: Layout,
    ) -> Result<(), Misuse> {
        #[cfg(debug_assertions)]
        // SAFETY: the page holds `ptr` and its header is current (caller).
        if let Err(misuse) = unsafe { self.debug_check(page, class, ptr, layout) } {
            return Err(self.refuse(misuse));
        }
        // SAFETY: forwarded from the caller.
        unsafe { self.deallocate_inactive(class, page, page.slot_at(ptr.as_ptr().addr()), layout) }
    }

    /// Frees `slot` into `page`, which is not its class's active page: to
    /// the page's own free list, making the page active if it was full and
    /// giving it back to the source if it empties.
    ///
    /// Refused, changing nothing, when the header shows the free breaks
    /// the contract (one test each, all on the header's first line): a
    /// page of another class (a wrong layout), an empty page (only a page
    /// that went back to the source is: a double free), or `slot` free
    /// already as far as the build tests (see `slot_bits::untake_inactive`):
    /// first on the page's free list, or with feature `hardened` not marked
    /// handed out in the page's bitmap.
    ///
    /// # Safety
    /// `slot` is a live slot of `page`, a page of `class` other than its
    /// active one, allocated for `layout`.
    #[inline(always)]
    unsafe fn deallocate_inactive(
        &mut self,
        class: ClassId,
        page: Page,
        slot: NonNull<u8>,
        layout: Layout,
    ) -> Result<(), Misuse> {
        // SAFETY: the page is owned, initialised and not active, so its
        // header is current.
        let (own_class, live, capacity, probe) = unsafe {
            let header = page.header();
            (
                header.is_of(class),
                header.live(),
                header.capacity(),
                slot_bits::probe(header),
            )
        };
        // SAFETY: (of `untake_inactive`) the page is owned, initialised and
        // not active, `slot` lies in it (caller) and `probe` is its header's;
        // if the slot is handed out, it is marked no longer so, the free
        // going ahead.
        if !own_class || live == 0 || !unsafe { slot_bits::untake_inactive(page, probe, slot) } {
            let addr = slot.as_ptr().addr();
            let misuse = if !own_class {
                Misuse::WrongLayout { addr, layout }
            } else {
                Misuse::NotAllocated { addr }
            };
            return Err(self.refuse(misuse));
        }
        // SAFETY: as above; the slot is forwarded from the caller.
        unsafe {
            page.push(slot);
            page.header().set_live(live - 1);
        }
        // SAFETY: `class` is served (caller).
        unsafe { self.class_mut(class) }.inactive_live -= 1;
        // One test for the two rare cases, the page was full (`live ==
        // capacity`) or is now empty (`live == 1`): `1 <= live <=
        // capacity`, so below 2 wraps to the top, and with one slot per
        // page (`with_max_class`) every free takes the rare path.
        if live.wrapping_sub(2) >= capacity.wrapping_sub(2) {
            // SAFETY: `page` is a page of `class` other than its active one
            // (caller), which this free, recorded, left with a free slot
            // after it was full, or empty.
            unsafe { self.page_unfilled_or_emptied(class, page, live) };
        }
        Ok(())
    }
}
