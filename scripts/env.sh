# Sourced by the other scripts: which runtimes to build in, and what their backends need from
# the system. Knows no runtime by name: the list is runtimes/ (builtin-runtimes).
#
# MOD_WASM_FEATURES: the runtimes to build in, as space-separated cargo features of
# builtin-runtimes (see runtimes/Cargo.toml). Unset: its default features. Set but empty: none.
#
# cargo_runtimes: the cargo arguments that select them, for `cargo build -p mod_wasm`,
# `cargo test --workspace` and the like.
cargo_runtimes=()
if [ -n "${MOD_WASM_FEATURES+set}" ]; then
  cargo_runtimes+=(--no-default-features)
  selected=""
  for feature in $MOD_WASM_FEATURES; do
    selected+="${selected:+,}builtin-runtimes/$feature"
  done
  [ -z "$selected" ] || cargo_runtimes+=(--features "$selected")
fi

# select_backends: sets backend_dirs to the backend crates (backends/*) the selection builds
# in, as cargo resolves it, and sources each one's system.sh if it has one. A backend's
# system.sh adds to system_packages the Debian packages its build needs (scripts/setup
# installs them) and exports what its build reads from the environment. Needs cargo.
system_packages=()
backend_dirs=()
select_backends() {
  local dir
  system_packages=()
  backend_dirs=()
  while read -r dir; do
    backend_dirs+=("$dir")
    if [ -f "$dir/system.sh" ]; then
      # shellcheck source=/dev/null
      source "$dir/system.sh"
    fi
  done < <(cargo tree --quiet -p builtin-runtimes "${cargo_runtimes[@]}" -e normal --depth 1 \
             --prefix none --format '{p}' | grep -o "($PWD/backends/[^)]*)" | tr -d '()' | sort -u)
}
