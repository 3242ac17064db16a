//! `poll(2)`.

use bitflags::bitflags;

/// `struct pollfd`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct PollFd {
    /// File descriptor; negative entries are skipped.
    pub fd: i32,
    /// Requested events ([`PollEvents`] bits).
    pub events: i16,
    /// Returned events ([`PollEvents`] bits).
    pub revents: i16,
}

bitflags! {
    /// `POLL*` event bits (the generic values, which x86_64 and aarch64 share).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub struct PollEvents: i16 {
        const POLLIN = 0x1;
        const POLLPRI = 0x2;
        const POLLOUT = 0x4;
        const POLLERR = 0x8;
        const POLLHUP = 0x10;
        const POLLNVAL = 0x20;
        const POLLRDNORM = 0x40;
        const POLLRDBAND = 0x80;
        const POLLWRNORM = 0x100;
        const POLLWRBAND = 0x200;
        const POLLMSG = 0x400;
        const POLLREMOVE = 0x1000;
        const POLLRDHUP = 0x2000;
    }
}
