"""Architecture rules the comparison's fairness depends on, checked on the source itself."""

import ast
from pathlib import Path

import pytest

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
