import { Link } from "react-router-dom";

import type { Schemas } from "../../api/client";
import { shortId } from "../../lib/format";

/** "Forked from <experiment> · run <id>" with links, for an experiment's header. */
export function ForkedFrom({ origin }: { origin: Schemas["ForkedFrom"] | null | undefined }) {
  if (!origin) return null;
  return (
    <span className="text-sm text-muted" data-testid="forked-from">
      Forked from{" "}
      <Link to={`/experiments/${origin.experiment_id}`} className="hover:text-accent hover:underline">
        experiment {shortId(origin.experiment_id)}
      </Link>
      {origin.run_id && (
        <>
          {" · "}
          <Link to={`/runs/${origin.run_id}`} className="hover:text-accent hover:underline">
            run {shortId(origin.run_id)}
          </Link>
        </>
      )}
    </span>
  );
}
