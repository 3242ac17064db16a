//! Linux error numbers (identical on x86_64 and aarch64, which both use the generic list).

use core::fmt;

/// A Linux error number, always positive (`ENOENT` is 2); system calls return its negation.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(transparent)]
pub struct Errno(i32);

/// What a system call handler returns: the value, or the error the guest sees.
pub type SysResult<T> = Result<T, Errno>;

/// Raw return values in `-MAX_ERRNO..0` (as signed) are errors; everything else is a value.
pub const MAX_ERRNO: i32 = 4095;

macro_rules! errnos {
    ($($name:ident = $num:literal, $desc:literal;)*) => {
        impl Errno {
            $(
                #[doc = $desc]
                pub const $name: Errno = Errno($num);
            )*
        }

        /// `(number, name, description)` for every error number, sorted by number.
        const ERRNOS: &[(i32, &str, &str)] = &[$(($num, stringify!($name), $desc),)*];
    };
}

errnos! {
    EPERM = 1, "Operation not permitted";
    ENOENT = 2, "No such file or directory";
    ESRCH = 3, "No such process";
    EINTR = 4, "Interrupted by a signal";
    EIO = 5, "Input/output error";
    ENXIO = 6, "No such device or address";
    E2BIG = 7, "Argument list too long";
    ENOEXEC = 8, "Not an executable format";
    EBADF = 9, "Bad file descriptor";
    ECHILD = 10, "No child processes";
    EAGAIN = 11, "Try again";
    ENOMEM = 12, "Out of memory";
    EACCES = 13, "Permission denied";
    EFAULT = 14, "Bad address";
    ENOTBLK = 15, "Not a block device";
    EBUSY = 16, "Device or resource busy";
    EEXIST = 17, "File exists";
    EXDEV = 18, "Cross-device link";
    ENODEV = 19, "No such device";
    ENOTDIR = 20, "Not a directory";
    EISDIR = 21, "Is a directory";
    EINVAL = 22, "Invalid argument";
    ENFILE = 23, "Too many open files in system";
    EMFILE = 24, "Too many open files";
    ENOTTY = 25, "Not a terminal";
    ETXTBSY = 26, "Text file busy";
    EFBIG = 27, "File too large";
    ENOSPC = 28, "No space left on device";
    ESPIPE = 29, "Illegal seek";
    EROFS = 30, "Read-only file system";
    EMLINK = 31, "Too many links";
    EPIPE = 32, "Broken pipe";
    EDOM = 33, "Argument out of domain";
    ERANGE = 34, "Result out of range";
    EDEADLK = 35, "Deadlock avoided";
    ENAMETOOLONG = 36, "File name too long";
    ENOLCK = 37, "No locks available";
    ENOSYS = 38, "Function not implemented";
    ENOTEMPTY = 39, "Directory not empty";
    ELOOP = 40, "Too many levels of symbolic links";
    ENOMSG = 42, "No message of the wanted type";
    EIDRM = 43, "Identifier removed";
    ECHRNG = 44, "Channel number out of range";
    EL2NSYNC = 45, "Level 2 not synchronized";
    EL3HLT = 46, "Level 3 halted";
    EL3RST = 47, "Level 3 reset";
    ELNRNG = 48, "Link number out of range";
    EUNATCH = 49, "Protocol driver not attached";
    ENOCSI = 50, "No CSI structure";
    EL2HLT = 51, "Level 2 halted";
    EBADE = 52, "Invalid exchange";
    EBADR = 53, "Invalid request descriptor";
    EXFULL = 54, "Exchange full";
    ENOANO = 55, "No anode";
    EBADRQC = 56, "Invalid request code";
    EBADSLT = 57, "Invalid slot";
    EBFONT = 59, "Bad font file";
    ENOSTR = 60, "Not a stream";
    ENODATA = 61, "No data";
    ETIME = 62, "Timer expired";
    ENOSR = 63, "Out of stream resources";
    ENONET = 64, "Not on the network";
    ENOPKG = 65, "Package not installed";
    EREMOTE = 66, "Object is remote";
    ENOLINK = 67, "Link severed";
    EADV = 68, "Advertise error";
    ESRMNT = 69, "Srmount error";
    ECOMM = 70, "Communication error on send";
    EPROTO = 71, "Protocol error";
    EMULTIHOP = 72, "Multihop attempted";
    EDOTDOT = 73, "RFS error";
    EBADMSG = 74, "Bad message";
    EOVERFLOW = 75, "Value too large for its type";
    ENOTUNIQ = 76, "Name not unique on network";
    EBADFD = 77, "File descriptor in bad state";
    EREMCHG = 78, "Remote address changed";
    ELIBACC = 79, "Cannot access a shared library";
    ELIBBAD = 80, "Corrupted shared library";
    ELIBSCN = 81, "Corrupted .lib section";
    ELIBMAX = 82, "Too many shared libraries";
    ELIBEXEC = 83, "Cannot execute a shared library";
    EILSEQ = 84, "Invalid byte sequence";
    ERESTART = 85, "Call should be restarted";
    ESTRPIPE = 86, "Stream pipe error";
    EUSERS = 87, "Too many users";
    ENOTSOCK = 88, "Not a socket";
    EDESTADDRREQ = 89, "Destination address required";
    EMSGSIZE = 90, "Message too long";
    EPROTOTYPE = 91, "Wrong protocol type for socket";
    ENOPROTOOPT = 92, "Protocol option not available";
    EPROTONOSUPPORT = 93, "Protocol not supported";
    ESOCKTNOSUPPORT = 94, "Socket type not supported";
    EOPNOTSUPP = 95, "Operation not supported";
    EPFNOSUPPORT = 96, "Protocol family not supported";
    EAFNOSUPPORT = 97, "Address family not supported";
    EADDRINUSE = 98, "Address in use";
    EADDRNOTAVAIL = 99, "Address not available";
    ENETDOWN = 100, "Network down";
    ENETUNREACH = 101, "Network unreachable";
    ENETRESET = 102, "Connection reset by network";
    ECONNABORTED = 103, "Connection aborted";
    ECONNRESET = 104, "Connection reset by peer";
    ENOBUFS = 105, "No buffer space";
    EISCONN = 106, "Socket already connected";
    ENOTCONN = 107, "Socket not connected";
    ESHUTDOWN = 108, "Socket shut down";
    ETOOMANYREFS = 109, "Too many references";
    ETIMEDOUT = 110, "Connection timed out";
    ECONNREFUSED = 111, "Connection refused";
    EHOSTDOWN = 112, "Host down";
    EHOSTUNREACH = 113, "Host unreachable";
    EALREADY = 114, "Already in progress";
    EINPROGRESS = 115, "Now in progress";
    ESTALE = 116, "Stale file handle";
    EUCLEAN = 117, "Structure needs cleaning";
    ENOTNAM = 118, "Not a XENIX named type file";
    ENAVAIL = 119, "No XENIX semaphores";
    EISNAM = 120, "Is a named type file";
    EREMOTEIO = 121, "Remote I/O error";
    EDQUOT = 122, "Disk quota exceeded";
    ENOMEDIUM = 123, "No medium";
    EMEDIUMTYPE = 124, "Wrong medium type";
    ECANCELED = 125, "Canceled";
    ENOKEY = 126, "Key not available";
    EKEYEXPIRED = 127, "Key expired";
    EKEYREVOKED = 128, "Key revoked";
    EKEYREJECTED = 129, "Key rejected";
    EOWNERDEAD = 130, "Lock owner died";
    ENOTRECOVERABLE = 131, "State not recoverable";
    ERFKILL = 132, "Blocked by RF-kill";
    EHWPOISON = 133, "Memory page has a hardware error";
    // Kernel-internal codes: a handler returns them to ask for a restart after a signal;
    // they must be turned into EINTR or a restart before the guest could see them.
    ERESTARTSYS = 512, "Restart if the signal handler allows it (internal)";
    ERESTARTNOINTR = 513, "Always restart (internal)";
    ERESTARTNOHAND = 514, "Restart if no handler ran (internal)";
    ENOIOCTLCMD = 515, "Unknown ioctl command (internal)";
    ERESTART_RESTARTBLOCK = 516, "Restart through restart_syscall (internal)";
}

impl Errno {
    /// Same as [`Errno::EAGAIN`].
    pub const EWOULDBLOCK: Errno = Errno::EAGAIN;
    /// Same as [`Errno::EDEADLK`].
    pub const EDEADLOCK: Errno = Errno::EDEADLK;
    /// Same as [`Errno::EOPNOTSUPP`] on Linux.
    pub const ENOTSUP: Errno = Errno::EOPNOTSUPP;

    /// Wraps a raw error number; any value is accepted so that unknown errors pass through.
    pub const fn new(raw: i32) -> Errno {
        Errno(raw)
    }

    /// The positive error number.
    pub const fn raw(self) -> i32 {
        self.0
    }

    /// The value a system call returns for this error: `-errno` as a register value.
    pub const fn as_syscall_return(self) -> u64 {
        (-(self.0 as i64)) as u64
    }

    /// The error encoded in a raw system call return value, if it is one (`-4095..=-1`).
    pub const fn from_syscall_return(ret: u64) -> Option<Errno> {
        let signed = ret as i64;
        if signed < 0 && signed >= -(MAX_ERRNO as i64) {
            Some(Errno(-signed as i32))
        } else {
            None
        }
    }

    fn entry(self) -> Option<&'static (i32, &'static str, &'static str)> {
        ERRNOS
            .binary_search_by_key(&self.0, |e| e.0)
            .ok()
            .map(|i| &ERRNOS[i])
    }

    /// The symbolic name, such as `"ENOENT"`; aliases give their canonical name.
    pub fn name(self) -> Option<&'static str> {
        self.entry().map(|e| e.1)
    }

    /// A short description, such as `"No such file or directory"`.
    pub fn description(self) -> Option<&'static str> {
        self.entry().map(|e| e.2)
    }

    /// Looks up a symbolic name, including the aliases `EWOULDBLOCK`, `EDEADLOCK`, `ENOTSUP`.
    pub fn from_name(name: &str) -> Option<Errno> {
        match name {
            "EWOULDBLOCK" => return Some(Errno::EWOULDBLOCK),
            "EDEADLOCK" => return Some(Errno::EDEADLOCK),
            "ENOTSUP" => return Some(Errno::ENOTSUP),
            _ => {}
        }
        ERRNOS.iter().find(|e| e.1 == name).map(|e| Errno(e.0))
    }

    /// Every known error number with its name, in number order.
    pub fn all() -> impl Iterator<Item = (Errno, &'static str)> {
        ERRNOS.iter().map(|e| (Errno(e.0), e.1))
    }
}

/// Turns a handler's result into the raw value returned to the guest.
pub const fn to_return(result: SysResult<u64>) -> u64 {
    match result {
        Ok(value) => value,
        Err(errno) => errno.as_syscall_return(),
    }
}

impl fmt::Debug for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "Errno({})", self.0),
        }
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.entry() {
            Some((_, name, desc)) => write!(f, "{name} ({desc})"),
            None => write!(f, "unknown error {}", self.0),
        }
    }
}

impl core::error::Error for Errno {}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::format;

    #[test]
    fn formats() {
        assert_eq!(
            format!("{}", Errno::ENOENT),
            "ENOENT (No such file or directory)"
        );
        assert_eq!(format!("{:?}", Errno::ENOENT), "ENOENT");
        assert_eq!(format!("{:?}", Errno::new(999)), "Errno(999)");
        assert_eq!(format!("{}", Errno::new(999)), "unknown error 999");
    }

    #[test]
    fn names_round_trip() {
        for (errno, name) in Errno::all() {
            assert_eq!(Errno::from_name(name), Some(errno));
            assert_eq!(errno.name(), Some(name));
        }
        assert_eq!(Errno::from_name("EWOULDBLOCK"), Some(Errno::EAGAIN));
        assert_eq!(Errno::EWOULDBLOCK.name(), Some("EAGAIN"));
        assert_eq!(Errno::from_name("ENOPE"), None);
    }

    #[test]
    fn table_is_sorted_and_unique() {
        assert!(ERRNOS.windows(2).all(|w| w[0].0 < w[1].0));
    }

    #[test]
    fn syscall_return_encoding() {
        assert_eq!(Errno::ENOENT.as_syscall_return(), (-2i64) as u64);
        assert_eq!(
            Errno::from_syscall_return((-2i64) as u64),
            Some(Errno::ENOENT)
        );
        assert_eq!(Errno::from_syscall_return(0), None);
        assert_eq!(Errno::from_syscall_return((-4096i64) as u64), None);
        assert_eq!(
            Errno::from_syscall_return((-4095i64) as u64),
            Some(Errno::new(4095))
        );
        assert_eq!(to_return(Ok(7)), 7);
        assert_eq!(to_return(Err(Errno::EPERM)), u64::MAX);
    }
}
