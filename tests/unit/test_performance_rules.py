"""Unit tests of the performance agent's own AST rules: each fires on the problem, not on the fix."""

from __future__ import annotations

import textwrap

from reviewer.agents.registry import run_agent
from reviewer.analyzers.base import SourceFile
from reviewer.analyzers.intake import parse_module
from reviewer.analyzers.perf_async import BlockingHandleAnalyzer
from reviewer.analyzers.perf_patterns import PatternAnalyzer
from reviewer.analyzers.perf_queries import QueryLoopAnalyzer
from reviewer.findings import Category, Severity
from reviewer.snapshot import ChangedFile, FileStatus, PullRequestSnapshot


def src(code: str, path: str = "app/service.py") -> SourceFile:
    text = textwrap.dedent(code).lstrip("\n")
    tree = parse_module(text, path)
    assert not isinstance(tree, str), tree
    return SourceFile(path, text, frozenset(range(1, text.count("\n") + 2)), tree)


def found(analyzer, code: str) -> list[tuple[int, str]]:
    return sorted((h.finding.line, h.finding.rule) for h in analyzer.analyze(src(code)).hits)


# --- blocking handles in async code ------------------------------------------------------


def test_file_object_used_in_async_function_is_flagged():
    code = """
    from io import TextIOWrapper

    async def load(handle: TextIOWrapper | None):
        header = handle.readline()
        return header

    def load_sync(handle: TextIOWrapper):
        return handle.readline()
    """
    assert found(BlockingHandleAnalyzer(), code) == [(4, "blocking-file-call-in-async-function")]


def test_file_opened_earlier_then_read_in_async_is_flagged_until_rebound():
    code = """
    async def export(path, payload):
        out = open(path, "w")
        out.write(payload)
        out = await make_async_writer(path)
        out.write(payload)
    """
    assert found(BlockingHandleAnalyzer(), code) == [(3, "blocking-file-call-in-async-function")]


def test_sync_http_clients_in_async_code():
    code = """
    import httpx
    import requests

    shared = requests.Session()

    async def fetch(url):
        with httpx.Client() as client:
            client.get(url)
            client.build_request("GET", url)
        shared.post(url, timeout=5)

    async def fetch_async(url):
        async with httpx.AsyncClient() as client:
            return await client.get(url)
    """
    assert found(BlockingHandleAnalyzer(), code) == [
        (8, "blocking-http-call-httpx-in-async-function"),
        (10, "blocking-http-call-in-async-function"),
    ]


def test_sync_database_driver_in_async_code():
    code = """
    import sqlite3

    async def count_users(path):
        conn = sqlite3.connect(path)
        cur = conn.cursor()
        cur.execute("select count(*) from users")

    def count_users_sync(path):
        conn = sqlite3.connect(path)
        conn.execute("select 1")
    """
    assert found(BlockingHandleAnalyzer(), code) == [
        (4, "blocking-db-call-in-async-function"),
        (6, "blocking-db-call-in-async-function"),
    ]


# --- N+1 and queries in loops ------------------------------------------------------------


def test_django_related_manager_in_loop_is_n_plus_one_unless_prefetched():
    code = """
    from shop.models import Order

    def order_rows(request):
        orders = Order.objects.filter(status="open")
        rows = [(o.pk, o.items.count()) for o in orders]
        prefetched = Order.objects.filter(status="open").prefetch_related("items")
        rows += [(o.pk, o.items.count()) for o in prefetched]
        return rows
    """
    hits = QueryLoopAnalyzer().analyze(src(code)).hits
    assert [(h.finding.line, h.finding.rule) for h in hits] == [(5, "n-plus-one")]
    assert hits[0].finding.severity == Severity.HIGH  # a request handler
    assert 0.7 <= hits[0].finding.confidence <= 0.85


def test_relation_declared_in_a_model_of_the_pull_request():
    models = src(
        """
        from django.db import models

        class Book(models.Model):
            author = models.ForeignKey("Author", on_delete=models.CASCADE)
            title = models.CharField(max_length=200)
        """,
        path="library/models.py",
    )
    views = src(
        """
        from library.models import Book

        def titles():
            lines = []
            for book in Book.objects.all():
                lines.append(f"{book.title} by {book.author}")
            for book in Book.objects.select_related("author"):
                lines.append(f"{book.title} by {book.author}")
            return lines
        """,
        path="library/views.py",
    )
    hits = QueryLoopAnalyzer().analyze_all([models, views]).hits
    assert [(h.finding.path, h.finding.line) for h in hits] == [("library/views.py", 6)]
    assert "book.author" in hits[0].finding.message


def test_sqlalchemy_relationship_iterated_without_eager_loading():
    code = """
    from sqlalchemy import select
    from sqlalchemy.orm import selectinload

    def totals(session):
        for user in session.scalars(select(User)):
            print(sum(line.amount for line in user.invoices))
        eager = select(User).options(selectinload(User.invoices))
        for user in session.scalars(eager):
            print(len(user.invoices))
    """
    assert found(QueryLoopAnalyzer(), code) == [(6, "n-plus-one")]


def test_query_in_for_loop_but_not_in_polling_or_tiny_loops():
    code = """
    import time

    def owners(pet_ids, session):
        names = [Owner.objects.get(pet__id=pk).name for pk in pet_ids]
        for status in ("new", "done"):
            Ticket.objects.filter(status=status).count()
        while True:
            job = session.query(Job).first()
            time.sleep(1)
        return names
    """
    assert found(QueryLoopAnalyzer(), code) == [(4, "query-in-loop")]


# --- patterns ----------------------------------------------------------------------------


def test_string_concatenation_in_loop_and_join_alternative():
    code = """
    def render(lines):
        out = ""
        for line in lines:
            out += line + "\\n"
        count = 0
        for line in lines:
            count += 1
        return out, count
    """
    assert found(PatternAnalyzer(), code) == [(4, "string-concat-in-loop")]


def test_list_membership_and_front_operations_in_loops():
    code = """
    def dedupe(items):
        seen = []
        pending = list(items)
        for item in items:
            if item in seen:
                continue
            seen.append(item)
            if item in ("a", "b"):
                pending.insert(0, item)
        return seen, pending
    """
    assert found(PatternAnalyzer(), code) == [
        (5, "list-membership-in-loop"),
        (9, "list-front-operation-in-loop"),
    ]


def test_consider_using_generator_skips_async_comprehensions():
    code = """
    async def sizes(paths, stat):
        a = sum([len(p) for p in paths])
        b = sum(len(p) for p in paths)
        c = sum([await stat(p) for p in paths])
        return a, b, c
    """
    assert found(PatternAnalyzer(), code) == [(2, "consider-using-generator")]


def test_unclosed_file_and_closed_or_returned_files():
    code = """
    def first_line(path):
        handle = open(path)
        return handle.readline()

    def closed(path):
        handle = open(path)
        try:
            return handle.readline()
        finally:
            handle.close()

    def handed_back(path):
        handle = open(path)
        return handle
    """
    assert found(PatternAnalyzer(), code) == [(2, "consider-using-with")]


def test_requests_without_timeout_that_bandit_does_not_see():
    code = """
    import requests
    from urllib.request import urlopen

    def sync(url):
        session = requests.Session()
        session.get(url)
        session.get(url, timeout=10)
        urlopen(url, timeout=5)
        return urlopen(url).read()
    """
    hits = PatternAnalyzer().analyze(src(code)).hits
    assert sorted((h.finding.line, h.finding.rule) for h in hits) == [
        (6, "request-without-timeout"),
        (9, "request-without-timeout"),
    ]
    assert all(h.finding.cwe == "CWE-400" for h in hits)


# --- through the agent -------------------------------------------------------------------


def test_performance_agent_reports_only_changed_lines():
    base = "def names(ids):\n    return [User.objects.get(pk=i).name for i in ids]\n"
    head = base + "\n\ndef emails(ids):\n    return [User.objects.get(pk=i).email for i in ids]\n"
    patch = (
        "@@ -1,2 +1,6 @@\n def names(ids):\n"
        "     return [User.objects.get(pk=i).name for i in ids]\n+\n+\n+def emails(ids):\n"
        "+    return [User.objects.get(pk=i).email for i in ids]\n"
    )
    snapshot = PullRequestSnapshot(
        repo="o/r",
        files=[
            ChangedFile(
                path="app/users.py", status=FileStatus.MODIFIED, patch=patch, head_content=head
            )
        ],
    )
    result = run_agent("performance", snapshot)
    ours = [f for f in result.findings if f.rule == "query-in-loop"]
    assert [(f.line, f.category) for f in ours] == [(6, Category.PERFORMANCE)]
    assert ours[0].fingerprint


def test_string_rebuilt_each_iteration_is_not_concatenation_in_loop():
    code = """
    def report(rows):
        for name, value in rows:
            line = f"{name}: {value}"
            if value is None:
                line += " (missing)"
            print(line)
    """
    assert found(PatternAnalyzer(), code) == []
