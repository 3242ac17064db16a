//! The vCPU pool. All vCPUs are created up front; a context borrows one for each switch,
//! preferring the one it used last (whose TLB may still hold its translations). The
//! application's registers travel in the vCPU's frame, so any vCPU can run any context.
//!
//! When every vCPU is taken for longer than a time slice (applications computing), a waiter
//! asks the longest holder for its vCPU back: it knocks it out of `KVM_RUN` (its switch
//! returns "interrupted") and that thread lets the waiters go first next time.

use std::sync::Mutex;

use super::vcpu::Vcpu;
use crate::preempt::{self, Holder, Waiting};

struct Slot {
    vcpu: Option<Vcpu>,
    holder: Option<Holder>,
}

pub(crate) struct VcpuPool {
    slots: Mutex<Vec<Slot>>,
    waiting: Waiting,
}

impl VcpuPool {
    pub(crate) fn new(vcpus: Vec<Vcpu>) -> VcpuPool {
        crate::kick::install_kick_handler();
        VcpuPool {
            slots: Mutex::new(
                vcpus
                    .into_iter()
                    .map(|v| Slot {
                        vcpu: Some(v),
                        holder: None,
                    })
                    .collect(),
            ),
            waiting: Waiting::default(),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.slots.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Take a vCPU, `preferred` if it is free, waiting if all are busy.
    pub(crate) fn acquire(&self, preferred: Option<usize>) -> Vcpu {
        let mut slots = self
            .waiting
            .yield_first(self.slots.lock().unwrap_or_else(|e| e.into_inner()));
        loop {
            let chosen = preferred
                .filter(|&i| slots.get(i).is_some_and(|s| s.vcpu.is_some()))
                .or_else(|| slots.iter().position(|s| s.vcpu.is_some()));
            if let Some(i) = chosen {
                let slot = &mut slots[i];
                let mut vcpu = slot.vcpu.take().expect("chosen slot is free");
                slot.holder = Some(Holder::me(std::ptr::from_mut(vcpu.fd.get_kvm_run())));
                return vcpu;
            }
            let (guard, timed_out) = self.waiting.wait(slots);
            slots = guard;
            if timed_out {
                preempt::ask_longest_holder(slots.iter_mut().filter_map(|s| s.holder.as_mut()));
            }
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
}
