"""Unit tests of the JavaScript/TypeScript rules: each fires on a real problem and not on its safe twin."""

from __future__ import annotations

import textwrap
import time

import pytest

from reviewer.analyzers.base import SourceFile
from reviewer.analyzers.intake import intake
from reviewer.analyzers.js_parser import parse
from reviewer.analyzers.js_quality import JsQualityAnalyzer, cyclomatic_complexity
from reviewer.analyzers.js_security import JsSecurityAnalyzer
from reviewer.analyzers.registry import ANALYZERS
from reviewer.findings import Category, Severity
from reviewer.payloads import SkipNote
from reviewer.snapshot import ChangedFile, FileStatus

SECURITY = JsSecurityAnalyzer()
QUALITY = JsQualityAnalyzer()


def js(text: str, path: str = "src/server.js") -> SourceFile:
    text = textwrap.dedent(text).lstrip("\n")
    return SourceFile(path, text, frozenset(range(1, text.count("\n") + 2)))


def rules(analyzer, text: str, path: str = "src/server.js") -> list[tuple[str, int]]:
    output = analyzer.analyze(js(text, path))
    return sorted((hit.finding.rule, hit.finding.line) for hit in output.hits)


def fired(analyzer, text: str, rule: str, path: str = "src/server.js") -> list[int]:
    return [line for name, line in rules(analyzer, text, path) if name == rule]


# --- eval ----------------------------------------------------------------------------------


def test_eval_of_request_data_is_reported():
    code = """
    app.post('/calc', (req, res) => {
      const result = eval(req.body.expression);
      res.json({ result });
    });
    const handler = new Function('ctx', 'return ' + req.query.body);
    setTimeout("refresh('" + widgetId + "')", 500);
    """
    assert fired(SECURITY, code, "eval-use") == [2, 5, 6]


def test_eval_of_literals_and_other_objects_eval_methods_are_not():
    code = """
    const add = new Function('a', 'b', 'return a + b');
    const two = eval('1 + 1');
    await redis.eval(LUA_SCRIPT, 1, key);
    setTimeout(() => refresh(widgetId), 500);
    const value = await page.evaluate(() => document.title);
    """
    assert fired(SECURITY, code, "eval-use") == []


# --- XSS -----------------------------------------------------------------------------------


def test_html_sinks_with_dynamic_values_are_reported():
    code = """
    function renderComment(comment) {
      const box = document.querySelector('#comments');
      box.innerHTML += `<li class="c">${comment.author}: ${comment.body}</li>`;
      document.write('<p>' + location.hash.slice(1) + '</p>');
      box.insertAdjacentHTML('beforeend', comment.html);
      $('#preview').html(comment.body);
    }
    """
    found = fired(SECURITY, code, "xss")
    assert found == [3, 4, 5, 6]
    hits = SECURITY.analyze(js(code)).hits
    assert next(h for h in hits if h.finding.line == 3).finding.severity is Severity.HIGH
    assert next(h for h in hits if h.finding.line == 5).finding.severity is Severity.MEDIUM


def test_html_sinks_with_constants_sanitised_or_numeric_values_are_not():
    code = """
    function renderComment(comment, items) {
      const box = document.querySelector('#comments');
      box.innerHTML = '';
      box.innerHTML = DOMPurify.sanitize(comment.html);
      box.innerHTML = `<span class="count">${items.length}</span>`;
      box.textContent = comment.body;
      $('#preview').text(comment.body);
    }
    """
    assert fired(SECURITY, code, "xss") == []


def test_dangerously_set_inner_html_in_jsx_and_tsx():
    code = """
    export function Bio({ user }: { user: User }) {
      return <div className="bio" dangerouslySetInnerHTML={{ __html: user.bio }} />;
    }
    export function Static() {
      return <div dangerouslySetInnerHTML={{ __html: '<br/>' }} />;
    }
    export function Clean({ html }: { html: string }) {
      return <div dangerouslySetInnerHTML={{ __html: sanitizeHtml(html) }} />;
    }
    """
    assert fired(SECURITY, code, "xss", path="web/Bio.tsx") == [2]


# --- SQL -----------------------------------------------------------------------------------


def test_sql_built_from_input_is_reported_inline_and_through_a_variable():
    code = """
    async function findUser(req) {
      const byId = await db.query(`SELECT * FROM users WHERE id = ${req.params.id}`);
      let sql = 'SELECT id, email FROM accounts WHERE active = true';
      if (req.query.email) {
        sql += " AND email = '" + req.query.email + "'";
      }
      const rows = await pool.query(sql);
      await knex.raw('DELETE FROM sessions WHERE user_id = ' + req.user.id);
      return rows;
    }
    """
    found = SECURITY.analyze(js(code)).hits
    assert sorted(h.finding.line for h in found if h.finding.rule == "sql-injection") == [2, 7, 8]
    assert all(h.finding.cwe == "CWE-89" for h in found)


def test_parameterised_and_placeholder_sql_is_not():
    code = """
    const TABLE = 'users';
    async function findUsers(ids, name) {
      await db.query('SELECT * FROM users WHERE id = $1', [ids[0]]);
      await db.query(`SELECT * FROM ${TABLE} WHERE name = $1`, [name]);
      const marks = ids.map((_, i) => `$${i + 1}`).join(', ');
      await db.query(`SELECT * FROM users WHERE id IN (${marks})`, ids);
      const inList = ids.map(() => '?').join(',');
      await mysql.execute(`DELETE FROM carts WHERE id IN (${inList})`, ids);
      await db.query(sql`SELECT * FROM users WHERE name = ${name}`);
      await search.query(`title:${name}`);
    }
    """
    assert fired(SECURITY, code, "sql-injection") == []


# --- shell -----------------------------------------------------------------------------------


def test_shell_commands_built_from_input_are_reported():
    code = """
    const { exec, execSync: run } = require('child_process');
    import * as cp from 'node:child_process';
    import { promisify } from 'util';
    const execAsync = promisify(exec);
    export async function thumbnail(upload, branch, userCmd) {
      exec(`convert ${upload.path} -resize 200x200 out.png`);
      run('git checkout ' + branch);
      await execAsync(userCmd);
      cp.spawn('sh', ['-c', userCmd], { shell: true });
      cp.spawn(userCmd, [], { shell: true });
    }
    """
    assert fired(SECURITY, code, "command-injection") == [6, 7, 8, 10]


def test_fixed_commands_argument_arrays_and_regex_exec_are_not():
    code = """
    const { execFile, execSync } = require('child_process');
    export function status(branch) {
      execSync('git status --porcelain');
      execFile('git', ['checkout', branch]);
      const match = /^v(\\d+)/.exec(branch);
      const m2 = pattern.exec(branch);
      return match;
    }
    """
    assert fired(SECURITY, code, "command-injection") == []


# --- TLS -----------------------------------------------------------------------------------


def test_disabled_certificate_checks_are_reported():
    code = """
    process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';
    const agent = new https.Agent({ rejectUnauthorized: false });
    request({ url, strictSSL: false });
    tls.connect({ host, port, checkServerIdentity: () => undefined });
    """
    assert fired(SECURITY, code, "tls-verification-disabled") == [1, 2, 3, 4]


def test_enabled_certificate_checks_are_not():
    code = """
    process.env.NODE_TLS_REJECT_UNAUTHORIZED = '1';
    const agent = new https.Agent({ rejectUnauthorized: true, ca: fs.readFileSync(caPath) });
    const rejectUnauthorized = config.tls.verify;
    tls.connect({ host, port, checkServerIdentity: (h, c) => tls.checkServerIdentity(h, c) });
    """
    assert fired(SECURITY, code, "tls-verification-disabled") == []


# --- randomness --------------------------------------------------------------------------------


def test_math_random_for_tokens_is_reported():
    code = """
    function createResetToken() {
      return Math.random().toString(36).slice(2);
    }
    const sessionId = Math.floor(Math.random() * 1e16).toString(16);
    user.apiKey = Math.random().toString(36);
    """
    assert fired(SECURITY, code, "insecure-random") == [2, 4, 5]


def test_math_random_for_jitter_and_ui_is_not():
    code = """
    const delayMs = 1000 * 2 ** attempt + Math.random() * 250;
    function pickColor(colors) {
      return colors[Math.floor(Math.random() * colors.length)];
    }
    const items = rows.map((r) => <Row key={Math.random()} row={r} />);
    """
    assert fired(SECURITY, code, "insecure-random", path="web/list.jsx") == []


# --- secrets -----------------------------------------------------------------------------------


def test_hard_coded_credentials_are_reported():
    code = """
    const STRIPE_KEY = 'sk_live_4eC39HqLyjWDarjtT1zdp7dc9';
    const config = {
      database: { user: 'app', password: 'r7#Tq9!vLm2x' },
    };
    class Mailer { apiKey = 'Zx8Qw3Rt6Yp1Lk9M'; }
    """
    assert fired(SECURITY, code, "hardcoded-secret") == [1, 3, 5]


def test_secret_names_without_secret_values_are_not():
    code = """
    const TOKEN_STORAGE_KEY = 'auth_token';
    const passwordField = 'password';
    const config = { password: process.env.DB_PASSWORD, tokenUrl: 'https://auth.example.com/token' };
    const secret = '<your-secret-here>';
    const help = `Paste a PEM key: -----BEGIN PRIVATE KEY----- ... -----END PRIVATE KEY-----`;
    """
    assert fired(SECURITY, code, "hardcoded-secret") == []


def test_fixture_passwords_in_tests_are_not_reported_but_real_token_formats_are():
    code = """
    const user = { email: 'a@b.c', password: 'Pa55w0rd!x' };
    const leaked = 'AKIAIOSFODNN7EXAMPLQ';
    const pem = "-----BEGIN RSA PRIVATE KEY-----\\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gunVTLw";
    """
    assert fired(SECURITY, code, "hardcoded-secret", path="src/__tests__/login.test.js") == [2, 3]


# --- quality: bug patterns ------------------------------------------------------------------------


def test_nan_and_typeof_typos_are_reported():
    code = """
    function parsePrice(input) {
      const value = parseFloat(input);
      if (value === NaN) return null;
      if (typeof input === 'numbr') return input;
      if (typeof input !== 'string') return null;
      return Number.isNaN(value) ? null : value;
    }
    """
    found = rules(QUALITY, code)
    assert ("nan-comparison", 3) in found
    assert ("invalid-typeof", 4) in found
    assert [r for r, line in found if line in (5, 6)] == []


def test_assignment_in_condition_is_reported_unless_double_parenthesised():
    code = """
    function next(user, re, text) {
      if (user.role = 'admin') grantAll(user);
      let match;
      while ((match = re.exec(text))) consume(match);
      if (user.role === 'admin') return true;
    }
    """
    assert fired(QUALITY, code, "assignment-in-condition") == [2]


def test_empty_catch_blocks_and_callbacks_are_reported_unless_commented():
    code = """
    async function load(path) {
      try {
        return JSON.parse(await fs.readFile(path, 'utf8'));
      } catch (err) {}
      try {
        await fs.unlink(path);
      } catch {
        // already gone: nothing to clean up
      }
      fetchStats().catch(() => {});
      fetchStats().catch((err) => logger.warn({ err }, 'stats unavailable'));
    }
    """
    assert fired(QUALITY, code, "empty-catch") == [4, 10]


# --- quality: leftovers and conventions -------------------------------------------------------------


def test_debugger_is_reported_with_a_deleting_suggestion():
    code = """
    function total(items) {
      debugger;
      return items.reduce((sum, i) => sum + i.price, 0);
    }
    const debuggerEnabled = false;
    """
    hits = [
        h.finding for h in QUALITY.analyze(js(code)).hits if h.finding.rule == "debugger-statement"
    ]
    assert [(f.line, f.suggestion) for f in hits] == [(2, "")]


def test_console_log_is_info_in_app_code_and_silent_in_scripts_and_tests():
    code = """
    export function save(order) {
      console.log('saving', order);
      console.error('failed to save', order.id);
      return repo.save(order);
    }
    """
    hits = [h.finding for h in QUALITY.analyze(js(code)).hits if h.finding.rule == "console-log"]
    assert [(f.line, f.severity) for f in hits] == [(2, Severity.INFO)]
    assert fired(QUALITY, code, "console-log", path="scripts/migrate.js") == []
    assert fired(QUALITY, code, "console-log", path="src/order.test.js") == []


def test_loose_equality_is_reported_with_a_fix_in_strict_files():
    code = """
    export function status(order, code) {
      if (order.state === 'paid' && order.total !== 0) return 'ok';
      if (code == 200) return 'ok';
      if (order.coupon == null) return 'plain';
      if (typeof code == 'string') return 'text';
      return 'unknown';
    }
    """
    hits = [h.finding for h in QUALITY.analyze(js(code)).hits if h.finding.rule == "loose-equality"]
    assert [(f.line, f.suggestion) for f in hits] == [(3, "  if (code === 200) return 'ok';")]


def test_loose_equality_is_not_reported_in_files_that_compare_loosely_throughout():
    code = """
    function legacy(a, b, c) {
      if (a == 1) return b;
      if (b != '') return c;
      if (c === 3) return a;
    }
    """
    assert fired(QUALITY, code, "loose-equality") == []


def test_var_is_reported_where_the_file_uses_let_or_const_but_not_in_es5_files():
    modern = """
    const limit = 10;
    function page(items) {
      var start = 0;
      return items.slice(start, limit);
    }
    """
    legacy = """
    var limit = 10;
    function page(items) {
      var start = 0;
      return items.slice(start, limit);
    }
    """
    assert fired(QUALITY, modern, "var-declaration") == [3]
    assert fired(QUALITY, legacy, "var-declaration") == []


def test_eslint_disable_comments_switch_rules_off():
    code = """
    /* eslint-disable no-console */
    function run(input) {
      console.log(input);
      // eslint-disable-next-line no-eval -- sandboxed expression evaluator
      return eval(input);
    }
    const other = eval(input); // eslint-disable-line
    const last = eval(input);
    """
    assert fired(QUALITY, code, "console-log") == []
    assert fired(SECURITY, code, "eval-use") == [8]


# --- quality: size -------------------------------------------------------------------------------


def test_complex_and_long_functions_are_reported():
    branches = "\n".join(
        f"  if (order.kind === 'k{i}' && order.total > {i}) fee += {i};" for i in range(12)
    )
    padding = "\n".join(f"  fee += lookup({i});" for i in range(70))
    code = f"function fee(order) {{\n  let fee = 0;\n{branches}\n{padding}\n  return fee;\n}}\n"
    source = SourceFile("src/fees.ts", code, frozenset({5}))
    found = {h.finding.rule: h for h in QUALITY.analyze(source).hits}
    assert found["high-complexity"].finding.severity is Severity.HIGH  # 1 + 12 ifs + 12 && = 25
    assert found["high-complexity"].anchor == "function fee"
    assert found["long-function"].finding.line == 1


def test_short_simple_functions_and_untouched_complex_ones_are_not():
    branches = "\n".join(f"  if (x === {i}) return {i};" for i in range(15))
    code = f"const small = (a) => a + 1;\nfunction big(x) {{\n{branches}\n}}\n"
    source = SourceFile("src/fees.js", code, frozenset({1}))
    assert [h.finding.rule for h in QUALITY.analyze(source).hits] == []
    tree = parse(source)
    big = tree.nodes("function_declaration")[0]
    assert cyclomatic_complexity(big) == 16


# --- robustness -----------------------------------------------------------------------------------


def test_findings_after_a_syntax_error_survive():
    code = """
    function broken(req {
      if (req.x === 1 {
        return
    }

    app.get('/run', (req, res) => {
      res.send(String(eval(req.query.expr)));
    });

    app.get('/users', async (req, res) => {
      const rows = await db.query("SELECT * FROM users WHERE name = '" + req.query.name + "'");
      try { await audit(rows); } catch (err) {}
      res.json(rows);
    });
    """
    assert parse(js(code)).has_errors
    assert fired(SECURITY, code, "eval-use") == [7]
    assert fired(SECURITY, code, "sql-injection") == [11]
    assert fired(QUALITY, code, "empty-catch") == [12]


def test_an_unterminated_template_does_not_hide_later_functions():
    code = "const banner = `Hello ${user.name};\n\nfunction run(req) {\n  return eval(req.body.code);\n}\n"
    assert fired(SECURITY, code, "eval-use") == [4]


def test_strings_and_comments_mentioning_sinks_do_not_fire():
    code = """
    // never call eval(userInput) or set el.innerHTML = userInput here
    const help = "use db.query('SELECT ' + x) carefully; rejectUnauthorized: false is bad";
    """
    assert rules(SECURITY, code) == []


def test_a_large_file_is_analysed_quickly():
    block = textwrap.dedent(
        """
        export async function handler{n}(req, res) {{
          const rows = await db.query('SELECT * FROM t WHERE id = $1', [req.params.id]);
          if (rows.length === 0 && req.query.strict) {{ return res.status(404).end(); }}
          return res.json(rows.map((r) => ({{ id: r.id, name: r.name }})));
        }}
        """
    )
    text = "".join(block.format(n=n) for n in range(400))  # ~2,400 lines
    source = SourceFile("src/big.ts", text, frozenset(range(1, text.count("\n") + 2)))
    started = time.perf_counter()
    SECURITY.analyze(source)
    QUALITY.analyze(source)
    assert time.perf_counter() - started < 2.0


def test_analyze_all_stops_at_the_deadline_with_skip_notes():
    sources = [js("eval(x);", path=f"src/f{i}.js") for i in range(3)]
    output = SECURITY.analyze_all(sources, deadline=time.monotonic() - 1)
    assert [note.path for note in output.skipped] == [s.path for s in sources]
    assert output.hits == []


# --- plumbing -------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["a.js", "a.jsx", "a.mjs", "a.cjs", "a.ts", "a.tsx"])
def test_intake_lets_js_and_ts_through_without_a_python_parse(path):
    text = "const f = (x: number) => x + 1;\nexport default f;\n"
    prepared = intake(ChangedFile(path=path, status=FileStatus.ADDED, head_content=text))
    assert isinstance(prepared, SourceFile)
    assert prepared.tree is None
    assert SECURITY.handles(path) and QUALITY.handles(path)


def test_intake_skips_minified_bundles_but_still_reports_python_syntax_errors():
    minified = intake(
        ChangedFile(path="static/app.min.js", status=FileStatus.ADDED, head_content="var a=1;\n")
    )
    long_line = intake(
        ChangedFile(path="static/vendor.js", status=FileStatus.ADDED, head_content="x;" * 3000)
    )
    python = intake(ChangedFile(path="a.py", status=FileStatus.ADDED, head_content="def f(:\n"))
    assert isinstance(minified, SkipNote) and "minified" in minified.reason
    assert isinstance(long_line, SkipNote) and "minified" in long_line.reason
    assert isinstance(python, SkipNote) and "syntax error" in python.reason


def test_registered_and_typed():
    assert ANALYZERS["js-security"].category is Category.SECURITY
    assert ANALYZERS["js-quality"].category is Category.QUALITY
    assert not ANALYZERS["js-security"].handles("app/models.py")
    assert not ANALYZERS["bandit"].handles("web/app.ts")


def test_agents_review_changed_js_lines_only():
    from reviewer.agents.registry import run_agent
    from reviewer.snapshot import PullRequestSnapshot

    head = textwrap.dedent(
        """
        const express = require('express');
        const app = express();
        app.get('/old', (req, res) => res.send(eval(req.query.a)));
        app.get('/new', (req, res) => {
          debugger;
          res.send(eval(req.query.b));
        });
        """
    ).lstrip("\n")
    patch = "@@ -3,1 +3,5 @@\n app.get('/old', (req, res) => res.send(eval(req.query.a)));\n"
    patch += "".join(f"+{line}\n" for line in head.splitlines()[3:7])
    snapshot = PullRequestSnapshot(
        repo="acme/shop",
        files=[ChangedFile(path="src/app.js", patch=patch, head_content=head, additions=4)],
    )
    security = run_agent("security", snapshot)
    quality = run_agent("quality", snapshot)
    assert security.status == "ok" and quality.status == "ok", (security.error, quality.error)
    assert [(f.rule, f.line) for f in security.findings] == [("eval-use", 6)]
    assert ("debugger-statement", 5) in [(f.rule, f.line) for f in quality.findings]
    assert not any("syntax error" in note.reason for note in security.skipped + quality.skipped)
