"""The set-up's front doors: a build without a Debian package names the package to install, and
tools/setup.sh refuses an unknown mode. (Fresh-machine times are measured by tools/fresh_times.sh,
not asserted here.)"""

import shutil
import subprocess

import pytest
from conftest import ROOT


@pytest.mark.skipif(shutil.which("cmake") is None, reason="no cmake on PATH")
def test_a_configure_without_debian_packages_names_them_all_in_one_error(tmp_path):
    # CMAKE_DISABLE_FIND_PACKAGE_<name> makes find_package fail as on a machine without the package.
    result = subprocess.run(
        [
            "cmake",
            "-S",
            str(ROOT),
            "-B",
            str(tmp_path / "build"),
            "-DCMAKE_DISABLE_FIND_PACKAGE_Eigen3=ON",
            "-DCMAKE_DISABLE_FIND_PACKAGE_yaml-cpp=ON",
            "-DCMAKE_DISABLE_FIND_PACKAGE_hwy=ON",
            "-DCMAKE_DISABLE_FIND_PACKAGE_GTest=ON",
            "-DLCSIM_BUILD_TESTS=ON",
            "-DLCSIM_BUILD_BENCHES=OFF",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "lcsim cannot be built: these libraries were not found" in result.stderr
    assert (
        "apt-get install -y libeigen3-dev libyaml-cpp-dev libhwy-dev libgtest-dev libgmock-dev"
        in result.stderr
    )
    # The packages that are present are not named.
    assert "libhdf5-dev" not in result.stderr and "libboost-dev" not in result.stderr


@pytest.mark.skipif(shutil.which("cmake") is None, reason="no cmake on PATH")
def test_a_configure_with_every_package_names_none(tmp_path):
    result = subprocess.run(
        [
            "cmake",
            "-S",
            str(ROOT),
            "-B",
            str(tmp_path / "build"),
            "-DLCSIM_BUILD_TESTS=OFF",
            "-DLCSIM_BUILD_BENCHES=OFF",
            "-DLCSIM_BUILD_CLI=ON",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "were not found" not in result.stderr


def test_setup_refuses_an_unknown_mode_and_lists_its_packages():
    result = subprocess.run(
        ["bash", str(ROOT / "tools/setup.sh"), "everything"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "usage: bash tools/setup.sh [run|test]" in result.stderr
    listed = subprocess.run(
        ["bash", str(ROOT / "tools/setup.sh"), "--print-packages"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert listed.returncode == 0
    packages = listed.stdout.split()
    # What the main job compiles with, and what only the tests add.
    assert {
        "libhdf5-dev",
        "libeigen3-dev",
        "libcli11-dev",
        "libnlopt-cxx-dev",
        "libhwy-dev",
    } <= set(packages)
    assert {
        "libgtest-dev",
        "libbenchmark-dev",
        "chromium",
        "chromium-driver",
        "clang-format-14",
    } <= set(packages)
