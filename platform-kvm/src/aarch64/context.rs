//! Contexts: `switch` runs application code on a vCPU until it traps, and reports why.
//!
//! The host writes the application's state into the vCPU's frame and runs the vCPU, which
//! is stopped at the resume code; the entry code `eret`s to EL0, and at the next exception
//! saves everything back into the frame and leaves with one MMIO exit (see
//! `ring0::aarch64::vectors`). A kick that stops the vCPU in application code sends it
//! through the IRQ vector's save path, so its state reaches the frame the same way.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use abi::aarch64::TaskRegs;
use kvm_ioctls::VcpuExit;
use ring0::Trap;
use ring0::aarch64::layout::{CODE_VA, kind};
use ring0::aarch64::{syndrome, sysregs, vectors};

use super::address_space::{AddressSpace, Loadable};
use super::frame::Frame;
use super::guest_mode::{self, GuestMode};
use super::machine::{EXIT_GPA, Machine};
use super::vcpu::{Vcpu, core_reg};
use crate::error::{Error, Result};
use crate::kick::{Interrupter, Shared, install_kick_handler};
use crate::stats::ExitReason;

/// An application thread's execution context on the KVM platform.
pub struct Context {
    machine: Arc<Machine>,
    shared: Arc<Shared>,
    /// The vCPU this context ran on last (its TLB may still hold the space's translations).
    last_vcpu: Option<usize>,
}

impl Context {
    pub fn new(machine: &Arc<Machine>) -> Context {
        install_kick_handler();
        let shared = Shared::registered_in(&machine.contexts);
        Context {
            machine: machine.clone(),
            shared,
            last_vcpu: None,
        }
    }

    /// A handle other threads use to interrupt this context.
    pub fn interrupter(&self) -> Interrupter {
        Interrupter(self.shared.clone())
    }

    /// [`Context::switch`] from guest mode (inside `guest`'s `run` on this thread): the
    /// thread enters guest mode if it is not in it, and the application's traps come back to
    /// it at EL1 without VM exits; kicks still interrupt it (and take it out of guest mode).
    pub fn switch_in_guest(
        &mut self,
        guest: &GuestMode,
        regs: &mut TaskRegs,
        space: &AddressSpace,
    ) -> Result<Trap> {
        if !Arc::ptr_eq(space.machine(), &self.machine)
            || !Arc::ptr_eq(guest.machine(), &self.machine)
        {
            return Err(Error::other_machine());
        }
        let loadable = space.loadable()?;
        if self.shared.pending.swap(false, Ordering::AcqRel) {
            return Ok(Trap::Interrupted);
        }
        // The vCPU may change from one entry to the next: a kick reaches the thread, and its
        // signal handler the vCPU it runs (`guest_mode::on_kick`).
        // Kicks from here on are for this switch (earlier ones set `pending`, checked above).
        guest_mode::forget_kicks();
        self.shared.register(std::ptr::null_mut(), loadable.id);
        let index = match guest.enter() {
            Ok(index) => index,
            Err(e) => {
                self.shared.unregister();
                return Err(e);
            }
        };
        // From here to the copy-out below the thread is at EL1 and stays there: nothing in
        // between makes a host call (faults on sentry memory are mapped in the guest, kicks
        // only mark the frame), so the frame stays this thread's.
        let frame_ptr = guest.frame(index);
        let flush = self.machine.tlb_stale(index, &loadable);
        // SAFETY: this thread holds vCPU `index` (it is in guest mode on it): the frame is
        // its own while the switch is not running the application.
        unsafe { store(&mut *frame_ptr, regs, loadable.ttbr0, flush) };
        let vector = guest_mode::switch(index);
        // SAFETY: as above; the application stopped.
        let frame = unsafe { &mut *frame_ptr };
        if vector != kind::NOT_RUN {
            load(frame, regs);
        }
        let (esr, far) = (frame.esr, frame.far);
        let leave = std::mem::take(&mut frame.leave) != 0;
        self.shared.unregister();
        self.shared.pending.store(false, Ordering::Release);
        if leave {
            guest_mode::leave();
        }
        if vector == kind::NOT_RUN {
            return Ok(Trap::Interrupted);
        }
        syndrome::decode(vector, esr, far).ok_or_else(|| {
            Error::GuestFailure(format!("guest-mode switch returned vector {vector}"))
        })
    }

    /// Run the application with `regs` in `space` until it traps; `regs` then holds its
    /// state at the trap.
    pub fn switch(&mut self, regs: &mut TaskRegs, space: &AddressSpace) -> Result<Trap> {
        if !Arc::ptr_eq(space.machine(), &self.machine) {
            return Err(Error::other_machine());
        }
        let loadable = space.loadable()?;
        if self.shared.pending.swap(false, Ordering::AcqRel) {
            return Ok(Trap::Interrupted);
        }
        let mut vcpu = self.machine.pool.acquire(self.last_vcpu);
        self.last_vcpu = Some(vcpu.index);
        let result = self.run(&mut vcpu, regs, loadable);
        if result.is_err() {
            vcpu.needs_reset = true;
            self.machine.forget_tlb(vcpu.index);
        }
        self.machine.pool.release(vcpu);
        result
    }

    fn run(&mut self, vcpu: &mut Vcpu, regs: &mut TaskRegs, space: Loadable) -> Result<Trap> {
        let frame_ptr = self.machine.frame(vcpu.index);
        let flush = self.machine.tlb_stale(vcpu.index, &space);
        // SAFETY: this thread holds the vCPU, which is not running, so nothing else reads or
        // writes its frame (see `Machine::frame`); the frame is a live page of the entry area.
        unsafe {
            let frame = &mut *frame_ptr;
            store(frame, regs, space.ttbr0, flush);
            frame.mode = 0;
            frame.enter = 0;
            frame.leave = 0;
        }
        if vcpu.needs_reset {
            vcpu.reset_to_dispatch()?;
        }
        self.shared
            .register(std::ptr::from_mut(vcpu.fd.get_kvm_run()), space.id);
        let outcome = self.run_until_trap(vcpu);
        self.shared.unregister();
        vcpu.fd.set_kvm_immediate_exit(0);
        // A kick that raced with a normal exit is consumed here: the caller is back in the
        // sentry anyway, which is all an interrupt asks for.
        self.shared.pending.store(false, Ordering::Release);
        match outcome? {
            Stop::Saved => {
                // SAFETY: as above: the vCPU stopped at its exit write.
                let frame = unsafe { &*frame_ptr };
                load(frame, regs);
                syndrome::decode(frame.kind, frame.esr, frame.far).ok_or_else(|| {
                    Error::GuestFailure(format!(
                        "exception at EL1 (vector {}, ESR {:#x}, FAR {:#x}, ELR {:#x})",
                        frame.kind, frame.esr, frame.far, frame.elr
                    ))
                })
            }
            Stop::BeforeApplication => Ok(Trap::Interrupted),
        }
    }

    /// Runs the vCPU until the entry code has saved a trap into the frame (or a kick stopped
    /// it before the application ran).
    fn run_until_trap(&self, vcpu: &mut Vcpu) -> Result<Stop> {
        let exits = &self.machine.exits;
        loop {
            let interrupted = match vcpu.fd.run() {
                Ok(VcpuExit::MmioWrite(gpa, _)) if gpa & !0xfff == EXIT_GPA => {
                    exits.count(ExitReason::Mmio);
                    return Ok(Stop::Saved);
                }
                Ok(VcpuExit::Intr) => true,
                Err(e) if e.errno() == libc::EINTR => true,
                Ok(other) => {
                    let what = format!("{other:?}");
                    exits.count(ExitReason::Other);
                    return Err(self.failure(vcpu, &what));
                }
                Err(e) => {
                    exits.count(ExitReason::Other);
                    return Err(self.failure(vcpu, &format!("KVM_RUN: {e}")));
                }
            };
            debug_assert!(interrupted);
            exits.count(ExitReason::Interrupted);
            vcpu.fd.set_kvm_immediate_exit(0);
            let pc = vcpu.get(core_reg::PC)?;
            let offset = pc.wrapping_sub(CODE_VA);
            if offset < vectors::dispatch_offset() {
                // Saving a trap: let it finish, the trap is real.
                continue;
            }
            if offset <= vectors::eret_offset() {
                // Still loading the frame: the application has not run, `regs` stand.
                vcpu.needs_reset = true;
                return Ok(Stop::BeforeApplication);
            }
            // In the application: take it out as an interrupt would, through the IRQ
            // vector's save path.
            let pstate = vcpu.get(core_reg::PSTATE)?;
            vcpu.raise(kind::LOWER_IRQ, pc, pstate)?;
        }
    }

    fn failure(&self, vcpu: &Vcpu, what: &str) -> Error {
        let pc = vcpu.get(core_reg::PC).unwrap_or(0);
        Error::GuestFailure(format!("{what} at pc {pc:#x}"))
    }
}

/// Where a run stopped.
enum Stop {
    /// The entry code saved a trap (or an interrupt) into the frame.
    Saved,
    /// A kick stopped the vCPU before the application ran.
    BeforeApplication,
}

/// The application's state into the frame, for the resume code.
fn store(frame: &mut Frame, regs: &TaskRegs, ttbr0: u64, flush: bool) {
    frame.x = regs.regs;
    frame.sp_el0 = regs.sp;
    frame.elr = regs.pc;
    frame.spsr = regs.pstate & sysregs::PSTATE_USER_MASK;
    frame.tpidr = regs.tpidr_el0;
    frame.ttbr0 = ttbr0;
    frame.flush = u64::from(flush);
    frame.fpsr = regs.fp.fpsr;
    frame.fpcr = regs.fp.fpcr;
    frame.v = regs.fp.v;
}

/// The application's state at a trap, from the frame.
fn load(frame: &Frame, regs: &mut TaskRegs) {
    regs.regs = frame.x;
    regs.sp = frame.sp_el0;
    regs.pc = frame.elr;
    regs.pstate = frame.spsr;
    regs.tpidr_el0 = frame.tpidr;
    regs.fp.fpsr = frame.fpsr;
    regs.fp.fpcr = frame.fpcr;
    regs.fp.v = frame.v;
}
