"""Import contracts (import-linter, tach) judged on the imports a pull request adds."""

from __future__ import annotations

import textwrap

from reviewer.agents.architecture import ARCHITECTURE
from reviewer.analyzers.arch_contracts import (
    ContractAnalyzer,
    layout_from_files,
    read_contracts,
)
from reviewer.analyzers.base import SourceFile
from reviewer.snapshot import ChangedFile, FileStatus, PullRequestSnapshot

SHOP_FILES = [
    "shop/__init__.py",
    "shop/web/__init__.py",
    "shop/web/views.py",
    "shop/services/__init__.py",
    "shop/services/orders.py",
    "shop/db/__init__.py",
    "shop/db/models.py",
    "shop/billing/__init__.py",
    "shop/shipping/__init__.py",
]
IMPORTLINTER = textwrap.dedent(
    """
    [importlinter]
    root_package = shop

    [importlinter:contract:layers]
    name = Web above services above db
    type = layers
    containers =
        shop
    layers =
        web
        services
        db

    [importlinter:contract:apart]
    name = Billing and shipping stay apart
    type = independence
    modules =
        shop.billing
        shop.shipping
    """
)


def analyzer(configs: dict[str, str], files=SHOP_FILES) -> ContractAnalyzer:
    rules, roots = read_contracts(configs)
    return ContractAnalyzer(rules, layout_from_files(files, roots))


def lines(output) -> list[int]:
    return sorted(hit.finding.line for hit in output.hits)


def test_lower_layer_importing_a_higher_one_is_flagged():
    text = "from shop.services import orders\nfrom ..web import views\n"
    found = analyzer({".importlinter": IMPORTLINTER}).analyze(
        SourceFile("shop/db/models.py", text, frozenset({1, 2}))
    )
    assert lines(found) == [1, 2]
    assert all(hit.finding.rule == "import-contract-layers" for hit in found.hits)


def test_higher_layer_importing_a_lower_one_is_fine_and_unchanged_lines_are_ignored():
    rules = analyzer({".importlinter": IMPORTLINTER})
    ok = "from shop.db import models\nfrom . import orders\n"
    assert rules.analyze(SourceFile("shop/services/x.py", ok, frozenset({1, 2}))).hits == []
    old = "from shop.web import views\nimport json\n"
    assert rules.analyze(SourceFile("shop/db/models.py", old, frozenset({2}))).hits == []


def test_independence_contract_in_pyproject():
    pyproject = textwrap.dedent(
        """
        [tool.importlinter]
        root_package = "shop"

        [[tool.importlinter.contracts]]
        name = "apart"
        type = "independence"
        modules = ["shop.billing", "shop.shipping"]
        """
    )
    rules = analyzer({"pyproject.toml": pyproject})
    bad = SourceFile(
        "shop/billing/__init__.py", "from shop.shipping import rates\n", frozenset({1})
    )
    good = SourceFile("shop/billing/__init__.py", "from shop.db import models\n", frozenset({1}))
    assert lines(rules.analyze(bad)) == [1]
    assert rules.analyze(good).hits == []


def test_type_checking_imports_do_not_count():
    text = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from shop.web import views\n"
    found = analyzer({".importlinter": IMPORTLINTER}).analyze(
        SourceFile("shop/db/models.py", text, frozenset({1, 2, 3}))
    )
    assert found.hits == []


def test_tach_undeclared_dependency():
    tach = (
        '[[modules]]\npath = "app.api"\ndepends_on = ["app.core"]\n\n'
        '[[modules]]\npath = "app.core"\ndepends_on = []\n\n[[modules]]\npath = "app.jobs"\ndepends_on = []\n'
    )
    files = ["app/__init__.py", "app/api.py", "app/core.py", "app/jobs.py"]
    rules = analyzer({"tach.toml": tach}, files)
    text = "from app.core import db\nfrom app.jobs import run\n"
    assert lines(rules.analyze(SourceFile("app/api.py", text, frozenset({1, 2})))) == [2]


def test_no_contract_means_no_contract_findings():
    assert read_contracts({}) == ([], [])
    assert read_contracts({"pyproject.toml": "[project]\nname = 'x'\n"}) == ([], [])


def test_agent_uses_snapshot_context():
    files = [
        ChangedFile(
            path="shop/db/models.py",
            status=FileStatus.MODIFIED,
            patch="@@ -1,1 +1,2 @@\n import json\n+from shop.web import views\n",
            head_content="import json\nfrom shop.web import views\n",
        )
    ]
    with_context = ARCHITECTURE.run(
        PullRequestSnapshot(
            repo="o/r",
            files=files,
            repo_files=SHOP_FILES,
            config_files={".importlinter": IMPORTLINTER},
        )
    )
    without = ARCHITECTURE.run(PullRequestSnapshot(repo="o/r", files=files))
    assert with_context.status == "ok" and [f.line for f in with_context.findings] == [2]
    assert with_context.findings[0].category == "architecture"
    assert without.status == "ok" and without.findings == []
