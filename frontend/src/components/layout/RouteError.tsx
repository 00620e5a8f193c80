import { isRouteErrorResponse, Link, useRouteError } from "react-router-dom";

import { describeError } from "../../api/errors";
import { buttonClass } from "../ui";

/** Shown when a page throws while rendering or its chunk fails to load (e.g. after a redeploy). */
export function RouteError() {
  const error = useRouteError();
  const chunkFailed = error instanceof Error && /dynamically imported module|Importing a module script failed/i.test(error.message);
  const message = isRouteErrorResponse(error)
    ? `${error.status} ${error.statusText}`
    : chunkFailed
      ? "This page's code could not be loaded (the dashboard may have been updated): reload the page."
      : describeError(error);
  return (
    <div role="alert" className="mx-auto max-w-xl p-8">
      <h1 className="text-xl font-semibold">Something went wrong</h1>
      <p className="mt-2 text-muted">{message}</p>
      <div className="mt-4 flex gap-2">
        <button type="button" className={buttonClass("primary")} onClick={() => window.location.reload()}>
          Reload
        </button>
        <Link to="/" className={buttonClass("secondary")}>
          Go to the dashboard
        </Link>
      </div>
    </div>
  );
}
