import { useState } from "react";
import { useNavigate } from "react-router-dom";

import { useForkExperiment } from "../../api/queries/steering";
import { Button, ErrorMessage, Field, Input, Modal } from "../ui";
import { shortId } from "../../lib/format";

/** Fork: a new draft experiment whose stages start from a run's resolved configuration (default: the best run). */
export function ForkButton({
  experimentId,
  experimentName,
  runId,
  size = "md",
}: {
  experimentId: string;
  experimentName: string;
  runId?: string;
  size?: "sm" | "md";
}) {
  const [open, setOpen] = useState(false);
  const [name, setName] = useState(`${experimentName} (fork)`);
  const fork = useForkExperiment(experimentId);
  const navigate = useNavigate();
  const submit = () =>
    fork.mutate(runId ? { name, run_id: runId } : { name }, {
      onSuccess: (created) => {
        setOpen(false);
        navigate(`/experiments/${created.id}/edit`);
      },
    });
  return (
    <>
      <Button size={size} onClick={() => { setName(`${experimentName} (fork)`); setOpen(true); }} data-testid="fork-experiment"
        title="A new experiment starting from this configuration; the calls you do not change are cache hits.">
        {runId ? "Fork from this run" : "Fork from best run"}
      </Button>
      <Modal
        open={open}
        onClose={() => setOpen(false)}
        title="Fork this experiment"
        description={
          runId
            ? `The new experiment starts from run ${shortId(runId)}'s stages, models, prompts and parameters.`
            : "The new experiment starts from the best run's stages, models, prompts and parameters."
        }
        testId="fork-dialog"
        footer={
          <>
            <Button onClick={() => setOpen(false)}>Cancel</Button>
            <Button variant="primary" loading={fork.isPending} disabled={!name.trim()} onClick={submit}
              data-testid="fork-confirm">
              Fork and edit
            </Button>
          </>
        }
      >
        <div className="space-y-3">
          <Field label="Name" hint="Change prompts, models or the parameter space in the builder next; unchanged calls come from the cache.">
            <Input value={name} maxLength={200} onChange={(e) => setName(e.target.value)} data-testid="fork-name" data-autofocus />
          </Field>
          <ErrorMessage error={fork.error} title="Could not fork" />
        </div>
      </Modal>
    </>
  );
}
