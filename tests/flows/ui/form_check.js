// Checks a deployment's run form in headless Chromium (Debian's package), as a person would see it.
//   NODE_PATH=$(npm root -g) node tests/flows/ui/form_check.js RUN_FORM_URL OUT_DIR
// Prints one JSON object: the labels, whether any field reads 'Property is type "None"', the
// source-language choices (and whether it shows str/None tabs), and the message shown under `Input` after submitting "not-a-uri".
// Saves OUT_DIR/form.png (the form as it opens), form-source-lang.png (the list open) and
// form-uri-error.png (after submitting a bad URI).
const { chromium } = require('playwright-core');

(async () => {
  const [url, outDir] = process.argv.slice(2);
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
           '--disable-sync', '--no-first-run'],
  });
  const page = await browser.newPage({ viewport: { width: 1280, height: +(process.env.FORM_HEIGHT || 2600) } });
  await page.goto(url, { waitUntil: 'networkidle', timeout: 60000 });
  await page.getByText('Parameters', { exact: true }).first().waitFor({ timeout: 30000 });
  await page.waitForTimeout(1000);
  await page.screenshot({ path: `${outDir}/form.png`, fullPage: true });
  const text = await page.evaluate(() => document.body.innerText);
  const labels = await page.$$eval('label', (els) => els.map((e) => e.innerText.trim()).filter(Boolean));
  const property = (label) => page.locator('.schema-form-property', {
    has: page.locator('.schema-form-property__label', { hasText: label }),
  }).first();
  // The source-language list as a person opens it (a popover of options, not a native <select>).
  const source = property(/^(Source language|source_lang)/);
  const tabs = await source.locator('button', { hasText: /^(str|None)$/ }).count();
  await source.locator('.p-select-button__control').first().focus();
  await page.keyboard.press('Space');  // opens the list with its options (role=option)
  await page.waitForTimeout(700);
  const choices = await page.locator('[role=option]').allInnerTexts();
  await page.screenshot({ path: `${outDir}/form-source-lang.png`, clip: { x: 0, y: 0, width: 1280, height: 1100 } });
  await page.keyboard.press('Escape');
  const validated = page.waitForResponse((r) => r.url().includes('/ui/schemas/validate'), { timeout: 30000 });
  const input = property(/^(Input|input_uri)$/).locator('textarea, input').first();
  await input.fill('not-a-uri');
  await page.getByRole('button', { name: 'Submit' }).click();
  const answer = await (await validated).json();
  await page.waitForTimeout(1000);
  await input.scrollIntoViewIfNeeded();
  await page.screenshot({ path: `${outDir}/form-uri-error.png`, clip: { x: 0, y: 0, width: 1280, height: 900 } });
  const after = await page.evaluate(() => document.body.innerText);
  console.log(JSON.stringify({
    labels, source_lang: { choices: choices.map((c) => c.trim()), tabs }, none_tab: text.includes('Property is type "None"'), validation: answer,
    shown: after.split('\n').filter((line) => line.includes('was expected') || line.includes('does not match')),
  }));
  await browser.close();
})().catch((e) => { console.error(e); process.exit(1); });
