//! Which classes may keep an empty page: at most two.
//!
//! A class whose active page empties keeps it (its spare), so that an
//! alloc/free pair at a page boundary does not take and give back a page
//! every time. Keeping one per class would hold up to one page per class
//! that no other class can use, and finding them again when the source runs
//! dry would scan every class. So the slab lists the classes that emptied
//! their active page last, most recent first. A class whose page a free of
//! its latest allocation's slot empties (a temporary) while the list is
//! full pushes the oldest out: that class's page, if still empty, goes
//! back to the source (`push`). A class whose page another free empties
//! takes the older entry's place only if that one is free or stale, and
//! else gives its own page back (`push_if_room`): its state is at hand,
//! where pushing out would read and detach another class's page, past the
//! longest free's bound. Every empty page the slab holds is then the
//! active page of a listed class, and taking a spare or giving them all
//! back looks at two entries, whatever the number of classes.
//!
//! An entry may be stale: its class has allocated from its page since, or
//! lost it. A stale entry leaves the list as any other, when newer ones
//! push it out or take its place; it gives nothing back then.

use super::active::ClassId;

/// No class: a free entry.
const NONE: u8 = u8::MAX;

/// The (at most two) classes that may hold an empty active page, the most
/// recent first, as their `ClassId::words`, so that the hot path compares a
/// class with the first entry as it has it, with no conversion.
///
/// Why two: they let two classes with temporaries at a page boundary (say,
/// a string and a vector in a loop) each keep their page; each one more
/// would add one page give-back to the longest path of a `Heap`, a large
/// request that finds the TLSF full.
#[derive(Clone, Copy)]
pub(super) struct Spares {
    first: u8,
    second: u8,
}

const _: () = assert!(ClassId::MAX_WORDS < NONE as usize);

impl Spares {
    pub(super) const fn new() -> Self {
        Spares {
            first: NONE,
            second: NONE,
        }
    }

    /// Whether `class` is the most recent entry: the one test on the path of
    /// a class whose page empties again and again.
    #[inline(always)]
    pub(super) fn is_latest(&self, class: ClassId) -> bool {
        self.first as usize == class.words()
    }

    /// Makes `class` the most recent entry. The older entry (unless it is
    /// `class`) leaves the list, and is returned if `is_spare` says its
    /// class still keeps an empty page, for the caller to give it back.
    /// Only that entry is tested: a stale newer entry stays, to leave at
    /// the next push, rather than cost a second test on the path of a free
    /// (the slab's longest).
    pub(super) fn push(
        &mut self,
        class: ClassId,
        is_spare: impl Fn(ClassId) -> bool,
    ) -> Option<ClassId> {
        let (first, second) = (self.first, self.second);
        if first as usize == class.words() {
            return None;
        }
        self.first = class.words() as u8;
        self.second = first;
        (second as usize != class.words() && second != NONE)
            .then(|| ClassId::of_words(second))
            .filter(|&out| is_spare(out))
    }

    /// Makes `class`, not the most recent entry, the most recent if the
    /// list has room: its older entry is free, `class` itself, or stale
    /// (`is_spare` says no), and leaves the list. Returns whether `class`
    /// is listed; a full list is left as it is.
    pub(super) fn push_if_room(
        &mut self,
        class: ClassId,
        is_spare: impl Fn(ClassId) -> bool,
    ) -> bool {
        let (first, second) = (self.first, self.second);
        debug_assert!(first as usize != class.words());
        if second != NONE && second as usize != class.words() && is_spare(ClassId::of_words(second))
        {
            return false;
        }
        self.first = class.words() as u8;
        self.second = first;
        true
    }

    /// Takes the most recent entry for which `is_spare` says yes out of the
    /// list, and the stale one before it if any. (A stale entry after it
    /// may stay: it is dropped when the list next needs room.)
    pub(super) fn take(&mut self, is_spare: impl Fn(ClassId) -> bool) -> Option<ClassId> {
        let live = |c: u8| c != NONE && is_spare(ClassId::of_words(c));
        let (first, second) = (self.first, self.second);
        if live(first) {
            *self = Spares {
                first: second,
                second: NONE,
            };
            return Some(ClassId::of_words(first));
        }
        *self = Spares::new();
        live(second).then(|| ClassId::of_words(second))
    }

    /// Whether `class` is listed.
    pub(super) fn contains(&self, class: ClassId) -> bool {
        self.iter().any(|c| c == class)
    }

    /// The listed classes.
    pub(super) fn iter(&self) -> impl Iterator<Item = ClassId> {
        [self.first, self.second]
            .into_iter()
            .filter(|&c| c != NONE)
            .map(ClassId::of_words)
    }
}
