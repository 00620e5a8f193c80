// Shared by the dashboard end-to-end test (run.mjs) and the dashboard benchmark (bench.mjs):
// the loopback LLM mock and a real `promptlooper serve`, each on a free port in a fresh temp
// DATA_DIR, killed at the end even on failure; Chromium through playwright-core (never downloaded).
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

// playwright-core never downloads a browser, but make sure nothing tries to.
process.env.PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD = "1";

export const E2E_DIR = dirname(fileURLToPath(import.meta.url));
export const FRONTEND_DIR = resolve(E2E_DIR, "..");
export const REPO_ROOT = resolve(FRONTEND_DIR, "..");
export const DIST_DIR = join(FRONTEND_DIR, "dist");
export const VENV_BIN = join(REPO_ROOT, ".venv", "bin");
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
export const IS_CI = process.env.CI === "true";

const children = new Set();
const tempDirs = new Set();

/** Kill every child still running and remove the temp dirs (synchronous: safe in an exit handler). */
function killAllNow() {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) {
      try {
        child.kill("SIGKILL");
      } catch {
        // already gone
      }
    }
  }
  children.clear();
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  tempDirs.clear();
}
process.on("exit", killAllNow);
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(signal, () => {
    killAllNow();
    process.exit(128 + (signal === "SIGINT" ? 2 : signal === "SIGTERM" ? 15 : 1));
  });
}

export function tempDir(prefix) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

/** A TCP port free on 127.0.0.1 right now. */
export function freePort() {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolvePort(port));
    });
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Poll `fn` until it returns a truthy value; throw `message` (plus the last value/error) after `timeout` ms. */
export async function poll(fn, { timeout = 30_000, interval = 100, message = "condition" } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      const value = await fn();
      if (value) return value;
      last = value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      const detail = last instanceof Error ? last.message : JSON.stringify(last);
      throw new Error(`timed out after ${timeout} ms waiting for ${message} (last: ${detail})`);
    }
    await sleep(interval);
  }
}

class Proc {
  constructor(name, child) {
    this.name = name;
    this.child = child;
    this.output = "";
    const keep = (chunk) => {
      this.output += chunk.toString();
      if (this.output.length > 200_000) this.output = this.output.slice(-100_000);
    };
    child.stdout?.on("data", keep);
    child.stderr?.on("data", keep);
    this.exited = new Promise((r) => child.on("exit", (code, signal) => r({ code, signal })));
  }

  get running() {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  tail(lines = 40) {
    return this.output.split("\n").slice(-lines).join("\n");
  }

  /** SIGTERM, then SIGKILL after `graceMs`. */
  async stop(graceMs = 5000) {
    if (this.running) {
      this.child.kill("SIGTERM");
      const timer = setTimeout(() => this.running && this.child.kill("SIGKILL"), graceMs);
      await this.exited;
      clearTimeout(timer);
    }
    children.delete(this.child);
  }
}

function spawnTracked(name, command, args, options) {
  const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"], ...options });
  children.add(child);
  return new Proc(name, child);
}

/**
 * The loopback OpenAI-compatible mock (backend/tests/support/llm_server.py) on a free port.
 * Answers `{ proc, url }` with url the /v1 base.
 */
export async function startMock({ latency = 0.05, models = ["m1", "m2"], timeout = 60_000 } = {}) {
  const python = join(VENV_BIN, "python");
  if (!existsSync(python)) throw new Error(`${python} is missing: run \`make install\` first`);
  const cwd = tempDir("pl-e2e-mock-");
  const proc = spawnTracked(
    "llm-mock",
    python,
    ["-m", "tests.support.llm_server", "--port", "0", "--latency", String(latency), "--models", models.join(",")],
    { cwd, env: { ...process.env, PYTHONUNBUFFERED: "1", PYTHONPATH: join(REPO_ROOT, "backend") } },
  );
  const match = await poll(() => {
    if (!proc.running) throw new Error(`the LLM mock exited:\n${proc.tail()}`);
    return /LLM server ready on (http:\/\/127\.0\.0\.1:\d+\/v1) \(port (\d+)\)/.exec(proc.output);
  }, { timeout, message: "the LLM mock to print its ready line" });
  return { proc, url: match[1], port: Number(match[2]) };
}

// Settings that would point the server somewhere else than a fresh SQLite database in DATA_DIR.
const SERVER_ENV_DROP = [
  "DATABASE_URL",
  "REDIS_URL",
  "API_KEY",
  "JWT_SECRET",
  "ENCRYPTION_KEY",
  "DEFAULT_ENDPOINT_URL",
  "DEFAULT_ENDPOINT_KEY",
  "DASHBOARD_DIR",
  "DATA_DIR",
  "MCP_PORT",
  "HOST",
  "PORT",
];

/**
 * `promptlooper serve` on a free port with SQLite in a fresh DATA_DIR, MCP off, waiting on GET /health.
 * Answers `{ proc, url, dataDir }`.
 */
export async function startServer({ timeout = 90_000, env = {} } = {}) {
  const bin = join(VENV_BIN, "promptlooper");
  if (!existsSync(bin)) throw new Error(`${bin} is missing: run \`make install\` first`);
  if (!existsSync(join(DIST_DIR, "index.html"))) throw new Error(`${DIST_DIR} has no index.html: run \`make dashboard\` first`);
  const dataDir = tempDir("pl-e2e-data-");
  const port = await freePort();
  const fullEnv = { ...process.env };
  for (const name of SERVER_ENV_DROP) delete fullEnv[name];
  Object.assign(fullEnv, {
    DATA_DIR: dataDir,
    DASHBOARD_DIR: DIST_DIR,
    MCP_ENABLED: "false",
    LOG_LEVEL: "warning",
    PYTHONUNBUFFERED: "1",
    ...env,
  });
  // cwd is the temp dir so a developer's `.env` in the repo is not read.
  const proc = spawnTracked("server", bin, ["serve", "--host", "127.0.0.1", "--port", String(port)], { cwd: dataDir, env: fullEnv });
  const url = `http://127.0.0.1:${port}`;
  await poll(async () => {
    if (!proc.running) throw new Error(`promptlooper serve exited:\n${proc.tail()}`);
    const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(3000) });
    if (res.status !== 200) return false;
    const body = await res.json();
    return body.status === "ok";
  }, { timeout, interval: 200, message: "GET /health to answer ok" });
  return { proc, url, dataDir };
}

/** A tiny JSON client for the REST API (assertions and setup of the benchmark, never UI steps). */
export function apiClient(baseUrl, getToken) {
  const call = async (method, path, body) => {
    const headers = { Accept: "application/json" };
    const token = getToken?.();
    if (token) headers.Authorization = `Bearer ${token}`;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const res = await fetch(`${baseUrl}/api/v1${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(120_000),
    });
    const text = await res.text();
    let data = text;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      // plain text answer (exports)
    }
    if (!res.ok) {
      const error = new Error(`${method} ${path} answered ${res.status}: ${text.slice(0, 500)}`);
      error.status = res.status;
      error.data = data;
      throw error;
    }
    return data;
  };
  return {
    get: (path) => call("GET", path),
    post: (path, body) => call("POST", path, body ?? {}),
    put: (path, body) => call("PUT", path, body),
  };
}

/** playwright-core's chromium, launched from the system's executable (never a downloaded one). */
export async function launchChromium() {
  const { chromium } = await import("playwright-core");
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--no-first-run", "--no-default-browser-check"],
  });
}

/** Whether Chromium is there; when it is not, the caller skips (or fails under CI=true). */
export function chromiumMissing() {
  return existsSync(CHROMIUM_PATH) ? null : `Chromium not found at ${CHROMIUM_PATH} (set CHROMIUM_PATH, or apt-get install chromium)`;
}

export function readText(path) {
  return readFileSync(path, "utf8");
}
