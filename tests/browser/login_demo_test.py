#!/usr/bin/env python3
"""sessionkit-login-demo in a real browser: Debian's headless Chromium driven by WebDriver
(python3-selenium, chromium-driver), the way a person uses the site.

    login_demo_test.py --demo PATH --store memory|redis|sqlite [--servers 1|2]
                       --screenshots DIR [--redis-server PATH]

With --servers 2 two demo servers share the store behind a small proxy that sends every request
to one of them at random: the user must not notice which one answered. Each test saves a
screenshot when it fails; a passing run leaves screenshots of the main pages in DIR.
"""

import argparse
import http.client
import http.server
import os
import random
import re
import shutil
import socket
import socketserver
import subprocess
import sys
import tempfile
import threading
import time
import unittest

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.support.ui import WebDriverWait

ARGS = None


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, timeout=10.0):
    end = time.time() + timeout
    while time.time() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port}")


class Process:
    """A child process whose output goes to a log file, stopped at the end."""

    def __init__(self, argv, log_path):
        self.log_path = log_path
        self.log = open(log_path, "w")
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


class RoundRobinProxy:
    """Sends every request to one of the backends, picked at random per request."""

    def __init__(self, backends):
        backends = list(backends)

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def forward(self):
                port = random.choice(backends)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                upstream = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection", "keep-alive")}
                upstream.request(self.command, self.path, body=body, headers=headers)
                answer = upstream.getresponse()
                data = answer.read()
                self.send_response(answer.status, answer.reason)
                for name, value in answer.getheaders():
                    if name.lower() not in ("connection", "keep-alive", "transfer-encoding", "content-length", "date", "server"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                upstream.close()

            do_GET = do_POST = do_HEAD = forward

            def log_message(self, *args):
                pass

        class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class HostilePage:
    """Another site (127.0.0.1, another port: not the demo's `localhost`) whose page posts a
    form to the demo as soon as it loads."""

    def __init__(self, target_url):
        page = (
            "<!doctype html><html><body><h1>Totally harmless</h1>"
            f'<form id="f" method="post" action="{target_url}">'
            '<input type="hidden" name="csrf" value="guessed"></form>'
            "<script>document.getElementById('f').submit()</script></body></html>"
        ).encode()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)

            def log_message(self, *args):
                pass

        # Threads: Chrome keeps idle (preconnected) sockets open, which would hold up a
        # single-threaded server's shutdown for a minute.
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class Site:
    """The demo server(s) for one store, and the URL the browser uses (on `localhost`)."""

    def __init__(self, work):
        self.processes = []
        self.proxy = None
        store = ARGS.store
        store_flag = "memory"
        if store == "redis":
            redis_port = free_port()
            self.processes.append(Process([ARGS.redis_server, "--port", str(redis_port), "--save", "", "--appendonly", "no",
                                           "--bind", "127.0.0.1"], os.path.join(work, "redis.log")))
            wait_for_port(redis_port)
            store_flag = f"redis://127.0.0.1:{redis_port}"
        elif store == "sqlite":
            store_flag = "sqlite:" + os.path.join(work, "sessions.db")
        ports = []
        for i in range(ARGS.servers):
            port = free_port()
            self.processes.append(Process([ARGS.demo, "--port", str(port), "--threads", "1", "--store", store_flag,
                                           "--secret", "browser-test-secret-of-at-least-32-bytes!"],
                                          os.path.join(work, f"demo{i}.log")))
            wait_for_port(port)
            ports.append(port)
        if len(ports) > 1:
            self.proxy = RoundRobinProxy(ports)
            self.port = self.proxy.port
        else:
            self.port = ports[0]
        self.url = f"http://localhost:{self.port}"

    def stop(self):
        if self.proxy:
            self.proxy.stop()
        for p in reversed(self.processes):
            p.stop()


def new_browser(profile_dir):
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--no-first-run", "--no-default-browser-check", "--password-store=basic",
                "--window-size=1000,800", f"--user-data-dir={profile_dir}"):
        options.add_argument(arg)
    service = Service(shutil.which("chromedriver") or "/usr/bin/chromedriver")
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_page_load_timeout(20)
    driver.implicitly_wait(5)  # elements of the page a click led to
    return driver


class LoginDemoInABrowser(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.work = tempfile.mkdtemp(prefix="sessionkit-browser-")
        cls.site = Site(cls.work)
        os.makedirs(ARGS.screenshots, exist_ok=True)

    @classmethod
    def tearDownClass(cls):
        cls.site.stop()
        shutil.rmtree(cls.work, ignore_errors=True)

    def setUp(self):
        self.browsers = []

    def tearDown(self):
        failed = any(error for _, error in (self._outcome.result.errors + self._outcome.result.failures)
                     if _ is self) if hasattr(self._outcome, "result") else False
        for i, (driver, _) in enumerate(self.browsers):
            if failed:
                self.shot(driver, f"FAILED-{self._testMethodName}-{i}")
            driver.quit()

    # --- helpers --------------------------------------------------------------------------------

    def browser(self, profile=None):
        profile = profile or tempfile.mkdtemp(dir=self.work, prefix="profile-")
        driver = new_browser(profile)
        self.browsers.append((driver, profile))
        return driver, profile

    def quit(self, driver):
        self.browsers = [(d, p) for d, p in self.browsers if d is not driver]
        driver.quit()

    def shot(self, driver, name):
        driver.save_screenshot(os.path.join(ARGS.screenshots, f"{ARGS.store}-{ARGS.servers}-{name}.png"))

    def open(self, driver, path):
        driver.get(self.site.url + path)

    def click_and_wait(self, driver, element, path):
        """Clicks a form's button, waits for the page it leads to, and checks that page's path."""
        element.click()

        def old_page_gone(_):
            # Chrome says "stale" or, mid-navigation, "node does not belong to the document".
            try:
                element.is_enabled()
                return False
            except WebDriverException:
                return True

        WebDriverWait(driver, 10).until(old_page_gone)
        WebDriverWait(driver, 10).until(lambda d: d.execute_script("return document.readyState") == "complete")
        where = driver.current_url.split(str(self.site.port), 1)[-1]
        self.assertTrue(where.startswith(path), f"clicking led to {where}, not {path}")

    def log_in(self, driver, user="alice", password="wonderland", lands_on="/"):
        self.open(driver, "/login")
        driver.find_element(By.ID, "user").send_keys(user)
        driver.find_element(By.ID, "password").send_keys(password)
        self.click_and_wait(driver, driver.find_element(By.ID, "login"), lands_on)

    def who(self, driver):
        self.open(driver, "/")
        return driver.find_element(By.ID, "who").text

    def session_rows(self, driver):
        self.open(driver, "/sessions")
        return driver.find_elements(By.CSS_SELECTOR, "#sessions tr.session")

    # --- the tests ------------------------------------------------------------------------------

    def test_a_login_lasts_across_pages_and_a_browser_restart(self):
        driver, profile = self.browser()
        self.open(driver, "/login")
        self.shot(driver, "login")
        self.log_in(driver)
        self.assertIn("logged in as alice", driver.find_element(By.ID, "who").text)
        first = int(driver.find_element(By.ID, "count").text)
        self.shot(driver, "home")
        rows = self.session_rows(driver)
        self.assertEqual(sum("this browser" in r.text for r in rows), 1)  # (other tests log alice in too)
        self.shot(driver, "sessions")
        self.assertIn("logged in as alice", self.who(driver))
        self.assertEqual(int(driver.find_element(By.ID, "count").text), first + 1)
        # The cookie is persistent (maxAge): a new browser on the same profile is still logged in.
        self.quit(driver)
        driver, _ = self.browser(profile)
        self.assertIn("logged in as alice", self.who(driver))

    def test_page_scripts_cannot_read_the_session_cookie(self):
        driver, _ = self.browser()
        self.log_in(driver)
        self.assertIn("logged in as alice", self.who(driver))
        self.assertNotIn("connect.sid", driver.execute_script("return document.cookie"))
        cookie = driver.get_cookie("connect.sid")
        self.assertIsNotNone(cookie)
        self.assertTrue(cookie["httpOnly"])
        self.assertEqual(cookie.get("sameSite"), "Lax")
        self.assertGreater(cookie.get("expiry", 0), time.time() + 29 * 24 * 3600)

    def test_a_wrong_password_is_refused_with_a_message(self):
        driver, _ = self.browser()
        self.log_in(driver, "alice", "not the password", lands_on="/login")
        self.assertIn("Wrong user name or password", driver.find_element(By.ID, "error").text)
        self.assertIn("not logged in", self.who(driver))

    def test_logging_out_everywhere_else_ends_the_other_browsers_session(self):
        first, _ = self.browser()
        second, _ = self.browser()
        self.log_in(first, "bob", "builder")
        self.log_in(second, "bob", "builder")
        rows = self.session_rows(first)
        self.assertEqual(len(rows), 2)
        self.assertEqual(sum("this browser" in r.text for r in rows), 1)
        self.click_and_wait(first, first.find_element(By.ID, "logout-others"), "/sessions?ended=")
        self.assertIn("1 session ended", first.find_element(By.ID, "notice").text)
        self.assertIn("not logged in", self.who(second))
        self.assertIn("logged in as bob", self.who(first))
        self.assertEqual(len(self.session_rows(first)), 1)

    def test_the_end_button_ends_that_session_only(self):
        first, _ = self.browser()
        second, _ = self.browser()
        third, _ = self.browser()
        for d in (first, second, third):
            self.log_in(d, "carol", "secret-garden")
        rows = self.session_rows(first)
        self.assertEqual(len(rows), 3)
        # End the oldest other session: the second browser's (listed oldest login first).
        others = [r for r in rows if "this browser" not in r.text]
        self.click_and_wait(first, others[0].find_element(By.CSS_SELECTOR, "button.end"), "/sessions?ended=")
        self.assertIn("1 session ended", first.find_element(By.ID, "notice").text)
        self.assertIn("not logged in", self.who(second))
        self.assertIn("logged in as carol", self.who(third))
        self.assertIn("logged in as carol", self.who(first))

    def test_a_form_posted_from_another_site_is_refused(self):
        driver, _ = self.browser()
        self.log_in(driver)
        self.assertIn("logged in as alice", self.who(driver))
        hostile = HostilePage(self.site.url + "/logout")
        try:
            driver.get(hostile.url)  # its form posts to /logout at once
            end = time.time() + 10
            while "/logout" not in driver.current_url and time.time() < end:
                time.sleep(0.1)
            forbidden = driver.find_element(By.ID, "forbidden")
            self.assertIn("refused", forbidden.text)
            # SameSite=Lax: the cross-site POST came without the cookie.
            self.assertEqual(driver.find_element(By.ID, "cookie").text, "no session cookie came with it")
            self.shot(driver, "forbidden")
        finally:
            hostile.stop()
        self.assertIn("logged in as alice", self.who(driver))

    def test_logging_out_ends_the_session(self):
        driver, _ = self.browser()
        self.log_in(driver)
        self.assertIn("logged in as alice", self.who(driver))
        self.click_and_wait(driver, driver.find_element(By.ID, "logout"), "/login")
        self.assertIsNotNone(driver.find_element(By.ID, "login"))
        driver.refresh()
        self.assertIsNotNone(driver.find_element(By.ID, "login"))
        self.assertIn("not logged in", self.who(driver))


class CookieBehindATlsProxy(unittest.TestCase):
    """`--secure auto --trust-proxy`: the cookie is Secure when the proxy says the client's
    connection is https, and plain otherwise (no browser needed: the header says it)."""

    def test_the_cookie_is_secure_exactly_when_the_proxy_says_https(self):
        work = tempfile.mkdtemp(prefix="sessionkit-proxy-")
        port = free_port()
        demo = Process([ARGS.demo, "--port", str(port), "--secure", "auto", "--trust-proxy"],
                       os.path.join(work, "demo.log"))
        try:
            wait_for_port(port)
            for proto, secure in (("https", True), ("http", False)):
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                c.request("GET", "/login", headers={"X-Forwarded-Proto": proto})
                answer = c.getresponse()
                answer.read()
                cookie = answer.getheader("Set-Cookie")
                self.assertIsNotNone(cookie)
                self.assertIn("HttpOnly", cookie)
                self.assertIn("SameSite=Lax", cookie)
                self.assertEqual("; Secure" in cookie, secure, cookie)
                c.close()
        finally:
            demo.stop()
            shutil.rmtree(work, ignore_errors=True)


def main():
    global ARGS
    parser = argparse.ArgumentParser()
    parser.add_argument("--demo", required=True)
    parser.add_argument("--store", choices=["memory", "redis", "sqlite"], default="memory")
    parser.add_argument("--servers", type=int, default=1)
    parser.add_argument("--screenshots", required=True)
    parser.add_argument("--redis-server", default=shutil.which("redis-server") or "/usr/bin/redis-server")
    ARGS, rest = parser.parse_known_args()
    if ARGS.store == "memory" and ARGS.servers > 1:
        parser.error("two servers cannot share a memory store")
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)


if __name__ == "__main__":
    main()
