//! The contents of an in-memory regular file.
//!
//! Kept as sparse 4 KiB pages so that a write far past the end costs one page, not the gap;
//! a later version can take its pages from the memory file so files can be mapped.

use std::collections::BTreeMap;

use abi::Errno;

use crate::vfs::file::MAX_OFFSET;

const PAGE: usize = 4096;
const PAGE64: u64 = PAGE as u64;

/// Bytes of a file: absent pages read as zeros. Bytes of the last page past the length are
/// kept zero, so growing the file never exposes stale data.
#[derive(Default)]
pub struct FileData {
    pages: BTreeMap<u64, Box<[u8; PAGE]>>,
    len: u64,
}

impl FileData {
    pub fn new() -> FileData {
        FileData::default()
    }

    /// The length in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Allocated 512-byte blocks (`st_blocks`).
    pub fn blocks(&self) -> u64 {
        self.pages.len() as u64 * (PAGE64 / 512)
    }

    /// Copies bytes from `off` into `buf`; returns how many (0 at or past the end).
    pub fn read_at(&self, buf: &mut [u8], off: u64) -> usize {
        if off >= self.len {
            return 0;
        }
        let n = usize::try_from((self.len - off).min(buf.len() as u64)).unwrap_or(buf.len());
        let mut done = 0;
        while done < n {
            let at = off + done as u64;
            let in_page = (at % PAGE64) as usize;
            let chunk = (PAGE - in_page).min(n - done);
            let dst = &mut buf[done..done + chunk];
            match self.pages.get(&(at / PAGE64)) {
                Some(page) => dst.copy_from_slice(&page[in_page..in_page + chunk]),
                None => dst.fill(0),
            }
            done += chunk;
        }
        n
    }

    /// Writes `buf` at `off`, growing the file; `EFBIG` past the largest offset.
    pub fn write_at(&mut self, buf: &[u8], off: u64) -> Result<usize, Errno> {
        let end = off
            .checked_add(buf.len() as u64)
            .filter(|&e| e <= MAX_OFFSET as u64)
            .ok_or(Errno::EFBIG)?;
        let mut done = 0;
        while done < buf.len() {
            let at = off + done as u64;
            let in_page = (at % PAGE64) as usize;
            let chunk = (PAGE - in_page).min(buf.len() - done);
            let page = self
                .pages
                .entry(at / PAGE64)
                .or_insert_with(|| Box::new([0u8; PAGE]));
            page[in_page..in_page + chunk].copy_from_slice(&buf[done..done + chunk]);
            done += chunk;
        }
        self.len = self.len.max(end);
        Ok(buf.len())
    }

    /// Truncates or extends (with zeros) to `len`.
    pub fn set_len(&mut self, len: u64) -> Result<(), Errno> {
        if len > MAX_OFFSET as u64 {
            return Err(Errno::EFBIG);
        }
        if len < self.len {
            let keep = len.div_ceil(PAGE64);
            let _dropped = self.pages.split_off(&keep);
            let tail = (len % PAGE64) as usize;
            if tail != 0
                && let Some(page) = self.pages.get_mut(&(len / PAGE64))
            {
                page[tail..].fill(0);
            }
        }
        self.len = len;
        Ok(())
    }

    /// The first offset `>= off` inside an allocated page and before the end (`SEEK_DATA`).
    pub fn next_data(&self, off: u64) -> Option<u64> {
        if off >= self.len {
            return None;
        }
        let (&index, _) = self.pages.range(off / PAGE64..).next()?;
        let start = (index * PAGE64).max(off);
        (start < self.len).then_some(start)
    }

    /// The first offset `>= off` outside allocated pages, or the end (`SEEK_HOLE`).
    pub fn next_hole(&self, off: u64) -> u64 {
        let mut index = off / PAGE64;
        while self.pages.contains_key(&index) {
            index += 1;
        }
        (index * PAGE64).max(off).min(self.len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparse_write_and_read() {
        let mut d = FileData::new();
        d.write_at(b"abc", 10_000).unwrap();
        assert_eq!(d.len(), 10_003);
        assert_eq!(d.blocks(), 8);
        let mut buf = [1u8; 8];
        assert_eq!(d.read_at(&mut buf, 9_997), 6);
        assert_eq!(&buf[..6], b"\0\0\0abc");
        assert_eq!(d.read_at(&mut buf, 10_003), 0);
    }

    #[test]
    fn truncate_zeroes_the_tail() {
        let mut d = FileData::new();
        d.write_at(b"hello world", 0).unwrap();
        d.set_len(5).unwrap();
        d.set_len(11).unwrap();
        let mut buf = [9u8; 11];
        assert_eq!(d.read_at(&mut buf, 0), 11);
        assert_eq!(&buf, b"hello\0\0\0\0\0\0");
        d.set_len(0).unwrap();
        assert_eq!(d.blocks(), 0);
    }

    #[test]
    fn data_and_holes() {
        let mut d = FileData::new();
        d.write_at(b"x", 8192).unwrap();
        d.set_len(20_000).unwrap();
        assert_eq!(d.next_data(0), Some(8192));
        assert_eq!(d.next_hole(0), 0);
        assert_eq!(d.next_hole(8200), 12_288);
        assert_eq!(d.next_data(12_288), None);
        assert_eq!(d.next_hole(19_000), 19_000);
    }

    #[test]
    fn too_big() {
        let mut d = FileData::new();
        assert_eq!(d.write_at(b"x", i64::MAX as u64), Err(Errno::EFBIG));
        assert_eq!(d.set_len(u64::MAX), Err(Errno::EFBIG));
    }
}
