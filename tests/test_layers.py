"""The layout shows the architecture: each folder of ext/ is a layer, and a file
includes only headers of its own folder or of the layers below it, with no
include cycle. (README "How it works" has the map.)"""
import pathlib
import re

from conftest import ROOT

EXT = ROOT / "ext"
# Lower rank = lower layer. engine/ and offsite/ are siblings: neither includes the other.
RANK = {"common": 0, "policy": 1, "store": 2, "engine": 3, "offsite": 3, "command": 4, "sql": 5, ".": 6}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def sources():
    return sorted(p for p in EXT.rglob("*") if p.suffix in (".cpp", ".hpp"))


def layer_of(path):
    rel = path.relative_to(EXT)
    return rel.parts[0] if len(rel.parts) > 1 else "."


def includes(path):
    return [m for m in INCLUDE.findall(path.read_text()) if (EXT / m).exists()]


def test_every_file_is_in_a_known_layer():
    unknown = {str(p.relative_to(EXT)) for p in sources() if layer_of(p) not in RANK}
    assert not unknown


def test_includes_point_down_only():
    wrong = []
    for path in sources():
        mine = layer_of(path)
        for inc in includes(path):
            theirs = layer_of(EXT / inc)
            if theirs == mine:
                continue
            if RANK[theirs] >= RANK[mine]:
                wrong.append(f"{path.relative_to(EXT)} includes {inc}")
    assert not wrong, "\n".join(wrong)


def test_every_include_names_its_folder():
    bare = [f"{p.relative_to(EXT)}: {m}" for p in sources() for m in INCLUDE.findall(p.read_text())
            if "/" not in m and m not in ("sqlite3ext.h",)]
    assert not bare, "\n".join(bare)


def test_there_is_no_include_cycle():
    graph = {str(p.relative_to(EXT)): includes(p) for p in sources()}
    state = {}

    def visit(node, stack):
        state[node] = "open"
        for nxt in graph.get(node, []):
            if state.get(nxt) == "open":
                raise AssertionError(" -> ".join(stack + [node, nxt]))
            if nxt not in state:
                visit(nxt, stack + [node])
        state[node] = "done"

    for node in graph:
        if node not in state:
            visit(node, [])


def test_every_source_file_opens_with_a_comment_saying_what_it_is_for():
    missing = [str(p.relative_to(EXT)) for p in sources()
               if not re.match(r"\s*(//|/\*)", p.read_text())]
    assert not missing
