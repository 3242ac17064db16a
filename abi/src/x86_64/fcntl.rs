crate::flags::open::open_flags! {
    directory: 0o200000,
    nofollow: 0o400000,
    direct: 0o40000,
    largefile: 0o100000,
}
