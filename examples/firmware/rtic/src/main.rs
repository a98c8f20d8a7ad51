//! Per-task heaps in an RTIC 2 application, on QEMU's LM3S6965 board.
//!
//! Three software tasks at three priorities each own an rtarena `Arena`:
//! a slab heap whose pages come from one shared pool, up to a `Budget` of
//! its own, so a task that overreaches runs out of *its* pages while the
//! others keep theirs. The tasks pass messages allocated from one shared
//! `SyncArena`, locked with a critical section so that an interrupt handler
//! can allocate from it too:
//!
//! ```text
//!  sensor (prio 1) ──Summary──▶ control (prio 3) ──Summary──▶ logger (prio 2)
//!     │ rtic::pend                  ▲
//!     └──▶ UART0 handler (prio 4) ──Alarm
//! ```
//!
//! - `sensor` builds each batch of samples in a `Vec` and sums it per
//!   channel in a `HashMap`, both in its heap, then sends a boxed summary.
//!   Every few batches it pends the UART0 interrupt, as a received byte
//!   would.
//! - the UART0 handler boxes an alarm in the message heap and sends it.
//! - `control` keeps running totals (`HashMap`) and a window of recent sums
//!   (`Vec`) in its heap, and passes each summary on to the logger: the box
//!   moves, its memory stays where it was allocated.
//! - `logger` formats each summary into a boxed line in its heap and keeps
//!   the lines until it writes them out. Its buffer has room for more lines
//!   than its 2-page budget holds: `Box::try_new_in` returns `Err`, the
//!   logger writes out what it has (freeing those lines) and retries.
//!
//! At the end each task prints its heap's numbers, and the firmware exits
//! through semihosting with status 0 only if every check held.
//!
//! Run with `cargo run --release` in this folder (needs `qemu-system-arm`).

#![no_std]
#![no_main]

use core::fmt::{self, Write};
use core::mem::MaybeUninit;
use core::sync::atomic::{AtomicBool, Ordering};

use allocator_api2::boxed::Box;
use cortex_m_semihosting::hprintln;
use panic_semihosting as _; // a panic prints its message and exits with a failure
use rtarena::pages::{Budget, PoolPages, RegionPages, SharedPages};
use rtarena::{Arena, CriticalSectionLock, GrowingTlsf, Slab, SyncArena};

/// Page size of both pools. 1 KiB pages let a slab serve objects up to
/// 448 bytes; the example's largest is a 256-byte `Vec` buffer.
const PAGE: usize = 1024;
/// The pool the tasks' budgets draw from (the LM3S6965 has 64 KiB of RAM).
const TASK_MEMORY: usize = 16 * PAGE;
/// The shared message heap's memory.
const MESSAGE_MEMORY: usize = 4 * PAGE;

const BATCHES: u32 = 48;
const CHANNELS: usize = 4;
const SAMPLES: usize = 64;
/// The sensor pends the interrupt after every this many batches.
const ALARM_EVERY: u32 = 8;
/// Batch sums `control` keeps.
const WINDOW: usize = 16;
/// Lines the logger's buffer has room for (more than its budget holds).
const LINES: usize = 32;

/// The heap each task owns: a slab over its budget of pages from the shared
/// task pool. Taking or giving back a page takes a critical section (the
/// tasks preempt each other); allocating from a page does not.
type TaskHeap = Arena<Slab<Budget<'static, PoolPages<'static>, CriticalSectionLock>>>;
type TaskPool = SharedPages<PoolPages<'static>, CriticalSectionLock>;

/// The message heap, shared by every task and the interrupt handler: a TLSF
/// that grows from its `static` memory a page at a time, behind a critical
/// section (a spin lock would deadlock when an interrupt handler preempts a
/// task that holds it).
type MessageHeap = SyncArena<GrowingTlsf<RegionPages>, CriticalSectionLock>;
/// A message: a box in the message heap, which moves from task to task.
type Mail = Box<Message, &'static MessageHeap>;

/// What the tasks send each other.
#[derive(Clone, Copy)]
enum Message {
    /// One batch, summed per channel.
    Summary { batch: u32, sums: [i32; CHANNELS] },
    /// From the interrupt handler.
    Alarm,
    /// The last message: the sender has finished and reported.
    Done,
}

static mut MESSAGE_BYTES: [MaybeUninit<u8>; MESSAGE_MEMORY] =
    [MaybeUninit::uninit(); MESSAGE_MEMORY];

// Linking `alloc` (allocator-api2's `Box` and `Vec` and hashbrown build on
// it) requires a global allocator, so the message heap is also that: a
// stray `alloc::boxed::Box::new` lands in a bounded heap and shows in its
// numbers. Everything below names its heap explicitly.
#[global_allocator]
static MESSAGES: MessageHeap = SyncArena::new(GrowingTlsf::new(
    // SAFETY: `MESSAGE_BYTES` is a `static`, valid for ever; nothing but
    // `MESSAGES` names it, and `&raw mut` makes no reference to it.
    unsafe { RegionPages::new(&raw mut MESSAGE_BYTES, PAGE) },
));

/// Cleared by any check that fails; the exit status reports it.
static ALL_HELD: AtomicBool = AtomicBool::new(true);

fn check(held: bool, what: &str) {
    if !held {
        hprintln!("CHECK FAILED: {}", what);
        ALL_HELD.store(false, Ordering::Relaxed);
    }
}

#[rtic::app(device = lm3s6965, dispatchers = [SSI0, QEI0, GPIOA])]
mod app {
    use super::*;
    use allocator_api2::vec::Vec;
    use cortex_m_semihosting::debug;
    use hashbrown::HashMap;
    use lm3s6965::Interrupt;
    use rtic_sync::channel::{Receiver, Sender};
    use rtic_sync::make_channel;

    /// Channel capacity. A receiving task runs at a higher priority than the
    /// task sending to it, so a queue seldom holds more than one message.
    const CAP: usize = 4;

    #[shared]
    struct Shared {}

    #[local]
    struct Local {
        sensor_heap: TaskHeap,
        control_heap: TaskHeap,
        logger_heap: TaskHeap,
        to_control: Sender<'static, Mail, CAP>,
        alarm_to_control: Sender<'static, Mail, CAP>,
        control_inbox: Receiver<'static, Mail, CAP>,
        to_logger: Sender<'static, Mail, CAP>,
        logger_inbox: Receiver<'static, Mail, CAP>,
    }

    // `init`'s local resources are `&'static mut`: memory for the task
    // pool, and a place for the `SharedPages` the budgets borrow for ever.
    #[init(local = [
        task_memory: [MaybeUninit<u8>; TASK_MEMORY] = [MaybeUninit::uninit(); TASK_MEMORY],
        task_pool: Option<TaskPool> = None,
    ])]
    fn init(cx: init::Context) -> (Shared, Local) {
        let pages = PoolPages::new(cx.local.task_memory, PAGE).expect("task pool");
        let pool: &'static TaskPool = cx.local.task_pool.insert(SharedPages::new(pages));
        // Each budget caps its heap, whatever the others do. The logger's is
        // deliberately small.
        let heap = |max_pages| Arena::new(Slab::new(pool.budget(max_pages)).expect("slab"));

        let (to_control, control_inbox) = make_channel!(Mail, CAP);
        let (to_logger, logger_inbox) = make_channel!(Mail, CAP);
        let alarm_to_control = to_control.clone();

        sensor::spawn().unwrap();
        control::spawn().unwrap();
        logger::spawn().unwrap();
        (
            Shared {},
            Local {
                sensor_heap: heap(4),
                control_heap: heap(4),
                logger_heap: heap(2),
                to_control,
                alarm_to_control,
                control_inbox,
                to_logger,
                logger_inbox,
            },
        )
    }

    #[task(priority = 1, local = [sensor_heap, to_control])]
    async fn sensor(cx: sensor::Context) {
        let heap = &*cx.local.sensor_heap;
        for batch in 0..BATCHES {
            let mut samples = Vec::with_capacity_in(SAMPLES, heap);
            samples.extend((0..SAMPLES).map(|i| sample(batch, i)));
            let mut per_channel = HashMap::new_in(heap);
            for (i, value) in samples.iter().enumerate() {
                *per_channel.entry(i % CHANNELS).or_insert(0) += value;
            }
            let mut sums = [0; CHANNELS];
            for (channel, sum) in per_channel {
                sums[channel] = sum;
            }
            let summary = Box::new_in(Message::Summary { batch, sums }, &MESSAGES);
            check(
                cx.local.to_control.send(summary).await.is_ok(),
                "control receives",
            );
            if batch % ALARM_EVERY == ALARM_EVERY - 1 {
                // The handler (priority 4) runs at once, before this returns.
                rtic::pend(Interrupt::UART0);
            }
        }
        report("sensor", 1, cx.local.sensor_heap, 0);
        // Report first: `Done` travels down the line and the logger ends
        // the program when it gets it (control and the logger, at higher
        // priorities, run before `send` returns).
        let done = Box::new_in(Message::Done, &MESSAGES);
        check(
            cx.local.to_control.send(done).await.is_ok(),
            "control receives",
        );
    }

    /// An interrupt handler allocating from the shared heap. It must not
    /// panic or wait: `try_new_in` and `try_send`, and an alarm that finds
    /// no room is dropped (and counted missing by `control`).
    #[task(binds = UART0, priority = 4, local = [alarm_to_control])]
    fn uart0(cx: uart0::Context) {
        if let Ok(alarm) = Box::try_new_in(Message::Alarm, &MESSAGES) {
            // On `Err` the returned alarm is dropped here, freeing its block.
            let _ = cx.local.alarm_to_control.try_send(alarm);
        }
    }

    #[task(priority = 3, local = [control_heap, control_inbox, to_logger])]
    async fn control(cx: control::Context) {
        let heap = &*cx.local.control_heap;
        let mut totals = HashMap::new_in(heap);
        let mut window = Vec::with_capacity_in(WINDOW, heap);
        let (mut summaries, mut alarms) = (0, 0);
        while let Ok(mail) = cx.local.control_inbox.recv().await {
            match *mail {
                Message::Summary { sums, .. } => {
                    for (channel, sum) in sums.into_iter().enumerate() {
                        *totals.entry(channel).or_insert(0i64) += i64::from(sum);
                    }
                    if window.len() == window.capacity() {
                        window.remove(0);
                    }
                    window.push(sums.iter().sum::<i32>());
                    summaries += 1;
                }
                Message::Alarm => {
                    alarms += 1;
                    continue; // dropping `mail` frees it from control's context
                }
                Message::Done => {
                    let expected = expected_totals();
                    let totals_held = (0..CHANNELS).all(|c| totals.get(&c) == Some(&expected[c]));
                    check(totals_held, "control's totals match the samples");
                    check(summaries == BATCHES, "control got every summary");
                    check(alarms == BATCHES / ALARM_EVERY, "control got every alarm");
                    drop((totals, window));
                    report("control", 3, cx.local.control_heap, 0);
                    hprintln!(
                        "  control: {} summaries, {} alarms from the interrupt handler",
                        summaries,
                        alarms
                    );
                    let forwarded = cx.local.to_logger.send(mail).await;
                    check(forwarded.is_ok(), "logger receives");
                    return;
                }
            }
            // The box itself moves on; the logger frees it.
            check(
                cx.local.to_logger.send(mail).await.is_ok(),
                "logger receives",
            );
        }
        check(false, "control's inbox stays open until Done");
    }

    #[task(priority = 2, local = [logger_heap, logger_inbox])]
    async fn logger(cx: logger::Context) {
        let heap = &*cx.local.logger_heap;
        let mut lines: Vec<Box<Line, _>, _> = Vec::with_capacity_in(LINES, heap);
        let (mut written, mut flushes, mut budget_hits) = (0, 0, 0);
        while let Ok(mail) = cx.local.logger_inbox.recv().await {
            let Message::Summary { batch, sums } = *mail else {
                break; // Done
            };
            let line = match Box::try_new_in(Line::default(), heap) {
                Ok(line) => Some(line),
                Err(_) => {
                    // Out of budget: write out the buffered lines, which
                    // frees their slots, and retry.
                    budget_hits += 1;
                    written += flush(&mut lines, &mut flushes);
                    Box::try_new_in(Line::default(), heap).ok()
                }
            };
            let Some(mut line) = line else {
                check(false, "a retry after a flush succeeds");
                continue;
            };
            let _ = write!(line, "batch {batch:2}: {sums:?}");
            if lines.len() == lines.capacity() {
                written += flush(&mut lines, &mut flushes);
            }
            lines.push(line);
        }
        written += flush(&mut lines, &mut flushes);
        drop(lines);

        check(budget_hits > 0, "the logger ran into its budget");
        check(written == BATCHES as usize, "the logger wrote every line");
        // Its only failures were the budget hits.
        report("logger", 2, cx.local.logger_heap, budget_hits);
        hprintln!(
            "  logger: {} lines written in {} flushes, {} of them forced by the budget",
            written,
            flushes,
            budget_hits
        );

        // Every message has reached its last reader and been dropped; the
        // other tasks have reported.
        let m = MESSAGES.stats();
        hprintln!(
            "messages (shared SyncArena, critical section): {} allocated, peak {} B of {} B, {} failed, {} live",
            m.allocations,
            m.peak_in_use,
            MESSAGE_MEMORY,
            m.failures,
            m.live()
        );
        let sent = u64::from(BATCHES + BATCHES / ALARM_EVERY + 1);
        check(m.allocations == sent, "every message came from MESSAGES");
        check(m.live() == 0 && m.failures == 0, "messages all freed");
        check(MESSAGES.check().is_ok(), "the message heap is intact");

        let ok = ALL_HELD.load(Ordering::Relaxed);
        hprintln!(
            "{}",
            if ok {
                "all checks held"
            } else {
                "SOME CHECKS FAILED"
            }
        );
        debug::exit(if ok {
            debug::EXIT_SUCCESS
        } else {
            debug::EXIT_FAILURE
        });
    }

    /// Writes the buffered lines out (a real logger would send them on a
    /// UART; this prints the last) and frees them. Returns how many.
    fn flush(lines: &mut Vec<Box<Line, &TaskHeap>, &TaskHeap>, flushes: &mut u32) -> usize {
        let Some(last) = lines.last() else {
            return 0;
        };
        hprintln!(
            "  logger: flush {} lines, last \"{}\"",
            lines.len(),
            last.as_str()
        );
        *flushes += 1;
        let n = lines.len();
        lines.clear();
        n
    }
}

/// Sample `i` of batch `batch`: a made-up signal, the same on every run.
fn sample(batch: u32, i: usize) -> i32 {
    (batch as i32 * 7 + i as i32 * 13) % 101 - 50
}

/// What control's totals must be: the samples summed per channel directly.
fn expected_totals() -> [i64; CHANNELS] {
    let mut totals = [0; CHANNELS];
    for batch in 0..BATCHES {
        for i in 0..SAMPLES {
            totals[i % CHANNELS] += i64::from(sample(batch, i));
        }
    }
    totals
}

/// A log line: text in a fixed 60-byte buffer (64 bytes in all, one slab
/// class), cut short if longer.
struct Line {
    len: usize,
    text: [u8; 60],
}

impl Default for Line {
    fn default() -> Self {
        Line {
            len: 0,
            text: [0; 60],
        }
    }
}

impl Line {
    fn as_str(&self) -> &str {
        core::str::from_utf8(&self.text[..self.len]).unwrap_or("?")
    }
}

impl Write for Line {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let n = s.len().min(self.text.len() - self.len);
        self.text[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

/// Prints a task's heap numbers and checks that the heap is intact, that
/// everything the task allocated has been freed, and that it failed
/// `expected_failures` times, each a page its budget refused.
fn report(name: &str, priority: u8, heap: &mut TaskHeap, expected_failures: u64) {
    let s = heap.stats();
    let budget = heap.get_mut().source();
    hprintln!(
        "{:>7} (priority {}): peak {} of {} pages, {} allocations, {} failed ({} pages refused by the budget), {} live",
        name,
        priority,
        budget.peak_pages(),
        budget.max_pages(),
        s.allocations,
        s.failures,
        budget.refused(),
        s.live()
    );
    let planned = s.failures == expected_failures && budget.refused() == expected_failures;
    check(planned, "a task failed only as planned, on its budget");
    check(s.live() == 0, "a task freed everything");
    check(heap.check().is_ok(), "a task heap is intact");
}
