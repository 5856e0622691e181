// Express for tests/test_stacks.py: `node server.js PORT [compress]`.
// /stream writes 5 pieces 200 ms apart (the query string as in stack_app.py: count, gap, size);
// `compress` adds the compression middleware; ?flush=1 calls res.flush() after each write.
const express = require("express");
const compression = require("compression");

const app = express();
const port = Number(process.argv[2]);
if (process.argv[3] === "compress") app.use(compression());

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

app.get("/stream", async (req, res) => {
  const count = Number(req.query.count || 5);
  const gap = Number(req.query.gap || 0.2);
  const size = Number(req.query.size || 60);
  res.set({
    "Content-Type": "text/plain; charset=utf-8",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
  });
  for (let i = 0; i < count; i++) {
    if (i) await sleep(gap * 1000);
    const head = `piece ${i} `;
    res.write((head + "streaming is measured ".repeat(Math.floor(size / 22) + 1)).slice(0, size - 1) + "\n");
    if (req.query.flush && res.flush) res.flush();
  }
  res.end();
});

app.listen(port, "127.0.0.1");
