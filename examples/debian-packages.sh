# Debian packages for the examples that run Debian's PHP applications (DokuWiki, WordPress),
# unpacked under a prefix as apt would install them under /. Sourced by their unpack scripts.
#
#   debian_packages_download PACKAGE...   downloads each (once, into ~/.cache/mod_wasm/debs) and
#                                         prints the files, in the order given
#   debian_packages_unpack PREFIX FILE... unpacks them under PREFIX, in that order, and makes
#                                         their absolute links point into PREFIX

debian_packages_download() {
  local debs="${XDG_CACHE_HOME:-$HOME/.cache}/mod_wasm/debs" package version file
  mkdir -p "$debs"
  for package in "$@"; do
    version="$(apt-cache show --no-all-versions "$package" 2>/dev/null | sed -n 's/^Version: //p')"
    if [ -z "$version" ]; then
      echo "$0: apt does not know $package: run scripts/setup (it runs apt-get update)" >&2
      return 1
    fi
    file="$debs/${package}_${version//:/%3a}_all.deb"
    if [ ! -f "$file" ]; then
      # apt's download user cannot write to a home directory: this one is root's.
      (cd "$debs" && apt-get download -q "$package=$version" 2>&1 | grep -v unsandboxed >&2 || true)
      [ -f "$file" ] || { echo "$0: could not download $package $version" >&2; return 1; }
    fi
    echo "$file"
  done
}

debian_packages_unpack() {
  local prefix="$1" file link
  shift
  mkdir -p "$prefix"
  for file in "$@"; do
    dpkg-deb -x "$file" "$prefix"
  done
  # The packages' absolute links point into the prefix, as they would into /. (Those that
  # already do are from an earlier call.)
  if [ "$prefix" != / ]; then
    find "$prefix" -type l -lname '/*' ! -lname "$prefix/*" | while read -r link; do
      ln -sfn "$prefix$(readlink "$link")" "$link"
    done
  fi
}
