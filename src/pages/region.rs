//! `RegionPages`: a raw region cut into pages on first use, for heaps built
//! in `const` context.

use core::mem::MaybeUninit;
use core::ptr::NonNull;

use super::{MAX_PAGE, MIN_PAGE, PageSource, PoolPages};
use crate::AllocError;

/// A region of memory given by raw pointer and cut into pages (as
/// [`PoolPages`]) the first time a page is asked for. A `const` context can
/// name a `static` buffer but not measure its alignment, so this is how a
/// `static` heap, such as a `#[global_allocator]`, gets its memory:
///
/// ```
/// # #[cfg(feature = "sync")] {
/// use core::cell::UnsafeCell;
/// use core::mem::MaybeUninit;
/// use core::ptr;
/// use rtarena::pages::RegionPages;
/// use rtarena::{GrowingTlsf, SyncArena};
///
/// struct Pool(UnsafeCell<[MaybeUninit<u8>; 1 << 20]>);
/// // SAFETY: only the heap below touches the pool, through its lock.
/// unsafe impl Sync for Pool {}
/// static POOL: Pool = Pool(UnsafeCell::new([MaybeUninit::uninit(); 1 << 20]));
///
/// // SAFETY: `POOL` lives forever and nothing but `HEAP` uses it.
/// static HEAP: SyncArena<GrowingTlsf<RegionPages>, spin::Mutex<()>> = SyncArena::new(
///     GrowingTlsf::new(unsafe { RegionPages::new(ptr::slice_from_raw_parts_mut(POOL.0.get().cast(), 1 << 20), 4096) }),
/// );
///
/// let block = HEAP.allocate(core::alloc::Layout::new::<[u8; 100_000]>()).unwrap();
/// // SAFETY: allocated just above with this layout.
/// unsafe { HEAP.deallocate(block.cast(), core::alloc::Layout::new::<[u8; 100_000]>()) };
/// # }
/// ```
///
/// Pages of one region merge (`pages_merge`), so a heap growing from it
/// serves requests larger than a page.
///
/// # Time complexity
///
/// As [`PoolPages`]; the first `allocate_page` also cuts the region (O(1)).
pub struct RegionPages {
    region: *mut [MaybeUninit<u8>],
    page_size: usize,
    pages: Option<PoolPages<'static>>,
}

// SAFETY: the region is the source's exclusively (`new`'s contract), like
// the slice a `PoolPages` owns; moving the source moves that ownership.
unsafe impl Send for RegionPages {}

impl RegionPages {
    /// The region at `region`, in pages of `page_size` bytes.
    ///
    /// # Panics
    ///
    /// If `page_size` is not a power of two from [`MIN_PAGE`] to
    /// [`MAX_PAGE`]: at compile time in a `static`'s initializer.
    ///
    /// # Safety
    ///
    /// `region` is non-null and valid for reads and writes for as long as
    /// the source and any page it hands out are used, and nothing else
    /// accesses it meanwhile.
    pub const unsafe fn new(region: *mut [MaybeUninit<u8>], page_size: usize) -> Self {
        assert!(
            page_size.is_power_of_two() && page_size >= MIN_PAGE && page_size <= MAX_PAGE,
            "a page is a power of two from MIN_PAGE to MAX_PAGE"
        );
        RegionPages {
            region,
            page_size,
            pages: None,
        }
    }

    /// The pool the region became, once a page was asked for.
    pub fn pages(&self) -> Option<&PoolPages<'static>> {
        self.pages.as_ref()
    }

    /// Cuts the region into pages; `Err` if it holds none.
    #[cold]
    fn cut(&mut self) -> Result<&mut PoolPages<'static>, AllocError> {
        if self.region.cast::<u8>().is_null() {
            return Err(AllocError);
        }
        // SAFETY: the region is non-null (checked), valid and ours alone for
        // as long as the source is used (`new`'s contract), which the
        // `'static` of the pool stands for: the pool never leaves this
        // source (`pages` lends it out read-only).
        let region = unsafe { &mut *self.region };
        let pages = PoolPages::new(region, self.page_size).map_err(|_| AllocError)?;
        Ok(self.pages.insert(pages))
    }
}

// SAFETY: every call forwards to the `PoolPages` the region became, which
// keeps the contract; before that no page is out, and `page_containing`
// answers `None`.
unsafe impl PageSource for RegionPages {
    fn page_size(&self) -> usize {
        self.page_size
    }

    fn allocate_page(&mut self) -> Result<NonNull<u8>, AllocError> {
        match &mut self.pages {
            Some(pages) => pages.allocate_page(),
            None => self.cut()?.allocate_page(),
        }
    }

    unsafe fn deallocate_page(&mut self, page: NonNull<u8>) {
        if let Some(pages) = &mut self.pages {
            // SAFETY: forwarded; only the pool hands out pages.
            unsafe { pages.deallocate_page(page) }
        }
    }

    #[inline]
    fn page_containing(&self, addr: usize) -> Option<NonNull<u8>> {
        self.pages.as_ref()?.page_containing(addr)
    }

    fn pages_left(&self) -> Option<usize> {
        self.pages.as_ref()?.pages_left()
    }

    fn pages_merge(&self) -> bool {
        true
    }
}
