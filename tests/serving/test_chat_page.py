"""The chat page in a real browser: headless Chromium from Debian, driven by Selenium, against the real server on the
tiny model, directly and through a proxy-mode front; a person types, the answer streams in, the dialect verdict
appears beside it. Screenshots are kept under pytest's tmp_path (their paths are printed)."""

from __future__ import annotations

import pytest

from canto_nemo.serving.server import build_app, serving

PROMPT = "我聽朝要submit個report，點寫好？"
LABELS = {"粵語 Cantonese", "混合 mixed", "中性 neutral", "書面語 written Chinese", "其他 other"}

@pytest.fixture(scope="module")
def servers(tiny_model):
    with serving(build_app(model=str(tiny_model))) as direct, serving(build_app(endpoint=direct)) as front:
        yield {"model": direct, "proxy": front}


@pytest.mark.parametrize("mode", ["model", "proxy"])
def test_a_person_chats_and_sees_the_dialect_of_the_answer(servers, browser, tmp_path, mode):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, 60)
    browser.get(servers[mode])
    model = browser.find_element(By.ID, "model")
    wait.until(lambda _: model.text not in ("", "…"))
    assert model.text.endswith("model")  # the tiny model's folder, as /v1/models lists it
    max_tokens = browser.find_element(By.ID, "max-tokens")
    browser.find_element(By.CSS_SELECTOR, "#settings summary").click()
    max_tokens.clear()
    max_tokens.send_keys("40")
    browser.find_element(By.ID, "prompt").send_keys(PROMPT)
    browser.find_element(By.ID, "send").click()

    answer = wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, ".msg.assistant")))
    wait.until(lambda _: answer.get_attribute("data-judged") == "true")
    assert browser.find_element(By.CSS_SELECTOR, ".msg.user .text").text == PROMPT
    assert answer.get_attribute("data-state") == "done"
    text = answer.find_element(By.CSS_SELECTOR, ".text").get_attribute("textContent")
    assert text and "\ufffd" not in text
    label = answer.find_element(By.CSS_SELECTOR, ".dialect .label").text
    assert label in LABELS
    badges = [b.text for b in answer.find_elements(By.CSS_SELECTOR, ".dialect span")]
    assert badges[1].startswith("score ") and badges[2].startswith("Cantonese ")
    assert badges[3].startswith("Simplified ")
    shot = tmp_path / f"chat-page-{mode}.png"
    assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
    print(f"\nscreenshot of the chat page ({mode} mode): {shot}")
    severe = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert not severe, severe  # no script error, no blocked resource
