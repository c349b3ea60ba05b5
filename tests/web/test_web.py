#!/usr/bin/python3
"""test_web.py - the web page (docs/web.md) in a real headless Chromium
against a real chatd node, and its HTTP guards from outside the browser.

Run by tests/e2e/test_web.sh (which builds chatd and passes the paths in
the environment: TOP, LIVEMOD, CHATD_BUILD). Each scenario prints
"ok - NAME" or "not ok - NAME" with every failed assertion; the last line
is "test_web: N passed, N failed"; the exit status is 1 when any failed.
Waits are WebDriverWait or bounded polls on a state, never sleeps.
With LM_WEB_SCREENSHOT=FILE the page is saved to FILE after the update.
"""
import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import traceback

from selenium import webdriver
from selenium.common.exceptions import (NoSuchElementException,
                                        StaleElementReferenceException,
                                        TimeoutException)
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

TOP = os.environ["TOP"]
LIVEMOD = os.environ.get("LIVEMOD", TOP + "/build/livemod")
CB = os.environ.get("CHATD_BUILD", TOP + "/build/chatd")
WAIT_S = 20

failures = []


def check(cond, what):
    """Records an assertion; the scenario fails with every false one."""
    if not cond:
        failures.append(what)
    return cond


# ---- the node ---------------------------------------------------------------

class Node:
    """A chatd node on a fresh state dir with the v1 modules."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="lmweb.")
        self.lib = self.dir + "/lib"
        self.state = self.dir + "/state"
        os.mkdir(self.lib)
        for name in ("mod_util", "mod_messager", "mod_motd"):
            self.install(CB + "/v1/" + name + ".so", name)
        self.lm("init", "--libdir", self.lib, "--app", "chatd")
        self.start()

    def start(self):
        self.err = open(self.dir + "/chatd.err", "w+")
        self.proc = subprocess.Popen(
            [CB + "/chatd", "--listen", "127.0.0.1:0", "--state",
             self.state, "--http", "127.0.0.1:0"],
            stdout=subprocess.DEVNULL, stderr=self.err)
        deadline = time.monotonic() + WAIT_S
        log = ""
        while "chatd: ready" not in log:
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError("chatd did not start: " + log)
            time.sleep(0.05)  # polling chatd's log for "ready", bounded
            with open(self.dir + "/chatd.err") as f:
                log = f.read()
        self.chat_port = int(re.search(r"listening on 127\.0\.0\.1:(\d+)",
                                       log).group(1))
        self.http_port = int(re.search(r"control API on http://127\.0\.0\.1:"
                                       r"(\d+)", log).group(1))
        with open(self.state + "/token") as f:
            self.token = f.read().strip()

    def lm(self, *args, ok=True):
        r = subprocess.run([LIVEMOD, "--state", self.state] + list(args),
                           capture_output=True, text=True, timeout=60)
        if ok and r.returncode != 0:
            raise RuntimeError("livemod %s: exit %d: %s" %
                               (" ".join(args), r.returncode, r.stderr))
        return r

    def lmjson(self, *args):
        return json.loads(self.lm("--json", *args).stdout)

    def install(self, src, name):
        """As `make install` does: a new file renamed into place."""
        tmp = "%s/.%s.tmp" % (self.lib, name)
        shutil.copyfile(src, tmp)
        os.rename(tmp, "%s/%s.so" % (self.lib, name))

    def running(self):
        """{module: vsn} as `livemod status --json` reports."""
        return {m["name"]: m["vsn"] for m in self.lmjson("status")["modules"]}

    def kill(self):
        self.proc.kill()
        self.proc.wait(timeout=10)
        self.err.close()

    def stop(self):
        self.err.close()
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


class ChatClient:
    """One chatd connection kept open across updates."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""
        self.line()  # the motd

    def line(self):
        while b"\n" not in self.buf:
            data = self.sock.recv(4096)
            if not data:
                raise RuntimeError("chatd closed the connection")
            self.buf += data
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode()

    def version(self):
        self.sock.sendall(b"/version\n")
        return self.line()


def build_motd(node, vsn, text):
    """A chatd mod_motd built from `text`, C after chatd_api.h."""
    src = "%s/mod_motd_%s.c" % (node.dir, vsn)
    with open(src, "w") as f:
        f.write('#include <stdio.h>\n#include "chatd_api.h"\n' + text)
    out = "%s/mod_motd_%s.so" % (node.dir, vsn)
    subprocess.run(["cc", "-std=c11", "-D_GNU_SOURCE", "-Wall", "-Werror",
                    "-shared", "-fPIC", "-fno-gnu-unique",
                    "-I" + TOP + "/include", "-I" + TOP + "/examples/chatd",
                    "-o", out, src], check=True)
    return out


def build_check_failing_motd(node):
    """A mod_motd 1.2.0 whose motd export changed its signature: chatd
    holds a reference to motd as int (lm_task *, char *, size_t), so the
    check must refuse it."""
    return build_motd(node, "1.2.0",
                      'LM_MODULE(mod_motd, "1.2.0", .purge = LM_SOFT_PURGE);\n'
                      'LM_EXPORT(mod_motd, motd, long (lm_task *, char *, size_t));\n'
                      'static long motd(lm_task *t, char *out, size_t cap)\n'
                      '{ (void)t; return snprintf(out, cap, "motd broken"); }\n')


def build_unbootable_motd(node):
    """A mod_motd 1.3.0 that goes live through code_change but whose init
    fails: the node runs it, and cannot boot it after a restart."""
    return build_motd(node, "1.3.0",
                      'static int init(void **s) { *s = NULL; return -1; }\n'
                      'static int code_change(lm_change_mode m, const char *v,'
                      ' void *o, const char *e, void **n)\n'
                      '{ (void)m; (void)v; (void)o; (void)e; *n = NULL; '
                      'return 0; }\n'
                      'LM_MODULE(mod_motd, "1.3.0", .purge = LM_SOFT_PURGE,'
                      ' .init = init, .code_change = code_change);\n'
                      'LM_EXPORT(mod_motd, motd, int (lm_task *, char *, size_t));\n'
                      'static int motd(lm_task *t, char *out, size_t cap)\n'
                      '{ (void)t; return snprintf(out, cap, "motd 1.3"); }\n')


# ---- outside the browser -----------------------------------------------------

def raw(node, method, path, headers=None, host=None):
    c = http.client.HTTPConnection("127.0.0.1", node.http_port, timeout=10)
    c.putrequest(method, path, skip_host=True)
    c.putheader("Host", host or "127.0.0.1:%d" % node.http_port)
    for k, v in (headers or {}).items():
        c.putheader(k, v)
    c.endheaders()
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, body


# ---- the browser --------------------------------------------------------------

def browser(profile):
    o = webdriver.ChromeOptions()
    o.binary_location = "/usr/bin/chromium"
    o.add_argument("--headless=new")
    if os.geteuid() == 0:
        o.add_argument("--no-sandbox")
    o.add_argument("--user-data-dir=" + profile)
    o.add_argument("--window-size=1280,1000")
    o.add_argument("--disable-dev-shm-usage")
    o.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"),
                            options=o)


def text(d, css):
    return d.find_element(By.CSS_SELECTOR, css).text


def wait_for(d, what, fn):
    try:
        return WebDriverWait(d, WAIT_S).until(lambda _: fn())
    except TimeoutException:
        failures.append("timed out waiting for " + what)
        return None


def click(d, css):
    """Clicks the element `css` in the history tables, which the page
    renders again whenever the history changes (the reaper's note of an
    unload lands just after an apply): a button found just before may be
    gone, so find it again."""
    def attempt():
        try:
            d.find_element(By.CSS_SELECTOR, css).click()
            return True
        except (StaleElementReferenceException, NoSuchElementException):
            return False
    return wait_for(d, "a click on " + css, attempt)


def wait_text(d, css, want):
    """Waits until the element `css` shows text containing `want`."""
    def shows():
        els = d.find_elements(By.CSS_SELECTOR, css)
        return els and want in els[0].text
    return wait_for(d, "%s to show %r" % (css, want), shows)


def cli_scripts(node):
    """The script and low level script lines as `livemod update_info`
    prints them."""
    out = node.lm("update_info").stdout
    script = re.search(r"^script: .*?(?=^low level script: )", out,
                       re.S | re.M).group(0).rstrip("\n")
    low = re.search(r"^low level script: .*?(?=^check: )", out,
                    re.S | re.M).group(0).rstrip("\n")
    return script, low


# ---- scenarios ------------------------------------------------------------------

def t_token_and_modules(d, node, url):
    d.get(url)
    wait_for(d, "the modules view", lambda: d.find_elements(
        By.CSS_SELECTOR, '#modules-body tr[data-module="mod_motd"]'))
    check("token" not in d.current_url,
          "the token is still in the address bar: " + d.current_url)
    check(d.current_url.endswith("/ui/"), "address: " + d.current_url)
    check(d.execute_script("return sessionStorage.getItem('livemod.token')")
          == node.token, "the token is not in sessionStorage")
    check(d.execute_script("return document.cookie") == "",
          "the page set a cookie")
    for name, vsn in node.running().items():
        shown = text(d, '#modules-body tr[data-module="%s"] .vsn' % name)
        check(shown == vsn, "modules view: %s shows %r, node runs %r" %
              (name, shown, vsn))
    wait_text(d, "#node-status", "Release 1 is current and permanent")


def t_pending_and_update_selected(d, node, client):
    before = client.version()
    check("mod_motd 1.0.0" in before, "before: " + before)
    runs0 = len(node.lmjson("history")["runs"])
    node.install(CB + "/v2/mod_motd.so", "mod_motd")
    node.install(CB + "/v2/mod_util.so", "mod_util")
    d.find_element(By.ID, "pending-refresh").click()
    wait_for(d, "mod_motd in pending", lambda: d.find_elements(
        By.ID, "pending-mod_motd"))
    check(d.find_elements(By.ID, "pending-mod_util"),
          "mod_util not in pending")
    script, low = cli_scripts(node)
    print("    CLI: " + script.replace("\n", "\n         "))
    print("    CLI: " + low.replace("\n", "\n         "))
    check(text(d, "#script") == script, "script: page %r, CLI %r" %
          (text(d, "#script"), script))
    check(text(d, "#low-level-script") == low, "low level script: page "
          "%r, CLI %r" % (text(d, "#low-level-script"), low))
    check(text(d, "#pending-check") == "{ok,[]}",
          "check: " + text(d, "#pending-check"))
    # select all, then keep mod_motd only, with the keyboard
    d.find_element(By.ID, "select-all").send_keys(Keys.SPACE)
    check(d.find_element(By.ID, "pending-mod_util").is_selected(),
          "select all did not select mod_util")
    d.find_element(By.ID, "pending-mod_util").send_keys(Keys.SPACE)
    check(not d.find_element(By.ID, "select-all").is_selected(),
          "select all still checked with one module off")
    d.find_element(By.ID, "update-selected").click()
    wait_text(d, "#result-status", "Update selected: 200 ok")
    check(text(d, "#result-check") == "{ok,[]}",
          "result check: " + text(d, "#result-check"))
    check(text(d, "#result-eval") == "{ok,[]}",
          "result eval: " + text(d, "#result-eval"))
    check("total" in text(d, "#result-timings"), "no timings shown")
    hist = node.lmjson("history")
    check(len(hist["runs"]) == runs0 + 1, "history runs: %d, want %d" %
          (len(hist["runs"]), runs0 + 1))
    run = hist["runs"][0]["id"]
    wait_for(d, "run %d in the history view" % run, lambda: d.find_elements(
        By.CSS_SELECTOR, '#runs-body tr[data-run="%d"]' % run))
    after = client.version()
    print("    open connection: " + after)
    check("mod_motd 1.1.0" in after, "/version after the update: " + after)
    check("mod_util 1.0.0" in after, "mod_util moved though unselected: "
          + after)
    check(node.running()["mod_motd"] == "1.1.0", "status: mod_motd " +
          node.running()["mod_motd"])
    wait_for(d, "mod_util alone pending", lambda: d.find_elements(
        By.ID, "pending-mod_util") and not d.find_elements(
        By.ID, "pending-mod_motd"))
    shot = os.environ.get("LM_WEB_SCREENSHOT")
    if shot:
        d.set_window_size(1280, 2300)
        wait_text(d, '#modules-body tr[data-module="mod_motd"] .vsn', "1.1.0")
        d.save_screenshot(shot)
        d.set_window_size(1280, 1000)


def t_rollback_to_1(d, node, client):
    rel = node.lmjson("history")["current"]
    check(rel != 1, "not moved off release 1")
    click(d, '.rollback[data-release="1"]')
    wait_for(d, "the confirmation", lambda: d.find_element(
        By.ID, "confirm").is_displayed())
    check(d.switch_to.active_element.get_attribute("id") == "confirm-yes",
          "focus not on the confirm button")
    # Escape cancels: nothing happens
    d.switch_to.active_element.send_keys(Keys.ESCAPE)
    check(not d.find_element(By.ID, "confirm").is_displayed(),
          "Escape did not close the confirmation")
    check(node.lmjson("history")["current"] == rel, "cancel moved the node")
    click(d, '.rollback[data-release="1"]')
    wait_for(d, "the confirmation", lambda: d.find_element(
        By.ID, "confirm").is_displayed())
    d.switch_to.active_element.send_keys(Keys.ENTER)
    wait_text(d, "#result-status", "Roll back to 1: 200 ok")
    check("down" in text(d, "#result-plan"), "not a downgrade: " +
          text(d, "#result-plan"))
    hist = node.lmjson("history")
    check(hist["current"] == 1, "livemod history: current %s" %
          hist["current"])
    check(node.running()["mod_motd"] == "1.0.0", "status after rollback: "
          + json.dumps(node.running()))
    v = client.version()
    print("    open connection after rollback: " + v)
    check("mod_motd 1.0.0" in v, "/version after rollback: " + v)
    wait_text(d, "#node-status", "Release 1 is current")


def t_try_and_make_permanent(d, node):
    d.find_element(By.ID, "pending-refresh").click()
    wait_for(d, "pending modules", lambda: d.find_elements(
        By.ID, "pending-mod_motd"))
    d.find_element(By.ID, "try").click()
    d.find_element(By.ID, "update-all").click()
    wait_text(d, "#result-status", "Update all: 200 ok")
    check("not permanent" in text(d, "#result-message"),
          "try: " + text(d, "#result-message"))
    d.find_element(By.ID, "try").click()
    hist = node.lmjson("history")
    cur = hist["current"]
    check(hist["permanent"] == 1 and cur != 1, "after try: current %s "
          "permanent %s" % (cur, hist["permanent"]))
    sel = '.make-permanent[data-release="%d"]' % cur
    wait_for(d, "Make permanent on release %d" % cur,
             lambda: d.find_elements(By.CSS_SELECTOR, sel))
    click(d, sel)
    wait_text(d, "#result-status", "Make permanent: 200 ok")
    hist = node.lmjson("history")
    check(hist["permanent"] == cur, "permanent %s, want %s" %
          (hist["permanent"], cur))


def t_apply_reviewed_plan(d, node, client):
    """A plan made with the CLI, reviewed on the page by id and applied:
    the page sends the plan text back as reviewed, which the node compares
    byte for byte with the recorded one."""
    node.install(CB + "/v2/mod_messager.so", "mod_messager")
    plan = node.lmjson("plan")
    pid = plan["id"]
    field = d.find_element(By.ID, "plan-id")
    field.clear()
    field.send_keys(str(pid) + Keys.ENTER)
    wait_text(d, "#plan-summary", "Plan %d:" % pid)
    check("mod_messager changed" in text(d, "#plan-summary"),
          "summary: " + text(d, "#plan-summary"))
    check(d.switch_to.active_element.get_attribute("id") == "plan-apply",
          "focus not on the apply button after review")
    d.switch_to.active_element.send_keys(Keys.ENTER)
    wait_text(d, "#result-status", "Apply plan %d: 200 ok" % pid)
    check(text(d, "#result-eval") == "{ok,[]}", "eval: " +
          text(d, "#result-eval"))
    v = client.version()
    print("    open connection: " + v)
    check("mod_messager 2.0.0" in v, "/version: " + v)


def t_wrong_token(d, node, url):
    bad = url.split("#")[0] + "#token=" + "0" * 64
    d.get(bad)
    wait_text(d, "#alert", "401 unauthorized")
    check("token" in text(d, "#alert"), "alert: " + text(d, "#alert"))
    check(d.find_element(By.ID, "token-form").is_displayed(),
          "no token form after a 401")
    check("token" not in d.current_url, "bad token left in the address")
    # the good one, typed into the form
    d.find_element(By.ID, "token-input").send_keys(node.token + Keys.ENTER)
    wait_for(d, "the alert to go", lambda: not d.find_element(
        By.ID, "alert").is_displayed())


def t_check_failed(d, node, client):
    bad = build_check_failing_motd(node)
    before = node.running()
    rel = node.lmjson("history")["current"]
    node.install(bad, "mod_motd")
    d.find_element(By.ID, "pending-refresh").click()
    wait_text(d, "#pending-list", "1.2.0")
    d.find_element(By.ID, "pending-mod_motd").send_keys(Keys.SPACE)
    d.find_element(By.ID, "update-selected").send_keys(Keys.ENTER)
    wait_text(d, "#result-status", "422 check_failed")
    print("    " + text(d, "#result-status"))
    print("    " + text(d, "#result-message"))
    check("nothing changed" in text(d, "#result-status"),
          "status: " + text(d, "#result-status"))
    check("mod_motd" in text(d, "#result-message"),
          "message: " + text(d, "#result-message"))
    check(text(d, "#result-check").startswith("{error,"),
          "check: " + text(d, "#result-check"))
    check(text(d, "#result-eval") == "not reached",
          "eval: " + text(d, "#result-eval"))
    check(node.running() == before, "node moved: %s -> %s" %
          (before, node.running()))
    check(node.lmjson("history")["current"] == rel, "release moved")
    v = client.version()
    check("mod_motd " + before["mod_motd"] in v, "/version: " + v)


def t_boot_fallback(d, node):
    """A release whose init fails goes live through code_change; the node
    is killed and boots the release before it: the page says so."""
    node.install(build_unbootable_motd(node), "mod_motd")
    node.lm("update", "mod_motd")
    bad = node.lmjson("history")["current"]
    node.kill()
    # a killed node leaves STATE/http: `livemod web` finds nobody there
    r = node.lm("web", ok=False)
    check(r.returncode == 3 and "no running node" in r.stderr,
          "livemod web, node killed: exit %d %s" % (r.returncode, r.stderr))
    node.start()
    url = node.lm("web").stdout.strip()
    d.get(url)
    wait_text(d, "#fallback", "release %d failed to boot" % bad)
    print("    " + text(d, "#fallback"))
    check("init" in text(d, "#fallback"), "no reason: " + text(d, "#fallback"))
    row = '#releases-body tr[data-release="%d"] .state' % bad
    wait_text(d, row, "boot failed")
    print("    release %d: %s" % (bad, text(d, row)))
    check(node.running()["mod_motd"] != "1.3.0", "node runs the unbootable "
          "release")


def t_clean_stop(node):
    """A node stopped cleanly removes STATE/http; `livemod web` says no
    node runs (exit 3)."""
    node.proc.terminate()
    node.proc.wait(timeout=10)
    check(not os.path.exists(node.state + "/http"), "STATE/http left")
    r = node.lm("web", ok=False)
    print("    livemod web: exit %d: %s" % (r.returncode, r.stderr.strip()))
    check(r.returncode == 3, "livemod web without a node: exit %d" %
          r.returncode)


def t_console(d):
    """Nothing the page did was refused by its own Content-Security-Policy,
    and its script threw nothing (HTTP errors it was asked to show aside);
    and the browser does enforce the policy: an inline script is refused."""
    log = d.get_log("browser")
    bad = [e["message"] for e in log
           if "Content Security Policy" in e["message"] or
           "Uncaught" in e["message"]]
    print("    console: %d entries, %d CSP violations or uncaught errors" %
          (len(log), len(bad)))
    check(not bad, "browser console: %s" % bad)
    d.execute_script("window.lmInline = 0; var s = document.createElement("
                     "'script'); s.textContent = 'window.lmInline = 1';"
                     " document.body.append(s);")
    check(d.execute_script("return window.lmInline") == 0,
          "an inline script ran despite the CSP")
    check(any("Content Security Policy" in e["message"]
              for e in d.get_log("browser")), "no CSP refusal logged")


def t_keyboard(d):
    """From the page's first stop (the skip link), Tab alone reaches every
    enabled control of every view and the scrollable tables, in the
    page's order, and comes round."""
    d.execute_script("document.querySelector('.skip').focus()")
    loop = ["skip"]
    for _ in range(12):
        d.switch_to.active_element.send_keys(Keys.TAB)
        e = d.switch_to.active_element
        loop.append(e.get_attribute("id") or e.get_attribute("aria-label")
                    or e.get_attribute("class") or e.tag_name)
    print("    Tab: " + " ".join(loop))
    want = ["skip", "Loaded modules table", "pending-refresh", "script",
            "low-level-script", "try", "plan-id", "plan-review",
            "Releases table", "Apply runs table", "forget-token"]
    for w in want:
        check(w in loop, "Tab never reaches %s" % w)
    order = [loop.index(w) for w in want if w in loop]
    check(order == sorted(order), "Tab order: %s" % loop)


def t_narrow_screen(d):
    d.set_window_size(390, 844)
    over = d.execute_script("return document.documentElement.scrollWidth - "
                            "document.documentElement.clientWidth")
    check(over <= 0, "the page is %d px wider than a 390 px screen" % over)
    d.set_window_size(1280, 1000)


def t_outside_browser(node):
    tok = {"Authorization": "Bearer " + node.token}
    st, h, body = raw(node, "GET", "/health", tok,
                       host="evil.example:%d" % node.http_port)
    print("    foreign Host: %d %s" % (st, body.decode().split("\n")[2]
                                        if body.count(b"\n") > 2 else body))
    check(st == 421, "foreign Host: %d" % st)
    check(b"wrong_host" in body, "foreign Host body: %r" % body)
    for host in ("attacker.test", "127.0.0.1", "localhost",
                 "127.0.0.1:%d" % (node.http_port + 1),
                 "localhost.attacker.test:%d" % node.http_port):
        st, h, body = raw(node, "GET", "/ui/", host=host)
        check(st == 421, "Host %s on /ui/: %d" % (host, st))
    st, h, body = raw(node, "GET", "/ui/", host="LocalHost:%d" %
                      node.http_port)
    check(st == 200, "Host LocalHost:PORT: %d" % st)
    st, h, body = raw(node, "OPTIONS", "/update-modules", {
        "Origin": "http://evil.example",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization"})
    print("    CORS preflight: %d, headers %s" % (st, sorted(h)))
    check(not any(k.startswith("access-control-") for k in h),
          "CORS headers on a preflight: %s" % h)
    st, h, body = raw(node, "GET", "/health",
                       dict(tok, Origin="http://evil.example"))
    check(st == 200 and "access-control-allow-origin" not in h,
          "CORS on an API answer: %d %s" % (st, h))
    check(h.get("cache-control") == "no-store", "API Cache-Control: %s" %
          h.get("cache-control"))
    st, h, body = raw(node, "GET", "/ui/", host="localhost:%d" %
                       node.http_port)
    print("    /ui/: %d, CSP %r" % (st, h.get("content-security-policy")))
    check(st == 200, "/ui/: %d" % st)
    check(h.get("content-security-policy") ==
          "default-src 'self'; frame-ancestors 'none'", "CSP: %s" %
          h.get("content-security-policy"))
    check(h.get("x-content-type-options") == "nosniff", "nosniff: %s" %
          h.get("x-content-type-options"))
    check(h.get("referrer-policy") == "no-referrer", "Referrer-Policy: %s"
          % h.get("referrer-policy"))
    check("set-cookie" not in h, "a cookie: %s" % h.get("set-cookie"))
    check(b"<script" in body and b"<script>" not in body,
          "inline script in the page")
    for path, ctype in (("/ui/app.js", "text/javascript"),
                        ("/ui/style.css", "text/css")):
        st, h, body = raw(node, "GET", path)
        check(st == 200 and h.get("content-type", "").startswith(ctype),
              "%s: %d %s" % (path, st, h.get("content-type")))
    # POST /make-permanent's bad bodies: 400 naming the field, nothing
    # changed
    before = node.lmjson("history")
    for sent, want in (('{"release": "2"}', "release: expected a release id"),
                       ('{"release": 1.5}', "release: expected a release id"),
                       ('{"to": 1}', "unknown field 'to'"),
                       ('[1]', "expected an object"),
                       ('{"release": 99}', "only the release it runs"),
                       ('{"release":', "not JSON")):
        c = http.client.HTTPConnection("127.0.0.1", node.http_port, timeout=10)
        c.request("POST", "/make-permanent", sent, tok)
        r = c.getresponse()
        got = r.read().decode()
        c.close()
        check(r.status == 400 and want in got,
              "make-permanent %s: %d %s" % (sent, r.status, got))
    check(node.lmjson("history") == before, "a refused make-permanent "
          "changed the history")
    st, h, body = raw(node, "GET", "/ui/x")
    check(st == 404 and b"not_found" in body, "/ui/x: %d %r" % (st, body))
    st, h, body = raw(node, "POST", "/ui/")
    check(st == 405, "POST /ui/: %d" % st)
    # the unix socket serves no page
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(10)
    s.connect(node.state + "/agent.sock")
    s.sendall(b"GET /ui/ HTTP/1.1\r\nHost: localhost\r\nConnection: close"
              b"\r\n\r\n")
    got = b""
    while True:
        data = s.recv(4096)
        if not data:
            break
        got += data
    s.close()
    check(got.startswith(b"HTTP/1.1 404"), "/ui/ on agent.sock: %r" %
          got[:40])


def main():
    node = Node()
    profile = tempfile.mkdtemp(prefix="lmweb-chromium.")
    d = None
    passed = failed = 0
    try:
        url = node.lm("web").stdout.strip()
        print("# livemod web: " + re.sub(r"token=\w+", "token=...", url))
        check(url == "http://127.0.0.1:%d/ui/#token=%s" %
              (node.http_port, node.token), "livemod web printed " + url)
        d = browser(profile)
        client = ChatClient(node.chat_port)
        scenarios = [
            ("t_token_and_modules", lambda: t_token_and_modules(d, node, url)),
            ("t_narrow_screen", lambda: t_narrow_screen(d)),
            ("t_keyboard", lambda: t_keyboard(d)),
            ("t_pending_and_update_selected",
             lambda: t_pending_and_update_selected(d, node, client)),
            ("t_rollback_to_1", lambda: t_rollback_to_1(d, node, client)),
            ("t_try_and_make_permanent",
             lambda: t_try_and_make_permanent(d, node)),
            ("t_apply_reviewed_plan",
             lambda: t_apply_reviewed_plan(d, node, client)),
            ("t_wrong_token", lambda: t_wrong_token(d, node, url)),
            ("t_check_failed", lambda: t_check_failed(d, node, client)),
            ("t_outside_browser", lambda: t_outside_browser(node)),
            ("t_boot_fallback", lambda: t_boot_fallback(d, node)),
            ("t_console", lambda: t_console(d)),
            ("t_clean_stop", lambda: t_clean_stop(node)),
        ]
        for name, fn in scenarios:
            failures.clear()
            t0 = time.monotonic()
            try:
                fn()
            except Exception:
                failures.append(traceback.format_exc())
            took = time.monotonic() - t0
            if failures:
                failed += 1
                print("not ok - %s (%.1f s)" % (name, took))
                for f in failures:
                    print("    FAIL: " + f.replace("\n", "\n    "))
            else:
                passed += 1
                print("ok - %s (%.1f s)" % (name, took))
            sys.stdout.flush()
    finally:
        if d:
            d.quit()
        node.stop()
        shutil.rmtree(profile, ignore_errors=True)
    print("test_web: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
