//! Guest mode on aarch64: the sentry's own thread runs at EL1, so an application's syscalls
//! and faults come back to it there with no VM exit.
//!
//! Entering: the thread reads CurrentEL, which traps at EL0 (SIGILL). The handler, on the
//! thread's alternate signal stack, takes a vCPU, writes the interrupted registers (general,
//! FP/SIMD, TPIDR_EL0) into its frame and runs it: the entry code `eret`s to EL1 at the same
//! instruction, with the sentry's own TTBR0 table, so the thread goes on exactly where it
//! was, now at EL1, where the read succeeds.
//!
//! Leaving: the sentry's `svc` at EL1 (a host call, or the leave call) saves its whole state
//! into the frame and exits; the handler copies that state into the signal frame (rewinding
//! over a host call's `svc`) and returns, so the thread carries on natively: the host call
//! runs on the host. Nothing else leaves at an arbitrary point: a fault on host memory is
//! mapped (in 2 MiB pieces) and the vCPU resumed at once; a kick while the sentry runs marks
//! the frame, and the thread leaves at its next switch. So code between entering and the
//! switch's return can rely on staying at EL1 (no host calls there).
//!
//! Page tables: the sentry's table maps the host process's memory at the same addresses
//! (EL1 only, ASID 0), piece by piece as it is touched, from page-table pages of its own (so
//! the fault path never waits for a lock the faulting thread may hold); the host's [vdso] and
//! [vvar] stay out (the guest's counter is not the host's): a call into them faults, and the
//! thread runs it natively.
//!
//! Pointer authentication: a thread's code may sign a return address in one mode and
//! authenticate it in the other. The host's keys cannot be read from EL0 (so the guest cannot
//! be given them), so both modes run with the keys disabled: `GuestMode::run` turns the
//! thread's keys off on the host (PR_PAC_SET_ENABLED_KEYS), and EL1 runs with SCTLR_EL1.EnIx
//! clear; the PAC instructions are then NOPs in both. Frames signed before `run` on the same
//! stack would not authenticate after it; the sentry calls `run` at the top of its threads.

use std::cell::{Cell, RefCell};
use std::sync::{Arc, Mutex, Once};

use kvm_bindings::kvm_run;
use kvm_ioctls::VcpuExit;
use ring0::aarch64::layout::{CODE_VA, LEAVE_SVC, frame_va, kind};
use ring0::aarch64::syndrome::{class, ec};
use ring0::aarch64::{sysregs, vectors};
use ring0::pagetables::aarch64::{Aarch64, ttbr_value};
use ring0::pagetables::{PageTables, Perms};

use super::frame::{Frame, Saved};
use super::machine::{EXIT_GPA, Machine};
use super::vcpu::{Vcpu, core_reg};
use crate::error::{Error, Result};
use crate::stats::ExitReason;
use crate::tables::TablePool;

/// Host memory is mapped into the sentry's table in pieces of this size, aligned.
const PIECE: u64 = 2 << 20;
/// Exception classes of the sentry's own aborts.
const INSTRUCTION_ABORT_SAME: u8 = 0x21;
const DATA_ABORT_SAME: u8 = 0x25;
/// PSTATE mode bits: EL0t.
const PSTATE_MODE_MASK: u64 = 0xf;
/// The magic of the FP/SIMD record in a signal frame's `__reserved` area.
const FPSIMD_MAGIC: u32 = 0x4650_8001;
/// The alternate signal stack the entry handler runs on (the thread's own stack is in use by
/// the guest meanwhile).
const ALT_STACK_SIZE: usize = 256 << 10;
/// Page-table memory of the sentry's table (reserved; backed as used).
const TABLE_MEMORY: u64 = 64 << 20;

core::arch::global_asm!(
    ".pushsection .text.ringfence_a64_probe, \"ax\"",
    // extern "C" fn() -> u64: CurrentEL (4 at EL1). At EL0 it traps; the entry handler puts
    // the thread in guest mode (it re-executes this at EL1), or steps over it with x0 = 0.
    ".globl ringfence_a64_probe",
    "ringfence_a64_probe:",
    "mrs x0, currentel",
    "ret",
    // extern "C" fn(): leave guest mode (only ever called at EL1).
    ".globl ringfence_a64_leave",
    "ringfence_a64_leave:",
    "svc #{leave}",
    "ret",
    ".popsection",
    leave = const LEAVE_SVC,
);

unsafe extern "C" {
    fn ringfence_a64_probe() -> u64;
    fn ringfence_a64_leave();
}

/// Guest mode for one machine.
pub struct GuestMode {
    machine: Arc<Machine>,
    /// The sentry's own table (TTBR0 at EL1) and the pages it is built from. Only entry
    /// handlers (on the host) take this lock, never code in the guest.
    table: Mutex<(PageTables<Aarch64>, TablePool)>,
    ttbr0: u64,
}

thread_local! {
    /// The guest mode this thread runs under (`GuestMode::run`).
    static GUEST: Cell<*const GuestMode> = const { Cell::new(std::ptr::null()) };
    /// While in guest mode (and in the entry handler around `KVM_RUN`): the vCPU this thread
    /// holds, its index and `kvm_run`.
    static VCPU: Cell<Option<(usize, *mut kvm_run)>> = const { Cell::new(None) };
    /// A kick came while the thread held no vCPU.
    static KICKED: Cell<bool> = const { Cell::new(false) };
    /// Why the last entry failed.
    static FAILURE: RefCell<Option<Error>> = const { RefCell::new(None) };
    static ALT_STACK: RefCell<Option<AltStack>> = const { RefCell::new(None) };
}

impl GuestMode {
    /// Guest mode on `machine`: the sentry's table starts empty and fills as it runs.
    pub fn new(machine: &Arc<Machine>) -> Result<Arc<GuestMode>> {
        let mut pool = TablePool::new(TABLE_MEMORY, false)?;
        machine.add_region(pool.region_mut())?;
        let table =
            PageTables::<Aarch64>::new(&mut pool).map_err(|e| Error::PageTables(e.to_string()))?;
        install_entry_handler();
        Ok(Arc::new(GuestMode {
            machine: machine.clone(),
            ttbr0: ttbr_value(table.root(), 0),
            table: Mutex::new((table, pool)),
        }))
    }

    /// Whether the calling thread is inside [`GuestMode::run`].
    pub fn in_run() -> bool {
        !GUEST.with(Cell::get).is_null()
    }

    /// Runs `f` on the calling thread under guest mode: each `switch_in_guest` enters it, and
    /// the thread leaves it for host calls and when `f` returns.
    pub fn run(&self, f: impl FnOnce()) -> Result<()> {
        ALT_STACK.with(|s| {
            let mut s = s.borrow_mut();
            if s.is_none() {
                *s = Some(AltStack::new()?);
            }
            Ok::<(), Error>(())
        })?;
        disable_pointer_authentication();
        let outer = GUEST.with(|g| g.replace(std::ptr::from_ref(self)));
        f();
        leave();
        GUEST.with(|g| g.set(outer));
        Ok(())
    }

    /// Puts the calling thread in guest mode if it is not; the index of the vCPU it holds.
    pub(crate) fn enter(&self) -> Result<usize> {
        if GUEST.with(Cell::get) != std::ptr::from_ref(self) {
            return Err(Error::GuestFailure("enter outside GuestMode::run".into()));
        }
        // SAFETY: the probe only reads CurrentEL (or traps to the entry handler, which
        // resumes the thread at it, in the guest or after it).
        if unsafe { ringfence_a64_probe() } != 4 {
            let why = FAILURE.with(|f| f.borrow_mut().take());
            return Err(why.unwrap_or_else(|| Error::GuestFailure("could not enter".into())));
        }
        VCPU.with(Cell::get)
            .map(|(index, _)| index)
            .ok_or_else(|| Error::GuestFailure("in guest mode without a vCPU".into()))
    }

    pub(crate) fn machine(&self) -> &Arc<Machine> {
        &self.machine
    }

    /// Called by the entry handler with the thread's interrupted state: runs it in guest
    /// mode until it leaves, and leaves `mc` as the state to go on with on the host.
    fn run_vcpu(&self, mc: &mut libc::mcontext_t) -> Result<()> {
        // Where it enters: code, stack and thread-local storage (the rest as it faults).
        for addr in [mc.pc, mc.sp, tpidr_el0()] {
            if !self.map(addr) {
                return Err(Error::GuestFailure(format!(
                    "cannot map host memory at {addr:#x} into the sentry's table"
                )));
            }
        }
        let machine = &self.machine;
        let mut vcpu = machine.pool.acquire(None);
        let mut ran = false;
        let result = self.run_acquired(&mut vcpu, mc, &mut ran);
        if let Err(e) = &result {
            vcpu.needs_reset = true;
            machine.forget_tlb(vcpu.index);
            if ran {
                // The thread ran in the guest and its state there is lost: going on natively
                // from the probe would run it twice. A bug of ringfence, never the
                // application's doing.
                eprintln!("ringfence: guest mode failed while the sentry ran in it: {e}");
                std::process::abort();
            }
        }
        VCPU.with(|v| v.set(None));
        machine.pool.release(vcpu);
        result
    }

    fn run_acquired(
        &self,
        vcpu: &mut Vcpu,
        mc: &mut libc::mcontext_t,
        ran: &mut bool,
    ) -> Result<()> {
        let frame_ptr = self.machine.frame(vcpu.index);
        {
            // SAFETY: this thread holds the vCPU, which is not running: the frame is ours.
            let frame = unsafe { &mut *frame_ptr };
            let sentry = &mut frame.el1;
            sentry.x = mc.regs;
            sentry.sp = mc.sp;
            sentry.elr = mc.pc;
            sentry.spsr = sysregs::PSTATE_EL1H_MASKED | (mc.pstate & sysregs::PSTATE_USER_MASK);
            sentry.tpidr = tpidr_el0();
            if let Some(fp) = fpsimd(mc) {
                // SAFETY: `fp` points at the FP/SIMD record of the live signal frame.
                unsafe { read_fpsimd(fp, sentry) };
            }
            frame.sentry_ttbr0 = self.ttbr0;
            frame.enter = 1;
            frame.leave = 0;
        }
        if vcpu.needs_reset {
            vcpu.reset_to_dispatch()?;
        }
        let run = std::ptr::from_mut(vcpu.fd.get_kvm_run());
        VCPU.with(|v| v.set(Some((vcpu.index, run))));
        if KICKED.with(|k| k.replace(false)) {
            vcpu.fd.set_kvm_immediate_exit(1);
        }
        let exits = &self.machine.exits;
        loop {
            *ran = true;
            match vcpu.fd.run() {
                Ok(VcpuExit::MmioWrite(gpa, _)) if gpa & !0xfff == EXIT_GPA => {}
                Ok(VcpuExit::Intr) => {
                    exits.count(ExitReason::Interrupted);
                    self.kicked(vcpu, frame_ptr)?;
                    continue;
                }
                Err(e) if e.errno() == libc::EINTR => {
                    exits.count(ExitReason::Interrupted);
                    self.kicked(vcpu, frame_ptr)?;
                    continue;
                }
                Ok(other) => {
                    let what = format!("{other:?}");
                    exits.count(ExitReason::Other);
                    return Err(Error::GuestFailure(what));
                }
                Err(e) => {
                    exits.count(ExitReason::Other);
                    return Err(Error::GuestFailure(format!("KVM_RUN: {e}")));
                }
            }
            exits.count(ExitReason::Mmio);
            // SAFETY: the vCPU stopped at its exit write: the frame is ours again.
            let frame = unsafe { &mut *frame_ptr };
            let sentry = &frame.el1;
            if sentry.kind >= kind::CURRENT_EL_END {
                return Err(Error::GuestFailure(format!(
                    "an application trap (vector {}) left guest mode",
                    sentry.kind
                )));
            }
            let esr_class = class(sentry.esr);
            let pc = match esr_class {
                ec::SVC64 if sentry.esr & 0xffff == u64::from(LEAVE_SVC) => sentry.elr,
                // A host call: run the `svc` again, natively.
                ec::SVC64 => sentry.elr - 4,
                INSTRUCTION_ABORT_SAME | DATA_ABORT_SAME if self.map(sentry.far) => {
                    // Go on in the guest at the faulting instruction.
                    frame.enter = 1;
                    continue;
                }
                _ => sentry.elr,
            };
            mc.regs = sentry.x;
            mc.sp = sentry.sp;
            mc.pc = pc;
            mc.pstate = (mc.pstate & !sysregs::PSTATE_USER_MASK)
                | (sentry.spsr & sysregs::PSTATE_USER_MASK);
            if let Some(fp) = fpsimd(mc) {
                // SAFETY: `fp` points at the FP/SIMD record of the live signal frame.
                unsafe { write_fpsimd(fp, &frame.el1) };
            }
            return Ok(());
        }
    }

    /// A kick stopped the vCPU (`KVM_RUN` returned EINTR): take the application out through
    /// the IRQ vector, and ask the thread to leave guest mode at its next chance (LEAVE).
    fn kicked(&self, vcpu: &mut Vcpu, frame_ptr: *mut Frame) -> Result<()> {
        vcpu.fd.set_kvm_immediate_exit(0);
        let pc = vcpu.get(core_reg::PC)?;
        let offset = pc.wrapping_sub(CODE_VA);
        if offset < 4096 {
            // In the entry code: it checks LEAVE on its way to the application and back.
            // SAFETY: the vCPU is stopped; one word of the frame.
            unsafe { (*frame_ptr).leave = 1 };
            if (vectors::resume_offset()..=vectors::eret_offset()).contains(&offset) {
                // Loading the application: start the load again, which sees LEAVE first.
                vcpu.set(core_reg::PC, CODE_VA + vectors::resume_offset())?;
            }
            return Ok(());
        }
        // SAFETY: as above.
        unsafe { (*frame_ptr).leave = 1 };
        let pstate = vcpu.get(core_reg::PSTATE)?;
        if pstate & PSTATE_MODE_MASK != 0 {
            // The sentry: it leaves at its next switch (or host call), never here.
            return Ok(());
        }
        // The application: through the IRQ vector, so its switch returns "interrupted" (and
        // then the thread leaves).
        vcpu.raise(kind::LOWER_IRQ, pc, pstate)
    }

    /// Maps the piece of host memory around `addr` into the sentry's table (if it is not
    /// already); false if the host has nothing there the guest may map. Runs in the entry
    /// handler while the thread's guest code is stopped anywhere, so it allocates nothing and
    /// takes only locks that code never holds (the table's, the physical map's).
    fn map(&self, addr: u64) -> bool {
        let mut guard = self.table.lock().unwrap_or_else(|e| e.into_inner());
        let (table, pool) = &mut *guard;
        if table.translate(pool, addr & !0xfff).is_some() {
            return true;
        }
        let piece = addr & !(PIECE - 1);
        let own = self
            .machine
            .own_regions()
            .into_iter()
            .find(|&(hva, size, _)| addr.wrapping_sub(hva) < size);
        let (start, end, gpa, perms) = match own {
            Some((hva, size, gpa)) => {
                let start = piece.max(hva);
                let end = (piece + PIECE).min(hva + size);
                (start, end, gpa + (start - hva), Perms::READ | Perms::WRITE)
            }
            None => {
                let Some((start, end, perms)) = find_host_range(addr) else {
                    return false;
                };
                let start = piece.max(start);
                let end = (piece + PIECE).min(end);
                let Ok(gpa) = self.machine.add_host_slot(start, end - start) else {
                    return false;
                };
                (start, end, gpa, perms)
            }
        };
        table.map(pool, start, gpa, end - start, perms).is_ok()
    }

    /// The guest-mode switch's frame, for the vCPU this thread holds.
    pub(crate) fn frame(&self, vcpu: usize) -> *mut Frame {
        self.machine.frame(vcpu)
    }
}

/// The kick signal's handler: the vCPU this thread runs (or is about to run) stops at once.
pub(crate) fn on_kick() {
    match VCPU.with(Cell::get) {
        // SAFETY: `run` is the kvm_run mapping of the vCPU this thread holds, live while it
        // holds it; the volatile one-byte store is how KVM documents kicks.
        Some((_, run)) => unsafe { std::ptr::write_volatile(&raw mut (*run).immediate_exit, 1) },
        None => KICKED.with(|k| k.set(true)),
    }
}

/// Turns the calling thread's pointer-authentication keys off (see the module's comment);
/// nothing to do where the CPU or kernel has none.
fn disable_pointer_authentication() {
    let all =
        libc::PR_PAC_APIAKEY | libc::PR_PAC_APIBKEY | libc::PR_PAC_APDAKEY | libc::PR_PAC_APDBKEY;
    // SAFETY: the prctl changes only which keys the thread's later PAC instructions use.
    let r = unsafe { libc::prctl(libc::PR_PAC_SET_ENABLED_KEYS, all, 0, 0, 0) };
    if r != 0 {
        tracing::debug!(
            "PR_PAC_SET_ENABLED_KEYS: {}",
            std::io::Error::last_os_error()
        );
    }
}

/// Forgets kicks this thread got while it held no vCPU (they were for an earlier switch).
pub(crate) fn forget_kicks() {
    KICKED.with(|k| k.set(false));
}

/// Leaves guest mode if the thread is in it (it goes on natively).
pub(crate) fn leave() {
    if VCPU.with(Cell::get).is_some() {
        // SAFETY: at EL1 (the thread holds a vCPU, so it is in guest mode) the `svc` is an
        // exception the entry handler turns into going on natively after it.
        unsafe { ringfence_a64_leave() };
    }
}

/// Calls the entry code's guest-mode switch (at EL1) for the frame of vCPU `vcpu`, the one
/// this thread holds: runs the application the frame holds until its next exception; the
/// vector that took it.
pub(crate) fn switch(vcpu: usize) -> u64 {
    let at = CODE_VA + vectors::guest_switch_offset();
    // SAFETY: in guest mode the code page is mapped at CODE_VA (kernel upper half) and its
    // switch has this signature; it returns with the sentry's callee-saved state intact. The
    // frame is passed at its upper-half address, which stays mapped while TTBR0 holds the
    // application's table.
    let f: extern "C" fn(u64) -> u64 = unsafe { std::mem::transmute(at as usize) };
    f(frame_va(vcpu))
}

/// The host range of a `/proc/self/maps` line that contains `addr`, with the permissions
/// the sentry's table gives it. None for special mappings that must stay on the host.
fn host_range(line: &[u8], addr: u64) -> Option<(u64, u64, Perms)> {
    let mut fields = line
        .split(|&b| b == b' ')
        .filter(|f| !f.is_empty())
        .map(|f| std::str::from_utf8(f).unwrap_or(""));
    let (start, end) = fields.next()?.split_once('-')?;
    let start = u64::from_str_radix(start, 16).ok()?;
    let end = u64::from_str_radix(end, 16).ok()?;
    if !(start..end).contains(&addr) {
        return None;
    }
    let flags = fields.next()?.as_bytes();
    let name = fields.nth(3).unwrap_or("");
    if name.starts_with("[v") || name.starts_with("/dev/") || name.starts_with("anon_inode:") {
        return None;
    }
    let mut perms = Perms::empty();
    perms.set(Perms::READ, flags.first() == Some(&b'r'));
    perms.set(Perms::WRITE, flags.get(1) == Some(&b'w'));
    perms.set(Perms::EXECUTE, flags.get(2) == Some(&b'x'));
    (!perms.is_empty()).then_some((start, end, perms))
}

/// The `/proc/self/maps` range that contains `addr`, read with a fixed buffer (no
/// allocation: see `GuestMode::map`).
fn find_host_range(addr: u64) -> Option<(u64, u64, Perms)> {
    // SAFETY: opening a path with a NUL-terminated name.
    let fd = unsafe {
        libc::open(
            c"/proc/self/maps".as_ptr(),
            libc::O_RDONLY | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return None;
    }
    let mut buf = [0u8; 4096];
    let mut len = 0;
    let mut found = None;
    'read: loop {
        // SAFETY: reading into the unused tail of `buf`.
        let n = unsafe { libc::read(fd, buf[len..].as_mut_ptr().cast(), buf.len() - len) };
        if n <= 0 {
            break;
        }
        len += n as usize;
        let mut at = 0;
        while let Some(nl) = buf[at..len].iter().position(|&b| b == b'\n') {
            if let Some(range) = host_range(&buf[at..at + nl], addr) {
                found = Some(range);
                break 'read;
            }
            at += nl + 1;
        }
        buf.copy_within(at..len, 0);
        len -= at;
        if len == buf.len() {
            // A line longer than the buffer (a very long path): not one we can use.
            len = 0;
        }
    }
    // SAFETY: closing the descriptor opened above.
    unsafe { libc::close(fd) };
    found
}

fn tpidr_el0() -> u64 {
    let v: u64;
    // SAFETY: reading the thread pointer has no side effects.
    unsafe { core::arch::asm!("mrs {}, tpidr_el0", out(reg) v, options(nomem, nostack)) };
    v
}

/// The FP/SIMD record of a signal frame's context, if there is one.
fn fpsimd(mc: &mut libc::mcontext_t) -> Option<*mut u8> {
    let reserved_at = (std::mem::offset_of!(libc::mcontext_t, pstate) + 8).next_multiple_of(16);
    let base = std::ptr::from_mut(mc)
        .cast::<u8>()
        .wrapping_add(reserved_at);
    let mut at = 0usize;
    while at + 8 <= 4096 {
        let head = base.wrapping_add(at);
        // SAFETY: `head` is inside the 4096-byte `__reserved` area of the signal frame.
        let (magic, size) = unsafe {
            (
                head.cast::<u32>().read_unaligned(),
                head.add(4).cast::<u32>().read_unaligned(),
            )
        };
        if magic == FPSIMD_MAGIC && size >= 528 && at + 528 <= 4096 {
            return Some(head);
        }
        if magic == 0 || size < 8 {
            return None;
        }
        at += size as usize;
    }
    None
}

/// FP/SIMD registers from a signal frame's record into the vCPU frame.
///
/// # Safety
/// `fp` points at a whole `fpsimd_context` record (528 bytes).
unsafe fn read_fpsimd(fp: *mut u8, frame: &mut Saved) {
    // SAFETY: the record's layout: head (8), fpsr (4), fpcr (4), 32 vregs of 16 bytes.
    unsafe {
        frame.fpsr = u64::from(fp.add(8).cast::<u32>().read_unaligned());
        frame.fpcr = u64::from(fp.add(12).cast::<u32>().read_unaligned());
        for (i, v) in frame.v.iter_mut().enumerate() {
            *v = fp.add(16 + 16 * i).cast::<u128>().read_unaligned();
        }
    }
}

/// FP/SIMD registers from the vCPU frame into a signal frame's record.
///
/// # Safety
/// As [`read_fpsimd`].
unsafe fn write_fpsimd(fp: *mut u8, frame: &Saved) {
    // SAFETY: as in `read_fpsimd`.
    unsafe {
        fp.add(8).cast::<u32>().write_unaligned(frame.fpsr as u32);
        fp.add(12).cast::<u32>().write_unaligned(frame.fpcr as u32);
        for (i, v) in frame.v.iter().enumerate() {
            fp.add(16 + 16 * i).cast::<u128>().write_unaligned(*v);
        }
    }
}

/// A thread's alternate signal stack, for the entry handler.
struct AltStack {
    memory: Box<[u8]>,
}

impl AltStack {
    fn new() -> Result<AltStack> {
        let memory = vec![0u8; ALT_STACK_SIZE].into_boxed_slice();
        let ss = libc::stack_t {
            ss_sp: memory.as_ptr().cast_mut().cast(),
            ss_flags: 0,
            ss_size: memory.len(),
        };
        // SAFETY: the stack lives until `drop`, which disables it first.
        if unsafe { libc::sigaltstack(&ss, std::ptr::null_mut()) } != 0 {
            return Err(Error::GuestFailure(format!(
                "sigaltstack: {}",
                std::io::Error::last_os_error()
            )));
        }
        Ok(AltStack { memory })
    }
}

impl Drop for AltStack {
    fn drop(&mut self) {
        let ss = libc::stack_t {
            ss_sp: std::ptr::null_mut(),
            ss_flags: libc::SS_DISABLE,
            ss_size: 0,
        };
        // SAFETY: disabling the alternate stack before its memory goes.
        unsafe { libc::sigaltstack(&ss, std::ptr::null_mut()) };
        let _ = &self.memory;
    }
}

fn install_entry_handler() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: a zeroed sigaction is a valid start; the handler only acts on the probe's
        // own SIGILL and otherwise restores the default action.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction =
                on_sigill as extern "C" fn(i32, *mut libc::siginfo_t, *mut libc::c_void) as usize;
            sa.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(libc::SIGILL, &sa, std::ptr::null_mut());
        }
    });
}

extern "C" fn on_sigill(_: i32, _: *mut libc::siginfo_t, uc: *mut libc::c_void) {
    // SAFETY: the kernel passes the interrupted context, which the handler may change.
    let mc = unsafe { &mut (*uc.cast::<libc::ucontext_t>()).uc_mcontext };
    let guest = GUEST.with(Cell::get);
    if mc.pc != ringfence_a64_probe as *const () as u64 || guest.is_null() {
        // Not ours: the default action, when the instruction runs again.
        // SAFETY: restoring the default disposition of SIGILL.
        unsafe { libc::signal(libc::SIGILL, libc::SIG_DFL) };
        return;
    }
    // SAFETY: GUEST points at the guest mode whose `run` is on this thread's stack.
    let guest = unsafe { &*guest };
    if let Err(e) = guest.run_vcpu(mc) {
        FAILURE.with(|f| *f.borrow_mut() = Some(e));
        // Go on natively after the probe, which returns 0: "not entered".
        mc.regs[0] = 0;
        mc.pc += 4;
    }
}
