//! Error numbers against the `libc` crate.
#![cfg(all(target_arch = "x86_64", target_os = "linux"))]

use abi::Errno;

/// Every error number libc names, paired with ours.
const LIBC_ERRNOS: &[(libc::c_int, Errno)] = &[
    (libc::EPERM, Errno::EPERM),
    (libc::ENOENT, Errno::ENOENT),
    (libc::ESRCH, Errno::ESRCH),
    (libc::EINTR, Errno::EINTR),
    (libc::EIO, Errno::EIO),
    (libc::ENXIO, Errno::ENXIO),
    (libc::E2BIG, Errno::E2BIG),
    (libc::ENOEXEC, Errno::ENOEXEC),
    (libc::EBADF, Errno::EBADF),
    (libc::ECHILD, Errno::ECHILD),
    (libc::EAGAIN, Errno::EAGAIN),
    (libc::ENOMEM, Errno::ENOMEM),
    (libc::EACCES, Errno::EACCES),
    (libc::EFAULT, Errno::EFAULT),
    (libc::ENOTBLK, Errno::ENOTBLK),
    (libc::EBUSY, Errno::EBUSY),
    (libc::EEXIST, Errno::EEXIST),
    (libc::EXDEV, Errno::EXDEV),
    (libc::ENODEV, Errno::ENODEV),
    (libc::ENOTDIR, Errno::ENOTDIR),
    (libc::EISDIR, Errno::EISDIR),
    (libc::EINVAL, Errno::EINVAL),
    (libc::ENFILE, Errno::ENFILE),
    (libc::EMFILE, Errno::EMFILE),
    (libc::ENOTTY, Errno::ENOTTY),
    (libc::ETXTBSY, Errno::ETXTBSY),
    (libc::EFBIG, Errno::EFBIG),
    (libc::ENOSPC, Errno::ENOSPC),
    (libc::ESPIPE, Errno::ESPIPE),
    (libc::EROFS, Errno::EROFS),
    (libc::EMLINK, Errno::EMLINK),
    (libc::EPIPE, Errno::EPIPE),
    (libc::EDOM, Errno::EDOM),
    (libc::ERANGE, Errno::ERANGE),
    (libc::EDEADLK, Errno::EDEADLK),
    (libc::ENAMETOOLONG, Errno::ENAMETOOLONG),
    (libc::ENOLCK, Errno::ENOLCK),
    (libc::ENOSYS, Errno::ENOSYS),
    (libc::ENOTEMPTY, Errno::ENOTEMPTY),
    (libc::ELOOP, Errno::ELOOP),
    (libc::ENOMSG, Errno::ENOMSG),
    (libc::EIDRM, Errno::EIDRM),
    (libc::ECHRNG, Errno::ECHRNG),
    (libc::EL2NSYNC, Errno::EL2NSYNC),
    (libc::EL3HLT, Errno::EL3HLT),
    (libc::EL3RST, Errno::EL3RST),
    (libc::ELNRNG, Errno::ELNRNG),
    (libc::EUNATCH, Errno::EUNATCH),
    (libc::ENOCSI, Errno::ENOCSI),
    (libc::EL2HLT, Errno::EL2HLT),
    (libc::EBADE, Errno::EBADE),
    (libc::EBADR, Errno::EBADR),
    (libc::EXFULL, Errno::EXFULL),
    (libc::ENOANO, Errno::ENOANO),
    (libc::EBADRQC, Errno::EBADRQC),
    (libc::EBADSLT, Errno::EBADSLT),
    (libc::EBFONT, Errno::EBFONT),
    (libc::ENOSTR, Errno::ENOSTR),
    (libc::ENODATA, Errno::ENODATA),
    (libc::ETIME, Errno::ETIME),
    (libc::ENOSR, Errno::ENOSR),
    (libc::ENONET, Errno::ENONET),
    (libc::ENOPKG, Errno::ENOPKG),
    (libc::EREMOTE, Errno::EREMOTE),
    (libc::ENOLINK, Errno::ENOLINK),
    (libc::EADV, Errno::EADV),
    (libc::ESRMNT, Errno::ESRMNT),
    (libc::ECOMM, Errno::ECOMM),
    (libc::EPROTO, Errno::EPROTO),
    (libc::EMULTIHOP, Errno::EMULTIHOP),
    (libc::EDOTDOT, Errno::EDOTDOT),
    (libc::EBADMSG, Errno::EBADMSG),
    (libc::EOVERFLOW, Errno::EOVERFLOW),
    (libc::ENOTUNIQ, Errno::ENOTUNIQ),
    (libc::EBADFD, Errno::EBADFD),
    (libc::EREMCHG, Errno::EREMCHG),
    (libc::ELIBACC, Errno::ELIBACC),
    (libc::ELIBBAD, Errno::ELIBBAD),
    (libc::ELIBSCN, Errno::ELIBSCN),
    (libc::ELIBMAX, Errno::ELIBMAX),
    (libc::ELIBEXEC, Errno::ELIBEXEC),
    (libc::EILSEQ, Errno::EILSEQ),
    (libc::ERESTART, Errno::ERESTART),
    (libc::ESTRPIPE, Errno::ESTRPIPE),
    (libc::EUSERS, Errno::EUSERS),
    (libc::ENOTSOCK, Errno::ENOTSOCK),
    (libc::EDESTADDRREQ, Errno::EDESTADDRREQ),
    (libc::EMSGSIZE, Errno::EMSGSIZE),
    (libc::EPROTOTYPE, Errno::EPROTOTYPE),
    (libc::ENOPROTOOPT, Errno::ENOPROTOOPT),
    (libc::EPROTONOSUPPORT, Errno::EPROTONOSUPPORT),
    (libc::ESOCKTNOSUPPORT, Errno::ESOCKTNOSUPPORT),
    (libc::EOPNOTSUPP, Errno::EOPNOTSUPP),
    (libc::EPFNOSUPPORT, Errno::EPFNOSUPPORT),
    (libc::EAFNOSUPPORT, Errno::EAFNOSUPPORT),
    (libc::EADDRINUSE, Errno::EADDRINUSE),
    (libc::EADDRNOTAVAIL, Errno::EADDRNOTAVAIL),
    (libc::ENETDOWN, Errno::ENETDOWN),
    (libc::ENETUNREACH, Errno::ENETUNREACH),
    (libc::ENETRESET, Errno::ENETRESET),
    (libc::ECONNABORTED, Errno::ECONNABORTED),
    (libc::ECONNRESET, Errno::ECONNRESET),
    (libc::ENOBUFS, Errno::ENOBUFS),
    (libc::EISCONN, Errno::EISCONN),
    (libc::ENOTCONN, Errno::ENOTCONN),
    (libc::ESHUTDOWN, Errno::ESHUTDOWN),
    (libc::ETOOMANYREFS, Errno::ETOOMANYREFS),
    (libc::ETIMEDOUT, Errno::ETIMEDOUT),
    (libc::ECONNREFUSED, Errno::ECONNREFUSED),
    (libc::EHOSTDOWN, Errno::EHOSTDOWN),
    (libc::EHOSTUNREACH, Errno::EHOSTUNREACH),
    (libc::EALREADY, Errno::EALREADY),
    (libc::EINPROGRESS, Errno::EINPROGRESS),
    (libc::ESTALE, Errno::ESTALE),
    (libc::EUCLEAN, Errno::EUCLEAN),
    (libc::ENOTNAM, Errno::ENOTNAM),
    (libc::ENAVAIL, Errno::ENAVAIL),
    (libc::EISNAM, Errno::EISNAM),
    (libc::EREMOTEIO, Errno::EREMOTEIO),
    (libc::EDQUOT, Errno::EDQUOT),
    (libc::ENOMEDIUM, Errno::ENOMEDIUM),
    (libc::EMEDIUMTYPE, Errno::EMEDIUMTYPE),
    (libc::ECANCELED, Errno::ECANCELED),
    (libc::ENOKEY, Errno::ENOKEY),
    (libc::EKEYEXPIRED, Errno::EKEYEXPIRED),
    (libc::EKEYREVOKED, Errno::EKEYREVOKED),
    (libc::EKEYREJECTED, Errno::EKEYREJECTED),
    (libc::EOWNERDEAD, Errno::EOWNERDEAD),
    (libc::ENOTRECOVERABLE, Errno::ENOTRECOVERABLE),
    (libc::ERFKILL, Errno::ERFKILL),
    (libc::EHWPOISON, Errno::EHWPOISON),
    (libc::EWOULDBLOCK, Errno::EWOULDBLOCK),
    (libc::EDEADLOCK, Errno::EDEADLOCK),
    (libc::ENOTSUP, Errno::ENOTSUP),
];

#[test]
fn errnos_match_libc() {
    for &(raw, errno) in LIBC_ERRNOS {
        assert_eq!(errno.raw(), raw, "{errno:?}");
        assert_eq!(Errno::new(raw), errno);
    }
    // Every user-visible error we know is in the list above.
    for (errno, name) in Errno::all().filter(|(e, _)| e.raw() < 512) {
        assert!(
            LIBC_ERRNOS.iter().any(|&(_, e)| e == errno),
            "{name} not checked"
        );
    }
    assert_eq!(Errno::EHWPOISON.raw(), 133);
}

#[test]
fn every_known_errno_has_a_name_and_description() {
    for raw in (1..=133).filter(|&n| n != 41 && n != 58) {
        let errno = Errno::new(raw);
        let name = errno.name().unwrap_or_else(|| panic!("{raw} has no name"));
        assert_eq!(Errno::from_name(name), Some(errno));
        assert!(!errno.description().unwrap().is_empty());
    }
    assert_eq!(Errno::new(41).name(), None);
    assert_eq!(
        Errno::ENOENT.to_string(),
        "ENOENT (No such file or directory)"
    );
    assert_eq!(
        Errno::ENOENT.as_syscall_return(),
        (-libc::ENOENT as i64) as u64
    );
}
