//! Budgets: several heaps drawing pages from one shared source, each up to
//! a cap of its own.

use core::cell::UnsafeCell;
use core::ptr::NonNull;

use super::{PageMap, PageSource, SharedPageSource};
use crate::{AllocError, Lock};

/// A page source shared by several heaps, each through a [`Budget`] that
/// caps how many pages it may hold: one subsystem that leaks or overreaches
/// runs into its own cap, and the others keep their pages.
///
/// Taking or giving back a page locks the source (`L`: any [`Lock`]); a
/// heap's hot paths never do (they find an object's page through the
/// source's lock-free [`PageMap`]).
///
/// # Time complexity
///
/// Every operation is O(1) plus the source's own, under the lock.
pub struct SharedPages<S: SharedPageSource, L: Lock> {
    lock: L,
    source: UnsafeCell<S>,
    map: S::Map,
    page_size: usize,
    page_align: usize,
}

// SAFETY: the source is touched only inside `lock.with`, by one context at a
// time, and is never replaced (`source` lends it out read-only), so the map
// and page size and alignment copied from it stay right; the map is `Sync` by its
// contract.
unsafe impl<S: SharedPageSource + Send, L: Lock + Sync> Sync for SharedPages<S, L> {}

impl<S: SharedPageSource, L: Lock> SharedPages<S, L> {
    /// Shares `source`.
    pub fn new(source: S) -> Self {
        SharedPages {
            lock: L::INIT,
            map: source.map(),
            page_size: source.page_size(),
            page_align: source.page_align(),
            source: UnsafeCell::new(source),
        }
    }

    /// A handle that takes at most `max_pages` pages at once from the shared
    /// source, for one heap (give it to `Slab::new`, `GrowingTlsf::new`).
    pub fn budget(&self, max_pages: usize) -> Budget<'_, S, L> {
        Budget {
            shared: self,
            map: self.map,
            max_pages,
            pages: 0,
            peak_pages: 0,
            refused: 0,
        }
    }

    /// Runs `f` on the source with the lock held.
    fn with<T>(&self, f: impl FnOnce(&mut S) -> T) -> T {
        self.lock.with(|| {
            // SAFETY: the lock is held, so no other reference to the source
            // exists; `f` is one of `Budget`'s calls into the source, which
            // never calls back into a heap or budget (`PageSource`'s
            // contract).
            f(unsafe { &mut *self.source.get() })
        })
    }

    /// The shared source, for its counters: the `&mut self` proves that no
    /// budget is using it. Read-only, because the budgets rely on the page
    /// size and page map copied out of it.
    pub fn source(&mut self) -> &S {
        self.source.get_mut()
    }
}

/// One heap's share of a [`SharedPages`]: a [`PageSource`] that refuses a
/// page beyond its cap.
pub struct Budget<'a, S: SharedPageSource, L: Lock> {
    shared: &'a SharedPages<S, L>,
    map: S::Map,
    max_pages: usize,
    pages: usize,
    peak_pages: usize,
    refused: u64,
}

// SAFETY: a `Budget` holds a shared reference to a `Sync` `SharedPages`, a
// `Send` map, and plain counters; the pages it accounts for are owned by
// the heap it feeds, which moves with it.
unsafe impl<S: SharedPageSource + Send, L: Lock + Sync> Send for Budget<'_, S, L> {}

impl<S: SharedPageSource, L: Lock> Budget<'_, S, L> {
    /// Pages this budget holds now.
    pub fn pages(&self) -> usize {
        self.pages
    }

    /// Most pages it has held at once.
    pub fn peak_pages(&self) -> usize {
        self.peak_pages
    }

    /// Its cap.
    pub fn max_pages(&self) -> usize {
        self.max_pages
    }

    /// Pages it refused because they were beyond its cap.
    pub fn refused(&self) -> u64 {
        self.refused
    }
}

// SAFETY: pages come from the shared source, whose contract they keep; this
// handle gives back only pages it took; `page_containing` is the source's
// own lookup (`SharedPageSource`'s contract); nothing calls into a heap.
unsafe impl<S: SharedPageSource, L: Lock> PageSource for Budget<'_, S, L> {
    fn page_size(&self) -> usize {
        self.shared.page_size
    }

    fn page_align(&self) -> usize {
        self.shared.page_align
    }

    fn allocate_page(&mut self) -> Result<NonNull<u8>, AllocError> {
        if self.pages >= self.max_pages {
            self.refused += 1;
            return Err(AllocError);
        }
        let page = self.shared.with(|source| source.allocate_page())?;
        self.pages += 1;
        self.peak_pages = self.peak_pages.max(self.pages);
        Ok(page)
    }

    unsafe fn deallocate_page(&mut self, page: NonNull<u8>) {
        self.pages -= 1;
        // SAFETY: the caller gives back a page this budget took from the
        // shared source.
        self.shared
            .with(|source| unsafe { source.deallocate_page(page) });
    }

    #[inline(always)]
    fn page_containing(&self, addr: usize) -> Option<NonNull<u8>> {
        self.map.page_containing(addr)
    }

    fn reserved_tail(&self) -> usize {
        // The tail never changes, but reading the source needs the lock.
        self.shared.with(|source| source.reserved_tail())
    }

    fn pages_left(&self) -> Option<usize> {
        let shared = self.shared.with(|source| source.pages_left());
        let own = self.max_pages - self.pages;
        Some(shared.map_or(own, |left| left.min(own)))
    }

    /// The shared source's `discard`, under its lock.
    unsafe fn discard(&mut self, start: NonNull<u8>, len: usize) -> usize {
        // SAFETY: pages out of this budget are out of the shared source;
        // the caller's contract holds for it.
        self.shared
            .with(|source| unsafe { source.discard(start, len) })
    }
}
