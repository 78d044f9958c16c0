"""Drives the chat page (/) and the admin dashboard (/admin) in a real browser: headless Chromium through Selenium.

Usage: python3 scripts/browser_check.py --sluice .build/debug/sluice --screenshots DIR

Starts and stops its own nodes (`sluice serve --port 0`), each with a configuration of its own in a temporary
folder:
- node A, anonymous (local development, no keys): asking while another user's job holds the only worker (the
  queue position shows), refreshing mid-answer, `kill -9` mid-answer and a restart on the same port, cancelling,
  Mongolian (labels, and the server's refusal in exam mode), the conversation kept across a refresh and cleared.
- node B, with an operator key, an app key and HS256 end-user tokens: the chat page's 401 and sign-in with a
  token; the dashboard's sign-in (a wrong key, the right one, the session cookie's flags), the queue depth
  rising and falling with its trend chart, setting and clearing a mode (confirm() accepted), CSRF refusals,
  the job inspector, and both languages.
Reads the browser console after each page scenario and fails on any warning or error it did not expect.
Saves chat.png, admin.png and admin-mn.png (1280x900) in DIR, and failure.png on a failure.

Needs `selenium` (PyPI), /usr/bin/chromium and /usr/bin/chromedriver (Debian's chromium, chromium-driver).
Prints one `step: ...` line per step and "browser-check: ok" when all pass; on a failure prints the step, what
was expected and what was seen, the page's text, the console log and the end of each node's log, and exits 1.
"""
import argparse
import atexit
import base64
import hashlib
import hmac
import json
import os
import re
import secrets
import shutil
import signal
import string
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.error
import urllib.request

from selenium import webdriver
from selenium.common.exceptions import (
    NoAlertPresentException,
    NoSuchElementException,
    StaleElementReferenceException,
    TimeoutException,
)
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

OPERATOR_KEY = "sk-op-browser-test-0123456789"
APP_KEY = "sk-app-browser-test-0123456789"
CYRILLIC = re.compile("[\u0400-\u04ff]")
POLL = 0.1  # the poll interval inside every wait

# The yaml both nodes share. queue.reservedBypassWorkers must stay under queue.workers (0..workers-1), so one
# worker means none reserved: every job shares that one worker, and a second student's job waits behind the
# first. The semantic cache is off so that no question is answered from a similar earlier one (the exact cache
# stays; every question here is new).
COMMON_CONFIG = """\
mock:
  ttftMs: 300
  tokensPerSecond: 12
  tokens: 60
queue:
  workers: 1
  reservedBypassWorkers: 0
plans:
  names: [free]
  free:
    requestsPerMinute: 0
    maxStreams: 50
    reconnectsPerMinute: 1000
modes:
  names: [exam]
  exam:
    requestsPerMinute: 0
cache:
  semantic:
    enabled: false
"""
# Tokens without a tenant claim belong to auth.jwt.tenant, "default" when unset (JWTSettings.fixedTenant).
JWT_CONFIG = """\
auth:
  jwt:
    secretEnv: SLUICE_JWT_SECRET
"""


class CheckFailed(Exception):
    def __init__(self, expected, seen):
        super().__init__(expected)
        self.expected = expected
        self.seen = seen


class Run:
    """What a failure report needs: the step, the browser, the nodes, the console so far."""
    step = "start"
    driver = None
    nodes = []
    console = []
    screenshots = "."
    workdir = None


def step(name):
    Run.step = name
    print(f"step: {name}", flush=True)


def check(condition, expected, seen=""):
    if not condition:
        raise CheckFailed(expected, seen)


def note(text):
    print(f"  {text}", flush=True)


# MARK: HTTP (urllib, never through a proxy: a proxy's X-Forwarded-For makes an anonymous caller not local)

OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http(method, url, body=None, headers=None, timeout=15):
    """Returns (status, parsed JSON or text, headers)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with OPENER.open(request, timeout=timeout) as response:
            status, raw, answer_headers = response.status, response.read(), response.headers
    except urllib.error.HTTPError as error:
        status, raw, answer_headers = error.code, error.read(), error.headers
    text = raw.decode("utf-8", "replace")
    try:
        parsed = json.loads(text) if text else None
    except ValueError:
        parsed = text
    return status, parsed, answer_headers


def poll(description, condition, timeout, seen=lambda: ""):
    """Calls condition every POLL seconds until it returns something truthy (returned), at most timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise CheckFailed(description, f"not within {timeout} s; seen: {seen()}")
        time.sleep(POLL)


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hs256_jwt(secret, claims):
    header = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    payload = b64url(json.dumps(claims, separators=(",", ":")).encode())
    signature = hmac.new(secret.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{b64url(signature)}"


# MARK: Nodes

class Node:
    """A `sluice serve` child process with its own folder, configuration, data and log."""

    def __init__(self, binary, name, config, environment):
        self.binary = binary
        self.name = name
        self.folder = os.path.join(Run.workdir, name)
        self.data = os.path.join(self.folder, "data")
        os.makedirs(self.data)
        self.config = os.path.join(self.folder, "sluice.yaml")
        with open(self.config, "w") as file:
            file.write(config)
        self.log = os.path.join(self.folder, "sluice.log")
        open(self.log, "wb").close()
        # Only this run's settings: an inherited SLUICE_* variable (a key, a log format) would change the node.
        self.environment = {k: v for k, v in os.environ.items() if not k.startswith("SLUICE_")}
        self.environment.update(environment)
        self.process = None
        self.port = None
        Run.nodes.append(self)

    @property
    def base(self):
        return f"http://127.0.0.1:{self.port}"

    def start(self, port=0):
        """Starts the node (on `port`, or a free one it picks), waits for its listening line and /healthz."""
        offset = os.path.getsize(self.log)
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [self.binary, "serve", "--port", str(port), "--data-dir", self.data, "--config", self.config],
                cwd=self.folder, env=self.environment, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)

        def listening():
            if self.process.poll() is not None:
                raise CheckFailed(f"{self.name} to start", f"it exited with status {self.process.returncode}:\n{self.tail()}")
            with open(self.log, "rb") as file:
                file.seek(offset)
                text = file.read().decode("utf-8", "replace")
            for line in text.splitlines():
                if "sluice is listening" not in line:
                    continue
                # Text logs say sluice.address=http://…, JSON logs "sluice.address":"http://…".
                match = re.search(r'sluice\.address"?[=:]"?http://[^\s"]*:(\d+)', line)
                if match:
                    return int(match.group(1))
            return None

        bound = poll(f"{self.name} logs `sluice is listening` with its address", listening, 30, seen=self.tail)
        check(port == 0 or bound == port, f"{self.name} listens on port {port}", f"port {bound}")
        self.port = bound

        def healthy():
            if self.process.poll() is not None:
                raise CheckFailed(f"{self.name} to stay up", f"it exited with status {self.process.returncode}")
            try:
                return http("GET", self.base + "/healthz", timeout=2)[0] == 200
            except OSError:
                return False

        poll(f"GET {self.base}/healthz answers 200", healthy, 30, seen=self.tail)
        note(f"{self.name} listens at {self.base} (pid {self.process.pid})")

    def kill9(self):
        if self.process and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self):
        if self.process is None or self.process.poll() is not None:
            return
        try:
            self.process.terminate()
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.kill9()
        except OSError:
            pass

    def tail(self, lines=40):
        try:
            with open(self.log, "rb") as file:
                return "\n".join(file.read().decode("utf-8", "replace").splitlines()[-lines:])
        except OSError as error:
            return f"(no log: {error})"


def stop_everything():
    # The browser first, so that no page is left retrying against a node that stops.
    if Run.driver is not None:
        try:
            Run.driver.quit()
        except Exception:  # noqa: BLE001 - at exit, stop what can be stopped
            pass
        Run.driver = None
    for node in Run.nodes:
        try:
            node.stop()
        except Exception:  # noqa: BLE001
            pass


# MARK: Browser

def start_browser():
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,900",
                     "--lang=en-US", "--no-proxy-server", "--disable-extensions", "--no-first-run"]:
        options.add_argument(argument)
    # Deterministic default language: English unless the page is told otherwise.
    options.add_experimental_option("prefs", {"intl.accept_languages": "en-US,en"})
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    # A viewport (and so every screenshot) of exactly 1280x900: headless windows keep part of the window for
    # browser chrome they do not draw.
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": False})
    driver.set_script_timeout(20)
    driver.set_page_load_timeout(30)
    Run.driver = driver
    return driver


def wait(description, condition, timeout=30, seen=None):
    """An explicit wait: condition() polled every POLL seconds until truthy (returned), at most timeout s."""
    try:
        return WebDriverWait(Run.driver, timeout, poll_frequency=POLL,
                             ignored_exceptions=(NoSuchElementException, StaleElementReferenceException)).until(lambda _: condition())
    except TimeoutException:
        shown = ""
        if seen is not None:
            try:
                shown = seen()
            except Exception as error:  # noqa: BLE001 - the report must not fail
                shown = f"(could not read: {error!r})"
        raise CheckFailed(description, f"not within {timeout} s; seen: {shown}") from None


def js(script, *arguments):
    return Run.driver.execute_script(script, *arguments)


TURNS_JS = """
return Array.from(document.querySelectorAll('.turn')).map(function (t) {
  var q = t.querySelector('.question'), a = t.querySelector('.answer');
  return {job: t.getAttribute('data-job') || '', state: t.getAttribute('data-state') || '',
          question: q ? q.textContent : '', answer: a ? a.textContent : ''};
});"""
STATUS_JS = """
var s = document.getElementById('status');
return s ? {state: s.getAttribute('data-state') || '', text: s.textContent.trim()} : null;"""
# The text of an element: a control's value (an <input type=submit>), else its textContent.
TEXT_JS = """
var e = document.querySelector(arguments[0]);
if (!e) return null;
return (e.tagName === 'INPUT' ? e.value : e.textContent).trim();"""
CHART_JS = """
var svg = document.getElementById('queue-chart');
if (!svg) return 'no #queue-chart';
var shapes = svg.querySelectorAll('polyline, path');
for (var i = 0; i < shapes.length; i++) {
  var s = shapes[i], text = (s.getAttribute('points') || '') + ' ' + (s.getAttribute('d') || '');
  var numbers = text.match(/-?[0-9]+(\\.[0-9]+)?/g) || [];
  if (numbers.length >= 4) return true;
}
return 'shapes: ' + shapes.length + ' ' + svg.outerHTML.slice(0, 300);"""


def turns():
    return js(TURNS_JS)


def status():
    return js(STATUS_JS)


def text_of(selector):
    return js(TEXT_JS, selector)


def displayed(selector):
    elements = Run.driver.find_elements(By.CSS_SELECTOR, selector)
    return bool(elements) and elements[0].is_displayed()


def element(selector):
    return Run.driver.find_element(By.CSS_SELECTOR, selector)


def open_page(url):
    Run.driver.get(url)
    wait(f"{url} loads", lambda: js("return document.readyState") == "complete")


def open_chat(node):
    open_page(node.base + "/")
    for hook in ["#question", "#send", "#cancel", "#new-conversation", "#lang", "#token", "#status", "#conversation"]:
        check(Run.driver.find_elements(By.CSS_SELECTOR, hook), f"the chat page has {hook}", "missing")
    wait("#status has a data-state", lambda: (status() or {}).get("state"), 10, seen=status)


def ask(question):
    """Types a question and sends it; returns the number of turns before it."""
    before = len(turns())
    field = element("#question")
    field.clear()
    field.send_keys(question)
    wait("#send can be clicked", lambda: EC.element_to_be_clickable((By.CSS_SELECTOR, "#send"))(Run.driver), 10)
    element("#send").click()
    return before


def new_turn(index, timeout=15):
    """Waits for turn `index` (0-based) to exist with a job id; returns it."""
    return wait(f"turn {index + 1} appears with data-job=job_…",
                lambda: (lambda t: t[index] if len(t) > index and t[index]["job"].startswith("job_") else None)(turns()),
                timeout, seen=turns)


def turn_where(index, description, predicate, timeout=30):
    return wait(f"turn {index + 1}: {description}",
                lambda: (lambda t: t[index] if len(t) > index and predicate(t[index]) else None)(turns()),
                timeout, seen=lambda: {"turns": turns(), "status": status()})


def turn_asking(question, description, predicate, timeout=30):
    """Waits for the latest turn whose question holds `question` to satisfy predicate; returns it."""
    def find():
        for turn in reversed(turns()):
            if question in turn["question"]:
                return turn if predicate(turn) else None
        return None
    return wait(f"the turn asking {question!r}: {description}", find, timeout,
                seen=lambda: {"turns": turns(), "status": status()})


def partial(index, timeout=30):
    """Waits until turn `index` shows some answer text but has not ended; returns it."""
    return turn_where(index, "has some answer text and is not done yet",
                      lambda t: t["answer"] and t["state"] in ("queued", "running"), timeout)


def done(index, timeout=40):
    return turn_where(index, "data-state=done", lambda t: t["state"] == "done", timeout)


def select_language(language):
    Select(element("#lang")).select_by_value(language)


def language_is(language):
    def condition():
        send = text_of("#send") or ""
        if js("return document.documentElement.lang") != language:
            return False
        return bool(CYRILLIC.search(send)) == (language == "mn") and send != ""
    wait(f"<html lang={language}> and #send labelled in {'Mongolian (Cyrillic)' if language == 'mn' else 'English'}",
         condition, 10, seen=lambda: {"html lang": js("return document.documentElement.lang"), "#send": text_of("#send")})


def screenshot(name):
    path = os.path.join(Run.screenshots, name)
    Run.driver.save_screenshot(path)
    note(f"saved {path}")


def accept_confirm():
    try:
        WebDriverWait(Run.driver, 10, poll_frequency=POLL).until(EC.alert_is_present())
    except TimeoutException:
        raise CheckFailed("a confirm() dialog", "none within 10 s") from None
    alert = Run.driver.switch_to.alert
    note(f"confirm(): {alert.text!r} accepted")
    alert.accept()


def check_console(scenario, allowed=()):
    """Fails on any console entry of level WARNING or SEVERE, except those `allowed` names: (reason, predicate)."""
    entries = Run.driver.get_log("browser")
    Run.console.extend(entries)
    unexpected = []
    for entry in entries:
        if entry.get("level") not in ("WARNING", "SEVERE"):
            continue
        message = entry.get("message", "")
        reason = next((why for why, predicate in allowed if predicate(message)), None)
        if reason is not None:
            note(f"console entry ignored ({reason}): {entry['level']} {message}")
        else:
            unexpected.append(entry)
    check(not unexpected, f"no console warning or error in {scenario}",
          "\n".join(f"{e['level']} {e['message']}" for e in unexpected))


def http_refusal(node, path, *codes):
    """An allowance: the console's record of a response with one of `codes` to node's `path`."""
    prefix = f"{node.base}{path} - Failed to load resource: the server responded with a status of "
    return (f"expected {'/'.join(map(str, codes))} from {path}",
            lambda message: any(message.startswith(prefix + str(code)) for code in codes))


def network_down(node):
    """An allowance: a request to node failing at the network level (refused, cut short) while it is down."""
    return (f"{node.name} deliberately down",
            lambda message: message.startswith(node.base + "/") and "Failed to load resource: net::ERR_" in message)


def job(node, job_id, headers):
    code, body, _ = http("GET", f"{node.base}/v1/jobs/{job_id}", headers=headers)
    check(code == 200 and isinstance(body, dict), f"GET /v1/jobs/{job_id} answers 200", f"{code} {body}")
    return body


def answer_matches_result(node, turn, headers):
    body = job(node, turn["job"], headers)
    check(body.get("state") == "succeeded", f"job {turn['job']} succeeded", body.get("state"))
    result = (body.get("result") or {}).get("text")
    check(turn["answer"] == result, f"the page's answer equals the job's result.text ({turn['job']})",
          f"page: {turn['answer']!r}\njob:  {result!r}")


def int_of(selector):
    text = text_of(selector) or ""
    digits = re.sub(r"\D", "", text)
    return int(digits) if digits else None


# MARK: Node A: anonymous, local development

def node_a_scenarios(node):
    nonce = secrets.token_hex(3)

    step("A1 chat: the page opens")
    open_chat(node)
    check(turns() == [], "no turns on a fresh page", turns())

    step("A1 chat: another user's job takes the only worker")
    code, other, _ = http("POST", node.base + "/v1/jobs", {"model": "default", "messages": [
        {"role": "user", "content": f"Why do cats purr? ({nonce})"}]}, {"X-Sluice-User": "other"})
    check(code == 202 and str(other.get("id", "")).startswith("job_"), "POST /v1/jobs answers 202 with a job id", f"{code} {other}")
    poll("the other user's job runs", lambda: job(node, other["id"], {"X-Sluice-User": "other"})["state"] == "running", 10,
         seen=lambda: job(node, other["id"], {"X-Sluice-User": "other"}))

    step("A1 chat: ask; the turn waits in the queue, #status shows its position")
    ask(f"Why is the sky blue? ({nonce})")
    first = new_turn(0)
    wait("#status data-state=queued with a position number",
         lambda: (lambda s: s and s["state"] == "queued" and re.search(r"\d", s["text"]))(status()), 10,
         seen=lambda: {"status": status(), "turns": turns()})
    note(f"#status while queued: {status()['text']!r}")
    check(displayed("#cancel"), "#cancel shown while a job is in flight", "hidden")
    user = wait("localStorage sluice.user is set", lambda: js("return localStorage.getItem('sluice.user')"), 5)
    check(user.startswith("web-"), "localStorage sluice.user starts with web-", user)
    page = {"X-Sluice-User": user}

    step("A1 chat: the answer streams in and grows")
    seen = partial(0, 30)
    wait("the answer grows", lambda: len(turns()[0]["answer"]) > len(seen["answer"]), 10, seen=turns)
    check(job(node, first["job"], page)["state"] == "running", "the page's job runs once the other one is done", "")

    step("A1 chat: the answer finishes")
    first = done(0)
    answer_matches_result(node, first, page)
    wait("#status data-state=idle once nothing is in flight", lambda: status()["state"] == "idle", 10, seen=status)
    wait("#cancel hidden once nothing is in flight", lambda: not displayed("#cancel"), 10)

    step("A1 chat: a second question streams; screenshot chat.png")
    ask(f"How do rainbows form? ({nonce})")
    second = new_turn(1)
    turn_where(1, "a few words of answer so far, not done yet", lambda t: len(t["answer"]) >= 30 and t["state"] == "running", 20)
    screenshot("chat.png")

    step("A2 refresh mid-answer: the same turn resumes and finishes")
    before = partial(1, 5)
    Run.driver.refresh()
    wait("the page reloads", lambda: js("return document.readyState") == "complete")
    wait("both turns are shown again after the refresh", lambda: len(turns()) == 2, 10, seen=turns)
    check(turns()[0] == first, "the first turn is unchanged after the refresh", {"before": first, "after": turns()[0]})
    check(turns()[1]["job"] == second["job"], "the second turn follows the same job after the refresh",
          {"before": second["job"], "after": turns()[1]["job"]})
    second = done(1)
    check(second["answer"].startswith(before["answer"]), "the resumed answer continues the text shown before the refresh",
          {"before": before["answer"], "final": second["answer"]})
    answer_matches_result(node, second, page)
    check(turns()[0] == first, "the first turn is still there", turns())
    check_console("A1-A2 (ask, queue, refresh)")

    step("A3 kill -9 mid-answer: ask and wait for part of the answer")
    ask(f"What makes thunder? ({nonce})")
    third = new_turn(2)
    partial(2, 20)
    step("A3 kill -9 mid-answer: SIGKILL node A, restart it on the same port and data")
    port = node.port
    node.kill9()
    time.sleep(1)  # the page finds the node gone for a moment (as the brief asks: ~1 s down)
    node.start(port)
    step("A3 kill -9 mid-answer: the page resumes by itself and the turn ends done")
    resumed = done(2, 60)
    check(resumed["job"] == third["job"], "the same job after the restart", resumed)
    answer_matches_result(node, resumed, page)
    check(turns()[0] == first and turns()[1] == second, "the earlier turns are unchanged", turns())
    check_console("A3 (kill -9 and restart)", [network_down(node)])

    step("A4 cancel: ask, cancel while it runs")
    ask(f"Why do leaves change colour? ({nonce})")
    fourth = new_turn(3)
    turn_where(3, "data-state=running", lambda t: t["state"] == "running", 20)
    wait("#cancel can be clicked", lambda: EC.element_to_be_clickable((By.CSS_SELECTOR, "#cancel"))(Run.driver), 10)
    element("#cancel").click()
    turn_where(3, "data-state=cancelled", lambda t: t["state"] == "cancelled", 20)
    poll("GET /v1/jobs/{id} says cancelled", lambda: job(node, fourth["job"], page)["state"] == "cancelled", 10,
         seen=lambda: job(node, fourth["job"], page))
    wait("#cancel hidden once nothing is in flight", lambda: not displayed("#cancel"), 10)
    check_console("A4 (cancel)")

    step("A5 language: choose mn; labels turn Mongolian")
    select_language("mn")
    language_is("mn")
    check(js("return localStorage.getItem('sluice.lang')") == "mn", "localStorage sluice.lang = mn",
          js("return localStorage.getItem('sluice.lang')"))
    step("A5 language: still mn after a refresh")
    Run.driver.refresh()
    wait("the page reloads", lambda: js("return document.readyState") == "complete")
    language_is("mn")
    check(Select(element("#lang")).first_selected_option.get_attribute("value") == "mn", "#lang shows mn after the refresh",
          Select(element("#lang")).first_selected_option.get_attribute("value"))
    wait("#status idle after the refresh", lambda: status()["state"] == "idle", 10, seen=status)

    step("A5 language: exam mode (students may not ask); the refusal shows in Mongolian")
    admin = {"X-Sluice-Role": "admin"}
    code, body, _ = http("PUT", node.base + "/admin/api/mode", {"mode": "exam"}, admin)
    check(code == 200 and body.get("mode") == "exam", "PUT /admin/api/mode (exam) answers 200 with mode exam", f"{code} {body}")
    ask(f"Can I ask during the exam? ({nonce})")
    refused = wait("#status data-state=error in Cyrillic",
                   lambda: (lambda s: s if s["state"] == "error" and CYRILLIC.search(s["text"]) else None)(status()), 15,
                   seen=status)
    note(f"#status: {refused['text']!r}")
    code, probe, _ = http("POST", node.base + "/v1/jobs", {"model": "default", "messages": [{"role": "user", "content": "probe"}]},
                          {"X-Sluice-User": "probe", "Accept-Language": "mn"})
    check(code in (403, 429) and isinstance(probe, dict), "a student's ask in exam mode is refused (429)", f"{code} {probe}")
    message = probe["error"]["message"]
    digitless = lambda text: re.sub(r"\d+", "#", text)  # noqa: E731 - Retry-After seconds may differ by one
    check(digitless(message) in digitless(refused["text"]), "#status shows the server's own Mongolian message",
          {"server": message, "#status": refused["text"]})
    code, body, _ = http("DELETE", node.base + "/admin/api/mode", headers=admin)
    check(code == 200 and body.get("mode") is None, "DELETE /admin/api/mode answers 200, mode back to none", f"{code} {body}")
    step("A5 language: back to en")
    select_language("en")
    language_is("en")
    check_console("A5 (language, exam mode)", [http_refusal(node, "/v1/jobs", 429, 403)])

    step("A6 conversation: a refresh keeps the earlier turns")
    kept = [(t["job"], t["question"], t["state"]) for t in turns() if t["job"]]
    check(len(kept) >= 4, "the four turns with jobs are on the page", turns())
    Run.driver.refresh()
    wait("the page reloads", lambda: js("return document.readyState") == "complete")
    wait("the same turns after the refresh", lambda: [(t["job"], t["question"], t["state"]) for t in turns() if t["job"]] == kept, 10,
         seen=lambda: {"before": kept, "after": turns()})
    check(turns()[0]["answer"] == first["answer"], "the first answer is kept", turns()[0])
    step("A6 conversation: New conversation clears them")
    element("#new-conversation").click()

    def cleared():
        try:  # a page may ask for a confirmation first
            Run.driver.switch_to.alert.accept()
            note("New conversation asked for a confirmation; accepted")
        except NoAlertPresentException:
            pass
        return turns() == []
    wait("no turn left after New conversation", cleared, 10, seen=turns)
    Run.driver.refresh()
    wait("the page reloads", lambda: js("return document.readyState") == "complete")
    wait("#status has a data-state", lambda: (status() or {}).get("state"), 10, seen=status)
    check(turns() == [], "still no turn after a refresh", turns())
    check_console("A6 (conversation)")


# MARK: Node B: keys and tokens

def node_b_scenarios(node, secret):
    nonce = secrets.token_hex(3)
    operator = {"Authorization": f"Bearer {OPERATOR_KEY}"}

    step("B7 chat with a token: asking without one shows the 401 and opens the sign-in area")
    open_chat(node)
    ask(f"What is photosynthesis? ({nonce})")
    refused = wait("#status data-state=error", lambda: (lambda s: s if s["state"] == "error" and s["text"] else None)(status()), 15,
                   seen=status)
    note(f"#status: {refused['text']!r}")
    wait("the sign-in area opens: #token is shown", lambda: displayed("#token"), 10)

    step("B7 chat with a token: paste a JWT and ask again; answered")
    now = int(time.time())
    token = hs256_jwt(secret, {"sub": "student-7", "iat": now, "exp": now + 3600})
    field = element("#token")
    field.clear()
    field.send_keys(token)
    question = f"How do plants make food? ({nonce})"
    ask(question)
    answered = turn_asking(question, "data-state=done with a job", lambda t: t["state"] == "done" and t["job"].startswith("job_"), 40)
    check(js("return sessionStorage.getItem('sluice.token')") == token, "the token is kept in sessionStorage sluice.token",
          js("return sessionStorage.getItem('sluice.token')"))
    check(js("return localStorage.getItem('sluice.token')") is None, "the token is not in localStorage",
          js("return localStorage.getItem('sluice.token')"))
    check(js("return document.getElementById('token').type") == "password", "#token is a password field",
          js("return document.getElementById('token').type"))
    answer_matches_result(node, answered, {"Authorization": f"Bearer {token}"})
    owner = job(node, answered["job"], {"Authorization": f"Bearer {token}"})
    note(f"job {owner['id']} answered for student-7")
    check_console("B7 (token)", [http_refusal(node, "/v1/jobs", 401)])

    step("B8 admin sign-in: a wrong key is refused, the dashboard stays hidden")
    open_page(node.base + "/admin")
    for hook in ["#signin-form", "#admin-key", "#signin", "#signin-error", "#dashboard", "#lang"]:
        check(Run.driver.find_elements(By.CSS_SELECTOR, hook), f"the dashboard page has {hook}", "missing")
    wait("#signin-form shown", lambda: displayed("#signin-form"), 10)
    check(not displayed("#dashboard"), "#dashboard hidden before signing in", "shown")
    element("#admin-key").clear()
    element("#admin-key").send_keys("sk-op-wrong-key-0000000000")
    element("#signin").click()
    wait("#signin-error shows an error", lambda: displayed("#signin-error") and text_of("#signin-error"), 10,
         seen=lambda: text_of("#signin-error"))
    note(f"#signin-error: {text_of('#signin-error')!r}")
    check(not displayed("#dashboard"), "#dashboard still hidden after a wrong key", "shown")

    step("B8 admin sign-in: the operator key opens the dashboard, live")
    element("#admin-key").clear()
    element("#admin-key").send_keys(OPERATOR_KEY)
    element("#signin").click()
    wait("#dashboard shown", lambda: displayed("#dashboard"), 10)
    wait("#live[data-live=true]", lambda: Run.driver.find_elements(By.CSS_SELECTOR, "#live[data-live=true]"), 15,
         seen=lambda: js("var e = document.getElementById('live'); return e && e.outerHTML"))
    cookies = Run.driver.get_cookies()
    check(cookies, "a session cookie after signing in", cookies)
    for cookie in cookies:
        check(cookie.get("httpOnly") is True and cookie.get("sameSite") == "Strict",
              "every cookie the dashboard has is HttpOnly and SameSite=Strict",
              {k: v for k, v in cookie.items() if k != "value"})
    note("cookies: " + ", ".join(f"{c['name']} (HttpOnly, SameSite={c['sameSite']})" for c in cookies))
    check_console("B8 (sign-in)", [http_refusal(node, "/admin/session", 401)])

    step("B9 queue: six jobs from the app key; #queued-total rises above 0")
    topics = ["volcanoes erupt", "tides rise", "bees dance", "glaciers move", "stars twinkle", "bread rises"]
    jobs = []
    for number, topic in enumerate(topics, 1):
        headers = {"Authorization": f"Bearer {APP_KEY}", "X-Sluice-User": f"s{number}"}
        code, body, _ = http("POST", node.base + "/v1/jobs", {"model": "default", "messages": [
            {"role": "user", "content": f"Why do {topic}? ({nonce})"}]}, headers)
        check(code == 202 and str(body.get("id", "")).startswith("job_"), f"POST /v1/jobs for s{number} answers 202", f"{code} {body}")
        jobs.append((body["id"], headers))
    wait("#queued-total above 0", lambda: (int_of("#queued-total") or 0) > 0, 10, seen=lambda: text_of("#queued-total"))
    note(f"#queued-total {text_of('#queued-total')}, #running-total {text_of('#running-total')}")
    wait("#queue-chart has drawn a line or area with points", lambda: js(CHART_JS) is True, 15, seen=lambda: js(CHART_JS))
    wait("#deployments lists a deployment", lambda: Run.driver.find_elements(By.CSS_SELECTOR, "#deployments tr[data-deployment]"), 10,
         seen=lambda: js("var e = document.getElementById('deployments'); return e && e.outerHTML.slice(0, 500)"))

    step("B12 inspector: a finished job's state and events")
    first_id, first_headers = jobs[0]
    poll(f"{first_id} succeeds", lambda: job(node, first_id, first_headers)["state"] == "succeeded", 30,
         seen=lambda: job(node, first_id, first_headers)["state"])
    element("#inspect-id").clear()
    element("#inspect-id").send_keys(first_id)
    element("#inspect").click()
    wait("#inspection shows the job's state (succeeded) and its events (delta, done)",
         lambda: (lambda t: "succeeded" in t and "delta" in t and "done" in t)((text_of("#inspection") or "").lower()), 10,
         seen=lambda: (text_of("#inspection") or "")[:600])

    step("B13 screenshot admin.png while jobs are queued")
    check((int_of("#queued-total") or 0) > 0, "jobs still queued for admin.png", text_of("#queued-total"))
    screenshot("admin.png")

    step("B10 mode: set exam from the dashboard (confirm accepted)")
    wait("#mode-select enabled and offering exam, #mode-set enabled",
         lambda: Run.driver.find_elements(By.CSS_SELECTOR, "#mode-select:enabled option[value=exam]")
         and Run.driver.find_elements(By.CSS_SELECTOR, "#mode-set:enabled"), 10,
         seen=lambda: js("var e = document.getElementById('mode-select'); return e && e.outerHTML"))
    Select(element("#mode-select")).select_by_value("exam")
    element("#mode-set").click()
    accept_confirm()
    wait("#mode shows exam", lambda: "exam" in (text_of("#mode") or "").lower(), 10, seen=lambda: text_of("#mode"))
    tier = text_of("#tier") or ""
    check(re.search(r"normal|high|peak|overload", tier, re.I), "#tier shows a tier name", tier)
    code, body, _ = http("GET", node.base + "/admin/api/status", headers=operator)
    check(code == 200 and body.get("mode") == "exam", "GET /admin/api/status (operator key) says mode exam", f"{code} {body}")

    step("B10 mode: clear it (follow the calendar)")
    wait("#mode-clear enabled", lambda: Run.driver.find_elements(By.CSS_SELECTOR, "#mode-clear:enabled"), 10)
    element("#mode-clear").click()
    accept_confirm()
    wait("#mode no longer shows exam", lambda: "exam" not in (text_of("#mode") or "").lower(), 10, seen=lambda: text_of("#mode"))
    code, body, _ = http("GET", node.base + "/admin/api/status", headers=operator)
    check(code == 200 and body.get("mode") is None, "GET /admin/api/status says no mode", f"{code} {body}")
    note(f"#mode {text_of('#mode')!r}, mode_source {body.get('mode_source')!r}")

    step("B11 CSRF: the session cookie without X-CSRF-Token is refused; nothing at all is 401")
    cookie = "; ".join(f"{c['name']}={c['value']}" for c in Run.driver.get_cookies())
    code, body, _ = http("PUT", node.base + "/admin/api/mode", {"mode": "exam"}, {"Cookie": cookie})
    check(code == 403, "PUT /admin/api/mode with the cookie but no X-CSRF-Token answers 403", f"{code} {body}")
    code, body, _ = http("PUT", node.base + "/admin/api/mode", {"mode": "exam"})
    check(code == 401, "PUT /admin/api/mode with no cookie and no key answers 401", f"{code} {body}")
    code, body, _ = http("GET", node.base + "/admin/api/status", headers=operator)
    check(code == 200 and body.get("mode") is None, "the refused writes changed nothing (no mode)", f"{code} {body}")

    step("B9 queue: #queued-total falls back to 0 as the jobs finish")
    wait("#queued-total back to 0", lambda: int_of("#queued-total") == 0, 60, seen=lambda: text_of("#queued-total"))
    for job_id, headers in jobs:
        state = job(node, job_id, headers)["state"]
        check(state in ("running", "succeeded"), f"{job_id} ran", state)
    check_console("B9-B12 (queue, inspector, mode, CSRF)")

    step("B13 dashboard in Mongolian; screenshot admin-mn.png")
    select_language("mn")
    wait("<html lang=mn> and the dashboard in Cyrillic",
         lambda: js("return document.documentElement.lang") == "mn" and CYRILLIC.search(text_of("#dashboard") or ""), 10,
         seen=lambda: {"lang": js("return document.documentElement.lang"), "dashboard": (text_of("#dashboard") or "")[:300]})
    check(displayed("#dashboard"), "#dashboard still shown in Mongolian", "hidden")
    screenshot("admin-mn.png")
    check_console("B13 (Mongolian)")


# MARK: Main

def report_failure(expected, seen):
    print(f"browser-check: FAILED at step: {Run.step}")
    print(f"  expected: {expected}")
    print("  seen:", seen if isinstance(seen, str) else json.dumps(seen, ensure_ascii=False, indent=2, default=str))
    driver = Run.driver
    if driver is not None:
        try:
            alert = driver.switch_to.alert
            print(f"--- an alert was open: {alert.text!r} (dismissed)")
            alert.dismiss()
        except Exception:  # noqa: BLE001 - no alert
            pass
        try:
            print(f"--- page {driver.current_url} text:")
            print(driver.find_element(By.TAG_NAME, "body").text)
        except Exception as error:  # noqa: BLE001
            print(f"(could not read the page: {error!r})")
        try:
            Run.console.extend(driver.get_log("browser"))
        except Exception as error:  # noqa: BLE001
            print(f"(could not read the console: {error!r})")
        try:
            path = os.path.join(Run.screenshots, "failure.png")
            driver.save_screenshot(path)
            print(f"--- screenshot: {path}")
        except Exception as error:  # noqa: BLE001
            print(f"(could not save a screenshot: {error!r})")
    print("--- browser console:")
    for entry in Run.console:
        print(f"{entry.get('level')} {entry.get('message')}")
    for node in Run.nodes:
        print(f"--- last 40 lines of {node.name}'s log ({node.log}):")
        print(node.tail(40))
    sys.stdout.flush()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sluice", required=True, help="the sluice executable")
    parser.add_argument("--screenshots", required=True, help="the folder for chat.png, admin.png, admin-mn.png (and failure.png)")
    arguments = parser.parse_args()
    binary = os.path.abspath(arguments.sluice)
    if not os.access(binary, os.X_OK):
        print(f"browser-check: FAILED: {binary} is not an executable")
        return 1
    Run.screenshots = os.path.abspath(arguments.screenshots)
    os.makedirs(Run.screenshots, exist_ok=True)
    Run.workdir = tempfile.mkdtemp(prefix="sluice-browser-")
    atexit.register(stop_everything)
    # SIGTERM (a CI timeout) ends the run through the finally below, so that no node outlives it.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = time.monotonic()
    ok = False
    try:
        step("start node A (anonymous, local development)")
        node_a = Node(binary, "node-a", COMMON_CONFIG, {})
        node_a.start()
        step("start Chromium")
        start_browser()
        node_a_scenarios(node_a)
        Run.driver.get("about:blank")  # nothing of node A's left running in the browser
        check_console("leaving node A")
        node_a.stop()

        step("start node B (operator key, app key, HS256 tokens)")
        secret = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(40))
        node_b = Node(binary, "node-b", COMMON_CONFIG + JWT_CONFIG, {
            "SLUICE_AUTH_ADMIN_KEYS": OPERATOR_KEY, "SLUICE_AUTH_API_KEYS": APP_KEY, "SLUICE_JWT_SECRET": secret})
        node_b.start()
        node_b_scenarios(node_b, secret)
        ok = True
    except CheckFailed as failure:
        report_failure(failure.expected, failure.seen)
    except Exception as error:  # noqa: BLE001 - any other error is a failure of the step, reported the same way
        report_failure("no error", "".join(traceback.format_exception(error)))
    finally:
        stop_everything()
    if not ok:
        print(f"browser-check: FAILED (the nodes' folders are kept in {Run.workdir})")
        return 1
    shutil.rmtree(Run.workdir, ignore_errors=True)
    print(f"browser-check: ok ({time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
