#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""Drives the "API tokens" Cockpit page in headless Chromium (make check-cockpit).

Started by tests/cockpit/check-cockpit.sh, which has started tokend and
cockpit-ws and created the test user; the environment says where they are.
Each step waits for what it expects (never a fixed sleep), takes a
screenshot into $ARTIFACTS, and the first step that fails ends the run with
a FAIL-*.png of what the browser showed.  Last line:
"browser: N passed, M failed".
"""

import calendar
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select, WebDriverWait

ENV = os.environ
URL = ENV["COCKPIT_URL"]
USER = ENV["WEB_USER"]
PASSWORD = ENV["WEB_PW"]            # the login password, and tokend's PAM password
KEY = ENV["KEY_ME"]                 # the test user's TOTP key (hex)
SOCK = ENV["SOCK"]
TCTL = ENV["TCTL"]
PAMDIR = ENV["PAMDIR"]
CONF = ENV["CONF"]
DAEMON_PID = int(ENV["DAEMON_PID"])
ARTIFACTS = ENV["ARTIFACTS"]
FRAME = "cockpit1:localhost/tokend"
WAIT = 30                           # seconds any one condition may take


class Failed(Exception):
    pass


class Browser:
    def __init__(self):
        self.passed = 0
        self.shots = 0
        self.step = "start"
        opts = webdriver.ChromeOptions()
        opts.binary_location = "/usr/bin/chromium"
        self.profile = tempfile.mkdtemp(prefix="tokend-chromium.")
        for a in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--window-size=1200,760",
                  "--lang=en-US", "--user-data-dir=" + self.profile):
            opts.add_argument(a)
        opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        self.d = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
        self.d.set_page_load_timeout(WAIT)
        self.d.execute_cdp_cmd("Browser.grantPermissions", {
            "origin": URL, "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"]})

    def close(self):
        try:
            self.d.quit()
        finally:
            subprocess.run(["rm", "-rf", self.profile])

    # ------------------------------------------------------------ reporting

    def ok(self, name, cond=True, detail=""):
        if not cond:
            raise Failed(name + (": " + str(detail) if detail != "" else ""))
        self.passed += 1
        print("  ok   " + name, flush=True)

    def shot(self, name):
        self.shots += 1
        path = os.path.join(ARTIFACTS, "%02d-%s.png" % (self.shots, name))
        self.d.save_screenshot(path)

    # ------------------------------------------------------------ page access

    def wait(self, cond, what, timeout=WAIT):
        try:
            return WebDriverWait(self.d, timeout, poll_frequency=0.1).until(lambda d: cond())
        except TimeoutException:
            raise Failed("timed out after %ds waiting for %s" % (timeout, what)) from None

    def frame(self):
        """Switch into the page's iframe and wait until its list has loaded."""
        self.d.switch_to.default_content()
        self.wait(lambda: self.d.find_elements(By.CSS_SELECTOR, "iframe[name='%s']" % FRAME),
                  "the page's iframe")
        self.d.switch_to.frame(self.d.find_element(By.CSS_SELECTOR, "iframe[name='%s']" % FRAME))
        self.wait(lambda: self.d.execute_script(
            "return document.readyState === 'complete' && !!document.getElementById('loading')"
            " && document.getElementById('loading').hidden"), "the token list to load")

    def el(self, ident):
        return self.d.find_element(By.ID, ident)

    def visible(self, ident):
        found = self.d.find_elements(By.ID, ident)
        return bool(found) and found[0].is_displayed()

    def text(self, ident):
        return self.el(ident).text

    def active_id(self):
        return self.d.switch_to.active_element.get_attribute("id")

    def keys(self, *keys):
        webdriver.ActionChains(self.d).send_keys(*keys).perform()

    def rows(self):
        return {r.get_attribute("data-name"): r
                for r in self.d.find_elements(By.CSS_SELECTOR, "#token-rows tr")}

    def reload(self):
        self.d.switch_to.default_content()
        self.d.refresh()
        self.frame()

    # ------------------------------------------------------------ dialogs

    def prompt_field(self, label_part):
        """The field of the PAM prompt whose label has label_part, once it has focus."""
        def find():
            for f in self.d.find_elements(By.CSS_SELECTOR, "#issue-conv .conv-prompt:not(.answered)"):
                label = f.find_element(By.TAG_NAME, "label").text
                inp = f.find_element(By.TAG_NAME, "input")
                if label_part in label and inp.is_displayed():
                    return inp
            return None
        inp = self.wait(find, "the prompt %r" % label_part)
        self.wait(lambda: self.active_id() == inp.get_attribute("id"),
                  "focus on the prompt %r" % label_part)
        return inp

    def open_issue(self, name, scopes=""):
        self.el("issue-button").click()
        self.wait(lambda: self.visible("issue-name"), "the issue dialog")
        self.el("issue-name").send_keys(name)
        if scopes:
            self.el("issue-scopes").send_keys(scopes)
        self.el("issue-submit").click()

    def answer(self, label_part, value):
        inp = self.prompt_field(label_part)
        inp.send_keys(value)
        self.el("issue-submit").click()

    def issue_error(self):
        self.wait(lambda: self.visible("issue-error"), "an error in the issue dialog")
        return self.text("issue-error")

    def close_dialog(self, ident):
        self.keys(Keys.ESCAPE)
        self.wait(lambda: not self.el(ident).get_attribute("open"), "%s to close" % ident)


# ------------------------------------------------------------ the host side

def fresh_oath():
    """A fresh users.oath, so that the next TOTP code is not a replay."""
    for f in ("users.oath.lock", "users.oath.new"):
        try:
            os.unlink(os.path.join(PAMDIR, f))
        except FileNotFoundError:
            pass
    path = os.path.join(PAMDIR, "users.oath")
    with open(path, "w") as f:
        f.write("HOTP/T30/6 %s - %s\n" % (USER, KEY))
    os.chmod(path, 0o600)


def totp():
    return subprocess.run(["oathtool", "--totp", KEY], capture_output=True, text=True,
                          check=True).stdout.strip()


def tctl(*args, stdin=None, user=None):
    cmd = [TCTL, "--socket", SOCK] + list(args)
    if user:
        cmd = ["runuser", "-u", user, "--"] + cmd
    p = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=20)
    return p.returncode, p.stdout, p.stderr


def own_tokens():
    rc, out, err = tctl("--json", "list", "--user", USER)
    if rc != 0:
        raise Failed("tokenctl list --user %s: exit %d: %s" % (USER, rc, err))
    return sorted(t["name"] for t in json.loads(out))


# ------------------------------------------------------------ the steps

def login(b):
    b.step = "login"
    b.d.get(URL + "/tokend")
    b.wait(lambda: b.d.find_elements(By.ID, "login-user-input"), "Cockpit's login page")
    b.d.find_element(By.ID, "login-user-input").send_keys(USER)
    b.d.find_element(By.ID, "login-password-input").send_keys(PASSWORD)
    b.shot("login")
    b.d.find_element(By.ID, "login-button").click()
    b.frame()
    b.ok("log in to Cockpit as %s and open the API tokens page" % USER)
    b.ok("no tokens yet: the empty state", b.visible("empty") and not b.visible("token-table"))
    b.ok("the Delete all button is off with no tokens", not b.el("delete-all-button").is_enabled())
    b.shot("empty")


def issue_by_keyboard(b):
    """Issue "ci" with the keyboard alone, copy it, verify it with tokenctl."""
    b.step = "issue by keyboard"
    b.d.find_element(By.ID, "page-title").click()       # focus into the page
    for _ in range(8):
        b.keys(Keys.TAB)
        if b.active_id() == "issue-button":
            break
    b.ok("Tab reaches the Issue token button", b.active_id() == "issue-button", b.active_id())
    b.keys(Keys.ENTER)
    b.wait(lambda: b.active_id() == "issue-name", "focus on the Name field")
    b.ok("the dialog opens with the focus on Name")
    b.keys("ci", Keys.TAB)
    b.ok("Tab goes on to Expires", b.active_id() == "issue-lifetime", b.active_id())
    b.keys(Keys.ARROW_UP)               # 90 days -> 30 days
    b.wait(lambda: b.el("issue-lifetime").get_attribute("value") == "30d", "Expires: in 30 days")
    b.keys(Keys.TAB)
    b.ok("Tab goes on to Scopes", b.active_id() == "issue-scopes", b.active_id())
    b.keys("deploy")
    labels = [b.d.execute_script("return document.querySelector('label[for=%s]').textContent" % i)
              for i in ("issue-name", "issue-lifetime", "issue-scopes")]
    b.ok("every field has its label", labels == ["Name", "Expires", "Scopes"], labels)
    b.shot("issue-details")
    fresh_oath()
    b.keys(Keys.ENTER)

    pw = b.prompt_field("Password")
    b.ok("the host's password prompt is a password field with the focus",
         pw.get_attribute("type") == "password")
    pw.send_keys(PASSWORD)
    b.shot("issue-password")
    b.keys(Keys.ENTER)
    code = b.prompt_field("One-time password")
    b.ok("then the one-time code prompt, with the focus")
    code.send_keys(totp())
    b.shot("issue-code")
    b.keys(Keys.ENTER)

    b.wait(lambda: b.visible("issue-token"), "the new token")
    token = b.el("issue-token").get_attribute("value")
    b.ok("the token is shown once, in a read-only field",
         token.startswith("tkr_") and b.el("issue-token").get_attribute("readonly") is not None, token[:8])
    warning = b.d.find_element(By.CSS_SELECTOR, "#issue-step-done .alert-warning").text
    b.ok("with the warning to save it now", "cannot be shown again" in warning, warning)
    b.ok("no answer is left in the page", not b.d.execute_script(
        "return [...document.querySelectorAll('#issue-conv input')].some(i => i.value)"))
    b.shot("issue-token")

    b.keys(Keys.TAB)
    b.ok("Tab goes to Copy", b.active_id() == "issue-copy", b.active_id())
    b.keys(Keys.ENTER)
    b.wait(lambda: b.text("issue-copied"), "the copy feedback")
    b.ok("Copy says it copied", "Copied" in b.text("issue-copied"), b.text("issue-copied"))
    clip = b.d.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "navigator.clipboard.readText().then(done, e => done('ERROR ' + e));")
    b.ok("the clipboard holds the token", clip == token, clip[:40])
    rc, out, err = tctl("--json", "verify", stdin=clip + "\n")
    j = json.loads(out) if out.strip() else {}
    b.ok("tokenctl verify: the copied token is active, %s's, scope deploy" % USER,
         rc == 0 and j.get("active") is True and j.get("sub") == USER and j.get("scope") == "deploy",
         "exit %d %s %s" % (rc, out, err))

    b.keys(Keys.TAB)
    b.ok("Tab goes to Done", b.active_id() == "issue-submit", b.active_id())
    b.keys(Keys.ENTER)
    b.wait(lambda: not b.el("issue-dialog").get_attribute("open"), "the dialog to close")
    b.ok("the token is gone from the page once the dialog is closed",
         b.el("issue-token").get_attribute("value") == "")
    b.wait(lambda: "ci" in b.rows(), "ci in the list")
    row = b.rows()["ci"]
    cells = [c.text for c in row.find_elements(By.TAG_NAME, "td")]
    b.ok("the list shows ci: expires in 30 days, scope deploy",
         "in 30 days" in cells[3] and cells[5] == "deploy", cells)
    return token


def issue_by_mouse(b):
    b.step = "issue by mouse"
    fresh_oath()
    b.open_issue("laptop", "mail deploy")
    b.answer("Password", PASSWORD)
    b.answer("One-time password", totp())
    b.wait(lambda: b.visible("issue-token"), "the second token")
    b.el("issue-submit").click()
    b.wait(lambda: "laptop" in b.rows(), "laptop in the list")
    cells = [c.text for c in b.rows()["laptop"].find_elements(By.TAG_NAME, "td")]
    b.ok("laptop is listed: default expiry in 90 days, never used, two scopes",
         "in 90 days" in cells[3] and cells[4] == "Never used" and "mail" in cells[5]
         and "deploy" in cells[5], cells)
    b.ok("tokenctl lists the same two tokens", own_tokens() == ["ci", "laptop"], own_tokens())
    cells = [c.text for c in b.rows()["ci"].find_elements(By.TAG_NAME, "td")]
    b.ok("ci was last used by the verification a moment ago", cells[4] == "1 minute ago", cells)
    b.shot("list")


def quota(b):
    b.step = "quota"
    b.open_issue("third")
    err = b.issue_error()
    b.ok("a third token is refused: the quota, said in words", "Too many tokens" in err, err)
    b.ok("the dialog goes back to the details", b.visible("issue-name"))
    b.ok("no exit status in the message", "exit" not in err.lower())
    b.shot("refused-quota")
    b.el("issue-cancel").click()
    b.wait(lambda: not b.el("issue-dialog").get_attribute("open"), "the dialog to close")


def delete_one(b):
    b.step = "delete one"
    b.rows()["laptop"].find_element(By.TAG_NAME, "button").click()
    b.wait(lambda: b.visible("delete-confirm"), "the delete dialog")
    text = b.text("delete-text")
    b.ok("the dialog says what stops working", "laptop" in text and "access token" in text, text)
    b.ok("the focus is on the confirmation field", b.active_id() == "delete-confirm")
    b.keys("no")
    b.ok("Yes, delete is off until \"yes\" is typed", not b.el("delete-submit").is_enabled())
    b.keys(Keys.ENTER)
    b.ok("Enter with \"no\" deletes nothing", b.el("delete-dialog").get_attribute("open")
         and own_tokens() == ["ci", "laptop"])
    b.shot("delete-not-confirmed")
    b.keys(Keys.BACKSPACE, Keys.BACKSPACE, "yes")
    b.wait(lambda: b.el("delete-submit").is_enabled(), "Yes, delete to turn on")
    b.shot("delete-confirm")
    b.el("delete-submit").click()
    b.wait(lambda: "laptop" not in b.rows() and not b.el("delete-dialog").get_attribute("open"),
           "laptop to leave the list")
    b.ok("typing yes deleted laptop, and only laptop", own_tokens() == ["ci"], own_tokens())
    b.shot("deleted")


def refusals(b):
    b.step = "wrong password"
    fresh_oath()
    b.open_issue("wrong")
    b.answer("Password", "not the password")
    err = b.issue_error()
    b.ok("a wrong password is refused in words", "Authentication failed" in err, err)
    b.ok("the password prompt stops there (no code asked)",
         not [f for f in b.d.find_elements(By.CSS_SELECTOR, "#issue-conv label")
              if "One-time" in f.text])
    b.ok("the dialog offers Try again", b.text("issue-submit") == "Try again")
    b.shot("refused-password")

    b.step = "wrong code"
    fresh_oath()
    b.el("issue-submit").click()
    b.answer("Password", PASSWORD)
    b.answer("One-time password", "000000")
    err = b.issue_error()
    b.ok("a wrong one-time code is refused in words", "Authentication failed" in err, err)
    b.shot("refused-code")

    b.step = "rate limited"
    b.el("issue-submit").click()
    err = b.issue_error()
    b.ok("after two failures: rate-limited, with when to retry",
         "Too many failed attempts" in err and
         re.search(r"Try again in ([1-9]|[1-5][0-9]|60) seconds, after ", err) is not None, err)
    b.shot("refused-rate-limited")
    b.close_dialog("issue-dialog")
    b.ok("Escape closes the dialog; nothing was issued", own_tokens() == ["ci"], own_tokens())


def japanese(b):
    b.step = "Japanese"
    b.d.switch_to.default_content()
    b.d.add_cookie({"name": "CockpitLang", "value": "ja-jp", "path": "/"})
    b.reload()
    b.ok("in Japanese: the page title", b.text("page-title") == "API トークン", b.text("page-title"))
    cells = [c.text for c in b.rows()["ci"].find_elements(By.TAG_NAME, "td")]
    b.ok("in Japanese: expiry and last use", "30 日後" in cells[3] and cells[4] == "1 分前", cells)
    b.shot("ja-list")
    b.el("issue-button").click()
    b.wait(lambda: b.visible("issue-name"), "the issue dialog")
    b.ok("in Japanese: the issue dialog", b.text("issue-title") == "トークンの発行", b.text("issue-title"))
    b.shot("ja-issue")
    b.close_dialog("issue-dialog")
    b.rows()["ci"].find_element(By.TAG_NAME, "button").click()
    b.wait(lambda: b.visible("delete-confirm"), "the delete dialog")
    b.el("delete-confirm").send_keys("yes")
    b.wait(lambda: b.el("delete-submit").is_enabled(), "the delete button")
    b.ok("in Japanese: the delete button", b.text("delete-submit") == "はい、削除します", b.text("delete-submit"))
    b.shot("ja-delete")
    b.close_dialog("delete-dialog")
    b.d.switch_to.default_content()
    b.d.add_cookie({"name": "CockpitLang", "value": "en-us", "path": "/"})
    b.reload()
    b.ok("back in English", b.text("page-title") == "API tokens", b.text("page-title"))


def admin_view(b):
    b.step = "admin view"
    with open(CONF, "a") as f:
        f.write("admin_group = %s\n" % ENV["WEB_GROUP"])
        f.write("auth_fail_burst = 0\n")       # no more rate limit, for expired()
    os.kill(DAEMON_PID, signal.SIGHUP)
    b.wait(lambda: tctl("--json", "list", "--all", user=USER)[0] == 0,
           "tokend to reload its configuration")
    b.reload()
    b.wait(lambda: b.visible("view-switch"), "the view switch for administrators")
    b.ok("an administrator (tokend's admin group) may show all users' tokens")
    Select(b.el("view-select")).select_by_value("all")
    b.wait(lambda: "show-user" in b.el("token-table").get_attribute("class") and b.rows(),
           "the all-users list")
    users = [r.find_element(By.CLASS_NAME, "col-user").text for r in b.rows().values()]
    b.ok("the all-users list has a User column", users == [USER], users)
    b.shot("admin-all-users")
    Select(b.el("view-select")).select_by_value("mine")
    b.wait(lambda: "show-user" not in b.el("token-table").get_attribute("class"), "my tokens again")


def delete_all(b, token):
    b.step = "delete all"
    b.el("delete-all-button").click()
    b.wait(lambda: b.visible("delete-confirm"), "the delete-all dialog")
    b.ok("the delete-all dialog warns harder", "cannot be undone" in b.text("delete-warning")
         and "refused" in b.text("delete-text"), b.text("delete-warning"))
    b.keys("yes")
    b.wait(lambda: b.el("delete-submit").is_enabled(), "Yes, delete all to turn on")
    b.shot("delete-all")
    b.el("delete-submit").click()
    b.wait(lambda: b.visible("empty"), "the empty list")
    b.ok("every token is gone", own_tokens() == [], own_tokens())
    rc, out, _ = tctl("--json", "verify", stdin=token + "\n")
    b.ok("tokenctl verify: the deleted token is inactive", rc == 1 and json.loads(out) == {"active": False},
         "exit %d %s" % (rc, out))
    b.shot("deleted-all")


def expired(b):
    """A token that expired is still listed (until purged), marked Expired."""
    b.step = "expired"
    fresh_oath()
    rc, out, err = tctl("--json", "issue", "--name", "short", "--expires", "5s",
                        stdin="%s\n%s\n" % (PASSWORD, totp()), user=USER)
    b.ok("tokenctl issue --expires 5s as %s" % USER, rc == 0, err)
    expires = json.loads(out)["expires"]
    expiry = calendar.timegm(time.strptime(expires, "%Y-%m-%dT%H:%M:%SZ"))
    b.wait(lambda: time.time() > expiry + 1, "the token's expiry", timeout=15)
    b.reload()
    row = b.wait(lambda: b.rows().get("short"), "the expired token in the list")
    cells = [c.text for c in row.find_elements(By.TAG_NAME, "td")]
    b.ok("an expired token is marked Expired", "is-expired" in row.get_attribute("class")
         and "Expired" in cells[3] and "ago" in cells[3], cells)
    b.shot("expired")


def rotated(b):
    """A token rotated with tokenctl: the old one is listed, badged Rotated, beside its successor."""
    b.step = "rotated"
    fresh_oath()
    rc, out, err = tctl("--json", "issue", "--name", "rot", "--expires", "1d",
                        stdin="%s\n%s\n" % (PASSWORD, totp()), user=USER)
    b.ok("tokenctl issue rot as %s" % USER, rc == 0, err)
    old = json.loads(out)
    rc, out, err = tctl("--json", "rotate", "--overlap", "10m", stdin=old["token"] + "\n", user=USER)
    b.ok("tokenctl rotate --overlap 10m as %s" % USER, rc == 0, err)
    new_id = json.loads(out)["id"]
    b.reload()

    def rot_rows():
        rows = [r for r in b.d.find_elements(By.CSS_SELECTOR, "#token-rows tr")
                if r.get_attribute("data-name") == "rot"]
        return rows if len(rows) == 2 else None
    rows = b.wait(rot_rows, "both tokens named rot in the list")
    badged = [r.get_attribute("data-id") for r in rows
              if r.find_elements(By.CSS_SELECTOR, ".badge-rotated")]
    b.ok("the old token, and only it, is badged Rotated", badged == [old["id"]], badged)
    badge = [r for r in rows if r.get_attribute("data-id") == old["id"]][0] \
        .find_element(By.CSS_SELECTOR, ".badge-rotated")
    b.ok("the badge says which token replaced it", new_id in badge.get_attribute("title"),
         badge.get_attribute("title"))
    b.shot("rotated")


def daemon_down(b):
    b.step = "daemon down"
    os.kill(DAEMON_PID, signal.SIGTERM)
    b.wait(lambda: tctl("status")[0] == 3, "tokend to stop")
    b.reload()
    b.wait(lambda: b.visible("page-alert"), "the page's alert")
    alert = b.text("page-alert")
    b.ok("with tokend stopped the page says so, and how to start it",
         "not running" in alert and "systemctl start tokend.socket" in alert, alert)
    b.ok("and offers Try again", b.visible("page-retry"))
    b.shot("refused-daemon-down")


def console_errors(b):
    b.step = "console"
    b.d.switch_to.default_content()
    errors = [e["message"] for e in b.d.get_log("browser")
              if e["level"] == "SEVERE" and "/tokend/" in e["message"]]
    b.ok("no error from the page in the browser console", not errors, errors)


def main():
    os.makedirs(ARTIFACTS, exist_ok=True)
    start = time.monotonic()
    b = Browser()
    failed = 0
    try:
        login(b)
        token = issue_by_keyboard(b)
        issue_by_mouse(b)
        quota(b)
        delete_one(b)
        refusals(b)
        japanese(b)
        admin_view(b)
        delete_all(b, token)
        expired(b)
        rotated(b)
        daemon_down(b)
        console_errors(b)
    except Exception as e:          # Failed, or Selenium's own
        failed = 1
        print("  FAIL check-cockpit: %s: %s" % (b.step, e), flush=True)
        try:
            b.d.save_screenshot(os.path.join(ARTIFACTS, "FAIL-%s.png" % b.step.replace(" ", "-")))
            for entry in [e for e in b.d.get_log("browser") if "/tokend/" in e["message"]][-10:]:
                print("       | console: %s" % entry["message"][:300])
        except Exception:
            pass
    finally:
        b.close()
    print("browser: %d screenshots, %.0f s" % (b.shots, time.monotonic() - start))
    print("browser: %d passed, %d failed" % (b.passed, failed))
    return failed


if __name__ == "__main__":
    sys.exit(main())
