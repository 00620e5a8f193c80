import { useCallback, useEffect, useState } from "react";

// Dark and light themes: the saved choice wins, otherwise the system's preference (followed live).
export type Theme = "light" | "dark";
const THEME_KEY = "promptlooper.theme";

function systemTheme(): Theme {
  return typeof window !== "undefined" && window.matchMedia?.("(prefers-color-scheme: dark)").matches ? "dark" : "light";
}

export function savedTheme(): Theme | null {
  try {
    const value = localStorage.getItem(THEME_KEY);
    return value === "dark" || value === "light" ? value : null;
  } catch {
    return null;
  }
}

export function currentTheme(): Theme {
  return savedTheme() ?? systemTheme();
}

export function applyTheme(theme: Theme): void {
  document.documentElement.classList.toggle("dark", theme === "dark");
  window.dispatchEvent(new CustomEvent("promptlooper:theme", { detail: theme }));
}

export function saveTheme(theme: Theme): void {
  try {
    localStorage.setItem(THEME_KEY, theme);
  } catch {
    // Not persisted in private mode; still applied.
  }
  applyTheme(theme);
}

/** The active theme and a toggle; charts can read `theme` to pick their palette. */
export function useTheme(): { theme: Theme; toggle: () => void; setTheme: (theme: Theme) => void } {
  const [theme, setThemeState] = useState<Theme>(currentTheme);

  useEffect(() => {
    const onChange = (event: Event) => setThemeState((event as CustomEvent<Theme>).detail);
    window.addEventListener("promptlooper:theme", onChange);
    const media = window.matchMedia?.("(prefers-color-scheme: dark)");
    const onSystem = () => {
      if (!savedTheme()) applyTheme(systemTheme());
    };
    media?.addEventListener?.("change", onSystem);
    return () => {
      window.removeEventListener("promptlooper:theme", onChange);
      media?.removeEventListener?.("change", onSystem);
    };
  }, []);

  const setTheme = useCallback((next: Theme) => saveTheme(next), []);
  const toggle = useCallback(() => saveTheme(currentTheme() === "dark" ? "light" : "dark"), []);
  return { theme, toggle, setTheme };
}
