// The chat page's logic: streams /v1/chat/completions (server-sent events) into the page, then asks /v1/dialect
// what the answer is written in. Only relative URLs, so the page works wherever the server is mounted, in front of
// a model or of another endpoint alike. Model text only ever goes in through textContent, never as HTML.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { model: null, messages: [], controller: null };
const LABELS = {
  cantonese: "粵語 Cantonese",
  mixed: "混合 mixed",
  neutral: "中性 neutral",
  written_chinese: "書面語 written Chinese",
  other: "其他 other",
};

function headers() {
  const result = { "Content-Type": "application/json" };
  const key = $("api-key").value.trim();
  if (key) result.Authorization = `Bearer ${key}`;
  return result;
}

async function failure(response) {
  let message = `${response.status} ${response.statusText}`;
  try {
    const body = await response.json();
    if (body.error && body.error.message) message = body.error.message;
  } catch (_) {
    // not JSON: the status line says enough
  }
  if (response.status === 401) $("settings").open = true;
  return new Error(message);
}

function setStatus(text) {
  $("status").textContent = text;
}

async function loadModel() {
  const response = await fetch("v1/models", { headers: headers() });
  if (!response.ok) throw await failure(response);
  const body = await response.json();
  if (!body.data || !body.data.length) throw new Error("the server lists no model");
  state.model = body.data[0].id;
  $("model").textContent = state.model;
}

// Server-sent events from a fetch body. The TextDecoder is told the stream goes on, so a character whose bytes
// arrive in two network reads still comes out whole.
async function* events(response) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const event = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = event.split("\n").filter((line) => line.startsWith("data:"))
        .map((line) => line.slice(5).trimStart()).join("\n");
      if (data === "[DONE]") return;
      if (data) yield JSON.parse(data);
    }
  }
}

function addMessage(role, text) {
  const article = document.createElement("article");
  article.className = `msg ${role}`;
  const body = document.createElement("div");
  body.className = "text";
  body.textContent = text;
  article.append(body);
  $("log").append(article);
  article.scrollIntoView({ block: "end" });
  return article;
}

function percent(value) {
  return value === null || value === undefined ? "–" : `${Math.round(value * 100)}%`;
}

function badge(className, text, title) {
  const span = document.createElement("span");
  span.className = className;
  span.textContent = text;
  span.title = title;
  return span;
}

async function judge(article, text) {
  const aside = document.createElement("aside");
  aside.className = "dialect";
  article.append(aside);
  try {
    const response = await fetch("v1/dialect", { method: "POST", headers: headers(), body: JSON.stringify({ text }) });
    if (!response.ok) throw await failure(response);
    const verdict = await response.json();
    aside.dataset.label = verdict.label;
    aside.append(
      badge(`label label-${verdict.label}`, LABELS[verdict.label] || verdict.label, "the dialect judge's label"),
      badge("score", `score ${verdict.score.toFixed(2)}`, "probability that the answer is Cantonese"),
      badge("share", `Cantonese ${percent(verdict.share)}`, "share of the Han characters in Cantonese sentences"),
      badge(verdict.simplified_share ? "simplified warn" : "simplified", `Simplified ${percent(verdict.simplified_share)}`,
        "share of the Han characters that are Simplified (OpenCC s2t changes them, t2s leaves them)"),
    );
  } catch (err) {
    aside.append(badge("label label-error", "judge unavailable", err.message));
  }
}

function busy(on) {
  $("send").disabled = on;
  $("stop").hidden = !on;
}

async function send(text) {
  if (!text.trim() || state.controller) return;
  setStatus("");
  try {
    if (!state.model) await loadModel();
  } catch (err) {
    setStatus(`Cannot reach the model: ${err.message}`);
    return;
  }
  state.messages.push({ role: "user", content: text });
  addMessage("user", text);
  const article = addMessage("assistant", "");
  const body = article.querySelector(".text");
  article.dataset.state = "streaming";
  const controller = new AbortController();
  state.controller = controller;
  busy(true);
  let answer = "";
  try {
    const system = $("system").value.trim();
    const messages = system ? [{ role: "system", content: system }, ...state.messages] : state.messages;
    const response = await fetch("v1/chat/completions", {
      method: "POST",
      headers: headers(),
      signal: controller.signal,
      body: JSON.stringify({
        model: state.model,
        messages,
        stream: true,
        temperature: Number($("temperature").value),
        max_tokens: Number($("max-tokens").value),
      }),
    });
    if (!response.ok) throw await failure(response);
    for await (const chunk of events(response)) {
      if (chunk.error) throw new Error(chunk.error.message);
      const delta = chunk.choices && chunk.choices[0] && chunk.choices[0].delta;
      if (delta && delta.content) {
        answer += delta.content;
        body.textContent = answer;
        article.scrollIntoView({ block: "end" });
      }
    }
    article.dataset.state = "done";
  } catch (err) {
    article.dataset.state = err.name === "AbortError" ? "stopped" : "error";
    if (err.name !== "AbortError") article.append(badge("error", err.message, "what the server said"));
  } finally {
    state.controller = null;
    busy(false);
  }
  if (answer) {
    state.messages.push({ role: "assistant", content: answer });
    await judge(article, answer);
  } else {
    state.messages.pop();  // an unanswered question stays on screen but leaves the conversation
  }
  article.dataset.judged = "true";
}

$("composer").addEventListener("submit", (event) => {
  event.preventDefault();
  const text = $("prompt").value;
  $("prompt").value = "";
  send(text);
});

$("prompt").addEventListener("keydown", (event) => {
  // Enter while an input method is composing picks a candidate (Cantonese typed with Jyutping): never send then.
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
    event.preventDefault();
    $("composer").requestSubmit();
  }
});

$("stop").addEventListener("click", () => state.controller && state.controller.abort());

$("clear").addEventListener("click", () => {
  if (state.controller) state.controller.abort();
  state.messages = [];
  $("log").replaceChildren();
});

for (const button of document.querySelectorAll(".example")) {
  button.addEventListener("click", () => send(button.textContent));
}

$("api-key").addEventListener("change", () => {
  state.model = null;
  loadModel().then(() => setStatus(""), (err) => setStatus(err.message));
});

loadModel().catch((err) => setStatus(`Cannot reach the model: ${err.message}`));
