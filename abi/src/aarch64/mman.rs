/// `PROT_*` bit: the pages are guarded by Branch Target Identification.
pub const PROT_BTI: u32 = 0x10;
/// `PROT_*` bit: the pages carry Memory Tagging Extension tags.
pub const PROT_MTE: u32 = 0x20;
