//! Open flags. Most values are shared; `O_DIRECTORY`, `O_NOFOLLOW`, `O_DIRECT` and
//! `O_LARGEFILE` differ between x86_64 and aarch64 (aarch64 inherited the 32-bit ARM values),
//! so each architecture instantiates `open_flags!` with its own.

/// Defines `OpenFlags` for one architecture from its four differing values.
macro_rules! open_flags {
    (
        directory: $directory:literal,
        nofollow: $nofollow:literal,
        direct: $direct:literal,
        largefile: $largefile:literal $(,)?
    ) => {
        ::bitflags::bitflags! {
            /// `O_*` flags of `open`, `openat` and `fcntl(F_GETFL)`.
            ///
            /// The access mode is a two-bit field, not flags: use
            /// [`OpenFlags::access_mode`] rather than testing `WRONLY`/`RDWR` as bits.
            #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
            pub struct OpenFlags: u32 {
                const WRONLY = 0o1;
                const RDWR = 0o2;
                /// Mask of the access mode.
                const ACCMODE = 0o3;
                const CREAT = 0o100;
                const EXCL = 0o200;
                const NOCTTY = 0o400;
                const TRUNC = 0o1000;
                const APPEND = 0o2000;
                const NONBLOCK = 0o4000;
                const DSYNC = 0o10000;
                /// `FASYNC`: deliver `SIGIO`.
                const ASYNC = 0o20000;
                const DIRECT = $direct;
                const LARGEFILE = $largefile;
                const DIRECTORY = $directory;
                const NOFOLLOW = $nofollow;
                const NOATIME = 0o1000000;
                const CLOEXEC = 0o2000000;
                /// `O_SYNC` is this bit together with `DSYNC`.
                const SYNC = 0o4000000 | 0o10000;
                const PATH = 0o10000000;
                /// `O_TMPFILE` includes `O_DIRECTORY`, so old kernels reject it.
                const TMPFILE = 0o20000000 | $directory;
            }
        }

        impl OpenFlags {
            /// `O_RDONLY` (no bits: the zero access mode).
            pub const RDONLY: OpenFlags = OpenFlags::empty();
            /// Same as `NONBLOCK`.
            pub const NDELAY: OpenFlags = OpenFlags::NONBLOCK;

            /// The access mode: [`O_RDONLY`](crate::flags::open::O_RDONLY),
            /// [`O_WRONLY`](crate::flags::open::O_WRONLY) or
            /// [`O_RDWR`](crate::flags::open::O_RDWR) (3 is invalid for `open`).
            pub const fn access_mode(self) -> u32 {
                self.bits() & 0o3
            }
        }
    };
}

pub(crate) use open_flags;

/// Access mode: read only.
pub const O_RDONLY: u32 = 0;
/// Access mode: write only.
pub const O_WRONLY: u32 = 1;
/// Access mode: read and write.
pub const O_RDWR: u32 = 2;
