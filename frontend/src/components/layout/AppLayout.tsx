import { Suspense, useEffect, useState } from "react";
import { NavLink, Outlet, useLocation, useNavigate } from "react-router-dom";

import { useLogout, useMe } from "../../api/queries/auth";
import { cn, PageLoading } from "../ui";
import { ThemeToggle } from "./ThemeToggle";

const navClass = ({ isActive }: { isActive: boolean }) =>
  cn("rounded-md px-3 py-1.5 text-sm font-medium", isActive ? "bg-raised text-fg" : "text-muted hover:text-fg");

/** The signed-in shell: skip link, top navigation, theme toggle and the page. */
export function AppLayout() {
  const me = useMe();
  const logout = useLogout();
  const navigate = useNavigate();
  const user = me.data;
  // Below md the links and the account controls fold into one menu (a phone has no room for both).
  const [menuOpen, setMenuOpen] = useState(false);
  const location = useLocation();
  useEffect(() => setMenuOpen(false), [location.pathname, location.search]);
  const links = (
    <>
      <NavLink to="/" end className={navClass}>
        Dashboard
      </NavLink>
      <NavLink to="/projects" className={navClass}>
        Projects
      </NavLink>
      {user?.is_admin && (
        <NavLink to="/admin" className={navClass}>
          Admin
        </NavLink>
      )}
    </>
  );
  const account =
    user?.role === "guest" ? (
      <NavLink to="/login" className={navClass({ isActive: false })}>
        Log in
      </NavLink>
    ) : (
      <button
        type="button"
        className="whitespace-nowrap rounded-md px-3 py-1.5 text-left text-sm font-medium text-muted hover:text-fg"
        onClick={() => {
          logout();
          navigate("/login");
        }}
      >
        Log out
      </button>
    );
  return (
    <div className="flex min-h-screen flex-col">
      <a href="#main" className="sr-only z-50 rounded bg-accent px-3 py-2 text-accent-fg focus:not-sr-only focus:fixed focus:left-2 focus:top-2">
        Skip to content
      </a>
      <header className="sticky top-0 z-30 border-b border-line bg-panel/95 backdrop-blur">
        <div className="mx-auto flex h-14 max-w-7xl items-center gap-4 px-4">
          <NavLink to="/" className="flex items-center gap-2 font-semibold tracking-tight" aria-label="PromptLooper home">
            <svg viewBox="0 0 32 32" className="h-6 w-6 text-accent" aria-hidden="true">
              <circle cx="16" cy="16" r="12" fill="none" stroke="currentColor" strokeWidth="5" />
            </svg>
            <span className="hidden sm:inline">PromptLooper</span>
          </NavLink>
          <nav aria-label="Main" className="hidden items-center gap-1 md:flex">
            {links}
          </nav>
          <div className="ml-auto flex items-center gap-2">
            <ThemeToggle />
            {user && (
              <span className="hidden text-sm text-muted md:inline" data-testid="current-user">
                {user.username}
                {user.role === "guest" && " (read-only)"}
              </span>
            )}
            <span className="hidden md:inline">{account}</span>
            <button
              type="button"
              className="rounded-md px-3 py-1.5 text-sm font-medium text-muted hover:text-fg md:hidden"
              aria-expanded={menuOpen}
              aria-controls="mobile-menu"
              data-testid="menu-button"
              onClick={() => setMenuOpen((open) => !open)}
            >
              Menu
            </button>
          </div>
        </div>
        {menuOpen && (
          <div id="mobile-menu" className="border-t border-line px-4 py-2 md:hidden">
            <nav aria-label="Main menu" className="flex flex-col gap-1">
              {links}
            </nav>
            <div className="mt-2 flex items-center justify-between gap-2 border-t border-line pt-2">
              {user && (
                <span className="truncate text-sm text-muted">
                  {user.username}
                  {user.role === "guest" && " (read-only)"}
                </span>
              )}
              {account}
            </div>
          </div>
        )}
      </header>
      <main id="main" tabIndex={-1} className="mx-auto w-full min-w-0 max-w-7xl flex-1 px-3 py-6 focus:outline-none sm:px-4">
        <Suspense fallback={<PageLoading />}>
          <Outlet />
        </Suspense>
      </main>
    </div>
  );
}

/** The bare shell for login and setup. */
export function AuthLayout() {
  return (
    <div className="flex min-h-screen flex-col">
      <div className="flex justify-end p-3">
        <ThemeToggle />
      </div>
      <main id="main" className="flex flex-1 items-start justify-center px-4 pt-[8vh]">
        <Suspense fallback={<PageLoading />}>
          <Outlet />
        </Suspense>
      </main>
    </div>
  );
}
