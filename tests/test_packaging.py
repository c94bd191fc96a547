"""The installed package carries every sub-package and the top-level templates/ folder."""

from __future__ import annotations

import tomllib
from pathlib import Path

from monitor.assets import templates_dir

ROOT = Path(__file__).resolve().parents[1]


def test_every_sub_package_is_listed_for_the_wheel():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["tool"]["setuptools"]
    on_disk = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "monitor").rglob("__init__.py")}
    listed = set(config["packages"])
    assert on_disk <= listed, f"add to [tool.setuptools] packages: {sorted(on_disk - listed)}"
    assert config["package-dir"]["monitor.templates"] == "templates"


def test_templates_are_read_from_the_top_level_folder_in_a_checkout():
    assert templates_dir() == ROOT / "templates"
    for name in ("report.html.j2", "report.css", "batch-summary.html.j2", "batch-summary.css"):
        assert (templates_dir() / name).is_file(), name


def test_the_web_pages_templates_are_shipped():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["tool"]["setuptools"]
    assert config["package-dir"]["monitor.templates.web"] == "templates/web"
    assert "monitor.templates.web" in config["packages"] and "monitor.web" in config["packages"]
    globs = config["package-data"]["monitor.templates.web"]
    from fnmatch import fnmatch

    files = sorted(p.name for p in (templates_dir() / "web").iterdir() if p.is_file())
    assert {"base.html.j2", "login.html.j2", "sites.html.j2", "site.html.j2", "workbook.html.j2", "web.css",
            "web.js"} <= set(files)
    assert all(any(fnmatch(f, g) for g in globs) for f in files), files
