import { useEffect, useState, type FormEvent } from "react";
import { Link, useNavigate, useSearchParams } from "react-router-dom";

import { useApiKeyLogin, useAuthStatus, useLogin } from "../api/queries/auth";
import { safeNext } from "../lib/auth";
import { Button, Card, ErrorMessage, Field, Input } from "../components/ui";

export default function LoginPage() {
  const [params] = useSearchParams();
  const next = safeNext(params.get("next"));
  const navigate = useNavigate();
  const login = useLogin();
  const keyLogin = useApiKeyLogin();
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [apiKey, setApiKey] = useState("");
  const [useKey, setUseKey] = useState(false);
  const status = useAuthStatus();
  const setupRequired = status.data?.setup_required === true;

  useEffect(() => {
    // First boot: nobody can log in yet, so go straight to creating the admin account.
    if (setupRequired) navigate("/setup", { replace: true });
  }, [setupRequired, navigate]);

  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (useKey) keyLogin.mutate(apiKey.trim(), { onSuccess: () => navigate(next, { replace: true }) });
    else login.mutate({ username: username.trim(), password }, { onSuccess: () => navigate(next, { replace: true }) });
  };
  const error = useKey ? keyLogin.error : login.error;

  return (
    <Card className="w-full max-w-md p-6">
      <h1 className="text-xl font-semibold">Log in to PromptLooper</h1>
      <form onSubmit={submit} className="mt-6 flex flex-col gap-4" aria-label="Log in" data-testid="login-form">
        {useKey ? (
          <Field label="API key" hint="A key from Admin › API keys (starts with pl_).">
            <Input name="api_key" type="password" autoComplete="off" required value={apiKey} onChange={(e) => setApiKey(e.target.value)} data-testid="login-api-key" />
          </Field>
        ) : (
          <>
            <Field label="Username">
              <Input
                name="username"
                autoComplete="username"
                required
                autoFocus
                value={username}
                onChange={(e) => setUsername(e.target.value)}
                data-testid="login-username"
              />
            </Field>
            <Field label="Password">
              <Input
                name="password"
                type="password"
                autoComplete="current-password"
                required
                value={password}
                onChange={(e) => setPassword(e.target.value)}
                data-testid="login-password"
              />
            </Field>
          </>
        )}
        <ErrorMessage error={error} />
        <Button type="submit" variant="primary" loading={login.isPending || keyLogin.isPending} data-testid="login-submit">
          Log in
        </Button>
        <button type="button" className="self-start text-sm text-accent hover:underline" onClick={() => setUseKey((v) => !v)}>
          {useKey ? "Use a username and password instead" : "Use an API key instead"}
        </button>
      </form>
      <p className="mt-4 border-t border-line pt-4 text-sm text-muted">
        First time here?{" "}
        <Link to="/setup" className="text-accent hover:underline" data-testid="go-setup">
          Create the admin account
        </Link>{" "}
        (only works before any account exists).
      </p>
    </Card>
  );
}
