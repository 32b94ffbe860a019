"""The page in a real browser (Debian's headless Chromium, driven by Playwright, no browser download): a photo
sent from the page gets the API's answers, the shift slider moves them as the API says, a text file shows the
API's one-line error, and nothing is loaded from another host."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from serving import running

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "pixelsense" / "serve" / "static" / "examples"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
playwright = pytest.importorskip(
    "playwright.sync_api", reason="pip install playwright (the dev extra has it)"
)
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="needs Chromium: apt-get install chromium (make setup)"
)
server = pytest.fixture(scope="module")(running)


@pytest.fixture(scope="module")
def page(server):
    with playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.requested = []
        page.on("request", lambda request: page.requested.append(request.url))
        page.goto(server.url)
        yield page
        browser.close()


def shown(page, model: str) -> dict:
    card = page.locator(f'.model[data-model="{model}"]')
    return {"top": [li.get_attribute("data-class") for li in card.locator("li").all()],
            "now": card.locator(".now").get_attribute("data-class")}  # fmt: skip


def test_a_photo_gets_the_apis_answers_and_the_slider_moves_them_as_the_api_says(server, page, tmp_path):
    photo = EXAMPLES / "pullover-46-photo.jpg"  # a product photo the README's screenshot shows
    api = server.client.post("/api/v1/explain", files={"file": (photo.name, photo.read_bytes())}).json()
    page.set_input_files("#file", str(photo))
    page.wait_for_selector('.model[data-model="cnn"] .now[data-class]')
    for model, answer in api["models"].items():
        assert shown(page, model) == {"top": [g["class"] for g in answer["predictions"]],
                                      "now": answer["predictions"][0]["class"]}  # fmt: skip
    page.locator("body").click()
    for key in ("ArrowRight", "ArrowRight", "ArrowRight", "ArrowUp"):  # 3 pixels right, 1 up
        page.keyboard.press(key)
    at = api["shifts"].index([-1, 3])
    for model, answer in api["models"].items():
        assert shown(page, model)["now"] == answer["shifted"][at]["class"], model
    ann, cnn = api["models"]["ann"], api["models"]["cnn"]  # what the caption says the user sees, here
    assert ann["shifted"][at]["class"] != ann["predictions"][0]["class"]
    assert cnn["shifted"][at]["class"] == cnn["predictions"][0]["class"]
    picture = tmp_path / "page.png"
    page.screenshot(path=str(picture), full_page=True)
    assert picture.stat().st_size > 10_000
    if os.environ.get(
        "PIXELSENSE_SCREENSHOT"
    ):  # the README's: PIXELSENSE_SCREENSHOT=checkpoints/serve/page.png
        shutil.copy(picture, os.environ["PIXELSENSE_SCREENSHOT"])


def test_a_text_file_shows_the_apis_error_and_the_page_still_works(server, page, tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("not a photo\n")
    api = server.client.post("/api/v1/explain", files={"file": (text.name, text.read_bytes())}).json()
    page.set_input_files("#file", str(text))
    page.wait_for_selector("#error:not([hidden])")
    assert page.locator("#error").inner_text() == api["error"]
    page.locator("#examples button").first.click()  # an example after the error: answered again
    page.wait_for_selector("#error[hidden]", state="attached")
    # The photo shown is a blob: URL of the page's own origin.
    local = [url.removeprefix("blob:").startswith(server.url) for url in page.requested]
    assert page.requested and all(local), page.requested  # nothing from another host


def test_the_page_fits_a_phone_and_a_laptop_screen(page):
    """No sideways scrolling at a phone's width; the whole answer on one laptop screen (1280 × 800)."""
    page.locator("#examples button").last.click()
    page.wait_for_selector('.model[data-model="cnn"] .now[data-class]')
    laptop = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.scrollHeight]")
    assert laptop[0] <= 1280 and laptop[1] <= 800, laptop
    page.set_viewport_size({"width": 390, "height": 844})
    try:
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
    finally:
        page.set_viewport_size({"width": 1280, "height": 800})
