// pdqa's web page: ask without reloading and watch verified LLM sentences arrive.
// Without this script the form posts to / and the server returns the whole answer page.
// Everything inserted comes from the server's own escaped rendering, or is set as text.
"use strict";

(function () {
  document.documentElement.dataset.enhanced = "true";
  const form = document.getElementById("ask");
  if (!form || !window.fetch || !window.TextDecoder || !window.ReadableStream) {
    return;
  }
  const input = document.getElementById("q");
  const button = form.querySelector("button[type=submit]");
  const status = document.getElementById("status");
  const live = document.getElementById("live");
  const result = document.getElementById("result");

  function setBusy(busy) {
    button.disabled = busy;
    form.setAttribute("aria-busy", busy ? "true" : "false");
  }

  function showError(error, hint) {
    const section = document.createElement("section");
    section.className = "error";
    section.setAttribute("role", "alert");
    const heading = document.createElement("h2");
    heading.textContent = "Could not answer";
    const message = document.createElement("p");
    message.textContent = error;
    section.append(heading, message);
    if (hint) {
      const more = document.createElement("p");
      more.className = "hint";
      more.textContent = hint;
      section.append(more);
    }
    result.replaceChildren(section);
  }

  function handle(name, data) {
    if (name === "status") {
      status.textContent = data.text;
    } else if (name === "sentence") {
      live.insertAdjacentHTML("beforeend", data.html);
    } else if (name === "done") {
      live.replaceChildren();
      status.textContent = "";
      result.innerHTML = data.html;
      const heading = document.getElementById("answer-heading");
      if (heading) {
        heading.focus();
      }
    } else if (name === "error") {
      live.replaceChildren();
      status.textContent = "";
      result.innerHTML = data.html;
    }
  }

  async function readEvents(response) {
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) {
        break;
      }
      buffer += decoder.decode(value, { stream: true });
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        let name = "message";
        const data = [];
        for (const line of block.split("\n")) {
          if (line.startsWith("event: ")) {
            name = line.slice(7);
          } else if (line.startsWith("data: ")) {
            data.push(line.slice(6));
          }
        }
        if (data.length) {
          handle(name, JSON.parse(data.join("\n")));
        }
      }
    }
  }

  form.addEventListener("submit", async function (event) {
    const question = input.value.trim();
    if (!question) {
      return;
    }
    event.preventDefault();
    setBusy(true);
    live.replaceChildren();
    result.replaceChildren();
    status.textContent = "Looking through the documents…";
    try {
      const response = await fetch("/web/ask", {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ q: question }),
        credentials: "same-origin",
      });
      const type = response.headers.get("Content-Type") || "";
      if (!response.ok) {
        status.textContent = "";
        if (type.startsWith("application/json")) {
          const body = await response.json();
          showError(body.error, body.hint);
        } else {
          showError("The server answered " + response.status + ".", "");
        }
        return;
      }
      await readEvents(response);
      history.pushState({ q: question }, "", "/?q=" + encodeURIComponent(question));
      document.title = question.slice(0, 80) + " — pdqa";
    } catch (failure) {
      status.textContent = "";
      showError("The answer could not be fetched: " + failure.message, "Check that the server is still running.");
    } finally {
      setBusy(false);
    }
  });

  window.addEventListener("popstate", function () {
    window.location.reload();
  });
})();
