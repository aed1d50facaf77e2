"""The repository stands on its own: a clone with nothing beside it has everything.

No tracked file may point outside the checkout -- at a sibling folder beside it, or
at an absolute path of some machine (a work area, a home directory, the path of this
very checkout) -- and the conformance corpus the tests read is the one in
``tests/conformance/``, complete and documented.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from tests.corpus import BUNDLES, CONFORMANCE, LEGACY, TRUST

ROOT = Path(__file__).resolve().parents[2]
SLASH, SIBLING = "/", "shared"  # pieces of the examples the self-test writes

#: a path that only exists on some machine: a sibling checkout, or an absolute path
#: under a machine-specific root (not preceded by a path or base64 character, so
#: ``pkg/root/`` or base64 text does not count)
OUTSIDE = re.compile(
    rf"\.\./{SIBLING}\b|/\s*[\"']{SIBLING}[\"']"
    rf"|(?<![\w.+/=~-])/(?:work|home|root|Users|opt|mnt|srv|data|workspace){SLASH}"
    r"|\b[A-Za-z]:\\(?:Users|work)\\")


def _tracked_files() -> list[Path]:
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True,
                            check=True, timeout=60).stdout
    return [ROOT / name for name in listed.decode().split("\0") if name]


def _text(path: Path) -> str | None:
    data = path.read_bytes()
    if b"\0" in data:
        return None
    return data.decode("utf-8", errors="replace")


def offending_lines(files: list[Path], checkout: Path) -> list[str]:
    """``file:line: text`` for every line that refers outside ``checkout``."""
    own_path = str(checkout)
    found = []
    for path in files:
        text = _text(path) if path.is_file() else None
        if text is None:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            if OUTSIDE.search(line) or own_path in line:
                found.append(f"{path.relative_to(checkout)}:{number}: {line.strip()[:120]}")
    return found


def test_no_tracked_file_refers_outside_the_checkout() -> None:
    files = _tracked_files()
    assert len(files) > 100, "git ls-files listed too little; is this a checkout?"
    assert offending_lines(files, ROOT) == []


def test_the_check_catches_what_it_looks_for(tmp_path: Path) -> None:
    bad = {
        # the offending paths are put together here, so that this file holds none
        "a.py": f'CORPUS = Path("{SLASH}work{SLASH}{SIBLING}/conformance")\n',
        "b.py": f"see ..{SLASH}{SIBLING}/spec/cosign-format.md\n",
        "b2.py": f'SHARED = ROOT.parent / "{SIBLING}"\n',
        "c.md": f"see {SLASH}home{SLASH}alice/src/signer/docs\n",
        "d.txt": f"{tmp_path}/signer/tests\n",
    }
    good = {"e.md": "sigstore-go `pkg/root/` and `/tmp/x`, base64 AB/root/CD==\n"}
    for name, text in {**bad, **good}.items():
        (tmp_path / name).write_text(text)
    found = offending_lines(sorted(tmp_path.iterdir()), tmp_path)
    assert sorted(line.split(":")[0] for line in found) == sorted(bad)


def test_corpus_is_in_the_repository_and_complete() -> None:
    assert CONFORMANCE == ROOT / "tests" / "conformance"
    index = json.loads((CONFORMANCE / "INDEX.json").read_text())
    folders = sorted([p for p in BUNDLES.iterdir() if p.is_dir()]
                     + [p for p in LEGACY.iterdir() if p.is_dir()])
    assert len(folders) == index["counts"]["total"] == len(index["cases"]) == 121
    assert all((folder / "expected.json").is_file() for folder in folders)
    for trust_file in index["trust_files"]:
        assert (CONFORMANCE / trust_file).is_file(), trust_file
    assert (TRUST / "public-good-trusted_root.json").is_file()


def test_corpus_readme_names_every_case_with_its_upstream_source() -> None:
    readme = (CONFORMANCE / "README.md").read_text()
    for folder in sorted(BUNDLES.iterdir()) + sorted(LEGACY.iterdir()):
        expected = json.loads((folder / "expected.json").read_text())
        repository = expected["source"].split()[0]
        commit = re.search(r"@([0-9a-f]{12})", expected["source"])
        assert commit, folder.name
        row = next((line for line in readme.splitlines()
                    if line.startswith(f"| `{folder.name}` |")), None)
        assert row is not None, f"{folder.name} missing from the README's case list"
        assert repository in row and commit.group(1) in row, row
        licence_row = next((line for line in readme.splitlines()
                            if line.startswith(f"| {repository} |")), None)
        assert licence_row is not None, f"no licence row for {repository}"
