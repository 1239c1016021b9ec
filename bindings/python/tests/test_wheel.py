"""The Python package as its users get it: `pip wheel --no-build-isolation`
(offline, Debian's setuptools and wheel), the wheel installed into a scratch
venv made with `/usr/bin/python3 -m venv --system-site-packages` under the
system's temporary folder, and the extension used from there, outside the
repository.

    /usr/bin/python3 -m pytest -q -p no:cacheprovider bindings/python/tests
    (or `make python-package-test`; it compiles the extension once: a minute or two)

KEEP_SCRATCH=1 keeps the scratch folder.
"""
import json
import os
import pathlib
import re
import shutil
import subprocess
import sysconfig
import tempfile
import zipfile

import pytest

PACKAGE_DIR = pathlib.Path(__file__).resolve().parents[1]
REPO = PACKAGE_DIR.parents[1]
DEBIAN_PYTHON = "/usr/bin/python3"
VERSION = re.search(r'^version = "([^"]+)"', (PACKAGE_DIR / "pyproject.toml").read_text(), re.M).group(1)


def clean_env(**extra):
    """Nothing that points into this checkout or another Python."""
    env = {k: v for k, v in os.environ.items()
           if not re.match(r"(PYTHON|VIRTUAL_ENV$|WECARE_BACKUP_|MAKE|MFLAGS$|CXX$|CXXFLAGS$)", k)}
    env.update(extra)
    return env


def run(args, cwd, env=None):
    result = subprocess.run([str(a) for a in args], cwd=cwd, env=env or clean_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert result.returncode == 0, f"{' '.join(map(str, args))} failed in {cwd}:\n{result.stdout}"
    return result.stdout


@pytest.fixture(scope="module")
def scratch():
    path = pathlib.Path(tempfile.mkdtemp(prefix="wecare-backup-py-")).resolve()
    assert REPO not in path.parents, "the scratch folder must be outside the checkout"
    yield path
    if os.environ.get("KEEP_SCRATCH") != "1":
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def wheel(scratch):
    run([DEBIAN_PYTHON, "-m", "pip", "wheel", "--no-build-isolation", "--no-index", "--no-deps",
         "-w", scratch / "wheels", "."], cwd=PACKAGE_DIR)
    (found,) = (scratch / "wheels").glob("*.whl")
    return found


@pytest.fixture(scope="module")
def venv(scratch, wheel):
    venv = scratch / "venv"
    run([DEBIAN_PYTHON, "-m", "venv", "--system-site-packages", venv], cwd=scratch)
    run([venv / "bin" / "python", "-m", "pip", "install", "--no-index", "--no-deps", wheel], cwd=scratch)
    return venv


def site_packages(venv):
    out = run([venv / "bin" / "python", "-c", "import sysconfig; print(sysconfig.get_path('platlib'))"], cwd=venv)
    return pathlib.Path(out.strip())


def test_the_wheel_carries_the_module_and_the_library_for_this_platform(wheel):
    platform = sysconfig.get_platform().replace("-", "_").replace(".", "_")
    assert wheel.name == f"wecare_backup-{VERSION}-py3-none-{platform}.whl"
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        wheel_meta = zf.read(f"wecare_backup-{VERSION}.dist-info/WHEEL").decode()
    assert {"wecare_backup/__init__.py", "wecare_backup/py.typed", "wecare_backup/wecare_backup.so"} <= names
    assert "Root-Is-Purelib: false" in wheel_meta


def test_from_a_scratch_venv_load_then_create_list_verify_and_restore(scratch, venv):
    work = scratch / "work"
    work.mkdir()
    shutil.copy(pathlib.Path(__file__).with_name("roundtrip.py"), work)
    seen = json.loads(run([venv / "bin" / "python", "roundtrip.py", work], cwd=work).strip().splitlines()[-1])

    installed = site_packages(venv) / "wecare_backup"
    assert seen["module"] == str(installed / "__init__.py")
    assert seen["loadable_path"] == str(installed / "wecare_backup.so")
    assert REPO not in pathlib.Path(seen["loadable_path"]).parents
    assert seen["version"] == VERSION, "pyproject.toml's version = wecare_backup_version()"
    name = seen["name"]
    assert re.fullmatch(r"clinic_backup_\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d\.db", name)
    assert seen["list"] == [[name, "manual", "from the wheel", 1]]
    assert seen["verify_ok"] is True
    assert seen["restore"]["restored"] == name
    assert seen["restore"]["safety_backup"].startswith("clinic_safety_")
    assert seen["rows_after_restore"] == 3, "the rows deleted after the backup are back"
    assert seen["loading_off"] is True, "load() switches extension loading off again"


NO_LOADING = re.compile(
    r"wecare_backup\.load: the sqlite3 module of this Python \(.+\) cannot load extensions: "
    r"it was built without --enable-loadable-sqlite-extensions .*Use Debian's python3 \(/usr/bin/python3\)"
)


def test_a_connection_without_extension_loading_gets_a_clear_error(scratch, venv):
    script = (
        "import wecare_backup\n"
        "class Connection: pass  # a sqlite3 built without extension loading has no enable_load_extension\n"
        "try:\n"
        "    wecare_backup.load(Connection())\n"
        "except wecare_backup.ExtensionLoadingUnavailable as err:\n"
        "    print(err)\n"
    )
    out = run([venv / "bin" / "python", "-c", script], cwd=scratch)
    assert NO_LOADING.search(out), out


def pythons_without_extension_loading():
    candidates = [shutil.which("python3", path=os.environ.get("PATH", ""))]
    candidates += sorted(str(p) for p in pathlib.Path.home().glob(".pyenv/versions/3.*/bin/python3"))
    for python in filter(None, candidates):
        probe = subprocess.run(
            [python, "-c", "import sqlite3, sys; sys.exit(hasattr(sqlite3.Connection, 'enable_load_extension'))"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=clean_env())
        if probe.returncode == 0:
            return python
    return None


def test_a_python_built_without_extension_loading_gets_the_same_error(scratch, venv):
    python = pythons_without_extension_loading()
    if python is None:
        pytest.skip("no Python on this machine lacks extension loading (pyenv's usually do)")
    script = (
        "import sqlite3, wecare_backup\n"
        "try:\n"
        "    wecare_backup.load(sqlite3.connect(':memory:'))\n"
        "except wecare_backup.ExtensionLoadingUnavailable as err:\n"
        "    print(err)\n"
    )
    out = run([python, "-c", script], cwd=scratch, env=clean_env(PYTHONPATH=str(site_packages(venv))))
    assert NO_LOADING.search(out), out
