//! Which class may keep an empty page: at most one.
//!
//! A class whose active page empties keeps it (the spare), so that an
//! alloc/free pair at a page boundary does not take and give back a page
//! every time. Keeping one per class would hold up to one page per class
//! that no other class can use, and finding them again when the source runs
//! dry would scan every class. So the slab names the one class that
//! emptied its active page last. A class whose page a free of its latest
//! allocation's slot empties (a temporary) takes the name over: the page
//! of the class named before, if still empty, goes back to the source
//! (`name`). A class whose page another free empties takes the name only
//! if no other class keeps an empty page, and else gives its own page back
//! (`name_if_free`): its state is at hand, where pushing out would read
//! and detach another class's page, past the longest free's bound. Every
//! empty page the slab holds is then the active page of the named class,
//! and taking the spare or giving it back looks at one entry, whatever the
//! number of classes.
//!
//! Why one, not two: a hybrid heap gives the spare back when a large
//! request finds its TLSF full, and each spare it could hold adds a page
//! give-back to that path, its longest (Cortex-M4: 501 instructions with
//! two, 353 with one). A second spare served only two classes that both
//! empty a page at once again and again, and their page takes and
//! give-backs stay O(1) without it (a real program under callgrind ran as
//! many instructions either way).
//!
//! The entry may be stale: its class has allocated from its page since.
//! A stale entry is replaced as a free one is; it gives nothing back then.

use super::active::ClassId;

/// No class: a free entry.
const NONE: u8 = u8::MAX;

/// The class that may hold an empty active page, as its `ClassId::words`,
/// so that the hot path compares a class with it as it has it, with no
/// conversion.
#[derive(Clone, Copy)]
pub(super) struct Spare {
    class: u8,
}

const _: () = assert!(ClassId::MAX_WORDS < NONE as usize);

impl Spare {
    pub(super) const fn new() -> Self {
        Spare { class: NONE }
    }

    /// Whether `class` is the one named: the one test on the path of a
    /// class whose page empties again and again.
    #[inline(always)]
    pub(super) fn is(&self, class: ClassId) -> bool {
        self.class as usize == class.words()
    }

    /// Names `class`. The class named before (unless it is `class`) is
    /// returned if `is_spare` says it still keeps an empty page, for the
    /// caller to give it back.
    pub(super) fn name(
        &mut self,
        class: ClassId,
        is_spare: impl Fn(ClassId) -> bool,
    ) -> Option<ClassId> {
        let before = self.class;
        if before as usize == class.words() {
            return None;
        }
        self.class = class.words() as u8;
        (before != NONE)
            .then(|| ClassId::of_words(before))
            .filter(|&out| is_spare(out))
    }

    /// Names `class`, not named already, if the entry is free or stale
    /// (`is_spare` says no); returns whether `class` is named. An entry
    /// naming a class with an empty page is left as it is.
    pub(super) fn name_if_free(
        &mut self,
        class: ClassId,
        is_spare: impl Fn(ClassId) -> bool,
    ) -> bool {
        debug_assert!(!self.is(class));
        if let Some(named) = self.class() {
            if is_spare(named) {
                return false;
            }
        }
        self.class = class.words() as u8;
        true
    }

    /// Takes the named class, if `is_spare` says it keeps an empty page,
    /// and frees the entry either way.
    pub(super) fn take(&mut self, is_spare: impl Fn(ClassId) -> bool) -> Option<ClassId> {
        let named = self.class();
        *self = Spare::new();
        named.filter(|&class| is_spare(class))
    }

    /// The named class, if any.
    pub(super) fn class(&self) -> Option<ClassId> {
        (self.class != NONE).then(|| ClassId::of_words(self.class))
    }
}
