import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";

import { api, unwrap, type Schemas } from "../client";
import { queryKeys } from "./keys";

export type Proposal = Schemas["ProposalOut"];

/** A sweep's prompt proposals (newest first); `version` (live proposal events) refetches them. */
export function useProposals(sweepId: string | undefined, version = 0) {
  return useQuery({
    queryKey: queryKeys.proposals.ofSweep(sweepId ?? "", version),
    queryFn: () =>
      unwrap(api.GET("/api/v1/sweeps/{sweep_id}/proposals", { params: { path: { sweep_id: sweepId! }, query: { limit: 50 } } })),
    enabled: !!sweepId,
    placeholderData: keepPreviousData,
  });
}

function useDecide(action: "approve" | "reject") {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: ({ id, text, reason }: { id: string; text?: string; reason?: string }) => {
      const path = { params: { path: { proposal_id: id } } };
      if (action === "approve") return unwrap(api.POST("/api/v1/proposals/{proposal_id}/approve", { ...path, body: text ? { text } : {} }));
      return unwrap(api.POST("/api/v1/proposals/{proposal_id}/reject", { ...path, body: reason ? { reason } : {} }));
    },
    onSuccess: () => {
      void queryClient.invalidateQueries({ queryKey: queryKeys.proposals.all });
      void queryClient.invalidateQueries({ queryKey: queryKeys.runs.all });
      void queryClient.invalidateQueries({ queryKey: queryKeys.experiments.all });
    },
  });
}

/** Approve a pending proposal (optionally edited): it joins the sweep and its parameter space. */
export const useApproveProposal = () => useDecide("approve");
/** Reject a pending proposal: nothing is ever run for it. */
export const useRejectProposal = () => useDecide("reject");
