"""The layout rules of DESIGN.md §2, checked by walking every module's imports."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "kalbot"
FOREIGN = {
    "httpx",
    "sqlalchemy",
    "alembic",
    "asyncpg",
    "aiosqlite",
    "openai",
    "anthropic",
    "websockets",
    "fastapi",
    "uvicorn",
    "typer",
    "rich",
    "pydantic",
    "pydantic_settings",
    "cryptography",
    "jinja2",
    "prometheus_client",
}
INNER = ["screener", "analysis", "strategy", "risk", "engine", "recorder", "backtest"]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _modules(package: str) -> list[Path]:
    root = SRC / package
    return sorted(root.rglob("*.py")) if root.is_dir() else [SRC / f"{package}.py"]


def test_domain_imports_only_the_standard_library_and_itself() -> None:
    for path in _modules("domain"):
        for name in _imports(path):
            top = name.split(".")[0]
            assert top in {"kalbot", "__future__"} or top in _stdlib(), f"{path}: imports {name}"
            if top == "kalbot":
                assert name.startswith("kalbot.domain"), f"{path}: imports {name}"


def test_inner_packages_never_import_io_libraries() -> None:
    for package in [*INNER, "ports"]:
        for path in _modules(package):
            for name in _imports(path):
                top = name.split(".")[0]
                assert top not in FOREIGN - {"pydantic"}, f"{path}: imports {name}"
                assert not name.startswith("kalbot.adapters"), f"{path}: imports {name}"
                assert not name.startswith(("kalbot.cli", "kalbot.web", "kalbot.bootstrap")), (
                    f"{path}: imports {name}"
                )


def test_adapters_never_import_one_another() -> None:
    adapters = [p.name for p in (SRC / "adapters").iterdir() if p.is_dir() and p.name[0] != "_"]
    for adapter in adapters:
        for path in sorted((SRC / "adapters" / adapter).rglob("*.py")):
            for name in _imports(path):
                for other in adapters:
                    if other != adapter:
                        assert not name.startswith(f"kalbot.adapters.{other}"), (
                            f"{path}: imports {name}"
                        )


def _stdlib() -> frozenset[str]:
    import sys

    return frozenset(sys.stdlib_module_names)
