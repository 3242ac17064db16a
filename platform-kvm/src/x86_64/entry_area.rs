//! The guest kernel's entry area in host memory: IDT, stubs, user trampoline and per-CPU
//! GDT/TSS/stacks, laid out for the upper-half addresses of `ring0::x86_64::layout`.

use ring0::x86_64::layout::{
    CODE_VA, GDT_ENTRIES, GUEST_CODE_VA, GUEST_IDT_VA, IDT_VA, PER_CPU_BACKED, PER_CPU_GDT_OFFSET,
    PER_CPU_STACK_OFFSET, PER_CPU_TSS_OFFSET, TRAMPOLINE_VA, guest, per_cpu_va, stack_top,
};
use ring0::x86_64::{entry, gdt, guest_entry, idt, tss};

use crate::error::{Error, Result};
use crate::region::HostRegion;

const PAGE: u64 = 4096;
const IDT_OFFSET: u64 = 0;
const CODE_OFFSET: u64 = PAGE;
const TRAMPOLINE_OFFSET: u64 = 2 * PAGE;
const GUEST_IDT_OFFSET: u64 = 3 * PAGE;
const GUEST_CODE_OFFSET: u64 = 4 * PAGE;
const PER_CPU_OFFSET: u64 = 5 * PAGE;

/// One page of the entry area: where it is in host memory and where the guest sees it.
pub(crate) struct EntryPage {
    pub offset: u64,
    pub va: u64,
    pub user: bool,
    pub write: bool,
    pub execute: bool,
}

pub(crate) struct EntryArea {
    region: HostRegion,
    cpus: usize,
}

impl EntryArea {
    /// Host memory for `cpus` CPUs, filled in; the caller registers the region in the
    /// physical map and maps `pages()` into the kernel's upper half.
    pub(crate) fn new(cpus: usize) -> Result<EntryArea> {
        let size = PER_CPU_OFFSET + cpus as u64 * PER_CPU_BACKED;
        let region = HostRegion::anonymous("the entry area", size)?;
        let area = EntryArea { region, cpus };
        area.fill()?;
        Ok(area)
    }

    fn fill(&self) -> Result<()> {
        let r = &self.region;
        for (i, gate) in idt::build(CODE_VA).iter().enumerate() {
            r.write_u64(IDT_OFFSET + 16 * i as u64, gate[0])?;
            r.write_u64(IDT_OFFSET + 16 * i as u64 + 8, gate[1])?;
        }
        r.write(CODE_OFFSET, entry::code_page())?;
        r.write(TRAMPOLINE_OFFSET, entry::trampoline_page())?;
        for (i, gate) in idt::build(GUEST_CODE_VA).iter().enumerate() {
            r.write_u64(GUEST_IDT_OFFSET + 16 * i as u64, gate[0])?;
            r.write_u64(GUEST_IDT_OFFSET + 16 * i as u64 + 8, gate[1])?;
        }
        r.write(GUEST_CODE_OFFSET, guest_entry::code_page())?;
        for cpu in 0..self.cpus {
            let base = self.per_cpu_offset(cpu);
            let tss_va = per_cpu_va(cpu) + PER_CPU_TSS_OFFSET;
            for (i, d) in gdt::build(tss_va).iter().enumerate() {
                r.write_u64(base + PER_CPU_GDT_OFFSET + 8 * i as u64, *d)?;
            }
            // Ring-3 traps switch to RSP0; exceptions always use IST1, at the same top, so
            // their frame is in the same place whichever ring they come from (and never
            // on the interrupted ring-0 code's stack).
            let mut ist = [0; 7];
            ist[usize::from(idt::EXCEPTION_IST) - 1] = stack_top(cpu);
            r.write(base + PER_CPU_TSS_OFFSET, &tss::build(stack_top(cpu), ist))?;
            r.write_u64(base + guest::SELF, per_cpu_va(cpu))?;
            r.write_u64(base + guest::STACK_TOP, stack_top(cpu))?;
        }
        Ok(())
    }

    pub(crate) fn region(&self) -> &HostRegion {
        &self.region
    }

    pub(crate) fn region_mut(&mut self) -> &mut HostRegion {
        &mut self.region
    }

    fn per_cpu_offset(&self, cpu: usize) -> u64 {
        PER_CPU_OFFSET + cpu as u64 * PER_CPU_BACKED
    }

    /// Every backed page with its guest-virtual address and permissions.
    pub(crate) fn pages(&self) -> Vec<EntryPage> {
        let page = |offset, va, user, write, execute| EntryPage {
            offset,
            va,
            user,
            write,
            execute,
        };
        let mut pages = vec![
            page(IDT_OFFSET, IDT_VA, false, false, false),
            page(CODE_OFFSET, CODE_VA, false, false, true),
            page(TRAMPOLINE_OFFSET, TRAMPOLINE_VA, true, false, true),
            page(GUEST_IDT_OFFSET, GUEST_IDT_VA, false, false, false),
            page(GUEST_CODE_OFFSET, GUEST_CODE_VA, false, false, true),
        ];
        for cpu in 0..self.cpus {
            let base = self.per_cpu_offset(cpu);
            for p in 0..PER_CPU_BACKED / PAGE {
                pages.push(page(
                    base + p * PAGE,
                    per_cpu_va(cpu) + p * PAGE,
                    false,
                    true,
                    false,
                ));
            }
        }
        pages
    }

    /// Host offset of guest-virtual `va` inside CPU `cpu`'s ring-0 stack, checked.
    fn stack_offset(&self, cpu: usize, va: u64, len: u64) -> Result<u64> {
        let low = per_cpu_va(cpu) + PER_CPU_STACK_OFFSET;
        if va < low || va.checked_add(len).is_none_or(|end| end > stack_top(cpu)) {
            return Err(Error::GuestFailure(format!(
                "ring-0 stack pointer {va:#x} outside CPU {cpu}'s stack"
            )));
        }
        Ok(self.per_cpu_offset(cpu) + (va - per_cpu_va(cpu)))
    }

    /// Read `N` words from CPU `cpu`'s ring-0 stack at guest-virtual `va`.
    pub(crate) fn read_stack<const N: usize>(&self, cpu: usize, va: u64) -> Result<[u64; N]> {
        let offset = self.stack_offset(cpu, va, 8 * N as u64)?;
        let mut words = [0u64; N];
        for (i, w) in words.iter_mut().enumerate() {
            *w = self.region.read_u64(offset + 8 * i as u64)?;
        }
        Ok(words)
    }

    /// Write `words` to CPU `cpu`'s ring-0 stack at guest-virtual `va`.
    pub(crate) fn write_stack(&self, cpu: usize, va: u64, words: &[u64]) -> Result<()> {
        let offset = self.stack_offset(cpu, va, 8 * words.len() as u64)?;
        for (i, w) in words.iter().enumerate() {
            self.region.write_u64(offset + 8 * i as u64, *w)?;
        }
        Ok(())
    }

    /// GDT base and limit of CPU `cpu`.
    pub(crate) fn gdt(cpu: usize) -> (u64, u16) {
        (
            per_cpu_va(cpu) + PER_CPU_GDT_OFFSET,
            (GDT_ENTRIES * 8 - 1) as u16,
        )
    }

    /// Reads the guest-mode word at `field` (a `layout::guest` offset) of CPU `cpu`.
    pub(crate) fn guest_word(&self, cpu: usize, field: u64) -> Result<u64> {
        self.region.read_u64(self.per_cpu_offset(cpu) + field)
    }

    /// Writes the guest-mode word at `field` of CPU `cpu`.
    pub(crate) fn set_guest_word(&self, cpu: usize, field: u64, value: u64) -> Result<()> {
        self.region
            .write_u64(self.per_cpu_offset(cpu) + field, value)
    }

    pub(crate) fn tss_va(cpu: usize) -> u64 {
        per_cpu_va(cpu) + PER_CPU_TSS_OFFSET
    }
}
