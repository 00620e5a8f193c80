import { Navigate, Outlet, useLocation } from "react-router-dom";

import { useMe } from "../../api/queries/auth";
import { isApiError } from "../../api/errors";
import { ErrorMessage, PageLoading } from "../ui";

/** Pages behind login: waits for /auth/me; a 401 goes to /login (the QueryCache also handles it). */
export function RequireAuth() {
  const me = useMe();
  const location = useLocation();
  if (me.isPending) return <PageLoading label="Checking your session" />;
  if (me.isError) {
    if (isApiError(me.error, 401)) {
      const next = `${location.pathname}${location.search}`;
      return <Navigate to={`/login?next=${encodeURIComponent(next)}`} replace />;
    }
    return (
      <div className="mx-auto max-w-xl p-8">
        <ErrorMessage error={me.error} title="Cannot load your session" onRetry={() => void me.refetch()} />
      </div>
    );
  }
  return <Outlet />;
}

/** The signed-in user's role, for hiding write controls from guests. */
export function useCanWrite(): boolean {
  const me = useMe();
  return me.data?.role !== "guest";
}

export function useIsAdmin(): boolean {
  const me = useMe();
  return !!me.data?.is_admin;
}
