#!/bin/sh
# Install the Debian bookworm packages xbar needs, only those missing.
set -eu
PKGS="build-essential cmake pkg-config clang libclang-rt-14-dev libngspice0-dev ngspice libgsl-dev libhdf5-dev hdf5-tools
libcmocka-dev libopenblas-dev zlib1g-dev libinih-dev libsuitesparse-dev gnuplot-nox
dataset-fashion-mnist python3 python3-h5py python3-numpy python3-scipy python3-torch valgrind libopenmpi-dev
openmpi-bin"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "installing:$missing"
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
fi
