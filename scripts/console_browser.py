#!/usr/bin/env python3
"""The web console in a real headless Chromium (issue 17), driven by Selenium over
WebDriver against a real `vouch-server --dev` at URL (argv[1]), with real `vouch` CLI
devices (argv[2] = the binary) approving. Writes a PNG of each page to the directory
argv[3]. Every step asserts what a person would see; exits non-zero on the first
failure. Run by scripts/console-browser.sh."""
import json, os, re, subprocess, sys, tempfile, time, urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

URL, VOUCH, SHOTS = sys.argv[1], sys.argv[2], sys.argv[3]
PASSWORD = "dev-password"
ROOT = tempfile.mkdtemp(prefix="vouch-console-browser-")


def api(method, path, body=None):
    req = urllib.request.Request(URL + path, json.dumps(body).encode() if body is not None else None,
                                 {"content-type": "application/json"}, method=method)
    return json.loads(urllib.request.urlopen(req).read() or b"null")


def vouch(profile, *args, stdin="", ok=True):
    env = dict(os.environ, VOUCH_PASSWORD=PASSWORD)
    p = subprocess.run([VOUCH, "--profile", os.path.join(ROOT, profile), "--server", URL, *args],
                       input=stdin, capture_output=True, text=True, env=env)
    if ok and p.returncode != 0:
        raise SystemExit(f"vouch {' '.join(args)} failed: {p.stderr}")
    return p


def trusted(profile, email, name, kind="web"):
    vouch(profile, "sign-in", "--email", email, "--kind", kind)
    vouch(profile, "register", "--name", name)
    vouch(profile, "email-code", "send")
    mail = api("GET", f"/v1/dev/outbox?to={email}")
    code = re.findall(r"\b(\d{6})\b", json.dumps(mail))[-1]
    vouch(profile, "email-code", "verify", code)


def browser():
    o = Options()
    o.binary_location = "/usr/bin/chromium"
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,900",
              "--disable-gpu", "--user-agent=Mozilla/5.0 (X11; Linux x86_64) VouchConsoleBrowserTest Chrome"):
        o.add_argument(a)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=o)


def shot(d, name):
    # The whole page, not just the window.
    h = d.execute_script("return Math.max(document.documentElement.scrollHeight, document.body.scrollHeight)")
    d.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                      {"width": 1280, "height": max(600, min(h, 4000)), "deviceScaleFactor": 1, "mobile": False})
    d.save_screenshot(os.path.join(SHOTS, name + ".png"))
    d.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    print(f"   screenshot {name}.png")


def step(text):
    print("== " + text, flush=True)


def sign_in(d, email):
    d.get(URL + "/console/login")
    d.find_element(By.ID, "email").send_keys(email)
    d.find_element(By.ID, "password").send_keys(PASSWORD)
    go(d, d.find_element(By.CSS_SELECTOR, "form.stack button[type=submit]"))
    assert d.current_url.endswith("/console/wait"), (d.current_url, text(d))
    label = d.find_element(By.CSS_SELECTOR, "p.code").get_attribute("aria-label")
    return label.split()[-1]


def wait_for(d, suffix, seconds=12):
    end = time.time() + seconds
    while time.time() < end:
        if d.current_url.split("?")[0].endswith(suffix):
            return
        time.sleep(0.25)
    raise AssertionError(f"never reached {suffix}: at {d.current_url}")


def go(d, element):
    """Clicks a link or button and waits until the next page has replaced this one."""
    page = d.find_element(By.TAG_NAME, "html")
    element.click()
    WebDriverWait(d, 10).until(EC.staleness_of(page))


def text(d):
    return d.find_element(By.TAG_NAME, "main").text


step("devices: alice's laptop (key holder), an email-only browser, a pending phone; admin's laptop; carol's extension")
trusted("alice-laptop", "alice@acme.test", "Alice laptop")
trusted("alice-spare", "alice@acme.test", "Alice spare browser")
vouch("alice-phone", "sign-in", "--email", "alice@acme.test", "--kind", "mobile")
vouch("alice-phone", "register", "--name", "Alice phone")
trusted("admin-laptop", "admin@acme.test", "Admin laptop")
trusted("bob-laptop", "bob@acme.test", "Bob laptop")
trusted("carol-ext", "carol@acme.test", "Carol extension", kind="extension")

d = browser()
try:
    step("sign in: the page shows a code and its QR, and gives nothing before approval")
    d.get(URL + "/console/login")
    shot(d, "01-sign-in")
    code = sign_in(d, "alice@acme.test")
    assert re.fullmatch(r"\d{6}", code), code
    assert d.find_element(By.CSS_SELECTOR, ".qr svg")
    shot(d, "02-approve-this-console")
    # Before approval every console page sends the waiting browser to the password form
    # (never to a wait page: its cookie may have been planted), and shows nothing.
    d.get(URL + "/console/devices")
    wait_for(d, "/console/login")
    assert "Alice laptop" not in text(d)

    step("a waiting browser back at the sign-in page gets the password form, not a skip")
    d.get(URL + "/console/login")
    assert d.current_url.endswith("/console/login"), d.current_url
    assert d.find_element(By.ID, "password")
    d.get(URL + "/console/wait")
    assert d.find_element(By.CSS_SELECTOR, "p.code").get_attribute("aria-label").split()[-1] == code
    pending_cookie = d.get_cookie("vouch_console")["value"]

    step("an email-only device cannot approve it")
    p = vouch("alice-spare", "console", "approve", code, "--yes", ok=False)
    assert p.returncode == 6 and "key holder" in p.stderr, p.stderr

    step("approved from the CLI key holder: the page moves on by itself")
    p = vouch("alice-laptop", "console", "approve", code, "--yes")
    wait_for(d, "/console/devices")
    assert d.get_cookie("vouch_console")["value"] != pending_cookie, "the approval rotates the cookie"
    body = text(d)
    for want in ("Alice laptop", "this console's device", "Email-only", "Pending approval",
                 "Trusted · key holder", "of 20 devices", "approve from your phone or the vouch app".lower()):
        assert want.lower() in body.lower(), want
    shot(d, "03-my-trusted-devices")

    step("disable the email-only browser, after a confirmation that names it")
    go(d, d.find_element(By.CSS_SELECTOR, "a[aria-label='Disable Alice spare browser']"))
    assert "Disable “Alice spare browser”?" in text(d)
    shot(d, "04-confirm-disable")
    go(d, d.find_element(By.CSS_SELECTOR, "button.danger"))
    wait_for(d, "/console/devices")
    assert "The device was disabled" in text(d)
    row = d.find_element(By.XPATH, "//tr[th[contains(., 'Alice spare browser')]]").text
    assert "Disabled" in row, row
    shot(d, "05-device-disabled")

    step("a key holder is disabled from a key holder, not from the console: the page says so")
    go(d, d.find_element(By.CSS_SELECTOR, "a[aria-label='Disable Alice laptop']"))
    # A console disables no key holder of its own user (a phished console approval locked
    # them all): the page says where to do it and offers no form.
    assert "Disable a key holder from one of your key holders" in text(d), text(d)
    assert not d.find_elements(By.CSS_SELECTOR, "button.danger")
    shot(d, "06-key-holder-not-from-console")
    d.get(URL + "/console/devices")

    step("a forged form (wrong CSRF token) is refused")
    d.get(URL + "/console/devices")
    d.execute_script("document.querySelector('form[action$=\"/rename\"] input[name=csrf]').value = 'forged'")
    go(d, d.find_element(By.CSS_SELECTOR, "form[action$='/rename'] button"))
    assert "did not come from your console page" in text(d), text(d)
    shot(d, "07-csrf-refused")

    step("a member's console has no admin pages")
    d.get(URL + "/console/admin")
    assert "admin's key holder" in text(d)
    shot(d, "08-member-no-admin")

    step("expiry: 31 idle minutes on the server's dev clock")
    api("POST", "/v1/dev/clock", {"advance_secs": 31 * 60})
    d.get(URL + "/console/devices")
    wait_for(d, "/console/login")
    assert "expired" in text(d), text(d)
    shot(d, "09-session-expired")
    d.delete_all_cookies()

    step("an extension (email-only, carol's only device) cannot approve carol's console")
    code = sign_in(d, "carol@acme.test")
    p = vouch("carol-ext", "console", "approve", code, "--yes", ok=False)
    assert p.returncode != 0, p.stdout
    d.get(URL + "/console/devices")
    wait_for(d, "/console/login")
    d.delete_all_cookies()

    step("the admin's console: every device, filters, deprovision with a count, unlock, audit")
    code = sign_in(d, "admin@acme.test")
    vouch("admin-laptop", "console", "approve", code, "--yes")
    wait_for(d, "/console/devices")
    go(d, d.find_element(By.LINK_TEXT, "Admin: devices and users"))
    body = text(d)
    assert "Bob laptop" in body and "Alice laptop" in body and "Carol extension" in body
    shot(d, "10-admin")
    d.find_element(By.ID, "f-email").send_keys("bob")
    go(d, d.find_element(By.CSS_SELECTOR, "form.filters button"))
    body = text(d)
    assert "Bob laptop" in body and "Alice laptop" not in body
    d.get(URL + "/console/admin?kind=extension")
    assert "Carol extension" in text(d) and "Bob laptop" not in text(d)
    d.get(URL + "/console/admin")
    go(d, d.find_element(By.CSS_SELECTOR, "a[aria-label='Deprovision bob@acme.test']"))
    assert "All 1 device(s) of bob@acme.test" in text(d)
    shot(d, "11-confirm-deprovision")
    go(d, d.find_element(By.CSS_SELECTOR, "button.danger"))
    assert "deprovisioned" in text(d)
    go(d, d.find_element(By.CSS_SELECTOR, "button[aria-label='Unlock sign-in and email codes of bob@acme.test']"))
    assert "unlocked" in text(d)
    shot(d, "12-admin-after-deprovision")
    go(d, d.find_element(By.LINK_TEXT, "Audit log"))
    body = text(d)
    assert "deprovisioned" in body and "console approved" in body and "disabled" in body
    shot(d, "13-audit-log")

    step("the admin signs out of the console")
    go(d, d.find_element(By.XPATH, "//button[contains(., 'Sign out of the console')]"))
    assert "You signed out" in text(d)

    step("an unknown console page is a page (not the API's JSON), with the way back")
    d.get(URL + "/console/no-such-page")
    assert "Not found" in text(d) and "no such page" in text(d), text(d)
    assert d.find_element(By.LINK_TEXT, "Back to the console")
    shot(d, "14-not-found")
    print("== all browser checks passed")
finally:
    d.quit()
