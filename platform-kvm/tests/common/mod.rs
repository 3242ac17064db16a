//! Shared set-up for the platform tests: a small machine (or a skip when there is no
//! `/dev/kvm`), and address spaces with code and data pages taken from the memory file.

#![allow(dead_code)]

pub use ringfence_tests::snippets;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use abi::x86_64::UserRegs;
use platform_kvm::{AddressSpace, Context, Machine, MachineConfig, Perms, Trap};

pub const PAGE: u64 = 4096;
pub const CODE: u64 = 0x40_0000;
pub const DATA: u64 = 0x60_0000;
pub const STACK_TOP: u64 = 0x7fff_0000_0000;

/// A machine for tests, or `None` (after saying why) when this host has no `/dev/kvm`.
pub fn machine() -> Option<Arc<Machine>> {
    machine_with(4)
}

/// Like [`machine`], with `vcpus` vCPUs.
pub fn machine_with(vcpus: usize) -> Option<Arc<Machine>> {
    if !Path::new("/dev/kvm").exists() {
        eprintln!("skipping: /dev/kvm does not exist on this host");
        return None;
    }
    let config = MachineConfig {
        vcpus,
        memory_size: 256 << 20,
        table_memory: 16 << 20,
        ..MachineConfig::default()
    };
    Some(Machine::new(config).expect("a KVM machine"))
}

/// Hands out memory-file pages; each test machine starts from zero.
pub struct Frames {
    next: AtomicU64,
}

impl Frames {
    pub fn new() -> Frames {
        Frames {
            next: AtomicU64::new(0),
        }
    }

    pub fn alloc(&self, pages: u64) -> u64 {
        self.next.fetch_add(pages * PAGE, Ordering::Relaxed)
    }
}

/// Put `code` at `CODE` in `space` (read + execute) from fresh frames.
pub fn load_code(machine: &Machine, frames: &Frames, space: &AddressSpace, code: &[u8]) {
    let pages = (code.len() as u64).div_ceil(PAGE).max(1);
    let offset = frames.alloc(pages);
    machine.memory().write(offset, code).unwrap();
    space
        .map(CODE, pages * PAGE, offset, Perms::READ | Perms::EXECUTE)
        .unwrap();
}

/// A fresh data page mapped at `addr` with `perms`, holding `value` in its first word.
pub fn data_page(
    machine: &Machine,
    frames: &Frames,
    space: &AddressSpace,
    addr: u64,
    perms: Perms,
    value: u64,
) -> u64 {
    let offset = frames.alloc(1);
    machine
        .memory()
        .write(offset, &value.to_le_bytes())
        .unwrap();
    space.map(addr, PAGE, offset, perms).unwrap();
    offset
}

pub fn read_word(machine: &Machine, offset: u64) -> u64 {
    let mut b = [0u8; 8];
    machine.memory().read(offset, &mut b).unwrap();
    u64::from_le_bytes(b)
}

pub fn regs_at(rip: u64) -> UserRegs {
    UserRegs {
        rip,
        rsp: STACK_TOP,
        eflags: 0x202,
        ..UserRegs::default()
    }
}

/// Resume until the application issues the `DONE` syscall, failing on anything else.
pub fn run_to_done(ctx: &mut Context, regs: &mut UserRegs, space: &AddressSpace) {
    loop {
        match ctx.switch(regs, space).expect("switch") {
            Trap::Syscall if regs.orig_rax == snippets::DONE => return,
            Trap::Interrupted => continue,
            other => panic!("unexpected {other:?} at rip {:#x}", regs.rip),
        }
    }
}
