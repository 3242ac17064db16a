//! Page permissions, independent of the entry format.

use bitflags::bitflags;

bitflags! {
    /// What a leaf entry grants.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub struct Perms: u8 {
        const READ = 1 << 0;
        const WRITE = 1 << 1;
        const EXECUTE = 1 << 2;
        /// Accessible from user mode (ring 3 / EL0).
        const USER = 1 << 3;
        /// Kept in the TLB across address-space switches (x86 G, aarch64 !nG). Supervisor
        /// pages only: it is dropped for USER pages, which always belong to one address space.
        const GLOBAL = 1 << 4;
    }
}

impl Perms {
    /// The permissions a present entry actually grants: neither format can deny reads of a
    /// present page, so WRITE or EXECUTE imply READ, and USER pages are never GLOBAL. `None`
    /// when nothing is granted; such a page must not be mapped at all.
    pub fn effective(self) -> Option<Perms> {
        if !self.intersects(Perms::READ | Perms::WRITE | Perms::EXECUTE) {
            return None;
        }
        let mut p = self | Perms::READ;
        if p.contains(Perms::USER) {
            p.remove(Perms::GLOBAL);
        }
        Some(p)
    }
}
