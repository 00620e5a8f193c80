import { useState } from "react";

import { usePauseSweep, useResumeSweep, useStopSweep } from "../../api/queries/sweeps";
import { Button, ConfirmDialog, ErrorMessage } from "../ui";

/** Pause (in-flight runs finish), resume (exactly the runs not done) and stop (pending runs dropped). */
export function SteeringControls({ experimentId, status, disabled }: { experimentId: string; status: string; disabled?: boolean }) {
  const pause = usePauseSweep(experimentId);
  const resume = useResumeSweep(experimentId);
  const stop = useStopSweep(experimentId);
  const [confirmStop, setConfirmStop] = useState(false);
  const error = pause.error ?? resume.error ?? stop.error;
  const busy = pause.isPending || resume.isPending || stop.isPending;
  const active = status === "running" || status === "paused";

  return (
    <div className="flex flex-col gap-2">
      <div className="flex flex-wrap gap-2" role="group" aria-label="Steering">
        <Button
          data-testid="pause-sweep"
          onClick={() => pause.mutate()}
          loading={pause.isPending}
          disabled={disabled || busy || status !== "running"}
        >
          Pause
        </Button>
        <Button
          data-testid="resume-sweep"
          variant={status === "paused" ? "primary" : "secondary"}
          onClick={() => resume.mutate()}
          loading={resume.isPending}
          disabled={disabled || busy || status !== "paused"}
        >
          Resume
        </Button>
        <Button data-testid="stop-sweep" variant="danger" onClick={() => setConfirmStop(true)} disabled={disabled || busy || !active}>
          Stop
        </Button>
      </div>
      <ErrorMessage error={error} />
      <ConfirmDialog
        open={confirmStop}
        onClose={() => setConfirmStop(false)}
        onConfirm={() => stop.mutate(undefined, { onSettled: () => setConfirmStop(false) })}
        title="Stop the sweep?"
        description="Runs in flight finish; runs not started are dropped and the experiment is marked completed. This cannot be resumed."
        confirmLabel="Stop the sweep"
        cancelLabel="Keep running"
        testId="confirm-stop"
        confirmTestId="confirm-stop-button"
        pending={stop.isPending}
      />
    </div>
  );
}
