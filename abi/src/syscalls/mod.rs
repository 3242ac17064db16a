//! System call numbers for every architecture we run guests on.
//!
//! Each architecture module holds a `TABLE` of `(number, name)` pairs in number order, one
//! constant per call in its `nr` module, and `name`/`number` lookups. The tables are plain data
//! so the x86_64 and aarch64 ones are both available on any host (the ptrace platform and
//! tools such as a syscall tracer need the guest's table, not the host's).
//!
//! ```
//! use abi::syscalls::{aarch64, x86_64};
//!
//! assert_eq!(x86_64::nr::GETPID, 39);
//! assert_eq!(x86_64::name(39), Some("getpid"));
//! assert_eq!(aarch64::number("getpid"), Some(aarch64::nr::GETPID));
//! assert_eq!(abi::Arch::Aarch64.syscall_name(172), Some("getpid"));
//! ```

/// Defines `nr::*`, `TABLE`, `MAX_NR`, `name` and `number` for one architecture from a list of
/// `CONST = number => "name",` lines.
macro_rules! syscall_table {
    ($($konst:ident = $nr:literal => $name:literal,)*) => {
        /// One constant per system call, named like the kernel's `__NR_*` macros.
        pub mod nr {
            $(
                #[doc = concat!("`", $name, "`")]
                pub const $konst: u32 = $nr;
            )*
        }

        /// Every system call as `(number, name)`, sorted by number.
        pub const TABLE: &[(u32, &str)] = &[$(($nr, $name),)*];

        /// The highest system call number in [`TABLE`].
        pub const MAX_NR: u32 = super::max_nr(TABLE);

        /// Names indexed by number, so that [`name`] is a single array load.
        static BY_NR: [Option<&str>; MAX_NR as usize + 1] = super::dense(TABLE);

        /// The name of system call `nr`, or `None` if the number is unassigned.
        pub fn name(nr: u32) -> Option<&'static str> {
            BY_NR.get(nr as usize).copied().flatten()
        }

        /// The number of the system call called `name` (a linear scan; use it for
        /// configuration and tests, not on a hot path).
        pub fn number(name: &str) -> Option<u32> {
            super::find_number(TABLE, name)
        }
    };
}

pub mod aarch64;
pub mod x86_64;

use crate::Arch;

/// Largest number in a table; evaluated at compile time.
const fn max_nr(table: &[(u32, &str)]) -> u32 {
    let mut max = 0;
    let mut i = 0;
    while i < table.len() {
        if table[i].0 > max {
            max = table[i].0;
        }
        i += 1;
    }
    max
}

/// Spreads a table into an array indexed by number. Evaluated at compile time, so an unsorted
/// table or a number used twice fails the build rather than a lookup.
const fn dense<const N: usize>(table: &[(u32, &'static str)]) -> [Option<&'static str>; N] {
    let mut out = [None; N];
    let mut i = 0;
    while i < table.len() {
        let nr = table[i].0 as usize;
        assert!(out[nr].is_none(), "duplicate system call number");
        assert!(
            i == 0 || table[i - 1].0 < table[i].0,
            "system call table is not sorted"
        );
        out[nr] = Some(table[i].1);
        i += 1;
    }
    out
}

fn find_number(table: &[(u32, &str)], name: &str) -> Option<u32> {
    table.iter().find(|&&(_, n)| n == name).map(|&(nr, _)| nr)
}

impl Arch {
    /// The system call table of this architecture.
    pub const fn syscall_table(self) -> &'static [(u32, &'static str)] {
        match self {
            Arch::X86_64 => x86_64::TABLE,
            Arch::Aarch64 => aarch64::TABLE,
        }
    }

    /// The name of system call `nr` on this architecture.
    pub fn syscall_name(self, nr: u32) -> Option<&'static str> {
        match self {
            Arch::X86_64 => x86_64::name(nr),
            Arch::Aarch64 => aarch64::name(nr),
        }
    }

    /// The number of the system call called `name` on this architecture.
    pub fn syscall_number(self, name: &str) -> Option<u32> {
        match self {
            Arch::X86_64 => x86_64::number(name),
            Arch::Aarch64 => aarch64::number(name),
        }
    }
}
