//! Just enough x86-64 instruction decoding to say what a faulting instruction does with
//! memory, and how long it is.
//!
//! x86 signal information carries no page-fault error code, so a `SIGSEGV` does not say
//! whether the access was a read or a write. The instruction does: this decoder knows the
//! length of every legacy, VEX and EVEX encoding in the one-byte, `0F`, `0F38` and `0F3A`
//! maps (plus EVEX maps 5 and 6), and which of them write their memory operand. It errs
//! towards "load": calling a write a read costs the sentry one more fault (the page is then
//! present, and a present page faults only for writes), while calling a read a write could
//! make it refuse a legal access.

/// What an instruction does with memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Reads memory only.
    Load,
    /// Writes memory (read-modify-write included: those fault as writes).
    Store,
    /// Reads its operand and pushes on the stack (`push m`, `call m`).
    PushOperand,
    /// Pops from the stack into its memory operand (`pop m`).
    PopOperand,
    /// Reads `[rsi]` and writes `[rdi]` (`movs`).
    Movs,
    /// No data access (register forms, `lea`, hints, branches).
    None,
}

/// A decoded instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Insn {
    pub len: usize,
    pub effect: Effect,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decoded {
    Insn(Insn),
    /// The bytes end before the instruction does.
    Incomplete,
    /// Not an encoding this decoder knows (or not valid in 64-bit mode).
    Unknown,
}

/// The longest x86 instruction.
const MAX_LEN: usize = 15;

/// Decode the instruction at the start of `code`.
pub fn decode(code: &[u8]) -> Decoded {
    let mut c = Cursor { code, pos: 0 };
    match instruction(&mut c) {
        Ok(effect) => Decoded::Insn(Insn { len: c.pos, effect }),
        Err(Stop::Incomplete) => Decoded::Incomplete,
        Err(Stop::Unknown) => Decoded::Unknown,
    }
}

enum Stop {
    Incomplete,
    Unknown,
}

type Step<T> = Result<T, Stop>;

struct Cursor<'a> {
    code: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn byte(&mut self) -> Step<u8> {
        if self.pos >= MAX_LEN {
            return Err(Stop::Unknown);
        }
        let b = *self.code.get(self.pos).ok_or(Stop::Incomplete)?;
        self.pos += 1;
        Ok(b)
    }

    fn skip(&mut self, n: usize) -> Step<()> {
        for _ in 0..n {
            self.byte()?;
        }
        Ok(())
    }

    /// A ModRM byte with its SIB and displacement.
    fn modrm(&mut self) -> Step<ModRm> {
        let b = self.byte()?;
        let (md, reg, rm) = (b >> 6, (b >> 3) & 7, b & 7);
        if md != 3 {
            let mut disp = match md {
                1 => 1,
                2 => 4,
                _ => 0,
            };
            if rm == 4 {
                let sib = self.byte()?;
                if md == 0 && sib & 7 == 5 {
                    disp = 4;
                }
            } else if md == 0 && rm == 5 {
                disp = 4; // rip-relative
            }
            self.skip(disp)?;
        }
        Ok(ModRm { md, reg })
    }
}

struct ModRm {
    md: u8,
    reg: u8,
}

impl ModRm {
    /// `effect` if the operand is in memory, no access if it is a register.
    fn mem(&self, effect: Effect) -> Effect {
        if self.md != 3 { effect } else { Effect::None }
    }

    fn is_mem(&self) -> bool {
        self.md != 3
    }
}

#[derive(Default)]
struct Prefixes {
    opsize: bool,
    addr32: bool,
    rep: bool,
    repne: bool,
    rex_w: bool,
}

impl Prefixes {
    /// An immediate of the operand size, at most 32 bits.
    fn immz(&self) -> usize {
        if self.opsize { 2 } else { 4 }
    }

    /// An immediate of the full operand size (`mov r, imm`).
    fn immv(&self) -> usize {
        if self.rex_w { 8 } else { self.immz() }
    }

    /// A `moffs` address.
    fn moffs(&self) -> usize {
        if self.addr32 { 4 } else { 8 }
    }
}

fn instruction(c: &mut Cursor) -> Step<Effect> {
    let mut p = Prefixes::default();
    let op = loop {
        let b = c.byte()?;
        match b {
            0x66 => p.opsize = true,
            0x67 => p.addr32 = true,
            0xf2 => p.repne = true,
            0xf3 => p.rep = true,
            0xf0 | 0x26 | 0x2e | 0x36 | 0x3e | 0x64 | 0x65 => {}
            0x40..=0x4f => {
                p.rex_w = b & 8 != 0;
                continue;
            }
            _ => break b,
        }
        // A REX prefix counts only right before the opcode.
        p.rex_w = false;
    };
    match op {
        0x0f => two_byte(c, &p),
        0xc4 | 0xc5 => vex(c, op),
        0x62 => evex(c),
        _ => one_byte(c, op, &p),
    }
}

fn one_byte(c: &mut Cursor, op: u8, p: &Prefixes) -> Step<Effect> {
    use Effect::*;
    Ok(match op {
        // The eight ALU operations: r/m,r / r,r/m / al,imm8 / eax,imm.
        0x00..=0x3f => match op & 7 {
            0 | 1 => {
                let m = c.modrm()?;
                m.mem(if op >> 3 == 7 { Load } else { Store }) // cmp only reads
            }
            2 | 3 => c.modrm()?.mem(Load),
            4 => {
                c.skip(1)?;
                None
            }
            5 => {
                c.skip(p.immz())?;
                None
            }
            _ => return Err(Stop::Unknown),
        },
        0x50..=0x57 | 0x9c => Store,
        0x58..=0x5f | 0x9d => Load,
        0x63 => c.modrm()?.mem(Load),
        0x68 => {
            c.skip(p.immz())?;
            Store
        }
        0x69 => {
            let m = c.modrm()?;
            c.skip(p.immz())?;
            m.mem(Load)
        }
        0x6a => {
            c.skip(1)?;
            Store
        }
        0x6b => {
            let m = c.modrm()?;
            c.skip(1)?;
            m.mem(Load)
        }
        0x6c | 0x6d => Store,
        0x6e | 0x6f => Load,
        0x70..=0x7f | 0xe0..=0xe3 | 0xeb | 0xcd | 0xe4..=0xe7 | 0xa8 | 0xb0..=0xb7 => {
            c.skip(1)?;
            None
        }
        0x80 | 0x83 => {
            let m = c.modrm()?;
            c.skip(1)?;
            m.mem(if m.reg == 7 { Load } else { Store })
        }
        0x81 => {
            let m = c.modrm()?;
            c.skip(p.immz())?;
            m.mem(if m.reg == 7 { Load } else { Store })
        }
        0x84 | 0x85 | 0x8a | 0x8b | 0x8e => c.modrm()?.mem(Load),
        0x86..=0x89 | 0x8c => c.modrm()?.mem(Store),
        0x8d => {
            c.modrm()?;
            None
        }
        0x8f => {
            let m = c.modrm()?;
            if m.reg != 0 {
                return Err(Stop::Unknown); // XOP
            }
            if m.is_mem() { PopOperand } else { Load }
        }
        0x90..=0x99 | 0x9b | 0x9e | 0x9f | 0xcc | 0xf1 | 0xf4 | 0xf5 | 0xf8..=0xfd => None,
        0xec..=0xef => None,
        0xa0 | 0xa1 => {
            c.skip(p.moffs())?;
            Load
        }
        0xa2 | 0xa3 => {
            c.skip(p.moffs())?;
            Store
        }
        0xa4 | 0xa5 => Movs,
        0xa6 | 0xa7 | 0xac..=0xaf | 0xd7 => Load,
        0xa9 => {
            c.skip(p.immz())?;
            None
        }
        0xaa | 0xab => Store,
        0xb8..=0xbf => {
            c.skip(p.immv())?;
            None
        }
        0xc0 | 0xc1 | 0xc6 => {
            let m = c.modrm()?;
            c.skip(1)?;
            m.mem(Store)
        }
        0xc7 => {
            let m = c.modrm()?;
            c.skip(p.immz())?;
            m.mem(Store)
        }
        0xc2 | 0xca => {
            c.skip(2)?;
            Load
        }
        0xc3 | 0xc9 | 0xcb | 0xcf => Load,
        0xc8 => {
            c.skip(3)?;
            Store
        }
        0xd0..=0xd3 => c.modrm()?.mem(Store),
        0xd8..=0xdf => {
            let m = c.modrm()?;
            m.mem(x87(op, m.reg))
        }
        0xe8 => {
            c.skip(4)?;
            Store
        }
        0xe9 => {
            c.skip(4)?;
            None
        }
        0xf6 | 0xf7 => {
            let m = c.modrm()?;
            if m.reg < 2 {
                c.skip(if op == 0xf6 { 1 } else { p.immz() })?;
            }
            m.mem(if matches!(m.reg, 2 | 3) { Store } else { Load })
        }
        0xfe => {
            let m = c.modrm()?;
            if m.reg > 1 {
                return Err(Stop::Unknown);
            }
            m.mem(Store)
        }
        0xff => {
            let m = c.modrm()?;
            match m.reg {
                0 | 1 => m.mem(Store),
                2 | 3 | 6 if m.is_mem() => PushOperand,
                2 | 3 | 6 => Store,
                4 | 5 => m.mem(Load),
                _ => return Err(Stop::Unknown),
            }
        }
        // Invalid in 64-bit mode.
        _ => return Err(Stop::Unknown),
    })
}

/// x87 memory forms that store.
fn x87(op: u8, reg: u8) -> Effect {
    let store = match op {
        0xd9 => matches!(reg, 2 | 3 | 6 | 7),
        0xdb => matches!(reg, 1 | 2 | 3 | 7),
        0xdd | 0xdf => matches!(reg, 1 | 2 | 3 | 6 | 7),
        _ => false,
    };
    if store { Effect::Store } else { Effect::Load }
}

fn two_byte(c: &mut Cursor, p: &Prefixes) -> Step<Effect> {
    use Effect::*;
    let op = c.byte()?;
    Ok(match op {
        0x00 => {
            let m = c.modrm()?;
            m.mem(if m.reg <= 1 { Store } else { Load })
        }
        0x01 => {
            let m = c.modrm()?;
            match m.reg {
                _ if !m.is_mem() => None,
                0 | 1 => Store,
                7 => None,
                _ => Load,
            }
        }
        0x05..=0x09 | 0x0b | 0x0e | 0x30..=0x37 | 0x77 | 0xa2 | 0xaa | 0xc8..=0xcf => None,
        0x0d | 0x18..=0x1f | 0x20..=0x23 | 0xb9 | 0xff => {
            c.modrm()?;
            None
        }
        0x0f => {
            let m = c.modrm()?;
            c.skip(1)?;
            m.mem(Load)
        }
        0x11
        | 0x13
        | 0x17
        | 0x29
        | 0x2b
        | 0x7f
        | 0x90..=0x9f
        | 0xa5
        | 0xab
        | 0xad
        | 0xb0
        | 0xb1
        | 0xb3
        | 0xbb
        | 0xc0
        | 0xc1
        | 0xc3
        | 0xd6
        | 0xe7 => c.modrm()?.mem(Store),
        0xa4 | 0xac => {
            let m = c.modrm()?;
            c.skip(1)?;
            m.mem(Store)
        }
        0x38 => {
            let op3 = c.byte()?;
            let m = c.modrm()?;
            m.mem(match op3 {
                0xf1 if !p.repne => Store, // movbe m, r (crc32 with F2)
                0xf9 => Store,             // movdiri
                0xf8 => return Err(Stop::Unknown),
                _ => Load,
            })
        }
        0x3a => {
            let op3 = c.byte()?;
            let m = c.modrm()?;
            c.skip(1)?;
            m.mem(if (0x14..=0x17).contains(&op3) {
                Store
            } else {
                Load
            })
        }
        0x70..=0x73 | 0xc2 | 0xc4..=0xc6 => {
            let m = c.modrm()?;
            c.skip(1)?;
            m.mem(Load)
        }
        0x7e => c.modrm()?.mem(if p.rep { Load } else { Store }),
        0x80..=0x8f => {
            c.skip(4)?;
            None
        }
        0xa0 | 0xa8 => Store,
        0xa1 | 0xa9 => Load,
        0xae => {
            let m = c.modrm()?;
            match m.reg {
                _ if !m.is_mem() => None,
                0 | 3 | 4 => Store,
                6 if !p.opsize => Store, // xsaveopt (clwb with 66)
                1 | 2 | 5 => Load,
                _ => None,
            }
        }
        0xba => {
            let m = c.modrm()?;
            c.skip(1)?;
            match m.reg {
                4 => m.mem(Load),
                5..=7 => m.mem(Store),
                _ => return Err(Stop::Unknown),
            }
        }
        0xc7 => {
            let m = c.modrm()?;
            match m.reg {
                _ if !m.is_mem() => None,
                1 | 4 | 5 | 7 => Store,
                3 | 6 => Load,
                _ => return Err(Stop::Unknown),
            }
        }
        0xf7 => {
            c.modrm()?;
            Store // maskmovq writes [rdi]
        }
        0x04 | 0x0a | 0x0c | 0x24..=0x27 | 0x39 | 0x3b..=0x3f | 0x78 | 0x79 | 0xa6 | 0xa7 => {
            return Err(Stop::Unknown);
        }
        // Everything else takes a ModRM operand it only reads.
        _ => c.modrm()?.mem(Load),
    })
}

/// Opcodes of map 1 (`0F`) with an 8-bit immediate, under VEX and EVEX.
fn map1_imm8(op: u8) -> bool {
    matches!(op, 0x70..=0x73 | 0xc2 | 0xc4..=0xc6)
}

/// Map-1 stores shared by VEX and EVEX.
fn map1_store(op: u8, pp: u8) -> bool {
    matches!(op, 0x11 | 0x13 | 0x17 | 0x29 | 0x2b | 0x7f | 0xd6 | 0xe7) || (op == 0x7e && pp != 2)
}

fn vex(c: &mut Cursor, prefix: u8) -> Step<Effect> {
    let (map, pp) = if prefix == 0xc5 {
        (1, c.byte()? & 3)
    } else {
        let map = c.byte()? & 0x1f;
        (map, c.byte()? & 3)
    };
    if !(1..=3).contains(&map) {
        return Err(Stop::Unknown);
    }
    let op = c.byte()?;
    if map == 1 && op == 0x77 {
        return Ok(Effect::None); // vzeroupper, vzeroall
    }
    let m = c.modrm()?;
    if map == 3 || (map == 1 && map1_imm8(op)) {
        c.skip(1)?;
    }
    if map == 1 && op == 0xf7 {
        return Ok(Effect::Store); // vmaskmovdqu writes [rdi]
    }
    let store = match map {
        1 => map1_store(op, pp) || (op == 0xae && m.reg == 3),
        2 => matches!(op, 0x2e | 0x2f | 0x8e),
        _ => matches!(op, 0x14..=0x17 | 0x19 | 0x1d | 0x39),
    };
    Ok(m.mem(if store { Effect::Store } else { Effect::Load }))
}

fn evex(c: &mut Cursor) -> Step<Effect> {
    let p0 = c.byte()?;
    let p1 = c.byte()?;
    c.byte()?;
    let (map, pp) = (p0 & 7, p1 & 3);
    if p1 & 4 == 0 || !matches!(map, 1 | 2 | 3 | 5 | 6) {
        return Err(Stop::Unknown);
    }
    let op = c.byte()?;
    let m = c.modrm()?;
    if map == 3 || (map == 1 && map1_imm8(op)) {
        c.skip(1)?;
    }
    let store = match map {
        1 => map1_store(op, pp),
        // Compress, scatter, and the F3-prefixed down-converting vpmov*.
        2 => {
            matches!(op, 0x63 | 0x8a | 0x8b | 0xa0..=0xa3)
                || (pp == 2 && matches!(op, 0x10..=0x15 | 0x20..=0x25 | 0x30..=0x35))
        }
        3 => matches!(op, 0x14..=0x17 | 0x19 | 0x1b | 0x1d | 0x39 | 0x3b),
        5 => matches!(op, 0x11 | 0x7e),
        _ => false,
    };
    Ok(m.mem(if store { Effect::Store } else { Effect::Load }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn insn(code: &[u8]) -> (usize, Effect) {
        match decode(code) {
            Decoded::Insn(i) => (i.len, i.effect),
            other => panic!("{code:02x?}: {other:?}"),
        }
    }

    #[test]
    fn loads_and_stores() {
        use Effect::*;
        let cases: &[(&[u8], usize, Effect)] = &[
            (&[0x48, 0x8b, 0x07], 3, Load),                     // mov rax, [rdi]
            (&[0x48, 0x89, 0x06], 3, Store),                    // mov [rsi], rax
            (&[0x48, 0xc7, 0x07, 1, 0, 0, 0], 7, Store),        // mov qword [rdi], 1
            (&[0xc7, 0x05, 0, 0, 0, 0, 1, 0, 0, 0], 10, Store), // mov dword [rip], 1
            (&[0x66, 0xc7, 0x44, 0x24, 8, 1, 0], 7, Store),     // mov word [rsp+8], 1
            (&[0x48, 0x01, 0x07], 3, Store),                    // add [rdi], rax
            (&[0x48, 0x39, 0x07], 3, Load),                     // cmp [rdi], rax
            (&[0x83, 0x3f, 0x00], 3, Load),                     // cmp dword [rdi], 0
            (&[0xf0, 0x48, 0x0f, 0xb1, 0x0f], 5, Store),        // lock cmpxchg [rdi], rcx
            (&[0xf3, 0xab], 2, Store),                          // rep stosd
            (&[0xf3, 0xa4], 2, Movs),                           // rep movsb
            (&[0xe8, 0, 0, 0, 0], 5, Store),                    // call rel32
            (&[0x50], 1, Store),                                // push rax
            (&[0xc3], 1, Load),                                 // ret
            (&[0xff, 0x17], 2, PushOperand),                    // call [rdi]
            (&[0xff, 0xe2], 2, None),                           // jmp rdx
            (&[0x8f, 0x07], 2, PopOperand),                     // pop [rdi]
            (&[0x48, 0x8d, 0x04, 0x24], 4, None),               // lea rax, [rsp]
            (&[0x48, 0xb8, 1, 2, 3, 4, 5, 6, 7, 8], 10, None),  // movabs rax, imm64
            (&[0x48, 0xa3, 1, 2, 3, 4, 5, 6, 7, 8], 10, Store), // movabs [moffs], rax
            (&[0x0f, 0x11, 0x07], 3, Store),                    // movups [rdi], xmm0
            (&[0x66, 0x0f, 0x7f, 0x07], 4, Store),              // movdqa [rdi], xmm0
            (&[0xf3, 0x0f, 0x7e, 0x07], 4, Load),               // movq xmm0, [rdi]
            (&[0x66, 0x0f, 0x7e, 0x07], 4, Store),              // movd [rdi], xmm0
            (&[0x0f, 0x94, 0x07], 3, Store),                    // sete [rdi]
            (&[0x66, 0x0f, 0x3a, 0x16, 0x07, 1], 6, Store),     // pextrd [rdi], xmm0, 1
            (&[0xdd, 0x1f], 2, Store),                          // fstp qword [rdi]
            (&[0xdd, 0x07], 2, Load),                           // fld qword [rdi]
            (&[0xc5, 0xf9, 0x7f, 0x07], 4, Store),              // vmovdqa [rdi], xmm0
            (&[0xc5, 0xfd, 0x6f, 0x07], 4, Load),               // vmovdqa ymm0, [rdi]
            (&[0xc4, 0xe3, 0x7d, 0x39, 0x07, 1], 6, Store),     // vextracti128 [rdi], ymm0, 1
            (&[0x62, 0xf1, 0xfe, 0x48, 0x7f, 0x07], 6, Store),  // vmovdqu64 [rdi], zmm0
            (&[0x62, 0xf1, 0xfe, 0x48, 0x6f, 0x07], 6, Load),   // vmovdqu64 zmm0, [rdi]
            (&[0x0f, 0x05], 2, None),                           // syscall
            (&[0x0f, 0x0b], 2, None),                           // ud2
            (&[0xf7, 0xf1], 2, None),                           // div ecx
            (&[0xf6, 0x07, 1], 3, Load),                        // test byte [rdi], 1
        ];
        for &(code, len, effect) in cases {
            assert_eq!(insn(code), (len, effect), "{code:02x?}");
        }
    }

    #[test]
    fn short_and_unknown_encodings() {
        assert_eq!(decode(&[0x48, 0x8b]), Decoded::Incomplete);
        assert_eq!(decode(&[0xe8, 0, 0]), Decoded::Incomplete);
        assert_eq!(decode(&[]), Decoded::Incomplete);
        assert_eq!(decode(&[0x06]), Decoded::Unknown); // push es: invalid in 64-bit mode
        assert_eq!(decode(&[0x66; 16]), Decoded::Unknown); // longer than 15 bytes
    }
}
