//! Hand-built ELF images for the unit tests: a small valid executable that tests then bend.

use super::elf::{EM_X86_64, PHDR_SIZE};

pub(crate) const PT_LOAD: u32 = 1;
pub(crate) const PT_INTERP: u32 = 3;
pub(crate) const PT_PHDR: u32 = 6;
pub(crate) const PT_GNU_STACK: u32 = 0x6474_e551;
pub(crate) const R: u32 = 4;
pub(crate) const W: u32 = 2;
pub(crate) const X: u32 = 1;

/// One program header, field for field.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ph {
    pub p_type: u32,
    pub flags: u32,
    pub offset: u64,
    pub vaddr: u64,
    pub filesz: u64,
    pub memsz: u64,
    pub align: u64,
}

impl Ph {
    pub fn load(flags: u32, offset: u64, vaddr: u64, filesz: u64, memsz: u64) -> Ph {
        Ph {
            p_type: PT_LOAD,
            flags,
            offset,
            vaddr,
            filesz,
            memsz,
            align: 0x1000,
        }
    }
}

/// An image description; [`TestElf::bytes`] lays it out.
#[derive(Clone, Debug)]
pub(crate) struct TestElf {
    pub etype: u16,
    pub machine: u16,
    pub entry: u64,
    pub phoff: u64,
    pub phs: Vec<Ph>,
    /// Raw bytes placed at file offsets (an interpreter path, say).
    pub blobs: Vec<(u64, Vec<u8>)>,
    pub size: usize,
}

impl TestElf {
    /// A static ET_EXEC at 0x400000: PT_PHDR, text (R X), data+bss (RW), PT_GNU_STACK.
    pub fn exec() -> TestElf {
        let phs = vec![
            Ph {
                p_type: PT_PHDR,
                flags: R,
                offset: 64,
                vaddr: 0x400040,
                filesz: 4 * PHDR_SIZE as u64,
                memsz: 4 * PHDR_SIZE as u64,
                align: 8,
            },
            Ph::load(R | X, 0, 0x400000, 0x1800, 0x1800),
            Ph::load(R | W, 0x1e10, 0x402e10, 0x100, 0x2000),
            Ph {
                p_type: PT_GNU_STACK,
                flags: R | W,
                offset: 0,
                vaddr: 0,
                filesz: 0,
                memsz: 0,
                align: 16,
            },
        ];
        TestElf {
            etype: 2,
            machine: EM_X86_64,
            entry: 0x401000,
            phoff: 64,
            phs,
            blobs: Vec::new(),
            size: 0x2000,
        }
    }

    /// The same image as a PIE linked at 0 (ET_DYN), without PT_PHDR.
    pub fn pie() -> TestElf {
        let mut e = TestElf::exec();
        e.etype = 3;
        e.entry = 0x1000;
        e.phs.remove(0);
        for ph in &mut e.phs {
            if ph.p_type == PT_LOAD {
                ph.vaddr -= 0x400000;
            }
        }
        e
    }

    /// Adds a PT_INTERP whose bytes (`path` as given, NUL included by the caller) sit at 0x1900.
    pub fn with_interp(mut self, path: &[u8]) -> TestElf {
        self.phs.insert(
            0,
            Ph {
                p_type: PT_INTERP,
                flags: R,
                offset: 0x1900,
                vaddr: 0x401900,
                filesz: path.len() as u64,
                memsz: path.len() as u64,
                align: 1,
            },
        );
        self.blobs.push((0x1900, path.to_vec()));
        self
    }

    /// The index in `phs` of the `n`th PT_LOAD.
    pub fn load_index(&self, n: usize) -> usize {
        self.phs
            .iter()
            .enumerate()
            .filter(|(_, p)| p.p_type == PT_LOAD)
            .nth(n)
            .map(|(i, _)| i)
            .expect("no such PT_LOAD")
    }

    pub fn bytes(&self) -> Vec<u8> {
        let mut b = vec![0u8; self.size];
        let mut put = |at: usize, v: &[u8]| {
            if at + v.len() > b.len() {
                b.resize(at + v.len(), 0);
            }
            b[at..at + v.len()].copy_from_slice(v);
        };
        put(0, b"\x7fELF\x02\x01\x01");
        put(16, &self.etype.to_le_bytes());
        put(18, &self.machine.to_le_bytes());
        put(20, &1u32.to_le_bytes());
        put(24, &self.entry.to_le_bytes());
        put(32, &self.phoff.to_le_bytes());
        put(52, &64u16.to_le_bytes());
        put(54, &(PHDR_SIZE as u16).to_le_bytes());
        put(56, &(self.phs.len() as u16).to_le_bytes());
        for (i, ph) in self.phs.iter().enumerate() {
            let at = self.phoff as usize + i * PHDR_SIZE;
            put(at, &ph.p_type.to_le_bytes());
            put(at + 4, &ph.flags.to_le_bytes());
            put(at + 8, &ph.offset.to_le_bytes());
            put(at + 16, &ph.vaddr.to_le_bytes());
            put(at + 24, &ph.vaddr.to_le_bytes());
            put(at + 32, &ph.filesz.to_le_bytes());
            put(at + 40, &ph.memsz.to_le_bytes());
            put(at + 48, &ph.align.to_le_bytes());
        }
        for (at, blob) in &self.blobs {
            put(*at as usize, blob);
        }
        b
    }
}
