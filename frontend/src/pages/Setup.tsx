import { useState, type FormEvent } from "react";
import { Link, useNavigate } from "react-router-dom";

import { isApiError } from "../api/errors";
import { useSetup } from "../api/queries/auth";
import { Button, Card, ErrorMessage, Field, Input } from "../components/ui";

/** First boot: create the admin account (only while no user exists). */
export default function SetupPage() {
  const [username, setUsername] = useState("admin");
  const [password, setPassword] = useState("");
  const [confirm, setConfirm] = useState("");
  const setup = useSetup();
  const navigate = useNavigate();
  const mismatch = confirm.length > 0 && confirm !== password;
  const tooShort = password.length > 0 && password.length < 8;
  const alreadyDone = isApiError(setup.error, 409);

  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (mismatch || password.length < 8) return;
    setup.mutate({ username: username.trim(), password }, { onSuccess: () => navigate("/admin?tab=endpoints", { replace: true }) });
  };

  return (
    <Card className="w-full max-w-md p-6">
      <h1 className="text-xl font-semibold">Welcome to PromptLooper</h1>
      <p className="mt-1 text-sm text-muted">Create the admin account. You can add more users and API keys later in Admin.</p>
      <form onSubmit={submit} className="mt-6 flex flex-col gap-4" aria-label="Create the admin account" data-testid="setup-form">
        <Field label="Username" hint="Letters, digits and . _ @ -">
          <Input
            name="username"
            autoComplete="username"
            required
            pattern="[A-Za-z0-9_.@\-]+"
            value={username}
            onChange={(e) => setUsername(e.target.value)}
            data-testid="setup-username"
          />
        </Field>
        <Field label="Password" hint="At least 8 characters." error={tooShort ? "Use at least 8 characters." : undefined}>
          <Input
            name="password"
            type="password"
            autoComplete="new-password"
            required
            minLength={8}
            value={password}
            onChange={(e) => setPassword(e.target.value)}
            data-testid="setup-password"
          />
        </Field>
        <Field label="Confirm password" error={mismatch ? "The passwords do not match." : undefined}>
          <Input
            name="confirm"
            type="password"
            autoComplete="new-password"
            required
            value={confirm}
            onChange={(e) => setConfirm(e.target.value)}
            data-testid="setup-confirm"
          />
        </Field>
        {alreadyDone ? (
          <ErrorMessage error={setup.error}>
            <Link to="/login" className="mt-1 inline-block text-accent underline">
              Go to the login page
            </Link>
          </ErrorMessage>
        ) : (
          <ErrorMessage error={setup.error} />
        )}
        <Button type="submit" variant="primary" loading={setup.isPending} disabled={mismatch || tooShort} data-testid="setup-submit">
          Create admin account
        </Button>
      </form>
      <p className="mt-4 text-sm text-muted">
        Already set up?{" "}
        <Link to="/login" className="text-accent hover:underline">
          Log in
        </Link>
      </p>
    </Card>
  );
}
