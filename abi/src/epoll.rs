//! epoll constants shared by both architectures; `struct epoll_event` differs per
//! architecture ([`crate::x86_64::EpollEvent`], [`crate::aarch64::EpollEvent`]).

use bitflags::bitflags;

bitflags! {
    /// Event bits of `epoll_event.events`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub struct EpollFlags: u32 {
        const EPOLLIN = 0x1;
        const EPOLLPRI = 0x2;
        const EPOLLOUT = 0x4;
        const EPOLLERR = 0x8;
        const EPOLLHUP = 0x10;
        const EPOLLNVAL = 0x20;
        const EPOLLRDNORM = 0x40;
        const EPOLLRDBAND = 0x80;
        const EPOLLWRNORM = 0x100;
        const EPOLLWRBAND = 0x200;
        const EPOLLMSG = 0x400;
        const EPOLLRDHUP = 0x2000;
        const EPOLLEXCLUSIVE = 1 << 28;
        const EPOLLWAKEUP = 1 << 29;
        const EPOLLONESHOT = 1 << 30;
        const EPOLLET = 1 << 31;
    }
}

/// `epoll_ctl` operation: add a descriptor.
pub const EPOLL_CTL_ADD: i32 = 1;
/// `epoll_ctl` operation: remove a descriptor.
pub const EPOLL_CTL_DEL: i32 = 2;
/// `epoll_ctl` operation: change a descriptor's events.
pub const EPOLL_CTL_MOD: i32 = 3;
/// `epoll_create1` flag (the value of `O_CLOEXEC`, which is the same on both architectures).
pub const EPOLL_CLOEXEC: u32 = 0o2000000;
