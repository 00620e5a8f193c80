// Duplicate an experiment: the same document (samples, stages, scorers, parameter space) created
// anew through POST /experiments as "<name> (copy)", then opened in the builder. No runs are copied.
import { useNavigate } from "react-router-dom";

import type { Experiment as ExperimentOut, ExperimentCreate } from "../../api/client";
import { useCreateExperiment } from "../../api/queries/experiments";
import { cleanDocument, documentOf } from "../../lib/documentYaml";
import { Button, ErrorMessage } from "../ui";

export function copyName(name: string): string {
  const match = /^(.*) \(copy(?: (\d+))?\)$/.exec(name);
  if (!match) return `${name} (copy)`;
  return `${match[1]} (copy ${match[2] ? Number(match[2]) + 1 : 2})`;
}

export function DuplicateExperiment({ experiment }: { experiment: ExperimentOut }) {
  const create = useCreateExperiment();
  const navigate = useNavigate();
  const duplicate = async () => {
    const doc = cleanDocument(documentOf(experiment as unknown as Record<string, unknown>));
    const body = { ...doc, name: copyName(experiment.name), project_id: experiment.project_id } as unknown as ExperimentCreate;
    const created = await create.mutateAsync(body).catch(() => null);
    if (created) navigate(`/experiments/${created.id}/edit`);
  };
  return (
    <>
      <Button onClick={() => void duplicate()} loading={create.isPending} data-testid="duplicate-experiment" title="A new experiment with the same document (no runs), opened in the builder">
        Duplicate
      </Button>
      {create.error ? <ErrorMessage error={create.error} title="Could not duplicate the experiment" className="basis-full" /> : null}
    </>
  );
}
