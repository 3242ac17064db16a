//! Delivering signals to a task: default actions, handler frames and syscall restarts.

use abi::SigSet;
use abi::signal::*;
use abi::{Errno, SigInfo};

use super::{ExitStatus, Task};
use crate::platform::Platform;
use crate::signal::{self, Default};

/// The restart errnos a blocking syscall returns when a signal interrupts it.
const ERESTARTSYS: i32 = 512;
const ERESTARTNOINTR: i32 = 513;
const ERESTARTNOHAND: i32 = 514;
const ERESTART_RESTARTBLOCK: i32 = 516;

impl<P: Platform> Task<P> {
    /// Make `sig` (from a fault or exception) deliverable even if blocked or ignored, as
    /// Linux's force_sig does, and deliver it now.
    pub(crate) fn force_signal(&mut self, info: SigInfo) {
        let sig = info.si_signo;
        {
            let mut actions = self.actions.lock().unwrap_or_else(|e| e.into_inner());
            let mut pending = self.signals.lock();
            if pending.mask.contains(sig) || actions[sig as usize].handler == SIG_IGN {
                actions[sig as usize].handler = SIG_DFL;
                pending.mask.del(sig);
            }
            pending.queue.insert(0, info);
        }
        self.deliver_signals();
    }

    /// The syscall that just returned was interrupted: what its return value becomes when a
    /// signal with `handler` (`None`: no handler runs) is delivered.
    fn fix_restart(&mut self, handler: Option<u64>) {
        let Some((nr, arg0)) = self.syscall.take() else {
            return;
        };
        let ret = -(self.regs.return_value() as i64) as i32;
        let restart = match ret {
            ERESTARTNOINTR => true,
            ERESTARTSYS => handler.is_none_or(|flags| flags & SaFlags::RESTART.bits() != 0),
            ERESTARTNOHAND | ERESTART_RESTARTBLOCK => handler.is_none(),
            _ => return,
        };
        if restart {
            crate::arch::restore_syscall(&mut self.regs, nr, arg0);
            crate::arch::rewind_syscall(&mut self.regs);
        } else {
            self.regs.set_return(Errno::EINTR.as_syscall_return());
        }
    }

    /// Deliver what is pending and unblocked: run default actions, or set up one handler.
    pub(crate) fn deliver_signals(&mut self) {
        while let Some(info) = self.signals.dequeue() {
            let sig = info.si_signo;
            let action = {
                let actions = self.actions.lock().unwrap_or_else(|e| e.into_inner());
                actions[sig as usize]
            };
            match action.handler {
                SIG_IGN if sig != SIGKILL && sig != SIGSTOP => continue,
                SIG_DFL | SIG_IGN => match signal::default_action(sig) {
                    Default::Terminate | Default::Core => {
                        self.exit_group(ExitStatus::Signaled(sig));
                        return;
                    }
                    Default::Ignore | Default::Stop | Default::Continue => continue,
                },
                handler => {
                    self.fix_restart(Some(action.flags));
                    self.enter_handler(&info, handler, action);
                    return;
                }
            }
        }
        // Nothing ran a handler: an interrupted syscall restarts.
        self.fix_restart(None);
        if let Some(mask) = self.signals.lock().saved_mask.take() {
            self.signals.lock().mask = mask;
        }
    }

    fn enter_handler(&mut self, info: &SigInfo, handler: u64, action: abi::SigAction) {
        let sig = info.si_signo;
        let (old_mask, altstack) = {
            let mut p = self.signals.lock();
            let old = p.saved_mask.take().unwrap_or(p.mask);
            let mut mask = SigSet::from_bits(p.mask.bits() | action.mask);
            if action.flags & SaFlags::NODEFER.bits() == 0 {
                mask.add(sig);
            }
            mask.del(SIGKILL);
            mask.del(SIGSTOP);
            p.mask = mask;
            (old, p.altstack)
        };
        let sp_now = crate::exec::stack_pointer(&self.regs);
        let on_alt = action.flags & SaFlags::ONSTACK.bits() != 0
            && altstack.ss_size != 0
            && altstack.ss_flags & 2 == 0 // SS_DISABLE
            && !(sp_now > altstack.ss_sp && sp_now <= altstack.ss_sp + altstack.ss_size);
        let sp = if on_alt {
            altstack.ss_sp + altstack.ss_size
        } else {
            sp_now
        };
        // Without SA_RESTORER (glibc on aarch64 never sets it), the handler returns into
        // the sigreturn page exec mapped, as Linux's into its vDSO trampoline.
        let restorer = if action.flags & SaFlags::RESTORER.bits() != 0 {
            action.restorer
        } else {
            crate::exec::sigreturn_page(self.mm().user_range().1)
        };
        let (frame, bytes, entry) = signal::build_frame(
            &self.regs, sp, on_alt, info, handler, restorer, old_mask, &altstack,
        );
        if self.copy_out(frame, &bytes).is_err() {
            // No room for the frame: Linux kills with SIGSEGV.
            self.exit_group(ExitStatus::Signaled(SIGSEGV));
            return;
        }
        self.regs = entry;
        if action.flags & SaFlags::RESETHAND.bits() != 0 {
            let mut actions = self.actions.lock().unwrap_or_else(|e| e.into_inner());
            actions[sig as usize] = abi::SigAction::default();
        }
    }
}
