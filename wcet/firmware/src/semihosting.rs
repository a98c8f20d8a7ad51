//! The two semihosting calls the firmware needs: write text to QEMU's
//! standard output, and exit with a status.

use core::arch::asm;
use core::fmt;

const SYS_WRITE0: usize = 0x04;
const SYS_EXIT: usize = 0x18;
const ADP_STOPPED_APPLICATION_EXIT: usize = 0x20026;
const ADP_STOPPED_RUN_TIME_ERROR: usize = 0x20023;

/// # Safety
/// `arg` is what operation `op` expects (a pointer to a NUL-terminated
/// string for `SYS_WRITE0`, a reason code for `SYS_EXIT`).
unsafe fn call(op: usize, arg: usize) {
    // SAFETY: `bkpt 0xab` is the semihosting trap; QEMU (started with
    // `-semihosting`) serves it and returns. It reads only what `arg`
    // points to (caller) and writes r0.
    unsafe {
        asm!("bkpt 0xab", inout("r0") op => _, in("r1") arg, options(nostack, preserves_flags));
    }
}

/// Ends the emulation: status 0 when `ok`, 1 otherwise.
pub fn exit(ok: bool) -> ! {
    let reason = if ok {
        ADP_STOPPED_APPLICATION_EXIT
    } else {
        ADP_STOPPED_RUN_TIME_ERROR
    };
    // SAFETY: `SYS_EXIT` takes a reason code.
    unsafe { call(SYS_EXIT, reason) };
    // QEMU has stopped; hardware without a debugger would get here.
    loop {
        core::hint::spin_loop();
    }
}

/// Standard output, buffered: one trap per line instead of one per
/// formatted piece (the harness prints a line per measured call).
pub struct Out {
    buf: [u8; 128],
    len: usize,
}

impl Out {
    pub const fn new() -> Self {
        Out {
            buf: [0; 128],
            len: 0,
        }
    }

    pub fn flush(&mut self) {
        if self.len == 0 {
            return;
        }
        self.buf[self.len] = 0;
        // SAFETY: `buf[..=len]` is a NUL-terminated string.
        unsafe { call(SYS_WRITE0, self.buf.as_ptr() as usize) };
        self.len = 0;
    }
}

impl fmt::Write for Out {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for &byte in s.as_bytes() {
            // Keep one byte for the terminating NUL.
            if self.len == self.buf.len() - 1 {
                self.flush();
            }
            self.buf[self.len] = byte;
            self.len += 1;
            if byte == b'\n' {
                self.flush();
            }
        }
        Ok(())
    }
}
