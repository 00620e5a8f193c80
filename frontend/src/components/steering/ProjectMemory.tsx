import { useEffect, useState } from "react";
import { Link } from "react-router-dom";

import type { ProjectDetail } from "../../api/client";
import { useUpdateProject } from "../../api/queries/projects";
import { useExportHistory, useSavedConfigs } from "../../api/queries/steering";
import { Button, Card, CardBody, CardHeader, ErrorMessage, Skeleton, Textarea } from "../ui";
import { formatRelative, formatScore, shortId } from "../../lib/format";

type Stage = { name?: string; model?: string };

function models(config: Record<string, unknown>): string {
  const stages = (config.stages ?? []) as Stage[];
  return stages.map((s) => s.model ?? "?").join(" → ");
}

/** The project's saved (approved) configurations, latest first, with an export link each. */
export function SavedConfigsCard({ projectId }: { projectId: string }) {
  const configs = useSavedConfigs(projectId);
  return (
    <Card data-testid="saved-configs">
      <CardHeader title="Saved configurations" description="Approved runs; an experiment's exports serve its latest approval." />
      <CardBody className="p-0">
        {configs.isPending ? (
          <Skeleton className="m-4 h-16" />
        ) : configs.isError ? (
          <ErrorMessage error={configs.error} title="Cannot load the saved configurations" />
        ) : configs.data.items.length === 0 ? (
          <p className="p-4 text-sm text-muted">Nothing approved yet: open a run and press Approve.</p>
        ) : (
          <ul className="divide-y divide-line/60">
            {configs.data.items.map((c) => (
              <li key={c.id} className="flex flex-wrap items-baseline justify-between gap-2 px-4 py-2.5 text-sm" data-testid="saved-config-row">
                <div className="min-w-0">
                  <span className="font-medium">{c.name}</span>
                  <span className="ml-2 font-mono text-xs text-muted">{models(c.config)}</span>
                  {c.note && <p className="text-xs text-muted">{c.note}</p>}
                </div>
                <div className="flex items-center gap-3 text-xs text-muted">
                  <span className="num font-semibold text-fg">{formatScore(c.score)}</span>
                  <span>
                    {c.approved_by ?? "someone"} · {formatRelative(c.approved_at)}
                  </span>
                  {c.run_id && (
                    <Link to={`/runs/${c.run_id}`} className="hover:text-accent hover:underline">
                      run {shortId(c.run_id)}
                    </Link>
                  )}
                </div>
              </li>
            ))}
          </ul>
        )}
      </CardBody>
    </Card>
  );
}

/** Every export served for the project's experiments: format, configuration, who, when. */
export function ExportHistoryCard({ projectId, experiments }: { projectId: string; experiments: ProjectDetail["experiments"] }) {
  const history = useExportHistory(projectId);
  const names = new Map(experiments.map((e) => [e.id, e.name]));
  return (
    <Card data-testid="export-history">
      <CardHeader title="Export history" description="One row per export served, in every format, over REST or MCP." />
      <CardBody className="p-0">
        {history.isPending ? (
          <Skeleton className="m-4 h-16" />
        ) : history.isError ? (
          <ErrorMessage error={history.error} title="Cannot load the export history" />
        ) : history.data.items.length === 0 ? (
          <p className="p-4 text-sm text-muted">No exports yet.</p>
        ) : (
          <div className="overflow-x-auto">
            <table className="w-full text-sm" aria-label="Export history">
              <thead>
                <tr className="border-b border-line text-left text-xs uppercase tracking-wide text-muted">
                  <th scope="col" className="px-4 py-2 font-medium">Format</th>
                  <th scope="col" className="px-4 py-2 font-medium">Experiment</th>
                  <th scope="col" className="px-4 py-2 font-medium">Configuration</th>
                  <th scope="col" className="px-4 py-2 font-medium">Who</th>
                  <th scope="col" className="px-4 py-2 font-medium">When</th>
                </tr>
              </thead>
              <tbody>
                {history.data.items.map((h) => (
                  <tr key={h.id} className="border-b border-line/60 last:border-0" data-testid="export-row">
                    <td className="px-4 py-2">{h.format}</td>
                    <td className="px-4 py-2">
                      {h.experiment_id ? (
                        <Link to={`/experiments/${h.experiment_id}`} className="hover:text-accent hover:underline">
                          {names.get(h.experiment_id) ?? shortId(h.experiment_id)}
                        </Link>
                      ) : (
                        "—"
                      )}
                    </td>
                    <td className="px-4 py-2 font-mono text-xs">
                      {h.saved_config_id ? "approved · " : ""}
                      {h.run_id ? <Link to={`/runs/${h.run_id}`} className="hover:underline">run {shortId(h.run_id)}</Link> : shortId(h.config_hash)}
                    </td>
                    <td className="px-4 py-2 text-muted">{h.user ?? "—"}</td>
                    <td className="px-4 py-2 text-muted">{formatRelative(h.created_at)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </CardBody>
    </Card>
  );
}

/** The project's notes: shown to everyone, editable by writers. */
export function NotesCard({ project, canWrite }: { project: ProjectDetail; canWrite: boolean }) {
  const [text, setText] = useState(project.notes ?? "");
  const [editing, setEditing] = useState(false);
  const update = useUpdateProject(project.id);
  useEffect(() => {
    if (!editing) setText(project.notes ?? "");
  }, [project.notes, editing]);
  return (
    <Card data-testid="project-notes">
      <CardHeader
        title="Notes"
        actions={
          canWrite &&
          (editing ? (
            <>
              <Button size="sm" onClick={() => setEditing(false)}>Cancel</Button>
              <Button size="sm" variant="primary" loading={update.isPending} data-testid="notes-save"
                onClick={() => update.mutate({ notes: text.trim() ? text : null }, { onSuccess: () => setEditing(false) })}>
                Save
              </Button>
            </>
          ) : (
            <Button size="sm" onClick={() => setEditing(true)} data-testid="notes-edit">Edit</Button>
          ))
        }
      />
      <CardBody>
        {editing ? (
          <Textarea value={text} maxLength={200000} onChange={(e) => setText(e.target.value)} aria-label="Project notes"
            data-testid="notes-text" className="min-h-[8rem] font-sans" />
        ) : project.notes ? (
          <p className="whitespace-pre-wrap text-sm" data-testid="notes-view">{project.notes}</p>
        ) : (
          <p className="text-sm text-muted">No notes yet.</p>
        )}
        <ErrorMessage error={update.error} title="Could not save the notes" />
      </CardBody>
    </Card>
  );
}
