# Sourced by build/install-*.sh: apt_install <tag> <package>... installs Debian packages as root or through sudo,
# `apt-get update` first, waiting for package locks held by another apt-get (a parallel job) instead of failing.
# Returns 1 with the reason on standard error (no apt-get, not root and no sudo, or apt-get's own error).

apt_install() {
  local tag=$1
  shift
  if ! command -v apt-get > /dev/null 2>&1; then
    echo "$tag: this system has no apt-get; install $* with its package manager." >&2
    return 1
  fi
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    if ! command -v sudo > /dev/null 2>&1; then
      echo "$tag: as root run: apt-get update && apt-get install -y $*" >&2
      return 1
    fi
    sudo="sudo"
  fi
  echo "$tag: installing $*"
  if ! _apt_get_retrying "$sudo" update -q || ! _apt_get_retrying "$sudo" install -y -q --no-install-recommends "$@"; then
    echo "$tag: apt-get failed (above); install $* by hand" >&2
    return 1
  fi
}

# DPkg::Lock::Timeout covers the dpkg lock; the lists lock of `update` is retried here.
_apt_get_retrying() {
  local sudo=$1 log attempt
  shift
  log=$(mktemp)
  for attempt in $(seq 1 60); do
    if $sudo env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 "$@" > "$log" 2>&1; then
      rm -f "$log"
      return 0
    fi
    if grep -q 'Could not get lock' "$log"; then
      sleep 10
      continue
    fi
    break
  done
  cat "$log" >&2
  rm -f "$log"
  return 1
}
