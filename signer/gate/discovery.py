"""The images a change deploys, with every file:line that names them (layer L2).

Reads, from files or directories (recursively):

- Kubernetes YAML, multi-document: Pod, Deployment, StatefulSet, DaemonSet,
  ReplicaSet, ReplicationController, Job, CronJob (and ``kind: List``); their
  ``containers``, ``initContainers`` and ``ephemeralContainers``;
- Compose files: ``services.*.image``, with ``${VAR:-default}`` / ``${VAR-default}``
  resolved to the default;
- Dockerfiles (``Dockerfile``, ``Dockerfile.*``, ``*.Dockerfile``, ``Containerfile``):
  ``FROM`` with ``--platform`` skipped, ``ARG`` defaults resolved, ``scratch`` and
  references to earlier stages left out;
- GitHub workflows (``.github/workflows/*.yml``): ``jobs.*.container``,
  ``jobs.*.services.*.image`` and ``uses: docker://...`` steps.

A reference that depends on a value only known at deploy time (``${VAR}`` without a
default, ``${{ expression }}``, an ``ARG`` without default) is reported as unresolved,
never guessed. Nothing here touches the network; files are read with size bounds.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from signer.errors import InputError
from signer.gate.yamlfile import YamlList, YamlMap, load_documents, read_text

WORKLOAD_POD_SPEC: dict[str, tuple[str, ...]] = {
    "Pod": ("spec",),
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "ReplicationController": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}
CONTAINER_LISTS = ("containers", "initContainers", "ephemeralContainers")
MAX_FILES = 20_000
SKIPPED_DIRECTORIES = {".git", "node_modules", ".venv", "venv", "__pycache__", ".tox"}


@dataclass(frozen=True)
class ImageUse:
    """One place that names an image: the text as written (resolved when possible)."""

    reference: str
    file: str
    line: int
    kind: str  # kubernetes | compose | dockerfile | workflow
    unresolved: str | None = None  # why the reference cannot be known before deploy

    @property
    def location(self) -> str:
        """``file:line``."""
        return f"{self.file}:{self.line}"


@dataclass(frozen=True)
class FileProblem:
    """A file that could not be read or parsed (reported, not fatal)."""

    file: str
    message: str


# ---------------------------------------------------------------- which files

def is_dockerfile(name: str) -> bool:
    """Dockerfile naming conventions."""
    lower = name.lower()
    return (lower in ("dockerfile", "containerfile") or lower.startswith(("dockerfile.",
            "containerfile.")) or lower.endswith((".dockerfile", ".containerfile")))


def is_yaml(name: str) -> bool:
    """``.yml`` or ``.yaml``."""
    return name.lower().endswith((".yml", ".yaml"))


def is_workflow(path: str) -> bool:
    """A GitHub Actions workflow file (``.github/workflows/NAME.yml``)."""
    parts = PurePosixPath(path.replace(os.sep, "/")).parts
    return len(parts) >= 3 and parts[-3:-1] == (".github", "workflows") and is_yaml(parts[-1])


def candidate_files(paths: Iterable[str]) -> Iterator[str]:
    """Files worth reading below ``paths`` (sorted, symlinked directories not followed,
    ``.git`` and dependency folders skipped; other hidden folders except ``.github``)."""
    count = 0
    for start in paths:
        if os.path.isfile(start):
            count += 1
            yield start
            continue
        if not os.path.isdir(start):
            raise InputError(f"no such file or directory: {start}")
        for directory, subdirectories, files in os.walk(start):
            subdirectories[:] = sorted(
                d for d in subdirectories if d not in SKIPPED_DIRECTORIES
                and (not d.startswith(".") or d == ".github"))
            for name in sorted(files):
                if is_yaml(name) or is_dockerfile(name):
                    count += 1
                    if count > MAX_FILES:
                        raise InputError(f"more than {MAX_FILES} files below {start}",
                                         hint="name the folders that hold deployments")
                    yield os.path.join(directory, name)


# ------------------------------------------------------------ interpolation

_COMPOSE_VAR = re.compile(r"\$(?:\$|\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}"
                          r"|([A-Za-z_][A-Za-z0-9_]*))")


def interpolate(text: str, known: dict[str, str | None] | None = None) -> tuple[str, str | None]:
    """Resolve ``$VAR``/``${VAR}``/``${VAR:-default}``/``${VAR-default}`` from ``known``
    (name -> value, None for "declared without value") and defaults only.

    Returns (text, None) or (text as written, why it cannot be resolved).
    """
    values = known or {}
    problems: list[str] = []

    def substitute(match: re.Match[str]) -> str:
        whole = match.group(0)
        if whole == "$$":
            return "$"
        name = match.group(1) or match.group(4)
        operator, fallback = match.group(2), match.group(3) or ""
        value = values.get(name)
        if operator in (":-", "-"):
            if value is None or (operator == ":-" and value == ""):
                return fallback
            return value
        if value is not None and operator is None:
            return value
        problems.append(f"${{{name}}} has no default" if operator is None
                        else f"{whole} depends on a value set at deploy time")
        return whole

    resolved = _COMPOSE_VAR.sub(substitute, text)
    if problems:
        return text, "; ".join(problems)
    return resolved, None


def _expression_problem(text: str) -> str | None:
    if "${{" in text:
        return "contains a GitHub Actions expression (${{ ... }}), known only when the job runs"
    if "{{" in text:
        return "contains a template expression ({{ ... }}), known only when it is rendered"
    return None


# ----------------------------------------------------------------- kubernetes

def _at(node: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(node, YamlMap):
            return None
        node = node.get(key)
    return node


def _kubernetes(document: YamlMap, file: str) -> Iterator[ImageUse]:
    kind = document.get("kind")
    if kind == "List" and isinstance(document.get("items"), YamlList):
        for item in document["items"]:
            if isinstance(item, YamlMap):
                yield from _kubernetes(item, file)
        return
    path = WORKLOAD_POD_SPEC.get(kind) if isinstance(kind, str) else None
    pod_spec = _at(document, path) if path else None
    if not isinstance(pod_spec, YamlMap):
        return
    for list_name in CONTAINER_LISTS:
        containers = pod_spec.get(list_name)
        if not isinstance(containers, YamlList):
            continue
        for container in containers:
            if isinstance(container, YamlMap) and "image" in container:
                yield _use(container.get("image"), file, container.line_of("image"),
                           "kubernetes", None)


def _use(value: Any, file: str, line: int, kind: str, resolved: tuple[str, str | None] | None
         ) -> ImageUse:
    if not isinstance(value, str) or not value.strip():
        return ImageUse(str(value), file, line, kind, "the image is not a non-empty string")
    text, problem = resolved if resolved is not None else (value.strip(), None)
    return ImageUse(text.strip(), file, line, kind, problem or _expression_problem(value))


# -------------------------------------------------------------------- compose

def _compose(document: YamlMap, file: str) -> Iterator[ImageUse]:
    services = document.get("services")
    if not isinstance(services, YamlMap):
        return
    for service in services.values():
        if isinstance(service, YamlMap) and "image" in service:
            value = service.get("image")
            resolved = interpolate(value.strip()) if isinstance(value, str) else None
            yield _use(value, file, service.line_of("image"), "compose", resolved)


# ------------------------------------------------------------------- workflow

def _workflow(document: YamlMap, file: str) -> Iterator[ImageUse]:
    jobs = document.get("jobs")
    if not isinstance(jobs, YamlMap):
        return
    for job in jobs.values():
        if not isinstance(job, YamlMap):
            continue
        container = job.get("container")
        if isinstance(container, str):
            yield _workflow_use(container, file, job.line_of("container"))
        elif isinstance(container, YamlMap) and "image" in container:
            yield _workflow_use(container.get("image"), file, container.line_of("image"))
        services = job.get("services")
        if isinstance(services, YamlMap):
            for service in services.values():
                if isinstance(service, YamlMap) and "image" in service:
                    yield _workflow_use(service.get("image"), file, service.line_of("image"))
        steps = job.get("steps")
        if isinstance(steps, YamlList):
            for step in steps:
                uses = step.get("uses") if isinstance(step, YamlMap) else None
                if isinstance(uses, str) and uses.startswith("docker://"):
                    yield _workflow_use(uses[len("docker://"):], file, step.line_of("uses"))


def _workflow_use(value: Any, file: str, line: int) -> ImageUse:
    resolved = (value.strip(), _expression_problem(value)) if isinstance(value, str) else None
    return _use(value, file, line, "workflow", resolved)


# ----------------------------------------------------------------- dockerfile

def _logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """Instructions with continuation lines joined, with their first line number."""
    escape = "\\"
    lines = text.splitlines()
    for line in lines[:5]:  # parser directives come first
        directive = re.match(r"^#\s*escape\s*=\s*([\\`])\s*$", line, re.IGNORECASE)
        if directive:
            escape = directive.group(1)
    buffer: list[str] = []
    start = 0
    for number, raw in enumerate(lines, 1):
        stripped = raw.strip()
        if not buffer and (not stripped or stripped.startswith("#")):
            continue
        if buffer and stripped.startswith("#"):
            continue  # comment lines inside a continuation are dropped
        if not buffer:
            start = number
        if stripped.endswith(escape):
            buffer.append(stripped[:-1])
            continue
        buffer.append(stripped)
        yield start, " ".join(buffer)
        buffer = []
    if buffer:
        yield start, " ".join(buffer)


def _dockerfile(text: str, file: str) -> Iterator[ImageUse]:
    args: dict[str, str | None] = {}  # global ARGs, before the first FROM
    stages: set[str] = set()
    seen_from = False
    for line, instruction in _logical_lines(text):
        keyword, _, rest = instruction.partition(" ")
        keyword = keyword.upper()
        if keyword == "ARG" and not seen_from:
            for declaration in rest.split():
                name, equals, value = declaration.partition("=")
                args[name] = _unquote(value) if equals else args.get(name)
        if keyword != "FROM":
            continue
        seen_from = True
        words = [w for w in rest.split() if not w.startswith("--")]
        if not words:
            yield ImageUse("", file, line, "dockerfile", "FROM without an image")
            continue
        image = words[0]
        resolved, problem = interpolate(image, args)
        named = len(words) >= 3 and words[1].lower() == "as"
        stage_name = words[2].lower() if named else None
        if problem is not None or resolved.lower() not in (*stages, "scratch"):
            yield ImageUse(resolved if problem is None else image, file, line, "dockerfile",
                           problem)
        if stage_name:
            stages.add(stage_name)


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


# ---------------------------------------------------------------------- files

def images_in_file(path: str) -> list[ImageUse]:
    """Every image use in one file (an empty list for files of no known kind)."""
    name = os.path.basename(path)
    if is_dockerfile(name):
        return list(_dockerfile(read_text(path), path))
    return sorted(_yaml_images(path, name), key=lambda use: use.line)


def _yaml_images(path: str, name: str) -> list[ImageUse]:
    if not is_yaml(name):
        return []
    documents = load_documents(read_text(path), path)
    uses: list[ImageUse] = []
    workflow = is_workflow(path)
    for document in documents:
        if not isinstance(document, YamlMap):
            continue
        if workflow:
            uses += _workflow(document, path)
        elif "kind" in document and "apiVersion" in document:
            uses += _kubernetes(document, path)
        elif "services" in document:
            uses += _compose(document, path)
    return uses


def discover(paths: Iterable[str], only: set[str] | None = None,
             within: str | None = None) -> tuple[list[ImageUse], list[FileProblem]]:
    """Image uses in every candidate file below ``paths`` (restricted to ``only``, a set
    of resolved file paths, when given), and the files that could not be read.

    With ``within`` (a directory), a file that resolves outside it (a symbolic link
    out of a checked-out pull request) is not read but reported as a problem.
    """
    uses: list[ImageUse] = []
    problems: list[FileProblem] = []
    root = os.path.realpath(within) if within is not None else None
    for path in candidate_files(paths):
        resolved = os.path.realpath(path)
        if only is not None and resolved not in only:
            continue
        if root is not None and os.path.commonpath([root, resolved]) != root:
            problems.append(FileProblem(path, f"{path}: links outside {within}; not read"))
            continue
        try:
            uses += images_in_file(path)
        except InputError as err:
            problems.append(FileProblem(path, err.message))
    return uses, problems
