# shellcheck shell=bash
# Helpers shared by ci/run, ci/vm-x86_64 and ci/vm-aarch64 (sourced; set PROG first for message
# prefixes).

msg() { printf '%s: %s\n' "${PROG:-ci}" "$*" >&2; }
die() { printf '%s: ERROR: %s\n' "${PROG:-ci}" "$*" >&2; exit 1; }

as_root() {
  if [[ $EUID -eq 0 ]]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else die "need root (or sudo) to run: $*"
  fi
}

# At most once per run, and only when something must be installed or looked up.
APT_UPDATED=0
apt_update() {
  [[ $APT_UPDATED = 1 ]] && return 0
  msg "apt-get update"
  as_root apt-get update -q >&2 || die "apt-get update failed"
  APT_UPDATED=1
}

# apt_need PACKAGE... — installs those of the packages that are not installed yet.
apt_need() {
  local p missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
  done
  [[ ${#missing[@]} -eq 0 ]] && return 0
  apt_update
  msg "installing ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends "${missing[@]}" >&2 \
    || die "apt-get install ${missing[*]} failed"
}

# apt_add_arch ARCH — lets apt see ARCH's packages (for `apt-get download PKG:ARCH`; nothing of
# ARCH is installed). If the architecture is new, the next apt_update runs again even if one ran
# earlier in this run, because the lists of ARCH are only fetched then.
apt_add_arch() {
  [[ $(dpkg --print-architecture) = "$1" ]] && return 0
  dpkg --print-foreign-architectures | grep -qx "$1" && return 0
  msg "dpkg --add-architecture $1"
  as_root dpkg --add-architecture "$1" || die "dpkg --add-architecture $1 failed"
  APT_UPDATED=0
}

# deb_candidate PKG[:ARCH] — prints the version apt would download, or nothing if apt knows none.
deb_candidate() {
  apt-cache show --no-all-versions "$1" 2>/dev/null | sed -n 's/^Version: //p' | head -n 1
}

# deb_unpack_cached PKG[:ARCH] DIR — downloads the candidate version of PKG and unpacks it
# (dpkg -x) into DIR/<name>_<version> unless that is already there; prints that directory.
# Other versions of PKG in DIR are deleted. Not locked: serialize callers with flock.
deb_unpack_cached() {
  local pkg=$1 dir=$2 name=${1%%:*} ver dest tmp
  ver=$(deb_candidate "$pkg")
  if [[ -z $ver ]]; then
    apt_update # a fresh machine, or a newly added architecture, has no package lists yet
    ver=$(deb_candidate "$pkg")
  fi
  [[ -n $ver ]] || die "apt knows no package $pkg (even after apt-get update)"
  dest=$dir/${name}_${ver//:/_} # no ':' (epochs) in paths
  if [[ ! -e $dest/.complete ]]; then
    msg "fetching $pkg $ver"
    mkdir -p "$dir"
    tmp=$(mktemp -d "$dir/.unpack.XXXXXX")
    # The sandbox user _apt cannot write into our private temp dir; downloading as root is fine.
    if ! (cd "$tmp" && apt-get download -q -o APT::Sandbox::User=root "$pkg=$ver" >&2); then
      apt_update # stale package lists name a version the mirror no longer has
      ver=$(deb_candidate "$pkg")
      dest=$dir/${name}_${ver//:/_}
      (cd "$tmp" && apt-get download -q -o APT::Sandbox::User=root "$pkg=$ver" >&2) \
        || die "apt-get download $pkg failed"
    fi
    dpkg -x "$tmp"/*.deb "$tmp/root" || die "dpkg -x of $pkg failed"
    rm -rf "$dest"
    mv "$tmp/root" "$dest"
    rm -rf "$tmp"
    touch "$dest/.complete"
    find "$dir" -mindepth 1 -maxdepth 1 -type d -name "${name}_*" ! -path "$dest" -exec rm -rf {} +
  fi
  printf '%s\n' "$dest"
}

# Single-quotes $1 for a POSIX shell.
shquote() { printf "'%s'" "${1//\'/\'\\\'\'}"; }

# vm_manifest METADATA TEST_JSON BUILD_JSON — from the JSON of `cargo metadata`,
# `cargo test --no-run` and `cargo build -p ringfence`, prints "<path in initramfs><TAB><host
# path>" lines: tests/<crate with _>-<target> per test executable (plus -<kind> where a lib and a
# bin of one crate share a name), and bin/ringfence.
vm_manifest() {
  python3 - "$@" <<'EOF'
import json, sys
meta = json.load(open(sys.argv[1]))
name_of = {p["manifest_path"]: p["name"] for p in meta["packages"]}

def artifacts(path):
    for line in open(path):
        m = json.loads(line)
        if m.get("reason") == "compiler-artifact" and m.get("executable"):
            yield m

tests = []  # (name, kind, executable)
for m in artifacts(sys.argv[2]):
    if not m["profile"]["test"]:
        continue  # examples are built by `cargo test` but are not tests
    crate = name_of[m["manifest_path"]].replace("-", "_")
    tests.append((f'{crate}-{m["target"]["name"]}', m["target"]["kind"][0], m["executable"]))
names = [t[0] for t in tests]
seen = set()
for name, kind, exe in sorted(set(tests)):
    # A lib and a bin of one crate may share a name: only then add the kind to keep names unique.
    if names.count(name) > 1:
        name = f"{name}-{kind}"
    if name in seen:
        sys.exit(f"duplicate test binary name {name}")
    seen.add(name)
    print(f"tests/{name}\t{exe}")

rf = [m["executable"] for m in artifacts(sys.argv[3])
      if m["target"]["name"] == "ringfence" and "bin" in m["target"]["kind"]]
if not rf:
    sys.exit("cargo build -p ringfence produced no ringfence executable")
print(f"bin/ringfence\t{rf[0]}")
EOF
}
