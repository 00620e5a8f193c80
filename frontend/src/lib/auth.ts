// The bearer token (a JWT from login/setup, or a pasted API key) lives in localStorage so a reload
// keeps the session; everything that talks to the API reads it from here.
const TOKEN_KEY = "promptlooper.token";

type Listener = (token: string | null) => void;
const listeners = new Set<Listener>();

export function getToken(): string | null {
  try {
    return localStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

export function setToken(token: string | null): void {
  try {
    if (token) localStorage.setItem(TOKEN_KEY, token);
    else localStorage.removeItem(TOKEN_KEY);
  } catch {
    // Private mode without storage: the session lasts until the tab closes.
  }
  listeners.forEach((listener) => listener(token));
}

export function clearToken(): void {
  setToken(null);
}

export function onTokenChange(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** Where to go back to after logging in: only same-app paths, never an open redirect. */
export function safeNext(next: string | null | undefined): string {
  if (!next || !next.startsWith("/") || next.startsWith("//") || next.startsWith("/login") || next.startsWith("/setup")) {
    return "/";
  }
  return next;
}
