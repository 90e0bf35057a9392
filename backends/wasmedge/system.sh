# What building the WasmEdge backend needs from the system. scripts/env.sh sources this when
# the runtimes selected include this backend.
#
# WasmEdge is a system library: wasmedge-sys binds the C API of WasmEdge 0.14 or later, and
# finds its headers and library through WASMEDGE_INCLUDE_DIR and WASMEDGE_LIB_DIR. Debian 13
# packages it as libwasmedge-dev; Debian 12 has none, and scripts/setup takes it from Debian 13.
system_packages+=(libwasmedge-dev)
multiarch="$(gcc -print-multiarch 2>/dev/null || echo "$(uname -m)-linux-gnu")"
export WASMEDGE_INCLUDE_DIR="${WASMEDGE_INCLUDE_DIR:-/usr/include}"
export WASMEDGE_LIB_DIR="${WASMEDGE_LIB_DIR:-/usr/lib/$multiarch}"
