//! `OsPages`: pages from the operating system, cut from large reservations
//! of address space.

use core::mem::{MaybeUninit, size_of};
use core::ptr::{self, NonNull};

use rustix::mm::{self, MapFlags, MprotectFlags, ProtFlags};

use super::pool::check_page_size;
use super::{MAX_PAGE, PageMap, PageSource, SharedPageSource};
use crate::{AllocError, PoolError};

/// Size of the pages of [`OsPages::huge`]: the huge page of x86-64 and of
/// AArch64 with 4 KiB base pages, and the largest page a source may hand out.
const HUGE: usize = MAX_PAGE;

/// Address space a range reserves for pages unless the OS refuses that much
/// or one run of pages needs more: far beyond any machine's memory on 64-bit
/// targets, so that the pools of a heap growing from the source (at most
/// `MAX_POOLS`, one per range) never run out first; a sixteenth of a 32-bit
/// address space on others.
#[cfg(target_pointer_width = "64")]
const RANGE: usize = 64 << 30;
#[cfg(not(target_pointer_width = "64"))]
const RANGE: usize = 256 << 20;

const WORD: usize = size_of::<usize>();

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

/// Pages from the operating system: cut in address order from large
/// reservations of address space, so that pages taken one after another lie
/// next to each other and merge ([`pages_merge`](PageSource::pages_merge)):
/// a heap that grows from them extends one pool, and a request of any size
/// the OS can back is served from consecutive pages.
///
/// [`new`](Self::new) hands out pages of the OS's own page size;
/// [`huge`](Self::huge) hands out 2 MiB pages, huge pages where the kernel
/// has them (see [`PageKind`]).
///
/// # Address space and memory
///
/// The source reserves a *range* of address space at a time (64 GiB on
/// 64-bit targets, 256 MiB on others; less if the OS refuses that much, and
/// more for a single run of pages larger than that), mapped with no access,
/// and makes pages readable and writable (`mprotect`) as it hands them out
/// for the first time. No access, rather than a read-write `MAP_NORESERVE`
/// mapping, so that the reservation costs nothing under any overcommit
/// policy (Linux ignores `MAP_NORESERVE` under strict overcommit, and would
/// charge the whole range), and a page the system cannot back fails its
/// `mprotect`, an `Err`, where the system accounts memory strictly. When a
/// range has no fresh page left for a request, the source reserves a new
/// one, whose pages form a pool of their own (a range's header and its list
/// of released pages lie before its pages, so pages of two ranges never
/// adjoin, even when the ranges do).
///
/// A page given back goes to a small *reserve* of pages kept as they are,
/// so that a slab whose last page keeps emptying and filling again does not
/// make a system call each time. Past the reserve, its memory goes back to
/// the OS (`MADV_DONTNEED` on Linux, `POSIX_MADV_DONTNEED` elsewhere;
/// not once the source has hugetlb pages, which would not be reserved
/// again) and its address is kept on a stack inside the range, to be
/// handed out again before any fresh page (a page of an older range gives
/// its memory back but is not reused). Dropping
/// the source unmaps every range if no page is out; otherwise it gives the
/// reserve's memory back and leaves the ranges mapped, so that pages still
/// out stay valid (the source does not track them).
///
/// The only limits are the address space and the cap that
/// [`with_max_pages`](Self::with_max_pages) sets.
///
/// # Time complexity
///
/// Every operation on pages is O(1), plus a bounded number of system calls
/// whose time is the kernel's: a page from the reserve or from the stack of
/// released pages takes none; a fresh page or run of pages takes one
/// `mprotect` (for 2 MiB pages, an `mmap` asking for hugetlb pages and an
/// `mremap` moving them into place, else the `mprotect` and one `madvise`), and one `mmap` more when it starts a new range;
/// giving a page back past the reserve takes one `madvise`, and one
/// `mprotect` for every page of a range's released-page stack it fills
/// (one in 512 with 8-byte words and 4 KiB OS pages). Memory is backed
/// lazily: the first touch of each OS page of a fresh or released page
/// takes a page fault, unless the source is [`populated`](Self::populated)
/// or [`locked`](Self::locked), which back every page before handing it
/// out. Code with deadlines takes the pages it needs before its deadlines
/// start (for a growing heap, with `GrowingTlsf::grow`) and keeps them out,
/// or in the reserve.
///
/// ```
/// use rtarena::pages::{OsPages, PageKind, PageSource};
///
/// let mut pages = OsPages::new()?.with_reserve(1);
/// let page = pages.allocate_page()?;
/// assert_eq!(page.as_ptr() as usize % pages.page_size(), 0);
/// assert_eq!(pages.total_mapped(PageKind::Base), 1);
///
/// // The next page follows it in memory, so the two may be used as one region.
/// let next = pages.allocate_page()?;
/// assert_eq!(next.as_ptr() as usize, page.as_ptr() as usize + pages.page_size());
///
/// // SAFETY: the pages came from this source and are given back once.
/// unsafe { pages.deallocate_page(next) };
/// assert_eq!((pages.pages_in_use(), pages.pages_mapped()), (1, 2));
///
/// // The reserved page is handed out again, without a system call.
/// let again = pages.allocate_page()?;
/// assert_eq!(again, next);
/// assert_eq!(pages.total_mapped(PageKind::Base), 2);
/// // SAFETY: as above.
/// unsafe {
///     pages.deallocate_page(again);
///     pages.deallocate_page(page);
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct OsPages {
    page_size: usize,
    /// Pages are 2 MiB (`huge`), not single OS pages (`new`).
    huge: bool,
    /// Fresh 2 MiB pages are first asked of the hugetlb pool: until a move
    /// of hugetlb pages into a range fails (see `map_hugetlb`).
    hugetlb: bool,
    /// The range fresh pages come from; older ranges are linked from its
    /// header.
    range: Option<Range>,
    /// Pages given back and kept as they were, linked through their first
    /// word.
    reserve: Option<NonNull<u8>>,
    reserved: usize,
    max_reserve: usize,
    max_pages: usize,
    in_use: usize,
    /// Pages made accessible since creation, by `PageKind` (as an index).
    mapped: [usize; 3],
    /// What the source does to every page before it hands it out.
    prefault: Prefault,
}

/// What an [`OsPages`] does to a page before handing it out, so that the
/// code using it takes no page fault.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Prefault {
    /// Nothing: the OS backs each OS page at its first touch.
    Lazy,
    /// Touches every OS page of it (a read and a write of one byte, which
    /// keeps its contents).
    Populate,
    /// Locks it in memory (`mlock`), which also backs it.
    Lock,
}

// SAFETY: the only pointers `OsPages` holds are into its ranges, mappings
// that it owns exclusively; a mapping belongs to the process, not to a
// thread, so the source may be used and dropped on another thread.
unsafe impl Send for OsPages {}

impl OsPages {
    /// Number of pages the reserve holds unless [`with_reserve`] says
    /// otherwise: enough that one page emptying and filling again in turn
    /// keeps its memory.
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

    /// A source of 2 MiB pages, from 2 MiB-aligned ranges.
    ///
    /// On Linux each fresh page (or run of pages) is first mapped from the
    /// `hugetlb` pool ([`PageKind::HugeTlb`]) in its place in the range;
    /// when that pool has too few free pages (it is empty unless the
    /// administrator configured it, `vm.nr_hugepages`), the pages are advised
    /// for transparent huge pages ([`PageKind::TransparentHuge`]), or are
    /// [`PageKind::Base`] if the kernel refuses the advice. On other unix
    /// systems every page is a 2 MiB-aligned run of base pages,
    /// [`PageKind::Base`]. [`total_mapped`](Self::total_mapped) tells which
    /// kinds the source got.
    ///
    /// Fails with [`PoolError::PageSize`] under the same condition as
    /// [`new`](Self::new).
    ///
    /// # Time complexity
    ///
    /// O(1); it maps nothing.
    pub fn huge() -> Result<Self, PoolError> {
        // The OS page size must divide 2 MiB for a range's pages to align.
        check_page_size(rustix::param::page_size())?;
        Self::with_page_size(HUGE, true)
    }

    /// [`huge`](Self::huge) in `const` context, for a `static` heap such as
    /// a `#[global_allocator]`, which must exist before `main`. The check
    /// that the OS page size divides 2 MiB moves to the first range
    /// reserved, which fails with `Err` if it does not (no unix system has
    /// such a page size).
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
            hugetlb: huge,
            range: None,
            reserve: None,
            reserved: 0,
            max_reserve: Self::DEFAULT_RESERVE,
            max_pages: usize::MAX,
            in_use: 0,
            mapped: [0; 3],
            prefault: Prefault::Lazy,
        }
    }

    /// Keeps up to `pages` pages given back as they are, for reuse (default
    /// [`DEFAULT_RESERVE`](Self::DEFAULT_RESERVE)); 0 gives the memory of
    /// every page back to the OS as soon as the page comes back. Reserved
    /// pages beyond the new bound give their memory back now.
    ///
    /// # Time complexity
    ///
    /// O(1), plus one `madvise` for each reserved page beyond `pages`.
    #[must_use]
    pub fn with_reserve(mut self, pages: usize) -> Self {
        self.max_reserve = pages;
        self.trim_reserve();
        self
    }

    /// Hands out at most `pages` pages at once: past that, `allocate_page`
    /// fails until a page comes back. Unbounded by default: then only the
    /// address space and the memory the OS can back limit the source.
    ///
    /// # Time complexity
    ///
    /// O(1).
    #[must_use]
    pub fn with_max_pages(mut self, pages: usize) -> Self {
        self.max_pages = pages;
        self
    }

    /// Backs every page with memory before handing it out: the source
    /// touches each OS page of it, so that the code that uses the page
    /// takes no page fault. The time moves to the page take (for a
    /// growing heap, the allocation that grows it; with
    /// `GrowingTlsf::grow` or `GrowingHeap::grow`, start-up),
    /// about one page fault per OS page: a few hundred microseconds per
    /// MiB. The kernel may still reclaim the memory under pressure (swap);
    /// [`locked`](Self::locked) rules that out too.
    ///
    /// # Time complexity
    ///
    /// O(1); each page take then costs O(page size / OS page size) more.
    #[must_use]
    pub fn populated(mut self) -> Self {
        self.prefault = Prefault::Populate;
        self
    }

    /// Locks every page in memory (`mlock`) before handing it out: backed,
    /// and never swapped out, so that no access to it faults. A page take
    /// fails (`Err`, nothing taken) when the OS refuses the lock: the
    /// process may lock only `RLIMIT_MEMLOCK` bytes (`ulimit -l`; often 8
    /// MiB for a user, unlimited for root or with `CAP_IPC_LOCK`). Pages
    /// given back stay locked and keep their memory, and
    /// [`discard`](PageSource::discard) gives nothing back. Costs as
    /// [`populated`](Self::populated), plus the system call.
    ///
    /// # Time complexity
    ///
    /// O(1); each page take then costs one `mlock` more.
    #[must_use]
    pub fn locked(mut self) -> Self {
        self.prefault = Prefault::Lock;
        self
    }

    /// Backs the `len` bytes at `run`, pages just taken, as `prefault`
    /// says.
    ///
    /// # Safety
    ///
    /// The bytes are accessible pages of this source, out, that the
    /// caller has not handed on yet.
    unsafe fn back(&self, run: NonNull<u8>, len: usize) -> Result<(), AllocError> {
        match self.prefault {
            Prefault::Lazy => Ok(()),
            Prefault::Populate => {
                for offset in (0..len).step_by(rustix::param::page_size()) {
                    // SAFETY: inside the run, accessible and ours (caller);
                    // writing back the byte read keeps the contents, which
                    // may be uninitialised (a reserved page's).
                    unsafe {
                        let byte = run.add(offset).cast::<MaybeUninit<u8>>().as_ptr();
                        byte.write_volatile(byte.read_volatile());
                    }
                }
                Ok(())
            }
            Prefault::Lock => {
                // SAFETY: locking memory of ours changes no contents.
                unsafe { mm::mlock(run.as_ptr().cast(), len) }.map_err(|_| AllocError)
            }
        }
    }

    /// Number of pages handed out and not given back.
    ///
    /// # Time complexity
    ///
    /// O(1).
    pub fn pages_in_use(&self) -> usize {
        self.in_use
    }

    /// Number of pages the source holds with their memory: those in use and
    /// those in the reserve.
    ///
    /// # Time complexity
    ///
    /// O(1).
    pub fn pages_mapped(&self) -> usize {
        self.in_use + self.reserved
    }

    /// Number of pages of `kind` the OS has made accessible for this source
    /// since it was created. A page is counted once, when it is first handed
    /// out: reusing it from the reserve or from its range's released pages,
    /// and giving its memory back, change nothing here.
    ///
    /// # Time complexity
    ///
    /// O(1).
    pub fn total_mapped(&self, kind: PageKind) -> usize {
        self.mapped[kind as usize]
    }

    /// A page handed out before, from the reserve, else from the current
    /// range's released pages.
    fn reuse(&mut self) -> Option<NonNull<u8>> {
        self.pop_reserve()
            .or_else(|| self.range.as_mut()?.pop_released())
    }

    /// Makes the next `count` fresh pages of the current range accessible
    /// and returns the first, reserving a new range first if this one has
    /// too few left.
    ///
    /// A new range becomes the current one only once its run is accessible:
    /// on `Err` the source is as it was.
    fn take_fresh(&mut self, count: usize) -> Result<NonNull<u8>, AllocError> {
        let len = count.checked_mul(self.page_size).ok_or(AllocError)?;
        let (mut range, new) = match self.range {
            Some(range) if range.fresh_left() >= len => (range, false),
            _ => (
                Range::reserve(self.page_size, len, self.range.as_ref())?,
                true,
            ),
        };
        let run = range.next_fresh();
        // SAFETY: the run is the next `len` fresh bytes of the range, which
        // nothing uses.
        match unsafe { commit(run, len, self.huge, &mut self.hugetlb) } {
            Ok(kind) => {
                range.fresh += len;
                self.range = Some(range);
                self.mapped[kind as usize] += count;
                Ok(run)
            }
            Err(CommitError::Refused) => {
                if new {
                    // SAFETY: the new range is ours, nothing uses it, and no
                    // hole was made in it.
                    unsafe { unmap(range.map, range.map_len) };
                }
                Err(AllocError)
            }
            Err(CommitError::Lost) => {
                // The run's addresses may be another mapping's now: the
                // range hands out no fresh page again and is never
                // unmapped (a new one is simply forgotten). `commit` turned
                // hugetlb pages off, so the next try does not get here.
                if !new {
                    range.end = range.fresh;
                    range.keep_mapped = true;
                    self.range = Some(range);
                }
                self.take_fresh(count)
            }
        }
    }

    /// Takes the most recently reserved page off the reserve.
    fn pop_reserve(&mut self) -> Option<NonNull<u8>> {
        let page = self.reserve?;
        // SAFETY: a reserved page is accessible and owned by the source, and
        // its first word links the next one (`deallocate_page`).
        self.reserve = unsafe { page.cast::<Option<NonNull<u8>>>().read() };
        self.reserved -= 1;
        Some(page)
    }

    /// Gives the memory of a page that nothing uses back to the OS, and
    /// keeps its address for reuse if it belongs to the current range.
    ///
    /// # Safety
    ///
    /// `page` is a page of this source, not out, in no list, that nothing
    /// refers to.
    unsafe fn release(&mut self, page: NonNull<u8>) {
        // SAFETY: forwarded.
        unsafe { self.release_run(page, 1) };
    }

    /// Gives the memory of the `count` pages from `first` on, which nothing
    /// uses, back to the OS in one call, and keeps the addresses of those
    /// of the current range for reuse, the first page to be reused first.
    ///
    /// # Safety
    ///
    /// The pages are pages of this source, not out, in no list, that
    /// nothing refers to; `first` has provenance over them.
    unsafe fn release_run(&mut self, first: NonNull<u8>, count: usize) {
        // A hugetlb page whose memory went back would not be reserved again,
        // and could fault for want of one when next touched; the source
        // does not know which pages are hugetlb ones, so once it has any,
        // every page keeps its memory.
        if self.mapped[PageKind::HugeTlb as usize] == 0 {
            // SAFETY: the caller's contract.
            unsafe { decommit(first, count * self.page_size) };
        }
        if let Some(range) = self.range.as_mut() {
            for index in (0..count).rev() {
                // SAFETY: inside the run (caller).
                let page = unsafe { first.add(index * self.page_size) };
                if range.holds(page) {
                    // A page whose address cannot be kept is only forgotten.
                    let _ = range.push_released(page);
                }
            }
        }
    }

    /// Releases reserved pages until at most `max_reserve` are left.
    fn trim_reserve(&mut self) {
        while self.reserved > self.max_reserve {
            let Some(page) = self.pop_reserve() else {
                return;
            };
            // SAFETY: the page was just taken off the reserve: nothing else
            // refers to it.
            unsafe { self.release(page) };
        }
    }
}

/// The header of a range, its first bytes: where the previous range's
/// reservation lies, so that dropping the source can unmap them all.
#[derive(Clone, Copy)]
struct Link {
    map: Option<NonNull<u8>>,
    len: usize,
    /// The previous range must not be unmapped (see `Range::keep_mapped`).
    keep_mapped: bool,
}

/// One reservation of address space, cut into pages in address order:
/// [`Link`], then a stack of released pages (one word per page of the
/// range, as the page's offset), then, aligned to the page size, the pages.
#[derive(Clone, Copy)]
struct Range {
    /// The whole reservation, as mapped; its provenance covers every page.
    map: NonNull<u8>,
    map_len: usize,
    /// Offset of the first page from `map`.
    pages: usize,
    /// Offset past the last page.
    end: usize,
    /// Offset of the first page never handed out.
    fresh: usize,
    /// How many pages the stack of released pages holds.
    released: usize,
    /// Bytes from `map` that are accessible: the header and as much of the
    /// stack as has been used.
    meta_len: usize,
    /// Part of the range may be another mapping's (a failed move of
    /// hugetlb pages, see `map_hugetlb`), so unmapping the range could
    /// unmap it: the range stays mapped.
    keep_mapped: bool,
}

impl Range {
    /// Reserves a range for at least `min_len` bytes of pages of
    /// `page_size` (a multiple of the page size), by default [`RANGE`],
    /// halving that while the OS refuses; `previous` is linked from its
    /// header.
    fn reserve(
        page_size: usize,
        min_len: usize,
        previous: Option<&Range>,
    ) -> Result<Range, AllocError> {
        let os_page = rustix::param::page_size();
        // Checked here, not only in `OsPages::huge`, for `huge_static`.
        if page_size % os_page != 0 {
            return Err(AllocError);
        }
        let link = Link {
            map: previous.map(|range| range.map),
            len: previous.map_or(0, |range| range.map_len),
            keep_mapped: previous.is_some_and(|range| range.keep_mapped),
        };
        let mut len = RANGE.max(min_len);
        loop {
            match Self::reserve_exact(page_size, os_page, len, link) {
                Err(AllocError) if len / 2 >= min_len.max(page_size) => len /= 2,
                result => return result,
            }
        }
    }

    /// Reserves a range for exactly `len` bytes of pages.
    fn reserve_exact(
        page_size: usize,
        os_page: usize,
        len: usize,
        link: Link,
    ) -> Result<Range, AllocError> {
        let stack = (len / page_size)
            .checked_mul(WORD)
            .and_then(|bytes| bytes.checked_add(size_of::<Link>()))
            .and_then(|bytes| bytes.checked_next_multiple_of(os_page))
            .ok_or(AllocError)?;
        // Room to align the pages: the kernel aligns a mapping to the OS page.
        let map_len = (stack + page_size - os_page)
            .checked_add(len)
            .ok_or(AllocError)?;
        let map = map_anonymous(map_len)?;
        // SAFETY: the first OS page is part of the fresh reservation.
        if unsafe { make_accessible(map, os_page) }.is_err() {
            // SAFETY: the reservation is ours, and nothing uses it.
            unsafe { unmap(map, map_len) };
            return Err(AllocError);
        }
        // SAFETY: the header's bytes were just made accessible; the
        // reservation is aligned to the OS page, more than a word.
        unsafe { map.cast::<Link>().write(link) };
        map.as_ptr().expose_provenance();
        let pages = (map.addr().get() + stack).next_multiple_of(page_size) - map.addr().get();
        Ok(Range {
            map,
            map_len,
            pages,
            end: pages + len,
            fresh: pages,
            released: 0,
            meta_len: os_page,
            keep_mapped: false,
        })
    }

    fn fresh_left(&self) -> usize {
        self.end - self.fresh
    }

    /// The first fresh page.
    fn next_fresh(&self) -> NonNull<u8> {
        // SAFETY: `fresh <= end <= map_len`: inside the reservation or at its
        // end.
        unsafe { self.map.add(self.fresh) }
    }

    /// Whether `page` is a page this range has handed out.
    fn holds(&self, page: NonNull<u8>) -> bool {
        (self.pages..self.fresh).contains(&page.addr().get().wrapping_sub(self.map.addr().get()))
    }

    /// The place of entry `index` of the stack of released pages.
    fn stack_entry(&self, index: usize) -> NonNull<usize> {
        // SAFETY: the stack has room for one entry per page of the range
        // (`reserve_exact`), before the pages.
        unsafe { self.map.add(size_of::<Link>() + index * WORD).cast() }
    }

    /// Puts a page this range handed out on its stack of released pages;
    /// `Err` if the next part of the stack cannot be made accessible.
    fn push_released(&mut self, page: NonNull<u8>) -> Result<(), AllocError> {
        let entry = self.stack_entry(self.released);
        let needed = entry.addr().get() + WORD - self.map.addr().get();
        if needed > self.meta_len {
            let os_page = rustix::param::page_size();
            // SAFETY: the stack's bytes lie before the pages, inside the
            // reservation, and nothing uses them; `meta_len` is a multiple
            // of the OS page and below `needed`, which the stack holds.
            unsafe { make_accessible(self.map.add(self.meta_len), os_page) }?;
            self.meta_len += os_page;
        }
        // SAFETY: the entry is accessible (above), aligned, and the stack's.
        unsafe { entry.write(page.addr().get() - self.map.addr().get()) };
        self.released += 1;
        Ok(())
    }

    /// Takes the most recently released page off the stack.
    fn pop_released(&mut self) -> Option<NonNull<u8>> {
        self.released = self.released.checked_sub(1)?;
        // SAFETY: the entry was written by `push_released` and holds the
        // offset of a page of this range.
        Some(unsafe { self.map.add(self.stack_entry(self.released).read()) })
    }
}

/// Unmaps the range whose reservation is `len` bytes at `map`, and every
/// older range linked from it.
///
/// # Safety
///
/// Nothing uses any of these ranges any more.
/// Ranges marked `keep_mapped` stay mapped.
///
/// # Safety
///
/// Nothing uses any of these ranges any more.
unsafe fn unmap_ranges(mut map: NonNull<u8>, mut len: usize, mut keep_mapped: bool) {
    loop {
        // SAFETY: a range's header is accessible from its reservation on.
        let link = unsafe { map.cast::<Link>().read() };
        if !keep_mapped {
            // SAFETY: the caller's contract.
            unsafe { unmap(map, len) };
        }
        match link.map {
            Some(previous) => (map, len, keep_mapped) = (previous, link.len, link.keep_mapped),
            None => return,
        }
    }
}

/// Reserves `len` bytes of address space, with no access (private,
/// anonymous: nothing is charged for it until it is made writable).
fn map_anonymous(len: usize) -> Result<NonNull<u8>, AllocError> {
    // SAFETY: with a null hint and no `MAP_FIXED` the kernel picks an address
    // not mapped yet, so no memory in use is touched.
    let ptr =
        unsafe { mm::mmap_anonymous(ptr::null_mut(), len, ProtFlags::empty(), MapFlags::PRIVATE) }
            .map_err(|_| AllocError)?;
    NonNull::new(ptr.cast()).ok_or(AllocError)
}

/// Makes `len` bytes at `ptr` readable and writable.
///
/// # Safety
///
/// The bytes are part of one of the source's ranges, whole OS pages, and
/// nothing uses them.
unsafe fn make_accessible(ptr: NonNull<u8>, len: usize) -> Result<(), AllocError> {
    // SAFETY: the caller's contract: changing the protection of memory of
    // ours that nothing uses affects nothing else.
    unsafe {
        mm::mprotect(
            ptr.as_ptr().cast(),
            len,
            MprotectFlags::READ | MprotectFlags::WRITE,
        )
    }
    .map_err(|_| AllocError)
}

/// Makes a run of `len` bytes of fresh pages at `run` accessible, and says
/// how the OS backs them.
///
/// # Safety
///
/// As for [`make_accessible`]; `run` and `len` are multiples of the page
/// size.
/// Asks for hugetlb pages first while `hugetlb` says so, and turns it off
/// when moving them into the run failed.
unsafe fn commit(
    run: NonNull<u8>,
    len: usize,
    huge: bool,
    hugetlb: &mut bool,
) -> Result<PageKind, CommitError> {
    #[cfg(target_os = "linux")]
    if huge && *hugetlb {
        // SAFETY: forwarded.
        match unsafe { map_hugetlb(run, len) } {
            HugeTlb::Moved => return Ok(PageKind::HugeTlb),
            HugeTlb::Unavailable => {}
            HugeTlb::Lost => {
                *hugetlb = false;
                return Err(CommitError::Lost);
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = hugetlb;
    // SAFETY: forwarded.
    unsafe { make_accessible(run, len) }.map_err(|AllocError| CommitError::Refused)?;
    if !huge {
        return Ok(PageKind::Base);
    }
    #[cfg(target_os = "linux")]
    // SAFETY: the advice only asks the kernel to back this range, which is
    // ours, with huge pages; it changes no contents.
    if unsafe { mm::madvise(run.as_ptr().cast(), len, mm::Advice::LinuxHugepage) }.is_ok() {
        return Ok(PageKind::TransparentHuge);
    }
    // A kernel without transparent huge pages, or not Linux.
    Ok(PageKind::Base)
}

/// Why `commit` failed.
enum CommitError {
    /// The OS refused to make the run accessible; nothing changed.
    Refused,
    /// A move of hugetlb pages into the run failed: the run's addresses
    /// may now belong to another mapping, and must never be touched.
    Lost,
}

/// What `map_hugetlb` did.
#[cfg(target_os = "linux")]
enum HugeTlb {
    /// The run holds hugetlb pages now.
    Moved,
    /// The hugetlb pool has too few free pages; the run is untouched.
    Unavailable,
    /// Moving them into the run failed (see `CommitError::Lost`).
    Lost,
}

/// Puts `len` bytes of 2 MiB hugetlb pages in place of the fresh run at
/// `run`.
///
/// The pages are mapped elsewhere first, so that a pool with too few pages
/// fails before the run is touched (a failed `MAP_FIXED` hugetlb mapping
/// over the run would leave a hole in the range, where another mapping
/// could land); without `MAP_NORESERVE` the kernel reserves them then, so a
/// page never faults for want of one later. The size is explicit because
/// the default huge page may be 1 GiB. Then `mremap` moves them over the
/// run: they are reached through the range's pointer, since the addresses,
/// and Rust's allocation over them, stay the source's; only what backs them
/// changes.
///
/// # Safety
///
/// As for [`commit`], and `run` is aligned to 2 MiB.
#[cfg(target_os = "linux")]
unsafe fn map_hugetlb(run: NonNull<u8>, len: usize) -> HugeTlb {
    // SAFETY: with a null hint and no `MAP_FIXED` the kernel picks an
    // address not mapped yet.
    let Ok(pages) = (unsafe {
        mm::mmap_anonymous(
            ptr::null_mut(),
            len,
            ProtFlags::READ | ProtFlags::WRITE,
            MapFlags::PRIVATE | MapFlags::HUGETLB | MapFlags::HUGE_2MB,
        )
    }) else {
        return HugeTlb::Unavailable;
    };
    // SAFETY: both are ours and unused: the fresh hugetlb mapping and the
    // run (the caller's contract); both are aligned to 2 MiB.
    let moved = unsafe {
        mm::mremap_fixed(
            pages,
            len,
            len,
            mm::MremapFlags::MAYMOVE,
            run.as_ptr().cast(),
        )
    };
    if moved.is_ok() {
        return HugeTlb::Moved;
    }
    // SAFETY: the hugetlb mapping did not move, and nothing uses it.
    let _ = unsafe { mm::munmap(pages, len) };
    // SAFETY: as above.
    unsafe { restore_reservation(run, len) };
    HugeTlb::Lost
}

/// Maps `len` bytes at `run` back into the range, with no access, if they
/// are no longer mapped: a kernel that cannot move hugetlb mappings (Linux
/// before 5.16) may unmap the target of `mremap` before it fails. A mapping
/// already there is left alone (`MAP_FIXED_NOREPLACE`): it is the range's,
/// or another thread's that took the hole meanwhile. The source cannot tell
/// which, so it never touches the run again (`CommitError::Lost`).
///
/// # Safety
///
/// As for [`commit`].
#[cfg(target_os = "linux")]
unsafe fn restore_reservation(run: NonNull<u8>, len: usize) {
    // SAFETY: `MAP_FIXED_NOREPLACE` maps only where nothing is mapped.
    let restored = unsafe {
        mm::mmap_anonymous(
            run.as_ptr().cast(),
            len,
            ProtFlags::empty(),
            MapFlags::PRIVATE | MapFlags::FIXED_NOREPLACE,
        )
    };
    if let Ok(elsewhere) = restored {
        if elsewhere != run.as_ptr().cast() {
            // A kernel before 4.17 took the flag for a hint and mapped
            // elsewhere: the run stays a hole, and its `mprotect` fails.
            // SAFETY: the mapping was just made, and nothing uses it.
            let _ = unsafe { mm::munmap(elsewhere, len) };
        }
    }
}

/// Gives the memory of `len` bytes at `ptr` back to the OS; they stay
/// accessible (on Linux they read as zeros when next touched).
///
/// # Safety
///
/// The bytes are accessible pages of the source that nothing uses.
unsafe fn decommit(ptr: NonNull<u8>, len: usize) -> bool {
    #[cfg(target_os = "linux")]
    let advice = mm::Advice::LinuxDontNeed;
    #[cfg(not(target_os = "linux"))]
    let advice = mm::Advice::DontNeed;
    // If the kernel refuses (say, the pages are locked), the memory stays:
    // the pages are still reused.
    // SAFETY: the caller's contract: nothing needs the contents.
    unsafe { mm::madvise(ptr.as_ptr().cast(), len, advice) }.is_ok()
}

/// Unmaps `len` bytes from `ptr`, leaving them mapped if the OS refuses.
///
/// # Safety
///
/// `ptr..ptr + len` is a reservation of the source that nothing uses any
/// more.
unsafe fn unmap(ptr: NonNull<u8>, len: usize) {
    // SAFETY: the caller's contract is `munmap`'s.
    let _ = unsafe { mm::munmap(ptr.as_ptr().cast(), len) };
}

// SAFETY: pages are cut from a range at `page_size` multiples past a
// `page_size`-aligned start, each handed out once until it comes back, and
// made accessible before it is handed out; ranges stay mapped while a page
// is out (`Drop` unmaps them only when none is), and do not move with the
// source. A run is fresh pages in address order. Pages merge: pages that
// adjoin come from one range, one mapping (a range's header lies before its
// pages, so two ranges' pages never adjoin), whose pointer is valid for all
// of them; no page has a reserved tail. `page_containing` rebuilds a page's
// start from the provenance `Range::reserve` exposed for its whole range.
unsafe impl PageSource for OsPages {
    #[inline]
    fn page_size(&self) -> usize {
        self.page_size
    }

    /// Takes a page from the reserve, else one released before, else a
    /// fresh one; `Err` when [`with_max_pages`](OsPages::with_max_pages)
    /// pages are out, or when the OS cannot back a page.
    ///
    /// # Time complexity
    ///
    /// O(1); see [`OsPages`] for the system calls.
    fn allocate_page(&mut self) -> Result<NonNull<u8>, AllocError> {
        self.allocate_pages(1)
    }

    /// Takes `count` fresh pages in address order (one page may also come
    /// from the reserve or the released pages, as for `allocate_page`).
    ///
    /// # Time complexity
    ///
    /// O(1): one `mprotect` for the whole run (see [`OsPages`]).
    fn allocate_pages(&mut self, count: usize) -> Result<NonNull<u8>, AllocError> {
        if count == 0 || self.max_pages.saturating_sub(self.in_use) < count {
            return Err(AllocError);
        }
        let reused = if count == 1 { self.reuse() } else { None };
        let page = match reused {
            Some(page) => page,
            None => self.take_fresh(count)?,
        };
        self.in_use += count;
        // `count * page_size` did not overflow in `take_fresh`.
        let len = count * self.page_size;
        // SAFETY: the run was just taken; nothing has it yet.
        if unsafe { self.back(page, len) }.is_err() {
            for offset in (0..len).step_by(self.page_size).rev() {
                // SAFETY: as above; the run's pointer covers its pages.
                unsafe { self.deallocate_page(page.add(offset)) };
            }
            return Err(AllocError);
        }
        Ok(page)
    }

    /// Keeps the page in the reserve if it has room, else gives its memory
    /// back to the OS.
    ///
    /// # Safety
    ///
    /// As for [`PageSource::deallocate_page`].
    ///
    /// # Time complexity
    ///
    /// O(1): a push on the reserve, or a `madvise` (see [`OsPages`]).
    unsafe fn deallocate_page(&mut self, page: NonNull<u8>) {
        debug_assert!(
            self.in_use > 0 && page.addr().get() % self.page_size == 0,
            "OsPages::deallocate_page: {page:p} is not a page out of this source"
        );
        self.in_use -= 1;
        if self.reserved < self.max_reserve {
            // SAFETY: the caller gives back an accessible page of this
            // source that nothing uses any more; it is aligned and larger
            // than a word.
            unsafe { page.cast::<Option<NonNull<u8>>>().write(self.reserve) };
            self.reserve = Some(page);
            self.reserved += 1;
        } else {
            // SAFETY: as above.
            unsafe { self.release(page) };
        }
    }

    /// The last pages of the run fill the reserve; the memory of the others
    /// goes back to the OS in one `madvise`, and their addresses onto their
    /// range's stack of released pages.
    ///
    /// # Safety
    ///
    /// As for [`PageSource::deallocate_pages`].
    ///
    /// # Time complexity
    ///
    /// O(`count`), with one `madvise` (and one `mprotect` for every page of
    /// the released-page stack it fills).
    unsafe fn deallocate_pages(&mut self, first: NonNull<u8>, count: usize) {
        debug_assert!(
            count <= self.in_use,
            "OsPages::deallocate_pages: more pages than are out"
        );
        let reserved = self.max_reserve.saturating_sub(self.reserved).min(count);
        let released = count - reserved;
        for index in (released..count).rev() {
            // SAFETY: a page of the run (caller), given back once; the
            // reserve has room, so it goes there.
            unsafe { self.deallocate_page(first.add(index * self.page_size)) };
        }
        if released != 0 {
            self.in_use -= released;
            // SAFETY: the first `released` pages of the run, out of the
            // source's hands now and unused (caller).
            unsafe { self.release_run(first, released) };
        }
    }

    /// The page start below `addr`, with the provenance exposed when that
    /// page's range was reserved.
    ///
    /// It does not check that the source handed out that page (that would
    /// take a lookup): for an address outside the source's pages it returns
    /// a pointer all the same, which the trait allows, or `None` for an
    /// address in the first page of the address space.
    ///
    /// # Time complexity
    ///
    /// O(1).
    #[inline]
    fn page_containing(&self, addr: usize) -> Option<NonNull<u8>> {
        self.map().page_containing(addr)
    }

    /// The pages [`with_max_pages`](OsPages::with_max_pages) still allows,
    /// if it set a cap.
    fn pages_left(&self) -> Option<usize> {
        (self.max_pages != usize::MAX).then(|| self.max_pages.saturating_sub(self.in_use))
    }

    /// `true`: pages taken one after another from one range adjoin and may
    /// be used as one region.
    fn pages_merge(&self) -> bool {
        true
    }

    /// Gives the memory of the pages back to the OS (`MADV_DONTNEED` on
    /// Linux, `POSIX_MADV_DONTNEED` elsewhere): on Linux they read as
    /// zeros when next touched, which backs them anew (a page fault per OS
    /// page). Nothing goes back from a [`locked`](OsPages::locked) source,
    /// nor once the source has hugetlb pages (see `deallocate_page`).
    ///
    /// # Safety
    ///
    /// As for [`PageSource::discard`].
    ///
    /// # Time complexity
    ///
    /// O(1): one `madvise`.
    unsafe fn discard(&mut self, start: NonNull<u8>, len: usize) -> usize {
        if self.prefault == Prefault::Lock || self.mapped[PageKind::HugeTlb as usize] != 0 {
            return 0;
        }
        // SAFETY: the caller's contract: out pages of ours whose contents
        // nothing needs.
        if unsafe { decommit(start, len) } {
            len
        } else {
            0
        }
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
    /// Unmaps every range if no page is out; otherwise gives the reserve's
    /// memory back and leaves the ranges mapped (see [`OsPages`]).
    fn drop(&mut self) {
        match self.range {
            Some(range) if self.in_use == 0 => {
                // SAFETY: no page is out, and the reserve and the released
                // pages are the source's alone, which is going away.
                unsafe { unmap_ranges(range.map, range.map_len, range.keep_mapped) }
            }
            _ => {
                self.max_reserve = 0;
                self.trim_reserve();
            }
        }
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
