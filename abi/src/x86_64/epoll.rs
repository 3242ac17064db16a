/// `struct epoll_event` on x86_64: packed to 12 bytes, because the 32-bit x86 layout (where a
/// `u64` is only 4-aligned) was kept for compatibility between 32- and 64-bit programs.
#[repr(C, packed)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct EpollEvent {
    /// [`crate::epoll::EpollFlags`] bits.
    pub events: u32,
    /// Opaque user data returned with the event.
    pub data: u64,
}
