"""Every import in `core/` points down: a module imports only its own stage or the stages below it, never one above,
never in a circle, and never the UI. Read from the source (imports inside functions count too), nothing is run.

The stages, lowest first, are written here once; the README's "How it works" draws the same walk. A new module
must be given a stage, so nobody adds a file the rule does not see."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parent.parent / "core"

STAGES = [  # (stage, the modules or packages in it), from the bottom up
    ("shared types and process helpers", ["core.types", "core.options", "core.status", "core.native_logs",
                                          "core.malloc"]),
    ("load", ["core.loading"]),
    ("detect", ["core.detect"]),
    ("masks: prompts, refinement, selection", ["core.masks"]),
    ("backends", ["core.backends"]),
    ("render and export", ["core.render", "core.cutouts", "core.effects", "core.export", "core.edits"]),
    ("pipeline", ["core.pipeline"]),
    ("batch", ["core.batch"]),
    ("video", ["core.video"]),
    ("entry points", ["core", "core.__main__"]),
]
NEVER = ("ui", "app", "gradio", "bench", "tests")  # core is a library: no UI, no benches, no tests inside it


def module_name(path: Path) -> str:
    parts = list(path.relative_to(CORE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_module(name: str) -> bool:
    path = CORE.parent.joinpath(*name.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def imports(path: Path) -> list:
    """[(imported module, line)] of one file, relative imports resolved; `from X import y` counts y when y is a
    module of its own."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                out.append((sub if is_module(sub) else target, node.lineno))
    return out


def stage_of(module: str) -> int | None:
    """The stage of the longest prefix of `module` named in STAGES."""
    best, best_len = None, -1
    for i, (_, members) in enumerate(STAGES):
        for m in members:
            if (module == m or module.startswith(m + ".")) and len(m) > best_len:
                best, best_len = i, len(m)
    return best


def graph() -> dict:
    return {module_name(p): imports(p) for p in sorted(CORE.rglob("*.py"))}


def test_every_module_has_a_stage():
    modules = graph()
    assert {"core", "core.pipeline", "core.detect", "core.video.segmenter"} <= set(modules)
    assert [m for m in modules if stage_of(m) is None] == []


def test_no_import_points_up():
    up = []
    for module, found in graph().items():
        here = stage_of(module)
        for target, line in found:
            if target.split(".")[0] == "core" and stage_of(target) > here:
                up.append(f"{module}:{line} imports {target} ({STAGES[here][0]} -> {STAGES[stage_of(target)][0]})")
    assert up == []


def test_core_never_imports_the_ui():
    bad = [f"{module}:{line} imports {target}" for module, found in graph().items() for target, line in found
           if target.split(".")[0] in NEVER]
    assert bad == []


def test_no_circles():
    edges = {m: sorted({t for t, _ in found if t.split(".")[0] == "core" and t != m}) for m, found in graph().items()}
    circles, done, path = [], set(), []

    def visit(m):
        if m in path:
            circles.append(" -> ".join(path[path.index(m):] + [m]))
        elif m not in done:
            path.append(m)
            for t in edges.get(m, ()):
                visit(t)
            path.pop()
            done.add(m)

    for m in edges:
        visit(m)
    assert circles == []


@pytest.mark.parametrize("line, ok", [("core.video.batch imports core.batch", True),
                                      ("core.masks.selection imports core.backends.base", False),
                                      ("core.batch imports core", False)])
def test_the_rule_itself(line, ok):
    """The rule catches the imports that pointed up before (masks reaching up to a backend's type, the photo batch
    reaching up to the package's front door) and lets a higher stage use a lower one."""
    module, target = line.split(" imports ")
    assert (stage_of(target) <= stage_of(module)) is ok
