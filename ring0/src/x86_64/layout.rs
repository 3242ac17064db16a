//! Fixed addresses and selectors of the guest kernel.
//!
//! The entry area lives in the last top-level (PML4) slot, in the upper half that every
//! application page table shares with the kernel table; the lower half belongs to the
//! application alone.

/// Segment selectors, laid out so that `syscall`/`sysret` find what they expect: STAR's
/// kernel base is `KERNEL_CS` (SS = base + 8), its user base is `USER_BASE` (SS = base + 8,
/// 64-bit CS = base + 16).
pub const KERNEL_CS: u16 = 0x08;
pub const KERNEL_DS: u16 = 0x10;
pub const USER_BASE: u16 = 0x18;
pub const USER_DS: u16 = 0x20 | 3;
pub const USER_CS: u16 = 0x28 | 3;
pub const TSS_SELECTOR: u16 = 0x30;
/// GDT entries: null, kernel code, kernel data, user code32 (unused), user data, user code64,
/// and the 16-byte TSS descriptor.
pub const GDT_ENTRIES: usize = 8;

/// First address of the upper half.
pub const UPPER_HALF: u64 = 0xffff_8000_0000_0000;
/// Base of the entry area (PML4 slot 511).
pub const ENTRY_AREA: u64 = 0xffff_ff80_0000_0000;
/// The IDT (one page: 256 gates of 16 bytes).
pub const IDT_VA: u64 = ENTRY_AREA;
/// The ring-0 entry stubs (supervisor, read + execute).
pub const CODE_VA: u64 = ENTRY_AREA + 0x1000;
/// The user-visible trampoline page (software backend's LSTAR target).
pub const TRAMPOLINE_VA: u64 = ENTRY_AREA + 0x2000;
/// The page right after the trampoline; the trampoline writes to it, and it is backed by no
/// memory slot, so the write is an MMIO exit.
pub const EXIT_PAGE_VA: u64 = TRAMPOLINE_VA + 0x1000;
/// Per-CPU areas start here, `PER_CPU_STRIDE` apart.
pub const PER_CPU_VA: u64 = ENTRY_AREA + 0x10_000;
/// Per CPU: one page with GDT and TSS, then the ring-0 stack, then an unmapped guard page.
pub const PER_CPU_STRIDE: u64 = 0x4000;
pub const PER_CPU_GDT_OFFSET: u64 = 0;
pub const PER_CPU_TSS_OFFSET: u64 = 0x100;
pub const PER_CPU_STACK_OFFSET: u64 = 0x1000;
pub const PER_CPU_STACK_SIZE: u64 = 0x2000;
/// Bytes of per-CPU memory that are backed (the guard page is not).
pub const PER_CPU_BACKED: u64 = PER_CPU_STACK_OFFSET + PER_CPU_STACK_SIZE;

/// Guest-virtual address of CPU `cpu`'s per-CPU area.
pub const fn per_cpu_va(cpu: usize) -> u64 {
    PER_CPU_VA + cpu as u64 * PER_CPU_STRIDE
}

/// Top of CPU `cpu`'s ring-0 stack (exclusive).
pub const fn stack_top(cpu: usize) -> u64 {
    per_cpu_va(cpu) + PER_CPU_STACK_OFFSET + PER_CPU_STACK_SIZE
}

/// The lowest and highest (exclusive) application addresses: the lower half of 4-level
/// paging minus the last page, which Linux also keeps unmapped so a `syscall` there cannot
/// return to a non-canonical address.
pub const USER_MIN: u64 = 0x1_0000;
pub const USER_MAX: u64 = 0x7fff_ffff_f000;

/// Offsets of the stubs inside the code page (checked against the assembled stubs in
/// `entry`'s tests).
pub const VECTOR_STUB_STRIDE: u64 = 16;
pub const VECTOR_STUBS: u64 = 32;
pub const SYSCALL_STUB_OFFSET: u64 = VECTOR_STUBS * VECTOR_STUB_STRIDE;
pub const RESUME_STUB_OFFSET: u64 = SYSCALL_STUB_OFFSET + 16;

/// Guest mode (the sentry itself at ring 0) has its own IDT and code page, so the
/// exit-per-trap mode's stubs stay as they are.
pub const GUEST_IDT_VA: u64 = ENTRY_AREA + 0x4000;
pub const GUEST_CODE_VA: u64 = ENTRY_AREA + 0x5000;
/// In the guest-mode code page: the syscall stub (after the 32 vector stubs).
pub const GUEST_SYSCALL_OFFSET: u64 = VECTOR_STUBS * VECTOR_STUB_STRIDE;

/// Guest-mode fields of each CPU's per-CPU page (after its GDT and TSS), which the entry code
/// reaches through GS.
pub mod guest {
    /// The per-CPU page's own guest-virtual address.
    pub const SELF: u64 = 0x200;
    /// The sentry's stack pointer and CR3 while an application runs.
    pub const SENTRY_RSP: u64 = 0x208;
    pub const SENTRY_CR3: u64 = 0x210;
    pub const USER_CR3: u64 = 0x218;
    /// 1 while an application runs (a `syscall` then comes from it, not from the sentry).
    pub const IN_USER: u64 = 0x220;
    /// Where the sentry goes on when the application traps.
    pub const RETURN: u64 = 0x228;
    /// Top of the per-CPU stack, for the `iretq` frame.
    pub const STACK_TOP: u64 = 0x230;
    /// The sentry's FS base (its TLS) while the application's is loaded.
    pub const SENTRY_FS: u64 = 0x238;
    pub const SCRATCH: u64 = 0x240;
    /// The trap: exception vector, error code, CR2.
    pub const VECTOR: u64 = 0x248;
    pub const CODE: u64 = 0x250;
    pub const CR2: u64 = 0x258;
    /// The application's registers at the trap, as `abi::x86_64::UserRegs`.
    pub const SAVE: u64 = 0x300;

    /// What the sentry learns from the switch.
    pub const TRAP_SYSCALL: u64 = 0;
    pub const TRAP_EXCEPTION: u64 = 1;
    pub const TRAP_INTERRUPTED: u64 = 2;
}
