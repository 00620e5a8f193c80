import { MutationCache, QueryCache, QueryClient } from "@tanstack/react-query";

import { clearToken } from "../lib/auth";
import { isApiError } from "./errors";

declare module "@tanstack/react-query" {
  interface Register {
    queryMeta: { authRedirect?: boolean };
    mutationMeta: { authRedirect?: boolean };
  }
}

/**
 * The app's QueryClient. A 401 from any query or mutation is handled here, once: the token is
 * dropped and `onUnauthorized` sends the user to log in (login/setup mutations opt out with
 * `meta: { authRedirect: false }` and show their own error).
 */
export function createQueryClient(onUnauthorized: () => void): QueryClient {
  let redirecting = false;
  const handle = (error: unknown, meta: { authRedirect?: boolean } | undefined) => {
    if (!isApiError(error, 401) || meta?.authRedirect === false || redirecting) return;
    redirecting = true;
    clearToken();
    queryClient.clear();
    onUnauthorized();
    window.setTimeout(() => {
      redirecting = false;
    }, 500);
  };
  const queryClient: QueryClient = new QueryClient({
    queryCache: new QueryCache({ onError: (error, query) => handle(error, query.meta) }),
    mutationCache: new MutationCache({ onError: (error, _v, _c, mutation) => handle(error, mutation.meta) }),
    defaultOptions: {
      queries: {
        staleTime: 15_000,
        refetchOnWindowFocus: false,
        retry: (count, error) => {
          if (isApiError(error) && error.status >= 400 && error.status < 500) return false;
          return count < 2;
        },
      },
      mutations: { retry: false },
    },
  });
  return queryClient;
}
