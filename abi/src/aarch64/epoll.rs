/// `struct epoll_event` on aarch64: naturally aligned, 16 bytes (only x86_64 packs it).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct EpollEvent {
    /// [`crate::epoll::EpollFlags`] bits.
    pub events: u32,
    /// Padding the C compiler inserts; kept explicit so the struct has no uninitialized bytes.
    pub _pad: u32,
    /// Opaque user data returned with the event.
    pub data: u64,
}
