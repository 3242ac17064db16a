//! Positioned reads of an executable, so the parser works on files and in-memory images alike.

use std::fs::File;
use std::os::unix::fs::FileExt;

use abi::Errno;

/// A random-access source of bytes: a host file, a sentry file description, or a buffer.
pub trait ReadAt {
    /// Reads up to `buf.len()` bytes at `offset`; returns how many were read (0 at the end).
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<usize, Errno>;

    /// The size of the source in bytes.
    fn size(&self) -> Result<u64, Errno>;
}

impl ReadAt for [u8] {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<usize, Errno> {
        let Ok(start) = usize::try_from(offset) else {
            return Ok(0);
        };
        let Some(src) = self.get(start..) else {
            return Ok(0);
        };
        let n = src.len().min(buf.len());
        buf[..n].copy_from_slice(&src[..n]);
        Ok(n)
    }

    fn size(&self) -> Result<u64, Errno> {
        Ok(self.len() as u64)
    }
}

impl ReadAt for Vec<u8> {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<usize, Errno> {
        self.as_slice().read_at(offset, buf)
    }

    fn size(&self) -> Result<u64, Errno> {
        Ok(self.len() as u64)
    }
}

impl ReadAt for File {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<usize, Errno> {
        loop {
            match FileExt::read_at(self, buf, offset) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(io_errno(&e)),
            }
        }
    }

    fn size(&self) -> Result<u64, Errno> {
        self.metadata().map(|m| m.len()).map_err(|e| io_errno(&e))
    }
}

impl<T: ReadAt + ?Sized> ReadAt for &T {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<usize, Errno> {
        (**self).read_at(offset, buf)
    }

    fn size(&self) -> Result<u64, Errno> {
        (**self).size()
    }
}

fn io_errno(e: &std::io::Error) -> Errno {
    e.raw_os_error().map_or(Errno::EIO, Errno::new)
}

/// Fills `buf` from `offset`, or returns `Ok(false)` if the source ends first.
pub(crate) fn read_exact_at<R: ReadAt + ?Sized>(
    src: &R,
    mut offset: u64,
    mut buf: &mut [u8],
) -> Result<bool, Errno> {
    while !buf.is_empty() {
        let n = src.read_at(offset, buf)?;
        if n == 0 {
            return Ok(false);
        }
        // A reader claiming more than it was asked for is a bug we must not index with.
        let n = n.min(buf.len());
        buf = &mut buf[n..];
        offset = offset.checked_add(n as u64).ok_or(Errno::EIO)?;
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slice_reads_clamp_at_end() {
        let data = [1u8, 2, 3, 4];
        let mut buf = [0u8; 3];
        assert_eq!(data[..].read_at(2, &mut buf), Ok(2));
        assert_eq!(buf[..2], [3, 4]);
        assert_eq!(data[..].read_at(4, &mut buf), Ok(0));
        assert_eq!(data[..].read_at(u64::MAX, &mut buf), Ok(0));
        // Through the blanket impl for references, as `parse(&&[u8])` would use it.
        let by_ref: &[u8] = &data;
        assert_eq!(ReadAt::size(&by_ref), Ok(4));
    }

    #[test]
    fn read_exact_reports_short_sources() {
        let data = vec![7u8; 10];
        let mut buf = [0u8; 4];
        assert_eq!(read_exact_at(&data, 6, &mut buf), Ok(true));
        assert_eq!(read_exact_at(&data, 7, &mut buf), Ok(false));
    }

    #[test]
    fn file_reads_and_sizes() {
        let path = std::env::temp_dir().join(format!("ringfence-read-{}", std::process::id()));
        std::fs::write(&path, b"hello world").unwrap();
        let file = File::open(&path).unwrap();
        let mut buf = [0u8; 5];
        assert_eq!(ReadAt::read_at(&file, 6, &mut buf), Ok(5));
        assert_eq!(&buf, b"world");
        assert_eq!(ReadAt::size(&file), Ok(11));
        std::fs::remove_file(&path).unwrap();
    }
}
