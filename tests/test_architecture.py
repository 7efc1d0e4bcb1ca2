"""Architecture rules the comparison's fairness depends on, checked on the source itself."""

import ast
import re
from pathlib import Path

import pytest

from common_data.frameworks import FRAMEWORKS

ROOT = Path(__file__).resolve().parent.parent
FRAMEWORK_HOME = {
    "torch": "pytorch_impl",
    "safetensors.torch": "pytorch_impl",  # safetensors.numpy is framework-free
    "tensorflow": "tf_impl",
    "keras": "tf_impl",
}
PACKAGES = ("common_data", "pytorch_impl", "tf_impl", "benchmarks")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.update((node.module.split(".")[0], node.module))
    return names


@pytest.mark.parametrize("package", PACKAGES)
def test_frameworks_are_imported_only_in_their_own_folder(package: str) -> None:
    offenders = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for name in _imports(path) & set(FRAMEWORK_HOME):
            if FRAMEWORK_HOME[name] != package:
                offenders.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not offenders, offenders


def test_twins_mirror_each_other_file_for_file() -> None:
    torch_files = {p.name for p in (ROOT / "pytorch_impl").glob("*.py")}
    tf_files = {p.name for p in (ROOT / "tf_impl").glob("*.py")}
    assert torch_files == tf_files
    assert {"model.py", "twin.py", "run.py"} <= torch_files


def test_twins_define_the_same_public_functions() -> None:
    for name in sorted(p.name for p in (ROOT / "pytorch_impl").glob("*.py")):

        def public(package: str, file: str = name) -> set[str]:
            tree = ast.parse((ROOT / package / file).read_text(encoding="utf-8"))
            return {
                node.name
                for node in tree.body
                if isinstance(node, ast.FunctionDef | ast.ClassDef)
                and not node.name.startswith("_")
            }

        torch_names = {n.replace("Torch", "X") for n in public("pytorch_impl")}
        tf_names = {n.replace("TF", "X").replace("Tf", "X") for n in public("tf_impl")}
        assert torch_names == tf_names, f"{name}: {sorted(torch_names ^ tf_names)}"


FRAMEWORK_TABLE = ROOT / "common_data" / "frameworks.py"
BOTH = {"torch", "tf"}


def _framework_tables(path: Path) -> list[str]:
    """Literal collections that spell out both frameworks: a dict keyed (or valued) by both,
    a set, tuple or list holding both, or a call given both as arguments. Each is a
    per-framework table that should be derived from common_data.frameworks.FRAMEWORKS."""

    def strings(nodes: list[ast.expr | None]) -> set[str]:
        return {n.value for n in nodes if isinstance(n, ast.Constant) and isinstance(n.value, str)}

    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Dict):
            literal = strings(node.keys) >= BOTH or strings(node.values) >= BOTH
        elif isinstance(node, ast.Set | ast.Tuple | ast.List):
            literal = strings(node.elts) >= BOTH
        elif isinstance(node, ast.Call):
            literal = strings(node.args) >= BOTH
        else:
            continue
        if literal:
            found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def test_one_framework_table() -> None:
    """Which framework is which (package, name, colour, env, modes) is stated once."""
    offenders = [
        where
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        if path != FRAMEWORK_TABLE
        for where in _framework_tables(path)
    ]
    assert not offenders, f"per-framework tables outside {FRAMEWORK_TABLE.name}: {offenders}"
    assert set(FRAMEWORKS) == BOTH, "BOTH must name every framework for this check to mean much"


def _project_modules() -> dict[str, Path]:
    modules = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def _import_graph() -> dict[str, set[str]]:
    """Module -> the project modules it imports anywhere in its body (lazy imports too: an
    import inside a function hides a loop, it does not remove it). `from pkg import mod`
    counts as importing `pkg.mod`; a package's __init__ is left out (it imports nothing)."""
    modules = _project_modules()
    graph = {}
    for name, path in modules.items():
        found = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found |= {f"{node.module}.{a.name}" for a in node.names} | {node.module}
            elif isinstance(node, ast.Import):
                found |= {alias.name for alias in node.names}
        graph[name] = {m for m in found & modules.keys()
                       if m != name and modules[m].name != "__init__.py"}
    return graph


def _first_loop(graph: dict[str, set[str]]) -> list[str] | None:
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> list[str] | None:
        if module in path:
            return [*path[path.index(module):], module]
        if module in done:
            return None
        for dependency in sorted(graph[module]):
            loop = visit(dependency, [*path, module])
            if loop:
                return loop
        done.add(module)
        return None

    for module in sorted(graph):
        loop = visit(module, [])
        if loop:
            return loop
    return None


def test_no_import_loop_anywhere_in_the_project() -> None:
    loop = _first_loop(_import_graph())
    assert loop is None, " -> ".join(loop or [])


def test_the_loop_check_finds_a_loop_hidden_in_a_function() -> None:
    graph = _import_graph()
    graph["benchmarks.matrix.cells"] = {*graph["benchmarks.matrix.cells"],
                                        "benchmarks.cli.compare"}  # as a lazy import would
    assert _first_loop(graph) is not None


def test_no_module_imports_another_modules_private_names() -> None:
    """A leading underscore says "not part of this module's contract": importing one from
    elsewhere couples two modules through what either may change freely."""
    offenders = []
    modules = _project_modules()
    for path in [*modules.values(), *sorted((ROOT / "tests").glob("*.py"))]:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if (isinstance(node, ast.ImportFrom) and node.module in modules
                    and any(a.name.startswith("_") for a in node.names)):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.module}")
    assert not offenders, offenders


def test_harness_modules_stay_small() -> None:
    """Modules a reader can hold in their head: none of the harness's over about 400 lines."""
    sizes = {str(p.relative_to(ROOT)): len(p.read_text(encoding="utf-8").splitlines())
             for p in (ROOT / "benchmarks").rglob("*.py")}
    assert not {path: n for path, n in sizes.items() if n > 420}


# Framework-free code: the harness and the shared layer. What names a framework lives in
# common_data/frameworks.py (and its twin folder); the rest reads it from there.
FRAMEWORK_FREE = ("benchmarks", "common_data")


def _framework_words() -> re.Pattern[str]:
    """Every framework's key, display name and report labels as words, and its own modes as
    a mode is written in data ('onednn', 'onednn=true', '-onednn'; some are English words)."""
    words = {w for fw in FRAMEWORKS.values() for w in (fw.key, fw.name, *fw.mode_labels.values())}
    modes = {mode for fw in FRAMEWORKS.values() for mode in fw.modes}
    return re.compile(r"(?<![\w.])(" + "|".join(sorted(map(re.escape, words))) + r")(?![\w(])"
                      r"|(?<![\w.])(" + "|".join(sorted(map(re.escape, modes))) + r")(?=$|=)",
                      re.IGNORECASE)


def _named_frameworks(source: str, where: str) -> list[str]:
    """String constants (f-string parts included, docstrings left out: they explain) that
    name a framework or one of its modes: a framework's facts spelled out as data."""
    tree = ast.parse(source)
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef)
                  and node.body and isinstance(node.body[0], ast.Expr)}
    words = _framework_words()
    return [f"{where}:{node.lineno} {found.group(0)!r} in {node.value[:60]!r}"
            for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
            and id(node) not in docstrings and (found := words.search(node.value))]


def test_framework_free_code_names_no_framework() -> None:
    """Adding a framework is its row and its twin folder: no harness or shared code spells
    out a framework's key, name or modes (tests/test_third_framework.py proves it works)."""
    offenders = [hit
                 for package in FRAMEWORK_FREE
                 for path in sorted((ROOT / package).rglob("*.py")) if path != FRAMEWORK_TABLE
                 for hit in _named_frameworks(path.read_text(encoding="utf-8"),
                                              str(path.relative_to(ROOT)))]
    assert not offenders, "\n".join(offenders)


def test_the_framework_name_check_sees_a_name_put_back() -> None:
    summary = ROOT / "benchmarks" / "report" / "summary.py"
    source = summary.read_text(encoding="utf-8")
    assert not _named_frameworks(source, "summary.py")
    for planted in ('KEY = "torch"\n', 'LABEL = f"{1} TensorFlow"\n', 'MODE = "onednn"\n'):
        assert _named_frameworks(source + planted, "summary.py"), planted
