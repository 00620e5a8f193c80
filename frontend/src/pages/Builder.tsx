// The experiment builder: samples, stages, scorers and the parameter space of one experiment
// document, with a live estimate of the sweep and a YAML view of the same document.
import { useEffect, useMemo, useRef, useState } from "react";
import { Link, useBlocker, useNavigate, useParams } from "react-router-dom";

import type { ExperimentCreate, ExperimentUpdate } from "../api/client";
import { isApiError } from "../api/errors";
import { useEndpoints } from "../api/queries/endpoints";
import { useCreateExperiment, useExperiment, useUpdateExperiment } from "../api/queries/experiments";
import { useProject } from "../api/queries/projects";
import { useScorers } from "../api/queries/scorers";
import { EstimatePanel } from "../components/builder/EstimatePanel";
import {
  FieldError,
  FieldErrorsProvider,
  describePath,
  toFieldErrors,
  type FieldErrorMap,
} from "../components/builder/fieldErrors";
import { ParameterSpaceEditor } from "../components/builder/ParameterSpaceEditor";
import { SamplesEditor } from "../components/builder/SamplesEditor";
import { ScorersEditor } from "../components/builder/ScorersEditor";
import { nextStageName, parseKey, removeStage, renameStage, stagesOfKey } from "../components/builder/spaceKeys";
import { StageEditor } from "../components/builder/StageEditor";
import { YamlEditor } from "../components/builder/YamlEditor";
import { Button, ButtonLink, Card, CardBody, ConfirmDialog, ErrorMessage, Field, Input, PageHeader, PageLoading, TabPanel, Tabs, Textarea } from "../components/ui";
import {
  cleanDocument,
  documentToYaml,
  emptyDocument,
  emptyStage,
  documentOf,
  yamlToDocument,
  type ExperimentDocument,
} from "../lib/documentYaml";
import type { SweepType } from "../lib/estimate";
import { definedVars, type TemplateScope } from "../lib/templateVars";

type View = "form" | "yaml";

export default function BuilderPage() {
  const { projectId, experimentId } = useParams();
  const experiment = useExperiment(experimentId);
  if (experimentId) {
    if (experiment.isPending) return <PageLoading label="Loading the experiment" />;
    if (experiment.isError) return <ErrorMessage error={experiment.error} title="Could not load the experiment" onRetry={() => void experiment.refetch()} />;
    return <Builder key={experimentId} initial={documentOf(experiment.data)} experimentId={experimentId} projectId={experiment.data.project_id} status={experiment.data.status} />;
  }
  return <Builder key={projectId} initial={emptyDocument(projectId)} projectId={projectId ?? ""} />;
}

interface BuilderProps {
  initial: ExperimentDocument;
  projectId: string;
  experimentId?: string;
  status?: string;
}

/** The editor itself, once the document to start from is known. */
export function Builder({ initial, projectId, experimentId, status }: BuilderProps) {
  const navigate = useNavigate();
  const project = useProject(projectId || undefined);
  const endpointsQuery = useEndpoints({ limit: 200, offset: 0 });
  const scorers = useScorers();
  const create = useCreateExperiment();
  const update = useUpdateExperiment(experimentId ?? "");
  const [doc, setDoc] = useState<ExperimentDocument>(() => ({ ...initial, project_id: projectId || initial.project_id }));
  const [view, setView] = useState<View>("form");
  const [yamlText, setYamlText] = useState("");
  const [yamlError, setYamlError] = useState<string | null>(null);
  const yamlFor = useRef<ExperimentDocument | null>(null);
  const [sweepType, setSweepType] = useState<SweepType>("grid");
  const [maxRuns, setMaxRuns] = useState<number | null>(null);
  const [fieldErrors, setFieldErrors] = useState<FieldErrorMap>(new Map());
  const [saveError, setSaveError] = useState<unknown>(null);
  const [dirty, setDirty] = useState(false);
  const summaryRef = useRef<HTMLDivElement>(null);

  const endpoints = endpointsQuery.data?.items ?? [];
  const change = (next: ExperimentDocument) => {
    setDoc(next);
    setDirty(true);
  };

  useEffect(() => {
    if (!dirty) return;
    const warn = (event: BeforeUnloadEvent) => event.preventDefault();
    window.addEventListener("beforeunload", warn);
    return () => window.removeEventListener("beforeunload", warn);
  }, [dirty]);
  // Leaving the page inside the app (a link, Back, Cancel) with unsaved changes asks first. A ref,
  // not the state, so the navigation right after a save is not blocked by the render before it.
  const dirtyRef = useRef(false);
  dirtyRef.current = dirty;
  const blocker = useBlocker(({ currentLocation, nextLocation }) => dirtyRef.current && currentLocation.pathname !== nextLocation.pathname);

  const spaceKeys = Object.keys(doc.parameter_space);
  const vars = definedVars(doc.sample_data, spaceKeys);
  const varsKey = vars.join("\n");
  const stageNamesKey = doc.pipeline_stages.map((s) => s.name).join("\n");
  // Stable while names and vars are unchanged, so the prompt editors do not re-check on every keystroke elsewhere.
  const scopes: TemplateScope[] = useMemo(() => {
    const names = stageNamesKey === "" && doc.pipeline_stages.length === 1 ? [""] : stageNamesKey.split("\n");
    const known = varsKey ? varsKey.split("\n") : [];
    return names.map((_, index) => ({ stageIndex: index, earlierStages: names.slice(0, index), vars: known }));
  }, [stageNamesKey, varsKey, doc.pipeline_stages.length]);
  const sweptByStage: string[][] = doc.pipeline_stages.map(() => []);
  for (const key of spaceKeys) {
    for (const index of stagesOfKey(key, doc.pipeline_stages)) sweptByStage[index]?.push(parseKey(key).name);
  }

  const showView = (next: View) => {
    if (next === "yaml" && yamlFor.current !== doc) {
      setYamlText(documentToYaml(doc));
      setYamlError(null);
      yamlFor.current = doc;
    }
    setView(next);
  };

  const onYaml = (text: string) => {
    setYamlText(text);
    const parsed = yamlToDocument(text);
    if (!parsed.ok) {
      setYamlError(parsed.line ? `Line ${parsed.line}: ${parsed.error}` : parsed.error);
      return;
    }
    setYamlError(null);
    const next = { ...parsed.document, project_id: doc.project_id };
    yamlFor.current = next;
    change(next);
  };

  const save = async () => {
    setSaveError(null);
    setFieldErrors(new Map());
    const cleaned = cleanDocument(doc);
    try {
      if (experimentId) {
        const body: ExperimentUpdate = {
          name: cleaned.name,
          description: cleaned.description ?? null,
          sample_data: cleaned.sample_data as unknown as ExperimentUpdate["sample_data"],
          pipeline_stages: cleaned.pipeline_stages as unknown as ExperimentUpdate["pipeline_stages"],
          scoring_config: cleaned.scoring_config as unknown as ExperimentUpdate["scoring_config"],
          parameter_space: cleaned.parameter_space,
          variant_names: cleaned.variant_names ?? {},
        };
        await update.mutateAsync(body);
        dirtyRef.current = false;
        setDirty(false);
        navigate(`/experiments/${experimentId}`);
      } else {
        const body = { ...cleaned, project_id: projectId } as unknown as ExperimentCreate;
        const created = await create.mutateAsync(body);
        dirtyRef.current = false;
        setDirty(false);
        navigate(`/experiments/${created.id}`);
      }
    } catch (error) {
      if (isApiError(error, 422) && error.fields.length > 0) {
        setFieldErrors(toFieldErrors(error.fields));
        setView("form");
      }
      setSaveError(error);
      requestAnimationFrame(() => summaryRef.current?.focus());
    }
  };

  const saving = create.isPending || update.isPending;
  const title = experimentId ? `Edit ${initial.name || "experiment"}` : "New experiment";
  const crumbs = [
    { label: "Projects", to: "/projects" },
    { label: project.data?.name ?? "Project", to: projectId ? `/projects/${projectId}` : undefined },
    ...(experimentId ? [{ label: initial.name || "Experiment", to: `/experiments/${experimentId}` }] : []),
    { label: experimentId ? "Edit" : "New experiment" },
  ];

  return (
    <FieldErrorsProvider errors={fieldErrors}>
      <ConfirmDialog
        open={blocker.state === "blocked"}
        onClose={() => blocker.reset?.()}
        onConfirm={() => blocker.proceed?.()}
        title="Leave without saving?"
        description={`Your changes to ${doc.name ? `“${doc.name}”` : "this experiment"} are not saved and will be lost.`}
        confirmLabel="Discard changes and leave"
        cancelLabel="Keep editing"
        testId="unsaved-changes"
        confirmTestId="unsaved-leave"
      />
      <PageHeader
        title={title}
        crumbs={crumbs}
        description="Samples in, one or more LLM stages, scorers out; then what to vary. The estimate on the right follows every change."
        actions={
          <>
            <ButtonLink to={experimentId ? `/experiments/${experimentId}` : projectId ? `/projects/${projectId}` : "/projects"} variant="ghost">
              Cancel
            </ButtonLink>
            <Button variant="primary" onClick={() => void save()} loading={saving} data-testid="builder-save">
              {experimentId ? "Save changes" : "Create experiment"}
            </Button>
          </>
        }
      />
      {status === "running" && (
        <p className="mb-4 rounded-md border border-warn/40 bg-warn/10 px-3 py-2 text-sm">
          A sweep of this experiment is running: changes apply to runs that have not started yet.
        </p>
      )}
      <div ref={summaryRef} tabIndex={-1} className="focus:outline-none">
        {saveError !== null && fieldErrors.size === 0 && (
          <ErrorMessage error={saveError} title={experimentId ? "Could not save the experiment" : "Could not create the experiment"} className="mb-4" />
        )}
        {fieldErrors.size > 0 && (
          <div role="alert" className="mb-4 rounded-md border border-bad/40 bg-bad/10 px-3 py-2 text-sm" data-testid="builder-errors">
            <p className="font-medium text-bad">
              {experimentId ? "Not saved" : "Not created"}: fix {fieldErrors.size === 1 ? "this problem" : `these ${fieldErrors.size} problems`} (each is also shown next to its field).
            </p>
            <ul className="mt-1 list-disc space-y-0.5 pl-5">
              {[...fieldErrors].map(([path, messages]) => (
                <li key={path}>
                  <span className="font-medium">{describePath(path)}</span>: {messages.join(" ")}
                </li>
              ))}
            </ul>
          </div>
        )}
      </div>
      <div className="grid gap-6 lg:grid-cols-[minmax(0,1fr)_18rem]">
        <div className="min-w-0">
          <Tabs id="builder-view"
            label="Editor view"
            tabs={[
              { id: "form", label: "Form", testId: "builder-tab-form" },
              { id: "yaml", label: yamlError ? "YAML ⚠" : "YAML", testId: "builder-tab-yaml" },
            ]}
            value={view}
            onChange={showView}
          />
          <TabPanel tabsId="builder-view" value={view}>
            {view === "yaml" ? (
              <YamlEditor text={yamlText} error={yamlError} onChange={onYaml} />
            ) : (
              <div className="space-y-6">
                <Card>
                  <CardBody className="grid gap-3 md:grid-cols-2">
                    <Field label="Name" error={fieldErrors.get("name")?.join(" ")}>
                      <Input data-testid="builder-name" value={doc.name} onChange={(e) => change({ ...doc, name: e.target.value })} placeholder="e.g. support-summaries" />
                    </Field>
                    <Field label="Description (optional)">
                      <Textarea
                        data-testid="builder-description"
                        value={doc.description ?? ""}
                        onChange={(e) => change({ ...doc, description: e.target.value })}
                        rows={1}
                        className="min-h-[2.25rem] font-sans"
                      />
                    </Field>
                    <FieldError path="project_id" />
                  </CardBody>
                </Card>
                <SamplesEditor samples={doc.sample_data} onChange={(sample_data) => change({ ...doc, sample_data })} />
                <section className="space-y-3" aria-labelledby="stages-heading">
                  <div className="flex flex-wrap items-center justify-between gap-2">
                    <h2 id="stages-heading" className="text-lg font-semibold">
                      Pipeline stages ({doc.pipeline_stages.length})
                    </h2>
                    <Button
                      size="sm"
                      data-testid="stage-add"
                      onClick={() =>
                        change({
                          ...doc,
                          pipeline_stages: [
                            ...doc.pipeline_stages,
                            {
                              ...emptyStage(nextStageName(doc.pipeline_stages)),
                              endpoint_id: doc.pipeline_stages.at(-1)?.endpoint_id ?? null,
                              model: doc.pipeline_stages.at(-1)?.model ?? "",
                              prompt_template: "{{ previous }}",
                            },
                          ],
                        })
                      }
                    >
                      Add a stage
                    </Button>
                  </div>
                  <FieldError path="pipeline_stages" />
                  {doc.pipeline_stages.map((stage, index) => (
                    <StageEditor
                      key={index}
                      stage={stage}
                      index={index}
                      count={doc.pipeline_stages.length}
                      scope={scopes[index]}
                      endpoints={endpoints}
                      swept={sweptByStage[index] ?? []}
                      onChange={(next) => change({ ...doc, pipeline_stages: doc.pipeline_stages.map((s, i) => (i === index ? next : s)) })}
                      onRename={(name) => change(renameStage(doc, index, name))}
                      onRemove={() => change(removeStage(doc, index))}
                      onMove={(delta) => {
                        const stages = [...doc.pipeline_stages];
                        const [moved] = stages.splice(index, 1);
                        stages.splice(index + delta, 0, moved);
                        change({ ...doc, pipeline_stages: stages });
                      }}
                    />
                  ))}
                </section>
                <ScorersEditor
                  entries={doc.scoring_config}
                  onChange={(scoring_config) => change({ ...doc, scoring_config })}
                  catalogue={scorers.data?.items}
                  catalogueLoading={scorers.isPending}
                  catalogueError={scorers.error}
                  endpoints={endpoints}
                />
                <ParameterSpaceEditor
                  doc={doc}
                  onChange={(parameter_space) => change({ ...doc, parameter_space })}
                  onVariantNames={(variant_names) => change({ ...doc, variant_names })}
                  endpoints={endpoints}
                  scopes={scopes}
                />
                <div className="flex justify-end gap-2">
                  <Button variant="primary" onClick={() => void save()} loading={saving} data-testid="builder-save-bottom">
                    {experimentId ? "Save changes" : "Create experiment"}
                  </Button>
                </div>
              </div>
            )}
          </TabPanel>
        </div>
        <aside aria-label="Sweep estimate">
          <EstimatePanel doc={doc} sweepType={sweepType} maxRuns={maxRuns} onSweepType={setSweepType} onMaxRuns={setMaxRuns} />
          {endpointsQuery.isSuccess && endpoints.length === 0 && (
            <p className="mt-3 text-sm text-muted">
              No LLM endpoint yet. <Link to="/admin" className="text-accent underline">Add one in Admin</Link> so the stages have something to call.
            </p>
          )}
        </aside>
      </div>
    </FieldErrorsProvider>
  );
}
