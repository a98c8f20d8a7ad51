//! The growing hybrid heap's page tables: a radix tree per pool, whose nodes
//! are blocks of the heap's own TLSF, made when a slab page first lands
//! under them.
//!
//! Why not `Heap`'s flat table per pool: a growing heap's pool is extended
//! at run time by runs of pages that merge into it (so that a block may
//! span runs, and a request of any size be served), and a flat table would
//! have to grow with it: a copy of the whole table (O(pool)) or a table
//! carved from each run, which would sit between the runs and keep blocks
//! from spanning them. A radix tree grows by adding nodes, never moving
//! one, and needs no node for memory that holds no slab page.
//!
//! A tree's key is the stretch (the page table's unit: `page_size` bytes of
//! the pool, from its base), its leaves hold the entries (as in `Heap`'s
//! tables: 0, or one more than the offset at which a page starts in the
//! stretch), and every node is one [`NODE`]-byte TLSF block: a leaf holds
//! 256 entries, an inner node 128 child pointers (256 on 32-bit targets).
//! An absent child reads as all zeros, so nodes are made only on the path
//! of a page being recorded, zeroed as they are made. The tree gets taller
//! when a page lands past what it covers: a new root whose first child is
//! the old one, so no node moves. A lookup reads a node per level, the
//! leaf included: 1 for the first 256 stretches of a pool, 2 up to 32,768
//! (128 MiB with 4 KiB pages), 3 up to 2^22 (16 GiB); at most 8 on 64-bit
//! targets and 3 on 32-bit ones (the key is a pool offset over at least
//! 512 bytes).
//!
//! Nodes are never given back while the heap lives: a node covers memory
//! that held a page and probably will again. The tables are at most one
//! 1 KiB leaf per 256 stretches that ever held a page (0.8% of them with
//! 512-byte pages, 0.1% with 4 KiB pages, as `Heap`'s flat tables), plus
//! the inner nodes above (a 128th of that again), and nothing for memory
//! that never held one. A reset forgets them with the TLSF's blocks;
//! dropping the heap gives their pages back with the rest.

use core::alloc::Layout;
use core::mem::{align_of, size_of};
use core::ptr::NonNull;

use super::tlsf_pages::{PageTables, TableCost};
use crate::pages::PageSource;
use crate::tlsf::config::HEADER;
use crate::tlsf::{LargeTlsf, MAX_POOLS, add_pages_for};
use crate::{AllocError, CheckError};

/// Bytes of every node, leaf or inner: a TLSF block of its own.
pub(crate) const NODE: usize = 1024;

/// The layout of a node's block: word-aligned, which every TLSF block is.
const NODE_LAYOUT: Layout = match Layout::from_size_align(NODE, align_of::<usize>()) {
    Ok(layout) => layout,
    Err(_) => panic!("a node's layout is valid"),
};

/// Key bits a leaf resolves (256 `u32` entries).
const LEAF_BITS: u32 = (NODE / size_of::<u32>()).trailing_zeros();
const LEAF_MASK: usize = (1 << LEAF_BITS) - 1;

/// Key bits an inner node resolves (one child pointer per word).
const INNER_BITS: u32 = (NODE / size_of::<Child>()).trailing_zeros();
const INNER_MASK: usize = (1 << INNER_BITS) - 1;

/// An inner node's entry: all zero bits (a zeroed node) is `None`.
type Child = Option<NonNull<u8>>;

const _: () = assert!(size_of::<Child>() == size_of::<usize>());

/// The tree of one pool: no node yet, or a root of `height` inner levels
/// above the leaves.
#[derive(Clone, Copy)]
struct Root {
    node: Child,
    height: u32,
}

impl Root {
    const EMPTY: Root = Root {
        node: None,
        height: 0,
    };

    /// The lowest key bit above what the tree covers.
    const fn covered_bits(self) -> u32 {
        LEAF_BITS + self.height * INNER_BITS
    }

    /// Whether the tree covers `stretch`.
    fn covers(self, stretch: usize) -> bool {
        stretch.checked_shr(self.covered_bits()).unwrap_or(0) == 0
    }
}

/// The page tables of a heap that grows from `S`, with the source itself:
/// growing adds pools to the TLSF, and the tables need room in it.
pub(crate) struct RadixTables<S> {
    pub(crate) source: S,
    /// The tree of each pool, by the TLSF's pool index.
    roots: [Root; MAX_POOLS],
    /// The slab's page size: no page may lie below this address (the
    /// slab's range checks rely on it, `PageSource`'s contract).
    page_size: usize,
    cost: TableCost,
}

// SAFETY: the nodes are blocks of the TLSF that the same `TlsfPages` owns,
// and only it reaches them: moving the tables to another thread moves that
// access along.
unsafe impl<S: Send> Send for RadixTables<S> {}

impl<S: PageSource> RadixTables<S> {
    /// Tables with no node, over `source`, for pages of `page_size` bytes.
    pub(crate) const fn new(source: S, page_size: usize) -> Self {
        RadixTables {
            source,
            roots: [Root::EMPTY; MAX_POOLS],
            page_size,
            cost: TableCost::NONE,
        }
    }

    /// A zeroed node, a block of `tlsf`, which grows if it has no room.
    fn new_node(&mut self, tlsf: &mut LargeTlsf<'static>) -> Result<NonNull<u8>, AllocError> {
        let block = match tlsf.allocate(NODE_LAYOUT) {
            Ok(block) => block,
            Err(AllocError) => {
                self.cost.failures += 1;
                self.grow(tlsf, NODE_LAYOUT)?;
                tlsf.allocate(NODE_LAYOUT)
                    .inspect_err(|AllocError| self.cost.failures += 1)?
            }
        };
        let node = block.cast::<u8>();
        // SAFETY: the block is at least `NODE` bytes, ours, with the
        // provenance of its pool.
        unsafe { node.write_bytes(0, NODE) };
        // As the TLSF counts it: its usable bytes and the header before.
        self.cost.bytes += block.len() + HEADER;
        self.cost.blocks += 1;
        Ok(node)
    }

    /// Counts the nodes under `node`, a node `height` levels above the
    /// leaves, and the entries set in its leaves.
    ///
    /// # Safety
    /// `node` is a node of these tables.
    unsafe fn count(node: NonNull<u8>, height: u32) -> (u64, usize) {
        if height == 0 {
            // SAFETY: a leaf holds `LEAF_MASK + 1` initialised entries.
            let set = (0..=LEAF_MASK)
                .filter(|&i| unsafe { node.cast::<u32>().add(i).read() } != 0)
                .count();
            return (1, set);
        }
        let mut total = (1, 0);
        for i in 0..=INNER_MASK {
            // SAFETY: an inner node holds `INNER_MASK + 1` initialised
            // children, each a node one level down.
            if let Some(child) = unsafe { node.cast::<Child>().add(i).read() } {
                // SAFETY: a child of a node of these tables is one.
                let (nodes, set) = unsafe { Self::count(child, height - 1) };
                total = (total.0 + nodes, total.1 + set);
            }
        }
        total
    }

    /// Forgets every node: the TLSF was reset or emptied, and the blocks
    /// that held them with it.
    pub(crate) fn forget_nodes(&mut self) {
        self.roots = [Root::EMPTY; MAX_POOLS];
        self.cost = TableCost::NONE;
    }
}

// SAFETY: `get` reads the leaf entry that `set` wrote for the stretch, and
// 0 where no node was made (nodes are zeroed when made, and each stretch
// has one place in its pool's tree, which never moves: a taller tree keeps
// the old root as its first child). Nodes are blocks this code allocated
// from the TLSF and never frees; growing only adds pools.
unsafe impl<S: PageSource>
    PageTables<'static, { crate::tlsf::config::fl_len(isize::MAX as usize) }, 16>
    for RadixTables<S>
{
    #[inline(always)]
    unsafe fn get(&self, pool: usize, stretch: usize) -> usize {
        // SAFETY: `pool` is a pool's index (caller), below `MAX_POOLS`.
        let root = unsafe { *self.roots.get_unchecked(pool) };
        let Some(mut node) = root.node else {
            return 0;
        };
        if !root.covers(stretch) {
            return 0;
        }
        let mut shift = root.covered_bits();
        for _ in 0..root.height {
            shift -= INNER_BITS;
            let index = (stretch >> shift) & INNER_MASK;
            // SAFETY: `node` is an inner node (`height` levels above the
            // leaves, counting down), whose children are initialised.
            match unsafe { node.cast::<Child>().add(index).read() } {
                Some(child) => node = child,
                None => return 0,
            }
        }
        // SAFETY: `node` is a leaf, whose entries are initialised.
        unsafe { node.cast::<u32>().add(stretch & LEAF_MASK).read() as usize }
    }

    unsafe fn set(
        &mut self,
        tlsf: &mut LargeTlsf<'static>,
        page: usize,
        pool: usize,
        stretch: usize,
        value: usize,
    ) -> Result<(), AllocError> {
        if page < self.page_size {
            return Err(AllocError);
        }
        // A taller tree until it covers the stretch: the old root, if any,
        // becomes the first child of a new one.
        while !self.roots[pool].covers(stretch) {
            let root = self.roots[pool];
            let node = match root.node {
                None => None,
                Some(old) => {
                    let new = self.new_node(tlsf)?;
                    // SAFETY: a fresh inner node; its first child covers
                    // the keys the old root did.
                    unsafe { new.cast::<Child>().write(Some(old)) };
                    Some(new)
                }
            };
            self.roots[pool] = Root {
                node,
                height: root.height + 1,
            };
        }
        let root = self.roots[pool];
        let mut node = match root.node {
            Some(node) => node,
            None => {
                let node = self.new_node(tlsf)?;
                self.roots[pool].node = Some(node);
                node
            }
        };
        let mut shift = root.covered_bits();
        for _ in 0..root.height {
            shift -= INNER_BITS;
            // SAFETY: as in `get`.
            let slot = unsafe { node.cast::<Child>().add((stretch >> shift) & INNER_MASK) };
            // SAFETY: the slot is an initialised child of an inner node.
            node = match unsafe { slot.read() } {
                Some(child) => child,
                None => {
                    let child = self.new_node(tlsf)?;
                    // SAFETY: as above.
                    unsafe { slot.write(Some(child)) };
                    child
                }
            };
        }
        // SAFETY: a leaf; an offset in a stretch is below `MAX_PAGE`, so
        // the value fits.
        unsafe {
            node.cast::<u32>()
                .add(stretch & LEAF_MASK)
                .write(value as u32)
        };
        Ok(())
    }

    unsafe fn clear(&mut self, pool: usize, stretch: usize) {
        let root = self.roots[pool];
        let Some(mut node) = root.node else {
            unreachable!("a recorded page has its nodes");
        };
        let mut shift = root.covered_bits();
        for _ in 0..root.height {
            shift -= INNER_BITS;
            // SAFETY: as in `get`; `set` made every node on the stretch's
            // path.
            node = unsafe {
                node.cast::<Child>()
                    .add((stretch >> shift) & INNER_MASK)
                    .read()
            }
            .expect("a recorded page has its nodes");
        }
        // SAFETY: a leaf.
        unsafe { node.cast::<u32>().add(stretch & LEAF_MASK).write(0) };
    }

    fn grow(&mut self, tlsf: &mut LargeTlsf<'static>, layout: Layout) -> Result<(), AllocError> {
        // SAFETY: the TLSF's pools all came from this source through
        // `add_pages_for` (it starts empty, and nothing else adds pools),
        // and go back through `give_back_pools` when the heap drops.
        unsafe { add_pages_for(tlsf, &mut self.source, layout) }
    }

    #[inline(always)]
    fn cost(&self) -> TableCost {
        self.cost
    }

    fn reset(&mut self) {
        self.forget_nodes();
    }

    fn check(&self, tlsf: &LargeTlsf<'static>, _: u32) -> Result<usize, CheckError> {
        let mut nodes = 0;
        let mut listed = 0;
        for (index, root) in self.roots.iter().enumerate() {
            let Some(node) = root.node else {
                continue;
            };
            if index >= tlsf.pool_count() {
                return Err(CheckError::new("page tables for a pool that is not", index));
            }
            // SAFETY: the root of a pool's tree.
            let (n, set) = unsafe { Self::count(node, root.height) };
            nodes += n;
            listed += set;
        }
        if nodes != self.cost.blocks {
            return Err(CheckError::new(
                "page table nodes and their count disagree",
                nodes as usize,
            ));
        }
        Ok(listed)
    }
}
