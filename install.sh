#!/usr/bin/env bash
# devx installer — safe to pipe from curl:
#   curl -fsSL https://github.com/devx-dev/devx/releases/latest/download/install.sh | bash
#   curl -fsSL …/install.sh | bash -s -- --version 0.1.0 --dir ~/bin --modify-path
#
# Downloads devx-<os>-<arch>.tar.gz and checksums.txt from the release, verifies the archive's
# SHA-256 before unpacking anything, installs to ~/.local/bin (or --dir / DEVX_INSTALL_DIR). A
# terminal gets a progress bar. It never edits shell rc files unless --modify-path is given.
# Environment: DEVX_INSTALL_BASE_URL (a mirror laid out as <base>/latest/<file> and
# <base>/v<version>/<file>), DEVX_INSTALL_DIR, DEVX_VERSION.
set -euo pipefail

# Everything runs inside main, called on the last line: a truncated download runs nothing.
main() {
  local version="${DEVX_VERSION:-}" dir="${DEVX_INSTALL_DIR:-$HOME/.local/bin}" modify_path=0
  while [ $# -gt 0 ]; do
    case "$1" in
      --version) needs_value "$@"; version="$2"; shift 2 ;;
      --version=*) version="${1#*=}"; shift ;;
      --dir) needs_value "$@"; dir="$2"; shift 2 ;;
      --dir=*) dir="${1#*=}"; shift ;;
      --modify-path) modify_path=1; shift ;;
      -h|--help) usage; return 0 ;;
      *) die "unknown option $1" "run with --help" ;;
    esac
  done
  version="${version#v}"

  local os arch
  case "$(uname -s)" in
    Linux) os=linux ;;
    Darwin) os=darwin ;;
    *) die "unsupported OS $(uname -s)" "devx ships for Linux and macOS" ;;
  esac
  case "$(uname -m)" in
    x86_64|amd64) arch=x64 ;;
    aarch64|arm64) arch=arm64 ;;
    *) die "unsupported CPU $(uname -m)" "devx ships for x64 and arm64" ;;
  esac
  local file="devx-${os}-${arch}.tar.gz" url
  if [ -n "${DEVX_INSTALL_BASE_URL:-}" ]; then
    url="${DEVX_INSTALL_BASE_URL%/}/$([ -n "$version" ] && echo "v${version}" || echo latest)"
  elif [ -n "$version" ]; then
    url="https://github.com/devx-dev/devx/releases/download/v${version}"
  else
    url="https://github.com/devx-dev/devx/releases/latest/download"
  fi

  # Global, not local: the EXIT trap runs after main has returned.
  tmp="$(mktemp -d)"
  trap 'rm -rf "${tmp:-}"' EXIT
  say "downloading ${file}${version:+ v${version}} from ${url}"
  fetch "${url}/checksums.txt" "$tmp/checksums.txt" || die "cannot download ${url}/checksums.txt" "check the version and your network"
  fetch "${url}/${file}" "$tmp/${file}" progress || die "cannot download ${url}/${file}" "check the version and your network"

  local want got
  want="$(awk -v f="$file" '$2 == f || $2 == "*"f { print $1 }' "$tmp/checksums.txt")"
  [ -n "$want" ] || die "checksums.txt has no entry for ${file}" "the release is incomplete; try another version"
  got="$(sha256 "$tmp/${file}")"
  [ "$want" = "$got" ] || die "checksum mismatch for ${file} (expected ${want}, got ${got}); nothing was installed" "the download is corrupted or tampered with: retry, or report it"

  # only the one member, into a directory of its own; it must be a plain file
  mkdir "$tmp/unpacked"
  tar -xzf "$tmp/${file}" -C "$tmp/unpacked" devx 2>/dev/null || die "${file} does not hold a devx binary" "the release is broken; try another version"
  local bin="$tmp/unpacked/devx"
  if [ ! -f "$bin" ] || [ -L "$bin" ]; then die "${file} does not hold a devx binary" "the release is broken; try another version"; fi
  chmod +x "$bin"
  local reported
  reported="$("$bin" --version 2>/dev/null || true)"
  [ -n "$reported" ] || die "the downloaded binary does not run on this machine" "report your OS/CPU: $(uname -sm)"
  if [ -n "$version" ] && [ "$reported" != "devx ${version}" ]; then
    die "asked for ${version} but the binary says '${reported}'" "the release is mislabelled; try another version"
  fi

  mkdir -p "$dir"
  # Same-directory temp + rename: an interrupted install never leaves a half-written binary.
  cp "$bin" "$dir/.devx.tmp.$$"
  mv -f "$dir/.devx.tmp.$$" "$dir/devx"
  say "installed ${reported} to ${dir}/devx"

  case ":${PATH}:" in
    *":${dir}:"*) ;;
    *)
      local line="export PATH=\"${dir}:\$PATH\""
      if [ "$modify_path" = 1 ]; then
        local rc
        for rc in "$HOME/.bashrc" "$HOME/.zshrc"; do
          if [ -f "$rc" ] && ! grep -qF "$line" "$rc"; then printf '\n%s\n' "$line" >> "$rc"; say "added ${dir} to PATH in ${rc}"; fi
        done
      else
        say "add devx to your PATH:"
        printf '  %s\n' "$line"
      fi
      ;;
  esac
}

usage() {
  cat <<'USAGE'
Usage: install.sh [--version X.Y.Z] [--dir DIR] [--modify-path]
  --version X.Y.Z   install this version (default: latest)
  --dir DIR         install directory (default: ~/.local/bin, or DEVX_INSTALL_DIR)
  --modify-path     add DIR to PATH in ~/.bashrc and ~/.zshrc (otherwise only printed)
USAGE
}

say() { printf 'devx-install: %s\n' "$*" >&2; }
# a value that is missing, empty or another option is a mistake worth one clear line
needs_value() {
  if [ $# -lt 2 ] || [ -z "$2" ] || [ "${2#-}" != "$2" ]; then
    case "$1" in
      --dir) die "--dir needs a directory" "e.g. --dir \"\$HOME/bin\"; see --help" ;;
      *) die "$1 needs a value" "e.g. $1 0.1.0; see --help" ;;
    esac
  fi
}
die() { printf 'devx-install: error: %s\n  hint: %s\n' "$1" "$2" >&2; exit 1; }

# fetch URL FILE [progress]: a progress bar on a terminal for the big download, silence otherwise
fetch() {
  local bar=0
  [ "${3:-}" = progress ] && [ -t 2 ] && bar=1
  if command -v curl >/dev/null 2>&1; then
    if [ "$bar" = 1 ]; then curl -fL --retry 2 --progress-bar -o "$2" "$1"; else curl -fsSL --retry 2 -o "$2" "$1"; fi
  elif command -v wget >/dev/null 2>&1; then
    if [ "$bar" = 1 ]; then wget -q --show-progress -O "$2" "$1"; else wget -q -O "$2" "$1"; fi
  else die "neither curl nor wget is installed" "install curl"; fi
}

sha256() {
  if command -v sha256sum >/dev/null 2>&1; then sha256sum "$1" | awk '{print $1}'
  elif command -v shasum >/dev/null 2>&1; then shasum -a 256 "$1" | awk '{print $1}'
  else die "no sha256sum or shasum to verify the download" "install coreutils"; fi
}

main "$@"
