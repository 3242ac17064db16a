#!/usr/bin/env bash
# Container start-to-exit time under podman and containerd, ringfence against Debian's runc,
# and the peak memory of an idle `sleep` container. Interleaved runs, medians.
#
#   cargo build --release -p ringfence && benches/engines/measure.sh [RUNS]
#
# Needs podman, containerd, runc and busybox-static (ci/run installs them). Everything lives
# in a temporary directory: podman and containerd get their own state there.
set -euo pipefail
runs=${1:-10}
here=$(cd "$(dirname "$0")/../.." && pwd)
rf=${RINGFENCE:-$here/target/release/ringfence}
runc=$(command -v runc)
[[ -x $rf ]] || { echo "build ringfence first: cargo build --release -p ringfence" >&2; exit 1; }
for p in podman containerd ctr "$runc" /bin/busybox; do
  command -v "$p" >/dev/null || { echo "missing: $p" >&2; exit 1; }
done
work=$(mktemp -d /var/tmp/rf-engines.XXXXXX)
runroot=/run/rf-bench-$$
ctd_pid=
cleanup() {
  [[ -n $ctd_pid ]] && kill "$ctd_pid" 2>/dev/null && wait "$ctd_pid" 2>/dev/null
  podman_ rm -af >/dev/null 2>&1 || true
  rm -rf "$work" "$runroot"
}
trap cleanup EXIT
podman_() {
  podman --root "$work/storage" --runroot "$runroot" --storage-driver=vfs \
    --cgroup-manager=cgroupfs --events-backend=file "$@"
}
image=localhost/rf-bench-busybox:latest
mkdir -p "$work/rootfs/bin" "$work/rootfs/etc" "$work/rootfs/tmp"
cp /bin/busybox "$work/rootfs/bin/"
for a in $(/bin/busybox --list); do [[ $a = busybox ]] || ln -s busybox "$work/rootfs/bin/$a"; done
tar -C "$work/rootfs" -cf "$work/rootfs.tar" .
podman_ import -q "$work/rootfs.tar" "$image" >/dev/null
podman_ save -q --format oci-archive -o "$work/image.tar" "$image"

cat > "$work/containerd.toml" <<TOML
version = 2
root = "$work/ctd-root"
state = "$work/ctd-state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$work/ctd.sock"
TOML
containerd --config "$work/containerd.toml" >"$work/containerd.log" 2>&1 &
ctd_pid=$!
ctr_() { ctr --address "$work/ctd.sock" "$@"; }
for _ in $(seq 100); do ctr_ version >/dev/null 2>&1 && break; sleep 0.1; done
ctr_ images import --snapshotter native "$work/image.tar" >/dev/null

now() { date +%s%N; }
podman_opts=(--network=none --ulimit nofile=1024:1024 --ulimit nproc=1024:1024)
declare -A samples
n=0
for i in $(seq "$runs"); do
  for rt in runc ringfence; do
    bin=$runc; [[ $rt = ringfence ]] && bin=$rf
    t0=$(now); podman_ --runtime "$bin" run --rm "${podman_opts[@]}" "$image" true; t1=$(now)
    samples[podman-$rt]+="$(( (t1 - t0) / 1000 )) "
    n=$((n + 1))
    t0=$(now); ctr_ run --rm --snapshotter native --runc-binary "$bin" "$image" "b$n" true; t1=$(now)
    samples[ctr-$rt]+="$(( (t1 - t0) / 1000 )) "
  done
done
median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.1f", m/1000}'; }

# Peak memory of an idle container: VmHWM of the sandbox's processes (ringfence: the sandbox
# process and its platform helpers; runc: the container's `sleep`), after a second of idling.
peak_kib() {
  local rt=$1 bin=$2 id pid total=0 p
  id=$(podman_ --runtime "$bin" run -d "${podman_opts[@]}" "$image" sleep 30)
  sleep 1.5
  pid=$(podman_ inspect --format '{{.State.Pid}}' "$id")
  for p in $pid $(pgrep -P "$pid" || true); do
    total=$((total + $(awk '/VmHWM/ {print $2}' "/proc/$p/status" 2>/dev/null || echo 0)))
  done
  podman_ --runtime "$bin" rm -f -t 0 "$id" >/dev/null
  echo "$total"
}
mem_runc=$(peak_kib runc "$runc")
mem_rf=$(peak_kib ringfence "$rf")

pr=$(median <<<"${samples[podman-runc]}"); pf=$(median <<<"${samples[podman-ringfence]}")
cr=$(median <<<"${samples[ctr-runc]}"); cf=$(median <<<"${samples[ctr-ringfence]}")
echo "| engine (median of $runs, ms) | runc | ringfence | ratio |"
echo "|---|---|---|---|"
awk -v a="$pr" -v b="$pf" 'BEGIN { printf "| `podman run --rm IMAGE true` | %.1f | %.1f | %.2f× |\n", a, b, b/a }'
awk -v a="$cr" -v b="$cf" 'BEGIN { printf "| `ctr run --rm IMAGE ID true` | %.1f | %.1f | %.2f× |\n", a, b, b/a }'
awk -v a="$mem_runc" -v b="$mem_rf" 'BEGIN { printf "| idle `sleep` peak RSS (VmHWM, MiB) | %.1f | %.1f | %.1f× |\n", a/1024, b/1024, b/a }'
