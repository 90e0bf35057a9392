# Sourced by the other scripts: which runtimes to build, and where their system libraries are.
#
# MOD_WASM_FEATURES: the runtimes built in, as space-separated cargo features of mod_wasm
# (default: all of them). WasmEdge is a system library: wasmedge-sys finds it through
# WASMEDGE_INCLUDE_DIR and WASMEDGE_LIB_DIR, which default to where Debian's libwasmedge-dev
# puts it.
MOD_WASM_FEATURES="${MOD_WASM_FEATURES:-wasmtime wasmer wasmedge}"
export MOD_WASM_FEATURES

if [[ " $MOD_WASM_FEATURES " == *" wasmedge "* ]]; then
  multiarch="$(gcc -print-multiarch 2>/dev/null || echo "$(uname -m)-linux-gnu")"
  export WASMEDGE_INCLUDE_DIR="${WASMEDGE_INCLUDE_DIR:-/usr/include}"
  export WASMEDGE_LIB_DIR="${WASMEDGE_LIB_DIR:-/usr/lib/$multiarch}"
fi
