"""Browser test of the PlantShield web UI in headless Chromium (Debian's
/usr/bin/chromium, driven by Playwright; no browser download).

usage: browser_test.py BASE_URL CA_CERT_PEM ADMIN_PASSWORD SCREENSHOT_DIR

Logs in, opens the dashboard, the asset list and one asset, the map, and
one alert, and acknowledges it; creates a viewer on the users page, logs
in as that viewer and checks it cannot acknowledge an alert. Every step
asserts what the page shows and saves a screenshot. Exits non-zero on the first failed assertion.
"""

import os
import sys

from playwright.sync_api import expect, sync_playwright

BASE, CA, PASSWORD, SHOTS = sys.argv[1:5]
CHROMIUM = os.environ.get("PLANTSHIELD_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    # The server's certificate is self-signed; the test trusts it by ignoring
    # certificate errors (Chromium has no per-run CA option).
    "--ignore-certificate-errors",
]


def shot(page, name):
    path = os.path.join(SHOTS, name + ".png")
    page.screenshot(path=path, full_page=True)
    print("screenshot", path, flush=True)


def main():
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        ctx = browser.new_context(ignore_https_errors=True, viewport={"width": 1400, "height": 900})
        page = ctx.new_page()
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))

        # 1. Log in.
        page.goto(BASE + "/")
        expect(page.locator("#login-form")).to_be_visible()
        page.fill("#username", "admin")
        page.fill("#password", "wrong password")
        page.click("#login-button")
        expect(page.locator("#login-error")).to_contain_text("Wrong username or password")
        page.fill("#password", PASSWORD)
        shot(page, "01-login")
        page.click("#login-button")

        # 2. Dashboard.
        expect(page.locator("h1")).to_have_text("Dashboard")
        expect(page.locator("#who")).to_contain_text("admin (admin)")
        for panel in ["#alerts-over-time", "#risk-by-zone", "#protocol-mix", "#top-talkers", "#new-assets"]:
            expect(page.locator(panel)).to_be_visible()
        expect(page.locator("#protocol-mix")).to_contain_text("modbus")
        assert int(page.locator("#card-assets .n").inner_text()) > 0
        assert int(page.locator("#card-open-alerts .n").inner_text()) > 0
        expect(page.locator("#live")).to_contain_text("live", timeout=15000)
        shot(page, "02-dashboard")

        # 3. Asset list.
        page.click("nav a[data-view=assets]")
        expect(page.locator("h1")).to_have_text("Assets")
        expect(page.locator("#asset-count")).to_contain_text("assets")
        rows = page.locator("table tbody tr")
        assert rows.count() > 0, "no asset rows"
        shot(page, "03-assets")

        # 4. One asset: the one with the most open alerts.
        rows.first.click()
        expect(page.locator("#asset-title")).to_contain_text("Asset ")
        expect(page.locator("#identity")).to_contain_text("Role")
        expect(page.locator("#evidence")).to_be_visible()
        expect(page.locator("#communications")).to_be_visible()
        shot(page, "04-asset")

        # 5. Map.
        page.click("nav a[data-view=map]")
        expect(page.locator("#network-map")).to_be_visible()
        expect(page.locator("#map-summary")).to_contain_text("communication edges")
        assert page.locator("#network-map g.node").count() > 0
        expect(page.locator("#network-map")).to_contain_text("Level")
        page.select_option("#map-group", "zone")
        expect(page.locator("#network-map")).to_contain_text("Zone")
        shot(page, "05-map")

        # 6. One alert, with its ATT&CK links.
        page.click("nav a[data-view=alerts]")
        page.select_option("#alert-status", "open")
        expect(page.locator("#alert-list tbody tr").first).to_be_visible()
        page.locator("#alert-list tbody tr").first.click()
        expect(page.locator("#alert-title")).to_contain_text("Alert ")
        expect(page.locator("#alert-status-value")).to_have_text("open")
        link = page.locator("#alert-techniques a").first
        href = link.get_attribute("href")
        assert href.startswith("https://attack.mitre.org/techniques/T"), href
        shot(page, "06-alert")

        # 7. Acknowledge it.
        page.fill("#alert-comment", "seen by the browser test")
        page.click("#ack-button")
        expect(page.locator("#alert-status-value")).to_have_text("acknowledged")
        expect(page.locator("#main")).to_contain_text("seen by the browser test")
        shot(page, "07-acknowledged")

        # 8. The audit trail shows it.
        page.click("nav a[data-view=audit]")
        expect(page.locator("#audit-list")).to_contain_text("alert_acknowledge")
        shot(page, "08-audit")

        # 9. Users (admin): create a viewer through the page; the last admin
        # cannot be demoted.
        expect(page.locator("#nav-users")).to_be_visible()
        page.click("#nav-users")
        expect(page.locator("h1")).to_have_text("Users")
        page.fill("#new-username", "vera")
        page.select_option("#new-role", "viewer")
        page.fill("#new-password", "viewer password 1")
        page.click("#create-user")
        expect(page.locator("#users-message")).to_have_text("Done: create user")
        vera = page.locator("#user-list tr[data-username=vera]")
        expect(vera.locator("select")).to_have_value("viewer")
        expect(vera.locator(".user-status")).to_have_text("enabled")
        admin_row = page.locator("#user-list tr[data-username=admin]")
        admin_row.locator("select").select_option("viewer")
        admin_row.locator(".set-role").click()
        expect(page.locator("#users-message")).to_contain_text("no enabled admin")
        expect(admin_row.locator("select")).to_have_value("admin")
        shot(page, "09-users")
        page.click("nav a[data-view=audit]")
        expect(page.locator("#audit-list")).to_contain_text("create_user")
        expect(page.locator("#audit-list")).to_contain_text("vera")

        # 10. Log out, log in as the new viewer: no user page, and the alert
        # cannot be acknowledged (no workflow buttons; the API answers 403).
        page.click("#logout")
        expect(page.locator("#login-form")).to_be_visible()
        page.fill("#username", "vera")
        page.fill("#password", "viewer password 1")
        page.click("#login-button")
        expect(page.locator("#who")).to_contain_text("vera (viewer)")
        expect(page.locator("#nav-users")).to_be_hidden()
        page.click("nav a[data-view=alerts]")
        page.select_option("#alert-status", "open")
        expect(page.locator("#alert-list tbody tr").first).to_be_visible()
        page.locator("#alert-list tbody tr").first.click()
        expect(page.locator("#alert-status-value")).to_have_text("open")
        expect(page.locator("#ack-button")).to_have_count(0)
        expect(page.locator("#main")).to_contain_text("Viewers cannot change alerts.")
        alert_id = page.locator("#alert-title").inner_text().split(":")[0].split()[-1]
        status = page.evaluate(
            """id => fetch("/api/alerts/" + id + "/acknowledge", {method: "POST",
                 headers: {"X-CSRF-Token": state.csrf, "Content-Type": "application/json"},
                 body: "{}"}).then(r => r.status)""",
            alert_id,
        )
        assert status == 403, status
        shot(page, "10-viewer-alert")

        assert not errors, errors
        browser.close()
    print("browser test passed", flush=True)


if __name__ == "__main__":
    main()
