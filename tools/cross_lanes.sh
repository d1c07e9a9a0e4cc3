#!/usr/bin/env bash
# The vector lanes on Arm (issue 35): builds tests/cross/lanes_check.cpp with the engine and the
# model for aarch64, once with Highway's NEON target and once with its scalar fallback (one target
# each, static dispatch: no libhwy for aarch64 is needed), runs both under qemu-aarch64, and checks
# that each gives the scalar engine's results bit for bit and prints the same results as the x86-64
# build of the same program. Needs: apt-get install g++-aarch64-linux-gnu qemu-user (not installed
# by tools/setup.sh: this check is not part of tools/test.sh), and build/ from tools/setup.sh (for
# the x86-64 libraries and the generated version header). About 2 minutes on the 2-core VM.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
for tool in aarch64-linux-gnu-g++ qemu-aarch64; do
  command -v "$tool" >/dev/null ||
    { echo "cross_lanes.sh: $tool is missing: apt-get install g++-aarch64-linux-gnu qemu-user" >&2; exit 2; }
done
[[ -f build/generated/lcsim/core/version.hpp && -f build/liblcsim_engine.a ]] ||
  { echo "cross_lanes.sh: build/ has no lcsim build yet: bash tools/setup.sh test" >&2; exit 2; }
out=build-cross
mkdir -p "$out"
flags=(-std=gnu++20 -O2 -DNDEBUG -Iinclude -Isrc -Ibuild/generated -isystem /usr/include/eigen3 -DBOOST_ALL_NO_LIB)
# The engine as CMakeLists.txt builds it (no FMA contraction); the model with the compiler's defaults.
build() {  # build DIR HIGHWAY-DEFINE
  local dir="$out/$1" define=$2
  mkdir -p "$dir"
  for f in core/error core/format core/input_file model/alias_table model/coxian model/dwell model/schedule model/compile; do
    [[ -f $out/$(basename $f).o ]] || aarch64-linux-gnu-g++ "${flags[@]}" -c "src/$f.cpp" -o "$out/$(basename $f).o"
  done
  for f in src/engine/engine.cpp src/engine/replication_result.cpp src/engine/plain_lanes.cpp tests/cross/lanes_check.cpp; do
    aarch64-linux-gnu-g++ "${flags[@]}" -ffp-contract=off "$define" -c "$f" -o "$dir/$(basename "$f" .cpp).o"
  done
  aarch64-linux-gnu-g++ -static -o "$dir/lanes_check" "$out"/*.o "$dir"/*.o
}
echo "== aarch64: NEON, then the scalar fallback (qemu-aarch64)" >&2
build neon -DHWY_COMPILE_ONLY_STATIC
build scalar -DHWY_COMPILE_ONLY_SCALAR
g++ -std=gnu++20 -O2 -ffp-contract=off -Iinclude -Ibuild/generated tests/cross/lanes_check.cpp -o "$out/lanes_check_x86" \
  build/liblcsim_engine.a build/liblcsim_model.a -lhwy
status=0
qemu-aarch64 "$out/neon/lanes_check" | tee "$out/neon.txt" || status=1
qemu-aarch64 "$out/scalar/lanes_check" | tee "$out/scalar.txt" || status=1
"$out/lanes_check_x86" | tee "$out/x86.txt" || status=1
for arm in neon scalar; do
  if diff <(tail -n +2 "$out/x86.txt") <(tail -n +2 "$out/$arm.txt") >/dev/null; then
    echo "aarch64 $arm prints the same results as x86-64 ($(head -1 "$out/x86.txt"))"
  else
    echo "aarch64 $arm prints other results than x86-64" >&2
    status=1
  fi
done
exit $status
