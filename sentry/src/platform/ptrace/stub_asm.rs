//! The stub's code: position independent, using no stack and no data but its own page. It
//! is assembled into the sentry's read-only data (it never runs in the sentry) and copied to
//! [`super::STUB_ADDR`] in each fresh stub process.
//!
//! - `entry` (offset 0), jumped to by the freshly forked child with `rdi` = the number of
//!   bytes to unmap from address 0 (everything below the stub page) and `rsi` = 1 to reset
//!   the vector state with `xrstor`, 0 with `fxrstor`. It unmaps, resets the FPU/SSE/AVX
//!   state to its initial values (so no sentry data survives in vector registers), and stops
//!   at `ready` (`int3`). A failed `munmap` stops at `ud2` with the error in `rax`.
//! - `syscall`: `syscall; int3` — the tracer sets the registers, continues, and reads `rax`
//!   at the `int3` stop.
//! - `clone`: the same for `clone`; the parent stops at `int3` with the child's pid, the child
//!   asks for `SIGKILL` when its parent (the stub leader) dies and parks in `pause` until a
//!   sentry thread seizes it.

use std::sync::OnceLock;

core::arch::global_asm!(
    ".pushsection .rodata.ringfence_ptrace_stub, \"a\"",
    ".balign 64",
    ".globl ringfence_ptrace_stub_start",
    "ringfence_ptrace_stub_start:",
    "mov r12, rsi",
    "mov rsi, rdi",
    "xor edi, edi",
    "mov eax, 11", // munmap
    "syscall",
    "test rax, rax",
    "jnz 4f",
    "test r12, r12",
    "jz 2f",
    // x87, SSE, AVX, AVX-512 state to their initial values (XSTATE_BV = 0 in the image).
    "mov eax, 0xe7",
    "xor edx, edx",
    "xrstor64 [rip + ringfence_ptrace_stub_fpu_init]",
    "jmp 3f",
    "2:",
    "fxrstor64 [rip + ringfence_ptrace_stub_fpu_init]",
    "3:",
    ".globl ringfence_ptrace_stub_ready",
    "ringfence_ptrace_stub_ready:",
    "int3",
    "ud2",
    "4:",
    "ud2",
    ".globl ringfence_ptrace_stub_syscall",
    "ringfence_ptrace_stub_syscall:",
    "syscall",
    ".globl ringfence_ptrace_stub_syscall_done",
    "ringfence_ptrace_stub_syscall_done:",
    "int3",
    "ud2",
    ".globl ringfence_ptrace_stub_clone",
    "ringfence_ptrace_stub_clone:",
    "syscall",
    "test rax, rax",
    "jz 5f",
    ".globl ringfence_ptrace_stub_clone_done",
    "ringfence_ptrace_stub_clone_done:",
    "int3",
    "ud2",
    "5:",
    "mov edi, 1",   // PR_SET_PDEATHSIG
    "mov esi, 9",   // SIGKILL
    "mov eax, 157", // prctl
    "syscall",
    "6:",
    "mov eax, 34", // pause
    "syscall",
    "jmp 6b",
    // The FXSAVE/XSAVE image of the initial state: FCW 0x37f, MXCSR 0x1f80, and a zero
    // XSAVE header (every component in its initial configuration).
    ".balign 64",
    "ringfence_ptrace_stub_fpu_init:",
    ".2byte 0x037f",
    ".zero 22",
    ".4byte 0x1f80",
    ".zero 484",
    ".zero 64",
    ".globl ringfence_ptrace_stub_end",
    "ringfence_ptrace_stub_end:",
    ".popsection",
);

unsafe extern "C" {
    safe static ringfence_ptrace_stub_start: u8;
    safe static ringfence_ptrace_stub_ready: u8;
    safe static ringfence_ptrace_stub_syscall: u8;
    safe static ringfence_ptrace_stub_clone: u8;
    safe static ringfence_ptrace_stub_syscall_done: u8;
    safe static ringfence_ptrace_stub_clone_done: u8;
    safe static ringfence_ptrace_stub_end: u8;
}

/// The stub's bytes and where its entry points lie, as offsets into its page.
pub struct StubCode {
    pub bytes: &'static [u8],
    /// The `int3` reached once the stub is set up.
    pub ready: u64,
    /// `syscall; int3`.
    pub syscall: u64,
    /// `syscall` of `clone`, then `int3` in the parent.
    pub clone: u64,
    /// The `int3`s that end a successful `syscall` and `clone`.
    pub syscall_done: u64,
    pub clone_done: u64,
}

fn offset(label: &u8, start: usize) -> u64 {
    (std::ptr::from_ref(label) as usize - start) as u64
}

/// The stub code, read from this binary once.
pub fn code() -> &'static StubCode {
    static CODE: OnceLock<StubCode> = OnceLock::new();
    CODE.get_or_init(|| {
        let start = std::ptr::from_ref(&ringfence_ptrace_stub_start) as usize;
        let len = std::ptr::from_ref(&ringfence_ptrace_stub_end) as usize - start;
        assert!(len as u64 <= super::STUB_SIZE, "the stub fits its page");
        StubCode {
            // SAFETY: the two labels delimit one block of this binary's read-only data.
            bytes: unsafe { std::slice::from_raw_parts(start as *const u8, len) },
            ready: offset(&ringfence_ptrace_stub_ready, start),
            syscall: offset(&ringfence_ptrace_stub_syscall, start),
            clone: offset(&ringfence_ptrace_stub_clone, start),
            syscall_done: offset(&ringfence_ptrace_stub_syscall_done, start),
            clone_done: offset(&ringfence_ptrace_stub_clone_done, start),
        }
    })
}

/// Where a stopped stub process is made to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Entry {
    /// One system call, then `int3`.
    Syscall,
    /// `clone`: the parent stops at `int3`, the child parks.
    Clone,
}

impl Entry {
    /// The address to set `rip` to.
    pub fn addr(self) -> u64 {
        let code = code();
        super::STUB_ADDR
            + match self {
                Entry::Syscall => code.syscall,
                Entry::Clone => code.clone,
            }
    }

    /// `rip` at the `int3` stop that ends a successful run (just past the `int3`).
    pub fn done_rip(self) -> u64 {
        let code = code();
        super::STUB_ADDR
            + 1
            + match self {
                Entry::Syscall => code.syscall_done,
                Entry::Clone => code.clone_done,
            }
    }
}

/// `rip` at the stop that says the stub is set up.
pub fn ready_rip() -> u64 {
    super::STUB_ADDR + code().ready + 1
}
