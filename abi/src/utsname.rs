//! `uname(2)`.

/// Length of each [`UtsName`] field, including the terminating NUL.
pub const UTS_LEN: usize = 65;

/// `struct new_utsname`: six NUL-terminated strings.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct UtsName {
    pub sysname: [u8; UTS_LEN],
    pub nodename: [u8; UTS_LEN],
    pub release: [u8; UTS_LEN],
    pub version: [u8; UTS_LEN],
    pub machine: [u8; UTS_LEN],
    pub domainname: [u8; UTS_LEN],
}

impl Default for UtsName {
    fn default() -> Self {
        let empty = [0; UTS_LEN];
        Self {
            sysname: empty,
            nodename: empty,
            release: empty,
            version: empty,
            machine: empty,
            domainname: empty,
        }
    }
}

impl UtsName {
    /// Encodes `s` as a field, cut to 64 bytes so the NUL always fits.
    pub const fn field(s: &str) -> [u8; UTS_LEN] {
        let bytes = s.as_bytes();
        let mut out = [0; UTS_LEN];
        let mut i = 0;
        while i < bytes.len() && i < UTS_LEN - 1 {
            out[i] = bytes[i];
            i += 1;
        }
        out
    }

    /// The bytes of a field up to its first NUL.
    pub fn field_bytes(field: &[u8; UTS_LEN]) -> &[u8] {
        let len = field.iter().position(|&b| b == 0).unwrap_or(UTS_LEN);
        &field[..len]
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::string::String;

    #[test]
    fn fields_are_nul_terminated() {
        let name = UtsName {
            sysname: UtsName::field("Linux"),
            ..Default::default()
        };
        assert_eq!(UtsName::field_bytes(&name.sysname), b"Linux");
        let long = UtsName::field(&String::from("x").repeat(100));
        assert_eq!(UtsName::field_bytes(&long).len(), UTS_LEN - 1);
        assert_eq!(long[UTS_LEN - 1], 0);
    }
}
