"""Every setting is documented: in .env.example and in the README's table."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mluv.settings import Settings

REPO = Path(__file__).resolve().parents[1]
VARIABLES = sorted(name.upper() for name in Settings.model_fields)


@pytest.mark.parametrize("variable", VARIABLES)
def test_setting_is_in_env_example(variable: str) -> None:
    assert re.search(rf"^{variable}=", (REPO / ".env.example").read_text(), re.MULTILINE)


@pytest.mark.parametrize("variable", VARIABLES)
def test_setting_is_in_the_readme_table(variable: str) -> None:
    assert re.search(rf"^\| `{variable}` \|", (REPO / "README.md").read_text(), re.MULTILINE)


def test_readme_starts_with_the_two_commands() -> None:
    readme = (REPO / "README.md").read_text()
    first_block = readme[readme.index("```sh") : readme.index("```", readme.index("```sh") + 5)]
    assert "python3 -m mluv.bootstrap run" in first_block
    assert "python3 -m mluv.bootstrap test" in first_block
    assert "python3 -m mluv.bootstrap test" in (REPO / ".ci" / "run").read_text()


@pytest.mark.parametrize(
    "link", sorted(set(re.findall(r"\]\((docs/[^)#]+)", (REPO / "README.md").read_text())))
)
def test_readme_links_into_docs_resolve(link: str) -> None:
    assert (REPO / link).exists(), link
