//! The vCPU pool. All vCPUs are created up front (so the sentry can later be confined
//! without access to /dev/kvm); a context borrows one for each switch, preferring the one it
//! used last, whose FPU state and TLB are still its own.
//!
//! A thread may keep a vCPU for long (an application computing, or a guest-mode thread whose
//! application traps without ever leaving guest mode). When every vCPU is taken, a waiter
//! asks the longest holder for its vCPU back after a time slice: it knocks the holder out of
//! `KVM_RUN` (its switch returns "interrupted", and the next one queues again), and a thread
//! that gave its vCPU back that way lets the waiters go first.

use std::sync::{Arc, Mutex};

use super::fpu::{FpuSlot, FpuState};
use super::vcpu::Vcpu;
use crate::error::Result;
use crate::preempt::{self, Holder, Waiting};

struct Slot {
    vcpu: Option<Vcpu>,
    /// The context whose FPU state is loaded in this vCPU.
    fpu_owner: Option<Arc<FpuSlot>>,
    /// While the vCPU is taken: who has it.
    holder: Option<Holder>,
}

pub(crate) struct VcpuPool {
    slots: Mutex<Vec<Slot>>,
    waiting: Waiting,
    xsave: bool,
    initial_fpu: FpuState,
}

impl VcpuPool {
    pub(crate) fn new(vcpus: Vec<Vcpu>, xsave: bool) -> Result<VcpuPool> {
        let initial_fpu = FpuState::save(&vcpus[0].fd, xsave)?;
        let slots = vcpus
            .into_iter()
            .map(|v| Slot {
                vcpu: Some(v),
                fpu_owner: None,
                holder: None,
            })
            .collect();
        crate::kick::install_kick_handler();
        Ok(VcpuPool {
            slots: Mutex::new(slots),
            waiting: Waiting::default(),
            xsave,
            initial_fpu,
        })
    }

    pub(crate) fn len(&self) -> usize {
        self.slots.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Take a vCPU for the context owning `fpu`, waiting if all are busy, and make sure that
    /// context's FPU state is the one loaded in it.
    pub(crate) fn acquire(&self, fpu: &Arc<FpuSlot>) -> Result<Vcpu> {
        let mut slots = self
            .waiting
            .yield_first(self.slots.lock().unwrap_or_else(|e| e.into_inner()));
        loop {
            let mut state = fpu.inner.lock().unwrap_or_else(|e| e.into_inner());
            let resident = state.resident_on.filter(|&i| slots[i].vcpu.is_some());
            let chosen = resident.or_else(|| slots.iter().position(|s| s.vcpu.is_some()));
            let Some(i) = chosen else {
                drop(state);
                let (guard, timed_out) = self.waiting.wait(slots);
                slots = guard;
                if timed_out {
                    preempt::ask_longest_holder(slots.iter_mut().filter_map(|s| s.holder.as_mut()));
                }
                continue;
            };
            let slot = &mut slots[i];
            let mut vcpu = slot.vcpu.take().expect("chosen slot is free");
            slot.holder = Some(Holder::me(std::ptr::from_mut(vcpu.fd.get_kvm_run())));
            if resident != Some(i) {
                // Another context's registers are loaded here: save them to its slot.
                if let Some(owner) = slot.fpu_owner.take() {
                    let saved = FpuState::save(&vcpu.fd, self.xsave);
                    let mut other = owner.inner.lock().unwrap_or_else(|e| e.into_inner());
                    other.resident_on = None;
                    match saved {
                        Ok(s) => other.saved = Some(s),
                        Err(e) => {
                            slot.vcpu = Some(vcpu);
                            slot.holder = None;
                            return Err(e);
                        }
                    }
                }
                let load = state
                    .saved
                    .as_ref()
                    .unwrap_or(&self.initial_fpu)
                    .load(&vcpu.fd);
                if let Err(e) = load {
                    slot.vcpu = Some(vcpu);
                    slot.holder = None;
                    return Err(e);
                }
                state.saved = None;
                state.resident_on = Some(i);
                slot.fpu_owner = Some(fpu.clone());
            }
            return Ok(vcpu);
        }
    }

    pub(crate) fn release(&self, vcpu: Vcpu) {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        let i = vcpu.index;
        slots[i].vcpu = Some(vcpu);
        if let Some(holder) = slots[i].holder.take() {
            holder.release();
        }
        drop(slots);
        self.waiting.notify();
    }

    /// Forget a context that is going away, so its state is not saved for nobody.
    pub(crate) fn forget(&self, fpu: &Arc<FpuSlot>) {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        for s in slots.iter_mut() {
            if s.fpu_owner.as_ref().is_some_and(|o| Arc::ptr_eq(o, fpu)) {
                s.fpu_owner = None;
            }
        }
    }
}
