//! Guest mode ("bluepill"): the calling host thread goes on executing the same code, with the
//! same stack, heap and TLS, at guest ring 0 of the machine.
//!
//! Entering: [`GuestMode::run`] executes `ud2` in host mode; the `SIGILL` handler, on an
//! alternate stack, loads the interrupted registers into a vCPU whose page table maps the
//! sentry's host address space one to one (the lower half) below the machine's shared upper
//! half, and runs it from the instruction after the `ud2`.
//!
//! Leaving is transparent: a `syscall` at guest ring 0 reaches the syscall stub, which halts;
//! an exception (an access to host memory mapped after the table was built, an instruction
//! the guest CPU does not enable) reaches its stub on the interrupt stack, which halts. Either
//! way the handler copies the registers back into the signal frame, rewound to the syscall or
//! the faulting instruction, and returns: the host executes it natively and the thread goes
//! on in host mode. A signal for the thread ends `KVM_RUN` the same way, and so does an
//! instruction the software backend (which emulates ring 0) cannot emulate.
//!
//! Floating-point and vector registers travel with the thread both ways (`guest_fpu`).
//!
//! Applications: [`GuestMode::switch`], called inside `run`, loads the application's CR3
//! (with its PCID where the vCPU has PCIDs), FS and GS bases and FPU state through the
//! guest-mode entry page (`ring0::x86_64::guest_entry`) and `iretq`s to it; its syscalls and
//! exceptions come back to the sentry at ring 0 with no VM exit, and an exit while it runs
//! (a signal, a kick) comes back as `Trap::Interrupted`.
//!
//! vCPUs: a thread holds one only while it is in guest mode; every exit to host mode gives it
//! back to the pool, so threads blocked on the host hold none and more threads than vCPUs
//! all make progress. A vCPU that last ran another thread is set up again (its FS base).
//!
//! The table maps this process's host memory as `/proc/self/maps` lists it (ranges up to
//! 1 GiB, refreshed when a thread's stack is missing), the vDSO and its data where the vCPUs
//! read the host's TSC, and the memory file 2 MiB at a time as the sentry faults on it.

use std::cell::Cell;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Once};

use abi::x86_64::UserRegs;
use kvm_bindings::{Msrs, kvm_msr_entry, kvm_regs};
use kvm_ioctls::VcpuExit;
use ring0::Trap;
use ring0::pagetables::x86_64::X86_64;
use ring0::pagetables::{PageTables, Perms};
use ring0::x86_64::cpu::{CR3_NOFLUSH, MSR_KERNEL_GS_BASE, MSR_LSTAR};
use ring0::x86_64::exception::{self, GENERAL_PROTECTION, PAGE_FAULT};
use ring0::x86_64::guest_entry::{self, regs};
use ring0::x86_64::layout::{
    CODE_VA, GUEST_CODE_VA, GUEST_IDT_VA, GUEST_SYSCALL_OFFSET, SYSCALL_STUB_OFFSET, TRAMPOLINE_VA,
    USER_CS, USER_DS, USER_MAX, guest, per_cpu_va,
};

use super::address_space::{AddressSpace, Loadable};
use super::fpu::FpuSlot;
use super::guest_fpu::{FrameFpu, GuestFpu, SAVED_COMPONENTS};
use super::machine::Machine;
use super::vcpu::{Position, Vcpu};
use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::stats::ExitReason;

core::arch::global_asm!(
    ".pushsection .text.ringfence_guest_mode, \"ax\"",
    // Host mode: the trap that enters guest mode, which resumes at the `ret`.
    ".globl ringfence_guest_enter",
    "ringfence_guest_enter:",
    "ud2",
    "ret",
    // Guest mode: an exit back to host mode, which resumes at the `ret`.
    ".globl ringfence_guest_leave",
    "ringfence_guest_leave:",
    "hlt",
    "ret",
    ".popsection",
);

// `ringfence_guest_switch(regs: *const UserRegs, user_cr3, resume_stub, app_fpu, sentry_fpu,
// xsave) -> trap kind`, at guest ring 0 only: saves the sentry's callee-saved registers,
// stack, CR3 and FS base in the per-CPU page (through GS), swaps the FPU state (the sentry's
// into `sentry_fpu`, the application's from `app_fpu`, with XSAVE or FXSAVE), loads the
// application's FS and GS bases, builds its `iretq` frame on the per-CPU stack and goes
// through the resume stub. The entry code comes back to `ringfence_guest_switch_return`
// with the trap kind in RAX and the application's registers in the per-CPU page; the FPU
// swap back happens there, before any compiled code can touch a vector register (a `memcpy`
// ends in `vzeroupper`, for one). The memory the switch uses is touched before the ring
// check, so a fault on it (memory the table lacks) leaves guest mode while the switch can
// still say so.
core::arch::global_asm!(
    ".pushsection .text.ringfence_guest_mode, \"ax\"",
    ".globl ringfence_guest_switch",
    "ringfence_guest_switch:",
    "mov r11, [rsp + 8]",
    "mov al, [r11]",
    "mov al, [r11 + 23]",
    "mov al, [rdi]",
    "mov al, [rdi + {regs_last}]",
    "mov al, [rcx]",
    "mov al, [rcx + {fpu_last}]",
    "mov al, [r8]",
    "mov al, [r8 + {fpu_last}]",
    "mov al, [rsp - 128]",
    // Not at ring 0 (the thread left guest mode since its caller checked): nothing done.
    "mov rax, cs",
    "test al, 3",
    "jz 3f",
    "mov eax, {not_in_guest}",
    "ret",
    "3:",
    "push rbx",
    "push rbp",
    "push r12",
    "push r13",
    "push r14",
    "push r15",
    "push rcx",
    "push r8",
    "push r9",
    "push r11",
    "push rdi",
    "mov r10, rdx",
    "mov eax, {fpu_components}",
    "xor edx, edx",
    "test r9, r9",
    "jz 4f",
    "xsave64 [r8]",
    "xrstor64 [rcx]",
    "jmp 5f",
    "4:",
    "fxsave64 [r8]",
    "fxrstor64 [rcx]",
    "5:",
    "mov gs:[{sentry_rsp}], rsp",
    "lea rax, [rip + ringfence_guest_switch_return]",
    "mov gs:[{ret}], rax",
    "mov rax, cr3",
    // With PCIDs the way back keeps the sentry's translations: the kernel table only ever
    // gains entries.
    "mov rdx, cr4",
    "bt rdx, 17",
    "jnc 9f",
    "bts rax, 63",
    "9:",
    "mov gs:[{sentry_cr3}], rax",
    "mov gs:[{user_cr3}], rsi",
    "mov ecx, 0xc0000100",
    "rdmsr",
    "shl rdx, 32",
    "or rax, rdx",
    "mov gs:[{sentry_fs}], rax",
    "mov rax, [rdi + {r_fs}]",
    "mov rdx, rax",
    "shr rdx, 32",
    "wrmsr",
    "mov ecx, 0xc0000102",
    "mov rax, [rdi + {r_gs}]",
    "mov rdx, rax",
    "shr rdx, 32",
    "wrmsr",
    "mov qword ptr gs:[{in_user}], 1",
    "mov rsp, gs:[{stack_top}]",
    "push {user_ss}",
    "push qword ptr [rdi + {r_rsp}]",
    "push qword ptr [rdi + {r_eflags}]",
    "push {user_cs}",
    "push qword ptr [rdi + {r_rip}]",
    "push qword ptr [rdi + {r_rax}]",
    "push r10",
    "mov rbx, [rdi + {r_rbx}]",
    "mov rcx, [rdi + {r_rcx}]",
    "mov rdx, [rdi + {r_rdx}]",
    "mov rsi, [rdi + {r_rsi}]",
    "mov rbp, [rdi + {r_rbp}]",
    "mov r8, [rdi + {r_r8}]",
    "mov r9, [rdi + {r_r9}]",
    "mov r10, [rdi + {r_r10}]",
    "mov r11, [rdi + {r_r11}]",
    "mov r12, [rdi + {r_r12}]",
    "mov r13, [rdi + {r_r13}]",
    "mov r14, [rdi + {r_r14}]",
    "mov r15, [rdi + {r_r15}]",
    "mov rax, gs:[{user_cr3}]",
    "swapgs",
    "mov rdi, [rdi + {r_rdi}]",
    "ret",
    ".globl ringfence_guest_switch_return",
    "ringfence_guest_switch_return:",
    "pop rdi",
    "pop r11",
    "pop r9",
    "pop r8",
    "pop rcx",
    // Interrupted: the host took the application's registers and FPU state from the vCPU,
    // and goes on here in host mode with the sentry's.
    "cmp rax, {trap_interrupted}",
    "je 6f",
    // Out of the per-CPU page at once: once the thread leaves guest mode, its vCPU (and that
    // page) may go to another thread.
    ".irp off, {r_r15},{r_r14},{r_r13},{r_r12},{r_rbp},{r_rbx},{r_r11},{r_r10},{r_r9},{r_r8},{r_rax},{r_rcx},{r_rdx},{r_rsi},{r_rdi},{r_rip},{r_eflags},{r_rsp},{r_fs},{r_gs}",
    "mov r10, gs:[{save} + \\off]",
    "mov [rdi + \\off], r10",
    ".endr",
    "mov r10, gs:[{vector}]",
    "mov [r11], r10",
    "mov r10, gs:[{code}]",
    "mov [r11 + 8], r10",
    "mov r10, gs:[{cr2}]",
    "mov [r11 + 16], r10",
    "mov r11, rax",
    "mov eax, {fpu_components}",
    "xor edx, edx",
    "test r9, r9",
    "jz 7f",
    "xsave64 [rcx]",
    "xrstor64 [r8]",
    "jmp 8f",
    "7:",
    "fxsave64 [rcx]",
    "fxrstor64 [r8]",
    "8:",
    "mov rax, r11",
    "6:",
    "pop r15",
    "pop r14",
    "pop r13",
    "pop r12",
    "pop rbp",
    "pop rbx",
    "ret",
    ".globl ringfence_guest_switch_end",
    "ringfence_guest_switch_end:",
    ".popsection",
    not_in_guest = const NOT_IN_GUEST,
    regs_last = const std::mem::size_of::<UserRegs>() - 1,
    fpu_last = const std::mem::size_of::<GuestFpu>() - 1,
    fpu_components = const SAVED_COMPONENTS,
    trap_interrupted = const guest::TRAP_INTERRUPTED,
    save = const guest::SAVE,
    vector = const guest::VECTOR,
    code = const guest::CODE,
    cr2 = const guest::CR2,
    sentry_rsp = const guest::SENTRY_RSP,
    sentry_cr3 = const guest::SENTRY_CR3,
    user_cr3 = const guest::USER_CR3,
    sentry_fs = const guest::SENTRY_FS,
    in_user = const guest::IN_USER,
    ret = const guest::RETURN,
    stack_top = const guest::STACK_TOP,
    user_ss = const USER_DS as u64,
    user_cs = const USER_CS as u64,
    r_fs = const regs::FS_BASE,
    r_gs = const regs::GS_BASE,
    r_rsp = const regs::RSP,
    r_eflags = const regs::EFLAGS,
    r_rip = const regs::RIP,
    r_rax = const regs::RAX,
    r_rbx = const regs::RBX,
    r_rcx = const regs::RCX,
    r_rdx = const regs::RDX,
    r_rsi = const regs::RSI,
    r_rdi = const regs::RDI,
    r_rbp = const regs::RBP,
    r_r8 = const regs::R8,
    r_r9 = const regs::R9,
    r_r10 = const regs::R10,
    r_r11 = const regs::R11,
    r_r12 = const regs::R12,
    r_r13 = const regs::R13,
    r_r14 = const regs::R14,
    r_r15 = const regs::R15,
);

unsafe extern "C" {
    fn ringfence_guest_enter();
    fn ringfence_guest_leave();
    fn ringfence_guest_switch(
        regs: *const UserRegs,
        user_cr3: u64,
        resume: u64,
        app_fpu: *mut GuestFpu,
        sentry_fpu: *mut GuestFpu,
        xsave: u64,
        trap: *mut [u64; 3],
    ) -> u64;
    safe static ringfence_guest_switch_return: u8;
    safe static ringfence_guest_switch_end: u8;
}

/// Host memory larger than this is left out of the table for now (the memory file): guest
/// accesses to it leave guest mode.
const MAX_RANGE: u64 = 1 << 30;
/// How much of the memory file a sentry fault on it maps into the table.
const FILE_CHUNK: u64 = 2 << 20;
/// The highest address 4-level paging reaches.
const LOWER_HALF_END: u64 = 1 << 47;
/// Size of the alternate stack the entry handler runs on.
const ALT_STACK: usize = 64 << 10;
const RFLAGS_IF: u64 = 1 << 9;
/// What `ringfence_guest_switch` returns when called in host mode.
const NOT_IN_GUEST: u64 = 3;
/// Attempts to enter guest mode for one switch.
const ENTER_ATTEMPTS: usize = 8;

/// The flags an application may set: CF, PF, AF, ZF, SF, TF, DF, OF, AC.
const USER_FLAGS: u64 = 0x4_0dd5;
const RFLAGS_RESERVED: u64 = 1 << 1;

/// A kernel page table for the sentry and the means to run the calling thread on it.
pub struct GuestMode {
    machine: Arc<Machine>,
    tables: Mutex<Option<PageTables<X86_64>>>,
    root: u64,
    /// Host ranges already in the table.
    mapped: Mutex<Vec<(u64, u64)>>,
    /// Which `FILE_CHUNK`s of the memory file are in the table.
    file_chunks: Box<[AtomicBool]>,
    /// Per vCPU, by PCID: the address space and generation whose translations its TLB may
    /// hold from application runs in guest mode (as `Vcpu::tlb` for the contexts).
    tlb: Box<[Mutex<TlbRecord>]>,
}

/// By PCID: (address space id, generation).
type TlbRecord = Vec<(u64, u64)>;

/// What the entry handler needs, for the thread in [`GuestMode::run`].
struct Active {
    machine: Arc<Machine>,
    /// The guest mode this thread runs in (its `run` owns this `Active`).
    guest: *const GuestMode,
    /// Keeps the pool's FPU bookkeeping for this thread apart from the contexts'.
    fpu_slot: Arc<FpuSlot>,
    /// What a vCPU needs to run this thread's sentry code: the table and the thread's FS
    /// base (its TLS).
    config: GuestConfig,
    /// The index of the vCPU the thread runs on, while it is in guest mode.
    cpu: Option<usize>,
    /// The last exit to host mode was an interruption (a signal or a kick), not a host call.
    interrupted: bool,
    /// The running application's registers and FPU area, for an exit while it runs.
    app_regs: *mut UserRegs,
    app_fpu: *mut GuestFpu,
    /// Where the switch keeps the sentry's FPU state while the application runs (one per
    /// run, not per switch: a 4 KiB area is not something to clear for every syscall).
    sentry_fpu: Box<GuestFpu>,
    /// Times the thread left guest mode.
    exits: u64,
    /// Whether the vCPU ran in the current entry (after which a failure cannot be undone).
    ran: bool,
    error: Option<Error>,
}

thread_local! {
    static ACTIVE: Cell<*mut Active> = const { Cell::new(std::ptr::null_mut()) };
    /// The `kvm_run` of the vCPU this thread is about to run or runs in guest mode.
    static KICK_TARGET: Cell<*mut kvm_bindings::kvm_run> = const { Cell::new(std::ptr::null_mut()) };
    /// A kick came while the thread was not in `KVM_RUN`.
    static KICKED: Cell<bool> = const { Cell::new(false) };
}

/// From the kick signal's handler: make this thread's current or next `KVM_RUN` in guest
/// mode return at once. (Async-signal-safe: two thread-local cells and a byte store.)
pub(crate) fn on_kick() {
    if ACTIVE.with(Cell::get).is_null() {
        return;
    }
    KICKED.with(|k| k.set(true));
    let run = KICK_TARGET.with(Cell::get);
    if !run.is_null() {
        // SAFETY: the target is the mapped kvm_run of the vCPU this thread runs (set right
        // before KVM_RUN, cleared when the vCPU goes back to the pool); a one-byte volatile
        // store to `immediate_exit` is how KVM documents asynchronous kicks.
        unsafe { std::ptr::write_volatile(&raw mut (*run).immediate_exit, 1) };
    }
}

impl GuestMode {
    /// A kernel table for `machine` with the host address space of this process as it is
    /// now.
    pub fn new(machine: &Arc<Machine>) -> Result<Arc<GuestMode>> {
        let root;
        let tables = {
            let mut pool = machine.tables.lock().unwrap_or_else(|e| e.into_inner());
            let mut tables = PageTables::<X86_64>::new(&mut *pool)
                .map_err(|e| Error::PageTables(e.to_string()))?;
            if let Err(e) = tables.share_upper_from(&mut *pool, &machine.kernel) {
                tables.release(&mut *pool);
                return Err(Error::PageTables(e.to_string()));
            }
            root = tables.root();
            tables
        };
        let mode = Arc::new(GuestMode {
            machine: machine.clone(),
            tables: Mutex::new(Some(tables)),
            root,
            mapped: Mutex::new(Vec::new()),
            file_chunks: (0..machine.memory().region().size().div_ceil(FILE_CHUNK))
                .map(|_| AtomicBool::new(false))
                .collect(),
            tlb: (0..machine.vcpus()).map(|_| Mutex::default()).collect(),
        });
        mode.refresh()?;
        Ok(mode)
    }

    /// Maps host memory mapped since the table was built (or last refreshed).
    pub fn refresh(&self) -> Result<()> {
        let maps = std::fs::read_to_string("/proc/self/maps")
            .map_err(|e| Error::GuestFailure(format!("/proc/self/maps: {e}")))?;
        let mut mapped = self.mapped.lock().unwrap_or_else(|e| e.into_inner());
        let mut guard = self.tables.lock().unwrap_or_else(|e| e.into_inner());
        let tables = guard
            .as_mut()
            .ok_or_else(|| Error::GuestFailure("guest mode released".into()))?;
        // The vDSO and its data pages only where the vCPUs read the host's TSC: then time
        // read in guest mode is the host's, with no exit; else reading it leaves guest mode.
        let vdso = self.machine.tsc_is_host;
        for range in maps.lines().filter_map(|l| parse_maps_line(l, vdso)) {
            let (start, end, perms) = range;
            if end > LOWER_HALF_END || end - start > MAX_RANGE {
                continue;
            }
            // The host merges neighbouring mappings: only the parts not mapped yet are new.
            for (start, end) in uncovered(start, end, &mapped) {
                let gpa = self.machine.add_host_slot(start, end - start)?;
                let mut pool = self
                    .machine
                    .tables
                    .lock()
                    .unwrap_or_else(|e| e.into_inner());
                tables
                    .map(&mut *pool, start, gpa, end - start, perms)
                    .map_err(|e| Error::PageTables(e.to_string()))?;
                mapped.push((start, end));
            }
        }
        Ok(())
    }

    /// Whether the calling thread is inside [`GuestMode::run`] (so `switch` may be used).
    pub fn in_run() -> bool {
        !ACTIVE.with(Cell::get).is_null()
    }

    /// The CR3 value that loads `space` on vCPU `cpu`: with PCIDs, its own PCID, keeping
    /// the translations that vCPU's TLB holds for it if they are current.
    fn user_cr3(&self, cpu: usize, space: &Loadable) -> u64 {
        if !self.machine.features.pcid || space.pcid == 0 {
            return space.root;
        }
        let pcid = usize::from(space.pcid);
        let mut tlb = self.tlb[cpu].lock().unwrap_or_else(|e| e.into_inner());
        if tlb.len() <= pcid {
            tlb.resize(pcid + 1, (0, 0));
        }
        let current = (space.id, space.generation);
        let keep = tlb[pcid] == current;
        tlb[pcid] = current;
        space.root | u64::from(space.pcid) | if keep { CR3_NOFLUSH } else { 0 }
    }

    fn forget_tlb(&self, cpu: usize, space: &Loadable) {
        let mut tlb = self.tlb[cpu].lock().unwrap_or_else(|e| e.into_inner());
        if let Some(entry) = tlb.get_mut(usize::from(space.pcid)) {
            *entry = (0, 0);
        }
    }

    /// Maps the memory file (applications' memory, too large to map up front) into the
    /// table around host address `addr`, 2 MiB at a time through the file's own slot: true
    /// if it did. False if `addr` is not in the file, was mapped already (a genuine fault),
    /// or the table is busy. Runs in the entry handler while the same thread may be
    /// anywhere in the sentry at ring 0, so it neither allocates nor waits for a lock.
    fn map_file_chunk(&self, addr: u64) -> Result<bool> {
        let region = self.machine.memory().region();
        let base = region.host_ptr() as u64;
        let size = region.size();
        if !(base..base + size).contains(&addr) {
            return Ok(false);
        }
        let chunk = ((addr - base) / FILE_CHUNK) as usize;
        if self.file_chunks[chunk].load(Ordering::Acquire) || self.covers_now(addr) != Some(false) {
            return Ok(false);
        }
        let Ok(mut guard) = self.tables.try_lock() else {
            return Ok(false);
        };
        let Some(tables) = guard.as_mut() else {
            return Ok(false);
        };
        let Ok(mut pool) = self.machine.tables.try_lock() else {
            return Ok(false);
        };
        let start = base + chunk as u64 * FILE_CHUNK;
        let end = (start + FILE_CHUNK).min(base + size);
        tables
            .map(
                &mut *pool,
                start,
                region.gpa() + (start - base),
                end - start,
                Perms::READ | Perms::WRITE,
            )
            .map_err(|e| Error::PageTables(e.to_string()))?;
        self.file_chunks[chunk].store(true, Ordering::Release);
        Ok(true)
    }

    /// [`GuestMode::covers`] without waiting: `None` if the list is busy.
    fn covers_now(&self, addr: u64) -> Option<bool> {
        let mapped = self.mapped.try_lock().ok()?;
        Some(mapped.iter().any(|&(s, e)| (s..e).contains(&addr)))
    }

    /// Whether host address `addr` is in the table.
    fn covers(&self, addr: u64) -> bool {
        self.mapped
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .any(|&(s, e)| (s..e).contains(&addr))
    }

    /// Runs `f` on the calling thread, starting at guest ring 0; `f` goes on in host mode
    /// from its first host call (or fault), transparently. Returns `f`'s result and how many
    /// times the thread left guest mode.
    pub fn run<R>(&self, f: impl FnOnce() -> R) -> Result<(R, u64)> {
        install_handler();
        // A thread started after the table was built has its stack outside it.
        let here = 0u8;
        if !self.covers(&raw const here as u64) {
            self.refresh()?;
        }
        let mut active = Active {
            machine: self.machine.clone(),
            guest: self,
            cpu: None,
            interrupted: false,
            fpu_slot: Arc::new(FpuSlot::default()),
            config: GuestConfig {
                root: self.root,
                fs_base: fs_base()?,
            },
            app_regs: std::ptr::null_mut(),
            app_fpu: std::ptr::null_mut(),
            sentry_fpu: Box::default(),
            exits: 0,
            ran: false,
            error: None,
        };
        let stack = AltStack::install()?;
        ACTIVE.with(|a| a.set(&raw mut active));
        // SAFETY: the SIGILL handler installed above turns this `ud2` into an entry to guest
        // mode (or, if it cannot, records why and returns past it); it behaves as a call
        // that clobbers what the C ABI lets a call clobber.
        unsafe { ringfence_guest_enter() };
        let value = f();
        if current_ring() == 0 {
            // SAFETY: at ring 0 this `hlt` is an exit that the handler resumes at the
            // following `ret`, in host mode.
            unsafe { ringfence_guest_leave() };
        }
        ACTIVE.with(|a| a.set(std::ptr::null_mut()));
        drop(stack);
        self.machine.pool.forget(&active.fpu_slot);
        match active.error.take() {
            Some(e) => Err(e),
            None => Ok((value, active.exits)),
        }
    }

    /// Inside [`GuestMode::run`]: runs the application with `regs` in `space` until it
    /// traps, entering guest mode again first if the thread left it. From guest mode the
    /// application's syscalls and exceptions come back without a VM exit. Hardware backend
    /// only: the software one cannot run ring-0 code but by emulation (use a `Context`).
    /// `fpu` holds the application's floating-point and vector registers between switches.
    pub fn switch(
        &self,
        regs: &mut UserRegs,
        fpu: &mut GuestFpu,
        space: &AddressSpace,
    ) -> Result<Trap> {
        self.switch_until(regs, fpu, space, &|| false)
    }

    /// [`GuestMode::switch`], returning `Trap::Interrupted` instead of running the application
    /// whenever `stop` says so before an attempt to reach it.
    pub(crate) fn switch_until(
        &self,
        regs: &mut UserRegs,
        fpu: &mut GuestFpu,
        space: &AddressSpace,
        stop: &dyn Fn() -> bool,
    ) -> Result<Trap> {
        if self.machine.backend() != Backend::Hardware {
            return Err(Error::GuestFailure(
                "guest mode runs applications on the hardware backend only".into(),
            ));
        }
        let active = ACTIVE.with(Cell::get);
        if active.is_null() {
            return Err(Error::GuestFailure("switch outside GuestMode::run".into()));
        }
        if !Arc::ptr_eq(space.machine(), &self.machine) {
            return Err(Error::other_machine());
        }
        // What `iretq` would refuse at ring 0 is the application's fault, found here.
        if regs.rip >= USER_MAX || regs.rsp > USER_MAX {
            return Ok(Trap::Exception {
                vector: GENERAL_PROTECTION,
                code: 0,
            });
        }
        let space = space.loadable()?;
        // Only the flags an application may set, with interrupts on (and the reserved bit).
        regs.eflags = (regs.eflags & USER_FLAGS) | RFLAGS_IF | RFLAGS_RESERVED;
        let resume = GUEST_CODE_VA + guest_entry::resume_offset();
        let xsave = u64::from(self.machine.features.xcr0 != 0);
        // SAFETY: `active` is this thread's `Active`, alive during `run`.
        let sentry_fpu: *mut GuestFpu = unsafe { &raw mut *(*active).sentry_fpu };
        // SAFETY: `active` is this thread's `Active`, alive during `run`; the pointers are
        // cleared below, before `regs` and `fpu` can go away.
        unsafe {
            (*active).app_fpu = fpu;
            (*active).app_regs = regs;
        }
        let mut trap = [0u64; 3];
        let mut kind = NOT_IN_GUEST;
        for attempt in 0..ENTER_ATTEMPTS {
            // SAFETY: `active` is this thread's `Active`, alive during `run`.
            let knocked_out = unsafe { std::mem::take(&mut (*active).interrupted) };
            if stop() || (knocked_out && attempt > 0) {
                // Asked to stop, or knocked out of guest mode on the way to the application
                // (a signal, or a waiter taking the vCPU back): the caller switches again.
                // SAFETY: as above.
                unsafe { (*active).forget_application() };
                return Ok(Trap::Interrupted);
            }
            if current_ring() != 0 {
                if attempt > 0 {
                    // Entering keeps failing at once: new host memory on the way (a stack).
                    self.refresh()?;
                }
                // SAFETY: as in `run`: the handler enters guest mode at this trap.
                unsafe { ringfence_guest_enter() };
                // SAFETY: `active` is this thread's `Active`, alive during `run`.
                if let Some(e) = unsafe { (*active).error.take() } {
                    return Err(e);
                }
            }
            // SAFETY: `active` is this thread's `Active`; at ring 0 it names the vCPU the
            // thread runs on.
            let Some(cpu) = (unsafe { (*active).cpu }) else {
                continue;
            };
            let user_cr3 = self.user_cr3(cpu, &space);
            // SAFETY: the switch checks it runs at guest ring 0 (else it does nothing and
            // says so); there it saves the sentry's state in the per-CPU page and its FPU
            // state in `sentry_fpu` (64-byte aligned, like `fpu`, whose state it loads), and
            // returns here when the application traps, with every register the C ABI
            // preserves intact and the two FPU states swapped back.
            kind = unsafe {
                ringfence_guest_switch(
                    regs,
                    user_cr3,
                    resume,
                    fpu,
                    sentry_fpu,
                    xsave,
                    &raw mut trap,
                )
            };
            if kind != NOT_IN_GUEST {
                break;
            }
            // The CR3 load never happened: the record must not claim it did.
            self.forget_tlb(cpu, &space);
        }
        // SAFETY: as above.
        unsafe { (*active).forget_application() };
        if kind == NOT_IN_GUEST {
            return Err(Error::GuestFailure(
                "the thread keeps leaving guest mode before reaching the application".into(),
            ));
        }
        // The switch (or, for an interrupted application, the exit handler) has put the
        // application's registers in `regs`.
        match kind {
            guest::TRAP_SYSCALL => {
                regs.orig_rax = regs.rax;
                Ok(Trap::Syscall)
            }
            guest::TRAP_EXCEPTION => {
                regs.orig_rax = u64::MAX;
                let [vector, code, cr2] = trap;
                Ok(exception::decode(vector as u8, code, cr2))
            }
            _ => Ok(Trap::Interrupted),
        }
    }
}

/// What a vCPU is set up for in guest mode: the kernel table's root and the FS base of the
/// thread it last ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct GuestConfig {
    root: u64,
    fs_base: u64,
}

/// The calling thread's FS base.
fn fs_base() -> Result<u64> {
    let mut fs_base = 0u64;
    // SAFETY: ARCH_GET_FS writes the FS base to the u64 the pointer names.
    let r = unsafe {
        libc::syscall(
            libc::SYS_arch_prctl,
            0x1003, // ARCH_GET_FS
            &raw mut fs_base,
        )
    };
    if r != 0 {
        return Err(Error::GuestFailure(format!(
            "ARCH_GET_FS: {}",
            std::io::Error::last_os_error()
        )));
    }
    Ok(fs_base)
}

impl Active {
    fn forget_application(&mut self) {
        self.app_fpu = std::ptr::null_mut();
        self.app_regs = std::ptr::null_mut();
    }

    /// A vCPU for this thread's entry, set up for its sentry code: the kernel table, its FS
    /// base, GS at the per-CPU page, and syscalls to the guest-mode stub.
    fn take_vcpu(&mut self) -> Result<Vcpu> {
        let mut vcpu = self.machine.pool.acquire(&self.fpu_slot)?;
        if vcpu.guest == Some(self.config) {
            return Ok(vcpu);
        }
        if let Err(e) = self.prepare(&mut vcpu) {
            vcpu.guest = None;
            self.machine.pool.release(vcpu);
            return Err(e);
        }
        Ok(vcpu)
    }

    fn prepare(&self, vcpu: &mut Vcpu) -> Result<()> {
        let per_cpu = per_cpu_va(vcpu.index);
        let mut sregs = vcpu.sregs;
        sregs.cr3 = self.config.root;
        sregs.fs.base = self.config.fs_base;
        // GS and KERNEL_GS_BASE both the per-CPU page: see `ring0::x86_64::guest_entry`.
        sregs.gs.base = per_cpu;
        sregs.idt.base = GUEST_IDT_VA;
        vcpu.fd
            .set_sregs(&sregs)
            .map_err(Error::kvm("KVM_SET_SREGS"))?;
        if vcpu.guest.is_none_or(|c| c.root != self.config.root) {
            // SAFETY: `guest` is the GuestMode whose `run` created this `Active`.
            let guest = unsafe { &*self.guest };
            guest.tlb[vcpu.index]
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clear();
            self.machine
                .entry
                .set_guest_word(vcpu.index, guest::IN_USER, 0)?;
            set_msrs(
                vcpu,
                &[
                    (MSR_LSTAR, GUEST_CODE_VA + GUEST_SYSCALL_OFFSET),
                    (MSR_KERNEL_GS_BASE, per_cpu),
                ],
            )?;
        }
        vcpu.position = Position::Ring0;
        vcpu.tlb.clear();
        vcpu.cr3 = self.config.root;
        vcpu.guest = Some(self.config);
        Ok(())
    }
}

/// Back to the state the platform's contexts expect, for a vCPU that ran in guest mode.
pub(crate) fn leave_guest_config(machine: &Machine, vcpu: &mut Vcpu) -> Result<()> {
    vcpu.guest = None;
    vcpu.fd
        .set_sregs(&vcpu.sregs)
        .map_err(Error::kvm("KVM_SET_SREGS"))?;
    vcpu.cr3 = vcpu.sregs.cr3;
    vcpu.tlb.clear();
    vcpu.position = Position::Ring0;
    let lstar = match machine.backend() {
        Backend::Hardware => CODE_VA + SYSCALL_STUB_OFFSET,
        Backend::Software => TRAMPOLINE_VA,
    };
    set_msrs(vcpu, &[(MSR_LSTAR, lstar), (MSR_KERNEL_GS_BASE, 0)])
}

impl Drop for GuestMode {
    fn drop(&mut self) {
        if let Some(tables) = self.tables.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let mut pool = self
                .machine
                .tables
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            tables.release(&mut *pool);
        }
    }
}

fn set_msrs(vcpu: &Vcpu, values: &[(u32, u64)]) -> Result<()> {
    let entries: Vec<kvm_msr_entry> = values
        .iter()
        .map(|&(index, data)| kvm_msr_entry {
            index,
            data,
            ..Default::default()
        })
        .collect();
    let msrs = Msrs::from_entries(&entries)
        .map_err(|e| Error::GuestFailure(format!("MSR list: {e:?}")))?;
    match vcpu.fd.set_msrs(&msrs) {
        Ok(n) if n == entries.len() => Ok(()),
        Ok(_) => Err(Error::GuestFailure("KVM_SET_MSRS refused an MSR".into())),
        Err(e) => Err(Error::kvm("KVM_SET_MSRS")(e)),
    }
}

/// Whether guest RIP `rip` is in code the host cannot resume: the sentry's side of the switch
/// to an application, the guest-mode entry page, or the `hlt` that leaves guest mode.
fn in_switch_code(rip: u64) -> bool {
    let switch = ringfence_guest_switch as *const () as u64;
    let end = core::ptr::from_ref(&ringfence_guest_switch_end) as u64;
    (switch..end).contains(&rip)
        || (GUEST_CODE_VA..GUEST_CODE_VA + 4096).contains(&rip)
        || rip == ringfence_guest_leave as *const () as u64
}

/// Holds every signal while the vCPU runs and asks KVM to stop as soon as the guest can
/// take an interrupt (`hold`), or back to the thread's own mask.
fn defer_signals(vcpu: &mut Vcpu, hold: bool) -> Result<()> {
    /// `struct kvm_signal_mask` with the kernel's 8-byte sigset.
    #[repr(C)]
    struct SignalMask {
        len: u32,
        set: u64,
    }
    // _IOW(KVMIO, 0x8b, struct kvm_signal_mask)
    const KVM_SET_SIGNAL_MASK: libc::c_ulong = 0x4004_ae8b;
    let mask = SignalMask { len: 8, set: !0 };
    let arg: *const SignalMask = if hold { &mask } else { std::ptr::null() };
    // SAFETY: the vCPU descriptor is open; `arg` is null (no mask: the thread's own) or a
    // valid kvm_signal_mask with its 8-byte set, alive for the call.
    let r = unsafe { libc::ioctl(vcpu.fd.as_raw_fd(), KVM_SET_SIGNAL_MASK, arg) };
    if r != 0 {
        return Err(Error::GuestFailure(format!(
            "KVM_SET_SIGNAL_MASK: {}",
            std::io::Error::last_os_error()
        )));
    }
    vcpu.fd.get_kvm_run().request_interrupt_window = u8::from(hold);
    Ok(())
}

/// The parts of `[start, end)` that none of `mapped` covers.
fn uncovered(start: u64, end: u64, mapped: &[(u64, u64)]) -> Vec<(u64, u64)> {
    let mut parts = vec![(start, end)];
    for &(s, e) in mapped {
        parts = parts
            .into_iter()
            .flat_map(|(a, b)| {
                if e <= a || b <= s {
                    vec![(a, b)]
                } else {
                    [(a, s.max(a)), (e.min(b), b)]
                        .into_iter()
                        .filter(|(x, y)| x < y)
                        .collect()
                }
            })
            .collect();
    }
    parts
}

/// `start-end perms offset dev inode [name]` → the range and its permissions, for the
/// readable ranges guest mode maps (not the kernel's vsyscall, vvar and vdso pages).
fn parse_maps_line(line: &str, vdso: bool) -> Option<(u64, u64, Perms)> {
    let mut fields = line.split_whitespace();
    let (start, end) = fields.next()?.split_once('-')?;
    let (start, end) = (
        u64::from_str_radix(start, 16).ok()?,
        u64::from_str_radix(end, 16).ok()?,
    );
    let p = fields.next()?.as_bytes();
    let name = fields.nth(3).unwrap_or("");
    let special = name == "[vsyscall]" || (!vdso && matches!(name, "[vdso]" | "[vvar]"));
    if p.first() != Some(&b'r') || special || end <= start {
        return None;
    }
    let mut perms = Perms::READ;
    perms.set(Perms::WRITE, p.get(1) == Some(&b'w'));
    perms.set(Perms::EXECUTE, p.get(2) == Some(&b'x'));
    Some((start, end, perms))
}

/// The privilege level the thread runs at now (0 in guest mode, 3 in host mode).
pub fn current_ring() -> u16 {
    let cs: u16;
    // SAFETY: reading CS has no side effects.
    unsafe { core::arch::asm!("mov {0:x}, cs", out(reg) cs, options(nomem, nostack)) };
    cs & 3
}

/// This thread's alternate signal stack while it may enter guest mode: the entry handler
/// must not run on the stack the guest-mode code goes on using. The previous one comes back
/// on drop.
struct AltStack {
    _memory: Vec<u8>,
    previous: libc::stack_t,
}

impl AltStack {
    fn install() -> Result<AltStack> {
        let mut memory = vec![0u8; ALT_STACK];
        let stack = libc::stack_t {
            ss_sp: memory.as_mut_ptr().cast(),
            ss_flags: 0,
            ss_size: memory.len(),
        };
        let mut previous = libc::stack_t {
            ss_sp: std::ptr::null_mut(),
            ss_flags: 0,
            ss_size: 0,
        };
        // SAFETY: `stack` describes memory owned by the returned value, which restores the
        // previous stack before freeing it.
        if unsafe { libc::sigaltstack(&stack, &mut previous) } != 0 {
            return Err(Error::GuestFailure(format!(
                "sigaltstack: {}",
                std::io::Error::last_os_error()
            )));
        }
        Ok(AltStack {
            _memory: memory,
            previous,
        })
    }
}

impl Drop for AltStack {
    fn drop(&mut self) {
        let mut previous = self.previous;
        if previous.ss_flags & libc::SS_DISABLE == 0 && previous.ss_sp.is_null() {
            previous.ss_flags = libc::SS_DISABLE;
        }
        // SAFETY: restores the stack that was installed before (or disables ours).
        unsafe { libc::sigaltstack(&previous, std::ptr::null_mut()) };
    }
}

static INSTALL: Once = Once::new();
/// The SIGILL handler there was before ours (`SIG_DFL` if none).
static PREVIOUS: AtomicUsize = AtomicUsize::new(libc::SIG_DFL);

fn install_handler() {
    INSTALL.call_once(|| {
        // SAFETY: a zeroed sigaction is a valid "no flags, default" value to fill in.
        let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
        action.sa_sigaction = on_sigill as *const () as usize;
        action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
        // SAFETY: sa_mask is a valid sigset_t to initialise.
        unsafe { libc::sigemptyset(&mut action.sa_mask) };
        // SAFETY: a zeroed sigaction is valid storage for the previous action.
        let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
        // SAFETY: both pointers are valid; the handler is an `extern "C"` function of the
        // signature SA_SIGINFO expects.
        if unsafe { libc::sigaction(libc::SIGILL, &action, &mut old) } == 0 {
            PREVIOUS.store(old.sa_sigaction, Ordering::SeqCst);
        }
    });
}

extern "C" fn on_sigill(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid ucontext for an SA_SIGINFO handler.
    let uc = unsafe { &mut *ctx.cast::<libc::ucontext_t>() };
    let rip = uc.uc_mcontext.gregs[libc::REG_RIP as usize] as u64;
    let active = ACTIVE.with(Cell::get);
    if active.is_null() || rip != ringfence_guest_enter as *const () as u64 {
        // Not ours: what was there before.
        match PREVIOUS.load(Ordering::SeqCst) {
            h if h != libc::SIG_DFL && h != libc::SIG_IGN => {
                // SAFETY: the previous handler was installed for SIGILL with SA_SIGINFO
                // semantics or as a plain handler, which ignores the extra arguments.
                let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                    unsafe { std::mem::transmute(h) };
                f(sig, info, ctx);
            }
            _ => {
                // SAFETY: back to the default action; returning re-executes the faulting
                // instruction, which then ends the process as SIGILL would have.
                unsafe { libc::signal(libc::SIGILL, libc::SIG_DFL) };
            }
        }
        return;
    }
    // SAFETY: `active` points at the `Active` of `GuestMode::run` on this thread, which
    // outlives the call (it is cleared before `run` returns).
    let active = unsafe { &mut *active };
    // SAFETY: `fpregs` belongs to this live signal frame, which outlives the handler's use.
    let mut fpu = unsafe { FrameFpu::new(uc.uc_mcontext.fpregs.cast::<u8>()) };
    let gregs = &mut uc.uc_mcontext.gregs;
    active.ran = false;
    if let Err(e) = active.enter(gregs, fpu.as_mut()) {
        if active.ran {
            // The thread went on in the guest and cannot be given back to the host at a
            // consistent point: stop here rather than run on from a stale state.
            let msg = format!("ringfence: guest mode lost a thread: {e}\n");
            // SAFETY: writing a buffer we own to stderr, then abort (both async-signal-safe).
            unsafe {
                libc::write(2, msg.as_ptr().cast(), msg.len());
                libc::abort();
            }
        }
        active.error = Some(e);
        // Skip the trap: the thread goes on in host mode, where it was.
        gregs[libc::REG_RIP as usize] += 2;
    }
}

/// A general register of `kvm_regs`, by reference.
type RegField = fn(&mut kvm_regs) -> &mut u64;

/// Where each general register is in the signal frame's `gregs` and in `kvm_regs`.
const GREGS: [(usize, RegField); 16] = [
    (libc::REG_RAX as usize, |r| &mut r.rax),
    (libc::REG_RBX as usize, |r| &mut r.rbx),
    (libc::REG_RCX as usize, |r| &mut r.rcx),
    (libc::REG_RDX as usize, |r| &mut r.rdx),
    (libc::REG_RSI as usize, |r| &mut r.rsi),
    (libc::REG_RDI as usize, |r| &mut r.rdi),
    (libc::REG_RSP as usize, |r| &mut r.rsp),
    (libc::REG_RBP as usize, |r| &mut r.rbp),
    (libc::REG_R8 as usize, |r| &mut r.r8),
    (libc::REG_R9 as usize, |r| &mut r.r9),
    (libc::REG_R10 as usize, |r| &mut r.r10),
    (libc::REG_R11 as usize, |r| &mut r.r11),
    (libc::REG_R12 as usize, |r| &mut r.r12),
    (libc::REG_R13 as usize, |r| &mut r.r13),
    (libc::REG_R14 as usize, |r| &mut r.r14),
    (libc::REG_R15 as usize, |r| &mut r.r15),
];

impl Active {
    /// Runs a vCPU from the trapped host registers `g` until the guest leaves; `g` then
    /// holds where the host goes on.
    fn enter(&mut self, g: &mut [libc::greg_t; 23], fpu: Option<&mut FrameFpu<'_>>) -> Result<()> {
        let mut vcpu = self.take_vcpu()?;
        self.cpu = Some(vcpu.index);
        let result = self.enter_on(&mut vcpu, g, fpu);
        // The thread is in host mode again (or never left it).
        self.cpu = None;
        KICK_TARGET.with(|t| t.set(std::ptr::null_mut()));
        self.machine.pool.release(vcpu);
        result
    }

    fn enter_on(
        &mut self,
        vcpu: &mut Vcpu,
        g: &mut [libc::greg_t; 23],
        fpu: Option<&mut FrameFpu<'_>>,
    ) -> Result<()> {
        let xcr0 = self.machine.features.xcr0;
        if let Some(f) = fpu.as_deref() {
            f.load(&vcpu.fd, xcr0)?;
        }
        let mut regs = kvm_regs::default();
        for (i, reg) in GREGS {
            *reg(&mut regs) = g[i] as u64;
        }
        regs.rip = g[libc::REG_RIP as usize] as u64 + 2;
        regs.rflags = (g[libc::REG_EFL as usize] as u64 & !RFLAGS_IF) | RFLAGS_RESERVED;
        vcpu.set_regs(&regs)?;
        // A kick meant for an earlier run of this vCPU must not end this one at once; one
        // meant for this thread must, even if it came before KVM_RUN (see `on_kick`).
        let run = std::ptr::from_mut(vcpu.fd.get_kvm_run());
        KICK_TARGET.with(|t| t.set(run));
        vcpu.fd.set_kvm_immediate_exit(0);
        if KICKED.with(|k| k.replace(false)) {
            vcpu.fd.set_kvm_immediate_exit(1);
        }
        let machine = self.machine.clone();
        let _in_guest = machine.enter();
        // `None`: halted in a stub; `Some(reason)`: stopped where the host goes on.
        self.ran = true;
        'guest: loop {
            let mut deferred = false;
            let exit = loop {
                let exit = match vcpu.fd.run() {
                    Ok(VcpuExit::Hlt) => Ok(None),
                    // Deferred below: the application has just been entered.
                    Ok(VcpuExit::IrqWindowOpen) => Ok(Some(ExitReason::Interrupted)),
                    Ok(VcpuExit::Intr) => Ok(Some(ExitReason::Interrupted)),
                    Err(e) if e.errno() == libc::EINTR => {
                        // The kick (if it was one) has done its work; left set, it would end
                        // the next KVM_RUN at once — fatal when that is the deferral below.
                        KICKED.with(|k| k.set(false));
                        vcpu.fd.set_kvm_immediate_exit(0);
                        Ok(Some(ExitReason::Interrupted))
                    }
                    // The software backend emulates ring 0 and cannot emulate every instruction
                    // (SSE moves, for one): the host runs it instead, at the same RIP.
                    Ok(VcpuExit::InternalError) if self.machine.backend() == Backend::Software => {
                        Ok(Some(ExitReason::Other))
                    }
                    Ok(other) => Err(Error::GuestFailure(format!(
                        "unexpected exit in guest mode: {other:?}"
                    ))),
                    Err(e) => Err(Error::kvm("KVM_RUN")(e)),
                };
                if matches!(exit, Ok(Some(ExitReason::Interrupted))) {
                    let rip = vcpu.regs()?.rip;
                    if in_switch_code(rip) {
                        // A signal inside the switch's few privileged instructions, which the host
                        // cannot run: go on with signals held until the guest reaches a point
                        // the host can take over — its next host call, or the application with
                        // interrupts on (an interrupt-window exit). A kick that lands between
                        // two of these runs ends one early: still in the switch, go on again.
                        if !deferred {
                            defer_signals(vcpu, true)?;
                            deferred = true;
                        }
                        continue;
                    }
                }
                break exit;
            };
            if deferred {
                defer_signals(vcpu, false)?;
            }
            let stopped = exit?;
            self.interrupted = stopped == Some(ExitReason::Interrupted);
            let k = vcpu.regs()?;
            let mut back = k;
            if stopped.is_none() {
                self.machine.exits.count(ExitReason::Hlt);
                let at = k.rip.wrapping_sub(1);
                let code = |offset: u64| GUEST_CODE_VA + offset;
                if at == ringfence_guest_leave as *const () as u64 {
                    back.rip = k.rip;
                } else if at == code(guest_entry::kernel_syscall_offset()) {
                    // A host call: run the `syscall` again on the host.
                    back.rip = k.rcx - 2;
                    back.rflags = k.r11;
                } else if at == code(guest_entry::kernel_fault_offset()) {
                    let [vector, _code, rip, _cs, rflags, rsp, _ss] =
                        self.machine.entry.read_stack::<7>(vcpu.index, k.rsp)?;
                    back.rip = rip;
                    back.rflags = rflags;
                    back.rsp = rsp;
                    if vector == u64::from(PAGE_FAULT) && self.map_on_fault(vcpu)? {
                        // Host memory the table lacked is in it now: go on in guest mode at the
                        // faulting instruction, as `iretq` would.
                        vcpu.set_regs(&back)?;
                        continue 'guest;
                    }
                    // Any other fault of the sentry: the host retries the instruction.
                } else {
                    return Err(Error::GuestFailure(format!(
                        "guest mode halted at {:#x}",
                        k.rip
                    )));
                }
            } else if let Some(reason) = stopped {
                self.machine.exits.count(reason);
                let entry = &self.machine.entry;
                let cpu = vcpu.index;
                if entry.guest_word(cpu, guest::IN_USER)? != 0 {
                    return self.interrupt_application(vcpu, g, &k);
                }
            }
            self.exits += 1;
            if let Some(f) = fpu {
                f.store(&vcpu.fd, xcr0)?;
            }
            for (i, reg) in GREGS {
                g[i] = *reg(&mut back) as libc::greg_t;
            }
            g[libc::REG_RIP as usize] = back.rip as libc::greg_t;
            g[libc::REG_EFL as usize] = (back.rflags | RFLAGS_IF) as libc::greg_t;
            return Ok(());
        }
    }

    /// After a page fault of the sentry at ring 0: maps the memory-file chunk it touched into
    /// the table if it was missing (true), so the sentry goes on in guest mode.
    fn map_on_fault(&self, vcpu: &Vcpu) -> Result<bool> {
        let addr = vcpu
            .fd
            .get_sregs()
            .map_err(Error::kvm("KVM_GET_SREGS"))?
            .cr2;
        // SAFETY: `guest` is the GuestMode whose `run` created this `Active` and outlives it.
        unsafe { &*self.guest }.map_file_chunk(addr)
    }
}

impl Active {
    /// The thread had to leave while the application ran (a signal): the application's
    /// registers go to the per-CPU page as a trap would leave them, and the host goes on in
    /// the sentry where its switch returns, with "interrupted".
    fn interrupt_application(
        &mut self,
        vcpu: &mut Vcpu,
        g: &mut [libc::greg_t; 23],
        k: &kvm_regs,
    ) -> Result<()> {
        let sregs = vcpu.fd.get_sregs().map_err(Error::kvm("KVM_GET_SREGS"))?;
        if sregs.cs.dpl != 3 || self.app_regs.is_null() {
            return Err(Error::GuestFailure(format!(
                "left guest mode inside the switch to the application, at {:#x}",
                k.rip
            )));
        }
        // SAFETY: set by `switch` on this thread for the application now interrupted, which
        // waits for it in `ringfence_guest_switch` (the host goes on there).
        let r = unsafe { &mut *self.app_regs };
        r.r15 = k.r15;
        r.r14 = k.r14;
        r.r13 = k.r13;
        r.r12 = k.r12;
        r.rbp = k.rbp;
        r.rbx = k.rbx;
        r.r11 = k.r11;
        r.r10 = k.r10;
        r.r9 = k.r9;
        r.r8 = k.r8;
        r.rax = k.rax;
        r.rcx = k.rcx;
        r.rdx = k.rdx;
        r.rsi = k.rsi;
        r.rdi = k.rdi;
        r.rip = k.rip;
        r.eflags = k.rflags;
        r.rsp = k.rsp;
        r.fs_base = sregs.fs.base;
        r.gs_base = sregs.gs.base;
        let entry = &self.machine.entry;
        let cpu = vcpu.index;
        if !self.app_fpu.is_null() {
            // SAFETY: set by `switch` on this thread for the application now interrupted.
            let fpu = unsafe { &mut *self.app_fpu };
            fpu.take_from(&vcpu.fd, self.machine.features.xcr0 != 0)?;
        }
        entry.set_guest_word(cpu, guest::IN_USER, 0)?;
        // The vCPU holds the application's CR3, FS and GS now, not the sentry's: whoever
        // takes it next sets it up again.
        vcpu.guest = None;
        g[libc::REG_RSP as usize] = entry.guest_word(cpu, guest::SENTRY_RSP)? as libc::greg_t;
        g[libc::REG_RIP as usize] =
            core::ptr::from_ref(&ringfence_guest_switch_return) as libc::greg_t;
        g[libc::REG_RAX as usize] = guest::TRAP_INTERRUPTED as libc::greg_t;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_lines() {
        let (s, e, p) = parse_maps_line(
            "55d0c0a00000-55d0c0a21000 rw-p 00000000 00:00 0   [heap]",
            false,
        )
        .unwrap();
        assert_eq!((s, e), (0x55d0_c0a0_0000, 0x55d0_c0a2_1000));
        assert_eq!(p, Perms::READ | Perms::WRITE);
        let (_, _, p) = parse_maps_line(
            "7f00-8f00 r-xp 00000000 08:01 123 /usr/lib/libc.so.6",
            false,
        )
        .unwrap();
        assert_eq!(p, Perms::READ | Perms::EXECUTE);
        assert!(parse_maps_line("7fff-8fff r-xp 00000000 00:00 0 [vdso]", false).is_none());
        let (_, _, p) = parse_maps_line("7fff-8fff r-xp 00000000 00:00 0 [vdso]", true).unwrap();
        assert_eq!(p, Perms::READ | Perms::EXECUTE);
        assert!(parse_maps_line("7ffe-7fff r--p 00000000 00:00 0 [vvar]", true).is_some());
        assert!(parse_maps_line("7fff-8fff ---p 00000000 00:00 0", true).is_none());
        assert!(parse_maps_line("garbage", true).is_none());
    }

    #[test]
    fn only_new_parts_of_merged_ranges_are_mapped() {
        assert_eq!(uncovered(0, 10, &[]), vec![(0, 10)]);
        assert_eq!(uncovered(0, 10, &[(0, 10)]), vec![]);
        assert_eq!(uncovered(0, 10, &[(3, 5)]), vec![(0, 3), (5, 10)]);
        assert_eq!(uncovered(0, 10, &[(8, 20), (0, 2)]), vec![(2, 8)]);
        assert_eq!(uncovered(5, 10, &[(0, 5), (10, 12)]), vec![(5, 10)]);
    }

    #[test]
    fn host_mode_is_ring_3() {
        assert_eq!(current_ring(), 3);
    }
}
