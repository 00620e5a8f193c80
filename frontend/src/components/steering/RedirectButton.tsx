import { useMemo, useState } from "react";

import type { Experiment } from "../../api/client";
import { useEndpoints } from "../../api/queries/endpoints";
import { useRedirectSweep } from "../../api/queries/sweeps";
import { documentOf, type ExperimentDocument } from "../../lib/documentYaml";
import { definedVars, type TemplateScope } from "../../lib/templateVars";
import { ParameterSpaceEditor } from "../builder/ParameterSpaceEditor";
import { Button, ErrorMessage, Modal } from "../ui";

/** Redirect: edit the parameter space of the running or paused sweep. Done runs stay and nothing evaluated is re-run. */
export function RedirectButton({ experiment, size = "sm" }: { experiment: Experiment; size?: "sm" | "md" }) {
  const [open, setOpen] = useState(false);
  const [doc, setDoc] = useState<ExperimentDocument>(() => documentOf(experiment as unknown as Record<string, unknown>));
  const [result, setResult] = useState<string | null>(null);
  const endpoints = useEndpoints();
  const redirect = useRedirectSweep(experiment.id);
  const scopes: TemplateScope[] = useMemo(() => {
    const vars = definedVars(doc.sample_data, Object.keys(doc.parameter_space));
    const names = doc.pipeline_stages.map((s) => s.name);
    return names.map((_, index) => ({ stageIndex: index, earlierStages: names.slice(0, index), vars }));
  }, [doc]);
  const start = () => {
    setDoc(documentOf(experiment as unknown as Record<string, unknown>));
    redirect.reset();
    setOpen(true);
  };
  const submit = () =>
    redirect.mutate(doc.parameter_space, {
      onSuccess: (out) => {
        setResult(`Redirected: ${out.added} runs added, ${out.dropped} dropped (${out.total_runs} in all).`);
        setOpen(false);
      },
    });
  return (
    <>
      <Button size={size} onClick={start} data-testid="redirect-sweep"
        title="Change what the running sweep still explores; finished runs are kept and never paid for twice.">
        Redirect
      </Button>
      {result && <p className="text-xs text-muted" role="status" data-testid="redirect-result">{result}</p>}
      <Modal
        open={open}
        onClose={() => setOpen(false)}
        title="Redirect the sweep"
        description="Runs not started that the new space no longer contains are dropped; its new configurations are added. Finished runs stay, and a configuration already evaluated is not run again."
        testId="redirect-dialog"
        footer={
          <>
            <Button onClick={() => setOpen(false)}>Cancel</Button>
            <Button variant="primary" loading={redirect.isPending} onClick={submit} data-testid="redirect-confirm">
              Redirect
            </Button>
          </>
        }
      >
        <div className="space-y-3">
          <ParameterSpaceEditor doc={doc} onChange={(parameter_space) => setDoc({ ...doc, parameter_space })}
            endpoints={endpoints.data?.items ?? []} scopes={scopes} />
          <ErrorMessage error={redirect.error} title="Could not redirect" />
        </div>
      </Modal>
    </>
  );
}
