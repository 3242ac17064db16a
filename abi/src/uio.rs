//! Scatter/gather I/O vectors.

/// `struct iovec`: one guest buffer of a `readv`/`writev`-style call.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct IoVec {
    /// Guest address of the buffer.
    pub iov_base: u64,
    /// Length of the buffer in bytes.
    pub iov_len: u64,
}

/// Most vectors one call accepts; more is `EINVAL`.
pub const UIO_MAXIOV: usize = 1024;
