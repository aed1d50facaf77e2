"""Finding the images that Kubernetes, Compose, Dockerfile and workflow files deploy."""

from __future__ import annotations

from pathlib import Path

import pytest

from signer.gate.discovery import ImageUse, discover, images_in_file, interpolate


def _write(root: Path, name: str, text: str) -> str:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return str(path)


def _found(uses: list[ImageUse]) -> list[tuple[str, int, str | None]]:
    return [(u.reference, u.line, u.unresolved) for u in uses]


def test_kubernetes_multi_document_every_workload_and_container_list(tmp_path: Path) -> None:
    path = _write(tmp_path, "k8s/all.yaml", """\
apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  initContainers:
  - name: init
    image: busybox:1.36
  containers:
  - name: app
    image: ghcr.io/o/app:1
  ephemeralContainers:
  - name: debug
    image: ghcr.io/o/debug:1
---
apiVersion: apps/v1
kind: Deployment
spec:
  template:
    spec:
      containers:
      - name: web
        image: "nginx@sha256:0000000000000000000000000000000000000000000000000000000000000000"
---
apiVersion: batch/v1
kind: CronJob
spec:
  jobTemplate:
    spec:
      template:
        spec:
          containers:
          - {name: c, image: ghcr.io/o/cron:2}
---
apiVersion: v1
kind: Service
spec:
  containers:
  - image: not-a-workload:1
---
apiVersion: v1
kind: List
items:
- apiVersion: apps/v1
  kind: StatefulSet
  spec: {template: {spec: {containers: [{name: s, image: ghcr.io/o/sts:3}]}}}
- apiVersion: apps/v1
  kind: DaemonSet
  spec:
    template:
      spec:
        containers:
        - image: ghcr.io/o/ds:4
""")
    assert _found(images_in_file(path)) == [
        ("busybox:1.36", 7, None), ("ghcr.io/o/app:1", 10, None),
        ("ghcr.io/o/debug:1", 13, None),
        ("nginx@sha256:" + "0" * 64, 22, None), ("ghcr.io/o/cron:2", 32, None),
        ("ghcr.io/o/sts:3", 45, None), ("ghcr.io/o/ds:4", 52, None)]


def test_template_expressions_are_unresolved(tmp_path: Path) -> None:
    path = _write(tmp_path, "pod.yaml", """\
apiVersion: v1
kind: Pod
spec:
  containers:
  - image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"
""")
    [use] = images_in_file(path)
    assert use.unresolved is not None and "template expression" in use.unresolved


def test_compose_services_with_interpolation(tmp_path: Path) -> None:
    path = _write(tmp_path, "compose.yaml", """\
services:
  web:
    image: ghcr.io/o/web:${TAG:-1.2}
  db:
    image: postgres:16
  worker:
    image: ghcr.io/o/worker:${TAG}
  built:
    build: .
""")
    assert _found(images_in_file(path)) == [
        ("ghcr.io/o/web:1.2", 3, None), ("postgres:16", 5, None),
        ("ghcr.io/o/worker:${TAG}", 7, "${TAG} has no default")]


def test_dockerfile_stages_platform_args_and_scratch(tmp_path: Path) -> None:
    path = _write(tmp_path, "Dockerfile", """\
# syntax=docker/dockerfile:1
ARG BASE=golang:1.22
ARG RUNTIME
ARG DISTROLESS="gcr.io/distroless/static"
FROM --platform=$BUILDPLATFORM ${BASE} AS build
RUN go build ./...
FROM build AS test
FROM scratch AS empty
FROM \\
  ${DISTROLESS}:nonroot
COPY --from=build /app /app
FROM ${RUNTIME}
FROM alpine:3.19 as final
""")
    assert _found(images_in_file(path)) == [
        ("golang:1.22", 5, None), ("gcr.io/distroless/static:nonroot", 9, None),
        ("${RUNTIME}", 12, "${RUNTIME} has no default"), ("alpine:3.19", 13, None)]


def test_workflow_containers_services_and_docker_steps(tmp_path: Path) -> None:
    path = _write(tmp_path, ".github/workflows/ci.yml", """\
on: push
jobs:
  a:
    runs-on: ubuntu-latest
    container: node:20
    services:
      redis:
        image: redis:7
    steps:
    - uses: actions/checkout@v4
    - uses: docker://ghcr.io/o/tool:1
  b:
    runs-on: ubuntu-latest
    container:
      image: ghcr.io/o/${{ matrix.image }}
""")
    uses = images_in_file(path)
    assert [(u.reference, u.line) for u in uses] == [
        ("node:20", 5), ("redis:7", 8), ("ghcr.io/o/tool:1", 11),
        ("ghcr.io/o/${{ matrix.image }}", 15)]
    assert uses[-1].unresolved is not None and "expression" in uses[-1].unresolved
    assert all(u.kind == "workflow" for u in uses)


def test_discover_walks_directories_and_reports_bad_files(tmp_path: Path) -> None:
    _write(tmp_path, "a/pod.yaml", "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n"
                                  "  - image: x:1\n")
    _write(tmp_path, "a/broken.yaml", "key: [unclosed\n")
    _write(tmp_path, "node_modules/pod.yaml", "apiVersion: v1\nkind: Pod\nspec:\n"
                                              "  containers:\n  - image: ignored:1\n")
    _write(tmp_path, "README.md", "FROM nothing\n")
    uses, problems = discover([str(tmp_path)])
    assert [u.reference for u in uses] == ["x:1"]
    assert len(problems) == 1 and problems[0].file.endswith("broken.yaml")
    assert "not valid YAML" in problems[0].message
    only = {str((tmp_path / "a" / "broken.yaml").resolve())}
    assert discover([str(tmp_path)], only) == ([], problems)


def test_discover_within_reads_no_file_that_links_outside(tmp_path: Path) -> None:
    """A checked-out pull request may hold a symbolic link to a file of the runner:
    with ``within`` it is reported, never read (its text could end up in the log)."""
    outside = _write(tmp_path, "secret/pod.yaml", "apiVersion: v1\nkind: Pod\nspec:\n"
                                                  "  containers:\n  - image: outside:1\n")
    workspace = tmp_path / "workspace"
    _write(workspace, "pod.yaml", "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n"
                                  "  - image: inside:1\n")
    (workspace / "link.yaml").symlink_to(outside)
    uses, problems = discover([str(workspace)], within=str(workspace))
    assert [u.reference for u in uses] == ["inside:1"]
    assert [(Path(p.file).name, p.message.endswith("links outside " + str(workspace)
                                                   + "; not read")) for p in problems] == [
        ("link.yaml", True)]
    # without it (the CLI, run by the user on their own files) the link is followed
    assert sorted(u.reference for u in discover([str(workspace)])[0]) == ["inside:1",
                                                                          "outside:1"]


@pytest.mark.parametrize(("text", "known", "expected"), [
    ("a:${X:-1}", {}, ("a:1", None)),
    ("a:${X-1}", {"X": ""}, ("a:", None)),
    ("a:${X:-1}", {"X": ""}, ("a:1", None)),
    ("a:$X", {"X": "2"}, ("a:2", None)),
    ("a:$$X", {}, ("a:$X", None)),
    ("a:${X:?required}", {}, ("a:${X:?required}", "${X:?required} depends on a value set "
                                                   "at deploy time")),
])
def test_interpolation(text: str, known: dict[str, str | None],
                       expected: tuple[str, str | None]) -> None:
    assert interpolate(text, known) == expected


def test_alias_bomb_stays_small(tmp_path: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)]
    path = _write(tmp_path, "compose.yaml", "\n".join(lines) + "\nservices: {}\n")
    assert images_in_file(path) == []


def test_deep_nesting_large_and_undecodable_files_are_reported(tmp_path: Path) -> None:
    _write(tmp_path, "deep.yaml", "a: " + "[" * 5000 + "]" * 5000 + "\n")
    _write(tmp_path, "deeper.yaml", "a: " + "[" * 150 + "]" * 150 + "\n")
    (tmp_path / "binary.yaml").write_bytes(b"kind: \xff\xfe\n")
    (tmp_path / "big.yaml").write_bytes(b"#" * (4 * 1024 * 1024 + 1))
    uses, problems = discover([str(tmp_path)])
    assert uses == []
    messages = {Path(p.file).name: p.message for p in problems}
    assert "nesting depth" in messages["deep.yaml"]  # the parser's own limit
    assert "nested deeper than 100 levels" in messages["deeper.yaml"]
    assert "not UTF-8" in messages["binary.yaml"]
    assert "over the" in messages["big.yaml"] and "-byte limit" in messages["big.yaml"]
