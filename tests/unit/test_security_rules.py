"""The security agent's own rules: taint flows, crypto/config patterns, secrets, bandit gating."""

from __future__ import annotations

import textwrap

import pytest

from reviewer.analyzers.base import SourceFile
from reviewer.analyzers.sec_crypto import CryptoConfigAnalyzer
from reviewer.analyzers.sec_engine import SecurityEngine
from reviewer.analyzers.sec_secrets import SecretsAnalyzer, looks_like_secret, shannon_entropy
from reviewer.analyzers.sec_taint import TaintAnalyzer


def source(text: str, path: str = "app/views.py") -> SourceFile:
    text = textwrap.dedent(text)
    lines = frozenset(range(1, text.count("\n") + 2))
    return SourceFile(path=path, text=text, changed_lines=lines)


def rules(analyzer, text: str, path: str = "app/views.py") -> list[tuple[int, str, str]]:
    output = analyzer.analyze(source(text, path))
    return sorted((f.line, f.rule, f.cwe) for f in output.findings)


def taint(text: str) -> list[tuple[int, str, str]]:
    return rules(TaintAnalyzer(), text)


FLASK = "from flask import Flask, request, redirect, render_template_string\nimport os, subprocess, sqlite3, pickle, requests\napp = Flask(__name__)\n"


# --- taint: positives and their negatives -------------------------------------------------------


def test_sql_built_from_request_args_is_injection():
    found = taint(
        FLASK
        + """
@app.route("/users")
def users():
    name = request.args.get("name")
    query = "SELECT * FROM users WHERE name = '%s'" % name
    return str(sqlite3.connect("db").execute(query).fetchall())
"""
    )
    assert (9, "sql-injection", "CWE-89") in found


def test_parameterised_sql_with_constant_text_is_not_reported():
    found = taint(
        FLASK
        + """
@app.route("/users")
def users():
    name = request.args.get("name")
    query = "SELECT * FROM users WHERE name = ?"
    return str(sqlite3.connect("db").execute(query, (name,)).fetchall())
"""
    )
    assert not [f for f in found if f[1] == "sql-injection"]


def test_sql_formatted_from_a_plain_parameter_is_a_lower_confidence_pattern():
    output = TaintAnalyzer().analyze(
        source("""
def find(cursor, user_id):
    cursor.execute(f"SELECT * FROM orders WHERE user_id = {user_id}")
""")
    )
    [finding] = output.findings
    assert finding.rule == "sql-injection" and finding.confidence <= 0.6


def test_shell_command_from_form_data_and_the_quoted_variant():
    found = taint(
        FLASK
        + """
@app.post("/ping")
def ping():
    host = request.form["host"]
    os.system("ping -c 1 " + host)
    return "ok"
"""
    )
    assert (8, "command-injection", "CWE-78") in found
    quoted = taint(
        FLASK
        + """
import shlex
@app.post("/ping")
def ping():
    host = shlex.quote(request.form["host"])
    os.system("ping -c 1 " + host)
    return "ok"
"""
    )
    assert not [f for f in quoted if f[1] == "command-injection"]


def test_shell_via_argument_list_with_dash_c():
    found = taint(
        FLASK
        + """
@app.post("/echo")
def echo():
    args = ["sh", "-c"]
    args.append("echo " + request.values.get("msg", ""))
    subprocess.run(args)
    return "done"
"""
    )
    assert (9, "command-injection", "CWE-78") in found


def test_dead_branch_keeps_request_data_away_from_eval():
    found = taint(
        FLASK
        + """
@app.post("/calc")
def calc():
    expr = request.form.get("expr")
    limit = 10
    value = "1 + 1" if limit * 3 > 20 else expr
    return str(eval(value))
"""
    )
    assert not [f for f in found if f[1] == "code-injection"]
    live = taint(
        FLASK
        + """
@app.post("/calc")
def calc():
    expr = request.form.get("expr")
    limit = 10
    value = "1 + 1" if limit * 3 > 50 else expr
    return str(eval(value))
"""
    )
    assert (10, "code-injection", "CWE-95") in live


def test_overwritten_dictionary_entry_is_tracked_by_key():
    text = (
        FLASK
        + """
@app.get("/file")
def read():
    entries = {{}}
    entries["user"] = request.args.get("path")
    entries["fixed"] = "report.txt"
    with open(entries[{key!r}]) as handle:
        return handle.read()
"""
    )
    assert (10, "path-traversal", "CWE-22") in taint(text.format(key="user"))
    assert not taint(text.format(key="fixed"))


def test_secure_filename_sanitises_a_path():
    found = taint(
        FLASK
        + """
from werkzeug.utils import secure_filename
@app.post("/upload")
def upload():
    name = secure_filename(request.files["doc"].filename)
    open(os.path.join("/srv/uploads", name), "wb").write(b"")
    return "ok"
"""
    )
    assert not [f for f in found if f[1] == "path-traversal"]


def test_route_returning_unescaped_input_is_xss_and_escaping_fixes_it():
    text = (
        FLASK
        + """
from markupsafe import escape
@app.get("/hello")
def hello():
    who = request.args.get("who", "")
    return f"<h1>Hello {{{wrap}}}</h1>"
"""
    )
    assert (9, "xss", "CWE-79") in taint(text.format(wrap="who"))
    assert not taint(text.format(wrap="escape(who)"))


def test_template_string_from_request_is_template_injection():
    found = taint(
        FLASK
        + """
@app.get("/preview")
def preview():
    body = request.args["body"]
    return render_template_string("<div>" + body + "</div>")
"""
    )
    assert (8, "template-injection", "CWE-94") in found


def test_redirect_to_request_url_unless_validated():
    text = (
        FLASK
        + """
from urllib.parse import urlparse
@app.get("/go")
def go():
    target = request.args.get("next", "/")
{guard}    return redirect(target)
"""
    )
    assert (9, "open-redirect", "CWE-601") in taint(text.format(guard=""))
    guard = (
        "    parts = urlparse(target)\n"
        "    if parts.netloc not in ALLOWED_HOSTS:\n"
        "        return redirect('/')\n"
    )
    assert not [f for f in taint(text.format(guard=guard)) if f[1] == "open-redirect"]


def test_ssrf_from_route_parameter():
    found = taint(
        FLASK
        + """
@app.get("/fetch/<path:url>")
def fetch(url):
    return requests.get(url, timeout=5).text
"""
    )
    assert (7, "ssrf", "CWE-918") in found
    assert not taint(
        FLASK
        + """
def refresh():
    return requests.get("https://status.example.org/health", timeout=5).text
"""
    )


def test_pickle_of_cookie_data_and_not_of_a_local_file():
    found = taint(
        FLASK
        + """
import base64
@app.get("/prefs")
def prefs():
    blob = base64.b64decode(request.cookies.get("prefs"))
    return str(pickle.loads(blob))
"""
    )
    assert (9, "unsafe-deserialization", "CWE-502") in found


def test_django_view_get_parameter_into_raw_sql_and_int_sanitiser():
    text = """
from django.db import connection
def order_detail(request):
    order_id = {expr}
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM orders WHERE id = " + order_id)
"""
    assert (6, "sql-injection", "CWE-89") in taint(text.format(expr='request.GET["id"]'))
    assert not taint(text.format(expr='str(int(request.GET["id"]))'))


def test_xpath_and_ldap_filters_from_request():
    found = taint(
        FLASK
        + """
import ldap3
from lxml import etree
@app.post("/lookup")
def lookup():
    uid = request.form["uid"]
    tree = etree.parse("people.xml")
    nodes = tree.xpath(f"//person[@uid='{uid}']")
    conn = ldap3.Connection("ldap://dir")
    conn.search("ou=people", f"(uid={uid})")
    return str(len(nodes))
"""
    )
    assert (11, "xpath-injection", "CWE-643") in found
    assert (13, "ldap-injection", "CWE-90") in found


def test_session_write_and_weak_random_token():
    found = taint(
        FLASK
        + """
import random
from flask import session
@app.post("/login")
def login():
    session["user"] = request.form["user"]
    reset_token = str(random.randint(0, 10**6))
    return "ok"
"""
    )
    assert (9, "trust-boundary-violation", "CWE-501") in found
    assert (10, "weak-random", "CWE-330") in found
    assert not taint(
        "import random\ndef shuffle_deck(cards):\n    delay = random.random()\n    return delay\n"
    )


def test_validation_by_allow_list_cleans_the_value():
    found = taint(
        FLASK
        + """
ALLOWED = {"daily", "weekly"}
@app.get("/report")
def report():
    kind = request.args.get("kind")
    if kind not in ALLOWED:
        return "bad", 400
    return open("/srv/reports/" + kind).read()
"""
    )
    assert not [f for f in found if f[1] == "path-traversal"]


def test_xxe_needs_external_entities_enabled():
    text = (
        FLASK
        + """
import xml.sax, xml.sax.handler
import xml.dom.minidom
@app.post("/xml")
def parse():
    parser = xml.sax.make_parser()
{feature}    doc = xml.dom.minidom.parseString(request.data, parser)
    return "ok"
"""
    )
    feature = "    parser.setFeature(xml.sax.handler.feature_external_ges, True)\n"
    assert (11, "xxe", "CWE-611") in taint(text.format(feature=feature))
    assert not [f for f in taint(text.format(feature="")) if f[1] == "xxe"]


def test_python_312_syntax_and_match_statement_are_walked():
    found = taint(
        FLASK
        + """
@app.post("/m")
def m():
    value = request.form.get("v")
    match "a":
        case "a":
            chosen = value
        case _:
            chosen = "fixed"
    os.system(f"echo {chosen}")
    return f"{'done'}"
"""
    )
    assert (13, "command-injection", "CWE-78") in found


# --- crypto and configuration ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "rule"),
    [
        ("from Crypto.Cipher import DES\nDES.new(key, DES.MODE_CBC, iv)\n", "weak-cipher"),
        ("from Crypto.Cipher import AES\nAES.new(key, AES.MODE_ECB)\n", "weak-cipher-mode"),
        ("import hashlib\nhashlib.new('md5', data)\n", "weak-hash"),
        ("resp.set_cookie('sid', sid, secure=False)\n", "insecure-cookie"),
        ("app.run(host='0.0.0.0', debug=True)\n", "debug-enabled"),
        (
            "import requests\nrequests.get(url, verify=False, timeout=3)\n",
            "tls-verification-disabled",
        ),
    ],
)
def test_crypto_and_config_patterns(code, rule):
    assert [r for _, r, _ in rules(CryptoConfigAnalyzer(), code)] == [rule]


@pytest.mark.parametrize(
    "code",
    [
        "from Crypto.Cipher import AES\nAES.new(key, AES.MODE_GCM)\n",
        "import hashlib\nhashlib.new('sha256', data)\n",
        "import hashlib\nhashlib.new('md5', data, usedforsecurity=False)\n",
        "resp.set_cookie('sid', sid, secure=True, httponly=True)\n",
        "app.run(debug=False)\n",
        "import requests\nrequests.get(url, verify=True, timeout=3)\n",
    ],
)
def test_crypto_and_config_safe_variants(code):
    assert rules(CryptoConfigAnalyzer(), code) == []


def test_debug_setting_only_in_settings_modules():
    assert rules(CryptoConfigAnalyzer(), "DEBUG = True\n", "proj/settings.py") == [
        (1, "debug-enabled", "CWE-489")
    ]
    assert rules(CryptoConfigAnalyzer(), "DEBUG = True\n", "proj/tests/conftest.py") == []


# --- secrets ------------------------------------------------------------------------------------


def test_known_token_formats_are_found_anywhere():
    found = rules(SecretsAnalyzer(), 'client = make("AKIAIOSFODNN7EXAMPL3")\n')
    assert found == [(1, "hardcoded-secret", "CWE-798")]
    key = '"""-----BEGIN RSA PRIVATE KEY-----\\nMIIE..."""'
    assert rules(SecretsAnalyzer(), f"KEY = {key}\n")


def test_high_entropy_value_under_a_secret_name():
    assert rules(SecretsAnalyzer(), 'API_KEY = "q8Zr2LmX0vTn4KpW9sYb"\n') == [
        (1, "hardcoded-secret", "CWE-798")
    ]
    assert rules(SecretsAnalyzer(), 'connect(password="Xk9#mP2$vL7q")\n')


@pytest.mark.parametrize(
    "code",
    [
        'API_KEY = "changeme-please"\n',
        'PASSWORD_FIELD = "q8Zr2LmX0vTn4KpW9sYb"\n',
        'token = "Bearer"\n',
        'SECRET_KEY = "DJANGO_SECRET_KEY"\n',
        'password = "<your password here>"\n',
        'greeting = "q8Zr2LmX0vTn4KpW9sYb"\n',
    ],
)
def test_placeholders_and_non_secret_names_are_ignored(code):
    assert rules(SecretsAnalyzer(), code) == []


def test_entropy_helpers():
    assert shannon_entropy("aaaa") == 0
    assert shannon_entropy("abcd") == 2
    assert looks_like_secret("q8Zr2LmX0vTn4KpW9sYb")
    assert not looks_like_secret("password")


# --- the engine: bandit gated by the taint proofs ------------------------------------------------


def test_bandit_finding_on_a_provably_constant_sink_is_dropped():
    text = (
        FLASK
        + """
@app.post("/run")
def run():
    code = request.form.get("code")
    code = "print('hello')"
    exec(code)
    return "ok"
"""
    )
    findings = SecurityEngine().analyze(source(text)).findings
    assert not [f for f in findings if f.line == 9]


def test_engine_keeps_one_finding_per_sink_with_the_flow_behind_it():
    text = (
        FLASK
        + """
@app.post("/run")
def run():
    code = request.form.get("code")
    exec(code)
    return "ok"
"""
    )
    findings = [f for f in SecurityEngine().analyze(source(text)).findings if f.line == 8]
    assert [(f.rule, f.cwe, f.source) for f in findings] == [
        ("code-injection", "CWE-95", "static:reviewer-taint")
    ]
    assert findings[0].confidence >= 0.85


def test_engine_still_reports_bandit_patterns_it_has_no_proof_about():
    text = "import subprocess\n\ndef export(user_input):\n    subprocess.call('x ' + user_input, shell=True)\n"
    findings = SecurityEngine().analyze(source(text)).findings
    assert [(f.line, f.rule) for f in findings] == [(4, "command-injection")]


# --- web-framework settings (sec_web) -----------------------------------------------------------

from reviewer.analyzers.sec_audit import LanguageAuditAnalyzer
from reviewer.analyzers.sec_web import WebConfigAnalyzer


def web(text: str, path: str = "app/views.py") -> list[tuple[int, str, str]]:
    return rules(WebConfigAnalyzer(), text, path)


def audit(text: str) -> list[tuple[int, str, str]]:
    return rules(LanguageAuditAnalyzer(), text)


def test_flask_template_without_autoescape_extension_is_flagged_with_context():
    found = web(
        """
        from flask import render_template
        def invoice(order):
            return render_template("mail/invoice" + ".txt", order=order)
        def page(order):
            return render_template("invoice.html", order=order)
        def plain():
            return render_template("robots.txt")
        """
    )
    assert found == [(4, "unescaped-template-extension", "CWE-79")]


def test_csrf_switched_off_in_app_config_but_not_in_tests():
    text = """
        from flask import Flask
        app = Flask(__name__)
        app.config["WTF_CSRF_ENABLED"] = False
        app.config.update(SESSION_COOKIE_SECURE=True)
        """
    assert web(text) == [(4, "csrf-disabled", "CWE-352")]
    assert web(text, path="tests/conftest.py") == []
    assert web(text.replace("False", "True")) == []


def test_csrf_exempt_view_is_flagged_and_plain_view_is_not():
    found = web(
        """
        from django.views.decorators.csrf import csrf_exempt
        from django.views.decorators.http import require_POST
        @csrf_exempt
        def hook(request):
            return None
        @require_POST
        def form(request):
            return None
        """
    )
    assert found == [(4, "csrf-exempt", "CWE-352")]


def test_wildcard_cors_origins_flagged_and_listed_origins_are_not():
    found = web(
        """
        from fastapi import FastAPI
        from fastapi.middleware.cors import CORSMiddleware
        from flask_cors import CORS
        api = FastAPI()
        api.add_middleware(CORSMiddleware, allow_origins=["*"], allow_methods=["GET"])
        api.add_middleware(CORSMiddleware, allow_origins=["https://shop.example"])
        CORS(app, origins="*", supports_credentials=True)
        CORS(app, origins=["https://shop.example"])
        """
    )
    assert found == [(6, "wildcard-cors", "CWE-942"), (8, "wildcard-cors", "CWE-942")]


def test_hashids_salted_with_secret_key_is_flagged():
    found = web(
        """
        from hashids import Hashids
        from django.conf import settings
        ids = Hashids(salt=settings.SECRET_KEY, min_length=8)
        other = Hashids(salt=settings.HASHIDS_SALT, min_length=8)
        """
    )
    assert found == [(4, "hashids-with-secret-key", "CWE-327")]


def test_jwt_none_algorithm_and_unverified_decode_are_flagged():
    found = web(
        """
        import jwt
        def issue(claims):
            return jwt.encode(claims, None, algorithm="none")
        def peek(token):
            return jwt.decode(token, options={"verify_signature": False})
        def check(token, key):
            return jwt.decode(token, key, algorithms=["HS256"])
        """
    )
    assert found == [(4, "jwt-none-algorithm", "CWE-327"), (6, "jwt-unverified", "CWE-347")]


# --- language-level hazards (sec_audit) ---------------------------------------------------------


def test_url_opener_on_cleartext_url_is_flagged_but_https_and_localhost_are_not():
    found = audit(
        """
        from urllib.request import build_opener, urlopen
        def fetch():
            feed = "ftp://mirror.example.org/pub/list.txt"
            opener = build_opener()
            opener.open(feed)
            urlopen("https://mirror.example.org/list")
            urlopen("http://localhost:8080/health")
        """
    )
    assert found == [(6, "cleartext-transport", "CWE-319")]


def test_credentials_over_plain_http_are_flagged():
    found = audit(
        """
        import requests
        requests.get("http://api.example.com/v1/me", auth=("u", "p"), timeout=5)
        requests.get("https://api.example.com/v1/me", auth=("u", "p"), timeout=5)
        requests.get("http://api.example.com/v1/status", timeout=5)
        """
    )
    assert found == [(3, "credentials-over-http", "CWE-523")]


def test_shell_reached_through_import_or_getattr_is_flagged():
    found = audit(
        """
        import os
        def run(cmd):
            __import__("os").system(cmd)
            runner = getattr(os, "popen")
            return getattr(os, "path")
        """
    )
    assert found == [(4, "dynamic-shell-access", "CWE-78"), (5, "dynamic-shell-access", "CWE-78")]


def test_shell_wildcard_and_explicit_file_lists():
    found = audit(
        """
        import os, subprocess
        os.system("tar czf backup.tgz *")
        subprocess.run(["tar", "czf", "backup.tgz", "data"])
        os.system("ls -l")
        """
    )
    assert found == [(3, "shell-wildcard", "CWE-155")]


def test_chmod_granting_others_write_or_execute_is_flagged():
    found = audit(
        """
        import os, stat
        os.chmod(path, stat.S_IRUSR | stat.S_IWUSR | stat.S_IXOTH)
        os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)
        """
    )
    assert found == [(3, "permissive-file-permissions", "CWE-276")]


def test_xmlrpc_import_is_flagged_unless_defusedxml_patches_it():
    text = "import xmlrpc.client\nproxy = xmlrpc.client.ServerProxy(url)\n"
    assert audit(text) == [(1, "xmlrpc-entity-expansion", "CWE-776")]
    patched = "import defusedxml.xmlrpc\ndefusedxml.xmlrpc.monkey_patch()\n" + text
    assert audit(patched) == []


def test_ruamel_unsafe_loader_and_interactive_console_are_flagged():
    found = audit(
        """
        import code
        from ruamel.yaml import YAML
        loader = YAML(typ="unsafe")
        safe = YAML(typ="safe")
        def shell(line):
            console = code.InteractiveConsole()
            console.push(line)
            console.push("print(1)")
        """
    )
    assert found == [(4, "unsafe-deserialization", "CWE-502"), (8, "code-injection", "CWE-95")]


def test_engine_reports_web_and_language_rules():
    engine = SecurityEngine()
    text = 'import jwt\njwt.decode(token, key, algorithms=["none"])\n'
    output = engine.analyze(source(text))
    assert ("jwt-none-algorithm", 2) in {(f.rule, f.line) for f in output.findings}


def test_template_engine_with_autoescape_off_in_settings_is_flagged():
    text = """
        TEMPLATES = [
            {
                "BACKEND": "django.template.backends.django.DjangoTemplates",
                "OPTIONS": {"autoescape": False, "debug": False},
            }
        ]
        """
    assert web(text) == [(5, "xss-autoescape-off", "CWE-79")]
    assert web(text.replace('"autoescape": False', '"autoescape": True')) == []


def test_chmod_adding_execute_for_everyone_to_current_mode_is_flagged():
    found = audit(
        """
        import os
        mode = os.stat(script).st_mode
        os.chmod(script, mode | 0o111)
        os.chmod(script, mode | 0o100)
        """
    )
    assert found == [(4, "permissive-file-permissions", "CWE-276")]


def test_password_in_jwt_payload_is_flagged_and_plain_claims_are_not():
    found = web(
        """
        import jwt
        def login(user, secret):
            claims = {"sub": user.id, "password": user.password}
            return jwt.encode(claims, secret, algorithm="HS256")
        def refresh(user, secret):
            return jwt.encode({"sub": user.id}, secret, algorithm="HS256")
        """
    )
    assert found == [(4, "jwt-exposed-credentials", "CWE-522")]
