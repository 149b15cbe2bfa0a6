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


def _catalogue() -> list[tuple[str, str, str]]:
    """(name, module file, retry policy name) of every job and cron job the catalogue registers."""
    import workers  # noqa: F401 - importing the catalogue registers its jobs
    from mluv.jobs import registry, retry

    policies = {
        id(value): name for name, value in vars(retry).items() if isinstance(value, retry.RetryPolicy)
    }
    entries = [*registry.jobs.values(), *registry.crons.values()]
    return [
        (entry.name, f"{entry.fn.__module__.rpartition('.')[2]}.py", policies.get(id(entry.retry), "unnamed"))
        for entry in entries
        if entry.fn.__module__.startswith("workers.")
    ]


@pytest.mark.parametrize(("name", "module", "policy"), _catalogue())
def test_every_job_is_in_the_catalogue_doc(name: str, module: str, policy: str) -> None:
    rows = [line for line in (REPO / "docs" / "jobs.md").read_text().splitlines() if line.startswith("| `")]
    # The job's own cell is the row's first: other rows name it as their trigger.
    row = next((line for line in rows if re.search(rf"`{name}[(`]", line.split(" | ")[0])), None)
    assert row is not None, f"docs/jobs.md has no row for {name}"
    assert f"`{module}`" in row and f"`{policy}`" in row, row
