import { useQuery } from "@tanstack/react-query";

import { ApiError } from "../errors";
import { api } from "../client";
import { queryKeys } from "./keys";

/** GET /health (public): 200 when every part is up, 503 naming the part that is down. */
export function useHealth(options: { refetchInterval?: number } = {}) {
  return useQuery({
    queryKey: queryKeys.health,
    queryFn: async () => {
      const { data, error, response } = await api.GET("/health");
      if (data) return data;
      throw ApiError.from(response.status, error);
    },
    refetchInterval: options.refetchInterval,
  });
}
