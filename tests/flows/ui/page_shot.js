// Screenshot of a Prefect UI page once TEXT is on it:  node page_shot.js URL TEXT OUT.png [HEIGHT]
const { chromium } = require('playwright-core');

(async () => {
  const [url, text, out, height] = process.argv.slice(2);
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
           '--disable-sync', '--no-first-run'],
  });
  const page = await browser.newPage({ viewport: { width: 1280, height: +(height || 1000) } });
  await page.goto(url, { waitUntil: 'networkidle', timeout: 60000 });
  await page.getByText(text).first().waitFor({ timeout: 30000 });
  await page.waitForTimeout(1000);
  await page.screenshot({ path: out, fullPage: true });
  console.log(JSON.stringify({ text: (await page.evaluate(() => document.body.innerText)).slice(0, 4000) }));
  await browser.close();
})().catch((e) => { console.error(e); process.exit(1); });
