"""wecare_backup: the wecare_backup SQLite extension (consistent, verified
online backups, rotation, restore and a scheduler, as SQL functions), ready to
load into Python's sqlite3.

    import sqlite3
    import wecare_backup

    conn = sqlite3.connect("clinic.db", isolation_level=None)
    wecare_backup.load(conn)
    name = conn.execute("SELECT wecare_backup_create()").fetchone()[0]

loadable_path() is the library's absolute path, for other drivers (apsw, or
the sqlite3 shell's .load).

Loading needs a sqlite3 module built with extension loading. Debian's python3
(/usr/bin/python3) has it; some other builds do not (pyenv's, by default):
their connections have no enable_load_extension, and load() says so.
"""
import os
import sqlite3
import sys

__all__ = ["ExtensionLoadingUnavailable", "load", "loadable_path"]

_LIBRARY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "wecare_backup.so")


class ExtensionLoadingUnavailable(RuntimeError):
    """This Python's sqlite3 module was built without extension loading."""


def loadable_path() -> str:
    """The absolute path of the extension library this package carries."""
    if not os.path.isfile(_LIBRARY):
        raise FileNotFoundError(
            f"wecare_backup: {_LIBRARY} is missing: this copy of the package was not built "
            "(install the wheel, built with pip wheel --no-build-isolation bindings/python)"
        )
    return _LIBRARY


def load(conn: "sqlite3.Connection") -> None:
    """Loads the extension into conn: enables extension loading, loads the
    library, and disables loading again, so SQL can never load a library itself.

    Raises ExtensionLoadingUnavailable when this Python's sqlite3 cannot load
    extensions at all.
    """
    if not hasattr(conn, "enable_load_extension"):
        raise ExtensionLoadingUnavailable(
            f"wecare_backup.load: the sqlite3 module of this Python ({sys.executable}) cannot load extensions: "
            "it was built without --enable-loadable-sqlite-extensions (pyenv's builds are, by default). "
            "Use Debian's python3 (/usr/bin/python3), which can, or a Python built with "
            "./configure --enable-loadable-sqlite-extensions "
            "(pyenv: PYTHON_CONFIGURE_OPTS=--enable-loadable-sqlite-extensions pyenv install <version>)"
        )
    conn.enable_load_extension(True)
    try:
        conn.load_extension(loadable_path())
    finally:
        conn.enable_load_extension(False)
