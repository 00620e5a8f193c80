import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";

import { clearToken, getToken, setToken } from "../../lib/auth";
import { api, unwrap, type Schemas, type User } from "../client";
import { isApiError } from "../errors";
import { queryKeys } from "./keys";

type Credentials = Schemas["Credentials"];

/** The signed-in user (or the guest principal when guest access is on); 401 when neither. */
export function useMe(options: { enabled?: boolean } = {}) {
  return useQuery({
    queryKey: queryKeys.auth.me,
    queryFn: () => unwrap(api.GET("/api/v1/auth/me")),
    staleTime: 5 * 60_000,
    retry: (count, error) => !isApiError(error, 401) && count < 2,
    enabled: options.enabled ?? true,
  });
}

/** Public: whether first-boot setup is still needed and whether guests may read. */
export function useAuthStatus() {
  return useQuery({
    queryKey: queryKeys.auth.status,
    queryFn: () => unwrap(api.GET("/api/v1/auth/status")),
    staleTime: 10_000,
    meta: { authRedirect: false },
  });
}

function useSignedIn() {
  const queryClient = useQueryClient();
  return (answer: Schemas["TokenOut"]) => {
    setToken(answer.access_token);
    queryClient.clear();
    queryClient.setQueryData<User>(queryKeys.auth.me, answer.user);
  };
}

/** Log in with a username and password; the token is stored for later requests. */
export function useLogin() {
  const signedIn = useSignedIn();
  return useMutation({
    mutationFn: (body: Credentials) => unwrap(api.POST("/api/v1/auth/login", { body })),
    onSuccess: signedIn,
    meta: { authRedirect: false },
  });
}

/** First boot: create the admin account (409 once a user exists) and sign in as it. */
export function useSetup() {
  const signedIn = useSignedIn();
  return useMutation({
    mutationFn: (body: Credentials) => unwrap(api.POST("/api/v1/auth/setup", { body })),
    onSuccess: signedIn,
    meta: { authRedirect: false },
  });
}

/** Use a pasted API key (`pl_...`) as the session's bearer token. */
export function useApiKeyLogin() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: async (key: string) => {
      const previous = getToken();
      setToken(key);
      try {
        return await unwrap(api.GET("/api/v1/auth/me"));
      } catch (error) {
        setToken(previous);
        throw error;
      }
    },
    onSuccess: (user) => {
      queryClient.clear();
      queryClient.setQueryData<User>(queryKeys.auth.me, user);
    },
    meta: { authRedirect: false },
  });
}

export function useLogout() {
  const queryClient = useQueryClient();
  return () => {
    clearToken();
    queryClient.clear();
  };
}
