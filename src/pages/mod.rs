//! The memory layer for the slab: sources of hardware-sized pages.
//!
//! A [`PageSource`] hands out pages of one power-of-two size, each aligned to
//! that size (or, for the hybrid heap's own source, to its granule), and
//! takes them back one at a time. The source finds the page of any object
//! (by masking its address, for aligned pages), so the slab asks it for
//! nothing but whole pages, and hands them back when they empty.
//!
//! Two sources come with the crate: `PoolPages` cuts a pool of your memory
//! into pages, and `OsPages` (feature `std`, unix) maps pages from the
//! operating system, huge pages where the kernel has them.

#[cfg(all(feature = "std", unix))]
mod os;
mod pool;
mod region;
#[cfg(feature = "sync")]
mod shared;

#[cfg(all(feature = "std", unix))]
pub use self::os::OsMap;
#[cfg(all(feature = "std", unix))]
pub use self::os::{OsPages, PageKind};
pub use self::pool::PoolMap;
pub use self::pool::PoolPages;
pub(crate) use self::pool::check_page_size;
pub use self::region::RegionPages;
#[cfg(feature = "sync")]
pub use self::shared::{Budget, SharedPages};

use core::ptr::NonNull;

use crate::AllocError;

/// Smallest page a [`PageSource`] may hand out: 512 bytes, a page a
/// microcontroller pool can afford.
pub const MIN_PAGE: usize = 512;

/// Largest page a [`PageSource`] may hand out: 2 MiB, the x86-64 and AArch64
/// huge page.
pub const MAX_PAGE: usize = 2 << 20;

/// Largest `reserved_tail` a [`PageSource`] may keep: 64 bytes, at most an
/// eighth of the smallest page.
pub const MAX_TAIL: usize = 64;

/// Where a slab gets its pages: memory handed out in pages of one size,
/// each aligned to that size (or to `page_align`, when a source says less).
///
/// # Safety
///
/// Implementors promise:
/// - `page_size` is a power of two between [`MIN_PAGE`] and [`MAX_PAGE`], and
///   never changes; so is `page_align`, a power of two from the TLSF's
///   granule (`rtarena::tlsf::config::GRANULE`, two words) to `page_size`
///   (a TLSF that grows from the pages needs granule-aligned ones);
/// - a page from `allocate_page` is aligned to `page_align`, and its address
///   is at least `page_size`; its first
///   `page_size - reserved_tail` bytes are valid for reads and writes,
///   overlap nothing else the source has out, and stay so until the page is
///   given back to `deallocate_page` or the source is dropped; moving the
///   source does not move or invalidate its pages; `reserved_tail` never
///   changes and is at most [`MAX_TAIL`];
/// - for any address inside a page it has out, `page_containing` returns that
///   page's start as a pointer valid for the whole page (callers use it in
///   place of a pointer they were given, whose provenance may cover only one
///   object); for other addresses it returns `None` or any pointer;
/// - a run from `allocate_pages(count)` is `count` pages, each as from
///   `allocate_page` (and given back one by one), that follow each other in
///   memory;
/// - if `pages_merge` returns `true`, pages that adjoin come from one
///   allocation: the pointer of a page it hands out is valid for every page
///   it hands out that adjoins that page, and so on along adjoining pages,
///   so adjoining pages may be used as one region (and `reserved_tail` is
///   0);
/// - `pages_left` is a hint (a shared source may change meanwhile): heaps
///   use it to refuse early and still handle `allocate_page` failing;
/// - no method calls, directly or indirectly, into the heap that owns the
///   source, any wrapper holding that heap, or (for a source shared through
///   `SharedPages`) any budget of it: they lend themselves out as `&mut`
///   while they call the source.
pub unsafe trait PageSource {
    /// Size of every page, in bytes.
    fn page_size(&self) -> usize;

    /// Alignment of every page: its size, by default. Slots are aligned to
    /// at most this.
    fn page_align(&self) -> usize {
        self.page_size()
    }

    /// Takes one page, or `Err` when the source has none left (then nothing
    /// changes).
    fn allocate_page(&mut self) -> Result<NonNull<u8>, AllocError>;

    /// Takes `count` pages that follow each other in memory and returns the
    /// first, or `Err` when the source cannot, or `count` is 0 (then
    /// nothing changes). Each
    /// page of the run is given back on its own, with `deallocate_page`. A
    /// heap growing from a source whose pages merge asks for a run to serve
    /// a request larger than a page.
    ///
    /// The default takes the pages one at a time, and gives them back and
    /// fails unless each follows the one before (as from a source that cuts
    /// fresh pages in order); a source that can do better says so.
    ///
    /// # Time complexity
    ///
    /// The default is O(`count`) page takes.
    fn allocate_pages(&mut self, count: usize) -> Result<NonNull<u8>, AllocError> {
        if count == 0 {
            return Err(AllocError);
        }
        let first = self.allocate_page()?;
        let size = self.page_size();
        for taken in 1..count {
            let next = taken
                .checked_mul(size)
                .and_then(|offset| first.addr().get().checked_add(offset));
            match self.allocate_page() {
                Ok(page) if Some(page.addr().get()) == next => {}
                other => {
                    if let Ok(page) = other {
                        // SAFETY: taken just above, and unused.
                        unsafe { self.deallocate_page(page) };
                    }
                    give_back_run(self, first, taken);
                    return Err(AllocError);
                }
            }
        }
        Ok(first)
    }

    /// Gives a page back.
    ///
    /// # Safety
    ///
    /// `page` came from `allocate_page` of this source and has not been
    /// given back since; nothing uses its memory any more.
    unsafe fn deallocate_page(&mut self, page: NonNull<u8>);

    /// Gives back the `count` pages from `first` on, as that many calls of
    /// `deallocate_page` would; the default makes those calls, the last
    /// page first (so that a source that hands pages out again last-in
    /// first-out, as `PoolPages`, gives them in address order once more).
    /// A heap gives back each run it took this way when it drops; a source
    /// that can give a run back at once says so (`OsPages`: one `madvise`).
    ///
    /// # Safety
    ///
    /// Every page of the run came from this source (`allocate_page` or
    /// `allocate_pages`), has not been given back since, and nothing uses
    /// its memory any more; `first` has provenance over the run.
    ///
    /// # Time complexity
    ///
    /// The default is O(`count`) page gives.
    unsafe fn deallocate_pages(&mut self, first: NonNull<u8>, count: usize) {
        give_back_run(self, first, count);
    }

    /// The page that holds `addr`, with provenance over the whole page; see
    /// the trait's safety section for what it returns for other addresses.
    fn page_containing(&self, addr: usize) -> Option<NonNull<u8>>;

    /// Bytes at the end of every page that stay the source's (the hybrid
    /// heap's pages give their last word to the next TLSF block's header);
    /// 0 by default.
    fn reserved_tail(&self) -> usize {
        0
    }

    /// How many more pages `allocate_page` can give now, if the source
    /// knows (`None`, the default, when it does not, as for the OS). Lets a
    /// heap refuse a request that cannot be met before taking any page.
    fn pages_left(&self) -> Option<usize> {
        None
    }

    /// Whether adjacent pages may be used as one region, because all pages
    /// come from one allocation. `false` (the default) keeps every page a
    /// region of its own.
    fn pages_merge(&self) -> bool {
        false
    }

    /// Says that the contents of the `len` bytes at `start`, whole pages
    /// that this source handed out and that are still out, are not needed
    /// any more: the source may give their memory back to the system. The
    /// pages stay out and usable; what they hold from then on is
    /// unspecified (zeros, or what they held). Returns the bytes whose
    /// memory went back. The default gives nothing back and returns 0, as
    /// a source over the user's own memory has nothing to give; `OsPages`
    /// advises the kernel.
    ///
    /// # Safety
    ///
    /// `start` and `len` are multiples of the page size; every page of
    /// `start..start + len` was handed out by this source and not given
    /// back, `start` has provenance over all of them, and nothing needs
    /// their contents.
    ///
    /// # Time complexity
    ///
    /// The default is O(1); `OsPages` makes one system call.
    unsafe fn discard(&mut self, start: NonNull<u8>, len: usize) -> usize {
        let _ = (start, len);
        0
    }
}

/// Gives back the `count` pages from `first` on, which `source` handed out
/// in address order and nothing uses: the last first, so that a source
/// that hands pages out again last-in first-out (`PoolPages`) gives them in
/// address order once more.
fn give_back_run<S: PageSource + ?Sized>(source: &mut S, first: NonNull<u8>, count: usize) {
    for index in (0..count).rev() {
        let addr = first.addr().get() + index * source.page_size();
        if let Some(page) = source.page_containing(addr) {
            // SAFETY: the page at `addr` is out of this source and unused
            // (the caller's word), and `page_containing` gives its start.
            unsafe { source.deallocate_page(page) };
        }
    }
}

/// A page source whose page lookup needs none of its mutable state, so that
/// it can run on any thread while another takes or gives back pages.
///
/// # Safety
///
/// `map` returns a value whose `page_containing` answers exactly as the
/// source's own would, for every page the source hands out for as long as
/// the source lives, without touching the source.
pub unsafe trait SharedPageSource: PageSource {
    /// The lookup, copied out of the source.
    type Map: PageMap;

    /// The source's page lookup.
    fn map(&self) -> Self::Map;
}

/// A page lookup that needs no access to its source: `page_containing` of a
/// [`SharedPageSource`].
///
/// # Safety
///
/// As [`PageSource::page_containing`]; it may be called from any thread.
pub unsafe trait PageMap: Copy + Send + Sync {
    /// The page that holds `addr`, with provenance over the whole page.
    fn page_containing(&self, addr: usize) -> Option<NonNull<u8>>;
}
