crate::flags::open::open_flags! {
    directory: 0o40000,
    nofollow: 0o100000,
    direct: 0o200000,
    largefile: 0o400000,
}
