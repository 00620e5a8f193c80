// Rate one side's output in Compare: the same per-output rating as the run page (one per person).
import { useRateOutput, useRunRatings } from "../../api/queries/reviews";
import { useCanWrite } from "../layout/RequireAuth";
import { OutputRating } from "../run/OutputRating";

export function CompareRating({ runId, sampleId }: { runId: string; sampleId: string }) {
  const ratings = useRunRatings(runId);
  const rate = useRateOutput();
  const canWrite = useCanWrite();
  const items = (ratings.data?.items ?? []).filter((r) => r.sample_id === sampleId);
  const mine = items.find((r) => r.mine)?.rating ?? null;
  return (
    <div className="mt-2" data-testid={`compare-rating-${runId.slice(0, 8)}-${sampleId}`}>
      <OutputRating
        sampleId={sampleId}
        mine={mine}
        others={items.filter((r) => !r.mine).map((r) => r.rating)}
        onRate={(rating) => rate.mutate({ runId, sampleId, rating })}
        disabled={!canWrite}
        pending={rate.isPending}
      />
    </div>
  );
}
