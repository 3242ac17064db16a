#!/bin/sh
# Runs inside ci/vm-x86_64 (the emulated hardware-virtualization machine): each program runs
# natively and under `ringfence do --platform kvm` (the hardware backend there), and stdout
# and the exit status must match. Programs are in /extra (static, built by ci/run).
fail=0
check() {
  name=$1; shift
  # A hang fails the check in two minutes instead of the machine's timeout. A sandboxed run
  # that hangs is retried once, loudly: an intermittent hang of `threads` here is under
  # investigation (see the issue notes); a second hang fails.
  native=$(timeout 120 "$@" 2>/dev/null); native_rc=$?
  sandboxed=$(timeout 120 /bin/ringfence do --platform kvm --stats -- "$@" 2>/tmp/stderr); sandboxed_rc=$?
  if [ "$sandboxed_rc" = 124 ] || [ "$sandboxed_rc" = 143 ]; then
    echo "RETRY $name: the sandboxed run hung for 120 s"
    sandboxed=$(timeout 120 /bin/ringfence do --platform kvm --stats -- "$@" 2>/tmp/stderr); sandboxed_rc=$?
  fi
  if [ "$native" = "$sandboxed" ] && [ "$native_rc" = "$sandboxed_rc" ]; then
    echo "ok   $name (exit $native_rc) $(grep ringfence-stats /tmp/stderr | cut -d' ' -f2-6)"
  else
    echo "FAIL $name: native exit $native_rc, sandbox exit $sandboxed_rc"
    echo "--- native stdout"; echo "$native"
    echo "--- sandbox stdout"; echo "$sandboxed"
    echo "--- sandbox stderr"; cat /tmp/stderr
    fail=1
  fi
}
/bin/ringfence platform
echo "--- exit-per-trap mode"
check "static hello" /extra/hello world
check "fork + exec + wait" /extra/forkexec
check "threads" /extra/threads
check "busybox sh pipeline" /bin/busybox sh -c 'echo one two three | tr " " "\n" | sort -r | head -2; echo $((6*7))'
# Guest mode (opt-in) runs single-threaded programs that do not fork so far; fork and
# threads are the next step of issue #3.
echo "--- guest mode"
export RINGFENCE_KVM_GUEST_MODE=1
check "static hello" /extra/hello world
# 200,000 getpid calls in guest mode must take fewer than 2,100 VM exits (start-up included).
if [ -x /extra/bench ]; then
  /bin/ringfence do --platform kvm --stats -- /extra/bench getpid 200000 >/dev/null 2>/tmp/stderr
  rc=$?
  exits=$(grep -o 'vm_exits=[0-9]*' /tmp/stderr | cut -d= -f2)
  echo "guest mode: 200000 getpid -> exit $rc, vm_exits=$exits ($(grep -o 'mode=[a-z-]*' /tmp/stderr))"
  if [ "$rc" != 0 ] || [ -z "$exits" ] || [ "$exits" -ge 2100 ]; then
    echo "FAIL guest-mode getpid exits"; cat /tmp/stderr; fail=1
  fi
fi
unset RINGFENCE_KVM_GUEST_MODE
[ $fail = 0 ] && echo "vm-programs: all passed"
exit $fail
