#!/usr/bin/env bash
# Builds the device bundle (../shared/device/bundle) with what the GPU tests need beside it: the test
# classes of kernels and trainer as jars and the JUnit console launcher, all on .device/lib's class
# path (package-private test access works there; --class-path would load them in another loader).
# Leaves the bundle in the folder given (default .device-main; an absolute path puts it elsewhere, e.g.
# into the main checkout that the device tool carries from); it must stay under 64 MiB. Works in a
# git worktree too (whose .git is a file, so the shared script's info/exclude step is skipped there:
# .gitignore already ignores /.device/).
#   tools/device/bundle-tests.sh [.device-main]
set -euo pipefail
target=${1:-.device-main}
root=$(git rev-parse --show-toplevel)
cd "$root"
# .device/ is shared by everyone bundling in this tree: hold the lock until the copy is made.
exec 9>/tmp/mobaspark-bundle.lock
flock 9
if [ -d .git ]; then
  ../shared/device/bundle -pl kernels,trainer -am
else
  # From a file, not a pipe: the script's mvn would read the rest of a piped script as its stdin.
  script=$(mktemp)
  sed '/info\/exclude/d' ../shared/device/bundle > "$script"
  bash "$script" -pl kernels,trainer -am < /dev/null
  rm -f "$script"
fi
mvn -q -B -o test-compile -pl kernels,trainer
jar cf .device/lib/zz-kernels-tests.jar -C kernels/target/test-classes .
jar cf .device/lib/zz-trainer-tests.jar -C trainer/target/test-classes .
console=org.junit.platform:junit-platform-console-standalone:1.14.4
mvn -q -B dependency:copy -Dartifact=$console -DoutputDirectory=.device/lib
# Spark-side jars have no use there; the RAPIDS jar (fetched into jobs/target by a jobs build) alone
# is over 500 MB, far beyond what a device run carries.
rm -f .device/lib/mobaspark-jobs*.jar .device/lib/rapids-4-spark*.jar
rm -rf "$target" && cp -r .device "$target"
# The MoBA harness (issue 3's lab; training-bench.sh's `moba` part), compiled here for the H100/H200.
if command -v nvcc > /dev/null; then
  nvcc -O3 -std=c++17 -lineinfo -gencode=arch=compute_90a,code=sm_90a -Ikernels/src/main/cuda \
    -o "$target/moba_harness" kernels/src/lab/cuda/moba_harness.cu
fi
du -sh "$target"
