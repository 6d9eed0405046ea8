"""CPU and wall time of the four static agents on a realistic 15-file, ~1,500-line pull request.

    .venv/bin/python -m benchmarks.agents_speed [--runs 5] [--json]

The PR is generated (seeded, so every run reviews the same code): Flask views, Django models
and views, service classes, data utilities and settings helpers over a handful of business
entities, with the odd real problem mixed in (a mutable default, a bare ``except``, string-built
SQL, a query in a loop) so the analyzers do their full work instead of scanning clean code.
Every file is "added", so every line is a changed line.

CPU is ``time.process_time()`` of this process plus ``getrusage(RUSAGE_CHILDREN)`` (user + sys)
for the ruff subprocesses; wall is ``time.perf_counter()``. Cold = the first review in a fresh
interpreter (modules already imported, but every lazy start — bandit's plugin manager, ruff's
first exec, tree-sitter grammars — still to pay), measured in ``--runs`` separate processes;
warm = further reviews in one process. Medians are reported.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import subprocess
import sys
import textwrap
import time

from reviewer.snapshot import ChangedFile, FileStatus, PullRequestSnapshot

ENTITIES = [
    ("invoice", ["number", "amount", "due_date", "customer_id", "status"]),
    ("shipment", ["tracking_code", "carrier", "weight", "order_id", "shipped_at"]),
    ("customer", ["email", "name", "country", "created_at", "tier"]),
    ("product", ["sku", "title", "price", "stock", "category"]),
    ("ticket", ["subject", "priority", "assignee_id", "opened_at", "state"]),
    ("payment", ["reference", "amount", "currency", "method", "captured_at"]),
]


def _flask_views(rng: random.Random, entity: str, fields: list[str]) -> str:
    cls = entity.title()
    lines = [
        f'"""HTTP endpoints for {entity}s."""',
        "from flask import Blueprint, abort, jsonify, request",
        f"from app.services.{entity}s import {cls}Service",
        "from app.db import get_session",
        "",
        f'bp = Blueprint("{entity}s", __name__, url_prefix="/{entity}s")',
        "",
    ]
    for verb, name in (("GET", "list"), ("GET", "detail"), ("POST", "create"), ("PUT", "update")):
        route = "/<int:item_id>" if name in {"detail", "update"} else "/"
        args = "item_id" if name in {"detail", "update"} else ""
        lines += [
            f'@bp.route("{route}", methods=["{verb}"])',
            f"def {name}_{entity}s({args}):" if name == "list" else f"def {name}_{entity}({args}):",
            f"    service = {cls}Service(get_session())",
        ]
        if name == "list":
            lines += [
                '    page = int(request.args.get("page", 1))',
                '    size = min(int(request.args.get("size", 50)), 200)',
                "    items = service.search(request.args.get('q', ''), page=page, size=size)",
                "    return jsonify([item.to_dict() for item in items])",
            ]
        elif name == "detail":
            lines += [
                "    item = service.get(item_id)",
                "    if item is None:",
                "        abort(404)",
                "    return jsonify(item.to_dict())",
            ]
        else:
            lines += ["    payload = request.get_json(force=True) or {}", "    errors = {}"]
            for field in fields:
                lines += [
                    f'    if "{field}" not in payload:',
                    f'        errors["{field}"] = "required"',
                ]
            lines += [
                "    if errors:",
                '        return jsonify({"errors": errors}), 400',
                f"    item = service.{name}({'item_id, ' if args else ''}payload)",
                "    return jsonify(item.to_dict()), 201" if name == "create" else
                "    return jsonify(item.to_dict())",
            ]  # fmt: skip
        lines.append("")
        lines.append("")
    if rng.random() < 0.5:
        lines += [
            '@bp.route("/export")',
            f"def export_{entity}s():",
            f"    rows = get_session().execute(\"SELECT * FROM {entity}s WHERE owner = '%s'\" % request.args['owner'])",
            "    return jsonify([dict(row) for row in rows])",
            "",
        ]  # fmt: skip
    return "\n".join(lines)


def _service(rng: random.Random, entity: str, fields: list[str]) -> str:
    cls = entity.title()
    body = [
        f'"""Business rules for {entity}s, kept apart from HTTP and storage."""',
        "from __future__ import annotations",
        "",
        "import logging",
        "from datetime import datetime, timezone",
        "",
        f"from app.models import {cls}",
        "",
        "log = logging.getLogger(__name__)",
        "",
        "",
        f"class {cls}Service:",
        "    def __init__(self, session, clock=None):",
        "        self.session = session",
        "        self.clock = clock or (lambda: datetime.now(timezone.utc))",
        "",
        "    def get(self, item_id):",
        f"        return self.session.get({cls}, item_id)",
        "",
        "    def search(self, text, page=1, size=50):",
        f"        query = self.session.query({cls})",
        "        if text:",
        f"            query = query.filter({cls}.{fields[0]}.ilike(f'%{{text}}%'))",
        "        return query.offset((page - 1) * size).limit(size).all()",
        "",
        "    def create(self, payload):",
        f"        item = {cls}(**{{k: payload[k] for k in {fields!r}}})",
        "        self.session.add(item)",
        "        self.session.commit()",
        f'        log.info("created {entity} %s", item.id)',
        "        return item",
        "",
        "    def update(self, item_id, payload):",
        "        item = self.get(item_id)",
        "        for key, value in payload.items():",
        f"            if key in {fields!r}:",
        "                setattr(item, key, value)",
        "        self.session.commit()",
        "        return item",
        "",
    ]
    for index in range(rng.randint(3, 5)):
        field = rng.choice(fields)
        body += [
            f"    def summarise_by_{field}_{index}(self, items, seen=[]):"
            if rng.random() < 0.2
            else f"    def summarise_by_{field}_{index}(self, items):",
            "        totals = {}",
            "        for item in items:",
            f"            key = getattr(item, {field!r})",
            "            if key not in totals:",
            "                totals[key] = 0",
            "            totals[key] += 1",
            "        ranked = sorted(totals.items(), key=lambda pair: pair[1], reverse=True)",
            "        result = []",
            "        for key, count in ranked:",
            "            if count > 1:",
            '                result.append({"key": key, "count": count})',
            "            elif count == 1 and key is not None:",
            '                result.append({"key": key, "count": 1, "single": True})',
            "        return result",
            "",
            f"    def sync_{field}_{index}(self, client):",
            "        try:",
            f"            remote = client.fetch('{entity}s', since=self.clock())",
            "        except" + (":" if rng.random() < 0.3 else " ConnectionError:"),
            f'            log.warning("sync of {entity}s failed")',
            "            return 0",
            "        changed = 0",
            "        for record in remote:",
            f"            item = self.session.query({cls}).filter_by(id=record['id']).first()",
            "            if item is None:",
            "                continue",
            f"            if item.{field} != record.get({field!r}):",
            f"                item.{field} = record.get({field!r})",
            "                changed += 1",
            "        self.session.commit()",
            "        return changed",
            "",
        ]
    return "\n".join(body)


def _django(rng: random.Random, entity: str, fields: list[str]) -> str:
    cls = entity.title()
    kinds = {
        "amount": "models.DecimalField(max_digits=12, decimal_places=2)",
        "price": "models.DecimalField(max_digits=10, decimal_places=2)",
        "weight": "models.FloatField(null=True, blank=True)",
        "stock": "models.PositiveIntegerField(default=0)",
    }
    lines = [
        f'"""Django models and views for {entity}s."""',
        "from django.db import models",
        "from django.http import JsonResponse",
        "from django.shortcuts import get_object_or_404",
        "from django.views.decorators.http import require_GET",
        "",
        "",
        f"class {cls}(models.Model):",
    ]
    for field in fields:
        if field.endswith("_id"):
            lines.append(f"    {field[:-3]} = models.ForeignKey('Owner', on_delete=models.CASCADE)")
        elif field.endswith(("_at", "_date")):
            lines.append(f"    {field} = models.DateTimeField(auto_now_add=True)")
        else:
            lines.append(f"    {field} = {kinds.get(field, 'models.CharField(max_length=120)')}")
    lines += [
        "",
        "    class Meta:",
        f'        ordering = ["-{fields[-1]}"]',
        "",
        "    def to_dict(self):",
        "        return {" + ", ".join(f'"{f}": str(self.{f.removesuffix("_id")})' for f in fields) + "}",
        "",
        "",
        "@require_GET",
        f"def {entity}_list(request):",
        f"    items = {cls}.objects.all()[:100]",
        "    data = []",
        "    for item in items:",
        "        data.append(item.to_dict())",
        "    return JsonResponse({'items': data})",
        "",
        "",
        "@require_GET",
        f"def {entity}_detail(request, pk):",
        f"    item = get_object_or_404({cls}, pk=pk)",
        "    return JsonResponse(item.to_dict())",
        "",
    ]  # fmt: skip
    return "\n".join(lines)


def _utils(rng: random.Random, index: int) -> str:
    return _helpers(rng, index) + "\n" + _helpers(rng, index + 10, header=False)


def _helpers(rng: random.Random, index: int, header: bool = True) -> str:
    helpers = [
        textwrap.dedent(
            f"""
            def chunked_{index}(items, size):
                if size <= 0:
                    raise ValueError("size must be positive")
                batch = []
                for item in items:
                    batch.append(item)
                    if len(batch) == size:
                        yield batch
                        batch = []
                if batch:
                    yield batch
            """
        ),
        textwrap.dedent(
            f"""
            def parse_money_{index}(text, default=None):
                cleaned = text.strip().replace(",", "")
                if not cleaned:
                    return default
                if cleaned.startswith("(") and cleaned.endswith(")"):
                    cleaned = "-" + cleaned[1:-1]
                try:
                    return Decimal(cleaned)
                except InvalidOperation:
                    return default
            """
        ),
        textwrap.dedent(
            f"""
            def merge_settings_{index}(base, override):
                merged = dict(base)
                for key, value in override.items():
                    if isinstance(value, dict) and isinstance(merged.get(key), dict):
                        merged[key] = merge_settings_{index}(merged[key], value)
                    elif value is None:
                        merged.pop(key, None)
                    else:
                        merged[key] = value
                return merged
            """
        ),
        textwrap.dedent(
            f"""
            def read_rows_{index}(path, delimiter=","):
                rows = []
                with open(path, newline="", encoding="utf-8") as handle:
                    reader = csv.DictReader(handle, delimiter=delimiter)
                    for row in reader:
                        if not any(row.values()):
                            continue
                        rows.append({{k.strip(): (v or "").strip() for k, v in row.items()}})
                return rows
            """
        ),
        textwrap.dedent(
            f"""
            class RateWindow{index}:
                def __init__(self, limit, seconds):
                    self.limit = limit
                    self.seconds = seconds
                    self.hits = deque()

                def allow(self, now):
                    while self.hits and now - self.hits[0] > self.seconds:
                        self.hits.popleft()
                    if len(self.hits) >= self.limit:
                        return False
                    self.hits.append(now)
                    return True
            """
        ),
    ]
    rng.shuffle(helpers)
    top = (
        '"""Small helpers shared by the services."""\nimport csv\nfrom collections import deque\n'
        "from decimal import Decimal, InvalidOperation\n"
    )
    return (top if header else "") + "\n".join(helpers)


def build_snapshot(seed: int = 7, target_lines: int = 1500) -> PullRequestSnapshot:
    """15 added files of generated application code, about ``target_lines`` lines in all."""
    rng = random.Random(seed)
    texts: dict[str, str] = {}
    for entity, fields in ENTITIES[:5]:
        texts[f"app/views/{entity}s.py"] = _flask_views(rng, entity, fields)
        texts[f"app/services/{entity}s.py"] = _service(rng, entity, fields)
    for entity, fields in ENTITIES[:3]:
        texts[f"shop/{entity}s/models.py"] = _django(rng, entity, fields)
    for index in range(2):
        texts[f"app/utils/helpers_{index}.py"] = _utils(rng, index)
    total = sum(text.count("\n") + 1 for text in texts.values())
    if total > target_lines * 1.1:  # trim the service files evenly to stay near the target
        excess = total - target_lines
        services = [p for p in texts if "/services/" in p]
        for path in services:
            lines = texts[path].split("\n")
            cut = min(excess // len(services), len(lines) // 3)
            texts[path] = "\n".join(lines[: len(lines) - cut])
    files = []
    for path, text in texts.items():
        count = text.count("\n") + 1
        patch = f"@@ -0,0 +1,{count} @@\n" + "".join(f"+{line}\n" for line in text.split("\n"))
        files.append(
            ChangedFile(
                path=path, status=FileStatus.ADDED, patch=patch, head_content=text,
                additions=count,
            )
        )  # fmt: skip
    repo_files = [*texts, "app/__init__.py", "tests/test_views.py", "pyproject.toml"]
    return PullRequestSnapshot(repo="bench/shop", files=files, repo_files=repo_files)


def review_once(snapshot: PullRequestSnapshot) -> dict:
    """Run the four agents one after another; CPU (self + children) and wall seconds."""
    from reviewer.agents.registry import AGENTS, run_agent

    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu0 = time.process_time()
    wall0 = time.perf_counter()
    findings = 0
    statuses = {}
    for name in AGENTS:
        result = run_agent(name, snapshot)
        findings += len(result.findings)
        statuses[name] = result.status
    wall = time.perf_counter() - wall0
    cpu = time.process_time() - cpu0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    child = (after.ru_utime - children.ru_utime) + (after.ru_stime - children.ru_stime)
    return {"cpu_s": cpu + child, "self_cpu_s": cpu, "child_cpu_s": child, "wall_s": wall,
            "findings": findings, "statuses": statuses}  # fmt: skip


def _cold_child() -> None:
    import reviewer.agents.registry  # noqa: F401 - imports are not part of the measurement

    print(json.dumps(review_once(build_snapshot())))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--cold-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.cold_child:
        _cold_child()
        return
    snapshot = build_snapshot()
    lines = sum(f.additions for f in snapshot.files)
    cold = []
    for _ in range(args.runs):
        out = subprocess.run(
            [sys.executable, "-m", "benchmarks.agents_speed", "--cold-child"],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        cold.append(json.loads(out.strip().splitlines()[-1]))
    review_once(snapshot)  # warm-up
    warm = [review_once(snapshot) for _ in range(args.runs)]

    def median(runs: list[dict], key: str) -> float:
        return statistics.median(run[key] for run in runs)

    summary = {
        "files": len(snapshot.files),
        "changed_lines": lines,
        "runs": args.runs,
        "findings": warm[-1]["findings"],
        "statuses": warm[-1]["statuses"],
        **{
            f"{phase}_{key}": round(median(runs, key), 3)
            for phase, runs in (("cold", cold), ("warm", warm))
            for key in ("cpu_s", "self_cpu_s", "child_cpu_s", "wall_s")
        },
    }
    if args.json:
        print(json.dumps(summary, indent=1))
        return
    print(f"PR: {summary['files']} files, {lines} changed lines, {summary['findings']} findings")
    print(f"median of {args.runs}   CPU (self + ruff)        wall")
    for phase in ("cold", "warm"):
        print(
            f"{phase:<4}          {summary[f'{phase}_cpu_s']:.2f} s "
            f"({summary[f'{phase}_self_cpu_s']:.2f} + {summary[f'{phase}_child_cpu_s']:.2f})"
            f"      {summary[f'{phase}_wall_s']:.2f} s"
        )


if __name__ == "__main__":
    main()
