//! The `linux_dirent64` records `getdents64` produces.
//!
//! ```text
//! struct linux_dirent64 { u64 d_ino; s64 d_off; u16 d_reclen; u8 d_type; char d_name[]; }
//! ```
//! The name is NUL-terminated and each record is padded to a multiple of 8 bytes.

use abi::Errno;

pub const DT_UNKNOWN: u8 = 0;
pub const DT_FIFO: u8 = 1;
pub const DT_CHR: u8 = 2;
pub const DT_DIR: u8 = 4;
pub const DT_BLK: u8 = 6;
pub const DT_REG: u8 = 8;
pub const DT_LNK: u8 = 10;
pub const DT_SOCK: u8 = 12;
pub const DT_WHT: u8 = 14;

/// Size of the fixed part of a record (before the name).
const HEADER: usize = 19;

/// The length of the record for a name of `name_len` bytes.
pub const fn record_len(name_len: usize) -> usize {
    (HEADER + name_len + 1 + 7) & !7
}

/// Writes one record at the start of `buf`; `None` if it does not fit.
pub fn write_record(buf: &mut [u8], ino: u64, off: i64, d_type: u8, name: &[u8]) -> Option<usize> {
    let len = record_len(name.len());
    let reclen = u16::try_from(len).ok()?;
    let rec = buf.get_mut(..len)?;
    rec[0..8].copy_from_slice(&ino.to_ne_bytes());
    rec[8..16].copy_from_slice(&off.to_ne_bytes());
    rec[16..18].copy_from_slice(&reclen.to_ne_bytes());
    rec[18] = d_type;
    rec[HEADER..HEADER + name.len()].copy_from_slice(name);
    rec[HEADER + name.len()..].fill(0);
    Some(len)
}

/// One record read back from a buffer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dirent64 {
    pub ino: u64,
    pub off: i64,
    pub reclen: u16,
    pub d_type: u8,
    pub name: Vec<u8>,
}

/// Parses the records `getdents64` wrote (for tests and for in-sentry users).
pub fn parse_records(mut buf: &[u8]) -> Result<Vec<Dirent64>, Errno> {
    let mut out = Vec::new();
    while !buf.is_empty() {
        let head = buf.get(..HEADER).ok_or(Errno::EINVAL)?;
        let field = |r: std::ops::Range<usize>| head.get(r).ok_or(Errno::EINVAL);
        let ino = u64::from_ne_bytes(field(0..8)?.try_into().map_err(|_| Errno::EINVAL)?);
        let off = i64::from_ne_bytes(field(8..16)?.try_into().map_err(|_| Errno::EINVAL)?);
        let reclen = u16::from_ne_bytes(field(16..18)?.try_into().map_err(|_| Errno::EINVAL)?);
        let d_type = head[18];
        let len = usize::from(reclen);
        if len <= HEADER || len % 8 != 0 {
            return Err(Errno::EINVAL);
        }
        let rec = buf.get(..len).ok_or(Errno::EINVAL)?;
        let name_area = &rec[HEADER..];
        let name_len = name_area
            .iter()
            .position(|&b| b == 0)
            .ok_or(Errno::EINVAL)?;
        out.push(Dirent64 {
            ino,
            off,
            reclen,
            d_type,
            name: name_area[..name_len].to_vec(),
        });
        buf = &buf[len..];
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_are_aligned() {
        assert_eq!(record_len(1), 24);
        assert_eq!(record_len(4), 24);
        assert_eq!(record_len(5), 32);
        assert_eq!(record_len(255), 280);
    }

    #[test]
    fn write_then_parse() {
        let mut buf = [0xffu8; 64];
        let a = write_record(&mut buf, 7, 1, DT_DIR, b".").unwrap();
        let b = write_record(&mut buf[a..], 9, 2, DT_REG, b"hello").unwrap();
        assert!(write_record(&mut buf[a + b..], 1, 3, DT_REG, b"no room here").is_none());
        let recs = parse_records(&buf[..a + b]).unwrap();
        assert_eq!(recs.len(), 2);
        assert_eq!((recs[0].ino, recs[0].off, recs[0].d_type), (7, 1, DT_DIR));
        assert_eq!(recs[1].name, b"hello");
        assert_eq!(recs[1].reclen, 32);
    }
}
