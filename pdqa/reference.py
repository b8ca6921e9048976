"""The generated parts of the docs: the CLI reference (from ``--help``) and the settings table.

``python -m pdqa.reference`` rewrites ``docs/cli.md``, ``docs/configuration.md`` and the
configuration section of the README (between its ``<!-- settings -->`` markers) in a checkout;
``tests/test_reference.py`` fails when any of them differs from what the code says, so help,
settings and docs cannot drift apart.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

WIDTH = 100
SETTINGS_START, SETTINGS_END = "<!-- settings -->", "<!-- /settings -->"


def _commands(group: click.Group, context: click.Context, prefix: list[str]):
    """(path, command, its context) of every command under ``group``, subcommands after their group."""
    for name in sorted(group.list_commands(context)):
        command = group.get_command(context, name)
        if command is None or command.hidden:
            continue
        # The command's own context settings (help_option_names), as click's make_context applies them.
        own = click.Context(command, info_name=name, parent=context, terminal_width=WIDTH, max_content_width=WIDTH,
                            **command.context_settings)
        yield [*prefix, name], command, own
        if isinstance(command, click.Group):
            yield from _commands(command, own, [*prefix, name])


def cli_reference() -> str:
    """Every command's ``--help``, as the terminal shows it at a fixed width."""
    from .cli import cli

    root = click.Context(cli, info_name="pdqa", terminal_width=WIDTH, max_content_width=WIDTH, **cli.context_settings)
    parts = ["# pdqa command reference", "",
             "Generated from `--help` by `python -m pdqa.reference`; a test checks it is current.", "",
             "## pdqa", "", "```text", cli.get_help(root).rstrip(), "```", ""]
    for path, command, context in _commands(cli, root, []):
        parts += [f"## pdqa {' '.join(path)}", "", "```text", command.get_help(context).rstrip(), "```", ""]
    return "\n".join(parts)


def configuration_reference() -> str:
    """The settings table with how settings are given."""
    from .settings import settings_table

    return "\n".join([
        "# pdqa configuration",
        "",
        "Generated from the settings' own descriptions by `python -m pdqa.reference`; a test checks it is current.",
        "",
        "Every setting is an environment variable `PDQA_<GROUP>__<FIELD>`, or in code a keyword of its",
        "group: `Settings(retrieval={\"top_k\": 8})`. `pdqa settings --json` prints the values in effect.",
        "The CLI refuses an unknown `PDQA_*` variable; `Settings()` in code warns about it. A retired or",
        "renamed setting is warned about (see CHANGELOG.md).",
        "",
        settings_table().rstrip(),
        "",
    ])


def readme_with_settings(readme: str) -> str:
    """The README with its configuration table regenerated between the markers."""
    from .settings import settings_table

    start, end = readme.index(SETTINGS_START) + len(SETTINGS_START), readme.index(SETTINGS_END)
    return readme[:start] + "\n" + settings_table() + readme[end:]


def write(root: Path) -> list[Path]:
    """Rewrite the generated files of a checkout; returns those that changed."""
    changed = []
    for path, text in ((root / "docs" / "cli.md", cli_reference()),
                       (root / "docs" / "configuration.md", configuration_reference()),
                       (root / "README.md", readme_with_settings((root / "README.md").read_text(encoding="utf-8")))):
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            changed.append(path)
    return changed


if __name__ == "__main__":
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent
    for path in write(root):
        print(f"rewrote {path}")
