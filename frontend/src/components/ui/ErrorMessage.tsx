import type { ReactNode } from "react";

import { describeError, isApiError } from "../../api/errors";
import { Button } from "./Button";
import { cn } from "./cn";

/** An API (or network) error in words, with an optional retry. Renders nothing without an error. */
export function ErrorMessage({
  error,
  title,
  onRetry,
  className,
  children,
}: {
  error: unknown;
  title?: ReactNode;
  onRetry?: () => void;
  className?: string;
  children?: ReactNode;
}) {
  if (!error) return null;
  const code = isApiError(error) ? error.code : undefined;
  return (
    <div role="alert" data-testid="error-message" className={cn("rounded-md border border-bad/40 bg-bad/10 px-3 py-2 text-sm", className)}>
      <div className="flex flex-wrap items-start justify-between gap-2">
        <div className="min-w-0">
          {title && <p className="font-medium text-bad">{title}</p>}
          <p className="text-fg" data-error-code={code}>
            {describeError(error)}
          </p>
          {children}
        </div>
        {onRetry && (
          <Button size="sm" variant="secondary" onClick={onRetry}>
            Try again
          </Button>
        )}
      </div>
    </div>
  );
}
