import { useState, type FormEvent } from "react";

import type { User } from "../../api/client";
import { useMe } from "../../api/queries/auth";
import { useCreateUser, useDeleteUser, useUsers } from "../../api/queries/admin";
import { Badge, Button, Card, CardBody, CardHeader, Checkbox, ConfirmDialog, ErrorMessage, Field, Input, Skeleton } from "../../components/ui";
import { formatDateTime } from "../../lib/format";

export function UsersPanel() {
  const users = useUsers();
  const me = useMe();
  const create = useCreateUser();
  const remove = useDeleteUser();
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [isAdmin, setIsAdmin] = useState(false);
  const [deleting, setDeleting] = useState<User | null>(null);

  const submit = (event: FormEvent) => {
    event.preventDefault();
    create.mutate(
      { username: username.trim(), password, is_admin: isAdmin },
      {
        onSuccess: () => {
          setUsername("");
          setPassword("");
          setIsAdmin(false);
        },
      },
    );
  };

  return (
    <div className="grid gap-4">
      <Card>
        <CardHeader title="Add a user" />
        <CardBody>
          <form onSubmit={submit} className="grid gap-4 sm:grid-cols-[1fr_1fr_auto_auto] sm:items-end" aria-label="Add a user" data-testid="user-form">
            <Field label="Username">
              <Input required pattern="[A-Za-z0-9_.@\-]+" value={username} onChange={(e) => setUsername(e.target.value)} autoComplete="off" />
            </Field>
            <Field label="Password" hint="At least 8 characters.">
              <Input required type="password" minLength={8} value={password} onChange={(e) => setPassword(e.target.value)} autoComplete="new-password" />
            </Field>
            <Checkbox label="Admin" checked={isAdmin} onChange={(e) => setIsAdmin(e.target.checked)} className="mb-7" />
            <Button type="submit" variant="primary" loading={create.isPending} className="mb-5">
              Add user
            </Button>
          </form>
          <ErrorMessage error={create.error} />
        </CardBody>
      </Card>
      <Card>
        <CardHeader title="Users" />
        {users.isPending ? (
          <div className="p-4">
            <Skeleton className="h-8" />
          </div>
        ) : users.isError ? (
          <ErrorMessage error={users.error} className="m-4" onRetry={() => void users.refetch()} />
        ) : (
          <div className="overflow-x-auto">
          <table className="w-full text-sm" aria-label="Users">
            <thead>
              <tr className="border-b border-line text-left text-xs uppercase tracking-wide text-muted">
                <th scope="col" className="px-4 py-2 font-medium">Username</th>
                <th scope="col" className="px-4 py-2 font-medium">Role</th>
                <th scope="col" className="px-4 py-2 font-medium">Created</th>
                <th scope="col" className="px-4 py-2"><span className="sr-only">Actions</span></th>
              </tr>
            </thead>
            <tbody>
              {users.data.items.map((user) => (
                <tr key={user.id} className="border-b border-line/60 last:border-0" data-testid="user-row">
                  <td className="px-4 py-2 font-medium">
                    {user.username}
                    {user.id === me.data?.id && <span className="ml-2 text-xs text-muted">(you)</span>}
                  </td>
                  <td className="px-4 py-2">
                    <Badge tone={user.is_admin ? "accent" : "neutral"}>{user.is_admin ? "admin" : "user"}</Badge>
                  </td>
                  <td className="px-4 py-2 text-muted">{formatDateTime(user.created_at)}</td>
                  <td className="px-4 py-2 text-right">
                    {user.id !== me.data?.id && (
                      <Button size="sm" variant="ghost" onClick={() => setDeleting(user)} aria-label={`Delete user ${user.username}`}>
                        Delete
                      </Button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          </div>
        )}
      </Card>
      <ConfirmDialog
        open={!!deleting}
        onClose={() => setDeleting(null)}
        onConfirm={() => deleting && remove.mutate(deleting.id, { onSuccess: () => setDeleting(null) })}
        title={`Delete ${deleting?.username ?? ""}?`}
        description="Their API keys stop working. Projects they own stay."
        confirmLabel="Delete user"
        pending={remove.isPending}
        error={remove.error}
      />
    </div>
  );
}
