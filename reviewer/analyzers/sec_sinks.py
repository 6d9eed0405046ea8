"""Where untrusted data must not arrive, and what makes it harmless: the taint tracker's tables.

Names are fully qualified after import aliases are resolved (``ET.parse`` is
``xml.etree.ElementTree.parse``); method sinks are matched on the method name plus a check of
the receiver, because the receiver's type is unknown to an AST walk.
"""

from __future__ import annotations

from dataclasses import dataclass

from reviewer.analyzers.sec_values import (
    CMD,
    CODE,
    DESER,
    INJECTION_KINDS,
    LDAP,
    PATH,
    REDIRECT,
    SQL,
    SSRF,
    XPATH,
    XSS,
)


@dataclass(frozen=True)
class SinkKind:
    """One class of flaw: our rule name, its CWE, the taint kind that triggers it, severity."""

    rule: str
    cwe: str
    kind: str
    severity: str
    message: str


SQL_INJECTION = SinkKind(
    "sql-injection",
    "CWE-89",
    SQL,
    "high",
    "SQL built from {what} is passed to {call}; use a parameterised query",
)
COMMAND_INJECTION = SinkKind(
    "command-injection",
    "CWE-78",
    CMD,
    "high",
    "{what} reaches the shell command run by {call}; pass an argument "
    "list without a shell, or quote with shlex.quote",
)
PATH_TRAVERSAL = SinkKind(
    "path-traversal",
    "CWE-22",
    PATH,
    "high",
    "{what} decides the file path used by {call}; normalise it and check it "
    "stays inside the intended directory (or use secure_filename)",
)
XSS_SINK = SinkKind(
    "xss", "CWE-79", XSS, "high", "{what} is written into HTML by {call} without escaping"
)
CODE_INJECTION = SinkKind(
    "code-injection", "CWE-95", CODE, "critical", "{what} is evaluated as Python code by {call}"
)
TEMPLATE_INJECTION = SinkKind(
    "template-injection",
    "CWE-94",
    XSS,
    "high",
    "{what} is compiled as a template by {call} (server-side template "
    "injection); pass it as a template variable instead",
)
OPEN_REDIRECT = SinkKind(
    "open-redirect",
    "CWE-601",
    REDIRECT,
    "medium",
    "{what} decides where {call} redirects; check it against an allow-list "
    "of hosts or use a relative URL",
)
SSRF_SINK = SinkKind(
    "ssrf",
    "CWE-918",
    SSRF,
    "high",
    "{what} decides the URL fetched by {call} (server-side request forgery)",
)
XPATH_INJECTION = SinkKind(
    "xpath-injection",
    "CWE-643",
    XPATH,
    "high",
    "{what} is built into the XPath query run by {call}; use XPath variables instead of formatting",
)
LDAP_INJECTION = SinkKind(
    "ldap-injection",
    "CWE-90",
    LDAP,
    "high",
    "{what} is built into the LDAP filter used by {call}; escape it with escape_filter_chars",
)
DESERIALIZATION = SinkKind(
    "unsafe-deserialization",
    "CWE-502",
    DESER,
    "high",
    "{what} is deserialised by {call}, which can run arbitrary code",
)
XXE = SinkKind(
    "xxe",
    "CWE-611",
    "xxe",
    "high",
    "{what} is parsed by {call} with external entities enabled (XXE)",
)
TRUST_BOUNDARY = SinkKind(
    "trust-boundary-violation",
    "CWE-501",
    "trust",
    "medium",
    "{what} is stored in the session by {call}; the session is trusted "
    "server state, validate before storing",
)
WEAK_RANDOM = SinkKind(
    "weak-random",
    "CWE-330",
    "rand",
    "medium",
    "a value from the `random` module is used as {call}; use the "
    "`secrets` module for security-sensitive values",
)

FAMILY = {
    "CWE-77": "cmd",
    "CWE-78": "cmd",
    "CWE-88": "cmd",
    "CWE-94": "code",
    "CWE-95": "code",
    "CWE-89": "sql",
    "CWE-22": "path",
    "CWE-23": "path",
    "CWE-36": "path",
    "CWE-79": "xss",
    "CWE-80": "xss",
    "CWE-116": "xss",
    "CWE-502": "deser",
    "CWE-611": "xxe",
    "CWE-776": "xxe",
}

# Functions whose string argument is run as a shell command regardless of keywords.
SHELL_CALLS = frozenset(
    {
        "os.system",
        "os.popen",
        "os.popen2",
        "os.popen3",
        "os.popen4",
        "commands.getoutput",
        "commands.getstatusoutput",
        "subprocess.getoutput",
        "subprocess.getstatusoutput",
        "asyncio.create_subprocess_shell",
        "pty.spawn",
    }
)
SUBPROCESS_CALLS = frozenset(
    {
        "subprocess.call",
        "subprocess.run",
        "subprocess.Popen",
        "subprocess.check_call",
        "subprocess.check_output",
        "asyncio.create_subprocess_exec",
    }
)
EXEC_PREFIXES = ("os.exec", "os.spawn", "os.posix_spawn")
SHELLS = frozenset(
    {
        "sh",
        "bash",
        "/bin/sh",
        "/bin/bash",
        "zsh",
        "cmd",
        "cmd.exe",
        "powershell",
        "powershell.exe",
        "pwsh",
    }
)
SHELL_FLAGS = frozenset({"-c", "/c", "/C", "-Command", "-command"})

CODE_CALLS = frozenset({"eval", "exec", "compile", "builtins.eval", "builtins.exec"})
SQL_METHODS = frozenset(
    {
        "execute",
        "executemany",
        "executescript",
        "mogrify",
        "raw",
        "extra",
        "fetch",
        "fetchrow",
        "fetchval",
        "copy_expert",
        "read_sql",
        "read_sql_query",
    }
)
SQL_CALLS = frozenset(
    {
        "sqlalchemy.text",
        "sqlalchemy.sql.text",
        "sqlalchemy.sql.expression.text",
        "pandas.read_sql",
        "pandas.read_sql_query",
        "django.db.models.expressions.RawSQL",
        "django.db.models.RawSQL",
    }
)
PATH_CALLS = frozenset(
    {
        "open",
        "io.open",
        "codecs.open",
        "os.open",
        "os.remove",
        "os.unlink",
        "os.rmdir",
        "os.removedirs",
        "os.mkdir",
        "os.makedirs",
        "os.rename",
        "os.renames",
        "os.replace",
        "os.listdir",
        "os.scandir",
        "os.chmod",
        "os.chown",
        "os.truncate",
        "shutil.copy",
        "shutil.copyfile",
        "shutil.copy2",
        "shutil.copytree",
        "shutil.move",
        "shutil.rmtree",
        "flask.send_file",
        "flask.helpers.send_file",
        "django.http.FileResponse",
        "tarfile.open",
        "zipfile.ZipFile",
        "fileinput.input",
        "linecache.getlines",
    }
)
PATH_METHODS = frozenset(
    {
        "open",
        "read_text",
        "read_bytes",
        "write_text",
        "write_bytes",
        "unlink",
        "mkdir",
        "rmdir",
        "touch",
        "exists",
        "is_file",
        "is_dir",
        "iterdir",
        "rename",
        "replace",
        "stat",
        "glob",
        "rglob",
    }
)
PATH_CONSTRUCTORS = frozenset(
    {
        "pathlib.Path",
        "pathlib.PurePath",
        "pathlib.PosixPath",
        "pathlib.WindowsPath",
        "os.path.join",
        "os.path.abspath",
        "os.path.realpath",
        "os.path.normpath",
    }
)
TEMPLATE_CALLS = frozenset(
    {
        "flask.render_template_string",
        "jinja2.Template",
        "jinja2.Environment.from_string",
        "mako.template.Template",
        "django.template.Template",
    }
)
MARKUP_CALLS = frozenset(
    {
        "flask.Markup",
        "markupsafe.Markup",
        "jinja2.Markup",
        "django.utils.safestring.mark_safe",
        "django.utils.safestring.SafeString",
        "django.utils.safestring.SafeText",
        "django.http.HttpResponse",
        "django.http.HttpResponseBadRequest",
        "django.http.HttpResponseNotFound",
        "django.http.HttpResponseForbidden",
        "django.http.HttpResponseServerError",
        "flask.make_response",
        "flask.Response",
        "werkzeug.wrappers.Response",
        "starlette.responses.HTMLResponse",
        "fastapi.responses.HTMLResponse",
    }
)
REDIRECT_CALLS = frozenset(
    {
        "flask.redirect",
        "werkzeug.utils.redirect",
        "django.shortcuts.redirect",
        "django.http.HttpResponseRedirect",
        "django.http.HttpResponsePermanentRedirect",
        "starlette.responses.RedirectResponse",
        "fastapi.responses.RedirectResponse",
    }
)
HTTP_VERBS = frozenset(
    {"get", "post", "put", "patch", "delete", "head", "options", "request", "stream"}
)
SSRF_MODULES = ("requests", "httpx", "urllib3", "aiohttp")
SSRF_CALLS = frozenset(
    {
        "urllib.request.urlopen",
        "urllib.request.Request",
        "urllib.urlopen",
        "urllib2.urlopen",
        "urllib.request.urlretrieve",
    }
)
XPATH_CALLS = frozenset(
    {
        "lxml.etree.XPath",
        "lxml.etree.ETXPath",
        "elementpath.select",
        "elementpath.iter_select",
        "elementpath.Selector",
    }
)
XPATH_METHODS = frozenset({"xpath", "evaluate"})
XML_FIND_METHODS = frozenset({"find", "findall", "iterfind", "findtext"})
LDAP_METHODS = frozenset(
    {"search", "search_s", "search_st", "search_ext", "search_ext_s", "paged_search"}
)
DESER_CALLS = frozenset(
    {
        "pickle.loads",
        "pickle.load",
        "pickle.Unpickler",
        "cPickle.loads",
        "cPickle.load",
        "_pickle.loads",
        "dill.loads",
        "dill.load",
        "marshal.loads",
        "marshal.load",
        "shelve.open",
        "jsonpickle.decode",
        "jsonpickle.loads",
        "pandas.read_pickle",
        "yaml.unsafe_load",
        "yaml.full_load",
        "torch.load",
        "joblib.load",
        "cloudpickle.loads",
    }
)
XML_PARSE_CALLS = frozenset(
    {
        "xml.dom.minidom.parseString",
        "xml.dom.minidom.parse",
        "xml.dom.pulldom.parseString",
        "xml.dom.pulldom.parse",
        "xml.sax.parseString",
        "xml.sax.parse",
        "xml.etree.ElementTree.fromstring",
        "xml.etree.ElementTree.parse",
        "xml.etree.ElementTree.XML",
        "lxml.etree.fromstring",
        "lxml.etree.parse",
        "lxml.etree.XML",
    }
)
XML_PARSER_FACTORIES = frozenset(
    {"xml.sax.make_parser", "lxml.etree.XMLParser", "xml.sax.expatreader.create_parser"}
)
QUERY_METHODS = (
    SQL_METHODS
    | XPATH_METHODS
    | LDAP_METHODS
    | frozenset({"fetchall", "fetchone", "fetchmany", "select", "iter_select"})
)
SESSION_NAMES = frozenset({"flask.session", "session"})

# Sanitisers: the taint kinds a call's result no longer carries.
ALL_KINDS = INJECTION_KINDS | {"rand"}
CLEAN_CALLS = frozenset(
    {
        "int",
        "float",
        "bool",
        "len",
        "abs",
        "round",
        "ord",
        "hash",
        "id",
        "isinstance",
        "hasattr",
        "callable",
        "uuid.UUID",
        "decimal.Decimal",
        "datetime.date",
        "datetime.datetime",
        "flask.url_for",
        "django.urls.reverse",
        "hmac.compare_digest",
        "secrets.compare_digest",
    }
)
CLEAN_PREFIXES = ("hashlib.", "hmac.new")
CLEAN_METHODS = frozenset(
    {
        "isdigit",
        "isnumeric",
        "isdecimal",
        "isalnum",
        "isalpha",
        "isidentifier",
        "startswith",
        "endswith",
        "count",
        "find",
        "rfind",
        "index",
        "hexdigest",
        "digest",
        "__len__",
        "is_valid",
        "exists",
    }
)
SANITISERS: dict[str, frozenset[str]] = {
    "shlex.quote": frozenset({CMD}),
    "pipes.quote": frozenset({CMD}),
    "werkzeug.utils.secure_filename": frozenset({PATH}),
    "werkzeug.secure_filename": frozenset({PATH}),
    "os.path.basename": frozenset({PATH}),
    "werkzeug.utils.safe_join": frozenset({PATH}),
    "flask.safe_join": frozenset({PATH}),
    "urllib.parse.quote": frozenset({XSS, CMD, LDAP, XPATH}),
    "urllib.parse.quote_plus": frozenset({XSS, CMD, LDAP, XPATH, PATH}),
    "urllib.parse.urlencode": frozenset({XSS, CMD, LDAP, XPATH}),
    "bleach.clean": frozenset({XSS}),
    "bleach.linkify": frozenset({XSS}),
    "json.dumps": frozenset({CMD, PATH, REDIRECT}),
    "django.utils.html.format_html": frozenset({XSS}),
    "django.utils.http.url_has_allowed_host_and_scheme": ALL_KINDS,
    "django.utils.http.is_safe_url": ALL_KINDS,
}
# Calls that escape for HTML by name (``escape``, ``escape_for_html``, ``conditional_escape``).
ESCAPE_WORD = "escape"
LDAP_ESCAPE_WORDS = ("escape_filter", "escape_dn", "escape_rdn")
SQL_ESCAPE_WORDS = ("escape_string", "literal", "quote_identifier", "sql.Identifier", "sql.Literal")
SECRET_NAME_WORDS = (
    "token",
    "secret",
    "password",
    "passwd",
    "nonce",
    "salt",
    "otp",
    "apikey",
    "api_key",
    "session",
    "cookie",
    "csrf",
    "rememberme",
    "remember_me",
    "reset_code",
    "verification_code",
    "auth_code",
)
RANDOM_FUNCS = frozenset(
    {
        "random",
        "randint",
        "randrange",
        "choice",
        "choices",
        "sample",
        "getrandbits",
        "uniform",
        "normalvariate",
        "gauss",
        "triangular",
        "betavariate",
        "expovariate",
        "shuffle",
        "randbytes",
        "lognormvariate",
        "vonmisesvariate",
        "paretovariate",
        "weibullvariate",
        "gammavariate",
    }
)
