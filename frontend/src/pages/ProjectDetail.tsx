import { useState } from "react";
import { Link, useNavigate, useParams } from "react-router-dom";

import type { ExperimentSummary } from "../api/client";
import { useDeleteExperiment } from "../api/queries/experiments";
import { useProject } from "../api/queries/projects";
import { useCanWrite } from "../components/layout/RequireAuth";
import { ExportHistoryCard, NotesCard, SavedConfigsCard } from "../components/steering/ProjectMemory";
import { Button, ButtonLink, Card, ConfirmDialog, EmptyState, ErrorMessage, PageHeader, PageLoading, StatusBadge } from "../components/ui";
import { formatInt, formatRelative, formatScore } from "../lib/format";

export default function ProjectDetailPage() {
  const { projectId } = useParams();
  const project = useProject(projectId);
  const canWrite = useCanWrite();
  const navigate = useNavigate();
  const [deleting, setDeleting] = useState<ExperimentSummary | null>(null);
  const remove = useDeleteExperiment();

  if (project.isPending) return <PageLoading label="Loading the project" />;
  if (project.isError) return <ErrorMessage error={project.error} title="Cannot open this project" onRetry={() => void project.refetch()} />;
  const p = project.data;
  const newLink = `/projects/${p.id}/experiments/new`;

  return (
    <>
      <PageHeader
        crumbs={[{ label: "Projects", to: "/projects" }, { label: p.name }]}
        title={p.name}
        description={p.description || undefined}
        actions={
          canWrite && (
            <ButtonLink to={newLink} variant="primary" data-testid="new-experiment">
              New experiment
            </ButtonLink>
          )
        }
      />
      {p.experiments.length === 0 ? (
        <EmptyState
          title="No experiments in this project"
          description="An experiment holds your samples, the prompt pipeline, the scorers and the parameters to sweep. Build one, then start a sweep."
          action={canWrite && <ButtonLink to={newLink} variant="primary">Build an experiment</ButtonLink>}
        />
      ) : (
        <Card className="overflow-x-auto">
          <table className="w-full text-sm" aria-label="Experiments">
            <thead>
              <tr className="border-b border-line text-left text-xs uppercase tracking-wide text-muted">
                <th scope="col" className="px-4 py-2 font-medium">Experiment</th>
                <th scope="col" className="px-4 py-2 font-medium">Status</th>
                <th scope="col" className="px-4 py-2 text-right font-medium">Runs</th>
                <th scope="col" className="px-4 py-2 text-right font-medium">Best score</th>
                <th scope="col" className="px-4 py-2 font-medium">Updated</th>
                <th scope="col" className="px-4 py-2">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {p.experiments.map((e) => (
                <tr key={e.id} className="border-b border-line/60 last:border-0 hover:bg-raised/60" data-testid="experiment-row">
                  <td className="px-4 py-2.5">
                    <Link to={`/experiments/${e.id}`} className="font-medium hover:text-accent hover:underline">
                      {e.name}
                    </Link>
                    {e.description && <p className="line-clamp-1 text-xs text-muted">{e.description}</p>}
                  </td>
                  <td className="px-4 py-2.5">
                    <StatusBadge status={e.status} />
                  </td>
                  <td className="num px-4 py-2.5 text-right">{formatInt(e.run_count)}</td>
                  <td className="num px-4 py-2.5 text-right font-semibold">{formatScore(e.best_score)}</td>
                  <td className="px-4 py-2.5 text-muted">{formatRelative(e.updated_at)}</td>
                  <td className="px-4 py-2.5">
                    <div className="flex justify-end gap-1">
                      <Button size="sm" variant="ghost" onClick={() => navigate(`/experiments/${e.id}`)}>
                        Open
                      </Button>
                      {canWrite && (
                        <>
                          <Button size="sm" variant="ghost" onClick={() => navigate(`/experiments/${e.id}/edit`)}>
                            Edit
                          </Button>
                          <Button size="sm" variant="ghost" onClick={() => setDeleting(e)} aria-label={`Delete experiment ${e.name}`}>
                            Delete
                          </Button>
                        </>
                      )}
                    </div>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </Card>
      )}
      <div className="mt-6 grid gap-4 xl:grid-cols-2">
        <SavedConfigsCard projectId={p.id} />
        <NotesCard project={p} canWrite={!!canWrite} />
        <div className="xl:col-span-2">
          <ExportHistoryCard projectId={p.id} experiments={p.experiments} />
        </div>
      </div>
      <ConfirmDialog
        open={!!deleting}
        onClose={() => setDeleting(null)}
        onConfirm={() => deleting && remove.mutate(deleting.id, { onSuccess: () => setDeleting(null) })}
        title={`Delete “${deleting?.name ?? ""}”?`}
        description="All its runs, scores and cached responses go with it. This cannot be undone."
        confirmLabel="Delete experiment"
        pending={remove.isPending}
        error={remove.error}
      />
    </>
  );
}
