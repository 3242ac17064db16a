//! Values of the EL1 system registers that make a vCPU run the guest kernel: 48-bit virtual
//! addresses in both halves with 4 KiB pages, the MMU and caches on, FP/SIMD usable, and EL0
//! allowed what Linux allows it (cache-type and cache-maintenance instructions, `DC ZVA`, the
//! virtual counter).

/// SCTLR_EL1.
pub mod sctlr {
    pub const M: u64 = 1 << 0;
    pub const C: u64 = 1 << 2;
    pub const SA: u64 = 1 << 3;
    pub const SA0: u64 = 1 << 4;
    pub const I: u64 = 1 << 12;
    /// EL0 may use `DC ZVA` (glibc's memset does).
    pub const DZE: u64 = 1 << 14;
    /// EL0 may read CTR_EL0 (glibc reads cache line sizes).
    pub const UCT: u64 = 1 << 15;
    /// EL0's `WFI`/`WFE` do not trap.
    pub const NTWI: u64 = 1 << 16;
    pub const NTWE: u64 = 1 << 18;
    /// EL0 may clean and invalidate caches to the point of unification (JITs, `__clear_cache`).
    pub const UCI: u64 = 1 << 26;
    /// Bits that are RES1 in ARMv8.0 (later features give them meanings whose value 1 is the
    /// v8.0 behaviour).
    pub const RES1: u64 = (1 << 11) | (1 << 20) | (1 << 22) | (1 << 23) | (1 << 28) | (1 << 29);
}

/// SCTLR_EL1: MMU, caches, stack alignment checks, what EL0 may do. Pointer authentication
/// stays off (its hint-space instructions are NOPs then).
pub const SCTLR_EL1: u64 = sctlr::M
    | sctlr::C
    | sctlr::SA
    | sctlr::SA0
    | sctlr::I
    | sctlr::DZE
    | sctlr::UCT
    | sctlr::NTWI
    | sctlr::NTWE
    | sctlr::UCI
    | sctlr::RES1;

/// TCR_EL1 for both halves: T0SZ = T1SZ = 16 (48 bits), 4 KiB granules, write-back
/// inner-shareable walks, 8-bit ASIDs from TTBR0, 40-bit intermediate physical addresses
/// (KVM's default IPA size), and top-byte-ignore for EL0 addresses as Linux sets it.
pub const TCR_EL1: u64 = {
    let t0sz = 16;
    let walk0 = (0b01 << 8) | (0b01 << 10) | (0b11 << 12); // IRGN0, ORGN0, SH0; TG0 = 4K (0)
    let t1sz = 16 << 16;
    let walk1 = (0b01 << 24) | (0b01 << 26) | (0b11 << 28) | (0b10 << 30); // TG1 = 4K (0b10)
    let ips_40 = 0b010 << 32;
    let tbi0 = 1 << 37;
    t0sz | walk0 | t1sz | walk1 | ips_40 | tbi0
};

/// MAIR_EL1: attribute 0 normal write-back memory (every page, see `pagetables::aarch64`),
/// attribute 1 device memory.
pub const MAIR_EL1: u64 = 0x00ff;

/// CPACR_EL1: FP/SIMD at EL0 and EL1 without traps (FPEN = 0b11).
pub const CPACR_EL1: u64 = 0b11 << 20;

/// CPACR_EL1.ZEN = 0b01: SVE at EL1 without traps, at EL0 trapped (an application's SVE state
/// is not kept across its traps, so applications get no SVE: their HWCAP says so, and an SVE
/// instruction is SIGILL).
pub const CPACR_ZEN_EL1: u64 = 0b01 << 16;

/// CNTKCTL_EL1: EL0 may read the virtual counter (EL0VCTEN), as on Linux.
pub const CNTKCTL_EL1: u64 = 1 << 1;

/// PSTATE of the entry code: EL1 with SP_EL1 (EL1h), debug, SError, IRQ and FIQ masked.
pub const PSTATE_EL1H_MASKED: u64 = 0x3c5;

/// The application PSTATE bits the sentry may set: the condition flags. Everything else (the
/// exception level, the interrupt masks, AArch32 state) is the kernel's, as Linux's
/// `valid_user_regs` keeps it.
pub const PSTATE_USER_MASK: u64 = 0xf000_0000;
