"""Builds the wheel: the module wecare_backup/ and, beside it, the extension
library wecare_backup.so, built by scripts/build-library.sh from the sources
that scripts/stage-sources.sh copies out of this checkout (the repository's
Makefile, build.def and ext/: the same sources and flags as `make`).

    pip wheel --no-build-isolation .      (offline, Debian's python3-setuptools and python3-wheel)

The wheel is tagged py3-none-<platform>: the library is not a Python extension
module, so any Python 3 on that platform can use it; it is not tagged
manylinux, since it links the system's libcurl, libzstd, libsodium and expat.
It builds from a checkout only (there is no sdist).
"""
import pathlib
import subprocess
import sys

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

try:
    from setuptools.command.bdist_wheel import bdist_wheel  # setuptools 70.1 and later
except ImportError:
    from wheel.bdist_wheel import bdist_wheel  # Debian 12: python3-wheel

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent


def fail(message):
    raise SystemExit(f"wecare_backup: {message}")


class BuildPyWithLibrary(build_py):
    """The module, then the library into the same package folder."""

    def run(self):
        super().run()
        if not sys.platform.startswith("linux"):
            fail(f"the extension runs on Linux only (it uses Linux system calls); this is {sys.platform}")
        stage = ROOT / "scripts" / "stage-sources.sh"
        if not (ROOT / "build.def").is_file() or not stage.is_file():
            fail(f"{HERE} is not bindings/python of a checkout of the repository: the wheel builds from one")
        native = pathlib.Path(self.get_finalized_command("build").build_temp).resolve() / "native"
        out = pathlib.Path(self.build_lib).resolve() / "wecare_backup" / "wecare_backup.so"
        subprocess.run(["sh", str(stage), str(native)], check=True)
        if subprocess.run(["sh", str(native / "scripts" / "build-library.sh"), str(out)]).returncode != 0:
            fail("building the extension failed (see above)")


class BinaryDistribution(Distribution):
    """It carries a compiled library: install it as platform-specific."""

    def has_ext_modules(self):
        return True


class PlatformWheel(bdist_wheel):
    def get_tag(self):
        platform = super().get_tag()[2]
        return "py3", "none", platform


setup(
    distclass=BinaryDistribution,
    cmdclass={"build_py": BuildPyWithLibrary, "bdist_wheel": PlatformWheel},
)
