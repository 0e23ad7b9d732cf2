// Package browsertest opens pages in a real headless Chromium for tests:
// what the page logs, which requests it makes and what it renders, as a
// person's browser would see it.
//
// The browser is Debian's chromium (/usr/bin/chromium, or $CHROMIUM);
// it is driven by the npm package playwright-core, pinned, installed once
// into a cache directory ($STRATA_BROWSER_DIR, or strata-test/browser under
// the user's cache directory) and used with that executable, so nothing
// downloads a browser of its own.
package browsertest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/strata-oss/strata/internal/npmcache"
)

// Version is the pinned playwright-core release.
const Version = "1.64.1"

// Page is what a browser saw of one page.
type Page struct {
	Title string `json:"title"`
	// ConsoleErrors are console.error messages and uncaught exceptions.
	ConsoleErrors []string `json:"console_errors"`
	// Requests are the URLs the page asked for beyond its own document;
	// FailedRequests those that failed.
	Requests       []string `json:"requests"`
	FailedRequests []string `json:"failed_requests"`
	// Charts are the page's SVG images with their rendered size and the
	// number of shapes they draw.
	Charts []Chart `json:"charts"`
	// Headings are the h2 texts, in order.
	Headings []string `json:"headings"`
	// Width and Height are the page's full scroll size in CSS pixels.
	Width  int `json:"width"`
	Height int `json:"height"`
}

// Chart is one rendered SVG.
type Chart struct {
	Label  string  `json:"label"` // aria-label, else the <title>
	Width  float64 `json:"width"`
	Height float64 `json:"height"`
	Shapes int     `json:"shapes"` // rect, path, circle, line, polyline, polygon
	Texts  int     `json:"texts"`  // text elements: titles, axes, labels
}

const script = `
const { chromium } = require('playwright-core');
(async () => {
  const [file, png] = process.argv.slice(1);
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
           '--disable-component-update', '--disable-sync'] });
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  const url = require('url').pathToFileURL(file).href;
  const out = { console_errors: [], requests: [], failed_requests: [] };
  page.on('console', m => { if (m.type() === 'error') out.console_errors.push(m.text()); });
  page.on('pageerror', e => out.console_errors.push(String(e)));
  page.on('request', r => { if (r.url() !== url) out.requests.push(r.url()); });
  page.on('requestfailed', r => out.failed_requests.push(r.url()));
  await page.goto(url, { waitUntil: 'networkidle' });
  Object.assign(out, await page.evaluate(() => ({
    title: document.title,
    headings: [...document.querySelectorAll('h2')].map(h => h.textContent.trim()),
    width: document.documentElement.scrollWidth, height: document.documentElement.scrollHeight,
    charts: [...document.querySelectorAll('svg')].map(s => {
      const b = s.getBoundingClientRect();
      const t = s.querySelector('title');
      return { label: s.getAttribute('aria-label') || (t ? t.textContent : ''), width: b.width, height: b.height,
        shapes: s.querySelectorAll('rect,path,circle,line,polyline,polygon').length, texts: s.querySelectorAll('text').length };
    }),
  })));
  if (png) await page.screenshot({ path: png, fullPage: true });
  await browser.close();
  process.stdout.write(JSON.stringify(out));
})().catch(e => { process.stderr.write(String(e && e.stack || e)); process.exit(1); });
`

var (
	once    sync.Once
	dir     string
	initErr error
)

// Chromium returns the browser executable: $CHROMIUM, else Debian's.
func Chromium() (string, error) {
	exe := os.Getenv("CHROMIUM")
	if exe == "" {
		exe = "/usr/bin/chromium"
	}
	if _, err := os.Stat(exe); err != nil {
		return "", fmt.Errorf("no Chromium at %s (apt-get install chromium, or set CHROMIUM): %w", exe, err)
	}
	return exe, nil
}

// Install installs the pinned playwright-core if needed and returns its
// directory. playwright-core ships no browser and downloads none.
func Install() (string, error) {
	return npmcache.Install("browser", "STRATA_BROWSER_DIR", "playwright-core", Version)
}

// Load opens the HTML file at path in headless Chromium, waits until the
// network is idle, and reports what it saw; with png set it also saves a
// full-page screenshot there.
func Load(path, png string) (*Page, error) {
	once.Do(func() { dir, initErr = Install() })
	if initErr != nil {
		return nil, initErr
	}
	exe, err := Chromium()
	if err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	args := []string{"-e", script, abs}
	if png != "" {
		if png, err = filepath.Abs(png); err != nil {
			return nil, err
		}
		args = append(args, png)
	}
	cmd := exec.Command("node", args...)
	cmd.Env = append(os.Environ(), "NODE_PATH="+filepath.Join(dir, "node_modules"), "CHROMIUM="+exe)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("chromium on %s: %v: %s", path, err, stderr.String())
	}
	var p Page
	if err := json.Unmarshal(stdout.Bytes(), &p); err != nil {
		return nil, fmt.Errorf("chromium output: %v: %s", err, stdout.String())
	}
	return &p, nil
}

// Open is Load for tests: any failure to drive the browser fails t.
func Open(t testing.TB, path, png string) *Page {
	t.Helper()
	p, err := Load(path, png)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
