import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { repoRoot } from './stack';

/**
 * The Chromium executable from scripts/browser.sh, which installs Debian's package when there is
 * none (that can take minutes: give the calling hook a long timeout). Throws with the script's
 * own reason when it cannot: a browser test must fail, never skip, without a browser.
 */
export function chromiumPath(): string {
  const result = spawnSync('bash', [path.join(repoRoot, 'scripts/browser.sh'), 'path'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 10 * 60_000,
  });
  const executable = result.stdout?.trim() ?? '';
  if (result.status !== 0 || executable === '') {
    const reason = result.error?.message ?? result.stderr?.trim() ?? '';
    throw new Error(
      `no Chromium for the browser tests (bash scripts/browser.sh path exited ${result.status}): ${reason}`,
    );
  }
  return executable;
}

/** Headless Chromium. `--no-sandbox`: tests run as root, where Chromium's sandbox refuses to start. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath(),
    headless: true,
    args: ['--no-sandbox'],
  });
}

/** `test-output/screenshots` (git-ignored), created if missing: screenshots to look at by hand. */
export function screenshotDir(): string {
  const dir = path.join(repoRoot, 'test-output', 'screenshots');
  mkdirSync(dir, { recursive: true });
  return dir;
}
