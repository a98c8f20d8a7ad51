//! White-box tests of the size classes.

use core::alloc::Layout;

use super::active::ClassId;
use super::classes::{CLASS_SIZES, CLASSES, MAX_CLASS, class_by_formula, last_byte};
use super::init::{served_classes, slots_per_page};
use crate::pages::{MAX_PAGE, MIN_PAGE};

/// The class of `last` through the hot paths' table.
fn class_of(last: usize) -> usize {
    assert!(last < MAX_CLASS);
    // SAFETY: checked just above.
    unsafe { ClassId::of_last(last) }.index()
}

#[test]
fn every_size_maps_to_the_smallest_class_that_holds_it() {
    let mut class = 0;
    for size in 1..=MAX_CLASS {
        if size > CLASS_SIZES[class] {
            class += 1;
        }
        assert_eq!(class_by_formula(size - 1), class, "size {size}");
        assert_eq!(class_of(size - 1), class, "size {size}");
    }
    assert!(class_by_formula(MAX_CLASS) >= CLASSES);
    assert!(class_by_formula(usize::MAX) >= CLASSES);
    assert_eq!(last_byte(Layout::new::<()>()), usize::MAX);
}

#[test]
fn classes_waste_under_a_fifth_above_64_bytes() {
    for pair in CLASS_SIZES.windows(2) {
        let (below, class) = (pair[0], pair[1]);
        assert!(class > below && class % 8 == 0);
        // The worst request is one byte over the class below.
        let waste = (class - below - 1) as f64 / class as f64;
        if class > 64 {
            assert!(waste < 0.2, "class {class} wastes {waste}");
        } else {
            assert_eq!(class - below, 8);
        }
    }
}

#[test]
fn the_class_of_a_padded_size_is_a_multiple_of_the_alignment() {
    for align in (0..13).map(|shift| 1usize << shift) {
        for size in 1..=CLASS_SIZES[CLASSES - 1] {
            let layout = Layout::from_size_align(size, align).unwrap();
            let last = last_byte(layout);
            assert_eq!(last + 1, layout.pad_to_align().size());
            if last < MAX_CLASS {
                let class = class_of(last);
                assert_eq!(CLASS_SIZES[class] % align, 0, "size {size} align {align}");
                assert!(CLASS_SIZES[class] >= size.max(align));
            }
        }
    }
}

#[test]
fn served_classes_fit_their_slots() {
    let mut page = MIN_PAGE;
    while page <= MAX_PAGE {
        let served = served_classes(page, 2, usize::MAX);
        assert!(served > 0);
        assert!(slots_per_page(page, served - 1) >= 2);
        if served < CLASSES {
            assert!(slots_per_page(page, served) < 2);
        }
        assert_eq!(served_classes(page, 1, 100), class_of(99));
        page *= 2;
    }
    assert_eq!(CLASS_SIZES[served_classes(4096, 2, usize::MAX) - 1], 1792);
    assert_eq!(CLASS_SIZES[served_classes(512, 2, usize::MAX) - 1], 224);
}
