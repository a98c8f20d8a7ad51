//! `OsPages`: pages mapped from the operating system.

use core::ptr::{self, NonNull};

use rustix::mm::{self, MapFlags, ProtFlags};

use super::pool::check_page_size;
use super::{MAX_PAGE, PageMap, PageSource, SharedPageSource};
use crate::{AllocError, PoolError};

/// Size of the pages of [`OsPages::huge`]: the huge page of x86-64 and of
/// AArch64 with 4 KiB base pages, and the largest page a source may hand out.
const HUGE: usize = MAX_PAGE;

/// How the operating system backs a page of [`OsPages`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PageKind {
    /// Ordinary pages of the OS's base size (a 2 MiB page of this kind is a
    /// run of them, 2 MiB-aligned).
    Base,
    /// One huge page from the kernel's `hugetlb` pool (`MAP_HUGETLB`):
    /// reserved when mapped, and never split or swapped. Linux only.
    HugeTlb,
    /// A 2 MiB-aligned mapping advised with `MADV_HUGEPAGE`: the kernel backs
    /// it with a transparent huge page when those are not turned off
    /// (`/sys/kernel/mm/transparent_hugepage/enabled`) and it finds one free,
    /// else with base pages. Linux only.
    TransparentHuge,
}

/// Pages mapped from the operating system with `mmap`, and given back to it
/// with `munmap`.
///
/// [`new`](Self::new) hands out pages of the OS's own page size;
/// [`huge`](Self::huge) hands out 2 MiB pages, huge pages where the kernel
/// has them (see [`PageKind`]).
///
/// A page given back goes to a small *reserve* of mapped pages, so that a
/// slab whose last page keeps emptying and filling again does not make a
/// system call each time; past the reserve it is unmapped at once. Dropping
/// the source unmaps the reserve. Pages still out when the source is dropped
/// stay mapped, and are leaked: the source does not track them (their memory
/// is the user's, so it cannot link them), and whoever holds them gives them
/// back before dropping the source.
///
/// If the OS refuses to unmap a page (Linux does only when the unmap would
/// split a mapping past the process's limit of mappings, `vm.max_map_count`),
/// the page stays mapped and is forgotten.
///
/// # Time complexity
///
/// Every operation on pages is O(1): taking from and adding to the reserve
/// is a push or pop on a list linked through the reserved pages. Mapping a
/// page is a bounded number of system calls (one for a base page; for a
/// 2 MiB page at most two maps, two unmaps and one `madvise`), whose time is
/// the kernel's, and a freshly mapped page is backed lazily: its first touch
/// takes page faults. Code with deadlines keeps the pages it needs out, or
/// in the reserve, before its deadlines start.
///
/// ```
/// use rtarena::pages::{OsPages, PageKind, PageSource};
///
/// let mut pages = OsPages::new()?.with_reserve(1);
/// let page = pages.allocate_page()?;
/// assert_eq!(page.as_ptr() as usize % pages.page_size(), 0);
/// assert_eq!(pages.total_mapped(PageKind::Base), 1);
///
/// // SAFETY: the page came from this source and is given back once.
/// unsafe { pages.deallocate_page(page) };
/// assert_eq!((pages.pages_in_use(), pages.pages_mapped()), (0, 1));
///
/// // The reserved page is handed out again, without a system call.
/// let again = pages.allocate_page()?;
/// assert_eq!(again, page);
/// assert_eq!(pages.total_mapped(PageKind::Base), 1);
/// // SAFETY: as above.
/// unsafe { pages.deallocate_page(again) };
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct OsPages {
    page_size: usize,
    /// Pages are 2 MiB mappings (`huge`), not single OS pages (`new`).
    huge: bool,
    /// Pages given back and kept mapped, linked through their first word.
    reserve: Option<NonNull<u8>>,
    reserved: usize,
    max_reserve: usize,
    max_pages: usize,
    in_use: usize,
    /// Pages mapped since creation, by `PageKind` (as an index).
    mapped: [usize; 3],
}

// SAFETY: the only pointers `OsPages` holds are its reserved pages, mappings
// that it owns exclusively; a mapping belongs to the process, not to a
// thread, so the source may be used and dropped on another thread.
unsafe impl Send for OsPages {}

impl OsPages {
    /// Number of pages the reserve holds unless [`with_reserve`] says
    /// otherwise: enough that one page emptying and filling again in turn
    /// stays mapped.
    ///
    /// [`with_reserve`]: Self::with_reserve
    pub const DEFAULT_RESERVE: usize = 1;

    /// A source of pages of the OS's page size (`sysconf(_SC_PAGESIZE)`, 4
    /// KiB on most systems, 16 KiB on Apple silicon), of kind
    /// [`PageKind::Base`].
    ///
    /// Fails with [`PoolError::PageSize`] if the OS page size is not a power
    /// of two from [`MIN_PAGE`](super::MIN_PAGE) to [`MAX_PAGE`].
    ///
    /// # Time complexity
    ///
    /// O(1); it maps nothing.
    pub fn new() -> Result<Self, PoolError> {
        Self::with_page_size(rustix::param::page_size(), false)
    }

    /// A source of 2 MiB pages.
    ///
    /// On Linux each page is first mapped from the `hugetlb` pool
    /// ([`PageKind::HugeTlb`]); when that pool has no free page (it is empty
    /// unless the administrator configured it, `vm.nr_hugepages`), the page
    /// is a 2 MiB-aligned mapping advised for transparent huge pages
    /// ([`PageKind::TransparentHuge`]), or [`PageKind::Base`] if the kernel
    /// refuses the advice. On other unix systems every page is a
    /// 2 MiB-aligned run of base pages, [`PageKind::Base`].
    /// [`total_mapped`](Self::total_mapped) tells which kinds the source got.
    ///
    /// Fails with [`PoolError::PageSize`] under the same condition as
    /// [`new`](Self::new).
    ///
    /// # Time complexity
    ///
    /// O(1); it maps nothing.
    pub fn huge() -> Result<Self, PoolError> {
        // The OS page size must divide 2 MiB for the trimming in `map_huge`.
        check_page_size(rustix::param::page_size())?;
        Self::with_page_size(HUGE, true)
    }

    /// [`huge`](Self::huge) in `const` context, for a `static` heap such as
    /// a `#[global_allocator]`, which must exist before `main`. The check
    /// that the OS page size divides 2 MiB moves to the first page mapped,
    /// which fails with `Err` if it does not (no unix system has such a page
    /// size).
    ///
    /// # Time complexity
    ///
    /// O(1); it maps nothing.
    pub const fn huge_static() -> Self {
        Self::unchecked(HUGE, true)
    }

    fn with_page_size(page_size: usize, huge: bool) -> Result<Self, PoolError> {
        check_page_size(page_size)?;
        Ok(Self::unchecked(page_size, huge))
    }

    const fn unchecked(page_size: usize, huge: bool) -> Self {
        OsPages {
            page_size,
            huge,
            reserve: None,
            reserved: 0,
            max_reserve: Self::DEFAULT_RESERVE,
            max_pages: usize::MAX,
            in_use: 0,
            mapped: [0; 3],
        }
    }

    /// Keeps up to `pages` pages given back mapped for reuse (default
    /// [`DEFAULT_RESERVE`](Self::DEFAULT_RESERVE)); 0 unmaps every page as
    /// soon as it comes back. Reserved pages beyond the new bound are
    /// unmapped now.
    ///
    /// # Time complexity
    ///
    /// O(1), plus one unmap for each reserved page beyond `pages`.
    #[must_use]
    pub fn with_reserve(mut self, pages: usize) -> Self {
        self.max_reserve = pages;
        self.trim_reserve();
        self
    }

    /// Hands out at most `pages` pages at once: past that, `allocate_page`
    /// fails until a page comes back. Unbounded by default.
    ///
    /// # Time complexity
    ///
    /// O(1).
    #[must_use]
    pub fn with_max_pages(mut self, pages: usize) -> Self {
        self.max_pages = pages;
        self
    }

    /// Number of pages handed out and not given back.
    ///
    /// # Time complexity
    ///
    /// O(1).
    pub fn pages_in_use(&self) -> usize {
        self.in_use
    }

    /// Number of pages the source holds mapped: those in use and those in
    /// the reserve.
    ///
    /// # Time complexity
    ///
    /// O(1).
    pub fn pages_mapped(&self) -> usize {
        self.in_use + self.reserved
    }

    /// Number of pages of `kind` the OS has mapped for this source since it
    /// was created. A page is counted once, when it is mapped: reusing it
    /// from the reserve and unmapping it change nothing here.
    ///
    /// # Time complexity
    ///
    /// O(1).
    pub fn total_mapped(&self, kind: PageKind) -> usize {
        self.mapped[kind as usize]
    }

    /// Maps a new page and exposes its provenance for `page_containing`.
    fn map(&mut self) -> Result<NonNull<u8>, AllocError> {
        let (page, kind) = if self.huge {
            map_huge()?
        } else {
            (
                map_anonymous(self.page_size, MapFlags::empty())?,
                PageKind::Base,
            )
        };
        self.mapped[kind as usize] += 1;
        page.as_ptr().expose_provenance();
        Ok(page)
    }

    /// Takes the most recently reserved page off the reserve.
    fn pop_reserve(&mut self) -> Option<NonNull<u8>> {
        let page = self.reserve?;
        // SAFETY: a reserved page is mapped and owned by the source, and its
        // first word links the next one (`deallocate_page`).
        self.reserve = unsafe { page.cast::<Option<NonNull<u8>>>().read() };
        self.reserved -= 1;
        Some(page)
    }

    /// Unmaps reserved pages until at most `max_reserve` are left.
    fn trim_reserve(&mut self) {
        while self.reserved > self.max_reserve {
            let Some(page) = self.pop_reserve() else {
                return;
            };
            // SAFETY: the page was just taken off the reserve: nothing else
            // refers to it.
            unsafe { unmap(page, self.page_size) };
        }
    }
}

/// Maps `len` bytes of fresh zeroed read-write memory (private, anonymous,
/// `flags` added).
fn map_anonymous(len: usize, flags: MapFlags) -> Result<NonNull<u8>, AllocError> {
    // SAFETY: with a null hint and no `MAP_FIXED` the kernel picks an address
    // not mapped yet, so no memory in use is touched.
    let ptr = unsafe {
        mm::mmap_anonymous(
            ptr::null_mut(),
            len,
            ProtFlags::READ | ProtFlags::WRITE,
            MapFlags::PRIVATE | flags,
        )
    }
    .map_err(|_| AllocError)?;
    NonNull::new(ptr.cast()).ok_or(AllocError)
}

/// Unmaps `len` bytes from `ptr`, leaving them mapped if the OS refuses (see
/// [`OsPages`]).
///
/// # Safety
///
/// `ptr..ptr + len` is mapped memory of the source, aligned to the OS page,
/// that nothing refers to any more.
unsafe fn unmap(ptr: NonNull<u8>, len: usize) {
    // SAFETY: the caller's contract is `munmap`'s.
    let _ = unsafe { mm::munmap(ptr.as_ptr().cast(), len) };
}

/// Maps one 2 MiB page aligned to 2 MiB, and says how the OS backs it.
fn map_huge() -> Result<(NonNull<u8>, PageKind), AllocError> {
    // Checked here, not only in `huge`, for `huge_static`.
    if HUGE % rustix::param::page_size() != 0 {
        return Err(AllocError);
    }
    // Without `MAP_NORESERVE` the kernel reserves the huge page now, so an
    // exhausted pool fails here instead of faulting at first touch. The size
    // is explicit because the default huge page may be 1 GiB, which a 2 MiB
    // unmap could not split.
    #[cfg(target_os = "linux")]
    if let Ok(page) = map_anonymous(HUGE, MapFlags::HUGETLB | MapFlags::HUGE_2MB) {
        return Ok((page, PageKind::HugeTlb));
    }

    // Any 4 MiB range of whole OS pages holds a 2 MiB-aligned 2 MiB range;
    // unmap what lies before and after it. Both pieces are whole OS pages,
    // since the OS page divides 2 MiB.
    let region = map_anonymous(2 * HUGE, MapFlags::empty())?;
    let head = region.addr().get().wrapping_neg() % HUGE;
    // SAFETY: `head < HUGE`, so the page and everything after it up to
    // `HUGE - head` bytes past its end lie inside the 4 MiB region.
    let (page, tail) = unsafe { (region.add(head), region.add(head + HUGE)) };
    if head > 0 {
        // SAFETY: the head is part of the fresh region, before the page.
        unsafe { unmap(region, head) };
    }
    // SAFETY: the tail is the rest of the fresh region, after the page.
    unsafe { unmap(tail, HUGE - head) };

    #[cfg(target_os = "linux")]
    // SAFETY: the advice only asks the kernel to back this range, which is
    // ours, with a huge page; it changes no contents.
    let kind = match unsafe { mm::madvise(page.as_ptr().cast(), HUGE, mm::Advice::LinuxHugepage) } {
        Ok(()) => PageKind::TransparentHuge,
        // A kernel without transparent huge pages.
        Err(_) => PageKind::Base,
    };
    #[cfg(not(target_os = "linux"))]
    let kind = PageKind::Base;
    Ok((page, kind))
}

// SAFETY: every page is a fresh mapping of `page_size` bytes aligned to
// `page_size` (an OS page, which the kernel aligns, or a 2 MiB page that
// `map_huge` aligns), owned by the source until it is unmapped, which happens
// only to pages in the reserve or given back, never to a page out; the
// mapping stays where it is when the source moves. `page_containing` rebuilds
// a page's start from the provenance `map` exposed for it.
unsafe impl PageSource for OsPages {
    #[inline]
    fn page_size(&self) -> usize {
        self.page_size
    }

    /// Takes a page from the reserve, or else maps one; `Err` when
    /// [`with_max_pages`](OsPages::with_max_pages) pages are out, or when the
    /// OS has no memory to map.
    ///
    /// # Time complexity
    ///
    /// O(1); see [`OsPages`] for what mapping a page costs.
    fn allocate_page(&mut self) -> Result<NonNull<u8>, AllocError> {
        if self.in_use >= self.max_pages {
            return Err(AllocError);
        }
        let page = match self.pop_reserve() {
            Some(page) => page,
            None => self.map()?,
        };
        self.in_use += 1;
        Ok(page)
    }

    /// Keeps the page in the reserve if it has room, else unmaps it.
    ///
    /// # Safety
    ///
    /// As for [`PageSource::deallocate_page`].
    ///
    /// # Time complexity
    ///
    /// O(1): a push on the reserve, or one unmap.
    unsafe fn deallocate_page(&mut self, page: NonNull<u8>) {
        debug_assert!(
            self.in_use > 0 && page.addr().get() % self.page_size == 0,
            "OsPages::deallocate_page: {page:p} is not a page out of this source"
        );
        self.in_use -= 1;
        if self.reserved < self.max_reserve {
            // SAFETY: the caller gives back a mapped page of this source that
            // nothing uses any more; it is aligned and larger than a word.
            unsafe { page.cast::<Option<NonNull<u8>>>().write(self.reserve) };
            self.reserve = Some(page);
            self.reserved += 1;
        } else {
            // SAFETY: as above; the page is a whole mapping of this source.
            unsafe { unmap(page, self.page_size) };
        }
    }

    /// The page start below `addr`, with the provenance exposed when that
    /// page was mapped.
    ///
    /// It does not check that the source mapped that page (that would take a
    /// lookup): for an address outside the source's pages it returns a
    /// pointer all the same, which the trait allows, or `None` for an
    /// address in the first page of the address space.
    ///
    /// # Time complexity
    ///
    /// O(1).
    #[inline]
    fn page_containing(&self, addr: usize) -> Option<NonNull<u8>> {
        self.map().page_containing(addr)
    }
}

/// The page lookup of an [`OsPages`]: its page size (each page's provenance
/// was exposed when it was mapped).
#[derive(Clone, Copy, Debug)]
pub struct OsMap {
    page_size: usize,
}

// SAFETY: rebuilds the page start from the provenance exposed when the page
// was mapped, as `OsPages::page_containing` did.
unsafe impl PageMap for OsMap {
    #[inline]
    fn page_containing(&self, addr: usize) -> Option<NonNull<u8>> {
        NonNull::new(ptr::with_exposed_provenance_mut(
            addr & !(self.page_size - 1),
        ))
    }
}

// SAFETY: the page size never changes; the lookup needs nothing else.
unsafe impl SharedPageSource for OsPages {
    type Map = OsMap;

    #[inline(always)]
    fn map(&self) -> OsMap {
        OsMap {
            page_size: self.page_size,
        }
    }
}

impl Drop for OsPages {
    /// Unmaps the reserve; pages still out stay mapped (see [`OsPages`]).
    fn drop(&mut self) {
        self.max_reserve = 0;
        self.trim_reserve();
    }
}

impl core::fmt::Debug for OsPages {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("OsPages")
            .field("page_size", &self.page_size)
            .field("pages_in_use", &self.in_use)
            .field("pages_mapped", &self.pages_mapped())
            .field("max_reserve", &self.max_reserve)
            .field("max_pages", &self.max_pages)
            .finish_non_exhaustive()
    }
}
