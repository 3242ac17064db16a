//! ELF auxiliary vector entry types, which the loader places above `envp` on the initial stack.

/// One `(type, value)` pair of the auxiliary vector.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct AuxEntry {
    /// One of the `AT_*` types below.
    pub a_type: u64,
    /// Its value (a number or a guest address).
    pub a_val: u64,
}

/// Ends the vector.
pub const AT_NULL: u64 = 0;
/// Entry to skip.
pub const AT_IGNORE: u64 = 1;
/// File descriptor of the program, when the interpreter must load it.
pub const AT_EXECFD: u64 = 2;
/// Address of the program headers.
pub const AT_PHDR: u64 = 3;
/// Size of one program header.
pub const AT_PHENT: u64 = 4;
/// Number of program headers.
pub const AT_PHNUM: u64 = 5;
/// Page size.
pub const AT_PAGESZ: u64 = 6;
/// Load address of the interpreter.
pub const AT_BASE: u64 = 7;
/// Flags (unused, zero).
pub const AT_FLAGS: u64 = 8;
/// Entry point of the program.
pub const AT_ENTRY: u64 = 9;
/// Program is not ELF.
pub const AT_NOTELF: u64 = 10;
/// Real user id.
pub const AT_UID: u64 = 11;
/// Effective user id.
pub const AT_EUID: u64 = 12;
/// Real group id.
pub const AT_GID: u64 = 13;
/// Effective group id.
pub const AT_EGID: u64 = 14;
/// Address of a string naming the platform (`"x86_64"`, `"aarch64"`).
pub const AT_PLATFORM: u64 = 15;
/// CPU capability bits.
pub const AT_HWCAP: u64 = 16;
/// Frequency of `times()` ticks.
pub const AT_CLKTCK: u64 = 17;
/// Non-zero for set-uid style programs, which the C library then treats with suspicion.
pub const AT_SECURE: u64 = 23;
/// Address of a string naming the real platform.
pub const AT_BASE_PLATFORM: u64 = 24;
/// Address of 16 random bytes (stack protector and pointer guard seeds).
pub const AT_RANDOM: u64 = 25;
/// More CPU capability bits.
pub const AT_HWCAP2: u64 = 26;
/// Size of the rseq area the kernel supports.
pub const AT_RSEQ_FEATURE_SIZE: u64 = 27;
/// Alignment the rseq area needs.
pub const AT_RSEQ_ALIGN: u64 = 28;
/// Third word of CPU capability bits.
pub const AT_HWCAP3: u64 = 29;
/// Fourth word of CPU capability bits.
pub const AT_HWCAP4: u64 = 30;
/// Address of the file name the program was executed as.
pub const AT_EXECFN: u64 = 31;
/// Address of the vDSO's ELF header.
pub const AT_SYSINFO_EHDR: u64 = 33;
/// Smallest signal stack the signal frame fits in on this CPU.
pub const AT_MINSIGSTKSZ: u64 = 51;
