//! The `ringfence` binary end to end.

use std::process::Command;

fn ringfence(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_ringfence"))
        .args(args)
        .output()
        .expect("ringfence runs")
}

#[cfg(target_arch = "x86_64")]
fn have_kvm() -> bool {
    let present = std::path::Path::new("/dev/kvm").exists();
    if !present {
        eprintln!("skipping: /dev/kvm does not exist on this host");
    }
    present
}

#[test]
#[cfg(target_arch = "x86_64")]
fn check_runs_a_program_at_guest_ring_3() {
    if !have_kvm() {
        return;
    }
    let out = ringfence(&["check", "--syscalls", "500"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "status {:?}: {stderr}", out.status);
    // The program's own output, written through the sandbox.
    assert_eq!(stdout, "hello from guest ring 3\n");
    assert!(stderr.contains("500 syscalls at guest ring 3"), "{stderr}");
    assert!(
        stderr.contains("vm_exits=502"),
        "one exit per trap: {stderr}"
    );
}

#[test]
#[cfg(target_arch = "x86_64")]
fn platform_names_the_backend() {
    if !have_kvm() {
        return;
    }
    let out = ringfence(&["platform"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    let expected = if std::path::Path::new("/sys/module/kvm_pvm").exists() {
        "software backend"
    } else {
        "hardware backend"
    };
    assert!(
        stdout.starts_with("platform: kvm (") && stdout.contains(expected),
        "{stdout}"
    );
}

#[test]
fn bad_arguments_are_clear_errors() {
    let out = ringfence(&["check", "--backend", "quantum"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("unknown backend \"quantum\""), "{stderr}");
    let out = ringfence(&["frobnicate"]);
    assert_eq!(out.status.code(), Some(2), "clap's usage error");
}
