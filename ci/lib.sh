# shellcheck shell=bash
# Helpers shared by ci/run and ci/vm-x86_64 (sourced; set PROG first for message prefixes).

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
