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


# --- import cycles and .reviewer.toml -----------------------------------------------------------

from reviewer.analyzers.arch_cycles import ImportCycleAnalyzer
from reviewer.analyzers.arch_reviewer_config import read_architecture_config


def changed(path: str, text: str, new_lines: set[int] | None = None) -> SourceFile:
    text = textwrap.dedent(text)
    lines = new_lines if new_lines is not None else set(range(1, text.count("\n") + 2))
    return SourceFile(path, text, frozenset(lines))


def cycles(*sources: SourceFile, files=SHOP_FILES) -> list[tuple[str, int, str]]:
    layout = layout_from_files(files)
    known = frozenset(m for p in files if (m := layout.module_of(p)) is not None)
    output = ImportCycleAnalyzer(layout, known).analyze_all(list(sources))
    return [(h.finding.path, h.finding.line, h.finding.rule) for h in output.hits]


def test_a_new_import_that_closes_a_cycle_is_flagged_once():
    orders = changed(
        "shop/services/orders.py",
        "from shop.db import models\nfrom shop.web.views import render_order\n",
        {2},
    )
    views = changed("shop/web/views.py", "from shop.services import orders\n", set())
    assert cycles(orders, views) == [("shop/services/orders.py", 2, "import-cycle")]


def test_lazy_type_checking_and_one_way_imports_are_not_cycles():
    orders = changed(
        "shop/services/orders.py",
        """
        from typing import TYPE_CHECKING
        if TYPE_CHECKING:
            from shop.web.views import View

        def render(order):
            from shop.web.views import render_order
            return render_order(order)
        """,
    )
    views = changed("shop/web/views.py", "from shop.services import orders\n")
    models = changed("shop/db/models.py", "import shop.services.orders\n")
    assert cycles(orders, views) == []
    assert cycles(orders, models) == []


def test_a_cycle_whose_imports_are_all_unchanged_is_not_reported():
    orders = changed("shop/services/orders.py", "from shop.web import views\nx = 1\n", {2})
    views = changed("shop/web/views.py", "from shop.services import orders\n", set())
    assert cycles(orders, views) == []


def test_package_init_reexport_and_sibling_import_are_not_a_cycle():
    init = changed("shop/services/__init__.py", "from .orders import place_order\n")
    orders = changed("shop/services/orders.py", "from . import helpers\nfrom shop.db import models\n")
    files = [*SHOP_FILES, "shop/services/helpers.py"]
    assert cycles(init, orders, files=files) == []
    # Without a `helpers` module the name comes from the package's __init__: a real cycle.
    assert cycles(init, orders) == [("shop/services/__init__.py", 1, "import-cycle")]


REVIEWER_TOML = textwrap.dedent(
    """
    [architecture]
    banned = { "pickle" = "untrusted input; use json", "shop.legacy" = "" }

    [[architecture.contracts]]
    name = "web above services above db"
    type = "layers"
    layers = ["shop.web", "shop.services", "shop.db"]

    [[architecture.contracts]]
    name = "billing apart from shipping"
    type = "independence"
    modules = ["shop.billing", "shop.shipping"]

    [[architecture.contracts]]
    type = "nonsense"
    """
)


def test_reviewer_toml_bans_and_contracts_are_read():
    config = read_architecture_config({".reviewer.toml": REVIEWER_TOML})
    assert config.banned == {"pickle": "untrusted input; use json", "shop.legacy": ""}
    assert [(rule.kind, rule.name) for rule in config.rules] == [
        ("layers", "web above services above db"),
        ("independence", "billing apart from shipping"),
    ]
    assert read_architecture_config({".reviewer.toml": "[architecture\n"}).rules == ()
    assert read_architecture_config({}).banned == {}


def test_agent_applies_reviewer_toml_bans_contracts_and_cycles():
    def file(path: str, text: str) -> ChangedFile:
        body = "".join(f"+{line}\n" for line in text.splitlines())
        count = len(text.splitlines())
        return ChangedFile(
            path=path, status=FileStatus.ADDED, patch=f"@@ -0,0 +1,{count} @@\n{body}",
            head_content=text,
        )  # fmt: skip

    snapshot = PullRequestSnapshot(
        repo="acme/shop",
        files=[
            file("shop/db/models.py", "import pickle\nfrom shop.services import orders\n"),
            file("shop/services/orders.py", "from shop.db import models\n"),
        ],
        repo_files=SHOP_FILES,
        config_files={".reviewer.toml": REVIEWER_TOML},
    )
    found = sorted((f.path, f.line, f.rule) for f in ARCHITECTURE.run(snapshot).findings)
    assert found == [
        ("shop/db/models.py", 1, "banned-import"),
        ("shop/db/models.py", 2, "import-contract-layers"),
        ("shop/db/models.py", 2, "import-cycle"),
    ]
