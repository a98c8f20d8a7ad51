//! The slab core: size classes over pages from a [`PageSource`].
//!
//! Each class keeps its pages in two doubly linked lists: pages with a free
//! slot (`partial`) and full pages. A page moves between them when it fills
//! or when a slot of a full page is freed, so a freed slot is reachable at
//! once and no allocation ever scans. The source finds an object's page
//! from its address (rounded down to the page size, for pages aligned to
//! it), so an object needs no header.
//!
//! The first partial page is the class's active page: allocations take from
//! it, and the class itself holds its free slots and counts (`active.rs`),
//! so allocating, and freeing an object of the active page, touch the class
//! and the slot only. Frees into other pages go through their headers.
//!
//! A page that empties goes back to the source, except an active page: a
//! class keeps that one (its spare), or an alloc/free pair at a page
//! boundary would take and give back a page every time; but at most two
//! classes keep one at a time (`spares.rs`), so that the slab
//! holds at most that many empty pages and finds them without a scan.

mod active;
mod check;
pub mod classes;
mod page;
mod spares;

#[cfg(test)]
mod tests;

use core::alloc::Layout;
use core::mem::MaybeUninit;
use core::ptr::NonNull;

use self::active::{Class, ClassId};
use self::classes::{CLASS_SIZES, CLASSES, last_byte};
#[cfg(debug_assertions)]
use self::page::recently_freed;
use self::page::{FreeSlots, HEADER_SIZE, Page};
use self::spares::Spares;
use crate::in_place::{by_value, uninit_field};
use crate::pages::PageSource;
use crate::pages::{MAX_TAIL, check_page_size};
use crate::raw_heap::dangling;
use crate::{AllocError, CheckError, ClassStats, Misuse, PoolError, RawHeap, Stats};

/// Bytes at the start of each slab page that hold its header, not slots.
pub const PAGE_HEADER: usize = HEADER_SIZE;

/// A slab allocator: objects of up to [`max_class`](Self::max_class) bytes
/// in size classes (see [`classes`]), on pages taken from `S`.
///
/// `N` is how many classes, from the smallest, the slab has room for: all
/// of them by default. [`SmallHeap`](crate::SmallHeap), whose pages are too
/// small for the larger classes, keeps 16, which halves its control block.
///
/// ```
/// use core::alloc::Layout;
/// use core::mem::MaybeUninit;
/// use rtarena::pages::PoolPages;
/// use rtarena::Slab;
///
/// let mut pool = [MaybeUninit::uninit(); 16 * 1024];
/// let mut slab = Slab::new(PoolPages::new(&mut pool, 4096).unwrap()).unwrap();
/// let layout = Layout::new::<[u64; 3]>();
/// let object = slab.allocate(layout).unwrap();
/// assert_eq!(object.len(), 24);
/// // SAFETY: allocated just above with this layout.
/// unsafe { slab.deallocate(object.cast(), layout) };
/// assert_eq!(slab.stats().live(), 0);
/// ```
///
/// # Time complexity
///
/// `allocate`, `deallocate`, `grow_in_place`, `shrink_in_place` are O(1):
/// no loop runs over pages, objects or classes. Taking a page from the
/// source or giving one back happens inside them and is O(1) for every
/// source in this crate: an allocation takes at most one page (from the
/// source, or when it is out of pages another class's spare), a free gives
/// back at most one (its page, or the spare of the class it pushes out of
/// the spares). `trim` is O(1) too; `stats` is O(CLASSES); `check`, `reset`
/// and dropping the slab are O(pages + free slots).
///
/// # Memory cost
///
/// No per-object header: a slot is its class's size. Each page gives
/// [`PAGE_HEADER`] bytes to its header, plus the remainder of dividing the
/// rest by the class size. The slab holds at most two empty pages: the
/// spares of the two classes that emptied their active page last.
pub struct Slab<S: PageSource, const N: usize = CLASSES> {
    classes: [Class; N],
    class_pages: [ClassPages; N],
    /// Classes below this index are served; larger requests get `Err`.
    served: usize,
    /// The largest served class's size: a layout is served when its
    /// `last_byte` is below this (one comparison on the hot paths).
    limit: usize,
    /// The largest alignment slots have: the page size, or less when the
    /// source keeps a tail.
    max_align: usize,
    page_size: usize,
    /// Offset in a page where its slots end: the page size, less the tail
    /// that the source keeps (`PageSource::reserved_tail`).
    slot_end: usize,
    source: S,
    /// The classes that may keep an empty active page.
    spares: Spares,
    counters: Counters,
    /// The class of the latest allocation (class 0 before the first):
    /// freeing that class's `last_taken` needs no class lookup (see
    /// `deallocate_latest`).
    latest: ClassId,
}

/// What only the slow paths touch of a size class.
#[derive(Clone, Copy, Default)]
struct ClassPages {
    /// Pages with no free slot, listed so that `check`, `reset` and drop
    /// reach every page.
    full: Option<Page>,
    /// Pages the class holds (full, partial and its spare).
    count: u32,
    /// Slots in a page of the class (`slots_per_page`), worked out once:
    /// a division is a library call on Armv6-M, too long for a page take.
    capacity: u32,
}

/// A page's free slots, live count and bump, wherever they are kept.
struct PageState {
    /// The class's given-back slot, for the active page.
    given_back: FreeSlots,
    free: FreeSlots,
    live: usize,
    bump: usize,
}

#[derive(Clone, Copy, Default)]
struct Counters {
    pages: usize,
    peak_pages: usize,
    failures: u64,
    bad_frees: u64,
}

// SAFETY: a `Slab` owns its pages exclusively (taken from the source, which
// it owns); its raw pointers point only into those pages, so moving it to
// another thread moves that ownership along.
unsafe impl<S: PageSource + Send, const N: usize> Send for Slab<S, N> {}

impl<S: PageSource> Slab<S> {
    /// A slab over `source`, serving every class that fits at least two
    /// slots in a page (up to 1792 bytes with 4 KiB pages, 224 bytes with
    /// 512-byte pages, 4 KiB from 16 KiB pages up).
    ///
    /// The slab is built on the stack and returned by value; on a small
    /// stack, build it where it will stay with
    /// [`new_in_place`](Self::new_in_place).
    ///
    /// # Errors
    /// [`PoolError::PageSize`] if the source's page size is not a power of
    /// two from [`MIN_PAGE`](crate::pages::MIN_PAGE) to
    /// [`MAX_PAGE`](crate::pages::MAX_PAGE) (a contract violation of the
    /// source, reported rather than trusted).
    ///
    /// # Time complexity
    /// O(CLASSES).
    pub fn new(source: S) -> Result<Self, PoolError> {
        // SAFETY: `new_in_place` initialises its place when it returns `Ok`.
        unsafe { by_value(|place| Self::new_in_place(place, source)) }
    }

    /// A slab over `source` that serves the classes up to `max_size` bytes
    /// which fit at least one slot in a page; see
    /// [`max_class`](Self::max_class) for what that gives.
    ///
    /// # Errors
    /// As for [`new`](Self::new).
    ///
    /// # Time complexity
    /// O(CLASSES).
    pub fn with_max_class(source: S, max_size: usize) -> Result<Self, PoolError> {
        // SAFETY: `with_max_class_in_place` initialises its place when it
        // returns `Ok`.
        unsafe { by_value(|place| Self::with_max_class_in_place(place, source, max_size)) }
    }

    /// [`new`](Self::new), building the slab in `place` (a `static`, a
    /// task's memory) with no copy of it on the stack: the control block is
    /// kilobytes (see the crate documentation), and `new` followed by
    /// `Arena::new` puts several copies on the stack. Wrap the result as
    /// `Arena::new(slab)`: an [`Arena`](crate::Arena) over `&mut Slab`
    /// leaves the slab where it is.
    ///
    /// ```
    /// # #[cfg(feature = "allocator-api2")] {
    /// use core::mem::MaybeUninit;
    /// use rtarena::allocator_api2::boxed::Box;
    /// use rtarena::pages::PoolPages;
    /// use rtarena::{Arena, Slab};
    ///
    /// let mut pool = [MaybeUninit::uninit(); 16 * 1024];
    /// let mut place = MaybeUninit::uninit();
    /// let pages = PoolPages::new(&mut pool, 4096).unwrap();
    /// let slab = Slab::new_in_place(&mut place, pages).unwrap();
    /// let arena = Arena::new(slab);
    /// let boxed = Box::new_in(7u64, &arena);
    /// assert_eq!(arena.stats().live(), 1);
    /// # drop(boxed);
    /// // The slab is never dropped unless you drop it: this gives its
    /// // pages back to the source.
    /// // SAFETY: `new_in_place` returned `Ok`, and nothing uses the slab.
    /// unsafe { place.assume_init_drop() };
    /// # }
    /// ```
    ///
    /// The value in `place` is not dropped unless the caller drops it
    /// ([`MaybeUninit::assume_init_drop`]); a slab's drop gives its pages
    /// back to the source. Building in a `place` that already holds a slab
    /// overwrites it without dropping it: its pages and its source are
    /// leaked (not undefined behaviour). On `Err`, `place` is left
    /// uninitialised and `source` is dropped; so is `source` if a panic
    /// (in its `page_size` or `reserved_tail`) interrupts the build.
    ///
    /// # Errors
    /// As for [`new`](Self::new).
    ///
    /// # Time complexity
    /// O(CLASSES).
    pub fn new_in_place(place: &mut MaybeUninit<Self>, source: S) -> Result<&mut Self, PoolError> {
        // SAFETY: `MaybeUninit::write` initialises the source's place and
        // returns a reference to it, and the closure never returns `Err`.
        unsafe { Self::init(place, |slot| Ok(slot.write(source)), 2, usize::MAX) }
    }

    /// [`with_max_class`](Self::with_max_class), building the slab in
    /// `place` with no copy of it on the stack, as
    /// [`new_in_place`](Self::new_in_place) does (and with its drop rules).
    ///
    /// # Errors
    /// As for [`new`](Self::new).
    ///
    /// # Time complexity
    /// O(CLASSES).
    pub fn with_max_class_in_place(
        place: &mut MaybeUninit<Self>,
        source: S,
        max_size: usize,
    ) -> Result<&mut Self, PoolError> {
        // SAFETY: `MaybeUninit::write` initialises the source's place and
        // returns a reference to it, and the closure never returns `Err`.
        unsafe { Self::init(place, |slot| Ok(slot.write(source)), 1, max_size) }
    }
}

/// Drops the source in the place of a slab being built unless forgotten,
/// which `Slab::init` does once the slab is complete.
struct DropSource<S>(*mut S);

impl<S> Drop for DropSource<S> {
    fn drop(&mut self) {
        // SAFETY: `Slab::init` makes this guard from the source's field once
        // its closure has initialised it, and the reference the closure
        // returned is not used again; the slab is not complete, so nothing
        // else drops the source.
        unsafe { core::ptr::drop_in_place(self.0) }
    }
}

impl<S: PageSource, const N: usize> Slab<S, N> {
    /// Builds in `place` a slab serving the classes up to `max_size` bytes
    /// that fit at least `min_slots` slots in a page, over the source that
    /// `source` writes in the place it is given (so that a large source,
    /// the hybrid heap's TLSF, is built in place too).
    ///
    /// Fields are written one by one through raw pointers, the classes one
    /// at a time, so that no copy of the control block is made on the
    /// stack. On `Err`, nothing in `place` needs dropping.
    ///
    /// # Safety
    /// `source` initialises the place it is given when it returns `Ok`,
    /// returning a reference to that place (the slab takes its page size
    /// from it), and leaves nothing in it that needs dropping when it
    /// returns `Err`.
    pub(crate) unsafe fn init(
        place: &mut MaybeUninit<Self>,
        source: impl FnOnce(&mut MaybeUninit<S>) -> Result<&mut S, PoolError>,
        min_slots: usize,
        max_size: usize,
    ) -> Result<&mut Self, PoolError> {
        const { assert!(N > 0 && N <= CLASSES, "a slab has 1 to CLASSES classes") };
        let slab = place.as_mut_ptr();
        // SAFETY: `slab` points to `place`; `&raw mut` names the field
        // without a reference to uninitialised memory.
        let source_place = unsafe { &raw mut (*slab).source };
        // SAFETY: the field is valid for reads and writes and aligned (it
        // is in `place`), and a `MaybeUninit` of it may be referenced; it is
        // reached only through this reference until the guard below or
        // `assume_init_mut` (after the reference's last use), the other
        // writes being to disjoint fields.
        let source = source(unsafe { uninit_field(source_place) })?;
        // Until the slab is complete, nothing else would drop the source on
        // an `Err` below or a panic (a `debug_assert!`, or the source's
        // `page_size` or `reserved_tail`).
        let guard = DropSource(source_place);
        let page_size = source.page_size();
        check_page_size(page_size)?;
        let tail = source.reserved_tail();
        debug_assert!(tail <= MAX_TAIL, "PageSource::reserved_tail above MAX_TAIL");
        let Shape {
            slot_end,
            served,
            limit,
            max_align,
        } = Shape::new::<N>(page_size, tail, source.page_align(), min_slots, max_size);
        // SAFETY: each write is to a field of `place` through `slab` (the
        // class arrays' elements one by one, in bounds), none to the
        // source's.
        unsafe {
            let classes = (&raw mut (*slab).classes).cast::<Class>();
            let class_pages = (&raw mut (*slab).class_pages).cast::<ClassPages>();
            for (class, &size) in CLASS_SIZES[..N].iter().enumerate() {
                classes.add(class).write(Class::new(size));
                class_pages.add(class).write(ClassPages {
                    capacity: slots_per_page(slot_end, class) as u32,
                    ..ClassPages::default()
                });
            }
            (&raw mut (*slab).served).write(served);
            (&raw mut (*slab).limit).write(limit);
            (&raw mut (*slab).max_align).write(max_align);
            (&raw mut (*slab).page_size).write(page_size);
            (&raw mut (*slab).slot_end).write(slot_end);
            (&raw mut (*slab).spares).write(Spares::new());
            (&raw mut (*slab).counters).write(Counters::default());
            (&raw mut (*slab).latest).write(ClassId::of_index(0));
        }
        // The slab is complete: its own drop has the source now.
        core::mem::forget(guard);
        // SAFETY: the writes above and the source (initialised by `source`,
        // as the caller promises) initialise every field.
        Ok(unsafe { place.assume_init_mut() })
    }

    /// A slab built in `const` context, for a source whose page size, tail
    /// and page alignment are known at compile time (the growing hybrid
    /// heap's, so that it can be a `static`): as `init`, with those three
    /// given rather than asked of the source.
    ///
    /// # Panics
    /// If `page_size` is not a valid page size or `tail` is above
    /// [`MAX_TAIL`]: at compile time when evaluated in `const` context.
    pub(crate) const fn new_const(
        source: S,
        page_size: usize,
        tail: usize,
        page_align: usize,
        min_slots: usize,
        max_size: usize,
    ) -> Self {
        const { assert!(N > 0 && N <= CLASSES, "a slab has 1 to CLASSES classes") };
        assert!(
            page_size.is_power_of_two()
                && page_size >= crate::pages::MIN_PAGE
                && page_size <= crate::pages::MAX_PAGE
                && tail <= MAX_TAIL,
            "a slab's page size is a power of two from MIN_PAGE to MAX_PAGE"
        );
        let shape = Shape::new::<N>(page_size, tail, page_align, min_slots, max_size);
        let mut classes = [Class::new(0); N];
        let mut class_pages = [ClassPages {
            full: None,
            count: 0,
            capacity: 0,
        }; N];
        let mut class = 0;
        while class < N {
            classes[class] = Class::new(CLASS_SIZES[class]);
            class_pages[class].capacity = slots_per_page(shape.slot_end, class) as u32;
            class += 1;
        }
        Slab {
            classes,
            class_pages,
            served: shape.served,
            limit: shape.limit,
            max_align: shape.max_align,
            page_size,
            slot_end: shape.slot_end,
            source,
            spares: Spares::new(),
            counters: Counters {
                pages: 0,
                peak_pages: 0,
                failures: 0,
                bad_frees: 0,
            },
            latest: ClassId::of_index(0),
        }
    }

    /// The largest request (`Layout::size()` rounded up to its alignment)
    /// this slab serves; 0 if the page is too small for any class.
    pub fn max_class(&self) -> usize {
        self.limit
    }

    /// The page source.
    pub fn source(&self) -> &S {
        &self.source
    }

    /// The page source, for a core built on the slab (the hybrid heap's
    /// large blocks come from the TLSF that is its page source).
    pub(crate) fn source_mut(&mut self) -> &mut S {
        &mut self.source
    }

    /// The class of `layout`, if the slab serves it: the class exists and
    /// its slots are aligned enough. `allocate_in` and `deallocate_in` take
    /// this class.
    #[inline(always)]
    pub(crate) fn class_for(&self, layout: Layout) -> Option<ClassId> {
        if layout.align() > self.max_align {
            return None;
        }
        let last = last_byte(layout);
        if last >= self.limit {
            return None;
        }
        // SAFETY: `limit <= MAX_CLASS`.
        Some(unsafe { ClassId::of_last(last) })
    }

    /// The class `id`.
    ///
    /// # Safety
    /// `id.index() < N`, as for a served class (`class_for` gives only
    /// those) and for `latest`.
    #[inline(always)]
    unsafe fn class_mut(&mut self, id: ClassId) -> &mut Class {
        debug_assert!(id.index() < N);
        // SAFETY: `id.index() < N` (caller), and `id.words()` is
        // where `classes[id.index()]` starts: `Class`'s size is a multiple
        // of 8 and its alignment at least 8 (asserted in `active.rs`).
        unsafe {
            &mut *self
                .classes
                .as_mut_ptr()
                .cast::<u64>()
                .add(id.words())
                .cast::<Class>()
        }
    }

    /// Allocates a slot for `layout`; the returned slice is the whole slot,
    /// its class's size.
    ///
    /// The class is chosen from the size rounded up to the alignment (a
    /// 72-byte request aligned to 64 takes a 128-byte slot), which keeps every
    /// slot aligned without a per-object header. A zero-size layout gets a
    /// dangling pointer aligned to `layout.align()`.
    ///
    /// # Errors
    /// [`AllocError`] when the request is larger than
    /// [`max_class`](Self::max_class), or when the class has no free slot
    /// and the source no page; the slab is unchanged.
    ///
    /// # Time complexity
    /// O(1) (see the type's documentation).
    #[inline(always)]
    pub fn allocate(&mut self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
        match self.class_for(layout) {
            // SAFETY: `class_for` gives served classes.
            Some(class) => unsafe { self.allocate_in(class) },
            None => self.allocate_unserved(layout),
        }
    }

    #[cold]
    fn allocate_unserved(&mut self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
        if layout.size() == 0 {
            return Ok(dangling(layout));
        }
        self.counters.failures += 1;
        Err(AllocError)
    }

    /// Takes a slot of `class`.
    ///
    /// # Safety
    /// `class` is served (as `class_for` gives).
    #[inline(always)]
    pub(crate) unsafe fn allocate_in(
        &mut self,
        class: ClassId,
    ) -> Result<NonNull<[u8]>, AllocError> {
        // SAFETY: `class` is served (caller).
        let slots = unsafe { self.class_mut(class) };
        match slots.take() {
            Some(slot) => {
                let size = slots.size as usize;
                self.latest = class;
                Ok(NonNull::slice_from_raw_parts(slot, size))
            }
            None => self.allocate_from_next_page(class.index()),
        }
    }

    /// The active page of `class` is full, or there is none: retires it to
    /// the full list, makes the next partial page active, or else takes a
    /// page from the source; then allocates from the new active page.
    #[cold]
    #[inline(never)]
    fn allocate_from_next_page(&mut self, class: usize) -> Result<NonNull<[u8]>, AllocError> {
        let (slots, pages) = (&mut self.classes[class], &mut self.class_pages[class]);
        if let Some(full) = slots.partial {
            // SAFETY: the active page heads `partial` and has no free slot
            // (`take` found none); list members are owned pages; `class <
            // served` (the caller's, from a served `ClassId`).
            unsafe {
                slots.deactivate(full);
                unlink(&mut slots.partial, full);
                push_front(&mut pages.full, full);
                if let Some(next) = slots.partial {
                    slots.activate(next);
                    return self.allocate_in(ClassId::of_index(class));
                }
            }
        }
        self.allocate_from_new_page(class)
    }

    /// Takes a page from the source for `class`, which has no partial page,
    /// and allocates from it.
    fn allocate_from_new_page(&mut self, class: usize) -> Result<NonNull<[u8]>, AllocError> {
        let start = match self.source.allocate_page() {
            Ok(start) => start,
            Err(AllocError) => match self.take_spare() {
                Some(start) => start,
                None => {
                    self.counters.failures += 1;
                    return Err(AllocError);
                }
            },
        };
        let capacity = self.class_pages[class].capacity as usize;
        let slots = &mut self.classes[class];
        // SAFETY: the source handed us this page, `page_size` bytes aligned
        // to `page_align`; `class < served`, so at least one slot fits. The
        // class has no partial page, so the new page becomes its active one.
        unsafe {
            let page = Page::from_start(start);
            page.init(class, capacity, self.slot_end);
            push_front(&mut slots.partial, page);
            slots.activate(page);
        }
        self.class_pages[class].count += 1;
        let c = &mut self.counters;
        c.pages += 1;
        c.peak_pages = c.peak_pages.max(c.pages);
        // SAFETY: `class < served` (the caller checked it), and the active
        // page has a free slot.
        unsafe { self.allocate_in(ClassId::of_index(class)) }
    }

    /// Gives the spare pages (the empty pages that at most two classes
    /// keep) back to the source; returns how many. Call it to hand
    /// memory back early (say, at the end of a frame or request); an
    /// allocation that finds the source dry takes one spare by itself (see
    /// the type's documentation).
    ///
    /// # Time complexity
    /// O(1) (at most two pages).
    #[cold]
    pub fn trim(&mut self) -> usize {
        let mut released = 0;
        while self.release_spare() {
            released += 1;
        }
        released
    }

    /// Gives the most recent spare page back to the source; `false` if
    /// there is none. (The hybrid heap gives back one page at a time, and
    /// looks after each whether the request that found the TLSF full fits.)
    ///
    /// # Time complexity
    /// O(1).
    #[cold]
    pub(crate) fn release_spare(&mut self) -> bool {
        let Some(page) = self.take_spare() else {
            return false;
        };
        // SAFETY: `take_spare` detached the page, which came from the
        // source.
        unsafe { self.source.deallocate_page(page) };
        true
    }

    /// Takes the most recent spare page (a class's empty active page) out
    /// of its class, for the caller to give to a class that needs a page
    /// (the source has none left) or back to the source.
    #[cold]
    fn take_spare(&mut self) -> Option<NonNull<u8>> {
        let classes = &self.classes;
        let class = self.spares.take(|c| is_spare(classes, c))?;
        // SAFETY: `is_spare` said the class has an active page.
        let page = unsafe { self.classes[class.index()].partial.unwrap_unchecked() };
        // SAFETY: the active page of `class`, empty.
        unsafe { self.detach_page(class.index(), page) };
        Some(page.start())
    }

    /// The active page of `class` just emptied: the class keeps it as its
    /// spare, listed in `spares`. One test when the class is the one that
    /// emptied its page last (a loop of temporaries at a page boundary).
    #[inline(always)]
    fn keep_spare(&mut self, class: ClassId) {
        if !self.spares.is_latest(class) {
            self.list_spare(class);
        }
    }

    /// Lists `class` first in `spares`; the class it pushes out, if its page
    /// is still empty, gives it back to the source.
    #[cold]
    fn list_spare(&mut self, class: ClassId) {
        let classes = &self.classes;
        if let Some(out) = self.spares.push(class, |c| is_spare(classes, c)) {
            // SAFETY: `push` returns a class whose active page (`is_spare`
            // says it has one) is empty.
            unsafe {
                let page = self.classes[out.index()].partial.unwrap_unchecked();
                self.release_page(out.index(), page);
            }
        }
    }

    /// Unlinks an empty page from `class`'s partial list and gives it back
    /// to the source.
    ///
    /// # Safety
    /// As for `detach_page`.
    unsafe fn release_page(&mut self, class: usize, page: Page) {
        // SAFETY: forwarded; the page, detached, came from the source.
        unsafe {
            self.detach_page(class, page);
            self.source.deallocate_page(page.start());
        }
    }

    /// Unlinks an empty page from `class`'s partial list and stops counting
    /// it; the caller gives it back or to another class. When it was the
    /// active page, the next partial page (if any) becomes active.
    ///
    /// # Safety
    /// `page` is an empty page of `class`, on its partial list.
    unsafe fn detach_page(&mut self, class: usize, page: Page) {
        let slots = &mut self.classes[class];
        // SAFETY: `page` is on `partial` (caller), and when first it is the
        // active page, empty; nothing uses it any more.
        unsafe {
            let active = slots.partial == Some(page);
            if active {
                slots.forget_active();
            }
            unlink(&mut slots.partial, page);
            if let (true, Some(next)) = (active, slots.partial) {
                slots.activate(next);
            }
        }
        self.class_pages[class].count -= 1;
        self.counters.pages -= 1;
    }

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
    /// the slab changes nothing but [`Stats::bad_frees`]; debug builds
    /// then panic with a message that names the caller's line (release
    /// builds go on). That is a layout the slab serves no class for, a
    /// pointer the source knows is none of its pages (a `PoolPages` pool, a
    /// `Heap`'s pools; `OsPages` cannot tell), a layout of another class
    /// than the object's page (unless the object is the latest allocation,
    /// which the slab frees rightly whatever the layout), and a double free
    /// of the slot the class took last, of the slot freed last on its page,
    /// of a slot not carved yet, or into a page that went back to the
    /// source. A double free of a slot freed earlier, with other frees of
    /// its page in between, is not caught in release builds: it puts the
    /// slot on its free list twice, and the slot is then handed out twice.
    /// Nor is an address below the page size (a dangling pointer) when its
    /// class has no active page. Debug builds also catch a pointer off the
    /// slot grid, that address, and a double free of any of the 256 slots
    /// freed last on the page.
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
        let latest = self.latest;
        // SAFETY: `latest` is `of_index(0)` (and `N > 0`) or a class
        // `allocate_in` served.
        let slots = unsafe { self.class_mut(latest) };
        // `last_taken` is a slot of the class's active page or no slot, and
        // no other live object of the owner shares a slot's address (a
        // `Heap`'s slab pages are live TLSF blocks), so a live object there
        // is that slot's, of this class. A zero-size allocation's dangling
        // pointer (its alignment, a power of two) may equal a slot's address
        // where pages are not aligned to their size: the size tells it
        // apart, tested only once the address matched.
        if slots.last_taken != Some(ptr) || layout.size() == 0 {
            return None;
        }
        let addr = ptr.as_ptr().addr();
        if slots.given_back {
            return Some(Err(self.refuse(Misuse::NotAllocated { addr })));
        }
        #[cfg(debug_assertions)]
        if self.class_for(layout) != Some(latest) {
            return Some(Err(self.refuse(Misuse::WrongLayout { addr, layout })));
        }
        // A class listed first among the spares stays listed: the page of
        // a temporary that empties it again and again costs one test.
        let listed = self.spares.is_latest(latest);
        // SAFETY: `latest` is below `N` (as above).
        let slots = unsafe { self.class_mut(latest) };
        // SAFETY: `ptr` is `last_taken`, and not given back, so live.
        unsafe { slots.give_back(ptr) };
        if !listed && slots.active_live() == 0 {
            self.list_spare(latest);
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
        let active = unsafe { self.class_mut(class) }.partial;
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
        if offset < self.slot_end {
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
        if let Some(active) = unsafe { self.class_mut(class) }.partial {
            let offset = addr.wrapping_sub(active.addr());
            if offset < self.slot_end {
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
        let slot_end = self.slot_end;
        // SAFETY: `class` is served.
        let slots = unsafe { self.class_mut(class) };
        // A slot below `bump` is not carved yet: never handed out, or
        // freed before the page was carved again (a double free).
        // SAFETY: `ptr` is a live object of this slab (caller) inside the
        // active page, whose pointer gives the slot the page's provenance;
        // `put` refuses the slot if it is free already.
        if offset < slots.bump as usize || !unsafe { slots.put(active.start().add(offset)) } {
            let addr = ptr.as_ptr().addr();
            return Err(self.refuse(Misuse::NotAllocated { addr }));
        }
        if slots.active_live() == 0 {
            // SAFETY: the active page (there is one) holds no live object;
            // `slot_end` is this slab's.
            unsafe { slots.recarve(slot_end) };
            self.keep_spare(class);
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
    /// the page's own free list, moving the page to the partial list if it
    /// was full and giving it back to the source if it empties.
    ///
    /// Refused, changing nothing, when the header shows the free breaks
    /// the contract (one test each, all on the header's first line): a
    /// page of another class (a wrong layout), an empty page (only a page
    /// that went back to the source is: a double free), or `slot` first on
    /// the page's free list (freed already).
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
        let (own_class, live, capacity, first_free) = unsafe {
            let header = page.header();
            (
                header.class(),
                header.live(),
                header.capacity(),
                header.free(),
            )
        };
        if own_class != class.index() || live == 0 || first_free == Some(slot) {
            let addr = slot.as_ptr().addr();
            let misuse = if own_class != class.index() {
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
            // (caller); `live` and `capacity` are its header's from before
            // this free, which is recorded.
            unsafe { self.page_unfilled_or_emptied(class.index(), page, live, capacity) };
        }
        Ok(())
    }

    /// A free left `page`, not the active page of `class`, with a free slot
    /// after it was full (`live == capacity` before the free), or empty
    /// (`live == 1`).
    ///
    /// # Safety
    /// `page` is a page of `class` other than its active one; `live` and
    /// `capacity` are its live count before the free and its capacity; the
    /// free is already recorded in its header and in `inactive_live`.
    #[cold]
    #[inline(never)]
    unsafe fn page_unfilled_or_emptied(
        &mut self,
        class: usize,
        page: Page,
        live: usize,
        capacity: usize,
    ) {
        if live == capacity {
            // SAFETY: a page that was full is on the full list (only the
            // active page, which `page` is not, stays on `partial` full).
            unsafe { self.page_unfilled(class, page) };
        }
        // An emptied page goes back to the source unless it is the active
        // page (with one slot per page, `page_unfilled` just made it so),
        // which the class keeps as its spare.
        if live == 1 {
            if self.classes[class].partial == Some(page) {
                self.keep_spare(ClassId::of_index(class));
            } else {
                // SAFETY: an empty page of `class` other than the active
                // one; it was partial, or `page_unfilled` moved it there.
                unsafe { self.release_page(class, page) };
            }
        }
    }

    /// Moves a full `page` that just got a free slot to the partial list and
    /// makes it the active page, so that allocations fill the pages that
    /// are nearly full first and the emptier ones get a chance to empty
    /// (and go back to the source). The page it takes over from stays
    /// second, or goes to the full list if it has filled up; an empty active
    /// page (the spare) keeps its place and `page` goes second.
    ///
    /// # Safety
    /// `page` is a page of `class` on its full list, with a free slot now.
    #[cold]
    unsafe fn page_unfilled(&mut self, class: usize, page: Page) {
        let (slots, pages) = (&mut self.classes[class], &mut self.class_pages[class]);
        // SAFETY: a full page of `class` is on its `full` list; the active
        // page heads `partial`; list members are owned, initialised pages.
        unsafe {
            unlink(&mut pages.full, page);
            if let Some(active) = slots.partial {
                if slots.active_live() == 0 {
                    insert_after(active, page);
                    return;
                }
                let filled = !slots.active_has_room();
                slots.deactivate(active);
                if filled {
                    unlink(&mut slots.partial, active);
                    push_front(&mut pages.full, active);
                }
            }
            push_front(&mut slots.partial, page);
            slots.activate(page);
        }
    }

    /// The free list, live count and bump of a page of `class`: the class's
    /// for its active page, the header's for the others.
    ///
    /// # Safety
    /// `page` is an owned, initialised page of `class`.
    unsafe fn page_state(&self, class: usize, page: Page) -> PageState {
        let slots = &self.classes[class];
        if slots.partial == Some(page) {
            PageState {
                given_back: slots.given_back_slot(),
                free: slots.free,
                live: slots.active_live(),
                bump: slots.bump as usize,
            }
        } else {
            // SAFETY: forwarded from the caller.
            let header = unsafe { page.header() };
            PageState {
                given_back: None,
                free: header.free(),
                live: header.live(),
                bump: header.bump(),
            }
        }
    }

    /// What debug builds check of a free into `page` beyond the release
    /// checks: that the page is of `class` and the object on its slot grid
    /// (else a wrong layout, or a pointer into a slot), above its uncarved
    /// slots, and not among the 256 slots freed last on it.
    ///
    /// # Safety
    /// `page` is a page the source handed out, holding `ptr`.
    #[cfg(debug_assertions)]
    unsafe fn debug_check(
        &self,
        page: Page,
        class: ClassId,
        ptr: NonNull<u8>,
        layout: Layout,
    ) -> Result<(), Misuse> {
        let addr = ptr.as_ptr().addr();
        let class = class.index();
        let offset = addr - page.addr();
        // SAFETY: the source says the page is out; if the slab does not own
        // it the caller broke the contract and these checks are best effort.
        let own_class = unsafe { page.header() }.class();
        if own_class != class
            || offset >= self.slot_end
            || (self.slot_end - offset) % CLASS_SIZES[class] != 0
        {
            return Err(Misuse::WrongLayout { addr, layout });
        }
        // SAFETY: as above; the page is of `class`.
        let state = unsafe { self.page_state(class, page) };
        // SAFETY: `state.free` is the page's free list.
        if offset < state.bump || unsafe { recently_freed(state.free, ptr) } {
            return Err(Misuse::NotAllocated { addr });
        }
        Ok(())
    }

    /// Resizes an object in place: `Ok` when the new layout maps to the same
    /// class (the slot already holds it), else `Err`, changing nothing.
    ///
    /// # Safety
    /// `ptr` is live in this slab with layout `old` (as for `deallocate`).
    ///
    /// # Time complexity
    /// O(1).
    #[inline]
    pub unsafe fn resize_in_place(
        &mut self,
        ptr: NonNull<u8>,
        old: Layout,
        new: Layout,
    ) -> Result<NonNull<[u8]>, AllocError> {
        let class = match (self.class_for(old), self.class_for(new)) {
            (Some(old), Some(new)) if old == new => old,
            _ => return Err(AllocError),
        };
        let addr = ptr.as_ptr() as usize;
        // A pointer outside the pages must move, and the free that a moving
        // resize ends with refuses and reports it.
        let Some(start) = self.source.page_containing(addr) else {
            return Err(AllocError);
        };
        // SAFETY: `ptr` is a live object, so `start` is its page, owned by
        // the slab; the slot pointer takes the page's provenance, valid for
        // the whole slot (the caller's pointer may cover less).
        let slot = unsafe { Page::from_start(start).slot_at(addr) };
        Ok(NonNull::slice_from_raw_parts(
            slot,
            CLASS_SIZES[class.index()],
        ))
    }

    /// Whether `class` has a free slot: in its active page, or in a second
    /// partial page (which always has one).
    fn has_free_slot(&self, class: usize) -> bool {
        let slots = &self.classes[class];
        // SAFETY: list members are owned, initialised pages.
        slots.active_has_room()
            || slots
                .partial
                .is_some_and(|active| unsafe { active.header() }.next().is_some())
    }

    /// A snapshot of the usage counters.
    ///
    /// `capacity` is the bytes of the pages the slab holds, `in_use` the
    /// bytes of the live objects' slots, and `peak_in_use` the most page
    /// bytes it has held at once: the memory it took from its source, which
    /// bounds the peak of `in_use`. `largest_free` is the largest class with
    /// a free slot.
    ///
    /// # Time complexity
    /// O(CLASSES).
    pub fn stats(&self) -> Stats {
        let c = self.counters;
        let mut in_use = 0;
        let mut live = 0;
        let mut allocations = 0;
        let mut largest_free = 0;
        for (class, slots) in self.classes[..self.served].iter().enumerate() {
            let size = slots.size as usize;
            in_use = slots.live().wrapping_mul(size).wrapping_add(in_use);
            live = (slots.live() as u64).wrapping_add(live);
            allocations = slots.allocation_count().wrapping_add(allocations);
            if self.has_free_slot(class) {
                largest_free = size;
            }
        }
        // Wrapping arithmetic here and in the class counters: `stats` never
        // panics, whatever a broken contract did to the counts (`check`
        // reports that).
        let capacity = c.pages.wrapping_mul(self.page_size);
        Stats {
            capacity,
            in_use,
            peak_in_use: c.peak_pages.wrapping_mul(self.page_size),
            free: capacity.wrapping_sub(in_use),
            largest_free,
            allocations,
            deallocations: allocations.wrapping_sub(live),
            failures: c.failures,
            bad_frees: c.bad_frees,
        }
    }

    /// What size class `class` holds (0 is the smallest), or `None` past
    /// the last class served: `(0..).map_while(|c| slab.class_stats(c))`
    /// lists them all.
    ///
    /// # Time complexity
    /// O(1).
    pub fn class_stats(&self, class: usize) -> Option<ClassStats> {
        if class >= self.served {
            return None;
        }
        Some(ClassStats {
            size: CLASS_SIZES[class],
            slots_per_page: slots_per_page(self.slot_end, class),
            live: self.classes[class].live(),
            pages: self.class_pages[class].count as usize,
        })
    }

    /// Walks every page of every class and verifies every invariant: each
    /// page's header against its list and class, the list links, each free
    /// list (slots inside the page, on slot boundaries, no cycle), that free
    /// plus uncarved plus live slots make the page's capacity, that no page
    /// but the first partial one (the spare) is empty, and the counters.
    ///
    /// # Errors
    /// The first violation found, with the address where it was found.
    ///
    /// # Time complexity
    /// O(pages + free slots).
    pub fn check(&self) -> Result<(), CheckError> {
        check::check(self)
    }

    /// Frees every object at once and gives every page back to the source;
    /// the counters restart.
    ///
    /// # Time complexity
    /// O(pages).
    pub fn reset(&mut self) {
        for class in 0..self.served {
            let slots = &mut self.classes[class];
            let partial = slots.partial;
            *slots = Class::new(slots.size as usize);
            let pages = &mut self.class_pages[class];
            let pages = ClassPages {
                full: pages.full.take(),
                count: core::mem::take(&mut pages.count),
                capacity: pages.capacity,
            };
            for head in [partial, pages.full] {
                let mut next = head;
                while let Some(page) = next {
                    // SAFETY: list members are owned pages; reading the link
                    // before giving the page back.
                    unsafe {
                        next = page.header().next();
                        self.source.deallocate_page(page.start());
                    }
                }
            }
        }
        self.spares = Spares::new();
        self.counters = Counters::default();
    }
}

impl<S: PageSource, const N: usize> Drop for Slab<S, N> {
    /// Gives every page back to the source (O(pages)).
    fn drop(&mut self) {
        self.reset();
    }
}

impl<S: PageSource, const N: usize> core::fmt::Debug for Slab<S, N> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Slab")
            .field("page_size", &self.page_size)
            .field("max_class", &self.max_class())
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

// SAFETY: slots are carved from pages the slab owns (see `PageSource`), each
// slot belongs to one page and is handed out only while it is neither
// uncarved, on its page's (or its class's) free list, nor its class's
// given-back slot, so live objects never overlap; slots are aligned as asked (a
// served layout's class size is a multiple of its alignment, see
// `classes.rs`, and slots sit at multiples of it below a `slot_end` aligned
// to at least `max_align`); resizing never moves or touches a slot; the
// source never calls back into the slab (`PageSource`'s contract).
unsafe impl<S: PageSource, const N: usize> RawHeap for Slab<S, N> {
    #[inline(always)]
    fn allocate(&mut self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
        Slab::allocate(self, layout)
    }

    #[inline(always)]
    unsafe fn deallocate(&mut self, ptr: NonNull<u8>, layout: Layout) -> Result<(), Misuse> {
        // SAFETY: same contract.
        unsafe { self.free(ptr, layout) }
    }

    #[inline]
    unsafe fn grow_in_place(
        &mut self,
        ptr: NonNull<u8>,
        old: Layout,
        new: Layout,
    ) -> Result<NonNull<[u8]>, AllocError> {
        // SAFETY: same contract.
        unsafe { self.resize_in_place(ptr, old, new) }
    }

    #[inline]
    unsafe fn shrink_in_place(
        &mut self,
        ptr: NonNull<u8>,
        old: Layout,
        new: Layout,
    ) -> Result<NonNull<[u8]>, AllocError> {
        // SAFETY: same contract.
        unsafe { self.resize_in_place(ptr, old, new) }
    }

    fn stats(&self) -> Stats {
        Slab::stats(self)
    }

    fn check(&self) -> Result<(), CheckError> {
        Slab::check(self)
    }

    fn class_stats(&self, class: usize) -> Option<ClassStats> {
        Slab::class_stats(self, class)
    }
}

/// Whether `class` has an active page with no live object on it.
fn is_spare(classes: &[Class], class: ClassId) -> bool {
    let slots = &classes[class.index()];
    slots.partial.is_some() && slots.active_live() == 0
}

/// Which classes a slab serves, and how, for its pages' size and tail.
struct Shape {
    /// Offset in a page where its slots end: the page size less the tail.
    slot_end: usize,
    served: usize,
    limit: usize,
    max_align: usize,
}

impl Shape {
    /// The shape of a slab with room for `N` classes, serving those up to
    /// `max_size` bytes that fit `min_slots` slots below the slot end.
    const fn new<const N: usize>(
        page_size: usize,
        tail: usize,
        page_align: usize,
        min_slots: usize,
        max_size: usize,
    ) -> Shape {
        let slot_end = page_size - if tail < MAX_TAIL { tail } else { MAX_TAIL };
        let served = served_classes(slot_end, min_slots, max_size);
        let served = if served < N { served } else { N };
        let limit = if served == 0 {
            0
        } else {
            CLASS_SIZES[served - 1]
        };
        // Slots sit at multiples of their size below `slot_end`, in pages
        // aligned to `page_align`.
        let slot_align = 1 << slot_end.trailing_zeros();
        Shape {
            slot_end,
            served,
            limit,
            max_align: if slot_align < page_align {
                slot_align
            } else {
                page_align
            },
        }
    }
}

/// Slots of `class` that fit between a page's header and `slot_end`.
pub(crate) const fn slots_per_page(slot_end: usize, class: usize) -> usize {
    (slot_end - HEADER_SIZE) / CLASS_SIZES[class]
}

/// How many classes, from the smallest, are at most `max_size` bytes and fit
/// at least `min_slots` slots below `slot_end`.
pub(crate) const fn served_classes(slot_end: usize, min_slots: usize, max_size: usize) -> usize {
    let mut served = 0;
    while served < CLASSES
        && CLASS_SIZES[served] <= max_size
        && slots_per_page(slot_end, served) >= min_slots
    {
        served += 1;
    }
    served
}

/// Puts `page` first on the list that starts at `head`.
///
/// # Safety
/// `page` is an owned page on no list; the list's pages are owned.
#[inline(always)]
unsafe fn push_front(head: &mut Option<Page>, page: Page) {
    // SAFETY: the pages are owned and initialised (caller); one header
    // reference at a time.
    unsafe {
        let header = page.header();
        header.set_next(*head);
        header.set_prev(None);
        if let Some(old) = *head {
            old.header().set_prev(Some(page));
        }
    }
    *head = Some(page);
}

/// Puts `page` right after `before` on `before`'s list.
///
/// # Safety
/// `page` is an owned page on no list; `before` and its list's pages are
/// owned.
unsafe fn insert_after(before: Page, page: Page) {
    // SAFETY: the pages are owned and initialised (caller); one header
    // reference at a time.
    unsafe {
        let next = before.header().next();
        let header = page.header();
        header.set_next(next);
        header.set_prev(Some(before));
        if let Some(next) = next {
            next.header().set_prev(Some(page));
        }
        before.header().set_next(Some(page));
    }
}

/// Takes `page` off the list that starts at `head`.
///
/// # Safety
/// `page` is on that list; the list's pages are owned.
#[inline(always)]
unsafe fn unlink(head: &mut Option<Page>, page: Page) {
    // SAFETY: the pages are owned and initialised (caller); one header
    // reference at a time.
    unsafe {
        let header = page.header();
        let (next, prev) = (header.next(), header.prev());
        match prev {
            Some(prev) => prev.header().set_next(next),
            None => *head = next,
        }
        if let Some(next) = next {
            next.header().set_prev(prev);
        }
    }
}
