import { useState, type FormEvent } from "react";
import { Link, useNavigate } from "react-router-dom";

import type { Project } from "../api/client";
import { useCreateProject, useDeleteProject, useProjects } from "../api/queries/projects";
import { useCanWrite } from "../components/layout/RequireAuth";
import { Button, Card, ConfirmDialog, EmptyState, ErrorMessage, Field, Input, Modal, PageHeader, Skeleton, Textarea } from "../components/ui";
import { formatRelative, pluralize } from "../lib/format";

const PAGE = 50;

export default function ProjectsPage() {
  const [page, setPage] = useState(0);
  const projects = useProjects({ limit: PAGE, offset: page * PAGE });
  const canWrite = useCanWrite();
  const [creating, setCreating] = useState(false);
  const [deleting, setDeleting] = useState<Project | null>(null);
  const total = projects.data?.total ?? 0;

  return (
    <>
      <PageHeader
        title="Projects"
        description="A project groups the experiments of one task: its samples, prompts and scorers."
        actions={
          canWrite && (
            <Button variant="primary" onClick={() => setCreating(true)} data-testid="new-project">
              New project
            </Button>
          )
        }
      />
      <ErrorMessage error={projects.error} onRetry={() => void projects.refetch()} className="mb-4" />
      {projects.isPending ? (
        <div className="grid gap-3 sm:grid-cols-2 lg:grid-cols-3">
          {Array.from({ length: 3 }, (_, i) => (
            <Card key={i} className="p-4">
              <Skeleton className="h-5 w-1/2" />
              <Skeleton className="mt-3 h-4 w-3/4" />
            </Card>
          ))}
        </div>
      ) : projects.data && projects.data.items.length === 0 ? (
        <EmptyState
          title="No projects yet"
          description="Create a project for the task you want to tune (for example “support-answer summaries”), then add an experiment to it."
          action={
            canWrite && (
              <Button variant="primary" onClick={() => setCreating(true)}>
                Create your first project
              </Button>
            )
          }
        />
      ) : (
        <ul className="grid gap-3 sm:grid-cols-2 lg:grid-cols-3" aria-label="Projects">
          {projects.data?.items.map((project) => (
            <li key={project.id}>
              <Card className="flex h-full flex-col p-4" data-testid="project-card">
                <Link to={`/projects/${project.id}`} className="font-semibold hover:text-accent hover:underline">
                  {project.name}
                </Link>
                <p className="mt-1 line-clamp-2 flex-1 text-sm text-muted">{project.description || "No description."}</p>
                <div className="mt-3 flex items-center justify-between text-xs text-muted">
                  <span>
                    {pluralize(project.experiment_count, "experiment")} · updated {formatRelative(project.updated_at)}
                  </span>
                  {canWrite && (
                    <Button size="sm" variant="ghost" onClick={() => setDeleting(project)} aria-label={`Delete project ${project.name}`}>
                      Delete
                    </Button>
                  )}
                </div>
              </Card>
            </li>
          ))}
        </ul>
      )}
      {total > PAGE && (
        <nav className="mt-4 flex items-center justify-end gap-2 text-sm" aria-label="Pages">
          <Button size="sm" disabled={page === 0} onClick={() => setPage((p) => p - 1)}>
            Previous
          </Button>
          <span className="num text-muted">
            {page * PAGE + 1}–{Math.min(total, (page + 1) * PAGE)} of {total}
          </span>
          <Button size="sm" disabled={(page + 1) * PAGE >= total} onClick={() => setPage((p) => p + 1)}>
            Next
          </Button>
        </nav>
      )}
      <CreateProjectModal open={creating} onClose={() => setCreating(false)} />
      <DeleteProjectModal project={deleting} onClose={() => setDeleting(null)} />
    </>
  );
}

function CreateProjectModal({ open, onClose }: { open: boolean; onClose: () => void }) {
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const create = useCreateProject();
  const navigate = useNavigate();
  const submit = (event: FormEvent) => {
    event.preventDefault();
    create.mutate(
      { name: name.trim(), description: description.trim() || null },
      {
        onSuccess: (project) => {
          setName("");
          setDescription("");
          onClose();
          navigate(`/projects/${project.id}`);
        },
      },
    );
  };
  return (
    <Modal open={open} onClose={onClose} title="New project" testId="create-project-dialog">
      <form onSubmit={submit} className="flex flex-col gap-4" aria-label="New project" data-testid="create-project-form">
        <Field label="Name">
          <Input required maxLength={200} value={name} onChange={(e) => setName(e.target.value)} data-autofocus data-testid="project-name" />
        </Field>
        <Field label="Description" hint="Optional: what the prompts are for.">
          <Textarea className="font-sans" value={description} onChange={(e) => setDescription(e.target.value)} data-testid="project-description" />
        </Field>
        <ErrorMessage error={create.error} />
        <div className="flex justify-end gap-2">
          <Button onClick={onClose}>Cancel</Button>
          <Button type="submit" variant="primary" loading={create.isPending} data-testid="create-project-submit">
            Create project
          </Button>
        </div>
      </form>
    </Modal>
  );
}

function DeleteProjectModal({ project, onClose }: { project: Project | null; onClose: () => void }) {
  const remove = useDeleteProject();
  return (
    <ConfirmDialog
      open={!!project}
      onClose={onClose}
      onConfirm={() => project && remove.mutate(project.id, { onSuccess: onClose })}
      title={`Delete “${project?.name ?? ""}”?`}
      description={`Its ${pluralize(project?.experiment_count ?? 0, "experiment")} and all their runs are deleted too. This cannot be undone.`}
      confirmLabel="Delete project"
      confirmTestId="confirm-delete-project"
      pending={remove.isPending}
      error={remove.error}
    />
  );
}
