// The ticket's phone page: its progress line follows the hall live (server-sent events);
// once the ticket is done the page reloads to offer the rating. No other script runs.
"use strict";
(() => {
  const line = document.getElementById("progress");
  if (!line || line.dataset.final === "yes" || !window.EventSource) return;
  const stream = new EventSource(line.dataset.stream);
  stream.addEventListener("progress", (message) => {
    const progress = JSON.parse(message.data);
    line.textContent = progress.text;
    line.className = "progress state-" + progress.state;
    if (progress.final) {
      stream.close();
      window.location.reload();
    }
  });
})();
