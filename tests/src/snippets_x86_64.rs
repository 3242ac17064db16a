//! x86_64 application code for tests and benchmarks, assembled into the test binary and copied into the
//! memory file. Every snippet is position independent and ends by issuing the `DONE`
//! syscall.

/// The syscall number snippets use to say they finished.
pub const DONE: u64 = 1_000_000;

core::arch::global_asm!(
    ".pushsection .rodata.app_snippets, \"a\"",
    // syscalls: for i in 0..r13 { rax = i, args (2i, 3i, 4, 5, 6, 7); syscall; check
    // rax == i ^ 0x5555 else ud2 }; then DONE.
    ".globl app_syscalls",
    "app_syscalls:",
    "xor r12d, r12d",
    "2:",
    "mov rax, r12",
    "lea rdi, [r12 + r12]",
    "lea rsi, [r12 + r12 * 2]",
    "mov edx, 4",
    "mov r10d, 5",
    "mov r8d, 6",
    "mov r9d, 7",
    "syscall",
    "mov r14, r12",
    "xor r14, 0x5555",
    "cmp rax, r14",
    "jne 3f",
    "inc r12",
    "cmp r12, r13",
    "jne 2b",
    "mov eax, 1000000",
    "syscall",
    "3:",
    "ud2",
    ".globl app_syscalls_end",
    "app_syscalls_end:",
    // touch: rax = [rdi]; [rsi] = rax; jmp rdx.
    ".globl app_touch",
    "app_touch:",
    "mov rax, qword ptr [rdi]",
    "mov qword ptr [rsi], rax",
    "jmp rdx",
    ".globl app_touch_end",
    "app_touch_end:",
    // done: report rdi and finish.
    ".globl app_done",
    "app_done:",
    "mov eax, 1000000",
    "syscall",
    "ud2",
    ".globl app_done_end",
    "app_done_end:",
    // fpu: xmm0 = rdi; syscall; rax = xmm0; syscall (the vector register must survive).
    ".globl app_fpu",
    "app_fpu:",
    "movq xmm0, rdi",
    "mov eax, 1",
    "syscall",
    "movq rax, xmm0",
    "mov rdi, rax",
    "mov eax, 1000000",
    "syscall",
    "ud2",
    ".globl app_fpu_end",
    "app_fpu_end:",
    // avx: ymm3's upper half = rdi; syscall; rax = that upper half; syscall.
    ".globl app_avx",
    "app_avx:",
    "vmovq xmm3, rdi",
    "vinsertf128 ymm3, ymm3, xmm3, 1",
    "mov eax, 1",
    "syscall",
    "vextractf128 xmm4, ymm3, 1",
    "vmovq rax, xmm4",
    "mov rdi, rax",
    "mov eax, 1000000",
    "syscall",
    "ud2",
    ".globl app_avx_end",
    "app_avx_end:",
    // barrier: count in at [rdi], spin until it reaches rsi, then finish.
    ".globl app_barrier",
    "app_barrier:",
    "lock inc qword ptr [rdi]",
    "2:",
    "pause",
    "cmp qword ptr [rdi], rsi",
    "jb 2b",
    "mov eax, 1000000",
    "syscall",
    "ud2",
    ".globl app_barrier_end",
    "app_barrier_end:",
    // read_loop: read [rdi] forever, counting in rbx and [rsi] (until the page goes away).
    ".globl app_read_loop",
    "app_read_loop:",
    "2:",
    "mov rax, qword ptr [rdi]",
    "inc rbx",
    "inc qword ptr [rsi]",
    "jmp 2b",
    ".globl app_read_loop_end",
    "app_read_loop_end:",
    // spin forever (for interrupts).
    ".globl app_spin",
    "app_spin:",
    "2:",
    "inc rbx",
    "jmp 2b",
    ".globl app_spin_end",
    "app_spin_end:",
    // One instruction that traps, then DONE; the tests pick the instruction by offset.
    ".globl app_div0",
    "app_div0:",
    "xor ecx, ecx",
    "mov eax, 1",
    "xor edx, edx",
    "div ecx",
    ".globl app_div0_end",
    "app_div0_end:",
    ".globl app_ud2",
    "app_ud2:",
    "ud2",
    ".globl app_ud2_end",
    "app_ud2_end:",
    ".globl app_int3",
    "app_int3:",
    "int3",
    "mov eax, 1000000",
    "syscall",
    ".globl app_int3_end",
    "app_int3_end:",
    ".globl app_hlt",
    "app_hlt:",
    "hlt",
    ".globl app_hlt_end",
    "app_hlt_end:",
    ".globl app_cli",
    "app_cli:",
    "cli",
    ".globl app_cli_end",
    "app_cli_end:",
    ".globl app_mov_cr3",
    "app_mov_cr3:",
    "mov cr3, rax",
    ".globl app_mov_cr3_end",
    "app_mov_cr3_end:",
    ".popsection",
);

macro_rules! snippets {
    ($($name:ident => $start:ident, $end:ident;)*) => {
        unsafe extern "C" {
            $(safe static $start: u8; safe static $end: u8;)*
        }
        $(
            pub fn $name() -> &'static [u8] {
                let start = core::ptr::from_ref(&$start);
                let len = core::ptr::from_ref(&$end) as usize - start as usize;
                // SAFETY: the two labels delimit one block of this binary's read-only data.
                unsafe { core::slice::from_raw_parts(start, len) }
            }
        )*
    };
}

snippets! {
    syscalls => app_syscalls, app_syscalls_end;
    touch => app_touch, app_touch_end;
    done => app_done, app_done_end;
    spin => app_spin, app_spin_end;
    fpu => app_fpu, app_fpu_end;
    avx => app_avx, app_avx_end;
    barrier => app_barrier, app_barrier_end;
    read_loop => app_read_loop, app_read_loop_end;
    div0 => app_div0, app_div0_end;
    ud2 => app_ud2, app_ud2_end;
    int3 => app_int3, app_int3_end;
    hlt => app_hlt, app_hlt_end;
    cli => app_cli, app_cli_end;
    mov_cr3 => app_mov_cr3, app_mov_cr3_end;
}
