"""MkDocs hook: every top-level module of tdome gets an API reference page, written or not.

The API pages in ``docs/api/`` are one short file per package (``::: tdome.geo``), and each package's
page shows its submodules, so a module added inside a package appears on the next build with no edit.
A new top-level package or module (``src/tdome/NAME/`` or ``src/tdome/NAME.py``) has no page yet: this
hook generates one for it, the same one-line directive, and lists it in the navigation under the API
reference. Write ``docs/api/NAME.md`` to give it an introduction; the hook then leaves it alone.

Pages are never generated for a module that no longer exists, so a page left behind by a move fails the
strict build with mkdocstrings' "could not collect" error, which names the page.
"""

from __future__ import annotations

from pathlib import Path

from mkdocs.structure.files import File

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "tdome"
SECTION = "API reference"
GENERATED = """# tdome.{name}

<!-- Generated at build time by docs/hooks/api_pages.py: this module has no page of its own in docs/api/ yet. -->

::: tdome.{name}
"""

EXCLUDE = {"data"}  # packaged data files (the coastline), no API

_missing: list[str] = []


def top_level_modules(package: Path = PACKAGE) -> list[str]:
    """The names of the package's top-level modules and subpackages (``geo``, ``c2``, ...), sorted."""
    names = []
    for path in package.iterdir():
        if path.name.startswith(("_", ".")) or path.name in EXCLUDE:
            continue
        if path.is_dir() and (path / "__init__.py").is_file():
            names.append(path.name)
        elif path.is_file() and path.suffix == ".py":
            names.append(path.stem)
    return sorted(names)


def on_config(config):
    api = Path(config.docs_dir) / "api"
    _missing[:] = [m for m in top_level_modules() if not (api / f"{m}.md").is_file()]
    for entry in config.nav or []:
        if isinstance(entry, dict) and SECTION in entry:
            entry[SECTION].extend({f"tdome.{m}": f"api/{m}.md"} for m in _missing)
            break
    else:
        raise ValueError(f"mkdocs.yml: the nav has no '{SECTION}' section for the generated API pages")
    return config


def on_files(files, config):
    for name in _missing:
        files.append(File.generated(config, f"api/{name}.md", content=GENERATED.format(name=name)))
    return files
