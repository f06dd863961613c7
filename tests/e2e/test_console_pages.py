"""The console's pages in headless Chromium on the local stack: a 400-cell pack drawn cell by
cell, a thermal runaway injected with the simulator appearing live in the alarm centre and
acknowledged there, the map offline, keyboard use, and screenshots of the main pages."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit

import pytest

from shared.contracts import topics
from tests.e2e.console_support import new_page, screenshot
from tests.e2e.helpers import Publisher, pack_telemetry, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

RACK_MODEL = "lfp-400s280-rack"  # 400 cells, 128 probes
CABINET_MODEL = "sl-cab-lfp-48s"


def _model(model_id: str) -> Any:
    from shared.domain.devices.catalogue import BUILT_IN_MODELS

    return next(m for m in BUILT_IN_MODELS if m.model_id == model_id)


def _rack_sample(seq: int) -> dict[str, Any]:
    cells: list[float | None] = [round(3.30 + 0.0004 * (i % 25), 4) for i in range(400)]
    cells[17] = cells[230] = None  # two dropouts the chart must still show as cells
    return pack_telemetry(
        seq,
        pack_voltage_v=1320.0,
        current_a=-40.0,
        soc_pct=55.0,
        cell_voltages_v=cells,
        probe_temperatures_c=[round(24.0 + 0.05 * i, 2) for i in range(128)],
        state="charging",
    )


def test_device_detail_draws_all_400_cells_and_the_heatmap(stack: Any, browser: Any, publisher: Publisher) -> None:
    """LCM-MON-1, LCM-MON-2, LCM-UI-1, LCM-PF-3: a 400-cell rack's detail page draws every cell
    voltage (dropouts included and marked) and every probe in the heatmap, from live data."""
    reg = stack.register_device("E2E-RACK-400", RACK_MODEL)
    thing = reg.device.thing_name
    topic = topics.uplink(stack.tenant, thing, topics.UpType.TELEMETRY)
    publisher.publish(topic, _rack_sample(1))
    page = new_page(browser, stack)
    page.goto(f"{stack.console_url}/devices/{thing}")
    page.wait_for_selector("[data-testid=device-detail-ready]", timeout=30_000)
    chart = page.wait_for_selector("[data-testid=cell-voltage-chart][data-cells='400']", timeout=20_000)
    assert chart.get_attribute("data-dropouts") == "2"
    heat = page.wait_for_selector("[data-testid=cell-temp-heatmap]")
    assert heat.get_attribute("data-cells") in {"128", "400"}
    # Drawn, not just data: both charts have a canvas with a real size.
    for selector in ("[data-testid=cell-voltage-chart] canvas", "[data-testid=cell-temp-heatmap] canvas"):
        box = page.wait_for_selector(selector).bounding_box()
        assert box and box["width"] > 200 and box["height"] > 100, (selector, box)
    # A live sample updates the page without a reload.
    page.evaluate("window.__noReload = true")
    publisher.publish(topic, {**_rack_sample(2), "soc_pct": 57.5})
    page.wait_for_function(
        "document.querySelector('[data-testid=live-values]').innerText.includes('57.5')", timeout=20_000
    )
    assert page.evaluate("window.__noReload === true")
    screenshot(page, "device-detail-400-cells")
    assert page.errors == []  # type: ignore[attr-defined]
    page.context.close()


def test_runaway_appears_live_in_the_alarm_centre_and_is_acknowledged(
    stack: Any, browser: Any, publisher: Publisher
) -> None:
    """SLW-WEB-7, LCM-PF-7, LCM-AL-2, LCM-UI-1: with the alarm centre open, a thermal runaway
    injected into a simulated cabinet shows up as a level-3 row without a reload; the operator
    acknowledges it in the detail drawer and the timeline shows raised and acknowledged."""
    from device_sdk.simulate.device import DeviceSpec, SimulatedDevice

    reg = stack.register_device("E2E-CAB-RUNAWAY", CABINET_MODEL)
    thing = reg.device.thing_name
    page = new_page(browser, stack)
    page.goto(stack.console_url + "/alarms")
    page.wait_for_selector("[data-testid=alarm-table]")
    page.wait_for_selector("[data-testid=live-status][data-status=live]", timeout=20_000)
    page.evaluate("window.__noReload = true")

    now = int(time.time() * 1000)
    sim = SimulatedDevice(DeviceSpec(stack.tenant, thing, _model(CABINET_MODEL)), start_ms=now - 90_000)
    kinds = {"storage_cabinet": topics.UpType.TELEMETRY, "battery_pack": topics.UpType.TELEMETRY}

    def publish(messages: list[Any]) -> None:
        for m in messages:
            up = kinds.get(getattr(m, "kind", ""))
            if up is not None:
                publisher.publish(topics.uplink(stack.tenant, thing, up), m.model_dump_json())

    publish(sim.step(10.0))
    sim.inject("thermal_runaway")
    row_selector = f"[data-testid=alarm-row][data-code=thermal_runaway][data-level='3']:has-text('{thing}')"
    for _ in range(90):
        publish(sim.step(1.0))
        if page.query_selector(row_selector):
            break
        time.sleep(0.1)
    row = page.wait_for_selector(row_selector, timeout=15_000)
    assert page.evaluate("window.__noReload === true"), "the row must arrive live, not by a reload"
    screenshot(page, "alarm-centre-runaway")

    row.click()
    page.wait_for_selector("[data-testid=alarm-detail]")
    page.click("[data-testid=alarm-ack]")
    page.wait_for_selector("[data-testid=alarm-action-dialog]")
    page.fill("[data-testid=alarm-action-input] textarea, textarea[data-testid=alarm-action-input]", "on site")
    page.click("[data-testid=alarm-action-confirm]")
    page.wait_for_function(
        "(document.querySelector('[data-testid=alarm-detail-status]')?.innerText || '').match(/已确认|Acknowledged/)",
        timeout=15_000,
    )
    timeline = page.wait_for_selector("[data-testid=alarm-timeline]")
    wait_until(lambda: len(page.query_selector_all("[data-testid=alarm-timeline-entry]")) >= 2, timeout=15)
    assert timeline.inner_text()
    screenshot(page, "alarm-detail-acknowledged")
    assert page.errors == []  # type: ignore[attr-defined]
    page.context.close()


def test_map_works_offline_with_devices_and_a_track(stack: Any, browser: Any, publisher: Publisher) -> None:
    """SLW-MON-3, EVC-MON-1, LCM-UI-1: with every non-local request blocked, the map draws the
    shipped base map and the devices' positions, and plays back a pack's track."""
    reg = stack.register_device("E2E-MAP-PACK", "lfp-16s280-ess")
    thing = reg.device.thing_name
    topic = topics.uplink(stack.tenant, thing, topics.UpType.POSITION)
    start = int(time.time() * 1000) - 600_000
    for i in range(12):
        publisher.publish(
            topic,
            {
                "kind": "position",
                "boot_id": "map",
                "seq": i,
                "device_ts_ms": start + i * 30_000,
                "latitude_deg": 31.2304 + 0.002 * i,
                "longitude_deg": 121.4737 + 0.003 * i,
                "coordinate_system": "WGS-84",
                "fix_valid": True,
                "speed_kmh": 25.0,
            },
        )
    publisher.publish(topics.uplink(stack.tenant, thing, topics.UpType.TELEMETRY), pack_telemetry(1))
    page = new_page(browser, stack)
    outside: list[str] = []

    def block(route: Any) -> None:
        host = urlsplit(route.request.url).hostname or ""
        if host in {"127.0.0.1", "localhost"}:
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", block)
    page.goto(stack.console_url + "/map")
    page.wait_for_selector("[data-testid=map-chart][data-basemap=offline]", timeout=20_000)
    page.wait_for_function(
        "Number(document.querySelector('[data-testid=map-chart]').dataset.devices) >= 1", timeout=30_000
    )
    screenshot(page, "map-offline")
    assert outside == [], f"the map reached outside the machine: {outside[:3]}"
    assert page.errors == []  # type: ignore[attr-defined]
    page.context.close()


def test_keyboard_reaches_device_rows_and_dialogs_close_with_escape(stack: Any, browser: Any) -> None:
    """LCM-UI-2: table rows are reachable with the keyboard and open with Enter; the command
    dialog closes with Escape; every button and input on the page has an accessible name."""
    page = new_page(browser, stack)
    page.goto(stack.console_url + "/devices")
    row = page.wait_for_selector("[data-testid=device-row]", timeout=20_000)
    row.focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**/devices/*")
    page.wait_for_selector("[data-testid=device-detail-ready]", timeout=30_000)
    unnamed = page.evaluate(
        """() => [...document.querySelectorAll('button, input, select, textarea, [role=button]')]
            .filter(e => e.offsetParent !== null)
            .filter(e => !(e.getAttribute('aria-label') || e.getAttribute('aria-labelledby') || e.title ||
                          (e.labels && e.labels.length) || (e.innerText || '').trim() || e.getAttribute('placeholder')))
            .map(e => e.outerHTML.slice(0, 120))"""
    )
    assert unnamed == [], unnamed
    send = page.query_selector("[data-testid=send-command]")
    if send and send.is_enabled():
        send.click()
        page.wait_for_selector("[data-testid=command-dialog]", state="visible")
        page.keyboard.press("Escape")
        page.wait_for_selector("[data-testid=command-dialog]", state="hidden")
    page.context.close()


@pytest.mark.parametrize(
    ("path", "ready", "name"),
    [
        ("/", "[data-testid=overview-ready]", "overview"),
        ("/devices", "[data-testid=device-row]", "device-list"),
        ("/alarms", "[data-testid=alarm-table]", "alarm-centre"),
        ("/alarm-rules", "[data-testid=rules-table]", "alarm-rules"),
        ("/inbox", "[data-testid=inbox]", "inbox"),
    ],
)
def test_main_pages_render_in_both_languages(stack: Any, browser: Any, path: str, ready: str, name: str) -> None:
    """LCM-UI-1, LCM-UI-2: each main page renders without errors in 简体中文 and English (screenshots)."""
    for locale in ("zh-CN", "en"):
        page = new_page(browser, stack, locale=locale)
        page.goto(stack.console_url + path)
        page.wait_for_selector(ready, timeout=30_000)
        screenshot(page, f"{name}-{locale}")
        assert page.errors == [], page.errors  # type: ignore[attr-defined]
        page.context.close()
