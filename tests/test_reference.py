"""The generated docs (CLI reference, configuration table, the README's settings) match the code."""

from __future__ import annotations

from pathlib import Path

from pdqa.reference import cli_reference, configuration_reference, readme_with_settings
from pdqa.settings import GROUPS, variable

REPO = Path(__file__).resolve().parent.parent


def test_the_cli_reference_is_the_help_the_commands_print():
    assert (REPO / "docs" / "cli.md").read_text(encoding="utf-8") == cli_reference(), "run: python -m pdqa.reference"


def test_the_configuration_docs_and_the_readme_table_are_generated_from_the_settings():
    assert (REPO / "docs" / "configuration.md").read_text(encoding="utf-8") == configuration_reference(), \
        "run: python -m pdqa.reference"
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert readme == readme_with_settings(readme), "run: python -m pdqa.reference"
    for group, model in GROUPS.items():
        for name in model.model_fields:
            assert f"`{variable(group, name)}`" in readme


def test_the_readme_stays_short():
    assert len((REPO / "README.md").read_bytes()) <= 15_000
