"""README and docs/: every relative link, image and #anchor leads somewhere, every `make` target and
`python -m` module they name exists, and README stays short enough to read in two minutes."""
import importlib.util
import re

import pytest
from conftest import ROOT

README_MAX_LINES = 150
FENCE = re.compile(r"^(```|~~~).*?^\1[ \t]*$", re.MULTILINE | re.DOTALL)
INLINE_CODE = re.compile(r"(`+)(.+?)\1", re.DOTALL)
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HTML_SOURCE = re.compile(r"<(?:img|a)\b[^>]*?\b(?:src|href)=\"([^\"]+)\"", re.IGNORECASE)
MAKE_TARGET = re.compile(r"(?<![\w./-])make ([a-z][a-z0-9-]*)")
PYTHON_MODULE = re.compile(r"(?<![\w-])(?:python[\d.]*|py(?: -[\d.]+)?)(?:\.exe)? -m ([A-Za-z_][\w.]*)")
MAKEFILE_RULE = re.compile(r"^([A-Za-z0-9_.-]+(?:[ \t]+[A-Za-z0-9_.-]+)*)[ \t]*::?(?!=)", re.MULTILINE)


def documents(root=ROOT):
    return [root / "README.md", *sorted((root / "docs").glob("*.md"))]


def code_of(text):
    """The text of the fenced code blocks and inline code spans: where commands are written."""
    blocks = [match.group(0) for match in FENCE.finditer(text)]
    prose = FENCE.sub("", text)
    return blocks + [match.group(2) for match in INLINE_CODE.finditer(prose)]


def prose_of(text):
    """The text without its code: where links are."""
    return INLINE_CODE.sub("", FENCE.sub("", text))


def slug(heading):
    """GitHub's anchor for a heading: its text lower-cased, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link keeps its text
    text = re.sub(r"<[^>]+>|[`*]", "", text).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(path):
    """The anchors of a Markdown file's headings, numbered as GitHub numbers repeats (-1, -2...)."""
    found, seen = set(), {}
    for match in re.finditer(r"^#{1,6}[ \t]+(.+?)[ \t#]*$", FENCE.sub("", path.read_text(encoding="utf-8")),
                             re.MULTILINE):
        base = slug(match.group(1))
        found.add(f"{base}-{seen[base]}" if base in seen else base)
        seen[base] = seen.get(base, 0) + 1
    return found


def broken_links(path):
    """Each relative link or image of a Markdown file whose file, or #anchor in it, does not exist."""
    text = prose_of(path.read_text(encoding="utf-8"))
    broken = []
    for target in [*LINK.findall(text), *HTML_SOURCE.findall(text)]:
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE):  # http:, https:, mailto:
            continue
        file_part, _, anchor = target.partition("#")
        linked = (path.parent / file_part).resolve() if file_part else path
        if not linked.exists():
            broken.append(f"{target} (no such file)")
        elif anchor and (linked.suffix != ".md" or anchor not in anchors(linked)):
            broken.append(f"{target} (no heading with the anchor #{anchor})")
    return broken


def makefile_targets(makefile):
    targets = set()
    for match in MAKEFILE_RULE.finditer(makefile.read_text(encoding="utf-8")):
        targets.update(match.group(1).split())
    return targets


def missing_make_targets(path, makefile):
    targets = makefile_targets(makefile)
    named = {target for code in code_of(path.read_text(encoding="utf-8")) for target in MAKE_TARGET.findall(code)}
    return sorted(named - targets)


def runnable(module):
    """Whether `python -m module` would find something to run, from the repository root, without running it."""
    try:
        spec = importlib.util.find_spec(module)
        if spec is not None and spec.submodule_search_locations is not None:  # a package runs its __main__
            spec = importlib.util.find_spec(module + ".__main__")
    except (ImportError, ValueError):
        return False
    return spec is not None


def missing_modules(path):
    """The modules named after `python -m` that do not exist (a placeholder such as scripts.NAME aside)."""
    named = {module.rstrip(".") for code in code_of(path.read_text(encoding="utf-8"))
             for module in PYTHON_MODULE.findall(code)}
    placeholders = {module for module in named if any(part.isupper() for part in module.split("."))}
    return sorted(module for module in named - placeholders if not runnable(module))


@pytest.mark.parametrize("path", documents(), ids=lambda path: path.name)
def test_every_relative_link_and_image_exists(path):
    assert broken_links(path) == [], f"{path.name}: links to what does not exist"


@pytest.mark.parametrize("path", documents(), ids=lambda path: path.name)
def test_every_make_target_named_exists(path):
    assert missing_make_targets(path, ROOT / "Makefile") == [], f"{path.name}: make targets the Makefile lacks"


@pytest.mark.parametrize("path", documents(), ids=lambda path: path.name)
def test_every_python_module_named_exists(path):
    assert missing_modules(path) == [], f"{path.name}: python -m modules that do not exist"


def test_readme_stays_short():
    lines = len((ROOT / "README.md").read_text(encoding="utf-8").splitlines())
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines; at most {README_MAX_LINES}: move detail to docs/"


def test_the_docs_pages_exist_and_say_whom_they_are_for():
    for name in ("teaching", "platforms", "performance", "experiments", "troubleshooting", "design"):
        page = (ROOT / "docs" / f"{name}.md").read_text(encoding="utf-8").split("\n\n")
        assert page[0].startswith("# ") and page[1].startswith("For "), name


def test_the_checks_find_what_is_broken(tmp_path):
    """The checks above on a page with one fault of each kind: each is found, and what is right passes."""
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "other.md").write_text("# Other page\n\n## Why gym 0.24\n\n## Notes\n\n## Notes\n")
    (tmp_path / "picture.png").write_bytes(b"")
    (tmp_path / "Makefile").write_text("run: x  ## the notebook\n\tpython run\nlint test: y\n")
    (tmp_path / "README.md").write_text(
        "# Title\n\n## A `make` section: here\n\n"
        "[fine](docs/other.md#why-gym-024) [fine](docs/other.md#notes-1) [fine](#a-make-section-here)\n"
        "![fine](picture.png) [web](https://example.org/x.md#nothing)\n"
        "[gone](docs/missing.md) ![gone](images/missing.png) [bad anchor](docs/other.md#why-gym-0.24)\n"
        "[bad anchor](#nowhere) `[not a link](nowhere.md)` [repeat](docs/other.md#notes-2)\n\n"
        "Run `make run`, `make lint` and `make tset`; to make things work, nothing.\n\n"
        "```bash\nmake test PYTHON=python3.13\nmake benchmark-gpu\n.venv/bin/python -m scripts.no_such_command\n"
        "py -3.13 -m pytest tests\npython -m grading x.ipynb\npython -m scripts.NAME\n```\n",
    )
    readme = tmp_path / "README.md"
    assert broken_links(readme) == [
        "docs/missing.md (no such file)", "images/missing.png (no such file)",
        "docs/other.md#why-gym-0.24 (no heading with the anchor #why-gym-0.24)",
        "#nowhere (no heading with the anchor #nowhere)", "docs/other.md#notes-2 (no heading with the anchor #notes-2)"]
    assert missing_make_targets(readme, tmp_path / "Makefile") == ["benchmark-gpu", "tset"]
    assert missing_modules(readme) == ["scripts.no_such_command"]
    assert documents(tmp_path) == [readme, tmp_path / "docs" / "other.md"]
