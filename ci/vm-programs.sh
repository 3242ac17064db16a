#!/bin/sh
# Runs inside ci/vm-x86_64 and ci/vm-aarch64 (the emulated hardware-virtualization machines):
# each program runs natively and under `ringfence do --platform kvm` (the hardware backend
# there) in each of the KVM platform's modes the machine has, and stdout and the exit status
# must match. Programs are in /extra (static, built by ci/run); a fixture that is not there is
# skipped. RF_MODES lists the modes (default: guest exit-per-trap).
fail=0
MODES=${RF_MODES:-guest exit-per-trap}
check() {
  name=$1; shift
  # A hang fails the check in two minutes instead of the machine's timeout. A sandboxed run
  # that hangs is retried once, loudly (a rare hang of the emulated machine was seen in CI);
  # a second hang fails.
  native=$(timeout 120 "$@" 2>/dev/null); native_rc=$?
  started=$(cut -d. -f1 /proc/uptime)
  sandboxed=$(timeout 120 /bin/ringfence do --platform kvm --stats -- "$@" 2>/tmp/stderr); sandboxed_rc=$?
  # (busybox's timeout reports a kill as 143, which a program may also exit with itself.)
  if [ $(($(cut -d. -f1 /proc/uptime) - started)) -ge 119 ]; then
    echo "RETRY $name: the sandboxed run hung for 120 s"
    sandboxed=$(timeout 120 /bin/ringfence do --platform kvm --stats -- "$@" 2>/tmp/stderr); sandboxed_rc=$?
  fi
  if [ "$native" = "$sandboxed" ] && [ "$native_rc" = "$sandboxed_rc" ]; then
    echo "ok   $name (exit $native_rc) $(grep ringfence-stats /tmp/stderr | cut -d' ' -f2-8)"
  else
    echo "FAIL $name: native exit $native_rc, sandbox exit $sandboxed_rc"
    echo "--- native stdout"; echo "$native"
    echo "--- sandbox stdout"; echo "$sandboxed"
    echo "--- sandbox stderr"; cat /tmp/stderr
    fail=1
  fi
}
# 200,000 getpid calls: VM exits in the mode given, checked against a bound.
count_exits() {
  mode=$1; bound=$2
  [ -x /extra/bench ] || return 0
  RINGFENCE_KVM_MODE=$mode /bin/ringfence do --platform kvm --stats -- /extra/bench getpid 200000 >/dev/null 2>/tmp/stderr
  rc=$?
  exits=$(grep -o 'vm_exits=[0-9]*' /tmp/stderr | cut -d= -f2)
  echo "$mode: 200000 getpid -> exit $rc, vm_exits=$exits ($(grep -o 'mode=[a-z-]*' /tmp/stderr))"
  if [ "$rc" != 0 ] || [ -z "$exits" ] || ! grep -q "mode=$mode" /tmp/stderr || [ "$exits" -lt "$3" ] || [ "$exits" -ge "$bound" ]; then
    echo "FAIL $mode getpid exits (expected $3 <= vm_exits < $bound)"; cat /tmp/stderr; fail=1
  fi
}
/bin/ringfence platform
for mode in $MODES; do
  echo "--- $mode mode"
  export RINGFENCE_KVM_MODE=$mode
  check "static hello" /extra/hello world
  check "fork + exec + wait" /extra/forkexec
  check "threads" /extra/threads
  check "busybox sh pipeline" /bin/busybox sh -c 'echo one two three | tr " " "\n" | sort -r | head -2; echo $((6*7))'
  for f in args memory signals pipes files ids sharedmap fpregs; do
    [ -x /extra/$f ] && check "$f" /extra/$f one "two words"
  done
done
unset RINGFENCE_KVM_MODE
# Guest mode must take fewer than 2,100 VM exits for them (start-up included); exit-per-trap
# takes about one per syscall.
case " $MODES " in *" guest "*) count_exits guest 2100 0 ;; esac
count_exits exit-per-trap 1000000 200000
# What an application syscall costs against the machine's own getpid (a ratio: times under
# emulation mean nothing alone). Each side is timed at two counts, so start-up cancels out.
# (busybox's date has no %N: /proc/uptime's centiseconds, with counts that take seconds.)
centis() { cut -d' ' -f1 /proc/uptime | tr -d .; }
per_call() { # PROGRAM-PREFIX... : nanoseconds per getpid from runs of $SMALL and $LARGE calls
  t0=$(centis); "$@" /extra/bench getpid "$SMALL" >/dev/null 2>&1; t1=$(centis)
  "$@" /extra/bench getpid "$LARGE" >/dev/null 2>&1; t2=$(centis)
  echo $(( ((t2 - t1) - (t1 - t0)) * 10000000 / (LARGE - SMALL) ))
}
if [ -x /extra/bench ]; then
  SMALL=1000; LARGE=1001000
  native_ns=$(per_call env)
  SMALL=1000; LARGE=21000
  for mode in $MODES; do
    sandbox_ns=$(RINGFENCE_KVM_MODE=$mode per_call /bin/ringfence do --platform kvm --)
    echo "getpid round trip ($mode): native ${native_ns} ns, sandbox ${sandbox_ns} ns, ratio $(( sandbox_ns / (native_ns > 0 ? native_ns : 1) ))x (emulated machine)"
  done
fi
[ $fail = 0 ] && echo "vm-programs: all passed"
exit $fail
