//! `PoolPages`: a user pool cut into pages.

use core::marker::PhantomData;
use core::mem::MaybeUninit;
use core::ptr::NonNull;

use super::{MAX_PAGE, MIN_PAGE, PageMap, PageSource, SharedPageSource};
use crate::{AllocError, PoolError};

/// A pool of memory that lives for `'p`, cut into pages of one size.
///
/// The pool's start is rounded up to the page size, and what is left after
/// the last whole page is not used. Pages are handed out first from the
/// never-used end of the pool (a bump index), then from a list of pages given
/// back, so that neither taking nor giving a page walks anything.
///
/// # Time complexity
///
/// `new`, `allocate_page`, `deallocate_page` and `page_containing` are O(1).
///
/// ```
/// use core::mem::MaybeUninit;
/// use rtarena::pages::{PageSource, PoolPages};
///
/// let mut pool = [MaybeUninit::uninit(); 8192];
/// let mut pages = PoolPages::new(&mut pool, 1024).unwrap();
/// assert!(pages.pages() >= 7);
/// let page = pages.allocate_page().unwrap();
/// assert_eq!(page.as_ptr() as usize % 1024, 0);
/// // SAFETY: the page came from this source and is given back once.
/// unsafe { pages.deallocate_page(page) };
/// assert_eq!(pages.pages_in_use(), 0);
/// ```
pub struct PoolPages<'p> {
    /// The first whole page, with the provenance of the whole pool.
    base: NonNull<u8>,
    page_size: usize,
    pages: usize,
    /// `pages * page_size`, for `page_containing`.
    span: usize,
    /// Pages below this index have been handed out at least once.
    fresh: usize,
    /// Pages given back, linked through their first word.
    free: Option<NonNull<u8>>,
    in_use: usize,
    _pool: PhantomData<&'p mut [MaybeUninit<u8>]>,
}

// SAFETY: `PoolPages` owns its pool exclusively (it holds it as a `&'p mut`
// slice); its pointers point only into that pool, so moving it to another
// thread moves that ownership along, as moving the slice would.
unsafe impl Send for PoolPages<'_> {}

impl<'p> PoolPages<'p> {
    /// Cuts `pool` into pages of `page_size` bytes.
    ///
    /// `page_size` must be a power of two between [`MIN_PAGE`] and
    /// [`MAX_PAGE`] (else [`PoolError::PageSize`]), and the pool must hold at
    /// least one whole aligned page (else [`PoolError::TooSmall`]).
    pub fn new(pool: &'p mut [MaybeUninit<u8>], page_size: usize) -> Result<Self, PoolError> {
        check_page_size(page_size)?;
        let start = pool.as_mut_ptr().cast::<u8>();
        let skip = start.align_offset(page_size).min(pool.len());
        let pages = (pool.len() - skip) / page_size;
        if pages == 0 {
            return Err(PoolError::TooSmall {
                usable: pool.len() - skip,
                min: page_size,
            });
        }
        // SAFETY: `skip <= pool.len()`, so the pointer is inside the pool or
        // one past its end, and it is not null because the pool is a slice
        // holding at least one whole page past it.
        let base = unsafe { NonNull::new_unchecked(start.add(skip)) };
        Ok(PoolPages {
            base,
            page_size,
            pages,
            span: pages * page_size,
            fresh: 0,
            free: None,
            in_use: 0,
            _pool: PhantomData,
        })
    }

    /// Number of whole pages the pool holds.
    pub fn pages(&self) -> usize {
        self.pages
    }

    /// Number of pages handed out and not given back.
    pub fn pages_in_use(&self) -> usize {
        self.in_use
    }
}

/// A page size every source accepts: a power of two from `MIN_PAGE` to
/// `MAX_PAGE`.
pub(crate) fn check_page_size(size: usize) -> Result<(), PoolError> {
    if size.is_power_of_two() && (MIN_PAGE..=MAX_PAGE).contains(&size) {
        Ok(())
    } else {
        Err(PoolError::PageSize {
            size,
            min: MIN_PAGE,
            max: MAX_PAGE,
        })
    }
}

// SAFETY: pages are `page_size`-aligned (the base is aligned and pages are
// whole multiples past it) and disjoint slices of the borrowed pool, which
// outlives `self`; a page is handed out again only after it was given back;
// `page_containing` derives its pointer from `base`, which carries the whole
// pool's provenance, as every page's pointer does (so pages merge).
unsafe impl PageSource for PoolPages<'_> {
    #[inline]
    fn page_size(&self) -> usize {
        self.page_size
    }

    #[inline]
    fn allocate_page(&mut self) -> Result<NonNull<u8>, AllocError> {
        let page = if let Some(page) = self.free {
            // SAFETY: a page on the free list was given back, so nothing else
            // uses it, and its first word holds the next free page (written by
            // `deallocate_page`).
            self.free = unsafe { page.cast::<Option<NonNull<u8>>>().read() };
            page
        } else if self.fresh < self.pages {
            // SAFETY: `fresh < pages`, so the page lies inside the pool.
            let page = unsafe { self.base.add(self.fresh * self.page_size) };
            self.fresh += 1;
            page
        } else {
            return Err(AllocError);
        };
        self.in_use += 1;
        Ok(page)
    }

    #[inline]
    unsafe fn deallocate_page(&mut self, page: NonNull<u8>) {
        debug_assert!(
            self.page_containing(page.as_ptr() as usize) == Some(page) && self.in_use > 0,
            "PoolPages::deallocate_page: {page:p} is not a page of this pool"
        );
        // SAFETY: the caller gives back a page of this pool that nothing uses
        // any more; pages are aligned and at least `MIN_PAGE` bytes, so its
        // first word is in bounds and aligned.
        unsafe { page.cast::<Option<NonNull<u8>>>().write(self.free) };
        self.free = Some(page);
        self.in_use -= 1;
    }

    fn pages_left(&self) -> Option<usize> {
        Some(self.pages - self.in_use)
    }

    fn pages_merge(&self) -> bool {
        true
    }

    #[inline]
    fn page_containing(&self, addr: usize) -> Option<NonNull<u8>> {
        self.map().page_containing(addr)
    }
}

/// The page lookup of a [`PoolPages`]: where its pages are, copied out.
#[derive(Clone, Copy, Debug)]
pub struct PoolMap {
    base: NonNull<u8>,
    span: usize,
    page_size: usize,
}

// SAFETY: a `PoolMap` is a read-only description of where a pool's pages
// are; its pointer is only offset, never dereferenced, by the map itself.
unsafe impl Send for PoolMap {}
// SAFETY: as for `Send`: nothing in it changes or is dereferenced.
unsafe impl Sync for PoolMap {}

// SAFETY: the pointer is derived from `base`, which carries the whole pool's
// provenance, and points at the start of the page that holds `addr`.
unsafe impl PageMap for PoolMap {
    #[inline]
    fn page_containing(&self, addr: usize) -> Option<NonNull<u8>> {
        let offset = addr.wrapping_sub(self.base.as_ptr() as usize);
        if offset < self.span {
            // SAFETY: `offset` is inside the pool's pages, and so is its
            // page's start.
            Some(unsafe { self.base.add(offset & !(self.page_size - 1)) })
        } else {
            None
        }
    }
}

// SAFETY: `base`, `span` and `page_size` never change after `new`, so the
// copied map answers as `page_containing` does.
unsafe impl SharedPageSource for PoolPages<'_> {
    type Map = PoolMap;

    #[inline(always)]
    fn map(&self) -> PoolMap {
        PoolMap {
            base: self.base,
            span: self.span,
            page_size: self.page_size,
        }
    }
}

impl core::fmt::Debug for PoolPages<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PoolPages")
            .field("page_size", &self.page_size)
            .field("pages", &self.pages)
            .field("pages_in_use", &self.in_use)
            .finish_non_exhaustive()
    }
}
