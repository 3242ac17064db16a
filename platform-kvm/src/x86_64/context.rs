//! Contexts: `switch` runs application code on a vCPU until it traps, and reports why.
//!
//! In the exit-per-trap mode (`switch`) the host drives the ring-0 stubs: it loads the
//! application through the resume stub (or, at ring 3 already, by setting registers), runs
//! `KVM_RUN`, and decodes the exit. On the hardware backend the sentry normally runs in guest
//! mode instead (`switch_in_guest`, see `guest_mode`), where traps come back with no exit.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use abi::x86_64::UserRegs;
use kvm_bindings::kvm_regs;
use kvm_ioctls::VcpuExit;
use ring0::Trap;
use ring0::trap::Access;
use ring0::x86_64::cpu::CR3_NOFLUSH;
use ring0::x86_64::entry::{self, Stub};
use ring0::x86_64::exception::{self, PAGE_FAULT};
use ring0::x86_64::layout::{
    CODE_VA, EXIT_PAGE_VA, RESUME_STUB_OFFSET, TRAMPOLINE_VA, USER_CS, USER_DS, stack_top,
};
use ring0::x86_64::rflags;

use super::address_space::{AddressSpace, Loadable};
use super::fpu::FpuSlot;
use super::guest_fpu::GuestFpu;
use super::guest_mode::{GuestMode, leave_guest_config};
use super::machine::{EXIT_GPA, Machine};
use super::vcpu::{Position, Vcpu};
use crate::error::{Error, Result};
use crate::kick::{Interrupter, Shared, install_kick_handler};
use crate::stats::ExitReason;

/// An application thread's execution context on the KVM platform.
pub struct Context {
    machine: Arc<Machine>,
    shared: Arc<Shared>,
    fpu: Arc<FpuSlot>,
    /// The application's FPU state when it runs from guest mode.
    guest_fpu: Option<Box<GuestFpu>>,
}

/// What decoding an exit found.
enum Exit {
    Halt,
    MmioWrite(u64),
    MmioRead(u64),
    Interrupted,
    Failure(String),
}

impl Context {
    pub fn new(machine: &Arc<Machine>) -> Context {
        install_kick_handler();
        let shared = Shared::registered_in(&machine.contexts);
        Context {
            machine: machine.clone(),
            shared,
            fpu: Arc::default(),
            guest_fpu: None,
        }
    }

    /// A handle other threads use to interrupt this context.
    pub fn interrupter(&self) -> Interrupter {
        Interrupter(self.shared.clone())
    }

    /// [`Context::switch`] from guest mode (inside `guest`'s `run` on this thread): the
    /// application's traps come back without VM exits; kicks still interrupt it.
    pub fn switch_in_guest(
        &mut self,
        guest: &GuestMode,
        regs: &mut UserRegs,
        space: &AddressSpace,
    ) -> Result<Trap> {
        if self.shared.pending.swap(false, Ordering::AcqRel) {
            return Ok(Trap::Interrupted);
        }
        if !GuestMode::in_run() {
            return Err(Error::GuestFailure(
                "switch_in_guest outside GuestMode::run".into(),
            ));
        }
        // The vCPU may change from one entry to the next: the kick signal's handler finds
        // the thread's current one (`guest_mode::on_kick`).
        self.shared.register(std::ptr::null_mut(), space.id());
        let fpu = self.guest_fpu.get_or_insert_with(Box::default);
        let shared = &self.shared;
        let result = guest.switch_until(regs, fpu, space, &|| {
            shared.pending.swap(false, Ordering::AcqRel)
        });
        self.shared.unregister();
        result
    }

    /// Run the application with `regs` in `space` until it traps; `regs` then holds its
    /// state at the trap.
    pub fn switch(&mut self, regs: &mut UserRegs, space: &AddressSpace) -> Result<Trap> {
        if !Arc::ptr_eq(space.machine(), &self.machine) {
            return Err(Error::other_machine());
        }
        let loadable = space.loadable()?;
        let mut vcpu = self.machine.pool.acquire(&self.fpu)?;
        if vcpu.guest.is_some()
            && let Err(e) = leave_guest_config(&self.machine, &mut vcpu)
        {
            self.machine.pool.release(vcpu);
            return Err(e);
        }
        let result = self.run(&mut vcpu, regs, loadable);
        self.machine.pool.release(vcpu);
        result
    }

    fn run(&self, vcpu: &mut Vcpu, regs: &mut UserRegs, space: Loadable) -> Result<Trap> {
        if self.shared.pending.swap(false, Ordering::AcqRel) {
            return Ok(Trap::Interrupted);
        }
        self.load(vcpu, regs, space)?;

        let in_guest = self.machine.enter();
        self.shared
            .register(std::ptr::from_mut(vcpu.fd.get_kvm_run()), space.id);
        let exit = if self.shared.pending.swap(false, Ordering::AcqRel) {
            Exit::Interrupted
        } else {
            match vcpu.fd.run() {
                Ok(VcpuExit::Hlt) => Exit::Halt,
                Ok(VcpuExit::MmioWrite(gpa, _)) if page_of(gpa) == EXIT_GPA => Exit::MmioWrite(gpa),
                Ok(VcpuExit::MmioRead(gpa, data)) if page_of(gpa) == EXIT_GPA => {
                    data.fill(0);
                    Exit::MmioRead(gpa)
                }
                Ok(VcpuExit::Intr) => Exit::Interrupted,
                Err(e) if e.errno() == libc::EINTR => Exit::Interrupted,
                Ok(other) => Exit::Failure(format!("{other:?}")),
                Err(e) => Exit::Failure(format!("KVM_RUN: {e}")),
            }
        };
        drop(in_guest);
        self.shared.unregister();
        vcpu.fd.set_kvm_immediate_exit(0);
        // A kick that raced with a normal exit is consumed here: the caller is back in the
        // sentry anyway, which is all an interrupt asks for.
        self.shared.pending.store(false, Ordering::Release);
        self.decode(vcpu, regs, exit)
    }

    /// Put the application's state into the vCPU.
    fn load(&self, vcpu: &mut Vcpu, regs: &UserRegs, space: Loadable) -> Result<()> {
        let pcid = if self.machine.features.pcid {
            space.pcid
        } else {
            0
        };
        let tlb_current = vcpu.tlb.get(pcid as usize) == Some(&(space.id, space.generation));
        let bases_current =
            vcpu.sregs.fs.base == regs.fs_base && vcpu.sregs.gs.base == regs.gs_base;
        let cr3 = space.root | u64::from(pcid);
        let mut k = to_kvm(regs);
        k.rflags = rflags::sanitize_user(regs.eflags);

        if vcpu.position == Position::Ring3 && tlb_current && bases_current && vcpu.cr3 == cr3 {
            return vcpu.set_regs(&k);
        }
        // The resume stub runs under the CR3 the vCPU holds now. If that is another space's,
        // it may have been released and its tables reused since: reload the kernel's first.
        if vcpu.position == Position::Ring3 || !bases_current || vcpu.cr3 != cr3 {
            vcpu.sregs.fs.base = regs.fs_base;
            vcpu.sregs.gs.base = regs.gs_base;
            vcpu.fd
                .set_sregs(&vcpu.sregs)
                .map_err(Error::kvm("KVM_SET_SREGS"))?;
            vcpu.position = Position::Ring0;
        }
        // Through the resume stub: CR3 in RAX, the application's RAX and iret frame on the
        // ring-0 stack. Without a current TLB (or without PCIDs) the CR3 load flushes.
        let keep_tlb = pcid != 0 && tlb_current;
        let frame = [
            k.rax,
            k.rip,
            u64::from(USER_CS),
            k.rflags,
            k.rsp,
            u64::from(USER_DS),
        ];
        let frame_va = stack_top(vcpu.index) - 8 * frame.len() as u64;
        self.machine
            .entry
            .write_stack(vcpu.index, frame_va, &frame)?;
        k.rax = cr3 | if keep_tlb { CR3_NOFLUSH } else { 0 };
        k.rsp = frame_va;
        k.rip = CODE_VA + RESUME_STUB_OFFSET;
        k.rflags = rflags::RESERVED1;
        vcpu.set_regs(&k)?;
        if vcpu.tlb.len() <= pcid as usize {
            vcpu.tlb.resize(pcid as usize + 1, (0, 0));
        }
        vcpu.tlb[pcid as usize] = (space.id, space.generation);
        vcpu.cr3 = cr3;
        Ok(())
    }

    fn decode(&self, vcpu: &mut Vcpu, regs: &mut UserRegs, exit: Exit) -> Result<Trap> {
        let exits = &self.machine.exits;
        match exit {
            Exit::Halt => {
                exits.count(ExitReason::Hlt);
                let k = vcpu.regs()?;
                vcpu.position = Position::Ring0;
                self.decode_halt(vcpu, regs, &k)
            }
            Exit::MmioWrite(gpa) | Exit::MmioRead(gpa) => {
                exits.count(ExitReason::Mmio);
                let read = matches!(exit, Exit::MmioRead(_));
                if read {
                    // Let KVM finish the emulated read now, so it cannot later overwrite
                    // registers the sentry sets.
                    vcpu.fd.set_kvm_immediate_exit(1);
                    let _ = vcpu.fd.run();
                    vcpu.fd.set_kvm_immediate_exit(0);
                }
                let k = vcpu.regs()?;
                vcpu.position = Position::Ring3;
                from_kvm(&k, regs);
                let trampoline_exit = TRAMPOLINE_VA + entry::trampoline_exit_offset();
                if !read && (k.rip == trampoline_exit || k.rip == TRAMPOLINE_VA) {
                    syscall_return_state(&k, regs);
                    return Ok(Trap::Syscall);
                }
                // The application touched the exit page itself.
                regs.orig_rax = u64::MAX;
                Ok(Trap::Fault {
                    addr: EXIT_PAGE_VA + (gpa - EXIT_GPA),
                    access: if read { Access::Read } else { Access::Write },
                    present: true,
                })
            }
            Exit::Interrupted => {
                exits.count(ExitReason::Interrupted);
                if vcpu.discard_unloaded_regs() {
                    // KVM returned before taking the new registers: nothing ran.
                    return Ok(Trap::Interrupted);
                }
                let k = vcpu.regs()?;
                if in_code_page(k.rip) {
                    // Still in the resume stub: the application has not run, `regs` stand.
                    vcpu.position = Position::Ring0;
                } else {
                    vcpu.position = Position::Ring3;
                    from_kvm(&k, regs);
                }
                Ok(Trap::Interrupted)
            }
            Exit::Failure(what) => {
                exits.count(ExitReason::Other);
                // Whatever state the vCPU is in, the next switch reloads all of it.
                vcpu.position = Position::Ring3;
                vcpu.tlb.clear();
                let detail = match vcpu.regs() {
                    Ok(k) => format!("{what} at rip {:#x} rsp {:#x}", k.rip, k.rsp),
                    Err(_) => what,
                };
                Err(Error::GuestFailure(detail))
            }
        }
    }

    fn decode_halt(&self, vcpu: &Vcpu, regs: &mut UserRegs, k: &kvm_regs) -> Result<Trap> {
        let stub = if in_code_page(k.rip) {
            entry::stub_at(k.rip - CODE_VA)
        } else {
            None
        };
        match stub {
            Some(Stub::Syscall) => {
                from_kvm(k, regs);
                syscall_return_state(k, regs);
                Ok(Trap::Syscall)
            }
            Some(Stub::Vector(vector)) => {
                let entry = &self.machine.entry;
                let (code, frame) = if exception::has_error_code(vector) {
                    let [code, frame @ ..] = entry.read_stack::<6>(vcpu.index, k.rsp)?;
                    (code, frame)
                } else {
                    (0, entry.read_stack::<5>(vcpu.index, k.rsp)?)
                };
                let [rip, cs, rflags, rsp, _ss] = frame;
                if cs & 3 != 3 {
                    if in_code_page(rip) && entry::stub_at(rip - CODE_VA) == Some(Stub::Resume) {
                        // The application's own state could not be loaded (e.g. a
                        // non-canonical RIP): that is its fault, reported as the exception.
                        return Ok(Trap::Exception { vector, code });
                    }
                    return Err(Error::GuestFailure(format!(
                        "exception {vector} (code {code:#x}) at ring 0, rip {rip:#x}"
                    )));
                }
                let cr2 = if vector == PAGE_FAULT {
                    vcpu.fd
                        .get_sregs()
                        .map_err(Error::kvm("KVM_GET_SREGS"))?
                        .cr2
                } else {
                    0
                };
                from_kvm(k, regs);
                regs.rip = rip;
                regs.eflags = rflags;
                regs.rsp = rsp;
                regs.orig_rax = u64::MAX;
                Ok(exception::decode(vector, code, cr2))
            }
            _ => Err(Error::GuestFailure(format!(
                "unexpected halt at rip {:#x}",
                k.rip
            ))),
        }
    }
}

impl Drop for Context {
    fn drop(&mut self) {
        self.machine.pool.forget(&self.fpu);
    }
}

fn page_of(gpa: u64) -> u64 {
    gpa & !0xfff
}

fn in_code_page(rip: u64) -> bool {
    rip.wrapping_sub(CODE_VA) < 4096
}

/// After `syscall`: RCX holds the return address and R11 the flags, as the instruction left
/// them; the number is in RAX.
fn syscall_return_state(k: &kvm_regs, regs: &mut UserRegs) {
    regs.rip = k.rcx;
    regs.eflags = k.r11;
    regs.orig_rax = k.rax;
}

fn to_kvm(r: &UserRegs) -> kvm_regs {
    kvm_regs {
        rax: r.rax,
        rbx: r.rbx,
        rcx: r.rcx,
        rdx: r.rdx,
        rsi: r.rsi,
        rdi: r.rdi,
        rsp: r.rsp,
        rbp: r.rbp,
        r8: r.r8,
        r9: r.r9,
        r10: r.r10,
        r11: r.r11,
        r12: r.r12,
        r13: r.r13,
        r14: r.r14,
        r15: r.r15,
        rip: r.rip,
        rflags: r.eflags,
    }
}

fn from_kvm(k: &kvm_regs, r: &mut UserRegs) {
    r.rax = k.rax;
    r.rbx = k.rbx;
    r.rcx = k.rcx;
    r.rdx = k.rdx;
    r.rsi = k.rsi;
    r.rdi = k.rdi;
    r.rsp = k.rsp;
    r.rbp = k.rbp;
    r.r8 = k.r8;
    r.r9 = k.r9;
    r.r10 = k.r10;
    r.r11 = k.r11;
    r.r12 = k.r12;
    r.r13 = k.r13;
    r.r14 = k.r14;
    r.r15 = k.r15;
    r.rip = k.rip;
    r.eflags = k.rflags;
    r.cs = u64::from(USER_CS);
    r.ss = u64::from(USER_DS);
}
