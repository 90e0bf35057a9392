# Sourced by the scripts that build Python components (wsgi/build, python-service/build):
# componentize-py from PyPI, pinned, installed once under the cache; and the WIT of the WASI
# interfaces as the wasmtime this project links serves them, which ships in its
# wasmtime-wasi-http crate.
#
#   componentize_py_install         installs it once into ~/.cache/mod_wasm, shared by the scripts
#   wasmtime_wit SUBDIR             prints the crate's WIT directory SUBDIR (wit for WASI 0.2,
#                                   src/p3/wit for WASI 0.3)

componentize_py=0.25.1

componentize_py_tool="${XDG_CACHE_HOME:-$HOME/.cache}/mod_wasm/componentize-py-$componentize_py"

componentize_py_install() {
  if [ ! -f "$componentize_py_tool/.installed" ]; then
    echo "componentize-py: installing $componentize_py with pip" >&2
    rm -rf "$componentize_py_tool"
    /usr/bin/python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
      --target "$componentize_py_tool" "componentize-py==$componentize_py" >&2
    touch "$componentize_py_tool/.installed"
  fi
}

# Runs the installed componentize-py with the arguments given.
componentize_py_run() {
  PYTHONPATH="$componentize_py_tool" "$componentize_py_tool/bin/componentize-py" "$@"
}

wasmtime_wit() {
  local root dir
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  dir="$(
    cd "$root" && cargo metadata --format-version 1 --locked 2>/dev/null | /usr/bin/python3 -c '
import json, os, sys
for package in json.load(sys.stdin)["packages"]:
    if package["name"] == "wasmtime-wasi-http":
        print(os.path.dirname(package["manifest_path"]))
        break
'
  )/$1"
  [ -d "$dir" ] || { echo "cannot find wasmtime-wasi-http's WIT ($1) through cargo metadata" >&2; return 1; }
  echo "$dir"
}
