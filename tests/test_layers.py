"""pdqa's modules import downwards only: readers → corpus → chunking → embeddings → index →
retrieval → answer → verify → qa → cli, server, evaluation. And importing pdqa changes nothing
in the process around it."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "pdqa"
# Lowest first; a module may import its own layer and the layers below it.
LAYERS = [
    ["pdqa.version", "pdqa.errors", "pdqa.text", "pdqa.settings", "pdqa.models", "pdqa.question"],
    ["pdqa.readers*"],
    ["pdqa.corpus"],
    ["pdqa.chunking"],
    ["pdqa.embeddings", "pdqa.bm25", "pdqa.ann", "pdqa.store"],
    ["pdqa.index"],
    ["pdqa.retrieval"],
    ["pdqa.reader", "pdqa.answer_model", "pdqa.calibration", "pdqa.extractive"],
    ["pdqa.llm", "pdqa.generate", "pdqa.support", "pdqa.verify"],
    ["pdqa.answers", "pdqa.qa"],
    ["pdqa", "pdqa.cli", "pdqa.render", "pdqa.server*", "pdqa.evaluation*", "pdqa.llamaindex", "pdqa.reference",
     "pdqa.training", "pdqa.answer_training", "pdqa.reader_training", "pdqa.support_training"],
]


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """Every pdqa module ``name`` imports, at module level or inside a function."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        targets = []
        if isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            # "from . import ocr" imports the module ocr; "from .base import Extracted", the module base.
            targets = [f"{module}.{alias.name}" if f"{module}.{alias.name}" in modules else module for alias in node.names]
        elif isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        for target in targets:
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def _layer(name: str) -> int:
    for number, names in enumerate(LAYERS):
        for pattern in names:
            if name == pattern or (pattern.endswith("*") and (name == pattern[:-1] or name.startswith(pattern[:-1] + "."))):
                return number
    raise AssertionError(f"{name} is in no layer of tests/test_layers.py: place it")


def test_every_module_imports_only_its_own_layer_and_those_below():
    modules = _modules()
    upward = [f"{name} -> {target}" for name, path in sorted(modules.items())
              for target in sorted(_imports(name, path, modules)) if _layer(target) > _layer(name)]
    assert upward == []


def test_there_is_no_import_circle():
    modules = _modules()
    graph = {name: _imports(name, path, modules) for name, path in modules.items()}
    state: dict[str, int] = {}

    def visit(name: str, trail: list[str]) -> None:
        state[name] = 1
        for target in graph[name]:
            assert state.get(target) != 1, " -> ".join(trail + [name, target])
            if target not in state:
                visit(target, trail + [name])
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [])


def test_importing_pdqa_changes_no_environment_variable_and_no_warning_filter():
    code = (
        "import json, os, sys, warnings\n"
        # What the libraries pdqa uses do on their own import (numpy adds warning filters) is theirs.
        "import numpy, pydantic, pydantic_settings, click, rich, platformdirs\n"
        "before, filters = dict(os.environ), list(warnings.filters)\n"
        "import pdqa, pdqa.cli, pdqa.qa, pdqa.index, pdqa.verify, pdqa.evaluation.runner\n"
        "print(json.dumps({'env': sorted(set(os.environ.items()) ^ set(before.items())),"
        " 'filters': len(warnings.filters) - len(filters)}))\n"
    )
    environment = {"PATH": "/usr/bin:/bin", "HOME": str(Path.home())}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=environment)
    assert json.loads(out.stdout) == {"env": [], "filters": 0}
