// Drive the rtsession web page in headless Chromium (Debian's /usr/bin/chromium) with a fake
// microphone fed from a WAV file: press Start, wait for the user's words, the replies (one
// interrupted by the user talking over it), a tool call and played reply audio to appear in
// the DOM, take a screenshot, print what was seen
// as one JSON line. Usage: node web_page.mjs URL WAV SCREENSHOT [TIMEOUT_MS]
import { chromium } from "playwright-core";

const [url, wav, screenshot, timeout = "60000"] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    `--use-file-for-fake-audio-capture=${wav}`,
    "--autoplay-policy=no-user-gesture-required",
  ],
});
const problems = [];
try {
  const page = await browser.newPage({ viewport: { width: 900, height: 700 } });
  page.on("console", (message) => {
    if (message.type() === "error") problems.push(message.text());
  });
  page.on("pageerror", (error) => problems.push(String(error)));
  page.on("response", (response) => {
    if (response.status() >= 400) problems.push(`${response.status()} ${response.url()}`);
  });
  await page.goto(url);
  await page.getByRole("button", { name: "Start" }).click();
  await page.waitForFunction(
    () => {
      const text = (selector) =>
        [...document.querySelectorAll(selector)].map((li) => li.textContent).join(" | ");
      return (
        /weather/i.test(text("#transcript li.user")) &&
        /sunny/i.test(text("#transcript li.assistant")) &&
        /get_weather/.test(text("#transcript li.tool")) &&
        document.querySelector("#transcript li.assistant.interrupted") !== null &&
        document.querySelectorAll("#transcript li.assistant").length >= 2 &&
        Number(document.getElementById("played").dataset.playedMs) > 2000
      );
    },
    null,
    { timeout: Number(timeout), polling: 100 },
  );
  const seen = await page.evaluate(() => {
    const texts = (selector) =>
      [...document.querySelectorAll(selector)].map((li) => li.textContent);
    return {
      user: texts("#transcript li.user"),
      assistant: texts("#transcript li.assistant"),
      tool: texts("#transcript li.tool"),
      interrupted: texts("#transcript li.assistant.interrupted"),
      played_ms: Number(document.getElementById("played").dataset.playedMs),
      latency: document.getElementById("latency").textContent,
      status: document.getElementById("status").textContent,
      pressed: document.getElementById("toggle").getAttribute("aria-pressed"),
    };
  });
  await page.screenshot({ path: screenshot });
  console.log(JSON.stringify({ ...seen, problems }));
} catch (error) {
  console.log(JSON.stringify({ error: String(error), problems }));
  process.exitCode = 1;
} finally {
  await browser.close();
}
